// The change feed end to end: `graphmirror run` against graphsim with a stream of
// creates, updates, moves and deletes, killed with SIGKILL mid-stream and restarted, while
// `graphmirror changes --consumer c --follow` reads (itself killed once and restarted).
// Afterwards the consumer has seen every change once, in seq order without a gap, and the
// feed replayed from empty gives exactly graphsim's mailboxes.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "graphmirror/engine.h"
#include "tests/integration/cli_run.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"

namespace graphmirror::test {
namespace {

pid_t SpawnConsumer(const std::string& config, const std::string& out) {
  return Spawn({GRAPHMIRROR_CLI_PATH, "changes", "--config", config, "--consumer", "c", "--follow"},
               out);
}

// The seqs of the complete JSON lines a consumer run printed (a run killed mid-write may
// leave a partial last line: it was not committed, and the next run prints it again).
std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<nlohmann::json> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = text.substr(start, nl - start);
    if (line.rfind("{\"seq\":", 0) == 0) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// Graph JSON of an item: graphsim, like Graph, refuses properties the resource lacks.
std::string Fields(const std::string& collection, const char* prefix, int n) {
  const char* key = collection == "messages" ? "subject" : "displayName";
  return std::string("{\"") + key + "\":\"" + prefix + std::to_string(n) + "\"}";
}

int64_t Cursor(const std::string& db) {
  return Query(db, "SELECT coalesce((SELECT last_seq FROM consumers WHERE name = 'c'), 0)");
}

TEST_CASE("A consumer of the change feed sees every change once across SIGKILLs",
          "[changes][crash][live]") {
  graphsim::Options o;
  o.seed = 23;
  o.users = 2;
  o.messages = 30;
  o.contacts = 8;
  o.delivery_retry_initial = std::chrono::milliseconds(50);
  o.delivery_retry_cap = std::chrono::milliseconds(500);
  o.delivery_timeout = std::chrono::milliseconds(1000);
  RealTimeSim env(o);
  graphsim::Simulator& sim = env.sim();
  TempDir dir;
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << DaemonConfigText(env, "mirror.db", FreePort());
    for (const std::string& user : sim.UserIds()) {
      out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\", \"contacts\"]\n";
    }
  }
  const std::string db = dir.Path("mirror.db");
  const std::string log = dir.Path("daemon.log");
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed << "; daemon log " << log);
  std::mt19937_64 rng(seed);

  auto start_daemon = [&] {
    const size_t before = CountInFile(log, "initial sync done");
    pid_t pid = SpawnDaemon(config, log);
    REQUIRE(WaitForLine(log, "initial sync done", before, std::chrono::seconds(30)));
    return pid;
  };
  pid_t daemon = start_daemon();  // subscriptions, and the first sync (inserts)
  REQUIRE(sim.Subscriptions().size() == 4);

  std::vector<std::string> outputs = {dir.Path("consumer-0.out")};
  pid_t consumer = SpawnConsumer(config, outputs.back());
  std::vector<int64_t> cursor_at_kill;  // the committed cursor when a consumer run was killed

  // The stream, dead daemon or not. Moves keep immutable ids, as the engine asks Graph for.
  std::atomic<bool> streaming{true};
  std::atomic<int> refused{0};  // creates graphsim refused: the stream would prove nothing
  std::mutex touched_mu;
  std::set<std::pair<std::string, std::string>> created, updated, deleted;  // (user, id)
  std::thread stream([&, stream_seed = rng()] {
    std::mt19937_64 r(stream_seed);
    const auto users = sim.UserIds();
    int n = 0;
    while (streaming) {
      const std::string& user = users[r() % users.size()];
      const char* collection = r() % 3 ? "messages" : "contacts";
      auto ids = sim.ItemIds(user, collection);
      const std::string id = ids.empty() ? "" : ids[r() % ids.size()];
      std::lock_guard<std::mutex> lock(touched_mu);
      switch (r() % 5) {
        case 0:
        case 1:
          if (std::string created_id = sim.CreateItem(user, collection, Fields(collection, "s", n));
              !created_id.empty()) {
            created.emplace(user, created_id);
          } else {
            ++refused;
          }
          break;
        case 2:
          if (!id.empty() && sim.UpdateItem(user, collection, id, Fields(collection, "u", n))) {
            updated.emplace(user, id);
          }
          break;
        case 3:
          if (!id.empty() && std::string(collection) == "messages" &&
              !sim.MoveMessage(user, id, r() % 2 ? "archive" : "inbox", true).empty()) {
            updated.emplace(user, id);
          }
          break;
        case 4:
          if (ids.size() > 5 && sim.DeleteItem(user, collection, id)) deleted.emplace(user, id);
          break;
      }
      ++n;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  // Three daemon kills mid-stream; the consumer is killed once, between the first two.
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    // The consumer is killed once it has printed (a slow start under the sanitizers
    // prints nothing in the first second), so the next run's re-print is seen.
    for (int i = 0; kill == 0 && i < 6000 && ReadLines(outputs.back()).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(daemon, SIGKILL);
    REQUIRE(WaitExit(daemon) == 128 + SIGKILL);
    if (kill == 0) {
      ::kill(consumer, SIGKILL);
      REQUIRE(WaitExit(consumer) == 128 + SIGKILL);
      cursor_at_kill.push_back(Cursor(db));
      outputs.push_back(dir.Path("consumer-1.out"));
      consumer = SpawnConsumer(config, outputs.back());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    daemon = start_daemon();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  streaming = false;
  stream.join();
  REQUIRE(refused == 0);
  REQUIRE(created.size() > 10);

  // The last daemon drains what Graph still holds for it.
  bool converged = false;
  for (int i = 0; i < 6000 && !converged; ++i) {
    converged = sim.Deliveries().pending_items == 0 &&
                Query(db,
                      "SELECT count(*) FROM notification_log WHERE state IN ('received', "
                      "'failed')") == 0 &&
                MirrorEquals(sim, db, "messages") && MirrorEquals(sim, db, "contacts");
    if (!converged) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(converged);
  ::kill(daemon, SIGTERM);
  REQUIRE(WaitExit(daemon) == 0);
  // The consumer catches up with the feed, then stops on SIGTERM.
  const int64_t last_seq =
      Query(db, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)");
  REQUIRE(last_seq > 0);
  for (int i = 0; i < 3000 && Cursor(db) < last_seq; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(consumer, SIGTERM);
  REQUIRE(WaitExit(consumer) == 0);
  REQUIRE(Cursor(db) == last_seq);

  // Each run prints consecutive seqs from the cursor committed before it. The run that
  // was killed may have printed past its committed cursor (printed, not yet committed):
  // exactly those are printed again by the next run, which starts right after the cursor.
  std::vector<nlohmann::json> seen;  // every change, as the consumer keeps it
  int64_t committed = 0;
  for (size_t run = 0; run < outputs.size(); ++run) {
    const std::vector<nlohmann::json> lines = ReadLines(outputs[run]);
    INFO("consumer run " << run << ": " << outputs[run]);
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.front()["seq"].get<int64_t>() == committed + 1);
    for (size_t i = 1; i < lines.size(); ++i) {
      REQUIRE(lines[i]["seq"].get<int64_t>() == lines[i - 1]["seq"].get<int64_t>() + 1);
    }
    committed = run < cursor_at_kill.size() ? cursor_at_kill[run] : last_seq;
    for (const auto& line : lines) {
      if (line["seq"].get<int64_t>() <= committed) seen.push_back(line);
    }
  }
  REQUIRE(static_cast<int64_t>(seen.size()) == last_seq);
  for (size_t i = 0; i < seen.size(); ++i) {
    REQUIRE(seen[i]["seq"].get<int64_t>() == static_cast<int64_t>(i + 1));
  }

  // Replayed from empty, the feed is a valid history (an insert of an absent row; an
  // update, move or delete of a present one) that ends at graphsim's mailboxes.
  std::map<std::string, std::set<std::string>> held;  // "user/resource" -> ids
  std::map<std::string, int> kinds;
  std::set<std::pair<std::string, std::string>> inserted, removed, changed;
  for (const auto& change : seen) {
    const std::string user = change["user_id"].get<std::string>();
    const std::string resource = change["resource"].get<std::string>();
    const std::string id = change["item_id"].get<std::string>();
    const std::string kind = change["kind"].get<std::string>();
    INFO(change.dump());
    ++kinds[kind];
    std::set<std::string>& ids = held[user + "/" + resource];
    if (kind == "insert") {
      CHECK(ids.insert(id).second);
      CHECK(change["fields"].is_null());
      inserted.emplace(user, id);
    } else {
      CHECK(ids.count(id) == 1);
      if (kind == "delete") {
        ids.erase(id);
        removed.emplace(user, id);
      } else {
        CHECK(!change["fields"].empty());
        changed.emplace(user, id);
      }
    }
  }
  for (const std::string& user : sim.UserIds()) {
    for (const char* resource : {"messages", "contacts"}) {
      std::vector<std::string> want = sim.ItemIds(user, resource);
      INFO(user << " " << resource);
      CHECK(held[user + "/" + resource] == std::set<std::string>(want.begin(), want.end()));
    }
  }
  // Every item the stream touched that the mirror came to hold is in the feed: created
  // ones still there were inserted, deleted ones it had held left by a delete.
  for (const auto& item : created) {
    if (held[item.first + "/messages"].count(item.second) ||
        held[item.first + "/contacts"].count(item.second)) {
      CHECK(inserted.count(item) == 1);
    }
  }
  for (const auto& item : deleted) {
    if (inserted.count(item)) CHECK(removed.count(item) == 1);
  }
  INFO("kinds: insert " << kinds["insert"] << ", update " << kinds["update"] << ", move "
                        << kinds["move"] << ", delete " << kinds["delete"]);
  CHECK(kinds["insert"] > 2 * (30 + 8));  // the first sync, then the stream's creates
  CHECK(kinds["update"] > 0);
  CHECK(kinds["delete"] > 0);
  CHECK(!changed.empty());
}

TEST_CASE("graphmirror changes prints JSON lines, moves a consumer's cursor, refuses bad input",
          "[changes][cli]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 12;
  o.events = 0;
  o.contacts = 3;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  const std::string config = WriteFile(
      f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", f.sim().UserIds()));
  Run missing = RunCli("changes --config " + config);
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("no mirror database") != std::string::npos);
  REQUIRE(RunCli("sync --config " + config + " --once").exit_code == 0);

  Run all = RunCli("changes --config " + config);
  INFO(all.output);
  REQUIRE(all.exit_code == 0);
  REQUIRE(Lines(all.output) == 15);
  std::istringstream lines(all.output);
  int64_t seq = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto change = nlohmann::json::parse(line);
    CHECK(change["seq"].get<int64_t>() == ++seq);
    CHECK(change["user_id"] == user);
    CHECK(change["kind"] == "insert");
    CHECK(change["fields"].is_null());
    CHECK(!change["item_id"].get<std::string>().empty());
    CHECK(change["changed_at"].get<std::string>().size() == 28);
    CHECK((change["resource"] == "messages" || change["resource"] == "contacts"));
  }
  Run after = RunCli("changes --config " + config + " --after 13");
  CHECK(after.exit_code == 0);
  CHECK(Lines(after.output) == 2);
  CHECK(after.output.rfind("{\"seq\":14,", 0) == 0);

  // A consumer reads everything once; the next run has nothing until something changes.
  Run first = RunCli("changes --config " + config + " --consumer app");
  CHECK(first.exit_code == 0);
  CHECK(first.output == all.output);
  Run again = RunCli("changes --config " + config + " --consumer app");
  CHECK(again.exit_code == 0);
  CHECK(again.output.empty());
  const std::string id = f.sim().ItemIds(user, "messages").front();
  REQUIRE(f.sim().UpdateItem(user, "messages", id, R"({"subject":"renamed"})"));
  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(RunCli("sync --config " + config + " --once").exit_code == 0);
  Run update = RunCli("changes --config " + config + " --consumer app");
  INFO(update.output);
  CHECK(update.exit_code == 0);
  REQUIRE(Lines(update.output) == 1);
  const auto change = nlohmann::json::parse(update.output);
  CHECK(change["seq"] == 16);
  CHECK(change["kind"] == "update");
  CHECK(change["item_id"] == id);
  const auto fields = change["fields"].get<std::vector<std::string>>();
  CHECK(std::find(fields.begin(), fields.end(), "subject") != fields.end());
  CHECK(std::find(fields.begin(), fields.end(), "body") == fields.end());

  for (const std::string bad : {"--after 3 --consumer app", "--after -1", "--consumer ''"}) {
    Run refused = RunCli("changes --config " + config + " " + bad);
    INFO(bad << ": " << refused.output);
    CHECK(refused.exit_code == 2);
    CHECK(Lines(refused.output) == 1);
    CHECK(refused.output.rfind("graphmirror: ", 0) == 0);
  }
  CHECK(RunCli("changes --config " + config + " --after x").exit_code == 2);
}

TEST_CASE("Engine's change feed calls check their arguments", "[changes]") {
  TempDir dir;
  Config config;
  config.database = dir.Path("e.db");
  auto engine = Engine::Open(config);
  REQUIRE(engine.ok());
  Engine& e = **engine;
  CHECK(e.ReadChanges(0, 0).status().code() == Status::Code::kInvalidArgument);
  CHECK(e.ReadChanges(-1, 10).status().code() == Status::Code::kInvalidArgument);
  CHECK(e.ReadChanges(std::string(), 10).status().code() == Status::Code::kInvalidArgument);
  CHECK(e.ReadChanges(std::string("a\nb"), 10).status().code() == Status::Code::kInvalidArgument);
  auto none = e.ReadChanges(std::string("c"), 10);
  REQUIRE(none.ok());
  CHECK(none->empty());
  REQUIRE(e.Consumers()->size() == 1);
  CHECK(e.CommitChanges("c", 1).code() == Status::Code::kInvalidArgument);  // no change 1
  CHECK(e.CommitChanges("c", 0).ok());
  CHECK(*e.PruneChanges() == 0);
  CHECK(e.DropConsumer("c").ok());
  CHECK(e.DropConsumer("c").code() == Status::Code::kNotFound);
}

}  // namespace
}  // namespace graphmirror::test
