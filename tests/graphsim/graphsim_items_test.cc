// graphsim's resources over HTTP: users, mail folders, messages, events, contacts; create,
// read, update, delete, move; the direct C++ API; deterministic seeding.

#include <catch2/catch.hpp>
#include <set>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

bool IsSecondsZ(const std::string& s) {  // "2026-01-01T10:00:00Z"
  return s.size() == 20 && s[10] == 'T' && s.back() == 'Z';
}
bool IsTicksZ(const std::string& s) {  // "2026-01-01T10:00:00.1234567Z"
  return s.size() == 28 && s[19] == '.' && s.back() == 'Z';
}

TEST_CASE("users: list, by id, by UPN in any case, unknown", "[graphsim][items]") {
  SimFixture f;
  Reply list = f.Get("/v1.0/users");
  REQUIRE(list.status == 200);
  REQUIRE(list.body["value"].size() == 2);
  const Json& first = list.body["value"][0];
  CHECK(first["id"] == f.user(0));
  std::string upn = first["userPrincipalName"];
  CHECK(first["mail"] == upn);
  CHECK(first.contains("displayName"));

  std::string upper = upn;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Reply by_upn = f.Get("/v1.0/users/" + upper + "/messages?$top=1");
  CHECK(by_upn.status == 200);
  Reply user = f.Get("/v1.0/users/" + f.user(0));
  CHECK(user.status == 200);
  CHECK(user.body["userPrincipalName"] == upn);

  Reply unknown_mailbox = f.Get("/v1.0/users/nobody@graphsim.onmicrosoft.com/messages");
  CHECK(unknown_mailbox.status == 404);
  CHECK(unknown_mailbox.body["error"]["code"] == "ErrorInvalidUser");
  Reply unknown_user = f.Get("/v1.0/users/00000000-0000-0000-0000-000000000000");
  CHECK(unknown_user.status == 404);
  CHECK(unknown_user.body["error"]["code"] == "Request_ResourceNotFound");
  CHECK(f.Get("/v1.0/me/messages").status == 400);
  Reply garbage = f.Get("/v1.0/users/%FF%FE/messages");  // invalid UTF-8, echoed safely
  CHECK(garbage.status == 404);
  CHECK(garbage.body["error"]["code"] == "ErrorInvalidUser");
}

TEST_CASE("mail folders by well-known name and id", "[graphsim][items]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(0);
  Reply folders = f.Get(base + "/mailFolders");
  REQUIRE(folders.status == 200);
  std::set<std::string> names;
  size_t total = 0;
  for (const Json& folder : folders.body["value"]) {
    names.insert(folder["displayName"]);
    total += folder["totalItemCount"].get<size_t>();
    Reply by_id = f.Get(base + "/mailFolders/" + folder["id"].get<std::string>());
    CHECK(by_id.status == 200);
  }
  CHECK(names ==
        std::set<std::string>{"Inbox", "Drafts", "Sent Items", "Deleted Items", "Archive"});
  CHECK(total == 30);
  Reply inbox = f.Get(base + "/mailFolders/Inbox");
  REQUIRE(inbox.status == 200);
  Reply inbox_messages = f.Get(base + "/mailFolders/inbox/messages?$top=100");
  REQUIRE(inbox_messages.status == 200);
  CHECK(inbox_messages.body["value"].size() == inbox.body["totalItemCount"].get<size_t>());
  for (const Json& m : inbox_messages.body["value"]) CHECK(m["parentFolderId"] == inbox.body["id"]);
  CHECK(f.Get(base + "/mailFolders/nosuchfolder/messages").status == 404);
}

TEST_CASE("messages: create, get, patch, delete with Graph's shapes", "[graphsim][items]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(0);
  Json fields = {{"subject", "Hello"},
                 {"body", {{"contentType", "html"}, {"content", "<p>Hi <b>there</b></p>"}}},
                 {"toRecipients", {{{"emailAddress", {{"name", "A"}, {"address", "a@x.com"}}}}}}};
  Reply created = f.Post(base + "/messages", fields);
  REQUIRE(created.status == 201);
  const Json& m = created.body;
  std::string id = m["id"];
  CHECK(m["subject"] == "Hello");
  CHECK(m["bodyPreview"] == "Hi there");
  CHECK(m["isDraft"] == true);
  CHECK(m["createdDateTime"] == "2026-01-01T12:00:00Z");
  CHECK(m["lastModifiedDateTime"] == "2026-01-01T12:00:00Z");
  CHECK(IsSecondsZ(m["receivedDateTime"]));
  CHECK(m["@odata.etag"] == "W/\"" + m["changeKey"].get<std::string>() + "\"");
  for (const char* key :
       {"categories", "sentDateTime", "hasAttachments", "internetMessageId", "importance",
        "conversationId", "isRead", "from", "sender", "ccRecipients", "toRecipients"}) {
    CHECK(m.contains(key));
  }
  Reply drafts = f.Get(base + "/mailFolders/drafts");
  CHECK(m["parentFolderId"] == drafts.body["id"]);

  Reply got = f.Get(base + "/messages/" + id);
  REQUIRE(got.status == 200);
  CHECK(got.body["subject"] == "Hello");
  CHECK(got.body["@odata.context"].get<std::string>().find("/$metadata#users('") !=
        std::string::npos);

  f.clock().Advance(std::chrono::milliseconds(1500));
  Reply patched = f.Patch(base + "/messages/" + id, {{"subject", "Changed"}, {"isRead", false}});
  REQUIRE(patched.status == 200);
  CHECK(patched.body["subject"] == "Changed");
  CHECK(patched.body["isRead"] == false);
  CHECK(patched.body["lastModifiedDateTime"] == "2026-01-01T12:00:01Z");  // second precision
  CHECK(patched.body["createdDateTime"] == "2026-01-01T12:00:00Z");
  CHECK(patched.body["changeKey"] != m["changeKey"]);
  CHECK(patched.body["@odata.etag"] != m["@odata.etag"]);
  CHECK(patched.body["id"] == id);

  Reply bad_field = f.Patch(base + "/messages/" + id, {{"noSuchProperty", 1}});
  CHECK(bad_field.status == 400);
  CHECK(bad_field.body["error"]["code"] == "RequestBodyRead");
  Reply bad_type = f.Patch(base + "/messages/" + id, {{"isRead", "yes"}});
  CHECK(bad_type.status == 400);
  Reply bad_json = SimFixture::ToReply(
      f.client().Post((base + "/messages").c_str(), f.Auth(), "{not json", "application/json"));
  CHECK(bad_json.status == 400);

  CHECK(f.Delete(base + "/messages/" + id).status == 204);
  Reply gone = f.Get(base + "/messages/" + id);
  CHECK(gone.status == 404);
  CHECK(gone.body["error"]["code"] == "ErrorItemNotFound");
  CHECK(f.Delete(base + "/messages/" + id).status == 404);
  CHECK(f.Get(base + "/messages/not!an!id").status == 400);

  // Creating in a folder puts it there.
  Reply in_inbox = f.Post(base + "/mailFolders/inbox/messages", {{"subject", "Inbox draft"}});
  REQUIRE(in_inbox.status == 201);
  CHECK(in_inbox.body["parentFolderId"] == f.Get(base + "/mailFolders/inbox").body["id"]);
}

TEST_CASE("events and contacts: shapes and CRUD", "[graphsim][items]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(1);
  Reply event =
      f.Post(base + "/events",
             {{"subject", "Planning"},
              {"start", {{"dateTime", "2026-01-05T10:00:00.0000000"}, {"timeZone", "UTC"}}},
              {"end", {{"dateTime", "2026-01-05T11:00:00.0000000"}, {"timeZone", "UTC"}}},
              {"location", {{"displayName", "Room 1"}}}});
  REQUIRE(event.status == 201);
  CHECK(IsTicksZ(event.body["createdDateTime"]));
  CHECK(event.body["createdDateTime"] == "2026-01-01T12:00:00.0000000Z");
  CHECK(event.body["start"]["dateTime"] == "2026-01-05T10:00:00.0000000");
  CHECK(event.body["organizer"]["emailAddress"].contains("address"));
  for (const char* key : {"id", "changeKey", "@odata.etag", "bodyPreview", "isAllDay", "attendees",
                          "lastModifiedDateTime", "end", "location"}) {
    CHECK(event.body.contains(key));
  }
  std::string event_id = event.body["id"];
  CHECK(f.Get(base + "/calendar/events/" + event_id).status == 200);
  CHECK(f.Patch(base + "/events/" + event_id, {{"subject", "Replanned"}}).body["subject"] ==
        "Replanned");

  Reply contact = f.Post(base + "/contacts",
                         {{"givenName", "Ada"},
                          {"surname", "Lovelace"},
                          {"emailAddresses", {{{"name", "Ada"}, {"address", "ada@example.com"}}}},
                          {"businessPhones", {"+1 555 0100"}}});
  REQUIRE(contact.status == 201);
  CHECK(contact.body["displayName"] == "Ada Lovelace");
  CHECK(contact.body["mobilePhone"].is_null());
  for (const char* key : {"companyName", "parentFolderId", "createdDateTime", "changeKey"}) {
    CHECK(contact.body.contains(key));
  }
  Reply folder =
      f.Get(base + "/contactFolders/" + contact.body["parentFolderId"].get<std::string>());
  REQUIRE(folder.status == 200);
  CHECK(folder.body["displayName"] == "Contacts");
  std::string contact_id = contact.body["id"];
  CHECK(f.Delete(base + "/contacts/" + contact_id).status == 204);
  CHECK(f.sim().Count(f.user(1), "contacts") == 10);
  CHECK(f.sim().Count(f.user(1), "events") == 11);
}

TEST_CASE("move changes the id unless Prefer: IdType=\"ImmutableId\"", "[graphsim][items]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(0);
  std::string archive_id = f.Get(base + "/mailFolders/archive").body["id"];

  std::string id = f.Post(base + "/mailFolders/inbox/messages", {{"subject", "m"}}).body["id"];
  f.clock().Advance(std::chrono::seconds(5));
  Reply moved = f.Post(base + "/messages/" + id + "/move", {{"destinationId", "archive"}});
  REQUIRE(moved.status == 201);
  std::string new_id = moved.body["id"];
  CHECK(new_id != id);
  CHECK(moved.body["parentFolderId"] == archive_id);
  CHECK(moved.body["createdDateTime"] == "2026-01-01T12:00:00Z");
  CHECK(moved.body["lastModifiedDateTime"] == "2026-01-01T12:00:05Z");
  CHECK(f.Get(base + "/messages/" + id).status == 404);
  CHECK(f.Get(base + "/messages/" + new_id).status == 200);

  httplib::Headers immutable{
      {"Prefer", "outlook.body-content-type=\"text\", IdType=\"ImmutableId\""}};
  Reply kept =
      f.Post(base + "/messages/" + new_id + "/move", {{"destinationId", "Inbox"}}, immutable);
  REQUIRE(kept.status == 201);
  CHECK(kept.body["id"] == new_id);
  CHECK(kept.Header("Preference-Applied") == "IdType=\"ImmutableId\"");
  Reply by_folder_id =
      f.Post(base + "/messages/" + new_id + "/move", {{"destinationId", archive_id}}, immutable);
  CHECK(by_folder_id.status == 201);
  CHECK(by_folder_id.body["parentFolderId"] == archive_id);

  CHECK(f.Post(base + "/messages/" + new_id + "/move", {{"destinationId", "nowhere"}}).status ==
        404);
  CHECK(f.Post(base + "/messages/" + new_id + "/move", Json::object()).status == 400);

  // The direct API does the same.
  std::string direct = f.sim().MoveMessage(f.user(0), new_id, "deleteditems", false);
  CHECK(!direct.empty());
  CHECK(direct != new_id);
  CHECK(f.sim().MoveMessage(f.user(0), direct, "inbox", true) == direct);
}

TEST_CASE("direct API mirrors HTTP effects", "[graphsim][items]") {
  SimFixture f;
  graphsim::Simulator& sim = f.sim();
  std::string u = f.user(0);
  size_t before = sim.Count(u, "messages");
  std::string id = sim.CreateItem(u, "messages", R"({"subject":"direct"})");
  REQUIRE(!id.empty());
  CHECK(sim.Count(u, "messages") == before + 1);
  Json item = Json::parse(sim.ItemJson(u, "messages", id));
  CHECK(item["subject"] == "direct");
  CHECK(item["isDraft"] == false);  // delivered into the inbox, not drafted
  Reply over_http = f.Get("/v1.0/users/" + u + "/messages/" + id);
  CHECK(over_http.body["subject"] == "direct");

  CHECK(sim.UpdateItem(u, "messages", id, R"({"subject":"updated"})"));
  CHECK(Json::parse(sim.ItemJson(u, "messages", id))["subject"] == "updated");
  CHECK_FALSE(sim.UpdateItem(u, "messages", id, R"({"bogus":1})"));
  std::vector<std::string> ids = sim.ItemIds(u, "messages");
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::count(ids.begin(), ids.end(), id) == 1);
  CHECK(sim.DeleteItem(u, "messages", id));
  CHECK_FALSE(sim.DeleteItem(u, "messages", id));
  CHECK(sim.ItemJson(u, "messages", id).empty());
  CHECK(sim.CreateItem(u, "nonsense", "{}").empty());
  CHECK(sim.CreateItem("nobody", "messages", "{}").empty());
  CHECK(!sim.CreateItem(u, "events", R"({"subject":"e"})").empty());
}

TEST_CASE("seeding is deterministic and Graph-like", "[graphsim][items]") {
  graphsim::Options options = SmallOptions();
  graphmirror::ManualClock clock(TestStart());
  graphsim::Simulator a(options, &clock);
  graphsim::Simulator b(options, &clock);
  options.seed = 2;
  graphsim::Simulator c(options, &clock);
  REQUIRE(a.UserIds() == b.UserIds());
  CHECK(a.UserIds() != c.UserIds());
  for (const char* collection : {"messages", "events", "contacts"}) {
    CHECK(a.ItemIds(a.UserIds()[0], collection) == b.ItemIds(b.UserIds()[0], collection));
  }
  std::string u = a.UserIds()[0];
  std::vector<std::string> ids = a.ItemIds(u, "messages");
  REQUIRE(ids.size() == 30);
  CHECK(a.ItemJson(u, "messages", ids[3]) == b.ItemJson(u, "messages", ids[3]));

  const auto kEpoch = std::string("2026-01-01T00:00:00Z");
  std::map<std::string, int> created_counts;
  bool has_dash = false, has_underscore = false;
  for (const std::string& id : ids) {
    has_dash |= id.find('-') != std::string::npos;
    has_underscore |= id.find('_') != std::string::npos;
    CHECK(id.back() == '=');
    Json m = Json::parse(a.ItemJson(u, "messages", id));
    std::string created = m["createdDateTime"];
    CHECK(IsSecondsZ(created));
    CHECK(created < kEpoch);
    CHECK(created >= "2025-11-02T00:00:00Z");
    CHECK(m["lastModifiedDateTime"].get<std::string>() >= created);
    ++created_counts[created];
  }
  CHECK(has_dash);
  CHECK(has_underscore);
  int shared = 0;
  for (const auto& [t, n] : created_counts) shared += n > 1 ? n : 0;
  CHECK(shared >= 3);  // several items deliberately share one createdDateTime

  std::vector<std::string> event_ids = a.ItemIds(u, "events");
  Json event = Json::parse(a.ItemJson(u, "events", event_ids[0]));
  CHECK(IsTicksZ(event["createdDateTime"]));
  CHECK(event["start"]["timeZone"] == "UTC");
}

TEST_CASE("faults: injected status, connection resets, stale UPN", "[graphsim][items]") {
  graphsim::Options options = SmallOptions();
  options.stale_mailbox_for_upn = true;
  SimFixture f(options);
  std::string path = "/v1.0/users/" + f.user(0) + "/messages";
  f.Token();

  f.sim().InjectStatus(503, 2, 1.5);
  Reply first = f.Get(path);
  CHECK(first.status == 503);
  CHECK(first.Header("Retry-After") == "1.5");
  CHECK(first.body["error"]["code"] == "serviceNotAvailable");
  CHECK(f.Get(path).status == 503);
  CHECK(f.Get(path).status == 200);

  f.sim().InjectConnectionResets(1);
  Reply reset = f.Get(path);
  CHECK(reset.status == 0);  // no response at all
  CHECK(f.Get(path).status == 200);

  // Over HTTP too.
  Reply fault = SimFixture::ToReply(
      f.client().Post("/_sim/faults", R"({"status":500,"count":1})", "application/json"));
  CHECK(fault.status == 204);
  CHECK(f.Get(path).status == 500);
  CHECK(f.Get(path).status == 200);

  std::string upn = f.sim().Users()[0].user_principal_name;
  Reply stale = f.Get("/v1.0/users/" + upn + "/messages");
  CHECK(stale.status == 503);
  CHECK(stale.body["error"]["code"] == "MailboxInfoStale");
  CHECK(stale.body["error"]["message"] == "Mailbox info is stale.");
  CHECK(f.Get("/v1.0/users/" + upn + "/messages").status == 200);
  CHECK(f.Get(path).status == 200);  // object ids are never stale
}

TEST_CASE("/_sim/ clock and stats", "[graphsim][items]") {
  SimFixture f;
  Reply clock = SimFixture::ToReply(f.client().Get("/_sim/clock"));
  REQUIRE(clock.status == 200);
  CHECK(clock.body["now"] == "2026-01-01T12:00:00.0000000Z");
  Reply advanced = SimFixture::ToReply(
      f.client().Post("/_sim/clock/advance", R"({"seconds":90.5})", "application/json"));
  CHECK(advanced.body["now"] == "2026-01-01T12:01:30.5000000Z");
  CHECK(f.clock().Now() == TestStart() + std::chrono::milliseconds(90500));
  f.Get("/v1.0/users/" + f.user(0) + "/messages");
  Reply stats = SimFixture::ToReply(f.client().Get("/_sim/stats"));
  REQUIRE(stats.status == 200);
  CHECK(stats.body["requests"] == 1);
  CHECK(stats.body["mailboxes"][0]["messages"] == 30);
  Reply ids =
      SimFixture::ToReply(f.client().Get(("/_sim/users/" + f.user(0) + "/events/ids").c_str()));
  CHECK(ids.body["ids"].size() == 10);
}

}  // namespace
}  // namespace graphsim_test
