// Bulk loads through the sync: a first sync loads each empty collection in bulk (status
// "loading", search complete once built), a load stopped mid-way goes on in bulk at the
// next sync, and the mirror's indexes are whole and agree with its tables at the end.

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <string>

#include "engine/sync/sync_once.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options Tenant() {
  graphsim::Options o;
  o.users = 2;
  o.messages = 40;
  o.events = 6;
  o.contacts = 5;
  return o;
}

void SyncAll(SimFixture& f, const config::Config& config) {
  for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
}

void RequireIndexesWhole(SimFixture& f) {
  SQLite::Database db(f.dir().Path("mirror.db"), SQLite::OPEN_READWRITE);
  REQUIRE_NOTHROW(
      db.exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)"));
  REQUIRE_NOTHROW(db.exec(
      "INSERT INTO message_bodies_fts(message_bodies_fts, rank) VALUES('integrity-check', 1)"));
  CHECK(db.execAndGet("SELECT count(*) FROM bulk_loads").getInt() == 0);
  CHECK(db.execAndGet("SELECT count(*) FROM bulk_dropped_indexes").getInt() == 0);
  // Every secondary index of the mirror tables, as the schema makes them.
  CHECK(db.execAndGet("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT "
                      "NULL AND tbl_name IN ('messages', 'events', 'contacts')")
            .getInt() == 4 + 3 + 2);
  // The full-text index holds every message once.
  CHECK(db.execAndGet("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zephyrwombat'")
            .getInt() == 1);
}

std::vector<std::string> Hits(SimFixture& f, const std::string& text, const std::string& user) {
  auto hits = f.store().mirror().SearchMessages(text, user, 1000);
  REQUIRE(hits.ok());
  std::vector<std::string> out;
  for (const auto& h : *hits) out.push_back(h.id);
  return out;
}

}  // namespace

TEST_CASE("Bulk load: a first sync loads in bulk, shows it loading, and ends searchable",
          "[bulk]") {
  SimFixture f(Tenant());
  const config::Config config = f.Config(/*page_size=*/7);
  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().CreateItem(
      user, "messages",
      R"({"subject":"zephyrwombat minutes","body":{"contentType":"text","content":"quokkaflux"}})");
  REQUIRE(!id.empty());

  // What readers see after each commit of the first sync.
  std::mutex mu;
  bool seen_loading = false, searchable_while_loading = false, rows_while_loading = false;
  f.store().SetChangeObserver([&](const std::vector<store::MirrorChange>&) {
    auto counts = f.store().mirror().Counts();
    if (!counts.ok()) return;
    for (const auto& c : *counts) {
      if (c.user_id != user || c.collection != Collection::kMessages) continue;
      if (c.loading_since.empty()) continue;
      std::lock_guard<std::mutex> lock(mu);
      seen_loading = true;
      if (c.items > 0) rows_while_loading = true;
      auto hits = f.store().mirror().SearchMessages("zephyrwombat", user, 10);
      if (hits.ok() && !hits->empty()) searchable_while_loading = true;
    }
  });
  SyncAll(f, config);
  f.store().SetChangeObserver(nullptr);
  CHECK(seen_loading);
  CHECK(rows_while_loading);  // pages were committed while it loaded
  CHECK_FALSE(searchable_while_loading);
  f.RequireExactMirrorOfAll();
  RequireIndexesWhole(f);
  CHECK(Hits(f, "zephyrwombat", user) == std::vector<std::string>{id});
  CHECK(Hits(f, "quokkaflux", user) == std::vector<std::string>{id});
  auto counts = f.store().mirror().Counts();
  REQUIRE(counts.ok());
  for (const auto& c : *counts) CHECK(c.loading_since.empty());

  // Later changes reach the index through the triggers.
  REQUIRE(f.sim().UpdateItem(user, "messages", id, R"({"subject":"renamed gnuplex"})"));
  SyncAll(f, config);
  CHECK(Hits(f, "gnuplex", user) == std::vector<std::string>{id});
  SQLite::Database db(f.dir().Path("mirror.db"), SQLite::OPEN_READWRITE);
  CHECK_NOTHROW(
      db.exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)"));
}

TEST_CASE("Bulk load: a load stopped mid-way goes on in bulk at the next sync", "[bulk]") {
  SimFixture f(Tenant());
  const config::Config config = f.Config(/*page_size=*/5);
  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().CreateItem(
      user, "messages",
      R"({"subject":"zephyrwombat agenda","body":{"contentType":"text","content":"quokkaflux"}})");
  REQUIRE(!id.empty());
  // The first process began the load and stopped after three pages.
  REQUIRE(*f.store().mirror().BeginLoad(user, Collection::kMessages));
  sync::ResyncOptions options;
  options.page_size = 5;
  options.after_page = [](int pages) { return pages < 3; };
  auto stopped = f.MakeResyncer(options).ResyncCreated(user, Collection::kMessages);
  REQUIRE(stopped.status().code() == Status::Code::kCancelled);
  const int64_t loaded = *f.store().mirror().CountItems(user, Collection::kMessages);
  CHECK(loaded > 0);
  CHECK(loaded < static_cast<int64_t>(f.sim().Count(user, "messages")));
  CHECK(*f.store().mirror().Loading(user, Collection::kMessages));
  // A mailbox that is no longer configured was loading too.
  REQUIRE(*f.store().mirror().BeginLoad("gone-user", Collection::kContacts));

  SyncAll(f, config);
  f.RequireExactMirrorOfAll();
  RequireIndexesWhole(f);
  CHECK(Hits(f, "quokkaflux", user) == std::vector<std::string>{id});
}

}  // namespace graphmirror::test
