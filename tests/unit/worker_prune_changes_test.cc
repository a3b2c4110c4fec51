// SyncWorker: the daemon's periodic pruning of the change feed ([changes] keep_days), on an
// injected clock.

#include <catch2/catch.hpp>

#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "engine/sync/collection_sync.h"
#include "engine/sync/worker.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::sync {
namespace {

const TimePoint kStart = std::chrono::system_clock::from_time_t(1772323200);  // 2026-03-01

void AddChange(store::Store& store, const std::string& id) {
  store::PageWrite page;
  page.user_id = "u1";
  MirrorItem m;
  m.id = id;
  m.created_at = "2026-01-01T00:00:00.0000000Z";
  m.json = "{}";
  page.upserts = {m};
  REQUIRE(store.mirror().ApplyPage(page).ok());
}

int64_t Oldest(store::Store& store) {
  auto rows = store.changes().Read(0, 1);
  REQUIRE(rows.ok());
  return rows->empty() ? 0 : rows->front().seq;
}

TEST_CASE("The worker prunes changes older than keep_days, after every consumer read them",
          "[sync][changes]") {
  test::TempDir dir;
  ManualClock clock(kStart);
  auto store = std::move(store::Store::Open(dir.Path("m.db"), &clock)).value();
  config::Config config;  // no mailbox: a pass makes no Graph request
  config.database = dir.Path("m.db");
  config.changes.keep_days = 2;
  graph::GraphClient client(graph::ClientOptions{}, &clock);
  CollectionSync sync(config, &client, store.get(), &clock);

  // 1,500 changes on day 0, one each on days 1..4.
  for (int i = 0; i < 1500; ++i) AddChange(*store, "d0-" + std::to_string(i));
  for (int day = 1; day <= 4; ++day) {
    clock.Advance(std::chrono::hours(24));
    AddChange(*store, "d" + std::to_string(day));
  }
  REQUIRE(store->changes().Cursor("reader").ok());  // registered, has read nothing

  SECTION("kept until the consumer has read them") {
    SyncWorker worker(config, &sync, store.get(), &clock);
    REQUIRE(worker.RunOnce().ok());
    CHECK(Oldest(*store) == 1);
    REQUIRE(store->changes().Commit("reader", 1500).ok());  // day 0 read
    clock.Advance(std::chrono::minutes(5));                 // not due yet
    REQUIRE(worker.RunOnce().ok());
    CHECK(Oldest(*store) == 1);
    clock.Advance(std::chrono::minutes(6));
    REQUIRE(worker.RunOnce().ok());  // 1,500 rows: two batches
    CHECK(Oldest(*store) == 1501);   // day 1 is old enough, but not read
    REQUIRE(store->changes().Commit("reader", 1504).ok());
    clock.Advance(std::chrono::minutes(11));
    REQUIRE(worker.RunOnce().ok());
    CHECK(Oldest(*store) == 1503);  // days 1 and 2 are now older than 2 days, day 3 is not
  }
  SECTION("or dropped unread when told") {
    config.changes.drop_unread = true;
    SyncWorker worker(config, &sync, store.get(), &clock);
    REQUIRE(worker.RunOnce().ok());
    CHECK(Oldest(*store) == 1502);
  }
  SECTION("kept forever with keep_days = 0") {
    config.changes.keep_days = 0;
    config.changes.drop_unread = true;
    SyncWorker worker(config, &sync, store.get(), &clock);
    clock.Advance(std::chrono::hours(24 * 365));
    REQUIRE(worker.RunOnce().ok());
    CHECK(Oldest(*store) == 1);
  }
}

}  // namespace
}  // namespace graphmirror::sync
