// Mail folders (hidden folders, search folders) and contact folders (the default one and
// folders under it), as Microsoft's "List mailFolders", "List childFolders",
// "mailSearchFolder resource type", "List contactFolders", "contact: delta" pages say.

#include <set>
#include <string>
#include <vector>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

// Every item of a delta round from `first` (a relative path), following nextLinks; the
// deltaLink in `delta_link`.
std::vector<Json> DeltaRound(SimFixture& f, const std::string& first, std::string* delta_link) {
  std::vector<Json> items;
  Reply r = first.rfind("http", 0) == 0 ? f.GetLink(first) : f.Get(first);
  for (int pages = 0; pages < 100; ++pages) {
    INFO(r.raw);
    REQUIRE(r.status == 200);
    for (const Json& item : r.body["value"]) items.push_back(item);
    if (r.body.contains("@odata.deltaLink")) {
      *delta_link = r.body["@odata.deltaLink"];
      return items;
    }
    r = f.GetLink(r.body["@odata.nextLink"]);
  }
  FAIL("delta round did not end");
  return items;
}

std::set<std::string> PresentIds(const std::vector<Json>& items) {
  std::set<std::string> ids;
  for (const Json& item : items) {
    if (!item.contains("@removed")) ids.insert(item["id"].get<std::string>());
  }
  return ids;
}

std::set<std::string> RemovedIds(const std::vector<Json>& items) {
  std::set<std::string> ids;
  for (const Json& item : items) {
    if (item.contains("@removed")) ids.insert(item["id"].get<std::string>());
  }
  return ids;
}

Json FindByName(const Reply& list, const std::string& name) {
  for (const Json& folder : list.body["value"]) {
    if (folder["displayName"] == name) return folder;
  }
  return Json();
}

TEST_CASE("folders: hidden mail folders are listed only with includeHiddenFolders=true",
          "[graphsim][folders]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  Reply plain = f.Get(base + "/mailFolders");
  REQUIRE(plain.status == 200);
  for (const Json& folder : plain.body["value"]) CHECK(folder["isHidden"] == false);
  CHECK(FindByName(plain, "Hidden Folder").is_null());

  Reply all = f.Get(base + "/mailFolders?includeHiddenFolders=true");
  REQUIRE(all.status == 200);
  CHECK(all.body["value"].size() == plain.body["value"].size() + 1);
  Json hidden = FindByName(all, "Hidden Folder");
  REQUIRE(hidden.is_object());
  CHECK(hidden["isHidden"] == true);
  const std::string hidden_id = hidden["id"];

  // Its messages are in /messages and in its own delta, like any folder's.
  std::string message =
      f.sim().CreateItem(f.user(0), "messages", R"({"subject":"in hiding"})", hidden_id);
  REQUIRE(!message.empty());
  CHECK(f.Get(base + "/messages/" + message).body["parentFolderId"] == hidden_id);
  Reply listed = f.Get(base + "/messages?$top=1000&$select=id");
  std::set<std::string> ids;
  for (const Json& m : listed.body["value"]) ids.insert(m["id"].get<std::string>());
  CHECK(ids.count(message) == 1);
  std::string link;
  CHECK(PresentIds(DeltaRound(f, base + "/mailFolders/" + hidden_id + "/messages/delta", &link)) ==
        std::set<std::string>{message});
  CHECK(f.Get(base + "/mailFolders/" + hidden_id).body["isHidden"] == true);
}

TEST_CASE("folders: a search folder is a childFolder of type mailSearchFolder, with no delta",
          "[graphsim][folders]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  Reply top = f.Get(base + "/mailFolders");
  Json inbox = FindByName(top, "Inbox");
  REQUIRE(inbox.is_object());
  CHECK(inbox["childFolderCount"] == 1);
  for (const Json& folder : top.body["value"]) CHECK(!folder.contains("@odata.type"));

  Reply children = f.Get(base + "/mailFolders/inbox/childFolders");
  REQUIRE(children.status == 200);
  REQUIRE(children.body["value"].size() == 1);
  const Json search = children.body["value"][0];
  CHECK(search["@odata.type"] == "#microsoft.graph.mailSearchFolder");
  CHECK(search["parentFolderId"] == inbox["id"]);
  CHECK(search["filterQuery"].is_string());
  CHECK(search["sourceFolderIds"].is_array());
  const std::string search_id = search["id"];
  CHECK(f.Get(base + "/mailFolders/" + search_id + "/childFolders").body["value"].empty());

  // Not a place for delta, nor for new or moved messages (documentation silent: refused).
  CheckError(f.Get(base + "/mailFolders/" + search_id + "/messages/delta"), 400,
             "ErrorInvalidOperation");
  CHECK(f.sim().CreateItem(f.user(0), "messages", R"({"subject":"x"})", search_id).empty());
  const std::string message = f.sim().ItemIds(f.user(0), "messages").at(0);
  CheckError(f.Post(base + "/messages/" + message + "/move", Json{{"destinationId", search_id}}),
             400, "ErrorInvalidOperation");
}

TEST_CASE("folders: contact folders under the default one, each with its own delta",
          "[graphsim][folders]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  const std::string default_folder = DefaultContactFolder(f, user);

  // No mailbox-wide contact delta in v1.0 ("contact: delta").
  CheckError(f.Get(base + "/contacts/delta"), 400, "BadRequest",
             "Unsupported request: Change tracking is not supported against "
             "'microsoft.graph.contact'.");

  // GET /contactFolders lists the folders in the default folder, not the folder itself.
  Reply none = f.Get(base + "/contactFolders");
  REQUIRE(none.status == 200);
  CHECK(none.body["value"].empty());
  Reply got = f.Get(base + "/contactFolders/" + default_folder);
  REQUIRE(got.status == 200);
  CHECK(got.body["displayName"] == "Contacts");

  const std::string work = f.sim().CreateContactFolder(user, "", "Work");
  const std::string team = f.sim().CreateContactFolder(user, work, "Team");
  REQUIRE(!work.empty());
  REQUIRE(!team.empty());
  Reply top = f.Get(base + "/contactFolders");
  REQUIRE(top.body["value"].size() == 1);
  CHECK(top.body["value"][0]["id"] == work);
  CHECK(top.body["value"][0]["parentFolderId"] == default_folder);
  Reply nested = f.Get(base + "/contactFolders/" + work + "/childFolders");
  REQUIRE(nested.body["value"].size() == 1);
  CHECK(nested.body["value"][0]["id"] == team);
  CHECK(nested.body["value"][0]["parentFolderId"] == work);

  const std::string in_work = f.sim().CreateItem(user, "contacts", R"({"givenName":"W"})", work);
  const std::string in_team = f.sim().CreateItem(user, "contacts", R"({"givenName":"T"})", team);
  REQUIRE(!in_work.empty());
  REQUIRE(!in_team.empty());
  CHECK(f.Get(base + "/contacts/" + in_team).body["parentFolderId"] == team);

  // /contacts lists the default folder only; each folder's delta lists its own contacts.
  std::set<std::string> defaults;
  for (Reply page = f.Get(base + "/contacts");;) {
    INFO(page.raw);
    REQUIRE(page.status == 200);
    for (const Json& c : page.body["value"]) defaults.insert(c["id"].get<std::string>());
    if (!page.body.contains("@odata.nextLink")) break;
    page = f.GetLink(page.body["@odata.nextLink"]);
  }
  CHECK(defaults.size() == 10);
  CHECK(defaults.count(in_work) == 0);
  std::string default_link, work_link, team_link;
  CHECK(PresentIds(DeltaRound(f, base + "/contactFolders/" + default_folder + "/contacts/delta",
                              &default_link)) == defaults);
  CHECK(PresentIds(DeltaRound(f, base + "/contactFolders/" + work + "/contacts/delta",
                              &work_link)) == std::set<std::string>{in_work});
  CHECK(PresentIds(DeltaRound(f, base + "/contactFolders/" + team + "/contacts/delta",
                              &team_link)) == std::set<std::string>{in_team});
  // A token of one folder is refused on another.
  CHECK(f.Get(base + "/contactFolders/" + work + "/contacts/delta?" +
              work_link.substr(work_link.find("$deltatoken=")))
            .status == 200);
  CHECK(f.Get(base + "/contactFolders/" + team + "/contacts/delta?" +
              work_link.substr(work_link.find("$deltatoken=")))
            .status == 400);

  // Changes in a child folder show in its round only.
  REQUIRE(f.sim().UpdateItem(user, "contacts", in_work, R"({"givenName":"W2"})"));
  std::vector<Json> work_changes = DeltaRound(f, work_link, &work_link);
  CHECK(PresentIds(work_changes) == std::set<std::string>{in_work});
  CHECK(DeltaRound(f, default_link, &default_link).empty());
  const std::string default_contact = *defaults.begin();
  REQUIRE(f.sim().DeleteItem(user, "contacts", default_contact));
  CHECK(RemovedIds(DeltaRound(f, default_link, &default_link)) ==
        std::set<std::string>{default_contact});
  CHECK(DeltaRound(f, work_link, &work_link).empty());

  // Deleting a folder deletes the folders under it and their contacts.
  REQUIRE(f.sim().DeleteContactFolder(user, work));
  CHECK(f.Get(base + "/contactFolders").body["value"].empty());
  CheckError(f.Get(base + "/contactFolders/" + team), 404, "ErrorItemNotFound");
  CheckError(f.Get(base + "/contactFolders/" + work + "/contacts/delta"), 404, "ErrorItemNotFound");
  CheckError(f.Get(base + "/contacts/" + in_team), 404, "ErrorItemNotFound");
  CHECK(f.sim().Count(user, "contacts") == 9);
  CHECK(!f.sim().DeleteContactFolder(user, default_folder));
}

TEST_CASE("folders: a subscription on a contact folder hears that folder only",
          "[graphsim][folders]") {
  SimFixture f;
  Webhook hook;
  const std::string user = f.user(0);
  const std::string work = f.sim().CreateContactFolder(user, "", "Work");
  auto subscribe = [&](const std::string& resource) {
    return f.Post("/v1.0/subscriptions", Json{{"changeType", "created,updated,deleted"},
                                              {"notificationUrl", hook.url()},
                                              {"resource", resource},
                                              {"expirationDateTime", "2026-01-02T12:00:00Z"}});
  };
  Reply sub = subscribe("/users/" + user + "/contactFolders/" + work + "/contacts");
  INFO(sub.raw);
  REQUIRE(sub.status == 201);
  CheckError(subscribe("/users/" + user + "/contactFolders/AAMkADnope/contacts"), 404,
             "ErrorItemNotFound");

  const std::string outside = f.sim().CreateItem(user, "contacts", R"({"givenName":"D"})");
  const std::string inside = f.sim().CreateItem(user, "contacts", R"({"givenName":"W"})", work);
  REQUIRE(f.sim().DeleteContactFolder(user, work));
  f.sim().PumpDeliveries();
  std::vector<std::string> heard;
  for (const auto& n : f.sim().AckedNotifications()) {
    heard.push_back(n.change_type + " " + n.resource_id);
  }
  CHECK(heard == std::vector<std::string>{"created " + inside, "deleted " + inside});
  CHECK(!outside.empty());
}

}  // namespace
}  // namespace graphsim_test
