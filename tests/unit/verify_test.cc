// Verify's pieces without Graph: the comparison of the two sides, the mirror's versions
// and the kept result (schema/019_verify.sql).

#include "engine/sync/verify.h"

#include <catch2/catch.hpp>

#include "engine/store/store.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::sync {
namespace {

TEST_CASE("Compare sorts ids into missing, extra and stale", "[verify]") {
  const std::map<std::string, std::string> graph = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"e", ""}};
  const std::vector<store::RowVersion> mirror = {
      {"b", "2", ""}, {"c", "old", ""}, {"d", "4", ""}, {"e", "", ""}};
  Drift d = Compare(graph, mirror);
  CHECK(d.missing == std::vector<std::string>{"a"});
  CHECK(d.extra == std::vector<std::string>{"d"});
  CHECK(d.stale == std::vector<std::string>{"c"});
  CHECK(d.total() == 3);

  CHECK(Compare({}, {}).total() == 0);
  CHECK(Compare(graph, {}).missing.size() == 4);
  CHECK(Compare({}, mirror).extra.size() == 4);
  // Ids are case-sensitive (GRAPH.md section 3): "A" is another item.
  CHECK(Compare({{"A", "1"}}, {{"a", "1", ""}}).total() == 2);
}

TEST_CASE("The mirror's versions and the kept verify results", "[verify][store]") {
  test::TempDir dir;
  ManualClock clock(TimePoint(std::chrono::seconds(1772323200)));
  auto store = std::move(store::Store::Open(dir.Path("m.db"), &clock)).value();

  store::PageWrite page;
  page.user_id = "u";
  page.collection = Collection::kMessages;
  for (const char* id : {"m2", "m1"}) {
    MirrorItem m;
    m.id = id;
    m.created_at = "2026-01-01T00:00:00.0000000Z";
    m.modified_at = "2026-01-01T00:00:00.0000000Z";
    m.change_key = std::string("ck-") + id;
    m.json = std::string("{\"id\":\"") + id + "\"}";
    page.upserts.push_back(m);
  }
  REQUIRE(store->mirror().ApplyPage(page).ok());
  auto versions = store->mirror().Versions("u", "messages");
  REQUIRE(versions.ok());
  REQUIRE(versions->size() == 2);
  CHECK((*versions)[0].id == "m1");
  CHECK((*versions)[0].change_key == "ck-m1");
  CHECK((*versions)[0].modified_at == "2026-01-01T00:00:00.0000000Z");
  CHECK((*versions)[1].id == "m2");
  CHECK(store->mirror().Versions("other", "messages")->empty());
  CHECK(store->mirror().Versions("u", "sqlite_master").status().code() ==
        Status::Code::kInvalidArgument);

  store::VerifyRecord r;
  r.user_id = "u";
  r.resource = "messages";
  r.graph_items = 3;
  r.mirror_items = 2;
  r.missing = 1;
  r.remaining = 1;
  REQUIRE(store->sync_state().RecordVerify(r).ok());
  r.resource = "contacts";
  r.missing = 0;
  r.remaining = 0;
  REQUIRE(store->sync_state().RecordVerify(r).ok());
  // A later verify of a scope replaces its row.
  clock.Advance(std::chrono::minutes(5));
  r.resource = "messages";
  r.missing = 1;
  r.repaired = 1;
  r.remaining = 0;
  REQUIRE(store->sync_state().RecordVerify(r).ok());

  auto kept = store->sync_state().VerifyRecords();
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 2);
  CHECK((*kept)[0].resource == "messages");  // messages before contacts
  CHECK((*kept)[0].repaired == 1);
  CHECK((*kept)[0].remaining == 0);
  CHECK((*kept)[0].verified_at == "2026-03-01T00:05:00.0000000Z");
  CHECK((*kept)[1].resource == "contacts");
  CHECK((*kept)[1].verified_at == "2026-03-01T00:00:00.0000000Z");
}

}  // namespace
}  // namespace graphmirror::sync
