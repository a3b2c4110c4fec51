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

}  // namespace
}  // namespace graphmirror::test
