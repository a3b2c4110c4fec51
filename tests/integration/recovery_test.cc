// Recovery without notifications: delta passes see deletions and moves, an expired delta
// token is answered by a fresh round that sweeps, and readers never see a collection
// emptied on the way.

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "engine/sync/collection_sync.h"
#include "engine/sync/delta.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options SmallTenant() {
  graphsim::Options o;
  o.users = 2;
  o.messages = 30;
  o.events = 12;
  o.contacts = 12;
  return o;
}

// The value of a top-level string field in Graph JSON ("" if absent).
std::string JsonField(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

std::string MirrorFolder(SimFixture& f, const std::string& user, const std::string& id) {
  SQLite::Database db(f.dir().Path("mirror.db"));
  SQLite::Statement q(db,
                      "SELECT coalesce(folder_id, '') FROM messages WHERE user_id = ? AND id = ?");
  q.bind(1, user);
  q.bind(2, id);
  return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
}

void SyncAll(SimFixture& f, const config::Config& config) {
  sync::CollectionSync sync(config, &f.client(), &f.store(), &f.clock());
  for (const auto& r : sync::SyncAllOnce(config, &sync, &f.store())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
}

}  // namespace

TEST_CASE("Deletions made while nothing listened are removed by the next pass", "[recovery]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/7);
  SyncAll(f, config);
  f.RequireExactMirrorOfAll();

  for (const std::string& user : f.sim().UserIds()) {
    for (const char* c : {"messages", "events", "contacts"}) {
      auto ids = f.sim().ItemIds(user, c);
      for (size_t i = 0; i < ids.size(); i += 3) REQUIRE(f.sim().DeleteItem(user, c, ids[i]));
    }
  }
  f.clock().Advance(std::chrono::hours(5));
  SyncAll(f, config);
  f.RequireExactMirrorOfAll();
}

TEST_CASE("A moved message keeps its row with its folder updated, A -> B -> A too", "[recovery]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(10);
  SyncAll(f, config);
  const std::string user = f.sim().UserIds()[0];
  auto ids = f.sim().ItemIds(user, "messages");
  REQUIRE(ids.size() >= 3);
  const std::string once = ids[0], back = ids[1], twice = ids[2];
  const int64_t rows = f.QueryInt("SELECT count(*) FROM messages");

  f.clock().Advance(std::chrono::minutes(5));
  REQUIRE(f.sim().MoveMessage(user, once, "archive", true) == once);
  std::string home = JsonField(f.sim().ItemJson(user, "messages", back), "parentFolderId");
  REQUIRE(f.sim().MoveMessage(user, back, "archive", true) == back);
  f.clock().Advance(std::chrono::seconds(30));
  REQUIRE(f.sim().MoveMessage(user, back, home, true) == back);  // A -> B -> A
  REQUIRE(f.sim().MoveMessage(user, twice, "archive", true) == twice);
  f.clock().Advance(std::chrono::seconds(30));
  REQUIRE(f.sim().MoveMessage(user, twice, "deleteditems", true) == twice);
  f.clock().Advance(std::chrono::minutes(5));

  // The delta pass alone (no createdDateTime/lastModifiedDateTime rounds) sees the moves.
  sync::DeltaSyncer delta(&f.client(), &f.store(), &f.clock(),
                          sync::DeltaOptions::From(config.sync));
  auto pass = delta.Sync(user, Collection::kMessages);
  REQUIRE(pass.ok());
  CHECK(pass->removed == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM messages") == rows);
  for (const std::string& id : {once, back, twice}) {
    INFO("message " << id);
    CHECK(MirrorFolder(f, user, id) ==
          JsonField(f.sim().ItemJson(user, "messages", id), "parentFolderId"));
  }
  CHECK(MirrorFolder(f, user, back) == home);
  f.RequireExactMirror(user, Collection::kMessages);
}

TEST_CASE("An expired delta token starts a fresh round that sweeps, never emptying", "[recovery]") {
  auto style = GENERATE(graphsim::DeltaExpiredStyle::kGone410,
                        graphsim::DeltaExpiredStyle::kSyncStateNotFound400,
                        graphsim::DeltaExpiredStyle::kResyncRequired);
  graphsim::Options o = SmallTenant();
  o.delta_expired_style = style;
  SimFixture f(o);
  config::Config config = f.Config(5);
  SyncAll(f, config);
  const std::string user = f.sim().UserIds()[1];
  auto ids = f.sim().ItemIds(user, "messages");
  for (size_t i = 0; i < 6; ++i) REQUIRE(f.sim().DeleteItem(user, "messages", ids[i * 4]));
  auto contacts = f.sim().ItemIds(user, "contacts");
  REQUIRE(f.sim().DeleteItem(user, "contacts", contacts[0]));
  f.sim().ExpireDeltaTokens();
  const int64_t before = *f.store().mirror().CountItems(user, Collection::kMessages);

  // Stopped after two pages of the fresh rounds: nothing removed yet.
  sync::DeltaOptions options = sync::DeltaOptions::From(config.sync);
  int64_t lowest = before;
  options.after_page = [&](int pages) {
    lowest = std::min(lowest, *f.store().mirror().CountItems(user, Collection::kMessages));
    return pages < 2;
  };
  sync::DeltaSyncer stopping(&f.client(), &f.store(), &f.clock(), options);
  auto cut = stopping.Sync(user, Collection::kMessages);
  REQUIRE(cut.status().code() == Status::Code::kCancelled);
  CHECK(*f.store().mirror().CountItems(user, Collection::kMessages) == before);

  // Resumed: the fresh rounds finish, then the sweep removes exactly the deleted six.
  options.after_page = [&](int) {
    lowest = std::min(lowest, *f.store().mirror().CountItems(user, Collection::kMessages));
    return true;
  };
  sync::DeltaSyncer resumed(&f.client(), &f.store(), &f.clock(), options);
  auto pass = resumed.Sync(user, Collection::kMessages);
  REQUIRE(pass.ok());
  CHECK(pass->removed == 6);
  CHECK(lowest == before);
  f.RequireExactMirror(user, Collection::kMessages);

  auto contact_pass = resumed.Sync(user, Collection::kContacts);
  REQUIRE(contact_pass.ok());
  CHECK(contact_pass->removed == 1);
  f.RequireExactMirror(user, Collection::kContacts);
}

TEST_CASE("An event that left the calendar window is kept; a deleted one is removed",
          "[recovery]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(10);
  config.sync.calendar_past_days = 3650;  // every seeded event starts inside the window
  SyncAll(f, config);
  const std::string user = f.sim().UserIds()[0];
  auto ids = f.sim().ItemIds(user, "events");
  REQUIRE(ids.size() >= 2);
  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(f.sim().UpdateItem(user, "events", ids[0],
                             R"({"start":{"dateTime":"2040-01-01T10:00:00","timeZone":"UTC"},)"
                             R"("end":{"dateTime":"2040-01-01T11:00:00","timeZone":"UTC"}})"));
  REQUIRE(f.sim().DeleteItem(user, "events", ids[1]));
  f.clock().Advance(std::chrono::minutes(1));

  sync::DeltaSyncer delta(&f.client(), &f.store(), &f.clock(),
                          sync::DeltaOptions::From(config.sync));
  auto pass = delta.Sync(user, Collection::kEvents);
  REQUIRE(pass.ok());
  CHECK(pass->removed == 1);
  f.RequireExactMirror(user, Collection::kEvents);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + ids[0] +
                   "' AND start_at LIKE '2040-01-01%'") == 1);
}

}  // namespace graphmirror::test

namespace graphmirror::test {

TEST_CASE("One mailbox at 429 does not slow another", "[recovery]") {
  graphsim::Options o = SmallTenant();
  o.throttle_retry_after_seconds = 1.0;
  SimFixture f(o);
  // Real time here: the point is how long each mailbox waits.
  graph::GraphClient client(f.ClientOptions(), SystemClock::Default());
  const std::string throttled = f.sim().UserIds()[0], other = f.sim().UserIds()[1];
  f.sim().ForceThrottle(throttled, 3);

  sync::ResyncOptions options;
  options.page_size = 10;
  sync::Resyncer resyncer(&client, &f.store(), options);
  // graphsim's clock follows real time (a little ahead, never behind), so that its
  // Retry-After has elapsed when the client's has.
  std::atomic<bool> done{false};
  std::thread ticking([&] {
    auto last = std::chrono::steady_clock::now();
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      auto now = std::chrono::steady_clock::now();
      f.clock().Advance((now - last) * 11 / 10);
      last = now;
    }
  });
  using Clock = std::chrono::steady_clock;
  Clock::duration throttled_took{}, other_took{};
  Status throttled_result;
  std::thread slow([&] {
    auto start = Clock::now();
    throttled_result = resyncer.ResyncCreated(throttled, Collection::kMessages).status();
    throttled_took = Clock::now() - start;
  });
  auto start = Clock::now();
  Status other_result = resyncer.ResyncCreated(other, Collection::kMessages).status();
  other_took = Clock::now() - start;
  slow.join();
  done = true;
  ticking.join();
  REQUIRE(throttled_result.ok());
  REQUIRE(other_result.ok());

  CHECK(throttled_took >= std::chrono::milliseconds(2500));  // three Retry-After waits
  CHECK(other_took < std::chrono::milliseconds(900));
  CHECK(f.sim().ThrottledCount(throttled) == 3);
  CHECK(f.sim().ThrottledCount(other) == 0);
  CHECK(f.sim().EarlyRetries(throttled) == 0);
  f.RequireExactMirror(throttled, Collection::kMessages);
  f.RequireExactMirror(other, Collection::kMessages);
}

}  // namespace graphmirror::test
