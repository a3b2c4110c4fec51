// The createdDateTime resync against graphsim over loopback HTTP: first sync, incremental
// sync, interrupted sync, timestamp ties at page boundaries, throttling.

#include "engine/sync/resync.h"

#include <atomic>
#include <map>
#include <thread>

#include "engine/graph/timestamp.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options Seeded(int users, int messages, int events, int contacts) {
  graphsim::Options o;
  o.seed = 7;
  o.users = users;
  o.messages = messages;
  o.events = events;
  o.contacts = contacts;
  return o;
}

std::string Fields(const std::string& subject) {
  return "{\"subject\":\"" + subject +
         "\",\"from\":{\"emailAddress\":{\"name\":\"Ann\",\"address\":\"ann@example.com\"}}}";
}

TEST_CASE("A first sync mirrors every item of every mailbox exactly", "[resync]") {
  SimFixture f(Seeded(3, 1500, 400, 300));
  auto reports =
      sync::SyncAllOnce(f.Config(/*page_size=*/250), &f.client(), &f.store(), nullptr, &f.clock());
  REQUIRE(reports.size() == 9);
  for (const auto& r : reports) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
    CHECK(r.items_before == 0);
    if (r.collection != Collection::kEvents) {
      // Loaded by its delta rounds alone, each item read once.
      CHECK(r.stats.fetched == 0);
      CHECK(r.delta_stats.items == r.items_after);
      continue;
    }
    // Each page's query starts at the newest timestamp of the page before, so the items
    // sharing that timestamp are read twice; nothing is missed (checked below).
    CHECK(r.stats.fetched >= r.items_after);
    CHECK(r.stats.fetched <= r.items_after + 4 * r.stats.pages);
  }
  f.RequireExactMirrorOfAll();
  CHECK(f.QueryInt("SELECT count(*) FROM messages") == 3 * 1500);
  CHECK(f.QueryInt("SELECT count(*) FROM events") == 3 * 400);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts") == 3 * 300);
  // The typed columns are filled from the JSON (only drafts may lack a sender), and
  // the watermark is the newest item.
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE subject IS NULL OR received_at IS NULL "
                   "OR (from_address IS NULL AND json_extract(json, '$.isDraft') = 0)") == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE start_at IS NULL OR end_at IS NULL") == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE display_name IS NULL") == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM watermarks w WHERE created_after <> (SELECT "
                   "max(created_at) FROM messages m WHERE m.user_id = w.user_id) AND "
                   "collection = 'messages'") == 0);
}

TEST_CASE("A second sync fetches only the new items and the overlap it re-reads", "[resync]") {
  SimFixture f(Seeded(2, 600, 100, 100));
  const auto overlap = std::chrono::seconds(60);
  auto first =
      sync::SyncAllOnce(f.Config(200, overlap), &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : first) REQUIRE(r.status.ok());

  // What a second pass must re-read: items at or after (watermark - overlap).
  std::map<std::pair<std::string, Collection>, int64_t> repeats;
  for (const auto& r : first) {
    auto watermark = graph::ParseTimestamp(
        f.store().mirror().GetWatermark(r.user_id, r.collection)->created_after);
    REQUIRE(watermark);
    SQLite::Database db(f.dir().Path("mirror.db"));
    SQLite::Statement q(db, "SELECT count(*) FROM " + std::string(CollectionName(r.collection)) +
                                " WHERE user_id = ? AND created_at >= ?");
    q.bind(1, r.user_id);
    q.bind(2, graph::FormatTimestamp(*watermark - overlap));
    REQUIRE(q.executeStep());
    repeats[{r.user_id, r.collection}] = q.getColumn(0).getInt64();
  }

  f.clock().Advance(std::chrono::hours(1));
  const std::string user = f.sim().UserIds()[0];
  for (int i = 0; i < 5; ++i)
    f.sim().CreateItem(user, "messages", Fields("new " + std::to_string(i)));
  f.clock().Advance(std::chrono::seconds(5));
  f.sim().CreateItem(user, "contacts", "{\"displayName\":\"Zed\"}");

  auto second =
      sync::SyncAllOnce(f.Config(200, overlap), &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : second) {
    INFO(r.user_id << " " << CollectionName(r.collection));
    REQUIRE(r.status.ok());
    int64_t created = 0;
    if (r.user_id == user && r.collection == Collection::kMessages) created = 5;
    if (r.user_id == user && r.collection == Collection::kContacts) created = 1;
    CHECK(r.items_after - r.items_before == created);
    CHECK(r.stats.fetched == created + repeats[{r.user_id, r.collection}]);
  }
  f.RequireExactMirrorOfAll();
}

TEST_CASE("A resync stopped between pages resumes without loss or duplicates", "[resync]") {
  SimFixture f(Seeded(1, 1000, 0, 0));
  const std::string user = f.sim().UserIds()[0];
  for (int stop_after : {1, 3, 7}) {
    DYNAMIC_SECTION("stopped after page " << stop_after) {
      sync::ResyncOptions stopping;
      stopping.page_size = 100;
      stopping.after_page = [stop_after](int pages) { return pages < stop_after; };
      auto cut = f.MakeResyncer(stopping).ResyncCreated(user, Collection::kMessages);
      REQUIRE(cut.status().code() == Status::Code::kCancelled);
      int64_t committed = *f.store().mirror().CountItems(user, Collection::kMessages);
      // Full pages, less the boundary items each page re-reads from the one before.
      CHECK(committed <= 100 * stop_after);
      CHECK(committed > 90 * stop_after);

      sync::ResyncOptions plain;
      plain.page_size = 100;
      auto resumed = f.MakeResyncer(plain).ResyncCreated(user, Collection::kMessages);
      REQUIRE(resumed.ok());
      // The resumed round starts at the watermark: it re-reads the overlap, not the start.
      CHECK(resumed->fetched < 1000 - committed + 100);
      f.RequireExactMirror(user, Collection::kMessages);
      CHECK(f.QueryInt("SELECT count(*) FROM messages") == 1000);
    }
  }
}

TEST_CASE("300 items with one createdDateTime all arrive across page boundaries", "[resync]") {
  SimFixture f(Seeded(1, 0, 0, 0));
  const std::string user = f.sim().UserIds()[0];
  for (int i = 0; i < 300; ++i)
    f.sim().CreateItem(user, "messages", Fields("tie " + std::to_string(i)));
  REQUIRE(f.sim().Count(user, "messages") == 300);

  // Stop inside the tie group, then resume: the round restarts at the shared timestamp
  // and pages through all 300 again; nothing is skipped, nothing doubled.
  sync::ResyncOptions stopping;
  stopping.page_size = 7;
  stopping.overlap = std::chrono::seconds(0);
  stopping.after_page = [](int pages) { return pages < 20; };
  auto cut = f.MakeResyncer(stopping).ResyncCreated(user, Collection::kMessages);
  REQUIRE(cut.status().code() == Status::Code::kCancelled);
  CHECK(*f.store().mirror().CountItems(user, Collection::kMessages) == 140);

  sync::ResyncOptions plain;
  plain.page_size = 7;
  plain.overlap = std::chrono::seconds(0);
  auto resumed = f.MakeResyncer(plain).ResyncCreated(user, Collection::kMessages);
  REQUIRE(resumed.ok());
  CHECK(resumed->fetched == 300);
  CHECK(resumed->pages == 43);
  f.RequireExactMirror(user, Collection::kMessages);
  CHECK(f.QueryInt("SELECT count(DISTINCT created_at) FROM messages") == 1);
}

TEST_CASE("Under 429s the engine waits Retry-After, stays within 4 requests, converges",
          "[resync][throttle]") {
  SimFixture f(Seeded(3, 400, 100, 100));
  for (const std::string& user : f.sim().UserIds()) f.sim().ForceThrottle(user, 6);
  const TimePoint before = f.clock().Now();
  auto config = f.Config(50);
  config.sync.parallelism = 9;
  auto reports = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : reports) REQUIRE(r.status.ok());
  f.RequireExactMirrorOfAll();
  for (const std::string& user : f.sim().UserIds()) {
    INFO("user " << user);
    CHECK(f.sim().ThrottledCount(user) >= 6);
    CHECK(f.sim().EarlyRetries(user) == 0);
    CHECK(f.sim().MaxConcurrentObserved(user) <= 4);
  }
  // Each throttled mailbox waited out at least one fractional Retry-After (2.128 s).
  CHECK(f.clock().Now() - before >= std::chrono::milliseconds(2128));
  CHECK(f.client().stats().throttled >= 18);
}

TEST_CASE("Many concurrent requests on one mailbox never exceed 4 in flight at graphsim",
          "[resync][throttle]") {
  SimFixture f(Seeded(2, 50, 0, 0));
  const std::string busy = f.sim().UserIds()[0];
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        auto r = f.client().Get(busy, "/users/" + busy + "/messages?$top=50");
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(f.sim().MaxConcurrentObserved(busy) <= 4);
  CHECK(f.sim().MaxConcurrentObserved(busy) >= 2);  // the load really was concurrent
  CHECK(f.sim().ThrottledCount(busy) == 0);
}

}  // namespace
}  // namespace graphmirror::test
