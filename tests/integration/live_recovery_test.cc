// The daemon staying alive through what Graph does to it: days offline, lifecycle events
// recorded for `graphmirror status`, a collection Graph refuses while the others go on.

#include <catch2/catch.hpp>

#include "tests/integration/cli_run.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

const store::SyncStatus* StatusOf(const std::vector<store::SyncStatus>& all,
                                  const std::string& user, Collection c) {
  for (const auto& st : all) {
    if (st.user_id == user && st.collection == c) return &st;
  }
  return nullptr;
}

TEST_CASE("Down longer than a subscription lives: recreated, caught up, deletions too",
          "[live][recovery]") {
  LiveFixture f(Small());
  f.Deliver();
  std::set<std::string> old_ids;
  for (const auto& s : f.sim().Subscriptions()) old_ids.insert(s.id);
  REQUIRE(old_ids.size() == 6);

  f.StopLive();
  const auto users = f.sim().UserIds();
  for (const std::string& user : users) {
    for (const char* c : {"messages", "events", "contacts"}) {
      auto ids = f.sim().ItemIds(user, c);
      REQUIRE(f.sim().DeleteItem(user, c, ids[0]));
      const bool contact = std::string(c) == "contacts";
      REQUIRE(f.sim().UpdateItem(
          user, c, ids[1],
          contact ? R"({"displayName":"edited offline"})" : Subject("edited offline")));
      REQUIRE(
          !f.sim()
               .CreateItem(user, c,
                           contact ? R"({"displayName":"made offline"})" : Subject("made offline"))
               .empty());
    }
  }
  f.sim().PumpDeliveries();                       // the webhook is down: every POST fails
  f.clock().Advance(std::chrono::hours(24 * 5));  // past the 4230-minute lifetime
  f.sim().PumpDeliveries();                       // retries given up: dropped
  REQUIRE(f.sim().Subscriptions().empty());

  f.StartLive();
  f.Deliver();
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 6);
  for (const auto& s : subs) CHECK(old_ids.count(s.id) == 0);
  f.RequireExactMirrorOfAll();
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE subject = 'edited offline'") == 2);
  CHECK(f.PendingLog() == 0);
}

TEST_CASE("Lifecycle events and syncs are recorded per collection for status", "[live][recovery]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  std::string events_sub;
  for (const auto& s : f.sim().Subscriptions()) {
    if (s.resource.find(user) != std::string::npos &&
        s.resource.find("/events") != std::string::npos) {
      events_sub = s.id;
    }
  }
  REQUIRE(!events_sub.empty());
  REQUIRE(f.sim().EmitLifecycle(events_sub, "missed"));
  f.Deliver();
  auto all = f.store().sync_state().SyncStatuses();
  REQUIRE(all.ok());
  CHECK(all->size() == 6);
  const store::SyncStatus* events = StatusOf(*all, user, Collection::kEvents);
  REQUIRE(events != nullptr);
  CHECK(events->last_lifecycle_event == "missed");
  CHECK(events->last_sync_kind == "delta");  // missed ends with a delta pass
  CHECK(!events->last_sync_at.empty());
  CHECK(events->stopped_reason.empty());
  const store::SyncStatus* messages = StatusOf(*all, user, Collection::kMessages);
  REQUIRE(messages != nullptr);
  CHECK(messages->last_lifecycle_event.empty());
}

}  // namespace
}  // namespace graphmirror::test

namespace graphmirror::test {
namespace {

TEST_CASE("A missing permission stops that collection with one clear line; others go on",
          "[live][recovery]") {
  graphsim::Options o = Small();
  LiveFixture f(o, [](graphsim::Simulator& sim) { sim.SetPermission("Calendars.Read", false); });
  f.Deliver();
  const auto users = f.sim().UserIds();

  auto all = f.store().sync_state().SyncStatuses();
  REQUIRE(all.ok());
  for (const std::string& user : users) {
    const store::SyncStatus* events = StatusOf(*all, user, Collection::kEvents);
    REQUIRE(events != nullptr);
    CHECK_THAT(events->stopped_reason,
               Catch::Contains("Calendars.Read") && Catch::Contains("/users/" + user + "/events"));
    CHECK(StatusOf(*all, user, Collection::kMessages)->stopped_reason.empty());
    f.RequireExactMirror(user, Collection::kMessages);
    f.RequireExactMirror(user, Collection::kContacts);
  }
  CHECK(f.sim().Subscriptions().size() == 4);  // no events subscriptions
  CHECK(f.QueryInt("SELECT count(*) FROM events") == 0);

  // The others keep going while events are stopped.
  f.sim().CreateItem(users[0], "messages", Subject("while stopped"));
  f.Deliver();
  f.RequireExactMirror(users[0], Collection::kMessages);

  // `graphmirror status` names the permission and the resource on one line.
  std::string config = WriteFile(
      f.dir(), "status.toml",
      "database = \"mirror.db\"\n" + ConfigText(f.server().base_url(), "graphsim-secret", users)
                                         .substr(std::string("database = \"m.db\"\n").size()));
  Run status = RunCli("status --config " + config);
  INFO(status.output);
  REQUIRE(status.exit_code == 0);
  CHECK_THAT(status.output, Catch::Contains("STOPPED") &&
                                Catch::Contains("application permission Calendars.Read"));

  // Granted again: after the retry delay the keeper subscribes and the events arrive.
  f.sim().SetPermission("Calendars.Read", true);
  f.clock().Advance(sync::kStopRetry + std::chrono::minutes(1));
  REQUIRE(f.live().keeper().Maintain().ok());
  f.Deliver();
  CHECK(f.sim().Subscriptions().size() == 6);
  f.RequireExactMirrorOfAll();
  all = f.store().sync_state().SyncStatuses();
  REQUIRE(all.ok());
  for (const auto& st : *all) CHECK(st.stopped_reason.empty());
}

}  // namespace
}  // namespace graphmirror::test
