// The change feed (schema/018_changes.sql, engine/store/change_feed.h): the triggers that
// write it, consumers' cursors, and pruning with consumers.

#include "engine/store/change_feed.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <stdexcept>

#include "engine/store/mirror_writes.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::store {
namespace {

// 2026-03-01T00:00:00Z
const TimePoint kStart = std::chrono::system_clock::from_time_t(1772323200);

MirrorItem Item(const std::string& id, const std::string& modified, const std::string& json,
                const std::string& folder = "") {
  MirrorItem m;
  m.id = id;
  m.created_at = "2026-01-01T00:00:00.0000000Z";
  m.modified_at = modified;
  m.json = json;
  m.folder_id = folder;
  m.subject = "s";
  return m;
}

Status Upsert(Store& store, const std::string& user, Collection c, const MirrorItem& item) {
  PageWrite page;
  page.user_id = user;
  page.collection = c;
  page.upserts = {item};
  return store.mirror().ApplyPage(page);
}

Status Delete(Store& store, const std::string& user, Collection c, const std::string& id) {
  PageWrite page;
  page.user_id = user;
  page.collection = c;
  page.deletes = {id};
  return store.mirror().ApplyPage(page);
}

std::vector<ChangeRow> All(Store& store) {
  auto rows = store.changes().Read(0, 1000);
  REQUIRE(rows.ok());
  return *rows;
}

std::vector<std::string> Kinds(const std::vector<ChangeRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.kind);
  return out;
}

struct Fixture {
  test::TempDir dir;
  ManualClock clock{kStart};
  std::unique_ptr<Store> store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
};

TEST_CASE("Each mailbox resource records insert, update, identical rewrite and delete",
          "[store][changes]") {
  Fixture f;
  struct Case {
    Collection collection;
    std::string resource;
    std::string event_type;
  };
  const Case c =
      GENERATE(Case{Collection::kMessages, "messages", ""}, Case{Collection::kEvents, "events", ""},
               Case{Collection::kEvents, "event_occurrences", "occurrence"},
               Case{Collection::kContacts, "contacts", ""});
  INFO(c.resource);
  auto item = [&](const std::string& modified, const std::string& json) {
    MirrorItem m = Item("i1", modified, json);
    m.event_type = c.event_type;
    if (!c.event_type.empty()) m.series_master_id = "master";
    return m;
  };
  REQUIRE(Upsert(*f.store, "u1", c.collection,
                 item("2026-01-01T00:00:00.0000000Z", R"({"a":1,"b":"x","c":[1]})"))
              .ok());
  f.clock.Advance(std::chrono::seconds(5));
  // A newer version with the same content: written, but no change.
  REQUIRE(Upsert(*f.store, "u1", c.collection,
                 item("2026-01-01T00:00:01.0000000Z", R"({"a":1,"b":"x","c":[1]})"))
              .ok());
  // Two fields changed, one added, one removed.
  REQUIRE(Upsert(*f.store, "u1", c.collection,
                 item("2026-01-01T00:00:02.0000000Z", R"({"a":2,"c":[1,2],"d":null})"))
              .ok());
  // An older version is not written, so not a change.
  REQUIRE(Upsert(*f.store, "u1", c.collection, item("2026-01-01T00:00:00.5000000Z", R"({"a":0})"))
              .ok());
  REQUIRE(Delete(*f.store, "u1", c.collection, "i1").ok());

  auto rows = All(*f.store);
  REQUIRE(rows.size() == 3);
  CHECK(Kinds(rows) == std::vector<std::string>{"insert", "update", "delete"});
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].seq == static_cast<int64_t>(i + 1));
    CHECK(rows[i].resource == c.resource);
    CHECK(rows[i].user_id == "u1");
    CHECK(rows[i].item_id == "i1");
    CHECK(rows[i].site.empty());
  }
  CHECK(rows[0].changed_at == "2026-03-01T00:00:00.0000000Z");  // synced_at: the engine's clock
  CHECK(rows[0].fields.empty());
  CHECK(rows[1].changed_at == "2026-03-01T00:00:05.0000000Z");
  CHECK(rows[1].fields == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(rows[2].fields.empty());
  CHECK(rows[2].changed_at >= rows[1].changed_at);
}

TEST_CASE("A message or contact whose folder changed is a move", "[store][changes]") {
  Fixture f;
  const Collection c = GENERATE(Collection::kMessages, Collection::kContacts);
  const std::string name(CollectionName(c));
  INFO(name);
  REQUIRE(Upsert(*f.store, "u1", c,
                 Item("m", "2026-01-01T00:00:00.0000000Z",
                      R"({"subject":"s","parentFolderId":"inbox"})", "inbox"))
              .ok());
  REQUIRE(Upsert(*f.store, "u1", c,
                 Item("m", "2026-01-01T00:00:01.0000000Z",
                      R"({"subject":"s","parentFolderId":"archive"})", "archive"))
              .ok());
  REQUIRE(Upsert(*f.store, "u1", c,
                 Item("m", "2026-01-01T00:00:02.0000000Z",
                      R"({"subject":"t","parentFolderId":"archive"})", "archive"))
              .ok());
  auto rows = All(*f.store);
  REQUIRE(rows.size() == 3);
  CHECK(Kinds(rows) == std::vector<std::string>{"insert", "move", "update"});
  CHECK(rows[1].fields == std::vector<std::string>{"parentFolderId"});
  CHECK(rows[2].fields == std::vector<std::string>{"subject"});
}

TEST_CASE("List items record insert, update, identical rewrite and delete", "[store][changes]") {
  Fixture f;
  ListChanges batch;
  batch.site = "https://contoso.sharepoint.com/sites/team";
  batch.list_id = "l1";
  batch.change_token = "t1";
  batch.upserts = {{7, R"({"Id":7,"Title":"a"})", "", ""}, {8, R"({"Id":8,"Title":"b"})", "", ""}};
  REQUIRE(f.store->lists().ApplyChanges(batch).ok());
  batch.change_token = "t2";  // the same rows again: no change
  REQUIRE(f.store->lists().ApplyChanges(batch).ok());
  batch.change_token = "t3";
  batch.upserts = {{7, R"({"Id":7,"Title":"c"})", "", ""}};
  batch.deletes = {8};
  REQUIRE(f.store->lists().ApplyChanges(batch).ok());
  auto rows = All(*f.store);
  REQUIRE(rows.size() == 4);
  CHECK(Kinds(rows) == std::vector<std::string>{"insert", "insert", "update", "delete"});
  CHECK(rows[0].resource == "list_items");
  CHECK(rows[0].site == batch.site);
  CHECK(rows[0].list_id == "l1");
  CHECK(rows[0].user_id.empty());
  CHECK(rows[0].item_id == "7");
  CHECK(rows[2].fields == std::vector<std::string>{"Title"});
  CHECK(rows[3].item_id == "8");
}

TEST_CASE("A rolled-back write leaves no change, and seq is never reused", "[store][changes]") {
  Fixture f;
  REQUIRE(Upsert(*f.store, "u1", Collection::kMessages,
                 Item("a", "2026-01-01T00:00:00.0000000Z", R"({"x":1})"))
              .ok());
  Status failed = f.store->Write([&](WriteContext& ctx) {
    UpsertItem(ctx, "u1", Collection::kMessages,
               Item("b", "2026-01-01T00:00:00.0000000Z", R"({"x":1})"), "now");
    DeleteItem(ctx, "u1", Collection::kMessages, "a");
    throw std::runtime_error("planted failure");
  });
  CHECK_FALSE(failed.ok());
  auto rows = All(*f.store);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].item_id == "a");

  // Deleting every change keeps seq counting on (AUTOINCREMENT).
  REQUIRE(Upsert(*f.store, "u1", Collection::kMessages,
                 Item("c", "2026-01-01T00:00:00.0000000Z", R"({"x":1})"))
              .ok());
  REQUIRE(*f.store->changes().LastSeq() == 2);
  REQUIRE(f.store->changes().Prune(kStart + std::chrono::hours(1), false).ok());
  REQUIRE(All(*f.store).empty());
  REQUIRE(Delete(*f.store, "u1", Collection::kMessages, "c").ok());
  rows = All(*f.store);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].seq == 3);
  CHECK(rows[0].kind == "delete");
}

TEST_CASE("Deleting a series master records its occurrences' deletes, seq increasing",
          "[store][changes]") {
  Fixture f;
  MirrorItem master = Item("master", "2026-01-01T00:00:00.0000000Z", R"({"type":"seriesMaster"})");
  master.event_type = "seriesMaster";
  PageWrite page;
  page.user_id = "u1";
  page.collection = Collection::kEvents;
  page.upserts = {master};
  for (int i = 0; i < 3; ++i) {
    MirrorItem o = Item("o" + std::to_string(i), "2026-01-01T00:00:00.0000000Z",
                        R"({"type":"occurrence","n":)" + std::to_string(i) + "}");
    o.event_type = "occurrence";
    o.series_master_id = "master";
    page.upserts.push_back(o);
  }
  REQUIRE(f.store->mirror().ApplyPage(page).ok());
  REQUIRE(Delete(*f.store, "u1", Collection::kEvents, "master").ok());
  auto rows = All(*f.store);
  REQUIRE(rows.size() == 8);
  for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].seq == rows[i - 1].seq + 1);
  int occurrence_deletes = 0;
  for (const auto& r : rows) {
    occurrence_deletes += r.kind == "delete" && r.resource == "event_occurrences";
  }
  CHECK(occurrence_deletes == 3);
  CHECK(rows[4].resource == "events");
  CHECK(rows[4].kind == "delete");
}

TEST_CASE("A consumer's cursor starts at 0, moves only forward and is durable",
          "[store][changes]") {
  test::TempDir dir;
  ManualClock clock(kStart);
  {
    auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
    for (int i = 0; i < 5; ++i) {
      REQUIRE(Upsert(*store, "u1", Collection::kMessages,
                     Item("m" + std::to_string(i), "2026-01-01T00:00:00.0000000Z", "{}"))
                  .ok());
    }
    CHECK(*store->changes().Cursor("c") == 0);
    REQUIRE(store->changes().Consumers()->size() == 1);
    REQUIRE(store->changes().Commit("c", 3).ok());
    REQUIRE(store->changes().Commit("c", 2).ok());  // backward: no-op
    CHECK(*store->changes().Cursor("c") == 3);
    CHECK(store->changes().Commit("c", 6).code() == Status::Code::kInvalidArgument);
    CHECK(store->changes().Commit("c", -1).code() == Status::Code::kInvalidArgument);
    // A commit registers a consumer never read.
    REQUIRE(store->changes().Commit("other", 1).ok());
  }
  auto store = std::move(Store::Open(dir.Path("m.db"), &clock)).value();
  CHECK(*store->changes().Cursor("c") == 3);
  auto next = store->changes().Read(*store->changes().Cursor("c"), 10);
  REQUIRE(next->size() == 2);
  CHECK(next->front().seq == 4);
  auto consumers = store->changes().Consumers();
  REQUIRE(consumers->size() == 2);
  CHECK(consumers->at(1).name == "other");
  CHECK(consumers->at(1).last_seq == 1);
  REQUIRE(store->changes().Drop("other").ok());
  CHECK(store->changes().Drop("other").code() == Status::Code::kNotFound);
}

TEST_CASE("Pruning takes old changes that every consumer has read, oldest first",
          "[store][changes]") {
  Fixture f;
  // Ten changes a day apart: days 0..9.
  for (int i = 0; i < 10; ++i) {
    REQUIRE(Upsert(*f.store, "u1", Collection::kMessages,
                   Item("m" + std::to_string(i), "2026-01-01T00:00:00.0000000Z", "{}"))
                .ok());
    f.clock.Advance(std::chrono::hours(24));
  }
  // Now day 10; keeping 3 days leaves the changes of days 7, 8 and 9.
  const TimePoint cutoff = f.clock.Now() - std::chrono::hours(24 * 3);
  REQUIRE(f.store->changes().Commit("slow", 4).ok());
  REQUIRE(f.store->changes().Commit("fast", 10).ok());
  CHECK(*f.store->changes().Prune(cutoff, /*drop_unread=*/false, /*batch=*/2) == 4);
  CHECK(All(*f.store).front().seq == 5);
  // A new consumer holds everything from where it registered (0).
  REQUIRE(f.store->changes().Cursor("new").ok());
  REQUIRE(f.store->changes().Commit("slow", 9).ok());
  CHECK(*f.store->changes().Prune(cutoff, false, 2) == 0);
  REQUIRE(f.store->changes().Drop("new").ok());
  CHECK(*f.store->changes().Prune(cutoff, false, 2) == 3);
  CHECK(All(*f.store).front().seq == 8);
  // Told to, pruning drops what a consumer has not read.
  REQUIRE(f.store->changes().Cursor("late").ok());
  CHECK(*f.store->changes().Prune(cutoff, false, 100) == 0);
  CHECK(*f.store->changes().Prune(kStart + std::chrono::hours(24 * 20), true, 100) == 3);
  CHECK(All(*f.store).empty());
}

TEST_CASE("Pruning stops at the first change too young, keeping the feed without holes",
          "[store][changes]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(Upsert(*f.store, "u1", Collection::kMessages,
                   Item("m" + std::to_string(i), "2026-01-01T00:00:00.0000000Z", "{}"))
                .ok());
  }
  // An out-of-order time in the middle (a row written by another clock).
  SQLite::Database db(f.dir.Path("m.db"), SQLite::OPEN_READWRITE);
  db.exec("UPDATE changes SET changed_at = '2030-01-01T00:00:00.0000000Z' WHERE seq = 2");
  CHECK(*f.store->changes().Prune(kStart + std::chrono::hours(1), true) == 1);
  auto rows = All(*f.store);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].seq == 2);
}

}  // namespace
}  // namespace graphmirror::store
