// graphsim's subscription API: create (with the validation handshake), get, list, renew,
// delete, reauthorize; every documented failure; expiry by the clock; the Date header.

#include <catch2/catch.hpp>
#include <cctype>
#include <set>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

const char kXssToken[] = "<script>alert(1)</script>";

graphsim::Options SubOptions() {
  graphsim::Options options = SmallOptions();
  options.validation_token_override = kXssToken;
  options.validation_timeout = std::chrono::milliseconds(2000);
  return options;
}

Json SubBody(const std::string& url, const std::string& resource, int minutes = 60,
             const std::string& change_type = "created,updated,deleted") {
  return Json{{"changeType", change_type},
              {"notificationUrl", url},
              {"resource", resource},
              {"expirationDateTime", IsoTime(TestStart() + std::chrono::minutes(minutes))},
              {"clientState", "secret-state"}};
}

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case hex. (No std::regex: GCC 12 warns
// about its internals under -O2 -Werror with sanitizers.)
bool IsGuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    if (std::isupper(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

TEST_CASE("subscriptions: create answers 201 with Graph's shape after the handshake",
          "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook;
  std::string resource = "/users/" + f.user(0) + "/messages";
  Reply r = f.Post("/v1.0/subscriptions", SubBody(hook.url("/notify?tenant=a%20b"), resource));
  INFO(r.raw);
  REQUIRE(r.status == 201);
  const Json& s = r.body;
  CHECK(IsGuid(s["id"]));
  CHECK(s["resource"] == resource);
  CHECK(s["changeType"] == "created,updated,deleted");
  CHECK(s["clientState"] == "secret-state");  // the create answer echoes it
  CHECK(s["notificationUrl"] == hook.url("/notify?tenant=a%20b"));
  CHECK(s["expirationDateTime"] == "2026-01-01T13:00:00.0000000Z");
  CHECK(s["applicationId"] == "graphsim");
  CHECK(IsGuid(s["creatorId"]));
  CHECK(s["lifecycleNotificationUrl"].is_null());
  CHECK(s["includeResourceData"].is_null());
  CHECK(s["encryptionCertificate"].is_null());
  CHECK(s["encryptionCertificateId"].is_null());
  CHECK(s["latestSupportedTlsVersion"] == "v1_2");
  CHECK(s["@odata.context"].get<std::string>().find("$metadata#subscriptions/$entity") !=
        std::string::npos);

  // The handshake: POST {url}&validationToken=..., text/plain, empty body; the URL's own
  // query is kept; the token is form-encoded as .NET does it.
  std::vector<Webhook::Request> v = hook.validations();
  REQUIRE(v.size() == 1);
  CHECK(v[0].path == "/notify");
  CHECK(v[0].target == "/notify?tenant=a%20b&validationToken=%3cscript%3ealert(1)%3c%2fscript%3e");
  CHECK(v[0].token == kXssToken);
  CHECK(v[0].content_type.rfind("text/plain", 0) == 0);
  CHECK(v[0].body.empty());

  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 1);
  CHECK(subs[0].id == s["id"]);
  CHECK(subs[0].client_state == "secret-state");
  CHECK(subs[0].expires == TestStart() + std::chrono::minutes(60));
}

TEST_CASE("subscriptions: the default token is random text needing URL encoding",
          "[graphsim][subscriptions]") {
  SimFixture f;  // no override
  Webhook hook;
  Reply a = f.Post("/v1.0/subscriptions", SubBody(hook.url(), "users/" + f.user(0) + "/events"));
  Reply b = f.Post("/v1.0/subscriptions", SubBody(hook.url(), "users/" + f.user(1) + "/events"));
  INFO(a.raw);
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  auto v = hook.validations();
  REQUIRE(v.size() == 2);
  CHECK(v[0].token != v[1].token);
  CHECK(v[0].token.find(' ') != std::string::npos);
  CHECK(v[0].token.find(':') != std::string::npos);
  CHECK(v[0].target.find('+') != std::string::npos);  // spaces travel as '+'
}

TEST_CASE("subscriptions: resource spellings", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook;
  std::string upn = f.sim().Users()[0].user_principal_name;
  std::string inbox_id;
  {
    Reply inbox = f.Get("/v1.0/users/" + f.user(0) + "/mailFolders/inbox");
    inbox_id = inbox.body["id"];
  }
  std::string contacts_folder = DefaultContactFolder(f, f.user(0));
  const std::vector<std::string> ok = {
      "/users/" + f.user(0) + "/messages",
      "users/" + upn + "/events",
      "Users/" + f.user(0) + "/Contacts",
      "/users/" + f.user(0) + "/mailFolders/" + inbox_id + "/messages",
      "users/" + f.user(0) + "/mailFolders('Inbox')/messages",
      "users('" + f.user(1) + "')/messages",
      "/users/" + f.user(1) + "/calendar/events",
      "/users/" + f.user(0) + "/contactFolders/" + contacts_folder + "/contacts",
  };
  int n = 0;
  for (const std::string& resource : ok) {
    INFO(resource);
    // One URL each: some spell the same resource, which would be a 409.
    Reply r = f.Post("/v1.0/subscriptions", SubBody(hook.url("/" + std::to_string(n++)), resource));
    INFO(r.raw);
    CHECK(r.status == 201);
    CHECK(r.body["resource"] == resource);
  }
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/" + f.user(0))), 400,
             "InvalidRequest");
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/" + f.user(0) + "/drive")),
             400, "InvalidRequest");
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/me/messages")), 400, "BadRequest");
  CheckError(f.Post("/v1.0/subscriptions",
                    SubBody(hook.url(), "/users/nobody@graphsim.onmicrosoft.com/messages")),
             404, "ErrorInvalidUser");
  CheckError(f.Post("/v1.0/subscriptions",
                    SubBody(hook.url(), "/users/" + f.user(0) + "/mailFolders/nope/messages")),
             404, "ErrorItemNotFound");
  // A query in the resource: $select is taken (and checked as a GET's), $filter as a
  // list's (a property it cannot compare 501), what Graph refuses is its 400.
  std::string messages = "/users/" + f.user(0) + "/messages";
  Reply selected = f.Post("/v1.0/subscriptions",
                          SubBody(hook.url("/select"), messages + "?$select=Subject,from"));
  CHECK(selected.status == 201);
  CHECK(selected.body["resource"] == messages + "?$select=Subject,from");
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages + "?$select=nosuch")), 400,
             "BadRequest");
  Reply filtered = f.Post("/v1.0/subscriptions",
                          SubBody(hook.url("/filter"), messages + "?$filter=isRead eq false"));
  CHECK(filtered.status == 201);
  CHECK(filtered.body["resource"] == messages + "?$filter=isRead eq false");
  CheckError(
      f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages + "?$filter=webLink eq 'x'")), 501,
      "NotImplemented");
  for (const char* query :
       {"?$top=5", "?$orderby=subject", "?$select=subject,body", "?$expand=attachments"}) {
    INFO(query);
    CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages + query)), 400,
               "ExtensionError");
  }
}

TEST_CASE("subscriptions: required and invalid fields answer 400", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook;
  Json good = SubBody(hook.url(), "/users/" + f.user(0) + "/messages");
  for (const char* field : {"changeType", "notificationUrl", "resource", "expirationDateTime"}) {
    INFO(field);
    Json missing = good;
    missing.erase(field);
    Reply r = f.Post("/v1.0/subscriptions", missing);
    CheckError(r, 400, "ValidationError",
               std::string(field) + " is a required property for subscription creation.");
    Json empty = good;
    empty[field] = "";
    CheckError(f.Post("/v1.0/subscriptions", empty), 400, "ValidationError");
    Json wrong_type = good;
    wrong_type[field] = 5;
    CheckError(f.Post("/v1.0/subscriptions", wrong_type), 400, "ValidationError");
  }
  Json bad = good;
  bad["changeType"] = "created,moved";
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError");
  bad = good;
  bad["notificationUrl"] = "not a url";
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError");
  bad = good;
  bad["expirationDateTime"] = "tomorrow";
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError");
  bad = good;
  bad["expirationDateTime"] = IsoTime(TestStart() - std::chrono::minutes(1));
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError");
  bad = good;
  bad["clientState"] = std::string(129, 'c');
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError");
  bad = good;
  bad["noSuchProperty"] = 1;
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "RequestBodyRead");
  bad = good;
  bad["includeResourceData"] = true;  // without $select (graphsim_rich_test has the rest)
  CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ExtensionError");
  CHECK(f.client().Post("/v1.0/subscriptions", f.Auth(), "{", "application/json")->status == 400);
  CHECK(hook.validations().empty());  // nothing invalid reached the handshake

  Json max_state = good;
  max_state["clientState"] = std::string(128, 'c');
  CHECK(f.Post("/v1.0/subscriptions", max_state).status == 201);
  CHECK(f.sim().Subscriptions().size() == 1);
}

TEST_CASE("subscriptions: https required unless allowed", "[graphsim][subscriptions]") {
  graphsim::Options options = SubOptions();
  options.allow_http_notification_url = false;
  SimFixture f(options);
  Webhook hook;
  Reply r = f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/" + f.user(0) + "/messages"));
  CheckError(r, 400, "InvalidRequest", "NotificationUrl scheme='http' is not supported.");
  Json body = SubBody("https://127.0.0.1:1/notify", "/users/" + f.user(0) + "/messages");
  body["lifecycleNotificationUrl"] = hook.url();
  CheckError(f.Post("/v1.0/subscriptions", body), 400, "InvalidRequest");
  CHECK(hook.validations().empty());
}

TEST_CASE("subscriptions: validation handshake failures", "[graphsim][subscriptions]") {
  graphsim::Options options = SubOptions();
  options.validation_timeout = std::chrono::milliseconds(300);
  SimFixture f(options);
  Webhook hook;
  Json body = SubBody(hook.url(), "/users/" + f.user(0) + "/messages");
  const std::string mismatch =
      "Subscription validation request failed. Response must exactly match validationToken "
      "query parameter.";
  const std::string not_ok =
      "Subscription validation request failed. Notification endpoint must respond with 200 OK "
      "to validation request.";

  hook.set_validation(Webhook::Validation::kWrongBody);
  CheckError(f.Post("/v1.0/subscriptions", body), 400, "ValidationError", mismatch);
  hook.set_validation(Webhook::Validation::kHtml);  // the token reflected as HTML
  CheckError(f.Post("/v1.0/subscriptions", body), 400, "ValidationError", mismatch);
  hook.set_validation(Webhook::Validation::kStatus500);
  CheckError(f.Post("/v1.0/subscriptions", body), 400, "ValidationError", not_ok);
  hook.set_validation(Webhook::Validation::kHang);
  auto started = std::chrono::steady_clock::now();
  CheckError(f.Post("/v1.0/subscriptions", body), 400, "ValidationError",
             "Subscription validation request timed out.");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  CHECK(f.sim().Subscriptions().empty());

  // Nobody listening.
  Webhook gone;
  std::string dead_url = gone.url();
  gone.Stop();
  CheckError(f.Post("/v1.0/subscriptions", SubBody(dead_url, "/users/" + f.user(0) + "/events")),
             400, "ValidationError", not_ok);

  // The lifecycle URL is validated too, by a second request; its failure fails the create.
  hook.set_validation(Webhook::Validation::kEcho);
  hook.clear();
  Webhook lifecycle;
  lifecycle.set_validation(Webhook::Validation::kWrongBody);
  Json with_lifecycle = body;
  with_lifecycle["lifecycleNotificationUrl"] = lifecycle.url("/lifecycle");
  CheckError(f.Post("/v1.0/subscriptions", with_lifecycle), 400, "ValidationError", mismatch);
  lifecycle.set_validation(Webhook::Validation::kEcho);
  Reply ok = f.Post("/v1.0/subscriptions", with_lifecycle);
  REQUIRE(ok.status == 201);
  CHECK(ok.body["lifecycleNotificationUrl"] == lifecycle.url("/lifecycle"));
  CHECK(hook.validations().size() == 2);  // one per create attempt
  CHECK(lifecycle.validations().size() == 2);
}

TEST_CASE("subscriptions: duplicates 409, quota 403", "[graphsim][subscriptions]") {
  graphsim::Options options = SubOptions();
  options.max_subscriptions_per_mailbox = 3;
  SimFixture f(options);
  Webhook hook;
  std::string messages = "/users/" + f.user(0) + "/messages";
  REQUIRE(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages)).status == 201);
  // The same mailbox by UPN and without the leading slash is the same resource.
  std::string upn = f.sim().Users()[0].user_principal_name;
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "users/" + upn + "/messages")), 409,
             "ExtensionError");
  // Another change type or URL is another subscription.
  CHECK(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages, 60, "created")).status == 201);
  CHECK(f.Post("/v1.0/subscriptions", SubBody(hook.url("/other"), messages)).status == 201);
  Reply over = f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages, 60, "deleted"));
  CheckError(over, 403, "ExtensionError",
             "Operation: Create; Exception: [Status Code: Forbidden; Reason: Maximum number of "
             "subscriptions has been reached]");
  // Other mailboxes have their own quota.
  CHECK(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/" + f.user(1) + "/messages"))
            .status == 201);
  // A deleted subscription frees its place.
  std::string id = f.sim().Subscriptions()[0].id;
  CHECK(f.Delete("/v1.0/subscriptions/" + id).status == 204);
  CHECK(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages, 60, "deleted")).status == 201);
}

TEST_CASE("subscriptions: a lost create answer leaves the subscription made",
          "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook;
  std::string messages = "/users/" + f.user(0) + "/messages";
  f.sim().LoseSubscriptionCreateAnswers(1);
  // A refused create is answered as usual and does not use up the fault.
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/nobody/messages")), 404,
             "ErrorInvalidUser");
  Reply lost = f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages));
  CHECK(lost.status == 0);  // the connection closed without an answer
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 1);
  CHECK(subs[0].client_state == "secret-state");
  // Asked again, Graph has it already.
  CheckError(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages)), 409, "ExtensionError");
  // The fault is spent.
  CHECK(f.Post("/v1.0/subscriptions", SubBody(hook.url(), messages, 60, "created")).status == 201);
}

TEST_CASE("subscriptions: expiry limits, the 45-minute raise, ErrorInvalidParameter variant",
          "[graphsim][subscriptions]") {
  SECTION("ExtensionError") {
    SimFixture f(SubOptions());
    Webhook hook;
    std::string resource = "/users/" + f.user(0) + "/messages";
    Reply far = f.Post("/v1.0/subscriptions", SubBody(hook.url(), resource, 10081));
    CheckError(far, 400, "ExtensionError",
               "Subscription expiration can only be 10080 minutes in the future.");
    Reply max = f.Post("/v1.0/subscriptions", SubBody(hook.url(), resource, 10080));
    REQUIRE(max.status == 201);
    Reply soon = f.Post("/v1.0/subscriptions", SubBody(hook.url("/b"), resource, 5));
    REQUIRE(soon.status == 201);
    CHECK(soon.body["expirationDateTime"] == "2026-01-01T12:45:00.0000000Z");
    // Renewals obey the same limits.
    std::string id = soon.body["id"];
    Reply renew_far =
        f.Patch("/v1.0/subscriptions/" + id,
                Json{{"expirationDateTime", IsoTime(TestStart() + std::chrono::minutes(20000))}});
    CheckError(renew_far, 400, "ExtensionError");
    Reply renew_soon =
        f.Patch("/v1.0/subscriptions/" + id,
                Json{{"expirationDateTime", IsoTime(TestStart() + std::chrono::minutes(1))}});
    REQUIRE(renew_soon.status == 200);
    CHECK(renew_soon.body["expirationDateTime"] == "2026-01-01T12:45:00.0000000Z");
  }
  SECTION("configured maximum and code") {
    graphsim::Options options = SubOptions();
    options.subscription_max_minutes = 4230;
    options.expiry_too_far_code = "ErrorInvalidParameter";
    SimFixture f(options);
    Webhook hook;
    Reply far = f.Post("/v1.0/subscriptions",
                       SubBody(hook.url(), "/users/" + f.user(0) + "/messages", 4231));
    CheckError(far, 400, "ErrorInvalidParameter",
               "Subscription expiration can only be 4230 minutes in the future.");
  }
}

TEST_CASE("subscriptions: get, list with paging, clientState hidden", "[graphsim][subscriptions]") {
  graphsim::Options options = SubOptions();
  options.subscriptions_page_size = 2;
  SimFixture f(options);
  Webhook hook;
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    Reply r = f.Post("/v1.0/subscriptions", SubBody(hook.url("/n" + std::to_string(i)),
                                                    "/users/" + f.user(0) + "/events"));
    REQUIRE(r.status == 201);
    created.insert(r.body["id"].get<std::string>());
  }
  Reply one = f.Get("/v1.0/subscriptions/" + *created.begin());
  REQUIRE(one.status == 200);
  CHECK(one.body.contains("clientState"));
  CHECK(one.body["clientState"].is_null());

  std::set<std::string> listed;
  Reply page = f.Get("/v1.0/subscriptions");
  int pages = 0;
  while (true) {
    REQUIRE(page.status == 200);
    ++pages;
    for (const Json& s : page.body["value"]) {
      CHECK(s["clientState"].is_null());
      listed.insert(s["id"].get<std::string>());
    }
    if (!page.body.contains("@odata.nextLink")) break;
    page = f.GetLink(page.body["@odata.nextLink"]);
  }
  CHECK(pages == 3);
  CHECK(listed == created);
  CHECK(f.Get("/v1.0/subscriptions?$skiptoken=zz").status == 400);

  // The simulator's own view keeps clientState.
  Reply sim_view = SimFixture::ToReply(f.client().Get("/_sim/subscriptions"));
  REQUIRE(sim_view.status == 200);
  REQUIRE(sim_view.body["value"].size() == 5);
  CHECK(sim_view.body["value"][0]["clientState"] == "secret-state");
}

TEST_CASE("subscriptions: PATCH, DELETE, reauthorize and 404s", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook, other;
  Json body = SubBody(hook.url(), "/users/" + f.user(0) + "/messages");
  body["lifecycleNotificationUrl"] = hook.url("/lifecycle");
  Reply created = f.Post("/v1.0/subscriptions", body);
  REQUIRE(created.status == 201);
  std::string id = created.body["id"];
  std::string path = "/v1.0/subscriptions/" + id;

  Reply renewed =
      f.Patch(path, Json{{"expirationDateTime", IsoTime(TestStart() + std::chrono::hours(48))}});
  REQUIRE(renewed.status == 200);
  CHECK(renewed.body["expirationDateTime"] == "2026-01-03T12:00:00.0000000Z");
  CHECK(renewed.body["id"] == id);
  CHECK(renewed.body["changeType"] == "created,updated,deleted");

  CheckError(f.Patch(path, Json::object()), 400, "ValidationError",
             "Subscription must contain either the 'expirationDateTime' or 'notificationUrl' "
             "property and its value.");
  CheckError(f.Patch(path, Json{{"lifecycleNotificationUrl", hook.url("/x")}}), 400,
             "ValidationError");
  CheckError(f.Patch(path, Json{{"clientState", "new"}}), 400, "ValidationError");

  // A new notificationUrl is validated first.
  other.set_validation(Webhook::Validation::kWrongBody);
  CheckError(f.Patch(path, Json{{"notificationUrl", other.url()}}), 400, "ValidationError");
  other.set_validation(Webhook::Validation::kEcho);
  Reply moved = f.Patch(path, Json{{"notificationUrl", other.url()}});
  REQUIRE(moved.status == 200);
  CHECK(moved.body["notificationUrl"] == other.url());
  CHECK(other.validations().size() == 2);
  CHECK(f.sim().Subscriptions()[0].notification_url == other.url());

  Reply reauth = f.Post(path + "/reauthorize", Json::object());
  CHECK(reauth.status == 204);
  CHECK(reauth.raw.empty());
  CHECK(f.client().Post((path + "/reauthorize").c_str(), f.Auth(), "", "")->status == 204);

  CHECK(f.Delete(path).status == 204);
  CheckError(f.Get(path), 404, "ResourceNotFound");
  CheckError(f.Delete(path), 404, "ResourceNotFound");
  CheckError(
      f.Patch(path, Json{{"expirationDateTime", IsoTime(TestStart() + std::chrono::hours(2))}}),
      404, "ResourceNotFound");
  CheckError(f.Post(path + "/reauthorize", Json::object()), 404, "ResourceNotFound");
  CheckError(f.Delete("/v1.0/subscriptions/00000000-0000-0000-0000-000000000000"), 404,
             "ResourceNotFound");
  CHECK(f.Get("/v1.0/subscriptions").body["value"].empty());
}

TEST_CASE("subscriptions: expire by the clock", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook hook;
  Reply created =
      f.Post("/v1.0/subscriptions", SubBody(hook.url(), "/users/" + f.user(0) + "/messages", 60));
  REQUIRE(created.status == 201);
  std::string path = "/v1.0/subscriptions/" + created.body["id"].get<std::string>();
  f.clock().Advance(std::chrono::minutes(59));
  CHECK(f.Get(path).status == 200);
  f.clock().Advance(std::chrono::minutes(1));
  f.Refresh();  // the token expired too
  CheckError(f.Get(path), 404, "ResourceNotFound");
  CHECK(f.Patch(path, Json{{"expirationDateTime", IsoTime(TestStart() + std::chrono::hours(3))}})
            .status == 404);
  CHECK(f.Post(path + "/reauthorize", Json::object()).status == 404);
  CHECK(f.Get("/v1.0/subscriptions").body["value"].empty());
  CHECK(f.sim().Subscriptions().empty());
  // No notification for a change after the expiry.
  CHECK_FALSE(f.sim().CreateItem(f.user(0), "messages", R"({"subject":"late"})").empty());
  CHECK(f.sim().PumpDeliveries() == 0);
  CHECK(hook.notifications().empty());
  // An identical subscription may be created again.
  Json again = SubBody(hook.url(), "/users/" + f.user(0) + "/messages", 180);
  CHECK(f.Post("/v1.0/subscriptions", again).status == 201);
}

TEST_CASE("subscriptions: authentication is required", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  auto r = f.client().Get("/v1.0/subscriptions");
  REQUIRE(r);
  CHECK(r->status == 401);
}

// (changeType, resourceData.id) of every item a hook received since its last clear().
std::vector<std::pair<std::string, std::string>> Heard(const Webhook& hook) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Json& item : hook.items()) {
    out.emplace_back(item.value("changeType", ""), item["resourceData"].value("id", ""));
  }
  return out;
}
using Heards = std::vector<std::pair<std::string, std::string>>;

// Outlook-CN "Refine the conditions for a notification": with `$filter=isRead eq false` on
// a folder, a message added or marked unread is `created`, one read is `deleted`, a change
// to another property of a matching one `updated`; without a $filter every change of a
// message in the folder is `updated`.
TEST_CASE("subscriptions: $filter turns entering and leaving the match into created and deleted",
          "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook unread, high, plain;
  const std::string uid = f.user(0);
  const std::string messages = "/v1.0/users/" + uid + "/messages/";
  auto subscribe = [&](Webhook& hook, const std::string& resource) {
    Reply r = f.Post("/v1.0/subscriptions", SubBody(hook.url(), resource, 600));
    INFO(r.raw);
    REQUIRE(r.status == 201);
    CHECK(r.body["resource"] == resource);  // as sent, $filter included
    return r.body["id"].get<std::string>();
  };
  // A folder subscription with a filter, and one without on the same folder and URL: not
  // duplicates, their resources differ.
  subscribe(unread, "/users/" + uid + "/mailFolders('inbox')/messages?$filter=isRead eq false");
  subscribe(plain, "/users/" + uid + "/mailFolders('inbox')/messages");
  Reply also_plain =
      f.Post("/v1.0/subscriptions",
             SubBody(unread.url(), "/users/" + uid + "/mailFolders('inbox')/messages"));
  CHECK(also_plain.status == 201);
  CheckError(f.Post("/v1.0/subscriptions",
                    SubBody(unread.url(), "/users/" + uid +
                                              "/mailFolders('inbox')/messages?$filter=isRead eq "
                                              "false")),
             409, "ExtensionError");
  REQUIRE(f.Delete("/v1.0/subscriptions/" + also_plain.body["id"].get<std::string>()).status ==
          204);
  // A whole-mailbox one, $select with it as a rich resource would have.
  subscribe(high,
            "/users/" + uid + "/messages?$select=subject,importance&$filter=importance eq 'high'");
  auto pump = [&] {
    unread.clear();
    high.clear();
    plain.clear();
    f.sim().PumpDeliveries();
  };

  // Arrives unread in the Inbox: enters the unread set.
  std::string id = f.sim().CreateItem(uid, "messages", R"({"subject":"new"})", "inbox");
  pump();
  CHECK(Heard(unread) == Heards{{"created", id}});
  CHECK(Heard(plain) == Heards{{"created", id}});
  CHECK(Heard(high).empty());
  // Another property changes while it matches: updated.
  REQUIRE(f.Patch(messages + id, Json{{"categories", {"Blue category"}}}).status == 200);
  pump();
  CHECK(Heard(unread) == Heards{{"updated", id}});
  // Read: it leaves the set (deleted); without a filter it is an update.
  REQUIRE(f.Patch(messages + id, Json{{"isRead", true}}).status == 200);
  pump();
  CHECK(Heard(unread) == Heards{{"deleted", id}});
  CHECK(Heard(plain) == Heards{{"updated", id}});
  // Changed while outside the set: nothing for the filtered subscription.
  REQUIRE(f.Patch(messages + id, Json{{"flag", {{"flagStatus", "flagged"}}}}).status == 200);
  pump();
  CHECK(Heard(unread).empty());
  CHECK(Heard(plain) == Heards{{"updated", id}});
  // Marked unread: created again.
  REQUIRE(f.Patch(messages + id, Json{{"isRead", false}}).status == 200);
  pump();
  CHECK(Heard(unread) == Heards{{"created", id}});
  // High importance: still unread (updated), and it enters the mailbox-wide high set.
  REQUIRE(f.Patch(messages + id, Json{{"importance", "high"}}).status == 200);
  pump();
  CHECK(Heard(unread) == Heards{{"updated", id}});
  CHECK(Heard(high) == Heards{{"created", id}});
  // Moved out of the Inbox (a new id): it leaves the folder's set; mailbox-wide the old id
  // is gone and the new one appears, both matching.
  Reply moved = f.Post(messages + id + "/move", Json{{"destinationId", "archive"}});
  REQUIRE(moved.status == 201);
  const std::string moved_id = moved.body["id"];
  pump();
  CHECK(Heard(unread) == Heards{{"deleted", id}});
  CHECK(Heard(high) == Heards{{"deleted", id}, {"created", moved_id}});
  // Importance back to normal: it leaves the high set.
  REQUIRE(f.Patch(messages + moved_id, Json{{"importance", "normal"}}).status == 200);
  pump();
  CHECK(Heard(high) == Heards{{"deleted", moved_id}});
  CHECK(Heard(unread).empty());
  // A matching message deleted: deleted; a non-matching one: nothing.
  std::string doomed = f.sim().CreateItem(uid, "messages", R"({"importance":"high"})", "inbox");
  REQUIRE(f.Delete(messages + doomed).status == 204);
  REQUIRE(f.Delete(messages + moved_id).status == 204);
  pump();
  CHECK(Heard(unread) == Heards{{"created", doomed}, {"deleted", doomed}});
  CHECK(Heard(high) == Heards{{"created", doomed}, {"deleted", doomed}});
  // Seeded messages count too: an unread one read leaves, a read one read again is nothing.
  Reply seeded_unread =
      f.Get("/v1.0/users/" + uid + "/mailFolders/inbox/messages?$filter=isRead eq false&$top=1");
  Reply seeded_read =
      f.Get("/v1.0/users/" + uid + "/mailFolders/inbox/messages?$filter=isRead eq true&$top=1");
  REQUIRE(seeded_unread.body["value"].size() == 1);
  REQUIRE(seeded_read.body["value"].size() == 1);
  const std::string was_unread = seeded_unread.body["value"][0]["id"];
  const std::string was_read = seeded_read.body["value"][0]["id"];
  REQUIRE(f.Patch(messages + was_unread, Json{{"isRead", true}}).status == 200);
  REQUIRE(f.Patch(messages + was_read, Json{{"isRead", true}}).status == 200);
  pump();
  CHECK(Heard(unread) == Heards{{"deleted", was_unread}});
  CHECK(Heard(plain) == Heards{{"updated", was_unread}, {"updated", was_read}});
}

TEST_CASE("subscriptions: $filter on events and contact folders", "[graphsim][subscriptions]") {
  SimFixture f(SubOptions());
  Webhook events, suppliers;
  const std::string uid = f.user(0);
  REQUIRE(f.Post("/v1.0/subscriptions",
                 SubBody(events.url(), "/users/" + uid + "/events?$filter=isAllDay eq true"))
              .status == 201);
  const std::string folder =
      f.sim().CreateContactFolder(uid, DefaultContactFolder(f, uid), "Suppliers");
  REQUIRE(f.Post("/v1.0/subscriptions",
                 SubBody(suppliers.url(), "/users/" + uid + "/contactFolders/" + folder +
                                              "/contacts?$filter=companyName eq 'fabrikam'"))
              .status == 201);

  std::string meeting = f.sim().CreateItem(uid, "events", R"({"subject":"sync"})");
  std::string holiday = f.sim().CreateItem(uid, "events", R"({"isAllDay":true})");
  REQUIRE(f.Patch("/v1.0/users/" + uid + "/events/" + meeting, Json{{"isAllDay", true}}).status ==
          200);
  REQUIRE(f.Patch("/v1.0/users/" + uid + "/events/" + holiday, Json{{"isAllDay", false}}).status ==
          200);
  Reply vendor = f.Post("/v1.0/users/" + uid + "/contactFolders/" + folder + "/contacts",
                        Json{{"displayName", "Vendor"}, {"companyName", "Fabrikam"}});
  REQUIRE(vendor.status == 201);
  const std::string vendor_id = vendor.body["id"];
  f.sim().CreateItem(uid, "contacts", R"({"companyName":"Fabrikam"})");  // another folder
  REQUIRE(f.Patch("/v1.0/users/" + uid + "/contacts/" + vendor_id, Json{{"companyName", "Contoso"}})
              .status == 200);
  f.sim().PumpDeliveries();
  CHECK(Heard(events) == Heards{{"created", holiday}, {"created", meeting}, {"deleted", holiday}});
  CHECK(Heard(suppliers) == Heards{{"created", vendor_id}, {"deleted", vendor_id}});
}

TEST_CASE("every response carries a Date header from the simulator clock", "[graphsim]") {
  SimFixture f(SubOptions());
  const std::string expected = "Thu, 01 Jan 2026 12:00:00 GMT";
  CHECK(f.Get("/v1.0/users").Header("Date") == expected);
  CHECK(f.Get("/v1.0/subscriptions").Header("Date") == expected);
  CHECK(f.Get("/v1.0/subscriptions/nope").Header("Date") == expected);
  CHECK(f.RequestToken("wrong").Header("Date") == expected);
  CHECK(SimFixture::ToReply(f.client().Get("/_sim/clock")).Header("Date") == expected);
  CHECK(SimFixture::ToReply(f.client().Get("/nothing")).Header("Date") == expected);
  f.clock().Advance(std::chrono::hours(24 * 59) + std::chrono::seconds(5));
  CHECK(f.Get("/v1.0/users").Header("Date") == "Sun, 01 Mar 2026 12:00:05 GMT");
  CHECK(f.client().Get("/v1.0/users")->get_header_value_count("Date") == 1);
}

}  // namespace
}  // namespace graphsim_test
