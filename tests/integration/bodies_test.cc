// Message bodies: read as HTML, the form every read serves, and kept as text
// (graph::HtmlToText) in message_bodies, searchable, gone with their message; none kept
// with sync.bodies "none".

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <string>

#include "engine/sync/sync_once.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

graphsim::Options SmallTenant() {
  graphsim::Options o;
  o.users = 1;
  o.messages = 15;
  o.events = 2;
  o.contacts = 2;
  return o;
}

void SyncAll(SimFixture& f, const config::Config& config) {
  for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
}

std::string Query(SimFixture& f, const std::string& sql, const std::string& arg) {
  SQLite::Database db(f.dir().Path("mirror.db"));
  SQLite::Statement q(db, sql);
  q.bind(1, arg);
  return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
}

}  // namespace

TEST_CASE("Bodies: kept as text apart from the json, searchable, gone with the message",
          "[bodies]") {
  SimFixture f(SmallTenant());
  const config::Config config = f.Config(/*page_size=*/4);
  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().CreateItem(
      user, "messages",
      R"({"subject":"quarterly","body":{"contentType":"html",)"
      R"("content":"<html><body><p>The zephyrwombat report</p></body></html>"}})");
  REQUIRE(!id.empty());
  SyncAll(f, config);
  f.RequireExactMirrorOfAll();  // bodies included, compared as text

  CHECK(Query(f, "SELECT count(*) FROM message_bodies WHERE user_id = ?", user) ==
        std::to_string(f.sim().Count(user, "messages")));
  CHECK(Query(f, "SELECT count(*) FROM message_bodies WHERE content_type <> 'text' AND user_id = ?",
              user) == "0");
  CHECK(Query(f,
              "SELECT count(*) FROM messages WHERE json_extract(json, '$.body') IS NOT NULL "
              "AND user_id = ?",
              user) == "0");
  CHECK(Query(f, "SELECT content FROM message_bodies WHERE id = ?", id) ==
        "The zephyrwombat report");
  CHECK(Query(f, "SELECT content FROM message_bodies WHERE id = ?", id).find("<p>") ==
        std::string::npos);

  auto counts = f.store().mirror().BodyCounts();
  REQUIRE(counts.ok());
  REQUIRE(counts->size() == 1);
  CHECK((*counts)[0].user_id == user);
  CHECK((*counts)[0].bodies == static_cast<int64_t>(f.sim().Count(user, "messages")));
  CHECK((*counts)[0].bytes ==
        std::stoll(Query(f,
                         "SELECT sum(length(CAST(content AS BLOB))) FROM message_bodies "
                         "WHERE user_id = ?",
                         user)));
  CHECK((*counts)[0].bytes > (*counts)[0].bodies);

  // The word is only in the body.
  auto hits = f.store().mirror().SearchMessages("zephyrwombat", user, 10);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK((*hits)[0].id == id);
  CHECK((*hits)[0].body_preview.find("[zephyrwombat]") != std::string::npos);

  REQUIRE(f.sim().DeleteItem(user, "messages", id));
  f.clock().Advance(std::chrono::minutes(5));
  SyncAll(f, config);
  CHECK(Query(f, "SELECT count(*) FROM message_bodies WHERE id = ?", id) == "0");
  hits = f.store().mirror().SearchMessages("zephyrwombat", user, 10);
  REQUIRE(hits.ok());
  CHECK(hits->empty());

  // sync.bodies = "none": new messages come without one.
  f.store().SetKeepBodies(false);
  const std::string plain = f.sim().CreateItem(user, "messages", R"({"subject":"later"})");
  f.clock().Advance(std::chrono::minutes(5));
  SyncAll(f, config);
  CHECK(Query(f, "SELECT count(*) FROM messages WHERE id = ?", plain) == "1");
  CHECK(Query(f, "SELECT count(*) FROM message_bodies WHERE id = ?", plain) == "0");
}

}  // namespace graphmirror::test
