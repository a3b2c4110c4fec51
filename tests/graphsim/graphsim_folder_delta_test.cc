// Mail folders created, renamed and deleted through the C++ API, and the folder delta
// functions: "mailFolder: delta" (GET /users/{id}/mailFolders/delta) and "contactFolder:
// delta" (GET /users/{id}/contactFolders/delta): a flat round over every folder, paged to a
// deltaLink, then the folders changed since, removed ones as @removed.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

struct FolderRound {
  std::vector<Json> items;
  std::vector<size_t> page_sizes;
  std::string delta_link;
};

// Follows a round from `first` (a path or an absolute link) to its deltaLink, checking the
// links' shape on the way.
FolderRound Round(SimFixture& f, const std::string& first, int max_page_size = 0) {
  httplib::Headers headers;
  if (max_page_size > 0) {
    headers.emplace("Prefer", "odata.maxpagesize=" + std::to_string(max_page_size));
  }
  FolderRound round;
  std::string link = first;
  const std::string base = f.server().base_url();
  for (int guard = 0; guard < 100; ++guard) {
    Reply r = f.Get(link.rfind("http", 0) == 0 ? link.substr(base.size()) : link, headers);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    if (max_page_size > 0) {
      CHECK(r.Header("Preference-Applied") == "odata.maxpagesize=" + std::to_string(max_page_size));
    }
    round.page_sizes.push_back(r.body["value"].size());
    for (const Json& item : r.body["value"]) round.items.push_back(item);
    if (r.body.contains("@odata.deltaLink")) {
      CHECK_FALSE(r.body.contains("@odata.nextLink"));
      round.delta_link = r.body["@odata.deltaLink"];
      CHECK(round.delta_link.find("?$deltatoken=") != std::string::npos);
      return round;
    }
    link = r.body["@odata.nextLink"];
    CHECK(link.find("?$skiptoken=") != std::string::npos);
  }
  FAIL("folder round did not end");
  return round;
}

std::map<std::string, Json> Present(const std::vector<Json>& items) {
  std::map<std::string, Json> out;
  for (const Json& item : items) {
    if (!item.contains("@removed")) out[item["id"].get<std::string>()] = item;
  }
  return out;
}

std::set<std::string> Removed(const std::vector<Json>& items) {
  std::set<std::string> out;
  for (const Json& item : items) {
    if (item.contains("@removed")) {
      CHECK(item == Json{{"id", item["id"]}, {"@removed", {{"reason", "deleted"}}}});
      out.insert(item["id"].get<std::string>());
    }
  }
  return out;
}

std::set<std::string> Keys(const Json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

const std::set<std::string> kMailFolderKeys = {"id",
                                               "displayName",
                                               "parentFolderId",
                                               "childFolderCount",
                                               "unreadItemCount",
                                               "totalItemCount",
                                               "isHidden"};

TEST_CASE("folders: mail folders created, renamed and deleted through the C++ API",
          "[graphsim][folders]") {
  SimFixture f;
  Webhook hook;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();
  const std::vector<graphsim::MailFolderState> seeded = sim.MailFolders(user);
  REQUIRE(seeded.size() == 7);
  const std::string root = seeded[0].parent_folder_id;

  const std::string projects = sim.CreateMailFolder(user, "", "Projects");
  REQUIRE(!projects.empty());
  const std::string alpha = sim.CreateMailFolder(user, projects, "Alpha");
  REQUIRE(!alpha.empty());
  CHECK(sim.CreateMailFolder(user, "", "projects").empty());        // a same-named sibling
  CHECK(sim.CreateMailFolder(user, "", "").empty());                // no name
  CHECK(sim.CreateMailFolder(user, "AAMkADnope", "X").empty());     // no such parent
  CHECK(sim.CreateMailFolder(user, seeded[6].id, "X").empty());     // under the search folder
  CHECK(!sim.CreateMailFolder(user, "inbox", "Projects").empty());  // same name, other parent
  const std::string secret = sim.CreateMailFolder(user, "", "Secret", /*hidden=*/true);
  REQUIRE(!secret.empty());

  // Over HTTP, documented but not served: 501 (tests use the C++ API).
  CheckError(f.Post(base + "/mailFolders", Json{{"displayName", "X"}}), 501, "NotImplemented");
  CheckError(
      f.Post(base + "/mailFolders/" + projects + "/childFolders", Json{{"displayName", "X"}}), 501,
      "NotImplemented");
  CheckError(f.Patch(base + "/mailFolders/" + projects, Json{{"displayName", "X"}}), 501,
             "NotImplemented");
  CheckError(f.Delete(base + "/mailFolders/" + projects), 501, "NotImplemented");

  // Listed where they are, as the seeded folders are; seeded ids are unchanged.
  Reply top = f.Get(base + "/mailFolders");
  REQUIRE(top.status == 200);
  std::map<std::string, Json> listed;
  for (const Json& folder : top.body["value"]) listed[folder["displayName"]] = folder;
  REQUIRE(listed.count("Projects") == 1);
  CHECK(listed.count("Secret") == 0);
  CHECK(listed["Projects"] == Json{{"id", projects},
                                   {"displayName", "Projects"},
                                   {"parentFolderId", root},
                                   {"childFolderCount", 1},
                                   {"unreadItemCount", 0},
                                   {"totalItemCount", 0},
                                   {"isHidden", false}});
  CHECK(listed["Inbox"]["id"] == seeded[0].id);
  CHECK(listed["Inbox"]["childFolderCount"] == 2);  // the search folder and "Projects"
  Reply hidden = f.Get(base + "/mailFolders?includeHiddenFolders=true");
  bool found_secret = false;
  for (const Json& folder : hidden.body["value"]) {
    if (folder["id"] == secret) found_secret = folder["isHidden"] == true;
  }
  CHECK(found_secret);
  Reply children = f.Get(base + "/mailFolders/" + projects + "/childFolders");
  REQUIRE(children.body["value"].size() == 1);
  CHECK(children.body["value"][0]["id"] == alpha);
  CHECK(children.body["value"][0]["parentFolderId"] == projects);

  // Messages are created in and moved to a new folder; its messages list and delta work.
  Reply sub = f.Post("/v1.0/subscriptions", Json{{"changeType", "created,updated,deleted"},
                                                 {"notificationUrl", hook.url()},
                                                 {"resource", "/users/" + user + "/messages"},
                                                 {"expirationDateTime", "2026-01-02T12:00:00Z"}});
  REQUIRE(sub.status == 201);
  const std::string created =
      sim.CreateItem(user, "messages", R"({"subject":"in alpha","isRead":false})", alpha);
  REQUIRE(!created.empty());
  CHECK(f.Get(base + "/messages/" + created).body["parentFolderId"] == alpha);
  const std::string inbox_message =
      f.Get(base + "/mailFolders/inbox/messages?$top=1").body["value"][0]["id"].get<std::string>();
  Reply moved = f.Post(base + "/messages/" + inbox_message + "/move", {{"destinationId", alpha}});
  REQUIRE(moved.status == 201);
  CHECK(moved.body["parentFolderId"] == alpha);
  const std::string moved_id = moved.body["id"];
  Reply alpha_messages = f.Get(base + "/mailFolders/" + alpha + "/messages");
  CHECK(alpha_messages.body["value"].size() == 2);
  Reply alpha_folder = f.Get(base + "/mailFolders/" + alpha);
  CHECK(alpha_folder.body["totalItemCount"] == 2);
  CHECK(alpha_folder.body["unreadItemCount"] == 1 + (moved.body["isRead"] == false ? 1 : 0));
  Reply alpha_delta = f.Get(base + "/mailFolders/" + alpha + "/messages/delta");
  REQUIRE(alpha_delta.status == 200);
  std::set<std::string> in_delta;
  for (const Json& m : alpha_delta.body["value"]) in_delta.insert(m["id"].get<std::string>());
  CHECK(in_delta == std::set<std::string>{created, moved_id});

  // Renamed: a new name, not a sibling's, never a well-known folder's.
  REQUIRE(sim.RenameMailFolder(user, alpha, "Alpha 2"));
  CHECK(f.Get(base + "/mailFolders/" + alpha).body["displayName"] == "Alpha 2");
  CHECK(!sim.RenameMailFolder(user, "inbox", "Mail"));
  CHECK(!sim.RenameMailFolder(user, seeded[0].id, "Mail"));
  const std::string beta = sim.CreateMailFolder(user, projects, "Beta");
  CHECK(!sim.RenameMailFolder(user, beta, "alpha 2"));
  CHECK(!sim.RenameMailFolder(user, beta, ""));

  // Deleted: with the folders under it and their messages (deletes for notifications).
  CHECK(!sim.DeleteMailFolder(user, "inbox"));
  CHECK(!sim.DeleteMailFolder(user, seeded[3].id));  // Deleted Items
  REQUIRE(sim.DeleteMailFolder(user, projects));
  CHECK(!sim.DeleteMailFolder(user, projects));
  for (const std::string& gone : {projects, alpha, beta}) {
    CheckError(f.Get(base + "/mailFolders/" + gone), 404, "ErrorItemNotFound");
    CheckError(f.Get(base + "/mailFolders/" + gone + "/messages/delta"), 404, "ErrorItemNotFound");
    CheckError(f.Get(base + "/mailFolders/" + gone + "/childFolders"), 404, "ErrorItemNotFound");
  }
  CheckError(f.Get(base + "/messages/" + created), 404, "ErrorItemNotFound");
  CheckError(f.Get(base + "/messages/" + moved_id), 404, "ErrorItemNotFound");
  CHECK(sim.CreateItem(user, "messages", R"({"subject":"x"})", alpha).empty());
  sim.PumpDeliveries();
  std::multiset<std::string> heard;
  for (const auto& n : sim.AckedNotifications()) heard.insert(n.change_type + " " + n.resource_id);
  CHECK(heard.count("deleted " + created) == 1);
  CHECK(heard.count("deleted " + moved_id) == 1);
  Reply after = f.Get(base + "/mailFolders");
  for (const Json& folder : after.body["value"]) CHECK(folder["id"] != projects);

  // The truth: what the routes serve.
  std::vector<graphsim::MailFolderState> truth = sim.MailFolders(user);
  REQUIRE(truth.size() == 9);  // 7 seeded, "Projects" under the Inbox, "Secret"
  for (size_t i = 0; i < 7; ++i) CHECK(truth[i].id == seeded[i].id);
  for (const graphsim::MailFolderState& t : truth) {
    Reply got = f.Get(base + "/mailFolders/" + t.id);
    REQUIRE(got.status == 200);
    CHECK(got.body["displayName"] == t.display_name);
    CHECK(got.body["parentFolderId"] == t.parent_folder_id);
    CHECK(got.body["childFolderCount"] == t.child_folder_count);
    CHECK(got.body["totalItemCount"] == t.total_item_count);
    CHECK(got.body["unreadItemCount"] == t.unread_item_count);
    CHECK(got.body["isHidden"] == t.is_hidden);
    CHECK(got.body.contains("@odata.type") == t.is_search_folder);
  }
  CHECK(truth[0].well_known_name == "inbox");
  CHECK(truth[5].is_hidden);
  CHECK(truth[6].is_search_folder);
}

TEST_CASE("folder delta: mailFolders/delta lists every mail folder in one flat round",
          "[graphsim][folders][delta]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();
  const std::string projects = sim.CreateMailFolder(user, "", "Projects");
  const std::string alpha = sim.CreateMailFolder(user, projects, "Alpha");
  const std::string deep = sim.CreateMailFolder(user, alpha, "Deep");
  REQUIRE(!deep.empty());

  // 10 folders, 3 a page: 4 pages, the last with the deltaLink.
  FolderRound round = Round(f, base + "/mailFolders/delta", 3);
  CHECK(round.page_sizes == std::vector<size_t>{3, 3, 3, 1});
  std::map<std::string, Json> items = Present(round.items);
  CHECK(items.size() == 10);
  CHECK(round.items.size() == 10);
  const std::vector<graphsim::MailFolderState> truth = sim.MailFolders(user);
  REQUIRE(truth.size() == 10);
  for (const graphsim::MailFolderState& t : truth) {
    INFO(t.display_name);
    REQUIRE(items.count(t.id) == 1);
    const Json& item = items[t.id];
    CHECK(item["displayName"] == t.display_name);
    CHECK(item["parentFolderId"] == t.parent_folder_id);
    CHECK(item["childFolderCount"] == t.child_folder_count);
    CHECK(item["unreadItemCount"] == t.unread_item_count);
    CHECK(item["totalItemCount"] == t.total_item_count);
    CHECK(item["isHidden"] == t.is_hidden);
    // As GET mailFolders/{id} serves it.
    Reply got = f.Get(base + "/mailFolders/" + t.id);
    Json expected = got.body;
    expected.erase("@odata.context");
    CHECK(item == expected);
    if (t.is_search_folder) {
      CHECK(item["@odata.type"] == "#microsoft.graph.mailSearchFolder");
    } else {
      CHECK(Keys(item) == kMailFolderKeys);
    }
  }
  CHECK(items[deep]["parentFolderId"] == alpha);
  CHECK(items[alpha]["parentFolderId"] == projects);
  CHECK(items[alpha]["childFolderCount"] == 1);
  // Hidden folders and the search folder are in the round.
  int hidden = 0, search = 0;
  for (const auto& [id, item] : items) {
    hidden += item["isHidden"] == true ? 1 : 0;
    search += item.contains("@odata.type") ? 1 : 0;
  }
  CHECK(hidden == 1);
  CHECK(search == 1);

  // Without the preference: pages of 10.
  sim.CreateMailFolder(user, "", "Eleven");
  sim.CreateMailFolder(user, "", "Twelve");
  Reply first = f.Get(base + "/mailFolders/delta");
  REQUIRE(first.status == 200);
  CHECK(first.body["@odata.context"] ==
        f.server().base_url() + "/v1.0/$metadata#Collection(mailFolder)");
  CHECK(first.body["value"].size() == 10);
  CHECK(first.Header("Preference-Applied").empty());
  REQUIRE(first.body.contains("@odata.nextLink"));
  CHECK(first.body["@odata.nextLink"].get<std::string>().rfind(
            f.server().base_url() + base + "/mailFolders/delta?$skiptoken=", 0) == 0);
  Reply second = f.GetLink(first.body["@odata.nextLink"]);
  CHECK(second.body["value"].size() == 2);
  CHECK(second.body.contains("@odata.deltaLink"));
  CHECK_FALSE(second.body.contains("@odata.nextLink"));
  CHECK(f.Post(base + "/mailFolders/delta", Json::object()).status == 405);
}

TEST_CASE("folder delta: a change round reports created, renamed, recounted and deleted folders",
          "[graphsim][folders][delta]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();
  const std::string projects = sim.CreateMailFolder(user, "", "Projects");
  const std::string alpha = sim.CreateMailFolder(user, projects, "Alpha");
  const std::string deep = sim.CreateMailFolder(user, alpha, "Deep");
  REQUIRE(!sim.CreateItem(user, "messages", R"({"subject":"deep"})", deep).empty());
  const std::string sent_message =
      sim.CreateItem(user, "messages", R"({"subject":"sent"})", "sentitems");
  REQUIRE(!sent_message.empty());
  const std::vector<graphsim::MailFolderState> before = sim.MailFolders(user);
  FolderRound full = Round(f, base + "/mailFolders/delta");
  CHECK(full.items.size() == 10);

  // Nothing changed: an empty page and a new deltaLink.
  FolderRound quiet = Round(f, full.delta_link);
  CHECK(quiet.items.empty());

  auto folder = [&](const std::string& name) {
    for (const auto& t : sim.MailFolders(user)) {
      if (t.display_name == name) return t;
    }
    FAIL("no folder " << name);
    return graphsim::MailFolderState{};
  };
  const graphsim::MailFolderState archive = folder("Archive");
  const graphsim::MailFolderState sent = folder("Sent Items");
  const std::string created = sim.CreateMailFolder(user, "", "New");
  REQUIRE(sim.RenameMailFolder(user, projects, "Projects 2"));
  // A count change: a message created in the Archive.
  REQUIRE(!sim.CreateItem(user, "messages", R"({"subject":"archived"})", "archive").empty());
  // No count change: a subject edited in Sent Items.
  REQUIRE(sim.UpdateItem(user, "messages", sent_message, R"({"subject":"edited"})"));
  // Deleted with the folder under it (and its message); the parent's childFolderCount drops.
  REQUIRE(sim.DeleteMailFolder(user, alpha));
  // Created and deleted within the window: never reported.
  const std::string brief = sim.CreateMailFolder(user, "", "Brief");
  REQUIRE(sim.DeleteMailFolder(user, brief));

  FolderRound changes = Round(f, quiet.delta_link, 2);
  std::map<std::string, Json> present = Present(changes.items);
  CHECK(Removed(changes.items) == std::set<std::string>{alpha, deep});
  std::set<std::string> present_ids;
  for (const auto& [id, item] : present) present_ids.insert(id);
  CHECK(present_ids == std::set<std::string>{created, projects, archive.id});
  CHECK(present[created]["displayName"] == "New");
  CHECK(present[created]["parentFolderId"] == before[0].parent_folder_id);
  CHECK(present[projects]["displayName"] == "Projects 2");
  CHECK(present[projects]["childFolderCount"] == 0);
  CHECK(present[archive.id]["totalItemCount"] == archive.total_item_count + 1);
  CHECK(present.count(sent.id) == 0);
  CHECK(present.count(brief) == 0);
  CHECK(changes.items.size() == 5);

  // Read state moves the unread count: the folder is changed.
  const std::string inbox_message =
      f.Get(base + "/mailFolders/inbox/messages?$top=1&$select=isRead").body["value"][0]["id"];
  const bool was_read = f.Get(base + "/messages/" + inbox_message).body["isRead"].get<bool>();
  REQUIRE(sim.UpdateItem(user, "messages", inbox_message,
                         was_read ? R"({"isRead":false})" : R"({"isRead":true})"));
  FolderRound read = Round(f, changes.delta_link);
  REQUIRE(read.items.size() == 1);
  CHECK(read.items[0]["id"] == folder("Inbox").id);
  CHECK(read.items[0]["unreadItemCount"] == folder("Inbox").unread_item_count);

  // Moving a message changes both folders.
  REQUIRE(!sim.MoveMessage(user, inbox_message, created, false).empty());
  FolderRound move = Round(f, read.delta_link);
  std::set<std::string> moved_ids;
  for (const auto& [id, item] : Present(move.items)) moved_ids.insert(id);
  CHECK(moved_ids == std::set<std::string>{folder("Inbox").id, created});
  CHECK(Round(f, move.delta_link).items.empty());
}

TEST_CASE("folder delta: $select, refused options, tokens, expiry and permissions",
          "[graphsim][folders][delta]") {
  graphsim::Options options = SmallOptions();
  SimFixture f(options);
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();
  const std::string projects = sim.CreateMailFolder(user, "", "Projects");

  // $select: those properties and id (a search folder keeps its @odata.type), kept through
  // the links and into change rounds.
  FolderRound selected = Round(f, base + "/mailFolders/delta?$select=displayName,isHidden", 3);
  CHECK(selected.items.size() == 8);
  for (const Json& item : selected.items) {
    std::set<std::string> keys = Keys(item);
    keys.erase("@odata.type");
    CHECK(keys == std::set<std::string>{"id", "displayName", "isHidden"});
  }
  CHECK(selected.delta_link.find("select") == std::string::npos);
  REQUIRE(sim.RenameMailFolder(user, projects, "Renamed"));
  FolderRound renamed = Round(f, selected.delta_link);
  REQUIRE(renamed.items.size() == 1);
  CHECK(renamed.items[0] ==
        Json{{"id", projects}, {"displayName", "Renamed"}, {"isHidden", false}});

  CheckError(f.Get(base + "/mailFolders/delta?$select=nope"), 400, "BadRequest",
             "Could not find a property named 'nope' on type 'microsoft.graph.mailFolder'.");
  CheckError(f.Get(base + "/contactFolders/delta?$select=totalItemCount"), 400, "BadRequest");
  for (const char* option : {"$top=5", "$filter=isHidden%20eq%20true", "$orderby=displayName",
                             "$expand=childFolders", "$count=true"}) {
    INFO(option);
    CheckError(f.Get(base + "/mailFolders/delta?" + option), 400, "BadRequest");
  }
  CHECK(f.Get(base + "/mailFolders/delta?includeHiddenFolders=false").status == 200);

  // Tokens are the round's: not another kind's, another user's, or garbage.
  const std::string token = renamed.delta_link.substr(renamed.delta_link.find("$deltatoken="));
  CHECK(f.Get(base + "/mailFolders/delta?" + token).status == 200);
  CheckError(f.Get(base + "/contactFolders/delta?" + token), 400, "BadRequest");
  CheckError(f.Get(base + "/mailFolders/inbox/messages/delta?" + token), 400, "BadRequest");
  CheckError(f.Get("/v1.0/users/" + f.user(1) + "/mailFolders/delta?" + token), 400, "BadRequest");
  CheckError(f.Get(base + "/mailFolders/delta?$deltatoken=garbage"), 400, "BadRequest");
  Reply message_round = f.Get(base + "/mailFolders/inbox/messages/delta?$select=subject",
                              {{"Prefer", "odata.maxpagesize=1"}});
  std::string message_link = message_round.body.value("@odata.nextLink", "");
  REQUIRE(!message_link.empty());
  CheckError(
      f.Get(base + "/mailFolders/delta?" + message_link.substr(message_link.find("$skiptoken="))),
      400, "BadRequest");

  // Expired tokens answer as message rounds do: 410 with the fresh first-request URL.
  Reply paged = f.Get(base + "/mailFolders/delta", {{"Prefer", "odata.maxpagesize=2"}});
  const std::string next = paged.body["@odata.nextLink"];
  sim.ExpireDeltaTokens();
  for (const std::string& link : {renamed.delta_link, next}) {
    Reply gone = f.GetLink(link);
    CheckError(gone, 410, "syncStateNotFound");
    CHECK(gone.Header("Location") == f.server().base_url() + base + "/mailFolders/delta");
  }
  FolderRound contacts = Round(f, base + "/contactFolders/delta");
  sim.ExpireDeltaTokens();
  Reply gone = f.GetLink(contacts.delta_link);
  CheckError(gone, 410, "syncStateNotFound");
  CHECK(gone.Header("Location") == f.server().base_url() + base + "/contactFolders/delta");
  // The token lifetime too.
  FolderRound fresh = Round(f, base + "/mailFolders/delta");
  f.clock().Advance(options.delta_token_lifetime + std::chrono::seconds(1));
  f.Refresh();  // the bearer token expired too
  CheckError(f.GetLink(fresh.delta_link), 410, "syncStateNotFound");

  // Permissions: Mail.Read for mail folders, Contacts.Read for contact folders.
  sim.SetPermission("Mail.Read", false);
  CheckError(f.Get(base + "/mailFolders/delta"), 403, "ErrorAccessDenied");
  CHECK(f.Get(base + "/contactFolders/delta").status == 200);
  sim.SetPermission("Mail.ReadWrite", true);
  CHECK(f.Get(base + "/mailFolders/delta").status == 200);
  sim.SetPermission("Contacts.Read", false);
  CheckError(f.Get(base + "/contactFolders/delta"), 403, "ErrorAccessDenied");
}

TEST_CASE("folder delta: the other expired styles answer as message rounds do",
          "[graphsim][folders][delta]") {
  graphsim::Options options = SmallOptions();
  options.delta_expired_style = graphsim::DeltaExpiredStyle::kResyncRequired;
  SimFixture f(options);
  const std::string base = "/v1.0/users/" + f.user(0);
  FolderRound round = Round(f, base + "/mailFolders/delta");
  f.sim().ExpireDeltaTokens();
  Reply gone = f.GetLink(round.delta_link);
  CheckError(gone, 400, "resyncRequired");
  CHECK(gone.Header("Location").empty());
}

TEST_CASE("folder delta: contactFolders/delta lists the folders under the default one",
          "[graphsim][folders][delta]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();
  const std::string default_folder = DefaultContactFolder(f, user);
  FolderRound none = Round(f, base + "/contactFolders/delta");
  CHECK(none.items.empty());

  const std::string work = sim.CreateContactFolder(user, "", "Work");
  const std::string team = sim.CreateContactFolder(user, work, "Team");
  const std::string other = sim.CreateContactFolder(user, "", "Other");
  REQUIRE(!other.empty());
  CHECK(sim.CreateContactFolder(user, "", "work").empty());  // a same-named sibling
  FolderRound round = Round(f, base + "/contactFolders/delta", 2);
  CHECK(round.page_sizes == std::vector<size_t>{2, 1});
  std::map<std::string, Json> items = Present(round.items);
  CHECK(items[work] ==
        Json{{"id", work}, {"displayName", "Work"}, {"parentFolderId", default_folder}});
  CHECK(items[team] == Json{{"id", team}, {"displayName", "Team"}, {"parentFolderId", work}});
  CHECK(items[other]["parentFolderId"] == default_folder);
  CHECK(items.count(default_folder) == 0);
  Reply first = f.Get(base + "/contactFolders/delta");
  CHECK(first.body["@odata.context"] ==
        f.server().base_url() + "/v1.0/$metadata#Collection(contactFolder)");

  // Renamed, created, deleted; a contact created in a folder does not change the folder.
  REQUIRE(sim.RenameContactFolder(user, team, "Team 2"));
  CHECK(!sim.RenameContactFolder(user, default_folder, "Mine"));
  CHECK(!sim.RenameContactFolder(user, other, "Work"));
  const std::string created = sim.CreateContactFolder(user, team, "New");
  REQUIRE(sim.DeleteContactFolder(user, other));
  REQUIRE(!sim.CreateItem(user, "contacts", R"({"givenName":"W"})", work).empty());
  FolderRound changes = Round(f, round.delta_link);
  CHECK(Removed(changes.items) == std::set<std::string>{other});
  std::map<std::string, Json> present = Present(changes.items);
  CHECK(present.size() == 2);
  CHECK(present[team]["displayName"] == "Team 2");
  CHECK(present[created] ==
        Json{{"id", created}, {"displayName", "New"}, {"parentFolderId", team}});
  CHECK(Round(f, changes.delta_link).items.empty());

  // $select keeps id.
  FolderRound selected = Round(f, base + "/contactFolders/delta?$select=parentFolderId");
  for (const Json& item : selected.items) {
    CHECK(Keys(item) == std::set<std::string>{"id", "parentFolderId"});
  }

  // The truth: the default folder first, then the others by creation.
  std::vector<graphsim::ContactFolderState> truth = sim.ContactFolders(user);
  REQUIRE(truth.size() == 4);
  CHECK(truth[0].id == default_folder);
  CHECK(truth[0].is_default);
  CHECK(truth[1].id == work);
  CHECK(truth[2].display_name == "Team 2");
  CHECK(truth[3].id == created);
  CHECK(truth[3].parent_folder_id == team);
}

}  // namespace
}  // namespace graphsim_test
