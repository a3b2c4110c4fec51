// Folders the mirror must follow one by one: contacts in every contact folder (Graph has
// contact delta per folder only), messages in hidden mail folders (listed only with
// includeHiddenFolders=true), and search folders, which are saved queries and no scope.

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/sync/collection_sync.h"
#include "engine/sync/delta.h"
#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {
namespace {

using Json = nlohmann::json;

graphsim::Options SmallTenant() {
  graphsim::Options o;
  o.users = 2;
  o.messages = 20;
  o.events = 5;
  o.contacts = 8;
  return o;
}

void SyncAll(SimFixture& f, const config::Config& config) {
  sync::CollectionSync sync(config, &f.client(), &f.store(), &f.clock());
  for (const auto& r : sync::SyncAllOnce(config, &sync, &f.store())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
}

std::string ContactFolderOf(SimFixture& f, const std::string& user, const std::string& id) {
  SQLite::Database db(f.dir().Path("mirror.db"));
  SQLite::Statement q(db,
                      "SELECT coalesce(folder_id, '') FROM contacts WHERE user_id = ? AND id = ?");
  q.bind(1, user);
  q.bind(2, id);
  return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
}

Json GetJson(SimFixture& f, const std::string& user, const std::string& path) {
  auto response = f.client().Get(user, "/users/" + user + path);
  REQUIRE(response.ok());
  return Json::parse(response->body);
}

}  // namespace

TEST_CASE("Contacts of every contact folder are mirrored, changes and deletions seen",
          "[folders]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/3);
  const std::string user = f.sim().UserIds()[0];
  const std::string work = f.sim().CreateContactFolder(user, "", "Work");
  const std::string team = f.sim().CreateContactFolder(user, work, "Team");
  REQUIRE(!team.empty());
  const std::string in_work = f.sim().CreateItem(user, "contacts", R"({"givenName":"W"})", work);
  const std::string in_team = f.sim().CreateItem(user, "contacts", R"({"givenName":"T"})", team);
  const std::string gone = f.sim().CreateItem(user, "contacts", R"({"givenName":"G"})", work);

  SyncAll(f, config);
  f.RequireExactMirrorOfAll();
  CHECK(ContactFolderOf(f, user, in_work) == work);
  CHECK(ContactFolderOf(f, user, in_team) == team);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE folder_id IS NULL") == 0);

  // Changes made while nothing listened: the delta pass alone sees them.
  f.clock().Advance(std::chrono::minutes(5));
  REQUIRE(f.sim().UpdateItem(user, "contacts", in_team, R"({"givenName":"T2"})"));
  REQUIRE(f.sim().DeleteItem(user, "contacts", gone));
  const std::string default_contact = f.sim().ItemIds(user, "contacts").at(0);
  REQUIRE(f.sim().DeleteItem(user, "contacts", default_contact));
  const std::string late = f.sim().CreateItem(user, "contacts", R"({"givenName":"L"})", team);
  f.clock().Advance(std::chrono::minutes(5));
  sync::DeltaStats stats = f.DeltaPass(config, user, Collection::kContacts);
  CHECK(stats.scopes == 3);
  CHECK(stats.removed == 2);
  f.RequireExactMirror(user, Collection::kContacts);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE json LIKE '%\"T2\"%'") == 1);
  CHECK(ContactFolderOf(f, user, late) == team);

  // A deleted folder (and the one under it): their contacts leave the mirror.
  f.clock().Advance(std::chrono::minutes(5));
  REQUIRE(f.sim().DeleteContactFolder(user, work));
  f.clock().Advance(std::chrono::minutes(5));
  f.DeltaPass(config, user, Collection::kContacts);
  f.RequireExactMirror(user, Collection::kContacts);
  CHECK(ContactFolderOf(f, user, in_team) == "(no row)");
  CHECK(f.QueryInt("SELECT count(*) FROM delta_links WHERE collection = 'contacts' AND scope = '" +
                   work + "'") == 0);
}

TEST_CASE("Messages of hidden mail folders are mirrored; a search folder is no delta scope",
          "[folders]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/5);
  const std::string user = f.sim().UserIds()[0];
  std::string hidden_id, search_id;
  const Json top = GetJson(f, user, "/mailFolders?includeHiddenFolders=true");
  for (const Json& folder : top["value"]) {
    if (folder["isHidden"] == true) hidden_id = folder["id"];
  }
  const Json inbox_children = GetJson(f, user, "/mailFolders/inbox/childFolders");
  for (const Json& folder : inbox_children["value"]) {
    if (folder.value("@odata.type", "") == "#microsoft.graph.mailSearchFolder") {
      search_id = folder["id"];
    }
  }
  REQUIRE(!hidden_id.empty());
  REQUIRE(!search_id.empty());
  const std::string kept =
      f.sim().CreateItem(user, "messages", R"({"subject":"kept hidden"})", hidden_id);
  const std::string deleted =
      f.sim().CreateItem(user, "messages", R"({"subject":"deleted hidden"})", hidden_id);

  SyncAll(f, config);
  f.RequireExactMirrorOfAll();
  CHECK(f.QueryInt("SELECT count(*) FROM delta_links WHERE collection = 'messages' AND scope = '" +
                   hidden_id + "'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM delta_links WHERE scope = '" + search_id + "'") == 0);

  // Only a round over the hidden folder sees a deletion there.
  f.clock().Advance(std::chrono::minutes(5));
  REQUIRE(f.sim().DeleteItem(user, "messages", deleted));
  const std::string added =
      f.sim().CreateItem(user, "messages", R"({"subject":"added hidden"})", hidden_id);
  f.clock().Advance(std::chrono::minutes(5));
  sync::DeltaStats stats = f.DeltaPass(config, user, Collection::kMessages);
  CHECK(stats.removed == 1);
  f.RequireExactMirror(user, Collection::kMessages);
  CHECK(!kept.empty());
  CHECK(!added.empty());
}

}  // namespace graphmirror::test
