// What an incremental `sync --once` costs: after a first sync, a pass over a hundred-odd
// changes must read from Graph a small multiple of the changes, not the mailboxes again,
// also when Graph pages at 20 items and answers empty pages inside delta rounds.

#include <cstdio>

#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options CostOptions() {
  graphsim::Options o;
  o.seed = 18;
  o.users = 2;
  o.messages = 1000;
  o.events = 100;
  o.contacts = 60;
  o.max_page_size = 20;          // Graph's pages, whatever the client prefers
  o.delta_empty_page_every = 2;  // an empty page before every second nextLink
  return o;
}

std::string Subject(const std::string& text) { return "{\"subject\":\"" + text + "\"}"; }

// 51 changes in one mailbox: messages created, updated, deleted and moved (a move without
// immutable ids is a delete and a create, counted as one change), events and contacts
// created, updated and deleted. Returns how many changes were made.
int ChangeMailbox(graphsim::Simulator& sim, const std::string& user) {
  int changes = 0;
  auto messages = sim.ItemIds(user, "messages");
  auto events = sim.ItemIds(user, "events");
  auto contacts = sim.ItemIds(user, "contacts");
  for (int i = 0; i < 20; ++i, ++changes) {
    REQUIRE(!sim.CreateItem(user, "messages", Subject("new " + std::to_string(i))).empty());
  }
  for (int i = 0; i < 10; ++i, ++changes) {
    REQUIRE(
        sim.UpdateItem(user, "messages", messages[static_cast<size_t>(i)], R"({"isRead":true})"));
  }
  for (int i = 10; i < 15; ++i, ++changes) {
    REQUIRE(sim.DeleteItem(user, "messages", messages[static_cast<size_t>(i)]));
  }
  for (int i = 15; i < 18; ++i, ++changes) {
    REQUIRE(!sim.MoveMessage(user, messages[static_cast<size_t>(i)], "archive", false).empty());
  }
  for (int i = 0; i < 4; ++i, ++changes) {
    REQUIRE(!sim.CreateItem(user, "events", Subject("meeting " + std::to_string(i))).empty());
  }
  for (int i = 0; i < 3; ++i, ++changes) {
    REQUIRE(sim.UpdateItem(user, "events", events[static_cast<size_t>(i)], Subject("moved")));
  }
  for (int i = 3; i < 5; ++i, ++changes) {
    REQUIRE(sim.DeleteItem(user, "events", events[static_cast<size_t>(i)]));
  }
  for (int i = 0; i < 2; ++i, ++changes) {
    REQUIRE(!sim.CreateItem(user, "contacts", R"({"givenName":"New"})").empty());
  }
  REQUIRE(sim.UpdateItem(user, "contacts", contacts[0], R"({"givenName":"Changed"})"));
  REQUIRE(sim.DeleteItem(user, "contacts", contacts[1]));
  changes += 2;
  return changes;
}

TEST_CASE("an incremental sync --once reads at most 4 x changes + 100 items", "[incremental]") {
  SimFixture f(CostOptions());
  const config::Config config = f.Config(/*page_size=*/500);
  auto first = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : first) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  f.RequireExactMirrorOfAll();

  f.clock().Advance(std::chrono::hours(1));
  int changes = 0;
  for (const std::string& user : f.sim().UserIds()) changes += ChangeMailbox(f.sim(), user);
  REQUIRE(changes == 102);
  f.clock().Advance(std::chrono::minutes(5));

  const graphsim::ItemsServed before = f.sim().Served();
  auto second = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  const graphsim::ItemsServed after = f.sim().Served();
  for (const auto& r : second) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  f.RequireExactMirrorOfAll();

  const uint64_t listed = after.listed - before.listed;
  const uint64_t delta = after.delta - before.delta;
  const uint64_t by_id = after.by_id - before.by_id;
  const uint64_t read = listed + delta + by_id;
  std::printf(
      "incremental sync of %d changes read %llu items (lists %llu, delta %llu, by id %llu)\n",
      changes, static_cast<unsigned long long>(read), static_cast<unsigned long long>(listed),
      static_cast<unsigned long long>(delta), static_cast<unsigned long long>(by_id));
  INFO("lists " << listed << ", delta " << delta << ", by id " << by_id);
  CHECK(read <= static_cast<uint64_t>(4 * changes + 100));

  // With nothing changed, a pass re-reads only what its watermarks' overlap repeats (the
  // last pass's changes, at most once per round kind), not what the mailboxes hold.
  f.clock().Advance(std::chrono::hours(1));
  const graphsim::ItemsServed idle_before = f.sim().Served();
  auto third = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : third) REQUIRE(r.status.ok());
  const uint64_t idle = f.sim().Served().total() - idle_before.total();
  std::printf("a sync --once with nothing changed read %llu items\n",
              static_cast<unsigned long long>(idle));
  CHECK(idle <= static_cast<uint64_t>(2 * changes + 100));
  f.RequireExactMirrorOfAll();
}

}  // namespace
}  // namespace graphmirror::test
