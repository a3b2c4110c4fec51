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

// Delta rounds serve bodies as HTML, and every read asks for HTML: they are the whole
// first load whatever sync.bodies says ("text" bodies are made of the HTML).
TEST_CASE("a first sync reads each message and contact once", "[incremental][cost]") {
  graphsim::Options options = CostOptions();
  options.max_page_size = 1000;
  options.delta_empty_page_every = 0;
  SimFixture f(options);
  // The mailboxes were last changed an hour ago, not within the overlap of the first pass.
  f.clock().Advance(std::chrono::hours(1));
  config::Config config = f.Config(/*page_size=*/500);
  config.sync.bodies = GENERATE(std::string("text"), std::string("html"), std::string("none"));
  INFO("sync.bodies = " << config.sync.bodies);
  const graphsim::ItemsServed before = f.sim().Served();
  auto first = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : first) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  f.RequireExactMirrorOfAll();
  // Bodies as configured, from the delta rounds: every message's, as text or HTML; or none.
  const int64_t held = f.QueryInt("SELECT count(*) FROM messages");
  const std::string form = config.sync.bodies == "none" ? "html" : config.sync.bodies;
  CHECK(f.QueryInt("SELECT count(*) FROM message_bodies WHERE content_type = '" + form + "'") ==
        (config.sync.bodies == "none" ? 0 : held));
  CHECK(f.QueryInt("SELECT count(*) FROM message_bodies WHERE content_type <> '" + form + "'") ==
        0);
  if (config.sync.bodies == "text") {
    CHECK(f.QueryInt("SELECT count(*) FROM message_bodies WHERE content LIKE '%<p>%'") == 0);
  }
  // The delta rounds ran as bulk loads, finished: search indexes every row.
  CHECK(f.QueryInt("SELECT count(*) FROM bulk_loads") == 0);
  {
    SQLite::Database db(f.dir().Path("mirror.db"), SQLite::OPEN_READWRITE);
    CHECK_NOTHROW(
        db.exec("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"));
    CHECK_NOTHROW(db.exec(
        "INSERT INTO message_bodies_fts (message_bodies_fts, rank) VALUES ('integrity-check', 1)"));
  }
  const graphsim::ItemsServed served = f.sim().Served();
  uint64_t messages = 0, contacts = 0, events = 0;
  for (const std::string& user : f.sim().UserIds()) {
    messages += f.sim().ItemIds(user, "messages").size();
    contacts += f.sim().ItemIds(user, "contacts").size();
    events += f.sim().ItemIds(user, "events").size();
  }
  const auto occurrences =
      static_cast<uint64_t>(f.QueryInt("SELECT count(*) FROM event_occurrences"));
  INFO("listed " << served.listed << ", delta " << served.delta << ", by id " << served.by_id
                 << "; " << messages << " messages, " << contacts << " contacts, " << events
                 << " events, " << occurrences << " occurrences");
  // Messages and contacts come from their delta rounds alone (before, a createdDateTime
  // round read every one of them a second time). Events come from the calendar window's
  // delta round (the window's single events and each occurrence), then /events (every
  // single event and series master), which lists the window's single events a second time;
  // no listing of their ids follows (it did when /events came first); folders and calendars
  // are a few more.
  CHECK(served.by_id - before.by_id == 0);
  CHECK(served.total() - before.total() <= messages + contacts + 2 * events + occurrences + 50);
  CHECK(served.delta - before.delta <= messages + contacts + events + occurrences + 50);
  // The watermarks start where a later createdDateTime round picks up: from the newest
  // item held, so that round reads only what is new.
  for (const std::string& user : f.sim().UserIds()) {
    auto watermark = f.store().mirror().GetWatermark(user, Collection::kMessages);
    REQUIRE(watermark.ok());
    CHECK(!watermark->created_after.empty());
    CHECK(!watermark->modified_after.empty());
  }
  const graphsim::ItemsServed settled = f.sim().Served();
  auto again = sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock());
  for (const auto& r : again) REQUIRE(r.status.ok());
  CHECK(f.sim().Served().total() - settled.total() <= 100);
  f.RequireExactMirrorOfAll();
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
