// Rows of tools/graphsim/CONFORMANCE.md that no other test file holds: routes and options
// that Graph refuses (graphsim answers them the way Graph does) and documented options
// graphsim does not implement (501, never silently ignored).

#include <catch2/catch.hpp>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

std::string NoChangeTracking(const std::string& type) {
  return "Unsupported request: Change tracking is not supported against 'microsoft.graph." + type +
         "'.";
}

TEST_CASE("conformance: delta on a whole mailbox's messages or events is refused as Graph does",
          "[graphsim][conformance]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  // "message: delta" is per mail folder; "event: delta" is per calendarView (v1.0).
  CheckError(f.Get(base + "/messages/delta"), 400, "BadRequest", NoChangeTracking("message"));
  CheckError(f.Get(base + "/events/delta"), 400, "BadRequest", NoChangeTracking("event"));
  CheckError(f.Get(base + "/calendar/events/delta"), 400, "BadRequest", NoChangeTracking("event"));
  // The documented routes still serve.
  CHECK(f.Get(base + "/mailFolders/inbox/messages/delta").status == 200);
  CHECK(f.Get(base + "/calendarView/delta?startDateTime=2025-01-01T00:00:00Z&endDateTime=2027-01-"
                     "01T00:00:00Z")
            .status == 200);
}

TEST_CASE("conformance: directory query options graphsim does not serve are 501, not ignored",
          "[graphsim][conformance]") {
  SimFixture f;
  // "List users" documents $top, $filter, $count, $orderby, $search, $expand; graphsim
  // serves only $select, so the others must not come back as a full, unpaged listing.
  CheckError(f.Get("/v1.0/users?$top=1"), 501, "NotImplemented");
  CheckError(f.Get("/v1.0/users?$filter=userPrincipalName%20eq%20'x'"), 501, "NotImplemented");
  CheckError(f.Get("/v1.0/users/" + f.user(0) + "?$expand=manager"), 501, "NotImplemented");
  CheckError(f.Get("/v1.0/users?$nosuch=1"), 400, "BadRequest");
  Reply selected = f.Get("/v1.0/users?$select=id");
  REQUIRE(selected.status == 200);
  CHECK(selected.body["value"].size() == 2);
  CHECK(selected.body["value"][0].size() == 1);
  CHECK(f.Get("/v1.0/users/" + f.user(1) + "?$select=id,displayName").status == 200);
  CheckError(f.Get("/v1.0/users?$select=nosuch"), 400, "Request_BadRequest",
             "Could not find a property named 'nosuch' on type 'microsoft.graph.user'.");
}

TEST_CASE("conformance: $search and $expand on mailbox items are 501, not a client error",
          "[graphsim][conformance]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  // "Use query parameters to customize responses" documents both for Outlook items;
  // graphsim does not implement them.
  CheckError(f.Get(base + "/messages?$search=%22hello%22"), 501, "NotImplemented");
  CheckError(f.Get(base + "/events?$expand=attachments"), 501, "NotImplemented");
  Reply one = f.Get(base + "/messages?$top=1");
  REQUIRE(one.status == 200);
  const std::string id = one.body["value"][0]["id"];
  CheckError(f.Get(base + "/messages/" + id + "?$expand=attachments"), 501, "NotImplemented");
  // An option Graph does not have stays a client error.
  CheckError(f.Get(base + "/messages?$levels=2"), 400, "BadRequest");
}

TEST_CASE("conformance: documented properties graphsim does not model are 501, unknown ones 400",
          "[graphsim][conformance]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  // "message resource type" documents webLink and uniqueBody; "event resource type"
  // iCalUId; "contact resource type" nickName. graphsim models none of them.
  CheckError(f.Get(base + "/messages?$select=subject,webLink"), 501, "NotImplemented");
  CheckError(f.Get(base + "/mailFolders/inbox/messages/delta?$select=uniqueBody"), 501,
             "NotImplemented");
  CheckError(f.Get(base + "/events?$select=iCalUId"), 501, "NotImplemented");
  CheckError(f.Get(base + "/contacts?$select=nickName"), 501, "NotImplemented");
  // Filtering on a documented property graphsim does not model or compare, or sorting on
  // one other than the timestamps: 501.
  CheckError(f.Get(base + "/messages?$filter=webLink eq 'x'"), 501, "NotImplemented");
  CheckError(f.Get(base + "/messages?$filter=sentDateTime ge 2026-01-01T00:00:00Z"), 501,
             "NotImplemented");
  CheckError(f.Get(base + "/events?$orderby=subject"), 501, "NotImplemented");
  // A property no resource type has is the client's error, as Graph answers it.
  CheckError(f.Get(base + "/messages?$select=nosuch"), 400, "BadRequest",
             "Could not find a property named 'nosuch' on type 'microsoft.graph.message'.");
  CheckError(f.Get(base + "/contacts?$filter=nosuch eq 1"), 400, "BadRequest");
  CHECK(f.Get(base + "/messages?$select=subject,from").status == 200);
}

TEST_CASE("conformance: documented routes graphsim does not serve are 501",
          "[graphsim][conformance]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  const std::string event = f.sim().ItemIds(f.user(0), "events").at(0);
  const std::string message = f.sim().ItemIds(f.user(0), "messages").at(0);
  // "List attachments", "event: accept": valid requests.
  CheckError(f.Get(base + "/messages/" + message + "/attachments"), 501, "NotImplemented");
  CheckError(f.Get(base + "/events/" + event + "/attachments"), 501, "NotImplemented");
  // A segment no Outlook item has stays the client's error.
  CheckError(f.Get(base + "/messages/" + message + "/nosuch"), 400, "BadRequest",
             "Resource not found for the segment 'nosuch'.");
}

TEST_CASE("conformance: routing errors have Graph's status, code and body",
          "[graphsim][conformance]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  // App-only tokens have no signed-in user.
  CheckError(f.Get("/v1.0/me/messages"), 400, "BadRequest",
             "/me request is only valid with delegated authentication flow.");
  CheckError(f.Get(base + "/nosuch"), 400, "BadRequest",
             "Resource not found for the segment 'nosuch'.");
  Reply wrong_method = f.Patch(base + "/messages", Json::object());
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.body["error"].contains("code"));
  // Every answer, success or error, carries a request-id; a client-request-id comes back.
  Reply ok = f.Get(base + "/messages?$top=1", {{"client-request-id", "abc-123"}});
  CHECK(ok.status == 200);
  CHECK_FALSE(ok.Header("request-id").empty());
  CHECK(ok.Header("client-request-id") == "abc-123");
  Reply missing = f.Get(base + "/messages/AAMkNoSuchItem=");
  CheckError(missing, 404, "ErrorItemNotFound");
  CHECK(missing.Header("request-id") == missing.body["error"]["innerError"]["request-id"]);
}

TEST_CASE("conformance: a subscription resource's $filter is checked before the handshake",
          "[graphsim][conformance]") {
  SimFixture f;
  auto body = [&](const std::string& query) {
    return Json{{"changeType", "created"},
                {"notificationUrl", "https://127.0.0.1:1/notify"},
                {"resource", "users/" + f.user(0) + "/messages?" + query},
                {"expirationDateTime", "2026-01-02T12:00:00Z"}};
  };
  // Refused before the handshake: the unreachable URL is never called. What Graph serves
  // and graphsim does not is 501; a malformed filter 400.
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=startswith(subject,'a')")), 501,
             "NotImplemented");
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=webLink eq 'x'")), 501, "NotImplemented");
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=isRead eq 'x'")), 400, "BadRequest");
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=nosuch eq true")), 400, "BadRequest");
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=isRead eq&$select=subject")), 400,
             "BadRequest");
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=isRead eq true&$filter=isRead eq false")),
             400, "BadRequest");
  // A good filter reaches the handshake, which fails on the unreachable URL.
  CheckError(f.Post("/v1.0/subscriptions", body("$filter=isRead eq false")), 400,
             "ValidationError");
}

TEST_CASE("conformance: token endpoint answers for a missing secret and another resource",
          "[graphsim][conformance]") {
  SimFixture f;
  httplib::Params no_secret{{"client_id", "graphsim"},
                            {"scope", "https://graph.microsoft.com/.default"},
                            {"grant_type", "client_credentials"}};
  Reply missing = SimFixture::ToReply(f.client().Post("/common/oauth2/v2.0/token", no_secret));
  CHECK(missing.status == 401);
  CHECK(missing.body["error"] == "invalid_client");
  CHECK(missing.body["error_codes"][0] == 7000218);
  Reply other = f.RequestToken("graphsim-secret", "graphsim", "common",
                               "https://outlook.office.com/.default");
  CHECK(other.status == 400);
  CHECK(other.body["error"] == "invalid_resource");
  CHECK(other.body["error_codes"][0] == 500011);
  CHECK(other.Header("Cache-Control") == "no-store, no-cache");
}

TEST_CASE("conformance: Outlook REST v2.0 refuses a Graph token", "[graphsim][conformance]") {
  SimFixture f;
  Reply r = f.Get("/api/v2.0/me/messages");
  CHECK(r.status == 401);
  CHECK(r.Header("WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos);
}

}  // namespace
}  // namespace graphsim_test
