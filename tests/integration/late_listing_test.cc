// Graph may notify a change before its list and delta queries show it (graphsim's
// listing_lag): the round a notification starts then does not show the item, or shows an
// older version, and the item must be read by id at the notified version.

#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options Lagging() {
  graphsim::Options o = Small(31);
  o.listing_lag = std::chrono::seconds(120);
  return o;
}

std::string ChangeKeyOf(graphsim::Simulator& sim, const std::string& user,
                        const std::string& collection, const std::string& id) {
  const std::string json = sim.ItemJson(user, collection, id);
  const std::string tag = "\"changeKey\":\"";
  size_t at = json.find(tag);
  REQUIRE(at != std::string::npos);
  at += tag.size();
  return json.substr(at, json.find('"', at) - at);
}

TEST_CASE("late listing: a notified item the lists do not show yet is read by id",
          "[live][late_listing]") {
  LiveFixture f(Lagging());
  f.Deliver();
  f.RequireExactMirrorOfAll();
  const std::string user = f.sim().UserIds()[0];

  f.clock().Advance(std::chrono::minutes(10));
  const std::string created = f.sim().CreateItem(user, "messages", Subject("early bird"));
  const std::string event = f.sim().CreateItem(user, "events", Subject("standup"));
  const std::string changed = f.sim().ItemIds(user, "contacts")[0];
  REQUIRE(f.sim().UpdateItem(user, "contacts", changed, R"({"givenName":"Renamed"})"));
  const std::string changed_key = ChangeKeyOf(f.sim(), user, "contacts", changed);
  // Delivered at once, well inside the lag: the rounds the notifications start list
  // nothing new.
  f.Deliver();

  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + created +
                   "' AND subject = 'early bird'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + event + "'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE id = '" + changed + "' AND change_key = '" +
                   changed_key + "'") == 1);
  CHECK(f.PendingLog() == 0);
  CHECK(f.live().worker().stats().fetched_items >= 3);
  f.RequireExactMirrorOfAll();
}

TEST_CASE("late listing: an update shown at an older changeKey is read by id",
          "[live][late_listing]") {
  LiveFixture f(Lagging());
  f.Deliver();
  const std::string user = f.sim().UserIds()[1];
  const std::string id = f.sim().ItemIds(user, "messages")[3];

  f.clock().Advance(std::chrono::minutes(10));
  REQUIRE(f.sim().UpdateItem(user, "messages", id, Subject("first")));
  f.clock().Advance(std::chrono::minutes(5));  // past the lag: lists show "first"
  f.Deliver();
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + id + "' AND subject = 'first'") ==
        1);

  f.clock().Advance(std::chrono::seconds(10));
  REQUIRE(f.sim().UpdateItem(user, "messages", id, Subject("second")));
  f.Deliver();  // inside the lag: the round lists "first" again
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + id +
                   "' AND subject = 'second'") == 1);
  CHECK(f.PendingLog() == 0);
}

TEST_CASE("a notified version a GET shows a later one of waits only for that one's notification",
          "[live][late_listing]") {
  LiveFixture f(Small(32));
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().ItemIds(user, "messages")[4];
  const std::string second = "SELECT count(*) FROM messages WHERE id = '" + id +
                             "' AND subject = 'second'";

  REQUIRE(f.sim().UpdateItem(user, "messages", id, Subject("first")));
  REQUIRE(f.sim().PumpDeliveries() > 0);
  REQUIRE(f.sim().UpdateItem(user, "messages", id, Subject("second")));
  // The first notification alone: Graph shows only the second version, which no logged
  // row names yet, so the row waits (it may be Graph lagging behind the first).
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.PendingLog() == 1);
  CHECK(f.QueryInt(second) == 1);

  // The second notification, in a pass of its own.
  REQUIRE(f.sim().PumpDeliveries() > 0);
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.PendingLog() == 1);

  // The first row's retry: the version read was notified after it, so it is newer, and
  // the row is applied rather than retried until its retries run out.
  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.PendingLog() == 0);
  CHECK(f.QueryInt(second) == 1);
  f.RequireExactMirrorOfAll();
}

TEST_CASE("late listing: a deleted item a lagging round still lists stays deleted",
          "[live][late_listing]") {
  LiveFixture f(Lagging());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().ItemIds(user, "messages")[2];
  const std::string held = "SELECT count(*) FROM messages WHERE id = '" + id + "'";

  f.clock().Advance(std::chrono::minutes(10));
  REQUIRE(f.sim().UpdateItem(user, "messages", id, Subject("last words")));
  f.clock().Advance(std::chrono::seconds(10));
  REQUIRE(f.sim().DeleteItem(user, "messages", id));
  f.clock().Advance(std::chrono::seconds(5));
  f.Deliver();
  REQUIRE(f.QueryInt(held) == 0);

  // The update is listed now, the deletion not yet: a pass (a safety-net or catch-up pass)
  // sees the item as it was just before its deletion.
  f.clock().Advance(std::chrono::seconds(110));
  REQUIRE(f.live().collections().Full(user, Collection::kMessages).ok());
  CHECK(f.QueryInt(held) == 0);

  // Later passes, once the lists caught up, agree.
  f.clock().Advance(std::chrono::minutes(10));
  REQUIRE(f.live().collections().Full(user, Collection::kMessages).ok());
  CHECK(f.QueryInt(held) == 0);
  f.RequireExactMirrorOfAll();
}

TEST_CASE("late listing: a change made just before a catch-up comes with its recheck",
          "[live][late_listing]") {
  const int64_t recheck = GENERATE(0, 300);
  std::string early;
  // Made before the engine started, so no subscription notifies it, and listed only
  // after the lag, so the initial sync (a catch-up) does not see it.
  LiveFixture f(
      Lagging(),
      [&](graphsim::Simulator& sim) {
        early = sim.CreateItem(sim.UserIds()[0], "messages", Subject("just before start"));
      },
      [&](config::Config& c) { c.sync.catch_up_recheck = std::chrono::seconds(recheck); });
  INFO("catch_up_recheck_seconds = " << recheck);
  const std::string held = "SELECT count(*) FROM messages WHERE id = '" + early + "'";
  f.Deliver();
  CHECK(f.QueryInt(held) == 0);

  f.clock().Advance(std::chrono::seconds(240));  // listed now, recheck not due yet
  f.Deliver();
  CHECK(f.QueryInt(held) == 0);

  f.clock().Advance(std::chrono::seconds(61));
  f.Deliver();
  if (recheck == 0) {
    CHECK(f.QueryInt(held) == 0);  // left to the safety-net delta pass, hours later
    CHECK_FALSE(f.live().collections().NextRecheck());
  } else {
    CHECK(f.QueryInt(held) == 1);
    CHECK_FALSE(f.live().collections().NextRecheck());  // once, not again and again
    f.RequireExactMirrorOfAll();
  }
}

}  // namespace
}  // namespace graphmirror::test
