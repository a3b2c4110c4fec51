// Verify (Engine::Verify, `graphmirror verify`) against graphsim over loopback: a mirror
// synced from Graph verifies clean in about one request per page of ids; rows corrupted on
// purpose are found exactly, repaired exactly (no other row rewritten), and verify clean
// afterwards; the result is kept for status and /metrics; the command's exit codes.

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graphmirror/engine.h"
#include "tests/integration/cli_run.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"

namespace graphmirror::test {
namespace {

VerifyOptions Options(const std::string& user_id, std::optional<Collection> collection,
                      bool repair) {
  VerifyOptions o;
  o.user_id = user_id;
  o.collection = collection;
  o.repair = repair;
  return o;
}

const VerifyScope* ScopeOf(const VerifyResult& result, const std::string& resource) {
  for (const VerifyScope& s : result.scopes) {
    if (s.resource == resource) return &s;
  }
  return nullptr;
}

// id -> (change_key, json, synced_at) of every row of `table`.
std::map<std::string, std::vector<std::string>> Rows(const std::string& db_path,
                                                     const std::string& table) {
  SQLite::Database db(db_path);
  SQLite::Statement q(db, "SELECT id, coalesce(change_key, ''), json, synced_at FROM " + table);
  std::map<std::string, std::vector<std::string>> rows;
  while (q.executeStep()) {
    rows[q.getColumn(0).getString()] = {q.getColumn(1).getString(), q.getColumn(2).getString(),
                                        q.getColumn(3).getString()};
  }
  return rows;
}

TEST_CASE("verify: a mirror synced from Graph is clean, at about one request per page of ids",
          "[verify]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 2100;  // three pages of 1,000 ids
  o.events = 12;
  o.contacts = 15;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  f.sim().CreateContactFolder(user, "", "Team");  // a second contact folder, listed apart
  Config config = f.Config(500);
  config.database = f.dir().Path("api.db");
  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->SyncOnce().ok());

  const uint64_t sim_before = f.sim().Stats(user).requests;
  auto result = (*engine)->Verify({});
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  CHECK(result->remaining() == 0);
  REQUIRE(result->scopes.size() == 4);  // messages, events, event_occurrences, contacts
  for (const VerifyScope& s : result->scopes) {
    INFO(s.resource);
    CHECK(s.drift.total() == 0);
    CHECK(s.graph_items == s.mirror_items);
    CHECK_FALSE(s.after_repair.has_value());
  }
  CHECK(ScopeOf(*result, "messages")->graph_items == 2100);
  CHECK(ScopeOf(*result, "contacts")->graph_items == 15);
  CHECK(ScopeOf(*result, "events")->graph_items == 12);
  // Messages: 3 pages (keyset paging may repeat a page's last timestamp: at most 1 more);
  // events 1 and their occurrences 1; contacts: the folder listings (the default folder's
  // children, each child's children, a contact to learn the default folder's id) and one
  // page per folder. Nothing is read item by item.
  const uint64_t sim_requests = f.sim().Stats(user).requests - sim_before;
  CHECK(result->graph_requests == static_cast<int64_t>(sim_requests));
  CHECK(sim_requests <= 4 + 2 + 5);

  // Kept, for status.
  auto status = (*engine)->GetStatus();
  REQUIRE(status.ok());
  REQUIRE(status->verifications.size() == 4);
  for (const VerifyState& v : status->verifications) {
    CHECK(v.user_id == user);
    CHECK(v.remaining == 0);
    CHECK_FALSE(v.verified_at.empty());
  }
}

TEST_CASE("verify: rows corrupted on purpose are found exactly and repaired exactly", "[verify]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 40;
  o.events = 10;
  o.contacts = 10;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  // A weekly series of 6 in the calendar window: its occurrences are a scope of their own.
  const std::string series = f.sim().CreateItem(
      user, "events",
      nlohmann::json{
          {"subject", "weekly"},
          {"start", {{"dateTime", "2026-03-02T09:00:00"}, {"timeZone", "UTC"}}},
          {"end", {{"dateTime", "2026-03-02T09:30:00"}, {"timeZone", "UTC"}}},
          {"recurrence",
           {{"pattern", {{"type", "weekly"}, {"interval", 1}, {"daysOfWeek", {"monday"}}}},
            {"range",
             {{"type", "numbered"}, {"startDate", "2026-03-02"}, {"numberOfOccurrences", 6}}}}}}
          .dump());
  REQUIRE_FALSE(series.empty());
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->SyncOnce().ok());
  const std::string db_path = config.database;
  const auto occurrences_before = Rows(db_path, "event_occurrences");
  REQUIRE(occurrences_before.size() == 6);
  const std::string deleted_occurrence = occurrences_before.rbegin()->first;
  const auto messages_before = Rows(db_path, "messages");
  const auto contacts_before = Rows(db_path, "contacts");
  REQUIRE(messages_before.size() == 40);

  // The damage: a message row deleted, a bogus one inserted, one whose change key and
  // json were changed; a contact row deleted.
  auto it = messages_before.begin();
  const std::string deleted_id = (it++)->first;
  const std::string stale_id = (it++)->first;
  const std::string deleted_contact = contacts_before.begin()->first;
  const std::string bogus_id = "AAMkBOGUS-not-in-graph";
  {
    SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM messages WHERE id = '" + deleted_id + "'");
    db.exec(
        "INSERT INTO messages (user_id, id, created_at, change_key, json, synced_at) "
        "VALUES ('" +
        user + "', '" + bogus_id +
        "', '2025-01-01T00:00:00.0000000Z', 'ck', '{}', '2025-01-01T00:00:00.0000000Z')");
    db.exec(
        "UPDATE messages SET change_key = 'corrupted', "
        "json = json_set(json, '$.subject', 'corrupted') WHERE id = '" +
        stale_id + "'");
    db.exec("DELETE FROM contacts WHERE id = '" + deleted_contact + "'");
    db.exec("DELETE FROM event_occurrences WHERE id = '" + deleted_occurrence + "'");
  }

  auto found = (*engine)->Verify({});
  INFO(found.status().ToString());
  REQUIRE(found.ok());
  CHECK(found->remaining() == 5);
  const VerifyScope* messages = ScopeOf(*found, "messages");
  REQUIRE(messages != nullptr);
  CHECK(messages->graph_items == 40);
  CHECK(messages->mirror_items == 40);
  CHECK(messages->drift.missing == 1);
  CHECK(messages->drift.extra == 1);
  CHECK(messages->drift.stale == 1);
  CHECK(messages->drift.missing_ids == std::vector<std::string>{deleted_id});
  CHECK(messages->drift.extra_ids == std::vector<std::string>{bogus_id});
  CHECK(messages->drift.stale_ids == std::vector<std::string>{stale_id});
  const VerifyScope* contacts = ScopeOf(*found, "contacts");
  REQUIRE(contacts != nullptr);
  CHECK(contacts->drift.missing_ids == std::vector<std::string>{deleted_contact});
  CHECK(contacts->drift.extra + contacts->drift.stale == 0);
  CHECK(ScopeOf(*found, "events")->drift.total() == 0);
  const VerifyScope* occurrences = ScopeOf(*found, "event_occurrences");
  REQUIRE(occurrences != nullptr);
  CHECK(occurrences->graph_items == 6);
  CHECK(occurrences->drift.missing_ids == std::vector<std::string>{deleted_occurrence});
  CHECK(occurrences->drift.extra + occurrences->drift.stale == 0);
  // Verifying wrote nothing.
  CHECK(Rows(db_path, "messages").count(bogus_id) == 1);

  // Only the one resource, and a mailbox or resource not mirrored is refused.
  auto only_contacts = (*engine)->Verify(Options(user, Collection::kContacts, false));
  REQUIRE(only_contacts.ok());
  CHECK(only_contacts->scopes.size() == 1);
  CHECK(only_contacts->remaining() == 1);
  CHECK((*engine)->Verify(Options("nobody", std::nullopt, false)).status().code() ==
        Status::Code::kInvalidArgument);

  // Repaired rows are written later than the sync wrote the others.
  f.clock().Advance(std::chrono::hours(1));
  auto repaired = (*engine)->Verify(Options("", std::nullopt, true));
  INFO(repaired.status().ToString());
  REQUIRE(repaired.ok());
  CHECK(repaired->remaining() == 0);
  messages = ScopeOf(*repaired, "messages");
  CHECK(messages->drift.total() == 3);
  CHECK(messages->repaired == 3);
  REQUIRE(messages->after_repair.has_value());
  CHECK(messages->after_repair->total() == 0);
  CHECK(ScopeOf(*repaired, "contacts")->repaired == 1);
  CHECK(ScopeOf(*repaired, "events")->repaired == 0);
  CHECK(ScopeOf(*repaired, "event_occurrences")->repaired == 1);
  CHECK(Rows(db_path, "event_occurrences").size() == 6);

  // The mirror equals graphsim again, and the rows that did not drift were not rewritten.
  const auto messages_after = Rows(db_path, "messages");
  std::vector<std::string> want = f.sim().ItemIds(user, "messages");
  std::sort(want.begin(), want.end());
  std::vector<std::string> have;
  for (const auto& [id, row] : messages_after) have.push_back(id);
  CHECK(have == want);
  for (const auto& [id, row] : messages_before) {
    INFO(id);
    const auto& now = messages_after.at(id);
    CHECK(now[0] == row[0]);  // change key as Graph has it
    // The json too: the stale row was read back whole (a GET by id also carries the
    // response's @odata.context, which a delta round's items do not, and they carry their
    // @odata.type, which a GET does not).
    auto json = nlohmann::json::parse(now[1]);
    auto json_before = nlohmann::json::parse(row[1]);
    for (auto* j : {&json, &json_before}) {
      j->erase("@odata.context");
      j->erase("@odata.type");
    }
    CHECK(json == json_before);
    if (id == deleted_id || id == stale_id) {
      CHECK(now[2] > row[2]);
    } else {
      CHECK(now[2] == row[2]);  // not rewritten
    }
  }
  const auto contacts_after = Rows(db_path, "contacts");
  CHECK(contacts_after.size() == contacts_before.size());
  for (const auto& [id, row] : contacts_before) {
    if (id != deleted_contact) CHECK(contacts_after.at(id)[2] == row[2]);
  }

  auto clean = (*engine)->Verify({});
  REQUIRE(clean.ok());
  CHECK(clean->remaining() == 0);

  // The last result of each scope is shown by status and /metrics.
  auto status = (*engine)->GetStatus();
  REQUIRE(status.ok());
  bool saw_messages = false;
  for (const VerifyState& v : status->verifications) {
    if (v.resource != "messages") continue;
    saw_messages = true;
    CHECK(v.remaining == 0);
    CHECK(v.missing + v.extra + v.stale == 0);  // the last verify found none
  }
  CHECK(saw_messages);
}

TEST_CASE("verify: a scoped mirror is compared with its scope, not the whole mailbox",
          "[verify][scoped]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 60;
  o.events = 8;
  o.contacts = 8;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  config.mailboxes[0].folders = {"inbox"};                                 // messages by folder
  config.mailboxes[0].filters[Collection::kEvents] = "isAllDay eq false";  // events by filter
  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->SyncOnce().ok());
  auto clean = (*engine)->Verify({});
  INFO(clean.status().ToString());
  REQUIRE(clean.ok());
  CHECK(clean->remaining() == 0);
  // The filtered calendar's occurrences are not compared: messages, events, contacts.
  CHECK(clean->scopes.size() == 3);
  const VerifyScope* messages = ScopeOf(*clean, "messages");
  REQUIRE(messages != nullptr);
  CHECK(messages->graph_items == messages->mirror_items);
  CHECK(messages->graph_items < 60);  // the inbox's only

  // A message of another folder written into the mirror is out of the scope: extra, and
  // the repair removes it (its GET answers, but from a folder the mirror does not keep).
  std::string outside;
  const auto held = Rows(config.database, "messages");
  for (const std::string& id : f.sim().ItemIds(user, "messages")) {
    if (held.count(id) == 0) {
      outside = id;
      break;
    }
  }
  REQUIRE_FALSE(outside.empty());
  {
    SQLite::Database db(config.database, SQLite::OPEN_READWRITE);
    db.exec(
        "INSERT INTO messages (user_id, id, created_at, change_key, json, synced_at) VALUES ('" +
        user + "', '" + outside +
        "', '2025-01-01T00:00:00.0000000Z', 'ck', '{}', '2025-01-01T00:00:00.0000000Z')");
  }
  auto found = (*engine)->Verify(Options(user, Collection::kMessages, true));
  REQUIRE(found.ok());
  messages = ScopeOf(*found, "messages");
  CHECK(messages->drift.extra_ids == std::vector<std::string>{outside});
  CHECK(messages->drift.missing + messages->drift.stale == 0);
  CHECK(messages->repaired == 1);
  CHECK(found->remaining() == 0);
  CHECK(Rows(config.database, "messages").count(outside) == 0);
}

TEST_CASE("verify: the last result is in /metrics", "[verify][ops]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 12;
  o.events = 3;
  o.contacts = 3;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  const int port = FreePort();
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://" + config.webhook.listen + "/notify";
  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->SyncOnce().ok());
  {
    SQLite::Database db(config.database, SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages LIMIT 2)");
  }
  auto found = (*engine)->Verify(Options("", Collection::kMessages, false));
  REQUIRE(found.ok());
  CHECK(found->remaining() == 2);
  REQUIRE((*engine)->Start().ok());
  auto metrics = (*engine)->Metrics();
  REQUIRE(metrics.ok());
  const std::string labels = "{user=\"" + user + "\",resource=\"messages\"}";
  CHECK(metrics->find("graphmirror_verify_last_drift_items" + labels + " 2\n") !=
        std::string::npos);
  CHECK(metrics->find("graphmirror_verify_last_found_items{user=\"" + user +
                      "\",resource=\"messages\",kind=\"missing\"} 2\n") != std::string::npos);
  CHECK(metrics->find("graphmirror_verify_last_timestamp_seconds" + labels + " ") !=
        std::string::npos);
  (*engine)->Stop();
}

TEST_CASE("verify command: exit 0 equal, 1 drift, 2 usage or Graph unreachable", "[verify][cli]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 30;
  o.events = 5;
  o.contacts = 5;
  SimFixture f(o);
  const std::string user = f.sim().UserIds()[0];
  const std::string config =
      WriteFile(f.dir(), "g.toml", ConfigText(f.server().base_url(), "graphsim-secret", {user}));

  Run none = RunCli("verify --config " + config);  // no database yet
  CHECK(none.exit_code == 2);

  REQUIRE(RunCli("sync --config " + config + " --once").exit_code == 0);
  Run clean = RunCli("verify --config " + config);
  INFO(clean.output);
  CHECK(clean.exit_code == 0);
  CHECK(clean.output.find("the mirror equals Graph") != std::string::npos);
  CHECK(clean.output.find(user + " messages          graph 30, mirror 30: equal") !=
        std::string::npos);

  std::string deleted;
  {
    SQLite::Database db(f.dir().Path("m.db"), SQLite::OPEN_READWRITE);
    deleted = db.execAndGet("SELECT min(id) FROM messages").getString();
    db.exec("DELETE FROM messages WHERE id = '" + deleted + "'");
  }
  Run drift = RunCli("verify --config " + config + " --mailbox " + user + " --resource messages");
  INFO(drift.output);
  CHECK(drift.exit_code == 1);
  CHECK(drift.output.find("1 missing, 0 extra, 0 stale") != std::string::npos);
  CHECK(drift.output.find("missing: " + deleted) != std::string::npos);
  CHECK(drift.output.find("1 item differs (--repair fixes them)") != std::string::npos);

  Run status = RunCli("status --config " + config);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("last verify") != std::string::npos);

  Run repair = RunCli("verify --config " + config + " --repair");
  INFO(repair.output);
  CHECK(repair.exit_code == 0);
  CHECK(repair.output.find("repaired 1 row(s): now equal") != std::string::npos);
  CHECK(RunCli("verify --config " + config).exit_code == 0);

  // Usage errors: 2, with one line.
  Run bad_flag = RunCli("verify --config " + config + " --bogus");
  CHECK(bad_flag.exit_code == 2);
  Run bad_resource = RunCli("verify --config " + config + " --resource calendars");
  CHECK(bad_resource.exit_code == 2);
  CHECK(Lines(bad_resource.output) == 1);
  Run bad_mailbox = RunCli("verify --config " + config + " --mailbox nobody");
  CHECK(bad_mailbox.exit_code == 2);
  CHECK(Lines(bad_mailbox.output) == 1);

  // Graph refusing the credentials, or gone: 2, never 0.
  const std::string wrong =
      WriteFile(f.dir(), "wrong.toml", ConfigText(f.server().base_url(), "wrong-secret", {user}));
  Run refused = RunCli("verify --config " + wrong);
  CHECK(refused.exit_code == 2);
  CHECK(Lines(refused.output) == 1);
  // Port 9 (discard) on loopback: nothing listens there.
  const std::string gone_config =
      WriteFile(f.dir(), "gone.toml", ConfigText("http://127.0.0.1:9", "graphsim-secret", {user}));
  Run gone = RunCli("verify --config " + gone_config);
  INFO(gone.output);
  CHECK(gone.exit_code == 2);
  CHECK(Lines(gone.output) == 1);
}

}  // namespace
}  // namespace graphmirror::test
