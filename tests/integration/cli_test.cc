// The graphmirror command as a user meets it: exit codes and one clear line on failure.

#include <sys/stat.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "graphmirror/version.h"
#include "tests/integration/cli_run.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

TEST_CASE("sync --once mirrors a mailbox and prints a line per collection", "[cli]") {
  graphsim::Options o;
  o.users = 2;
  o.messages = 120;
  o.events = 30;
  o.contacts = 10;
  SimFixture f(o);
  std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run run = RunCli("sync --config " + config + " --once");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(Lines(run.output) == 2 * 3 + 1);
  // Messages and contacts are read once: their delta rounds alone.
  CHECK(run.output.find("messages fetched 120, 120 new, 0 removed, 120 in mirror") !=
        std::string::npos);
  CHECK(run.output.find("contacts fetched 10, 10 new, 0 removed, 10 in mirror") !=
        std::string::npos);
  SQLite::Database db(f.dir().Path("m.db"));
  CHECK(db.execAndGet("SELECT count(*) FROM messages").getInt() == 240);

  Run status = RunCli("status --config " + config);
  REQUIRE(status.exit_code == 0);
  CHECK(status.output.find(f.sim().UserIds()[0]) != std::string::npos);
}

TEST_CASE("search finds mirrored messages by subject and sender", "[cli][search]") {
  graphsim::Options o;
  o.users = 2;
  o.messages = 20;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[1];
  const std::string id = f.sim().CreateItem(
      user, "messages",
      R"({"subject":"Zanzibar offsite agenda","from":{"emailAddress":{"name":"Olga Q",)"
      R"("address":"olga@contoso.example"}}})");
  std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run missing = RunCli("search --config " + config + " zanzibar");
  CHECK(missing.exit_code != 0);
  CHECK(missing.output.find("no mirror database") != std::string::npos);
  REQUIRE(RunCli("sync --config " + config + " --once").exit_code == 0);

  Run found = RunCli("search --config " + config + " zanzib*");
  INFO(found.output);
  REQUIRE(found.exit_code == 0);
  CHECK(found.output.find("Zanzibar offsite agenda") != std::string::npos);
  CHECK(found.output.find("olga@contoso.example") != std::string::npos);
  CHECK(found.output.find(id) != std::string::npos);
  CHECK(found.output.find("1 message\n") != std::string::npos);
  Run by_sender = RunCli("search --config " + config + " --user " + user + " 'olga agenda'");
  CHECK(by_sender.output.find("1 message\n") != std::string::npos);
  Run other_user =
      RunCli("search --config " + config + " --user " + f.sim().UserIds()[0] + " zanzibar");
  CHECK(other_user.output.find("0 messages\n") != std::string::npos);
}

TEST_CASE("doctor checks a healthy setup and names what is missing", "[cli][doctor]") {
  graphsim::Options o;
  o.users = 1;
  // graphsim on the real clock, as Graph is: the command runs on the system clock.
  graphsim::Simulator sim(o, nullptr);
  graphsim::Server server(&sim);
  REQUIRE(server.Start("127.0.0.1", 0).ok());
  TempDir dir;
  std::string text = ConfigText(server.base_url(), "graphsim-secret", sim.UserIds());
  text += "[webhook]\nnotification_url = \"http://127.0.0.1:9/notify\"\n";
  const std::string config = WriteFile(dir, "g.toml", text);
  Run healthy = RunCli("doctor --config " + config);
  INFO(healthy.output);
  CHECK(healthy.exit_code == 0);
  CHECK(healthy.output.find("ok    token        audience https://graph.microsoft.com") !=
        std::string::npos);
  CHECK(healthy.output.find("Mail.Read granted") != std::string::npos);
  CHECK(healthy.output.find("readable") != std::string::npos);
  CHECK(healthy.output.find("ok    clock") != std::string::npos);
  CHECK(healthy.output.find("warn  webhook      http://127.0.0.1:9/notify is not https") !=
        std::string::npos);
  CHECK(healthy.output.find("not reachable from here") != std::string::npos);

  sim.SetPermission("Calendars.Read", false);
  Run missing = RunCli("doctor --config " + config);
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("FAIL  permissions  Calendars.Read missing") != std::string::npos);
  CHECK(missing.output.find("events: 403: the app needs Calendars.Read") != std::string::npos);
}

TEST_CASE("doctor notices a clock far from Graph's", "[cli][doctor]") {
  graphsim::Options o;
  o.users = 1;
  SimFixture f(o);  // graphsim's clock stands at 2026-03-01
  const std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run run = RunCli("doctor --config " + config);
  INFO(run.output);
  const bool ahead = std::chrono::system_clock::now() > SimStart();
  CHECK(run.output.find(std::string("warn  clock        this machine is ")) != std::string::npos);
  CHECK(run.output.find(ahead ? "ahead of Graph: fix the clock" : "behind Graph: fix the clock") !=
        std::string::npos);
}

TEST_CASE("doctor names a Graph token sent to another API (seed 000)", "[cli][doctor]") {
  graphsim::Options o;
  o.users = 1;
  SimFixture f(o);
  // The seed's mistake: a token minted for Graph sent to outlook.office.com/api/v2.0.
  std::string text = ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds());
  text.replace(text.find("/v1.0\""), 6, "/api/v2.0\"");
  const std::string config = WriteFile(f.dir(), "g.toml", text);
  Run run = RunCli("doctor --config " + config);
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(run.output.find("401, a token for the wrong API") != std::string::npos);
  CHECK(run.output.find("Exchange Online (Outlook REST") != std::string::npos);
  CHECK(run.output.find("00000002-0000-0ff1-ce00-000000000000") != std::string::npos);
  CHECK(run.output.find("minted for Microsoft Graph") != std::string::npos);
  CHECK(run.output.find("graphsim-secret") == std::string::npos);  // no secret in the output
}

TEST_CASE("--log-format json writes one JSON object per log line", "[cli]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 5;
  SimFixture f(o);
  std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run run = RunCli("--log-format json --log-level debug sync --config " + config + " --once");
  REQUIRE(run.exit_code == 0);
  int logged = 0;
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;  // the report lines on stdout
    INFO(line);
    auto json = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(json.is_object());
    CHECK(json["level"].is_string());
    CHECK(json["time"].get<std::string>().back() == 'Z');
    CHECK(json["message"].is_string());
    ++logged;
  }
  CHECK(logged > 3);
  CHECK(run.output.find("graphsim-secret") == std::string::npos);
}

TEST_CASE("sync --once shows progress on a terminal only", "[cli]") {
  if (std::system("command -v script >/dev/null 2>&1") != 0) {
    WARN("no `script` command to run graphmirror on a pseudo-terminal; skipped");
    return;
  }
  graphsim::Options o;
  o.users = 1;
  o.messages = 3000;
  SimFixture f(o);
  f.sim().SetHandlerLatency(std::chrono::milliseconds(150));  // a sync long enough to watch
  std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run tty = RunCli("sync --config " + config + " --once", /*via_script=*/true);
  INFO(tty.output);
  REQUIRE(tty.exit_code == 0);
  CHECK(tty.output.find("items received") != std::string::npos);
  CHECK(tty.output.find("items/s") != std::string::npos);
  Run piped = RunCli("sync --config " + config + " --once");  // not a terminal
  CHECK(piped.output.find("items received") == std::string::npos);
}

TEST_CASE("A rejected secret ends with one line naming it", "[cli]") {
  graphsim::Options o;
  o.users = 1;
  SimFixture f(o);
  std::string config =
      WriteFile(f.dir(), "g.toml", ConfigText(f.server().base_url(), "wrong", f.sim().UserIds()));
  Run run = RunCli("sync --config " + config + " --once");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(Lines(run.output) == 1);
  CHECK(run.output.find("AADSTS7000215") != std::string::npos);
  CHECK(run.output.find("wrong") == std::string::npos);  // never echo a secret
}

TEST_CASE("An unreachable Graph ends with one line naming the URL", "[cli]") {
  TempDir dir;
  // Port 9 (discard) on loopback: nothing listens there in a test environment.
  std::string config = WriteFile(dir, "g.toml", ConfigText("http://127.0.0.1:9", "s", {"someone"}));
  Run run = RunCli("sync --config " + config + " --once");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(Lines(run.output) == 1);
  CHECK(run.output.find("127.0.0.1:9") != std::string::npos);
}

TEST_CASE("A bad config file ends with one line naming the problem", "[cli]") {
  TempDir dir;
  std::string base = ConfigText("http://127.0.0.1:9", "s", {"someone"});
  struct Case {
    std::string text, expect;
  };
  for (const Case& c : {Case{base + "colour = \"blue\"\n", "unknown key 'mailbox.colour'"},
                        Case{"database = [\n", "g.toml:"},
                        Case{base.substr(0, base.find("client_id")), "graph.client_id"}}) {
    std::string config = WriteFile(dir, "g.toml", c.text);
    Run run = RunCli("sync --config " + config + " --once");
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(Lines(run.output) == 1);
    CHECK(run.output.find(c.expect) != std::string::npos);
  }
  Run missing = RunCli("sync --config " + dir.Path("nope.toml") + " --once");
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("nope.toml") != std::string::npos);
  Run usage = RunCli("sync");
  CHECK(usage.exit_code == 2);
  Run no_once = RunCli("sync --config " + dir.Path("g.toml"));
  CHECK(no_once.exit_code == 2);
  CHECK(no_once.output.find("--once") != std::string::npos);
  Run no_database = RunCli("status --config " + WriteFile(dir, "ok.toml", base));
  CHECK(no_database.exit_code == 1);
  CHECK(no_database.output.find("no mirror database") != std::string::npos);
}

TEST_CASE("graphmirror --version prints the version and exits 0", "[cli]") {
  Run run = RunCli("--version");
  CHECK(run.exit_code == 0);
  CHECK(run.output == std::string("graphmirror ") + GRAPHMIRROR_VERSION + "\n");
}

}  // namespace
}  // namespace graphmirror::test

namespace graphmirror::test {

TEST_CASE("keygen writes a certificate and a 0600 key, and never overwrites them", "[cli]") {
  TempDir dir;
  const std::string cert = dir.Path("c.pem"), key = dir.Path("k.pem");
  Run made = RunCli("keygen --cert " + cert + " --key " + key + " --days 30");
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  CHECK(made.output.find("thumbprint (SHA-1): ") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  Run again = RunCli("keygen --cert " + dir.Path("c2.pem") + " --key " + key);
  CHECK(again.exit_code == 1);
  CHECK(Lines(again.output) == 1);
  CHECK(again.output.find("refusing to overwrite") != std::string::npos);
}

}  // namespace graphmirror::test
