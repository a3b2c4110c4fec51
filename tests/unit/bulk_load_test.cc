// Bulk loads (MirrorTables::BeginLoad/FinishLoad, schema/017_bulk_load.sql): the full-text
// index and the dropped secondary indexes are built at the end, agree with the tables
// whatever was written meanwhile, and a load survives the process that began it.

#include "engine/store/bulk_load.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "engine/store/store.h"
#include "engine/store/write_context.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::store {
namespace {

const std::string kT1 = "2026-01-01T00:00:00.0000000Z";
const std::string kT2 = "2026-01-02T00:00:00.0000000Z";

MirrorItem Mail(const std::string& id, const std::string& subject, const std::string& body,
                const std::string& modified = kT1) {
  MirrorItem m;
  m.id = id;
  m.created_at = kT1;
  m.modified_at = modified;
  m.received_at = kT1;
  m.subject = subject;
  m.from_address = "sender@example.com";
  m.body_preview = body.substr(0, 20);
  m.folder_id = "inbox";
  m.json = "{\"id\":\"" + id + "\"}";
  m.body = body;
  m.body_type = "text";
  return m;
}

Status Apply(Store& store, const std::string& user, std::vector<MirrorItem> upserts,
             std::vector<std::string> deletes = {}) {
  PageWrite page;
  page.user_id = user;
  page.collection = Collection::kMessages;
  page.upserts = std::move(upserts);
  page.deletes = std::move(deletes);
  page.created_after = kT1;
  return store.mirror().ApplyPage(std::move(page));
}

std::vector<std::string> Hits(Store& store, const std::string& text, const std::string& user = "") {
  auto hits = store.mirror().SearchMessages(text, user, 100000);
  REQUIRE(hits.ok());
  std::vector<std::string> out;
  for (const auto& h : *hits) out.push_back(h.user_id + "/" + h.id);
  std::sort(out.begin(), out.end());
  return out;
}

// Both FTS5 indexes agree with their content tables: every row indexed once, with the
// table's text (FTS5 raises an error if not). While a load is open its rows are not
// indexed yet, so `whole` = false checks only that the index is sound in itself.
void RequireIndexesAgree(const std::string& path, bool whole = true) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  const std::string rank = whole ? ", 1" : ", 0";
  REQUIRE_NOTHROW(db.exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check'" +
                          rank + ")"));
  REQUIRE_NOTHROW(
      db.exec("INSERT INTO message_bodies_fts(message_bodies_fts, rank) VALUES('integrity-check'" +
              rank + ")"));
}

int SecondaryIndexes(const std::string& path, const std::string& table) {
  SQLite::Database db(path);
  SQLite::Statement q(db,
                      "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 "
                      "AND sql IS NOT NULL");
  q.bind(1, table);
  q.executeStep();
  return q.getColumn(0).getInt();
}

std::string LoadingSince(Store& store, const std::string& user, Collection collection) {
  auto counts = store.mirror().Counts();
  REQUIRE(counts.ok());
  for (const auto& c : *counts) {
    if (c.user_id == user && c.collection == collection) return c.loading_since;
  }
  return "";
}

}  // namespace

TEST_CASE("A bulk load defers search and indexes, then builds both", "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(path, &clock)).value();
  REQUIRE(SecondaryIndexes(path, "messages") == 4);

  auto loading = store->mirror().BeginLoad("u", Collection::kMessages);
  INFO(loading.status().ToString());
  REQUIRE(loading.ok());
  CHECK(*loading);
  // The table was empty: its secondary indexes wait for the end of the load.
  CHECK(SecondaryIndexes(path, "messages") == 0);
  REQUIRE(Apply(*store, "u",
                {Mail("a", "Quarterly numbers", "the zephyr report"),
                 Mail("b", "Lunch", "at noon tomorrow")})
              .ok());
  REQUIRE(Apply(*store, "u", {Mail("c", "Quarterly plan", "wombat strategy")}).ok());
  // Readers see the rows, and the collection loading; search finds nothing of it yet.
  CHECK(*store->mirror().CountItems("u", Collection::kMessages) == 3);
  CHECK_FALSE(LoadingSince(*store, "u", Collection::kMessages).empty());
  CHECK(Hits(*store, "quarterly").empty());
  RequireIndexesAgree(path, /*whole=*/false);

  REQUIRE(store->mirror().FinishLoad("u", Collection::kMessages).ok());
  CHECK(LoadingSince(*store, "u", Collection::kMessages).empty());
  CHECK(*store->mirror().Loading("u", Collection::kMessages) == false);
  CHECK(SecondaryIndexes(path, "messages") == 4);
  CHECK(Hits(*store, "quarterly") == std::vector<std::string>{"u/a", "u/c"});
  CHECK(Hits(*store, "zephyr") == std::vector<std::string>{"u/a"});  // body
  CHECK(Hits(*store, "sender") == std::vector<std::string>{"u/a", "u/b", "u/c"});
  RequireIndexesAgree(path);

  // After the load, updates and deletes keep the index right through the triggers.
  REQUIRE(Apply(*store, "u", {Mail("b", "Dinner", "at eight instead", kT2)}, {"a"}).ok());
  CHECK(Hits(*store, "lunch").empty());
  CHECK(Hits(*store, "dinner") == std::vector<std::string>{"u/b"});
  CHECK(Hits(*store, "eight") == std::vector<std::string>{"u/b"});
  CHECK(Hits(*store, "zephyr").empty());
  CHECK(Hits(*store, "quarterly") == std::vector<std::string>{"u/c"});
  RequireIndexesAgree(path);

  // A collection holding rows starts no load; FinishLoad without a load is a no-op.
  CHECK(*store->mirror().BeginLoad("u", Collection::kMessages) == false);
  CHECK(store->mirror().FinishLoad("u", Collection::kMessages).ok());
}

TEST_CASE("A load beside indexed mailboxes keeps their index and the table's indexes",
          "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(path, &clock)).value();
  REQUIRE(Apply(*store, "v",
                {Mail("a", "Budget review", "numbers for the board"),
                 Mail("b", "Holiday", "plans for august")})
              .ok());
  REQUIRE(*store->mirror().BeginLoad("u", Collection::kMessages));
  CHECK(SecondaryIndexes(path, "messages") == 4);  // the table holds v's rows
  {
    // Another connection writes (a user's sqlite3): the writer must not be left reading
    // an older snapshot, which would refuse its next transaction.
    SQLite::Database other(path, SQLite::OPEN_READWRITE);
    other.exec(
        "INSERT INTO watermarks (user_id, collection, updated_at) VALUES ('x', 'events', 'now')");
  }
  REQUIRE(
      Apply(*store, "u",
            {Mail("a", "Budget draft", "numbers again"), Mail("x", "Holiday", "plans for june")})
          .ok());
  // Live changes while u loads: to the loading mailbox (updates, a delete, a new item)
  // and to the indexed one.
  REQUIRE(Apply(*store, "u", {Mail("a", "Budget final", "signed off", kT2), Mail("y", "New", "n")},
                {"x"})
              .ok());
  REQUIRE(Apply(*store, "v", {Mail("b", "Holiday moved", "plans for july", kT2)}).ok());
  CHECK(Hits(*store, "budget") == std::vector<std::string>{"v/a"});
  CHECK(Hits(*store, "july") == std::vector<std::string>{"v/b"});
  RequireIndexesAgree(path, /*whole=*/false);
  REQUIRE(store->mirror().FinishLoad("u", Collection::kMessages).ok());
  CHECK(Hits(*store, "budget") == std::vector<std::string>{"u/a", "v/a"});
  CHECK(Hits(*store, "signed") == std::vector<std::string>{"u/a"});
  CHECK(Hits(*store, "draft").empty());
  CHECK(Hits(*store, "june").empty());
  CHECK(Hits(*store, "holiday") == std::vector<std::string>{"v/b"});
  RequireIndexesAgree(path);
}

TEST_CASE("A load interrupted by the process's end resumes and ends with a right index",
          "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  {
    auto store = std::move(Store::Open(path, &clock)).value();
    REQUIRE(*store->mirror().BeginLoad("u", Collection::kMessages));
    REQUIRE(*store->mirror().BeginLoad("w", Collection::kMessages));  // another mailbox
    REQUIRE(Apply(*store, "u", {Mail("a", "Alpha", "first page")}).ok());
  }  // the process ends mid-load
  {
    auto store = std::move(Store::Open(path, &clock)).value();
    // Still loading, still without the indexes, which the loads hold.
    CHECK(*store->mirror().Loading("u", Collection::kMessages));
    CHECK(SecondaryIndexes(path, "messages") == 0);
    CHECK(*store->mirror().BeginLoad("u", Collection::kMessages));  // goes on with it
    REQUIRE(
        Apply(*store, "u", {Mail("a", "Alpha", "first page"), Mail("b", "Beta", "second")}).ok());
    REQUIRE(store->mirror().FinishLoad("u", Collection::kMessages).ok());
    // w's load still holds the indexes.
    CHECK(SecondaryIndexes(path, "messages") == 0);
    CHECK(Hits(*store, "alpha") == std::vector<std::string>{"u/a"});
    // A load of a collection no longer configured is finished, not left open for good.
    REQUIRE(Apply(*store, "w", {Mail("c", "Gamma", "third")}).ok());
    REQUIRE(store->mirror().FinishLoadsExcept({{"u", Collection::kMessages}}).ok());
    CHECK(store->mirror().Loads()->empty());
    CHECK(SecondaryIndexes(path, "messages") == 4);
    CHECK(Hits(*store, "gamma") == std::vector<std::string>{"w/c"});
    RequireIndexesAgree(path);
  }
}

TEST_CASE("Indexes a load dropped are made again at open once no load holds them",
          "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  {
    auto store = std::move(Store::Open(path, &clock)).value();
    REQUIRE(*store->mirror().BeginLoad("u", Collection::kEvents));
    REQUIRE(*store->mirror().BeginLoad("u", Collection::kContacts));
    CHECK(SecondaryIndexes(path, "events") == 0);
    CHECK(SecondaryIndexes(path, "contacts") == 0);
    // The process dies after the load's last step and before the indexes were made.
    bool done = false;
    REQUIRE(store
                ->Write([&](WriteContext& ctx) {
                  done = FinishLoadStep(ctx, "u", Collection::kEvents);
                })
                .ok());
    REQUIRE(done);
  }
  auto store = std::move(Store::Open(path, &clock)).value();
  CHECK(SecondaryIndexes(path, "events") == 3);
  CHECK(SecondaryIndexes(path, "contacts") == 0);  // its load is still open
  REQUIRE(store->mirror().FinishLoad("u", Collection::kContacts).ok());
  CHECK(SecondaryIndexes(path, "contacts") == 2);
  SQLite::Database db(path);
  CHECK(db.execAndGet("SELECT count(*) FROM bulk_dropped_indexes").getInt() == 0);
}

TEST_CASE("A load larger than one indexing step stays right when written between steps",
          "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(path, &clock)).value();
  REQUIRE(*store->mirror().BeginLoad("u", Collection::kMessages));
  const int total = kLoadIndexChunk + kLoadIndexChunk / 2;
  std::vector<MirrorItem> page;
  for (int i = 0; i < total; ++i) {
    page.push_back(Mail("m" + std::to_string(i), "common", "word" + std::to_string(i)));
  }
  REQUIRE(Apply(*store, "u", std::move(page)).ok());
  // One step: the first chunk is indexed, the rest not yet.
  bool done = true;
  REQUIRE(store
              ->Write([&](WriteContext& ctx) {
                done = FinishLoadStep(ctx, "u", Collection::kMessages);
              })
              .ok());
  REQUIRE_FALSE(done);
  CHECK(Hits(*store, "word0") == std::vector<std::string>{"u/m0"});
  CHECK(Hits(*store, "word" + std::to_string(total - 1)).empty());
  // Writes on both sides of the marks: updates, deletes, a new item.
  const std::string below = "m1", above = "m" + std::to_string(total - 2);
  REQUIRE(Apply(*store, "u",
                {Mail(below, "changed", "rewritten below", kT2),
                 Mail(above, "changed", "rewritten above", kT2), Mail("new", "fresh", "late")},
                {"m2", "m" + std::to_string(total - 3)})
              .ok());
  RequireIndexesAgree(path, /*whole=*/false);
  REQUIRE(store->mirror().FinishLoad("u", Collection::kMessages).ok());
  CHECK(Hits(*store, "changed") == std::vector<std::string>{"u/" + below, "u/" + above});
  CHECK(Hits(*store, "rewritten") == std::vector<std::string>{"u/" + below, "u/" + above});
  CHECK(Hits(*store, "late") == std::vector<std::string>{"u/new"});
  CHECK(Hits(*store, "word2").empty());
  CHECK(Hits(*store, "word" + std::to_string(total - 3)).empty());
  CHECK(Hits(*store, "common").size() == static_cast<size_t>(total - 4));
  RequireIndexesAgree(path);
  CHECK(SecondaryIndexes(path, "messages") == 4);
}

TEST_CASE("The writer checkpoints later and caches more while a load is open, not after",
          "[store][bulk]") {
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(path, &clock)).value();
  auto pragmas = [&] {
    std::pair<int64_t, int64_t> values;
    REQUIRE(store
                ->Write([&](WriteContext& ctx) {
                  values = {ctx.db().execAndGet("PRAGMA wal_autocheckpoint").getInt64(),
                            ctx.db().execAndGet("PRAGMA cache_size").getInt64()};
                })
                .ok());
    return values;
  };
  const auto own = pragmas();
  REQUIRE(*store->mirror().BeginLoad("u", Collection::kMessages));
  REQUIRE(*store->mirror().BeginLoad("v", Collection::kMessages));
  CHECK(pragmas() == std::pair<int64_t, int64_t>{kLoadWalAutocheckpoint, -kLoadCacheKiB});
  REQUIRE(Apply(*store, "u", {Mail("a", "Quarterly numbers", "the zephyr report")}).ok());
  // One load left open keeps them.
  REQUIRE(store->mirror().FinishLoad("u", Collection::kMessages).ok());
  CHECK(pragmas() == std::pair<int64_t, int64_t>{kLoadWalAutocheckpoint, -kLoadCacheKiB});
  // The indexes are made with a smaller cache (SQLite's sorter takes as much again), and
  // a load of another collection still open keeps its settings.
  REQUIRE(*store->mirror().BeginLoad("w", Collection::kEvents));
  REQUIRE(store->mirror().FinishLoad("v", Collection::kMessages).ok());
  CHECK(SecondaryIndexes(path, "messages") == 4);
  CHECK(pragmas() == std::pair<int64_t, int64_t>{kLoadWalAutocheckpoint, -kLoadCacheKiB});
  REQUIRE(store->mirror().FinishLoad("w", Collection::kEvents).ok());
  CHECK(pragmas() == own);
  CHECK(Hits(*store, "zephyr") == std::vector<std::string>{"u/a"});
}

}  // namespace graphmirror::store

namespace graphmirror::store {

TEST_CASE("Loads of many mailboxes written in turn are each indexed whole", "[store][bulk]") {
  // A pass taking turns interleaves the mailboxes' pages: each load's rows are then a few
  // among many, and are found through the mailbox's index rather than by rowid.
  test::TempDir dir;
  const std::string path = dir.Path("m.db");
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(path, &clock)).value();
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"};
  for (const std::string& user : users) {
    REQUIRE(*store->mirror().BeginLoad(user, Collection::kMessages));
  }
  for (int page = 0; page < 30; ++page) {
    for (const std::string& user : users) {
      const std::string n = std::to_string(page);
      REQUIRE(Apply(*store, user, {Mail(user + "-" + n, "subject " + user + "x" + n, "body text")})
                  .ok());
    }
  }
  for (const std::string& user : users) {
    REQUIRE(store->mirror().FinishLoad(user, Collection::kMessages).ok());
  }
  RequireIndexesAgree(path);
  CHECK(SecondaryIndexes(path, "messages") == 4);
  CHECK(Hits(*store, "u3x17") == std::vector<std::string>{"u3/u3-17"});
  CHECK(Hits(*store, "u0x0") == std::vector<std::string>{"u0/u0-0"});
}

TEST_CASE("A load's fresh rounds sweep nothing; rows written beside them are queued for a check",
          "[store][bulk]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  Store& s = *store;
  auto round = [&](std::vector<MirrorItem> upserts, bool first, bool last) {
    DeltaPageWrite page;
    page.user_id = "u";
    page.collection = Collection::kMessages;
    page.scope = "inbox";
    page.upserts = std::move(upserts);
    page.first_page = first;
    page.fresh = true;
    if (first) page.round_started_at = kT1;
    if (last) page.delta_link = "https://graph.example/delta?$deltatoken=1";
    if (!last) page.next_link = "https://graph.example/delta?$skiptoken=1";
    return s.sync_state().ApplyDeltaPage(std::move(page));
  };
  auto removals = [&] {
    auto r = s.sync_state().DeltaRemovals("u", Collection::kMessages);
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const DeltaRemoval& d : *r) out.push_back(d.item_id + "@" + d.scope);
    return out;
  };
  auto seen = [&] {
    SQLite::Database db(dir.Path("m.db"));
    return db.execAndGet("SELECT count(*) FROM delta_seen").getInt64();
  };

  SECTION("a load") {
    REQUIRE(*s.mirror().BeginLoad("u", Collection::kMessages));
    REQUIRE(round({Mail("m1", "one", "b"), Mail("m2", "two", "b")}, true, false).ok());
    CHECK(seen() == 0);  // no record of what the round listed
    // A notification applies two messages meanwhile: one the round lists later, one it
    // never lists (created after the round passed it, or gone since): both are checked.
    REQUIRE(s.log()
                .ApplyChanges("u", Collection::kMessages,
                              {Mail("m3", "three", "b"), Mail("m4", "four", "b")}, {}, {})
                .ok());
    CHECK(removals() == std::vector<std::string>{"m3@", "m4@"});
    // A message read by id (a page that moves no watermark) is written beside the load too;
    // a createdDateTime round's page (a $filter-scoped load's own) is not.
    PageWrite by_id;
    by_id.user_id = "u";
    by_id.collection = Collection::kMessages;
    by_id.upserts = {Mail("m5", "five", "b")};
    REQUIRE(s.mirror().ApplyPage(std::move(by_id)).ok());
    REQUIRE(Apply(s, "u", {Mail("m6", "six", "b")}).ok());
    CHECK(removals() == std::vector<std::string>{"m3@", "m4@", "m5@"});
    REQUIRE(round({Mail("m3", "three", "b")}, false, true).ok());
    // Listed: no longer queued. The unlisted ones stay queued for their check; the rows the
    // round wrote are not swept.
    CHECK(removals() == std::vector<std::string>{"m4@", "m5@"});
    REQUIRE(s.mirror().FinishLoad("u", Collection::kMessages).ok());
    // After the load, writes queue nothing.
    REQUIRE(
        s.log().ApplyChanges("u", Collection::kMessages, {Mail("m7", "seven", "b")}, {}, {}).ok());
    CHECK(removals() == std::vector<std::string>{"m4@", "m5@"});
  }
  SECTION("no load: the round sweeps what it did not list") {
    REQUIRE(Apply(s, "u", {Mail("old", "old", "b")}).ok());
    REQUIRE(round({Mail("m1", "one", "b")}, true, false).ok());
    CHECK(seen() == 1);
    REQUIRE(round({Mail("m2", "two", "b")}, false, true).ok());
    CHECK(removals() == std::vector<std::string>{"old@inbox"});
    CHECK(seen() == 0);
  }
}

}  // namespace graphmirror::store
