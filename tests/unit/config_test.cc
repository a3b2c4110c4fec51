// Config: the TOML file users write, strictly checked.

#include "engine/config/config.h"

#include <catch2/catch.hpp>
#include <functional>
#include <vector>

#include "engine/sync/live_sync.h"

namespace graphmirror::config {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

const char* kValid = R"(
database = "mirror.db"
[graph]
base_url = "https://graph.microsoft.com/v1.0/"
token_url = "https://login.microsoftonline.com/T/oauth2/v2.0/token"
client_id = "app"
client_secret = "s3cret"
[sync]
page_size = 100
[[mailbox]]
user = "u1"
resources = ["messages", "events"]
[[mailbox]]
user = "u2"
)";

TEST_CASE("ParseConfig reads a valid file", "[config]") {
  auto c = ParseConfig(kValid, "g.toml", "/srv/gm", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->database == "/srv/gm/mirror.db");
  CHECK(c->graph.base_url == "https://graph.microsoft.com/v1.0");
  CHECK(c->graph.client_secret == "s3cret");
  CHECK(c->sync.page_size == 100);
  CHECK(c->sync.parallelism == 4);
  REQUIRE(c->mailboxes.size() == 2);
  CHECK(c->mailboxes[0].resources ==
        std::vector<Collection>{Collection::kMessages, Collection::kEvents});
  CHECK(c->mailboxes[1].resources.size() == 3);
  CHECK(c->sync.calendar_past_days == 365);
  CHECK(c->sync.calendar_future_days == 730);
  CHECK(c->sync.delta_interval == std::chrono::minutes(360));
  CHECK(c->sync.catch_up_recheck == std::chrono::seconds(300));
}

TEST_CASE("ParseConfig reads the change feed settings", "[config][changes]") {
  auto defaults = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(defaults.ok());
  CHECK(defaults->changes.keep_days == 0);  // kept forever
  CHECK_FALSE(defaults->changes.drop_unread);
  std::string text = kValid;
  text += "[changes]\nkeep_days = 30\ndrop_unread = true\n";
  auto c = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->changes.keep_days == 30);
  CHECK(c->changes.drop_unread);
  for (const char* bad : {"keep_days = -1", "keep_days = \"7\"", "drop_unread = 1", "keep = 3"}) {
    auto refused =
        ParseConfig(std::string(kValid) + "[changes]\n" + bad + "\n", "g.toml", "", NoEnv);
    INFO(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().message().find("changes.") != std::string::npos);
  }
}

TEST_CASE("ParseConfig reads the delta settings", "[config]") {
  std::string text = kValid;
  text.replace(text.find("page_size = 100"), 15,
               "page_size = 100\ncalendar_past_days = 30\ncalendar_future_days = 90\n"
               "delta_interval_minutes = 0\ncatch_up_recheck_seconds = 0");
  auto c = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->sync.calendar_past_days == 30);
  CHECK(c->sync.calendar_future_days == 90);
  CHECK(c->sync.delta_interval.count() == 0);
  CHECK(c->sync.catch_up_recheck.count() == 0);
}

TEST_CASE("ParseConfig reads sync.bodies: text by default, html or none, nothing else",
          "[config]") {
  auto plain = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(plain.ok());
  CHECK(plain->sync.bodies == "text");
  for (const char* mode : {"html", "none", "text"}) {
    std::string text = kValid;
    text.replace(text.find("page_size = 100"), 15,
                 std::string("page_size = 100\nbodies = \"") + mode + "\"");
    auto c = ParseConfig(text, "g.toml", "", NoEnv);
    REQUIRE(c.ok());
    CHECK(c->sync.bodies == mode);
  }
  std::string text = kValid;
  text.replace(text.find("page_size = 100"), 15, "page_size = 100\nbodies = \"pdf\"");
  auto bad = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("sync.bodies") != std::string::npos);
  CHECK(bad.status().message().find('\n') == std::string::npos);
}

TEST_CASE("ParseConfig reads graph.assertion_algorithm: RS256 by default, or PS256", "[config]") {
  auto plain = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(plain.ok());
  CHECK(plain->graph.assertion_algorithm == "RS256");
  CHECK_FALSE(sync::ClientOptionsFrom(*plain).client_assertion_pss);
  std::string text = kValid;
  text.replace(text.find("client_id = \"app\""), 17,
               "client_id = \"app\"\nassertion_algorithm = \"PS256\"");
  auto pss = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE(pss.ok());
  CHECK(pss->graph.assertion_algorithm == "PS256");
  CHECK(sync::ClientOptionsFrom(*pss).client_assertion_pss);
  text.replace(text.find("PS256"), 5, "HS256");
  auto bad = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("graph.assertion_algorithm") != std::string::npos);
}

TEST_CASE("ParseConfig reads a scoped mailbox: folders and a filter per resource", "[config]") {
  std::string text = kValid;
  text.replace(text.find("user = \"u1\""), 11,
               "user = \"u1\"\nfolders = [\"inbox\", \"archive\", \"Inbox\"]\n"
               "filter = { events = \"importance eq 'high'\" }");
  auto c = ParseConfig(text, "g.toml", "", NoEnv);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->mailboxes[0].folders == std::vector<std::string>{"inbox", "archive"});
  CHECK(c->mailboxes[0].filters.at(Collection::kEvents) == "importance eq 'high'");
  const Scopes scopes(*c);
  CHECK(scopes.Of("u1", Collection::kMessages).by_folder());
  CHECK(scopes.Of("u1", Collection::kMessages).Signature() == "folder:inbox\nfolder:archive\n");
  CHECK(scopes.Of("u1", Collection::kEvents).filter == "importance eq 'high'");
  CHECK(scopes.Of("u2", Collection::kMessages).whole());
  CHECK(scopes.Of("u2", Collection::kMessages).Signature().empty());
  CHECK(scopes.Of("nobody", Collection::kEvents).whole());

  // A [mailbox.filter] table works as well as the inline one.
  std::string table = kValid;
  table.replace(table.find("user = \"u2\""), 11,
                "user = \"u2\"\n[mailbox.filter]\nmessages = \"isRead eq false\"");
  auto t = ParseConfig(table, "g.toml", "", NoEnv);
  REQUIRE(t.ok());
  CHECK(t->mailboxes[1].filters.at(Collection::kMessages) == "isRead eq false");

  const std::pair<const char*, const char*> bad[] = {
      {"folders = []", "mailbox.folders"},
      {"folders = \"inbox\"", "mailbox.folders"},
      {"folders = [\"a/b\"]", "mailbox.folders"},
      {"folders = [\"inbox\"]\nfilter = { messages = \"isRead eq false\" }", "cannot be combined"},
      {"filter = { contacts = \"x eq 1\" }", "mailbox.filter.contacts"},
      {"filter = { messages = \"\" }", "mailbox.filter.messages"},
      {"filter = { tasks = \"x\" }", "mailbox.filter.tasks"},
      {"filter = \"isRead eq false\"", "mailbox.filter"},
  };
  for (const auto& [line, key] : bad) {
    std::string wrong = kValid;
    wrong.replace(wrong.find("user = \"u1\""), 11, std::string("user = \"u1\"\n") + line);
    auto r = ParseConfig(wrong, "g.toml", "", NoEnv);
    INFO(line);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(key) != std::string::npos);
  }
  // Folders scope messages: a mailbox without them cannot have folders.
  std::string events_only = kValid;
  events_only.replace(events_only.find("resources = [\"messages\", \"events\"]"), 34,
                      "resources = [\"events\"]\nfolders = [\"inbox\"]");
  auto r = ParseConfig(events_only, "g.toml", "", NoEnv);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("does not mirror") != std::string::npos);
}

TEST_CASE("ParseConfig reads both overlaps, the notified one 2 s unless set", "[config]") {
  auto defaults = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(defaults.ok());
  CHECK(defaults->sync.overlap.count() == 60);
  CHECK(defaults->sync.hint_overlap.count() == 2);
  std::string text = kValid;
  text.replace(text.find("page_size = 100"), 15,
               "page_size = 100\noverlap_seconds = 120\nhint_overlap_seconds = 5");
  auto c = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->sync.overlap.count() == 120);
  CHECK(c->sync.hint_overlap.count() == 5);
  text.replace(text.find("hint_overlap_seconds = 5"), 24, "hint_overlap_seconds = -1");
  auto bad = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("sync.hint_overlap_seconds") != std::string::npos);
}

TEST_CASE("ParseConfig reads the webhook's connection limits", "[config]") {
  auto defaults = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(defaults.ok());
  CHECK(defaults->webhook.max_connections == 512);
  CHECK(defaults->webhook.max_idle_connections == 20000);
  CHECK(defaults->webhook.request_timeout == std::chrono::seconds(10));
  const std::string text = std::string(kValid) +
                           "[webhook]\nmax_connections = 2000\nrequest_timeout_seconds = 30\n"
                           "max_idle_connections = 50000\n";
  auto c = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->webhook.max_connections == 2000);
  CHECK(c->webhook.max_idle_connections == 50000);
  CHECK(c->webhook.request_timeout == std::chrono::seconds(30));
  auto negative = ParseConfig(std::string(kValid) + "[webhook]\nmax_idle_connections = -1\n",
                              "g.toml", "", NoEnv);
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.status().message().find("webhook.max_idle_connections") != std::string::npos);
  auto bad =
      ParseConfig(std::string(kValid) + "[webhook]\nmax_connections = 10\n", "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("webhook.max_connections") != std::string::npos);
}

TEST_CASE("GRAPHMIRROR_CLIENT_SECRET supplies the secret", "[config]") {
  std::string text = kValid;
  text.erase(text.find("client_secret"), std::string("client_secret = \"s3cret\"\n").size());
  auto missing = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("GRAPHMIRROR_CLIENT_SECRET") != std::string::npos);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "GRAPHMIRROR_CLIENT_SECRET") return "from-env";
    return std::nullopt;
  };
  auto c = ParseConfig(text, "g.toml", "", env);
  REQUIRE(c.ok());
  CHECK(c->graph.client_secret == "from-env");
}

TEST_CASE("graph.certificate and graph.private_key stand in for the secret", "[config]") {
  std::string text = kValid;
  text.replace(text.find("client_secret = \"s3cret\""),
               std::string("client_secret = \"s3cret\"").size(),
               "certificate = \"app-cert.pem\"\nprivate_key = \"keys/app-key.pem\"");
  auto c = ParseConfig(text, "g.toml", "/srv/gm", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->graph.client_secret.empty());
  CHECK(c->graph.certificate == "/srv/gm/app-cert.pem");
  CHECK(c->graph.private_key == "/srv/gm/keys/app-key.pem");

  std::string half = text;
  half.erase(half.find("private_key"), std::string("private_key = \"keys/app-key.pem\"").size());
  auto bad = ParseConfig(half, "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("'graph.certificate' and 'graph.private_key' go together") !=
        std::string::npos);
}

TEST_CASE("ParseConfig names the problem in one line", "[config]") {
  struct Case {
    std::string edit_from, edit_to, expect;
  };
  auto check = [](const std::string& text, const std::string& expect) {
    auto c = ParseConfig(text, "g.toml", "", NoEnv);
    REQUIRE_FALSE(c.ok());
    INFO(c.status().message());
    CHECK(c.status().message().find(expect) != std::string::npos);
    CHECK(c.status().message().find('\n') == std::string::npos);
  };
  std::string base = kValid;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  check(replaced("page_size = 100", "page_sise = 100"), "unknown key 'sync.page_sise'");
  check(replaced("page_size = 100", "page_size = 5000"), "sync.page_size");
  check(replaced("page_size = 100", "page_size = \"big\""), "sync.page_size");
  check(replaced("\"events\"]", "\"calendar\"]"), "mailbox.resources");
  check(replaced("user = \"u2\"", "user = \"u1\""), "configured twice");
  check(replaced("client_id = \"app\"", ""), "graph.client_id");
  check(replaced("database = ", "database = = "), "g.toml:2");
  check(replaced("[graph]", "graph = 3\n[grap]"), "unknown key");
  check(replaced("\"mirror.db\"", "\":memory:\""), "must be a file path");
  check(replaced("page_size = 100", "calendar_past_days = 0"), "sync.calendar_past_days");
  check(replaced("page_size = 100", "delta_interval_minutes = -5"), "sync.delta_interval_minutes");
  check(replaced("page_size = 100", "catch_up_recheck_seconds = -1"),
        "sync.catch_up_recheck_seconds");
}

}  // namespace
}  // namespace graphmirror::config

namespace graphmirror::config {
namespace {

TEST_CASE("ParseConfig reads [rich] and mailbox.rich", "[config]") {
  std::string text = std::string(kValid) + R"(
[rich]
certificate = "rich-cert.pem"
certificate_id = "gm-2026"
private_key = "/keys/rich-key.pem"
[[rich.previous]]
certificate_id = "gm-2025"
private_key = "old-key.pem"
)";
  text.replace(text.find("user = \"u2\""), 11, "user = \"u2\"\nrich = true");
  auto c = ParseConfig(text, "g.toml", "/srv/gm", NoEnv);
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c->rich.has_value());
  CHECK(c->rich->certificate == "/srv/gm/rich-cert.pem");
  CHECK(c->rich->current.certificate_id == "gm-2026");
  CHECK(c->rich->current.private_key == "/keys/rich-key.pem");
  REQUIRE(c->rich->previous.size() == 1);
  CHECK(c->rich->previous[0].private_key == "/srv/gm/old-key.pem");
  CHECK_FALSE(c->mailboxes[0].rich);
  CHECK(c->mailboxes[1].rich);
  // The identity platform's published keys, unless configured otherwise.
  CHECK(c->rich->jwks_url == "https://login.microsoftonline.com/common/discovery/v2.0/keys");
  CHECK(c->rich->tenant_id.empty());

  auto custom = ParseConfig(std::string(kValid) +
                                "[rich]\ncertificate = \"c.pem\"\ncertificate_id = \"x\"\n"
                                "private_key = \"k.pem\"\njwks_url = \"http://127.0.0.1:9/keys\"\n"
                                "tenant_id = \"t-1\"\n",
                            "g.toml", "", NoEnv);
  REQUIRE(custom.ok());
  CHECK(custom->rich->jwks_url == "http://127.0.0.1:9/keys");
  CHECK(custom->rich->tenant_id == "t-1");
  auto bad_url = ParseConfig(std::string(kValid) +
                                 "[rich]\ncertificate = \"c.pem\"\ncertificate_id = \"x\"\n"
                                 "private_key = \"k.pem\"\njwks_url = \"ftp://keys\"\n",
                             "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad_url.ok());
  CHECK(bad_url.status().message().find("rich.jwks_url") != std::string::npos);
}

TEST_CASE("ParseConfig refuses rich mailboxes without [rich], and incomplete keys", "[config]") {
  std::string text = kValid;
  text.replace(text.find("user = \"u2\""), 11, "user = \"u2\"\nrich = true");
  auto no_section = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(no_section.ok());
  CHECK(no_section.status().message().find("no [rich] section") != std::string::npos);

  auto no_key = ParseConfig(std::string(kValid) +
                                "[rich]\ncertificate = \"c.pem\"\n"
                                "certificate_id = \"x\"\n",
                            "g.toml", "", NoEnv);
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.status().message().find("rich.private_key") != std::string::npos);

  auto twice = ParseConfig(std::string(kValid) +
                               "[rich]\ncertificate = \"c.pem\"\ncertificate_id = \"x\"\n"
                               "private_key = \"k.pem\"\n[[rich.previous]]\n"
                               "certificate_id = \"x\"\nprivate_key = \"o.pem\"\n",
                           "g.toml", "", NoEnv);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().message().find("configured twice") != std::string::npos);
}

}  // namespace
}  // namespace graphmirror::config

namespace graphmirror::config {
namespace {

std::string WithWebhook(const std::string& notification, const std::string& lifecycle) {
  std::string text =
      std::string(kValid) + "[webhook]\nnotification_url = \"" + notification + "\"\n";
  if (!lifecycle.empty()) text += "lifecycle_url = \"" + lifecycle + "\"\n";
  return text;
}

TEST_CASE("ParseConfig refuses http webhook URLs that are not loopback", "[config]") {
  // Graph posts only to https URLs (subscription resource type, notificationUrl and
  // lifecycleNotificationUrl); http is for a simulator on this machine.
  for (const char* url : {"http://hooks.example.com/notify", "http://10.0.0.5:8080/n",
                          "http://127.0.0.1.example.com/n", "http://localhost@evil.example/n"}) {
    auto c = ParseConfig(WithWebhook(url, ""), "g.toml", "", NoEnv);
    REQUIRE_FALSE(c.ok());
    INFO(c.status().message());
    CHECK(c.status().message().find("webhook.notification_url") != std::string::npos);
    CHECK(c.status().message().find("https") != std::string::npos);
    CHECK(c.status().message().find('\n') == std::string::npos);
  }
  auto lifecycle =
      ParseConfig(WithWebhook("https://hooks.example.com/n", "http://hooks.example.com/l"),
                  "g.toml", "", NoEnv);
  REQUIRE_FALSE(lifecycle.ok());
  CHECK(lifecycle.status().message().find("webhook.lifecycle_url") != std::string::npos);
  for (const char* url : {"https://hooks.example.com/n", "http://127.0.0.1:8080/n",
                          "http://localhost:9/n", "http://[::1]:9/n"}) {
    auto c = ParseConfig(WithWebhook(url, ""), "g.toml", "", NoEnv);
    INFO(url);
    CHECK(c.ok());
  }
}

TEST_CASE("ParseConfig: lifecycle_url defaults to the notification URL", "[config]") {
  auto c = ParseConfig(WithWebhook("https://hooks.example.com/n", ""), "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->webhook.lifecycle_url == "https://hooks.example.com/n");
  auto own = ParseConfig(WithWebhook("https://hooks.example.com/n", "https://hooks.example.com/l"),
                         "g.toml", "", NoEnv);
  REQUIRE(own.ok());
  CHECK(own->webhook.lifecycle_url == "https://hooks.example.com/l");
}

TEST_CASE("The token scope follows the configured Graph host (national clouds)", "[config]") {
  // "Microsoft Graph national cloud deployments": the .default scope carries the cloud's
  // Graph host, with no explicit default port.
  struct Case {
    const char* base_url;
    const char* scope;
  };
  for (const Case& c :
       {Case{"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
        Case{"https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
        Case{"https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"},
        Case{"https://microsoftgraph.chinacloudapi.cn/v1.0",
             "https://microsoftgraph.chinacloudapi.cn/.default"},
        Case{"https://GRAPH.microsoft.us:443/v1.0", "https://graph.microsoft.us/.default"},
        Case{"http://127.0.0.1:8123/v1.0", "http://127.0.0.1:8123/.default"}}) {
    Config config;
    config.graph.base_url = c.base_url;
    INFO(c.base_url);
    CHECK(sync::ClientOptionsFrom(config).scope == c.scope);
  }
}

}  // namespace
}  // namespace graphmirror::config

namespace graphmirror::config {
namespace {

TEST_CASE("SharePoint with only a client secret is named as a problem, with what to do",
          "[config]") {
  Config c;
  c.graph.client_secret = "s";
  CHECK(SharePointCredentialProblem(c).empty());  // no lists: no problem
  c.sharepoint.push_back({});
  const std::string problem = SharePointCredentialProblem(c);
  CHECK(problem.find("certificate") != std::string::npos);
  CHECK(problem.find("keygen --app") != std::string::npos);
  CHECK(problem.find('\n') == std::string::npos);
  c.graph.certificate = "app-cert.pem";
  c.graph.private_key = "app-key.pem";
  CHECK(SharePointCredentialProblem(c).empty());
}

}  // namespace
}  // namespace graphmirror::config

namespace graphmirror::config {
namespace {

TEST_CASE("ValidateConfig gives a hand-built Config the TOML's one-line errors", "[config]") {
  auto valid = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(valid.ok());
  REQUIRE(ValidateConfig(*valid).ok());
  struct Case {
    std::string toml_edit_from, toml_edit_to;
    std::function<void(Config&)> edit;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"page_size = 100", "page_size = 5000", [](Config& c) { c.sync.page_size = 5000; },
       "'sync.page_size' must be an integer from 1 to 1000"},
      {"page_size = 100", "bodies = \"rtf\"", [](Config& c) { c.sync.bodies = "rtf"; },
       "'sync.bodies' must be \"text\", \"html\" or \"none\", not \"rtf\""},
      {"page_size = 100", "parallelism = 0", [](Config& c) { c.sync.parallelism = 0; },
       "'sync.parallelism' must be an integer from 1 to 64"},
      {"user = \"u2\"", "user = \"u1\"", [](Config& c) { c.mailboxes[1].user = "u1"; },
       "mailbox 'u1' is configured twice"},
      {"[graph]", "[webhook]\nlisten = \"nohost\"\n[graph]",
       [](Config& c) { c.webhook.listen = "nohost"; },
       "'webhook.listen' must be host:port, like \"127.0.0.1:8080\""},
  };
  for (const Case& k : cases) {
    std::string text = kValid;
    text.replace(text.find(k.toml_edit_from), k.toml_edit_from.size(), k.toml_edit_to);
    auto parsed = ParseConfig(text, "g.toml", "", NoEnv);
    REQUIRE_FALSE(parsed.ok());
    Config hand = *valid;
    k.edit(hand);
    Status s = ValidateConfig(hand);
    INFO(parsed.status().message() << " / " << s.message());
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK(s.message() == "config: " + k.expect);
    CHECK(s.message().find('\n') == std::string::npos);
    // The file's error is the same message, after its place in the file.
    const std::string& from_file = parsed.status().message();
    REQUIRE(from_file.size() >= k.expect.size());
    CHECK(from_file.substr(from_file.size() - k.expect.size()) == k.expect);
    CHECK(from_file.rfind("g.toml:", 0) == 0);
  }

  // A hand-built Config needs no TOML: an empty sharepoint list id, a filter on contacts.
  Config hand = *valid;
  hand.sharepoint.push_back({"https://contoso.sharepoint.com/sites/team", {"not-a-guid"}});
  CHECK(ValidateConfig(hand).message() ==
        "config: 'sharepoint.lists' entries must be list ids (GUIDs)");
  // A reader's Config may lack the Graph identity; its other values are still checked.
  Config reader;
  reader.database = "mirror.db";
  CHECK(ValidateConfig(reader).message() == "config: 'graph.token_url' is required");
  CHECK(ValidateConfig(reader, "config", /*require_graph=*/false).ok());
  reader.sync.page_size = 0;
  CHECK(ValidateConfig(reader, "config", false).message() ==
        "config: 'sync.page_size' must be an integer from 1 to 1000");
  hand = *valid;
  hand.mailboxes[0].filters[Collection::kContacts] = "displayName eq 'x'";
  CHECK(ValidateConfig(hand, "mine").message() ==
        "mine: 'mailbox.filter.contacts' is not supported (messages and events are)");
}

TEST_CASE("[metrics] listen", "[config]") {
  auto absent = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(absent.ok());
  CHECK(absent->metrics.listen.empty());
  auto set = ParseConfig(std::string(kValid) + "[metrics]\nlisten = \"127.0.0.1:9090\"\n", "g.toml",
                         "", NoEnv);
  REQUIRE(set.ok());
  CHECK(set->metrics.listen == "127.0.0.1:9090");
  auto bad =
      ParseConfig(std::string(kValid) + "[metrics]\nlisten = \"9090\"\n", "g.toml", "", NoEnv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("g.toml:") == 0);
  CHECK(bad.status().message().find("'metrics.listen' must be host:port") != std::string::npos);
  auto typo = ParseConfig(std::string(kValid) + "[metrics]\nlisen = \"127.0.0.1:9090\"\n", "g.toml",
                          "", NoEnv);
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.status().message().find("unknown key 'metrics.lisen'") != std::string::npos);
}

TEST_CASE("A relative database resolves under STATE_DIRECTORY (systemd StateDirectory=)",
          "[config]") {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "STATE_DIRECTORY") return "/var/lib/graphmirror";
    return std::nullopt;
  };
  std::string text = kValid;
  text.replace(text.find("client_secret = \"s3cret\""),
               std::string("client_secret = \"s3cret\"").size(),
               "certificate = \"app-cert.pem\"\nprivate_key = \"app-key.pem\"");
  auto c = ParseConfig(text, "g.toml", "/etc/graphmirror", env);
  REQUIRE(c.ok());
  CHECK(c->database == "/var/lib/graphmirror/mirror.db");
  CHECK(c->graph.certificate == "/etc/graphmirror/app-cert.pem");  // beside the config still
  auto plain = ParseConfig(text, "g.toml", "/etc/graphmirror", NoEnv);
  REQUIRE(plain.ok());
  CHECK(plain->database == "/etc/graphmirror/mirror.db");
  std::string absolute = text;
  absolute.replace(absolute.find("\"mirror.db\""), 11, "\"/data/m.db\"");
  auto kept = ParseConfig(absolute, "g.toml", "/etc/graphmirror", env);
  REQUIRE(kept.ok());
  CHECK(kept->database == "/data/m.db");
}

TEST_CASE("ParseConfig reads [kafka]: Event Hubs by default, the topic from the hub URL",
          "[config][kafka]") {
  const std::string text = std::string(kValid) +
                           "[kafka]\nbrokers = \"ns.servicebus.windows.net:9093\"\n"
                           "event_hub_url = \"EventHub:https://ns.servicebus.windows.net/"
                           "eventhubname/graph-hub?tenantId=contoso.com\"\n";
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "GRAPHMIRROR_KAFKA_CONNECTION_STRING") {
      return "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;"
             "SharedAccessKey=k";
    }
    return std::nullopt;
  };
  auto c = ParseConfig(text, "g.toml", "/srv/gm", env);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->kafka);
  CHECK(c->kafka->topic == "graph-hub");
  CHECK(c->kafka->group == "graphmirror");
  CHECK(c->kafka->security == "sasl_ssl");
  CHECK(c->kafka->sasl_username == "$ConnectionString");
  CHECK(c->kafka->connection_string.rfind("Endpoint=sb://", 0) == 0);
  CHECK(c->kafka->session_timeout == std::chrono::seconds(30));
  // Subscriptions deliver to the hub, lifecycle events too; no webhook is needed.
  const DeliveryUrls urls = SubscriptionUrls(*c);
  CHECK(urls.notification == c->kafka->event_hub_url);
  CHECK(urls.lifecycle == c->kafka->event_hub_url);

  // Without the connection string, sasl_ssl cannot log in: refused at load.
  auto no_secret = ParseConfig(text, "g.toml", "", NoEnv);
  REQUIRE_FALSE(no_secret.ok());
  CHECK(no_secret.status().message().find("kafka.connection_string") != std::string::npos);

  // Plaintext, a topic of its own, a group, a file for the secret.
  auto plain = ParseConfig(std::string(kValid) +
                               "[kafka]\nbrokers = \"10.0.0.1:9092,10.0.0.2:9092\"\n"
                               "topic = \"notifications\"\ngroup = \"mirror-a\"\n"
                               "security = \"plaintext\"\nsession_timeout_seconds = 6\n",
                           "g.toml", "", NoEnv);
  INFO(plain.status().ToString());
  REQUIRE(plain.ok());
  CHECK(plain->kafka->topic == "notifications");
  CHECK(plain->kafka->group == "mirror-a");
  CHECK(plain->kafka->session_timeout == std::chrono::seconds(6));
  auto file = ParseConfig(std::string(kValid) +
                              "[kafka]\nbrokers = \"b:9093\"\ntopic = \"t\"\n"
                              "connection_string_file = \"secrets/hub.txt\"\n",
                          "g.toml", "/srv/gm", NoEnv);
  REQUIRE(file.ok());
  CHECK(file->kafka->connection_string_file == "/srv/gm/secrets/hub.txt");
}

TEST_CASE("Without [kafka] event_hub_url, subscriptions use the webhook's URLs",
          "[config][kafka]") {
  auto c =
      ParseConfig(std::string(kValid) +
                      "[webhook]\nnotification_url = \"https://hook.example.com/n\"\n"
                      "[kafka]\nbrokers = \"b:9092\"\ntopic = \"t\"\nsecurity = \"plaintext\"\n",
                  "g.toml", "", NoEnv);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  const DeliveryUrls urls = SubscriptionUrls(*c);
  CHECK(urls.notification == "https://hook.example.com/n");
  CHECK(urls.lifecycle == "https://hook.example.com/n");
}

TEST_CASE("ParseConfig refuses malformed [kafka] values with one line naming the key",
          "[config][kafka]") {
  const std::pair<const char*, const char*> bad[] = {
      {"topic = \"t\"\nsecurity = \"plaintext\"", "'kafka.brokers' is required"},
      {"brokers = \"b\"\ntopic = \"t\"\nsecurity = \"plaintext\"", "kafka.brokers"},
      {"brokers = \"b:x\"\ntopic = \"t\"\nsecurity = \"plaintext\"", "kafka.brokers"},
      {"brokers = \"b:1, c:2\"\ntopic = \"t\"\nsecurity = \"plaintext\"", "kafka.brokers"},
      {"brokers = \"b:1\"\nsecurity = \"plaintext\"", "'kafka.topic' is required"},
      {"brokers = \"b:1\"\ntopic = \"a/b\"\nsecurity = \"plaintext\"", "kafka.topic"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nsecurity = \"ssl\"", "kafka.security"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nsecurity = \"plaintext\"\nca_file = \"ca.pem\"",
       "kafka.ca_file"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nsecurity = \"plaintext\"\ngroup = \"\"", "kafka.group"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nsecurity = \"plaintext\"\nsession_timeout_seconds = 5",
       "kafka.session_timeout_seconds"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nsecurity = \"plaintext\"\ntopics = \"t\"",
       "unknown key 'kafka.topics'"},
      {"brokers = \"b:1\"\ntopic = \"t\"\nconnection_string = \"x\"\n"
       "connection_string_file = \"f\"",
       "exclude each other"},
      {"brokers = \"b:1\"\nsecurity = \"plaintext\"\n"
       "event_hub_url = \"https://ns.servicebus.windows.net/eventhubname/h?tenantId=c.com\"",
       "kafka.event_hub_url"},
      {"brokers = \"b:1\"\nsecurity = \"plaintext\"\n"
       "event_hub_url = \"EventHub:https://ns.servicebus.windows.net/eventhubname/h\"",
       "kafka.event_hub_url"},
      {"brokers = \"b:1\"\nsecurity = \"plaintext\"\ntopic = \"other\"\n"
       "event_hub_url = \"EventHub:https://ns.servicebus.windows.net/eventhubname/h?tenantId=c\"",
       "delivers to the hub \"h\""},
  };
  for (const auto& [lines, key] : bad) {
    auto r = ParseConfig(std::string(kValid) + "[kafka]\n" + lines + "\n", "g.toml", "", NoEnv);
    INFO(lines);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(key) != std::string::npos);
    CHECK(r.status().message().find('\n') == std::string::npos);
    CHECK(r.status().message().rfind("g.toml:", 0) == 0);
  }
  // A hand-built Config gets the same checks.
  auto c = ParseConfig(kValid, "g.toml", "", NoEnv);
  REQUIRE(c.ok());
  c->kafka.emplace();
  c->kafka->brokers = "b:1";
  c->kafka->security = "plaintext";
  Status s = ValidateConfig(*c);
  CHECK(s.message().find("'kafka.topic' is required") != std::string::npos);
  c->kafka->topic = "t";
  CHECK(ValidateConfig(*c).ok());
}

TEST_CASE("ParseEventHubUrl takes the two forms Graph documents and nothing else",
          "[config][kafka]") {
  auto rbac = ParseEventHubUrl(
      "EventHub:https://ns.servicebus.windows.net/eventhubname/graph-hub?tenantId=contoso.com");
  REQUIRE(rbac);
  CHECK(rbac->host == "ns.servicebus.windows.net");
  CHECK(rbac->hub == "graph-hub");
  CHECK(rbac->secret.empty());
  CHECK(rbac->tenant == "contoso.com");
  auto vault = ParseEventHubUrl(
      "EventHub:https://kv.vault.azure.net/secrets/hubconnection?tenantId=contoso.onmicrosoft.com");
  REQUIRE(vault);
  CHECK(vault->hub.empty());
  CHECK(vault->secret == "hubconnection");
  CHECK(vault->tenant == "contoso.onmicrosoft.com");
  for (const char* url : {
           "",
           "https://ns.servicebus.windows.net/eventhubname/h?tenantId=c",
           "EventHub:http://ns.servicebus.windows.net/eventhubname/h?tenantId=c",
           "EventHub:https://ns.servicebus.windows.net/eventhubname/h",
           "EventHub:https://ns.servicebus.windows.net/eventhubname/h?tenantId=",
           "EventHub:https://ns.servicebus.windows.net/eventhubname/?tenantId=c",
           "EventHub:https://ns.servicebus.windows.net/h?tenantId=c",
           "EventHub:https://ns.servicebus.windows.net/eventhubname/a/b?tenantId=c",
           "EventHub:https:///eventhubname/h?tenantId=c",
           "EventHub:https://u@ns/eventhubname/h?tenantId=c",
           "EventHub:https://ns/eventhubname/h h?tenantId=c",
       }) {
    INFO(url);
    CHECK_FALSE(ParseEventHubUrl(url));
  }
}

}  // namespace
}  // namespace graphmirror::config
