// Containers: the mail folders (and the other containers a description adds) mirrored
// whole on the first pass, then kept by their delta rounds: created, renamed, recounted
// and deleted folders, and an expired token.

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <string>

#include "engine/sync/collection_sync.h"
#include "engine/sync/delta.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/mirror_compare.h"

namespace graphmirror::test {
namespace {

graphsim::Options SmallTenant() {
  graphsim::Options o;
  o.users = 2;
  o.messages = 12;
  o.events = 4;
  o.contacts = 4;
  return o;
}

void RequireSameContainers(SimFixture& f, const std::vector<std::string>& tables) {
  auto mismatches =
      convergence::CompareContainers(f.sim(), f.dir().Path("mirror.db"), f.sim().UserIds(), tables);
  INFO(convergence::Describe(mismatches));
  REQUIRE(mismatches.empty());
}

std::string Column(SimFixture& f, const std::string& sql, const std::string& user) {
  SQLite::Database db(f.dir().Path("mirror.db"));
  SQLite::Statement q(db, sql);
  q.bind(1, user);
  return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
}

}  // namespace

TEST_CASE("Mail folders: mirrored whole, then kept by mailFolders/delta", "[containers]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/3);  // folder rounds of several pages
  const std::string user = f.sim().UserIds()[0];
  const std::string projects = f.sim().CreateMailFolder(user, "inbox", "Projects");
  const std::string old = f.sim().CreateMailFolder(user, "", "Old");
  REQUIRE(!projects.empty());
  REQUIRE(!old.empty());

  for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  RequireSameContainers(f, {"mail_folders"});
  CHECK(Column(f,
               "SELECT display_name FROM mail_folders WHERE user_id = ? AND "
               "well_known_name = 'inbox'",
               user) == "Inbox");
  CHECK(Column(f, "SELECT count(*) FROM mail_folders WHERE user_id = ? AND is_search_folder = 1",
               user) == "1");
  CHECK(Column(f, "SELECT count(*) FROM mail_folders WHERE user_id = ? AND is_hidden = 1", user) ==
        "1");

  // A new folder, a rename, a count change (a message arrives), a deletion.
  const std::string clients = f.sim().CreateMailFolder(user, projects, "Clients");
  REQUIRE(f.sim().RenameMailFolder(user, projects, "Projects 2026"));
  REQUIRE(!f.sim().CreateItem(user, "messages", R"({"subject":"hello"})", clients).empty());
  REQUIRE(f.sim().DeleteMailFolder(user, old));
  sync::DeltaStats stats = f.DeltaPass(config, user, Collection::kMessages);
  CHECK(stats.container_removed == 1);
  CHECK(stats.container_rows >= 2);  // the new folder and the renamed one, at least
  RequireSameContainers(f, {"mail_folders"});
  CHECK(Column(f,
               "SELECT parent_id FROM mail_folders WHERE user_id = ? AND display_name = 'Clients'",
               user) == projects);

  // An expired token: the folders are read whole again, and what went meanwhile leaves.
  f.sim().ExpireDeltaTokens();
  REQUIRE(f.sim().DeleteMailFolder(user, clients));
  stats = f.DeltaPass(config, user, Collection::kMessages);
  CHECK(stats.container_removed == 1);
  RequireSameContainers(f, {"mail_folders"});
  CHECK(Column(f,
               "SELECT display_name FROM mail_folders WHERE user_id = ? AND "
               "well_known_name = 'inbox'",
               user) == "Inbox");
}

TEST_CASE("Mail folders: a refused folder round fails the pass and writes nothing",
          "[containers]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/50);
  const std::string user = f.sim().UserIds()[0];
  f.sim().SetPermission("Mail.Read", false);
  sync::DeltaSyncer delta(&f.client(), &f.store(), &f.clock(),
                          sync::DeltaOptions::From(config.sync));
  auto pass = delta.Sync(user, Collection::kMessages);
  REQUIRE_FALSE(pass.ok());
  CHECK(pass.status().code() == Status::Code::kPermissionDenied);
  CHECK(pass.status().message().find("mail_folders") != std::string::npos);
  CHECK(Column(f, "SELECT count(*) FROM mail_folders WHERE user_id = ?", user) == "0");
}

TEST_CASE("Contact folders: mirrored whole, then kept by contactFolders/delta", "[containers]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/2);
  const std::string user = f.sim().UserIds()[0];
  const std::string work = f.sim().CreateContactFolder(user, "", "Work");
  const std::string team = f.sim().CreateContactFolder(user, work, "Team");
  const std::string old = f.sim().CreateContactFolder(user, "", "Old");
  REQUIRE(!old.empty());
  for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  RequireSameContainers(f, {"contact_folders"});
  CHECK(Column(f, "SELECT count(*) FROM contact_folders WHERE user_id = ?", user) == "3");

  REQUIRE(f.sim().RenameContactFolder(user, team, "Team 2026"));
  REQUIRE(f.sim().DeleteContactFolder(user, old));
  const std::string added = f.sim().CreateContactFolder(user, team, "Partners");
  REQUIRE(!added.empty());
  sync::DeltaStats stats = f.DeltaPass(config, user, Collection::kContacts);
  CHECK(stats.container_removed == 1);
  CHECK(stats.container_rows == 2);  // the renamed folder and the new one
  RequireSameContainers(f, {"contact_folders"});
  CHECK(Column(f,
               "SELECT parent_id FROM contact_folders WHERE user_id = ? AND "
               "display_name = 'Partners'",
               user) == team);
}

TEST_CASE("Calendars: read whole at every events pass; gone ones leave", "[containers]") {
  SimFixture f(SmallTenant());
  config::Config config = f.Config(/*page_size=*/50);
  const std::string user = f.sim().UserIds()[0];
  // More calendars than graphsim puts on a page: the list is followed to its end.
  std::vector<std::string> made;
  for (int i = 0; i < 12; ++i) {
    made.push_back(f.sim().CreateCalendar(user, "Team " + std::to_string(i)));
    REQUIRE(!made.back().empty());
  }
  for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
    INFO(r.user_id << " " << CollectionName(r.collection) << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
  }
  RequireSameContainers(f, {"calendars"});
  CHECK(Column(f, "SELECT count(*) FROM calendars WHERE user_id = ?", user) == "13");
  CHECK(Column(f, "SELECT name FROM calendars WHERE user_id = ? AND is_default = 1", user) ==
        f.sim().Calendars(user).front().name);

  REQUIRE(f.sim().RenameCalendar(user, made[0], "Renamed"));
  REQUIRE(f.sim().DeleteCalendar(user, made[1]));
  sync::DeltaStats stats = f.DeltaPass(config, user, Collection::kEvents);
  CHECK(stats.container_removed == 1);
  RequireSameContainers(f, {"calendars"});
  CHECK(Column(f, "SELECT change_key FROM calendars WHERE user_id = ? AND name = 'Renamed'",
               user) == f.sim().Calendars(user)[1].change_key);
}

}  // namespace graphmirror::test
