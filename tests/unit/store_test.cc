// Store: migrations, connection settings, page writes, watermarks, group commit.

#include "engine/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "engine/store/migrations.h"
#include "engine/store/write_context.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::store {
namespace {

MirrorItem Message(const std::string& id, const std::string& created, const std::string& modified,
                   const std::string& subject = "s") {
  MirrorItem m;
  m.id = id;
  m.created_at = created;
  m.modified_at = modified;
  m.subject = subject;
  m.json = "{\"id\":\"" + id + "\",\"subject\":\"" + subject + "\"}";
  return m;
}

TEST_CASE("Store opens a new database with the schema, WAL and mode 0600", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = Store::Open(dir.Path("m.db"), &clock);
  REQUIRE(store.ok());
  struct stat st {};
  REQUIRE(::stat(dir.Path("m.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  SQLite::Database db(dir.Path("m.db"));
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db.execAndGet("PRAGMA user_version").getInt() >= 1);
  for (const char* table : {"messages", "events", "contacts", "contact_emails", "watermarks"}) {
    CHECK(db.tableExists(table));
  }
}

TEST_CASE("Store refuses a database from a newer graphmirror", "[store]") {
  test::TempDir dir;
  {
    SQLite::Database db(dir.Path("m.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 999");
  }
  ManualClock clock(TimePoint{});
  auto store = Store::Open(dir.Path("m.db"), &clock);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().message().find("newer") != std::string::npos);
}

TEST_CASE("ApplyPage writes items and watermark together, and is idempotent", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  PageWrite page;
  page.user_id = "u1";
  page.upserts = {Message("a", "2026-01-01T00:00:00.0000000Z", "2026-01-01T00:00:00.0000000Z"),
                  Message("b", "2026-01-01T00:00:01.0000000Z", "2026-01-01T00:00:01.0000000Z")};
  page.created_after = "2026-01-01T00:00:01.0000000Z";
  REQUIRE(store->mirror().ApplyPage(page).ok());
  REQUIRE(store->mirror().ApplyPage(page).ok());
  CHECK(*store->mirror().CountItems("u1", Collection::kMessages) == 2);
  CHECK(store->mirror().GetWatermark("u1", Collection::kMessages)->created_after ==
        "2026-01-01T00:00:01.0000000Z");
  CHECK(*store->mirror().CountItems("u2", Collection::kMessages) == 0);
}

TEST_CASE("The watermark never moves backward", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  PageWrite page;
  page.user_id = "u1";
  page.collection = Collection::kEvents;
  page.created_after = "2026-02-01T00:00:00.0000000Z";
  REQUIRE(store->mirror().ApplyPage(page).ok());
  page.created_after = "2026-01-01T00:00:00.0000000Z";
  REQUIRE(store->mirror().ApplyPage(page).ok());
  CHECK(store->mirror().GetWatermark("u1", Collection::kEvents)->created_after ==
        "2026-02-01T00:00:00.0000000Z");
}

TEST_CASE("An older version of an item never replaces a newer one", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  PageWrite newer;
  newer.user_id = "u1";
  newer.upserts = {
      Message("a", "2026-01-01T00:00:00.0000000Z", "2026-01-03T00:00:00.0000000Z", "new")};
  REQUIRE(store->mirror().ApplyPage(newer).ok());
  PageWrite older = newer;
  older.upserts = {
      Message("a", "2026-01-01T00:00:00.0000000Z", "2026-01-02T00:00:00.0000000Z", "old")};
  REQUIRE(store->mirror().ApplyPage(older).ok());
  SQLite::Database db(dir.Path("m.db"));
  CHECK(db.execAndGet("SELECT subject FROM messages WHERE id = 'a'").getString() == "new");
}

TEST_CASE("Contacts keep one indexed row per email address", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  MirrorItem c;
  c.id = "c1";
  c.created_at = "2026-01-01T00:00:00.0000000Z";
  c.modified_at = "2026-01-01T00:00:00.0000000Z";
  c.display_name = "Alice";
  c.emails = {"alice@example.com", "a@example.org"};
  c.json = "{}";
  PageWrite page;
  page.user_id = "u1";
  page.collection = Collection::kContacts;
  page.upserts = {c};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  c.modified_at = "2026-01-02T00:00:00.0000000Z";
  c.emails = {"alice@example.com"};
  page.upserts = {c};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  SQLite::Database db(dir.Path("m.db"));
  CHECK(db.execAndGet("SELECT count(*) FROM contact_emails").getInt() == 1);
  CHECK(db.execAndGet("SELECT emails FROM contacts").getString() == "alice@example.com");
  page.upserts.clear();
  page.deletes = {"c1"};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  CHECK(db.execAndGet("SELECT count(*) FROM contact_emails").getInt() == 0);
}

TEST_CASE("A failing write job is rolled back alone within a group commit", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  constexpr int kWriters = 16;
  std::vector<std::thread> threads;
  std::vector<Status> results(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = store->Write([i](WriteContext& ctx) {
        SQLite::Statement& s = ctx.Prepare(
            "INSERT INTO watermarks (user_id, collection, created_after, updated_at) "
            "VALUES (?1, 'messages', 'x', 'y')");
        s.bind(1, "u" + std::to_string(i));
        s.exec();
        if (i % 4 == 0) throw std::runtime_error("job fails on purpose");
      });
    });
  }
  for (auto& t : threads) t.join();
  int failed = 0;
  for (int i = 0; i < kWriters; ++i) {
    CHECK(results[i].ok() == (i % 4 != 0));
    failed += results[i].ok() ? 0 : 1;
  }
  SQLite::Database db(dir.Path("m.db"));
  CHECK(db.execAndGet("SELECT count(*) FROM watermarks").getInt() == kWriters - failed);
}

TEST_CASE("A failing write job alone in its transaction leaves nothing behind", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  auto insert = [](WriteContext& ctx, const std::string& user) {
    SQLite::Statement& s = ctx.Prepare(
        "INSERT INTO watermarks (user_id, collection, created_after, updated_at) "
        "VALUES (?1, 'messages', 'x', 'y')");
    s.reset();
    s.bind(1, user);
    s.exec();
  };
  Status failed = store->Write([&](WriteContext& ctx) {
    insert(ctx, "written, then rolled back");
    throw std::runtime_error("job fails on purpose");
  });
  CHECK(failed.code() == Status::Code::kIOError);
  CHECK(failed.message() == "job fails on purpose");
  // The next job commits on its own, without the failed one's row.
  REQUIRE(store->Write([&](WriteContext& ctx) { insert(ctx, "kept"); }).ok());
  SQLite::Database db(dir.Path("m.db"));
  CHECK(db.execAndGet("SELECT group_concat(user_id) FROM watermarks").getString() == "kept");
}

TEST_CASE("One live user at a time: the live lock is refused to a second store", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto first = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  auto second = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  REQUIRE(first->HoldLiveLock().ok());
  REQUIRE(first->HoldLiveLock().ok());  // holding it again is a no-op
  Status refused = second->HoldLiveLock();
  CHECK(refused.code() == Status::Code::kUnavailable);
  CHECK(refused.message().find(dir.Path("m.db")) != std::string::npos);
  // Both still read and write: the lock is only about being live.
  CHECK(second->mirror().CountItems("u", Collection::kMessages).ok());
  first->ReleaseLiveLock();
  CHECK(second->HoldLiveLock().ok());
  second.reset();  // the Store's end releases it
  CHECK(first->HoldLiveLock().ok());
}

TEST_CASE("The notification log keeps pending rows and prunes old ended ones", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{} + std::chrono::hours(24 * 365 * 56));
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  auto entry = [](const std::string& key) {
    LogEntry e;
    e.dedupe_key = key;
    e.subscription_id = "s";
    e.user_id = "u";
    e.change_type = "created";
    return e;
  };
  const TimePoint far = std::chrono::system_clock::now() + std::chrono::seconds(10);
  REQUIRE(store->log().Append({entry("a"), entry("b"), entry("c")}, far).ok());
  REQUIRE(store->log().Append({entry("a")}, far).ok());  // a redelivery collapses
  auto pending = store->log().Pending(clock.Now(), 100);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 3);
  REQUIRE(store->log().Mark({(*pending)[0].seq}, LogState::kApplied, "").ok());
  REQUIRE(store->log()
              .Mark({(*pending)[1].seq}, LogState::kFailed, "boom",
                    clock.Now() + std::chrono::minutes(5))
              .ok());
  CHECK(store->log().Pending(clock.Now(), 100)->size() == 1);  // b waits for its retry
  CHECK(store->log().Pending(clock.Now() + std::chrono::minutes(5), 100)->size() == 2);

  clock.Advance(std::chrono::hours(24 * 8));
  auto pruned = store->log().Prune(clock.Now() - std::chrono::hours(24 * 7));
  REQUIRE(pruned.ok());
  CHECK(*pruned == 1);  // only the applied row; failed and received rows stay
  CHECK(store->log().Stats("u")->pending == 2);
}

TEST_CASE("Rich log rows keep their content and share their body's tokens", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{} + std::chrono::hours(24 * 365 * 56));
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  LogEntry rich;
  rich.dedupe_key = "n:1";
  rich.subscription_id = "s";
  rich.user_id = "u";
  rich.change_type = "created";
  rich.item_id = "m1";
  rich.rich = {"ZGF0YQ==", "a2V5", "c2ln", "cert-1"};
  LogEntry plain = rich;
  plain.dedupe_key = "n:2";
  plain.rich = {};
  const TimePoint far = std::chrono::system_clock::now() + std::chrono::seconds(10);
  REQUIRE(store->log().Append({rich, plain}, far, {"t.o.k1", "t.o.k2"}).ok());
  REQUIRE(store->log().Append({plain}, far).ok());  // a redelivery keeps its batch
  auto pending = store->log().Pending(clock.Now(), 10);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  const PendingNotification& a = (*pending)[0];
  CHECK(a.rich.data == "ZGF0YQ==");
  CHECK(a.rich.data_key == "a2V5");
  CHECK(a.rich.signature == "c2ln");
  CHECK(a.rich.certificate_id == "cert-1");
  CHECK_FALSE(a.received_at.empty());
  REQUIRE(a.token_batch != 0);
  CHECK((*pending)[1].rich.empty());
  CHECK((*pending)[1].token_batch == a.token_batch);
  auto tokens = store->log().Tokens(a.token_batch);
  REQUIRE(tokens.ok());
  CHECK(*tokens == std::vector<std::string>{"t.o.k1", "t.o.k2"});
  CHECK(store->log().Tokens(a.token_batch + 100)->empty());

  // Once the rows are pruned, so are their tokens.
  REQUIRE(store->log().Mark({a.seq, (*pending)[1].seq}, LogState::kApplied, "").ok());
  clock.Advance(std::chrono::hours(24 * 8));
  REQUIRE(store->log().Prune(clock.Now() - std::chrono::hours(24 * 7)).ok());
  CHECK(store->log().Tokens(a.token_batch)->empty());
}

TEST_CASE("Rich upserts never bring back an item a deleted notification removed", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{} + std::chrono::hours(24 * 365 * 56));
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  const TimePoint far = std::chrono::system_clock::now() + std::chrono::seconds(10);
  LogEntry deleted;
  deleted.dedupe_key = "n:d";
  deleted.subscription_id = "s";
  deleted.user_id = "u";
  deleted.change_type = "deleted";
  deleted.item_id = "gone";
  REQUIRE(store->log().Append({deleted}, far).ok());
  auto pending = store->log().Pending(clock.Now(), 10);
  REQUIRE(pending->size() == 1);
  // The same transaction: the late rich `updated` of "gone" loses to its deletion.
  REQUIRE(store->log()
              .ApplyChanges(
                  "u", Collection::kMessages,
                  {Message("gone", "2026-01-01T00:00:00.0000000Z", "2026-01-02T00:00:00.0000000Z"),
                   Message("kept", "2026-01-01T00:00:00.0000000Z", "2026-01-02T00:00:00.0000000Z")},
                  {"gone"}, {(*pending)[0].seq})
              .ok());
  CHECK(*store->mirror().ItemIds("u", Collection::kMessages) == std::vector<std::string>{"kept"});
  CHECK(store->log().Stats("u")->pending == 0);
  // And in a later one.
  REQUIRE(store->log()
              .ApplyChanges(
                  "u", Collection::kMessages,
                  {Message("gone", "2026-01-01T00:00:00.0000000Z", "2026-01-03T00:00:00.0000000Z")},
                  {}, {})
              .ok());
  CHECK(*store->mirror().ItemIds("u", Collection::kMessages) == std::vector<std::string>{"kept"});
  // The watermark is not moved by any of it.
  CHECK(store->mirror().GetWatermark("u", Collection::kMessages)->created_after.empty());
}

TEST_CASE("TiedVersions names rows stamped in the same second with another change key", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  MirrorItem a = Message("a", "2026-01-01T00:00:00.0000000Z", "2026-01-02T00:00:00.0000000Z");
  a.change_key = "k1";
  PageWrite page;
  page.user_id = "u";
  page.upserts = {a};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  MirrorItem same = a, other_version = a, newer = a, unknown = a;
  other_version.change_key = "k2";
  newer.modified_at = "2026-01-02T00:00:01.0000000Z";
  newer.change_key = "k3";
  unknown.id = "b";
  auto tied = store->mirror().TiedVersions("u", Collection::kMessages, {same, newer, unknown});
  REQUIRE(tied.ok());
  CHECK(tied->empty());
  tied = store->mirror().TiedVersions("u", Collection::kMessages, {other_version});
  REQUIRE(tied.ok());
  CHECK(*tied == std::vector<std::string>{"a"});
}

TEST_CASE(
    "Rich content older than the last complete delta pass, of an item not held, is "
    "passed over",
    "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  const std::string before = "2026-01-04T00:00:00.0000000Z", after = "2026-01-06T00:00:00.0000000Z";
  // Without a pass, nothing says the item was passed over.
  CHECK(store->mirror()
            .PassedOver("u", Collection::kMessages, {Message("early", before, before)})
            ->empty());
  DeltaPageWrite round;
  round.user_id = "u";
  round.scope = "inbox";
  round.first_page = true;
  round.round_started_at = "2026-01-05T00:00:00.0000000Z";
  round.delta_link = "https://graph/delta?$deltatoken=1";
  round.upserts = {Message("kept", before, before)};
  REQUIRE(store->sync_state().ApplyDeltaPage(round).ok());
  const std::vector<MirrorItem> content = {
      Message("late", before, before),        // not listed by the pass: read by id
      Message("kept", before, after, "new"),  // in the mirror
      Message("fresh", after, after)};        // newer than the pass
  CHECK(*store->mirror().PassedOver("u", Collection::kMessages, content) ==
        std::vector<std::string>{"late"});
  // A round in progress is no evidence.
  round.delta_link.clear();
  round.next_link = "https://graph/delta?$skiptoken=2";
  REQUIRE(store->sync_state().ApplyDeltaPage(round).ok());
  CHECK(store->mirror().PassedOver("u", Collection::kMessages, content)->empty());
}

TEST_CASE("Rich events outside the last pass's calendar window are not passed over", "[store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  const std::string before = "2026-01-04T00:00:00.0000000Z";
  DeltaPageWrite round;
  round.user_id = "u";
  round.collection = Collection::kEvents;
  round.scope = "2025-01-01T00:00:00Z/2028-01-01T00:00:00Z";  // the window
  round.first_page = true;
  round.round_started_at = "2026-01-05T00:00:00.0000000Z";
  round.delta_link = "https://graph/delta?$deltatoken=1";
  REQUIRE(store->sync_state().ApplyDeltaPage(round).ok());
  auto event = [&](const std::string& id, const std::string& start, const std::string& end) {
    MirrorItem e = Message(id, before, before);
    e.start_at = start;
    e.end_at = end;
    return e;
  };
  auto passed = store->mirror().PassedOver(
      "u", Collection::kEvents,
      {// Inside the window: the pass would have listed it.
       event("inside", "2026-06-01T10:00:00.0000000Z", "2026-06-01T11:00:00.0000000Z"),
       // The pass lists no event outside its window: no evidence either way.
       event("ahead", "2028-04-25T05:00:00.0000000Z", "2028-04-25T06:00:00.0000000Z"),
       event("past", "2024-03-01T05:00:00.0000000Z", "2024-03-01T06:00:00.0000000Z"),
       // Within a day of an edge (a named zone keeps its wall-clock text).
       event("edge", "2027-12-31T12:00:00.0000000", "2027-12-31T13:00:00.0000000"),
       event("no times", "", "")});
  REQUIRE(passed.ok());
  CHECK(*passed == std::vector<std::string>{"inside"});
}

// An event row as a Graph page gives it: `type` in both the item and its JSON.
MirrorItem EventRow(const std::string& id, const std::string& type, const std::string& master,
                    const std::string& start, const std::string& subject = "s") {
  MirrorItem e =
      Message(id, "2026-01-01T00:00:00.0000000Z", "2026-01-02T00:00:00.0000000Z", subject);
  e.event_type = type;
  e.series_master_id = master;
  e.start_at = start;
  e.end_at = start;
  e.json = "{\"id\":\"" + id + "\",\"type\":\"" + type + "\",\"subject\":\"" + subject + "\"}";
  return e;
}

std::vector<std::string> Column(Store& store, const std::string& sql) {
  SQLite::Database db(store.path());
  SQLite::Statement q(db, sql);
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

TEST_CASE("Migration 015 moves occurrences an earlier version kept in events to their table",
          "[store][recurrence]") {
  test::TempDir dir;
  {
    SQLite::Database db(dir.Path("m.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    std::vector<Migration> before;
    for (const Migration& m : EmbeddedMigrations()) {
      if (m.version < 15) before.push_back(m);
    }
    REQUIRE(ApplyMigrations(db, before).ok());
    db.exec(
        "INSERT INTO events (user_id, id, created_at, subject, start_at, json, synced_at) "
        "VALUES ('u', 'single', '2026-01-01', 's', '2026-03-01', '{\"type\":\"singleInstance\"}', "
        "'2026-01-01'), ('u', 'o1', '2026-01-01', 'w', '2026-03-02', "
        "'{\"type\":\"occurrence\",\"seriesMasterId\":\"m\",\"originalStart\":"
        "\"2026-03-02T09:00:00Z\"}', '2026-01-01')");
  }
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  CHECK(Column(*store, "SELECT id FROM events") == std::vector<std::string>{"single"});
  CHECK(Column(*store,
               "SELECT id || ' ' || series_master_id || ' ' || original_start FROM "
               "event_occurrences") ==
        std::vector<std::string>{"o1 m 2026-03-02T09:00:00.0000000Z"});
}

TEST_CASE("Occurrences and exceptions are kept apart from masters and single instances",
          "[store][recurrence]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  PageWrite page;
  page.user_id = "u";
  page.collection = Collection::kEvents;
  page.upserts = {EventRow("single", "singleInstance", "", "2026-03-01T09:00:00.0000000Z"),
                  EventRow("master", "seriesMaster", "", "2026-03-02T09:00:00.0000000Z"),
                  EventRow("o1", "occurrence", "master", "2026-03-02T09:00:00.0000000Z"),
                  EventRow("x2", "exception", "master", "2026-03-09T10:00:00.0000000Z", "moved"),
                  EventRow("other", "occurrence", "master2", "2026-03-03T09:00:00.0000000Z")};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  CHECK(Column(*store, "SELECT id FROM events ORDER BY id") ==
        std::vector<std::string>{"master", "single"});
  CHECK(Column(*store, "SELECT type FROM events ORDER BY id") ==
        std::vector<std::string>{"seriesMaster", "singleInstance"});
  CHECK(Column(*store,
               "SELECT id || ':' || series_master_id || ':' || type FROM "
               "event_occurrences ORDER BY id") ==
        std::vector<std::string>{"o1:master:occurrence", "other:master2:occurrence",
                                 "x2:master:exception"});
  // The calendar shows entries, not masters; Events() reads it.
  CHECK(Column(*store, "SELECT id FROM calendar ORDER BY start_at, id") ==
        std::vector<std::string>{"single", "o1", "other", "x2"});
  auto events = store->mirror().Events({"u", "", "", 10});
  REQUIRE(events.ok());
  REQUIRE(events->size() == 4);
  CHECK((*events)[3].type == "exception");
  CHECK((*events)[3].series_master_id == "master");
  // Lookups by id see both tables.
  CHECK(store->mirror().MissingItems("u", Collection::kEvents, {"o1", "master", "nope"}).value() ==
        std::vector<std::string>{"nope"});
  auto touched = [&](std::vector<std::string> ids) {
    auto t = store->mirror().TouchedSeries("u", ids);
    REQUIRE(t.ok());
    return *t;
  };
  CHECK(touched({"single"}).masters.empty());
  CHECK_FALSE(touched({"single"}).occurrences);
  CHECK(touched({"single", "master", "master"}).masters == std::vector<std::string>{"master"});
  CHECK_FALSE(touched({"single", "master"}).occurrences);
  CHECK(touched({"x2"}).occurrences);
  CHECK(touched({"x2"}).masters.empty());
  CHECK(touched({"never seen"}).occurrences);
  {
    // An event whose JSON says no type is a single instance, not a sign of a series.
    PageWrite untyped;
    untyped.user_id = "u";
    untyped.collection = Collection::kEvents;
    untyped.upserts = {Message("plain", "2026-01-01T00:00:00.0000000Z", "")};
    REQUIRE(store->mirror().ApplyPage(untyped).ok());
    CHECK(touched({"plain"}).masters.empty());
    CHECK_FALSE(touched({"plain"}).occurrences);
    untyped.upserts.clear();
    untyped.deletes = {"plain"};
    REQUIRE(store->mirror().ApplyPage(untyped).ok());
  }

  SECTION("deleting a master deletes its series") {
    PageWrite del;
    del.user_id = "u";
    del.collection = Collection::kEvents;
    del.deletes = {"master"};
    REQUIRE(store->mirror().ApplyPage(del).ok());
    CHECK(Column(*store, "SELECT id FROM event_occurrences") == std::vector<std::string>{"other"});
    CHECK(Column(*store, "SELECT id FROM events") == std::vector<std::string>{"single"});
  }
  SECTION("deleting an occurrence's id (a cancellation) deletes it alone") {
    PageWrite del;
    del.user_id = "u";
    del.collection = Collection::kEvents;
    del.deletes = {"o1"};
    REQUIRE(store->mirror().ApplyPage(del).ok());
    CHECK(Column(*store, "SELECT id FROM event_occurrences ORDER BY id") ==
          std::vector<std::string>{"other", "x2"});
  }
  SECTION("a delta round drops removed occurrences at once, and a fresh round the unlisted") {
    DeltaPageWrite round;
    round.user_id = "u";
    round.collection = Collection::kEvents;
    round.scope = "2026-01-01T00:00:00Z/2027-01-01T00:00:00Z";
    round.first_page = true;
    round.round_started_at = "2026-01-05T00:00:00.0000000Z";
    round.delta_link = "https://graph/delta?$deltatoken=1";
    round.removed_ids = {"o1"};
    REQUIRE(store->sync_state().ApplyDeltaPage(round).ok());
    CHECK(Column(*store, "SELECT id FROM event_occurrences ORDER BY id") ==
          std::vector<std::string>{"other", "x2"});
    // Not queued for a check by id, unlike a removed single instance: its master is (a
    // deleted series goes that way).
    auto queued = store->sync_state().DeltaRemovals("u", Collection::kEvents);
    REQUIRE(queued.ok());
    REQUIRE(queued->size() == 1);
    CHECK(queued->front().item_id == "master");

    DeltaPageWrite fresh = round;
    fresh.removed_ids.clear();
    fresh.fresh = true;
    fresh.upserts = {EventRow("x2", "exception", "master", "2026-03-09T10:00:00.0000000Z", "moved"),
                     EventRow("single", "singleInstance", "", "2026-03-01T09:00:00.0000000Z")};
    REQUIRE(store->sync_state().ApplyDeltaPage(fresh).ok());
    CHECK(Column(*store, "SELECT id FROM event_occurrences") == std::vector<std::string>{"x2"});
    // The master, which calendarView never lists, is not queued for being unlisted.
    auto removals = store->sync_state().DeltaRemovals("u", Collection::kEvents);
    REQUIRE(removals.ok());
    REQUIRE(removals->size() == 1);
    CHECK(removals->front().item_id == "master");
  }
}

ListItemRow ListItem(int64_t id, const std::string& title) {
  return {id, "{\"Id\":" + std::to_string(id) + ",\"Title\":\"" + title + "\"}", "", ""};
}

std::vector<int64_t> ListItemIds(Store& store) {
  auto rows = store.lists().Items("s", "l");
  REQUIRE(rows.ok());
  std::vector<int64_t> ids;
  for (const ListItemRow& row : *rows) ids.push_back(row.item_id);
  return ids;
}

TEST_CASE("A whole-list read is written page by page and never empties the list",
          "[store][lists]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  ListChanges first;
  first.site = "s";
  first.list_id = "l";
  first.upserts = {ListItem(1, "one"), ListItem(2, "two"), ListItem(3, "three")};
  first.change_token = "t1";
  REQUIRE(store->lists().ApplyChanges(first).ok());

  // A read begins: no token from now on (a crash makes the next sync read again).
  auto generation = store->lists().BeginWholeRead("s", "l");
  REQUIRE(generation.ok());
  CHECK(store->lists().State("s", "l")->change_token.empty());
  CHECK(store->lists().State("s", "l")->due());
  // Its first page: item 2 changed, 4 is new; 1 and 3 not read yet are still there.
  ListPage page;
  page.site = "s";
  page.list_id = "l";
  page.generation = *generation;
  page.rows = {ListItem(2, "two again"), ListItem(4, "four")};
  page.requests = 1;
  REQUIRE(store->lists().WriteWholeReadPage(page).ok());
  CHECK(ListItemIds(*store) == std::vector<int64_t>{1, 2, 3, 4});
  // Its last page has 3; the end sweeps 1 (gone from the list) and stores the token.
  page.rows = {ListItem(3, "three")};
  REQUIRE(store->lists().WriteWholeReadPage(page).ok());
  REQUIRE(store->lists().FinishWholeRead("s", "l", *generation, "t2", 0, 1).ok());
  CHECK(ListItemIds(*store) == std::vector<int64_t>{2, 3, 4});
  CHECK(store->lists().State("s", "l")->change_token == "t2");
  CHECK(store->lists().State("s", "l")->full_reads == 1);

  // An incremental batch after it keeps its rows at the read's generation: a later read
  // that ends before seeing them removes them only if it did not return them.
  ListChanges later;
  later.site = "s";
  later.list_id = "l";
  later.upserts = {ListItem(5, "five")};
  later.deletes = {2};
  later.change_token = "t3";
  later.changes_read = 2;
  later.requests = 2;
  REQUIRE(store->lists().ApplyChanges(later).ok());
  auto next = store->lists().BeginWholeRead("s", "l");
  REQUIRE(next.ok());
  CHECK(*next == *generation + 1);
  page.generation = *next;
  page.rows = {ListItem(5, "five")};
  REQUIRE(store->lists().WriteWholeReadPage(page).ok());
  REQUIRE(store->lists().FinishWholeRead("s", "l", *next, "t4", 0, 1).ok());
  CHECK(ListItemIds(*store) == std::vector<int64_t>{5});

  // What status shows: counters, the token's time, the last change.
  auto statuses = store->lists().Statuses();
  REQUIRE(statuses.ok());
  REQUIRE(statuses->size() == 1);
  const ListStatusRow& row = statuses->front();
  CHECK(row.items == 1);
  CHECK(row.syncs == 4);
  CHECK(row.full_reads == 2);
  CHECK(row.changes_read == 2);
  CHECK(row.items_written == 3 + 3 + 1 + 1);
  CHECK(row.items_removed == 1 + 1 + 2);
  CHECK(row.requests == 1 + 1 + 1 + 2 + 1 + 1);
  CHECK(row.has_token);
  CHECK(!row.token_at.empty());
  CHECK(!row.last_change_at.empty());
  CHECK(row.last_error.empty());
}

TEST_CASE("A list's last errors are kept until a sync or subscription call succeeds",
          "[store][lists]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  REQUIRE(store->lists().NoteError("s", "l", "401 Unsupported app only token.").ok());
  REQUIRE(store->lists().NoteError("s", "l", "403 Access denied.", /*subscription=*/true).ok());
  auto shown = store->lists().Statuses();
  REQUIRE(shown.ok());
  REQUIRE(shown->size() == 1);
  CHECK(shown->front().last_error == "401 Unsupported app only token.");
  CHECK(!shown->front().last_error_at.empty());
  CHECK(shown->front().sync_failures == 1);
  CHECK(shown->front().subscription_error == "403 Access denied.");
  CHECK_FALSE(shown->front().has_token);

  ListChanges ok;
  ok.site = "s";
  ok.list_id = "l";
  ok.change_token = "t";
  REQUIRE(store->lists().ApplyChanges(ok).ok());
  REQUIRE(store->lists().NoteError("s", "l", "", /*subscription=*/true).ok());
  shown = store->lists().Statuses();
  CHECK(shown->front().last_error.empty());
  CHECK(shown->front().subscription_error.empty());
  CHECK(shown->front().sync_failures == 1);  // a counter: kept
}

TEST_CASE("Full-text search follows every write of the mirror", "[store][search]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  const std::string t1 = "2026-01-01T00:00:00.0000000Z", t2 = "2026-01-02T00:00:00.0000000Z";
  MirrorItem a = Message("a", t1, t1, "Quarterly résumé numbers");
  a.from_name = "Ann Smith";
  a.from_address = "ann@example.com";
  a.body_preview = "Please find the figures attached";
  MirrorItem b = Message("b", t1, t1, "Lunch?");
  b.from_address = "bob@example.com";
  PageWrite page;
  page.user_id = "u";
  page.upserts = {a, b};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  page.user_id = "v";
  page.upserts = {a};
  REQUIRE(store->mirror().ApplyPage(page).ok());

  auto ids = [&](const std::string& text, const std::string& user = "") {
    auto hits = store->mirror().SearchMessages(text, user, 10);
    REQUIRE(hits.ok());
    std::vector<std::string> out;
    for (const auto& h : *hits) out.push_back(h.user_id + "/" + h.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(ids("resume") == std::vector<std::string>{"u/a", "v/a"});  // diacritics folded
  CHECK(ids("quarterly FIGURES") == std::vector<std::string>{"u/a", "v/a"});
  CHECK(ids("ann smith", "v") == std::vector<std::string>{"v/a"});
  CHECK(ids("bob@example.com") == std::vector<std::string>{"u/b"});
  CHECK(ids("lun*") == std::vector<std::string>{"u/b"});
  CHECK(ids("quarterly lunch").empty());  // every word must occur
  // FTS5 syntax is just text.
  CHECK(ids("\"quarterly") == std::vector<std::string>{"u/a", "v/a"});
  CHECK(ids("NEAR( AND OR").empty());
  CHECK_FALSE(store->mirror().SearchMessages("   ", "", 10).ok());
  auto hit = store->mirror().SearchMessages("figures", "u", 10);
  REQUIRE(hit->size() == 1);
  CHECK((*hit)[0].body_preview.find("[figures]") != std::string::npos);
  CHECK((*hit)[0].from_address == "ann@example.com");

  // An update replaces the indexed text; a delete removes it.
  MirrorItem renamed = Message("b", t1, t2, "Dinner instead");
  page.user_id = "u";
  page.upserts = {renamed};
  page.deletes = {"a"};
  REQUIRE(store->mirror().ApplyPage(page).ok());
  CHECK(ids("lunch").empty());
  CHECK(ids("dinner") == std::vector<std::string>{"u/b"});
  CHECK(ids("quarterly") == std::vector<std::string>{"v/a"});
  // The index agrees with the table it indexes (FTS5 raises an error if not).
  SQLite::Database db(dir.Path("m.db"), SQLite::OPEN_READWRITE);
  CHECK_NOTHROW(
      db.exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)"));
}

TEST_CASE("FullTextQuery quotes every word", "[store][search]") {
  CHECK(FullTextQuery("  hello   wor*ld  ") == "\"hello\" \"wor*ld\"");
  CHECK(FullTextQuery("pre* \"x") == "\"pre\"* \"\"\"x\"");
  CHECK(FullTextQuery(" \t ").empty());
}

}  // namespace
}  // namespace graphmirror::store

namespace graphmirror::store {
namespace {

TEST_CASE("every collection's delta scope kind has a scope condition on ?3", "[store]") {
  for (Collection c : kAllCollections) {
    const std::string_view condition = DeltaScopeCondition(Describe(c).delta_scope);
    INFO(CollectionName(c));
    CHECK(condition.find("?3") != std::string_view::npos);
  }
  CHECK(DeltaScopeCondition(DeltaScopeKind::kMailFolders) !=
        DeltaScopeCondition(DeltaScopeKind::kCalendarWindow));
}

}  // namespace
}  // namespace graphmirror::store
