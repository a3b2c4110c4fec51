// graphsim's lifecycle events that come by themselves and the app's access: the automatic
// reauthorizationRequired as a subscription's expiry approaches, subscriptionRemoved on a
// simulated password reset, missed on a dropped batch, and the 403s of missing application
// permissions and of a mailbox denied by an application access policy.

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const char kDenied[] = "Access is denied. Check credentials and try again.";
const char kODataDisabled[] = "Access to OData is disabled.";
const char kCreateForbidden[] =
    "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check "
    "credentials and try again.]";

graphsim::Options LifecycleOptions() {
  graphsim::Options options = SmallOptions();
  options.validation_timeout = milliseconds(2000);
  options.delivery_timeout = milliseconds(1000);
  return options;
}

Json SubscriptionBody(SimFixture& f, const std::string& url, const std::string& resource,
                      graphmirror::TimePoint expires, Json extra = Json::object()) {
  // Lifecycle notifications go only to a lifecycleNotificationUrl: the same URL unless
  // `extra` says otherwise (null: none).
  Json body{{"changeType", "created,updated,deleted"},
            {"notificationUrl", url},
            {"lifecycleNotificationUrl", url},
            {"resource", resource},
            {"expirationDateTime", IsoTime(expires)}};
  body.update(extra);
  (void)f;
  return body;
}

// Creates a subscription over HTTP; returns its id (REQUIREs success).
std::string Subscribe(SimFixture& f, const std::string& url, const std::string& resource,
                      graphmirror::TimePoint expires, Json extra = Json::object()) {
  Reply r = f.Post("/v1.0/subscriptions", SubscriptionBody(f, url, resource, expires, extra));
  INFO(r.raw);
  REQUIRE(r.status == 201);
  return r.body["id"];
}

// lifecycleEvent of every item received.
std::vector<std::string> Events(const Webhook& hook) {
  std::vector<std::string> out;
  for (const Json& item : hook.items()) out.push_back(item.value("lifecycleEvent", ""));
  return out;
}

Reply SimPost(SimFixture& f, const std::string& path, const std::string& body) {
  return SimFixture::ToReply(f.client().Post(path.c_str(), body, "application/json"));
}

// The JSON payload of a JWT-shaped token.
Json TokenPayload(const std::string& token) {
  size_t a = token.find('.'), b = token.rfind('.');
  std::string part = token.substr(a + 1, b - a - 1);
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : part) {
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) break;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return Json::parse(out, nullptr, /*allow_exceptions=*/false);
}

TEST_CASE("lifecycle auto: reauthorizationRequired once as the expiry approaches",
          "[graphsim][lifecycle]") {
  SimFixture f(LifecycleOptions());  // reauthorize_before_expiry: 60 minutes
  Webhook hook, lifecycle, other;
  auto expires = f.sim().Now() + hours(3);
  std::string id =
      Subscribe(f, hook.url(), "/users/" + f.user(0) + "/messages", expires,
                Json{{"clientState", "cs"}, {"lifecycleNotificationUrl", lifecycle.url("/lc")}});
  // Far from its expiry: never in this test.
  Subscribe(f, other.url(), "/users/" + f.user(1) + "/messages", f.sim().Now() + hours(72));

  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Set(expires - minutes(60) - seconds(1));
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Advance(seconds(1));  // exactly 60 minutes before the expiry: in the window
  CHECK(f.sim().PumpDeliveries() == 1);
  auto items = lifecycle.items();
  REQUIRE(items.size() == 1);
  CHECK(lifecycle.notifications()[0].path == "/lc");
  CHECK(items[0]["lifecycleEvent"] == "reauthorizationRequired");
  CHECK(items[0]["subscriptionId"] == id);
  CHECK(items[0]["subscriptionExpirationDateTime"] == "2026-01-01T15:00:00.0000000+00:00");
  CHECK(items[0]["clientState"] == "cs");
  CHECK(items[0]["tenantId"] == f.sim().TenantId());
  CHECK(items[0]["id"].get<std::string>().size() == 36);
  CHECK_FALSE(items[0].contains("changeType"));
  auto acked = f.sim().AckedNotifications();
  REQUIRE(acked.size() == 1);
  CHECK(acked[0].lifecycle_event == "reauthorizationRequired");
  CHECK(acked[0].subscription_id == id);

  // Once per expiry value: later pumps, a reauthorize and a PATCH to the same expiry do
  // not send it again.
  f.clock().Advance(minutes(10));
  CHECK(f.sim().PumpDeliveries() == 0);
  std::string path = "/v1.0/subscriptions/" + id;
  f.Refresh();  // the clock moved past the first token's lifetime
  CHECK(f.Post(path + "/reauthorize", Json::object()).status == 204);
  CHECK(f.sim().PumpDeliveries() == 0);
  Reply same = f.Patch(path, Json{{"expirationDateTime", IsoTime(expires)}});
  INFO(same.raw);
  REQUIRE(same.status == 200);
  CHECK(f.sim().PumpDeliveries() == 0);

  // A renewal moves the expiry: nothing until the new expiry's window is entered.
  auto renewed = f.sim().Now() + hours(3);  // 17:10
  REQUIRE(f.Patch(path, Json{{"expirationDateTime", IsoTime(renewed)}}).status == 200);
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Set(expires);  // the old expiry passes: the subscription lives on
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Set(renewed - minutes(60) - seconds(1));
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Advance(seconds(1));
  CHECK(f.sim().PumpDeliveries() == 1);
  items = lifecycle.items();
  REQUIRE(items.size() == 2);
  CHECK(items[1]["lifecycleEvent"] == "reauthorizationRequired");
  CHECK(items[1]["subscriptionExpirationDateTime"] == "2026-01-01T17:10:00.0000000+00:00");
  CHECK(items[0]["id"] != items[1]["id"]);
  f.clock().Set(renewed - seconds(1));
  CHECK(f.sim().PumpDeliveries() == 0);
  CHECK(hook.items().empty());  // the lifecycle URL got them, not the notification URL
  CHECK(other.items().empty());
}

TEST_CASE("lifecycle auto: without a lifecycle URL, inside the window at once, or disabled",
          "[graphsim][lifecycle]") {
  SECTION("without a lifecycle URL: none at all") {
    SimFixture f(LifecycleOptions());
    Webhook hook;
    std::string id =
        Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", f.sim().Now() + minutes(50),
                  Json{{"lifecycleNotificationUrl", nullptr}});
    f.sim().CreateItem(f.user(0), "events", "{}");
    CHECK(f.sim().PumpDeliveries() == 1);  // the change only
    CHECK(Events(hook) == std::vector<std::string>{""});
    CHECK_FALSE(f.sim().EmitLifecycle(id, "missed"));
    CHECK(f.sim().PumpDeliveries() == 0);
  }
  SECTION("to a lifecycle URL that is the notification URL, with the change notifications") {
    SimFixture f(LifecycleOptions());
    Webhook hook;
    // 50 minutes ahead: inside the 60-minute window from the start.
    std::string id =
        Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", f.sim().Now() + minutes(50));
    f.sim().CreateItem(f.user(0), "events", "{}");
    CHECK(f.sim().PumpDeliveries() == 1);  // one POST: the change and the lifecycle item
    auto items = hook.items();
    REQUIRE(items.size() == 2);
    CHECK(items[0]["changeType"] == "created");
    CHECK(items[1]["lifecycleEvent"] == "reauthorizationRequired");
    CHECK(items[1]["subscriptionId"] == id);
    CHECK(items[1]["clientState"].is_null());
    f.clock().Advance(minutes(49));
    CHECK(f.sim().PumpDeliveries() == 0);
  }
  SECTION("a custom window") {
    graphsim::Options options = LifecycleOptions();
    options.reauthorize_before_expiry = minutes(10);
    SimFixture f(options);
    Webhook hook;
    Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", f.sim().Now() + minutes(50));
    CHECK(f.sim().PumpDeliveries() == 0);
    f.clock().Advance(minutes(39));
    CHECK(f.sim().PumpDeliveries() == 0);
    f.clock().Advance(minutes(1));
    CHECK(f.sim().PumpDeliveries() == 1);
    CHECK(Events(hook) == std::vector<std::string>{"reauthorizationRequired"});
  }
  SECTION("0 = never") {
    graphsim::Options options = LifecycleOptions();
    options.reauthorize_before_expiry = minutes(0);
    SimFixture f(options);
    Webhook hook;
    Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", f.sim().Now() + minutes(50));
    for (int i = 0; i < 5; ++i) {
      CHECK(f.sim().PumpDeliveries() == 0);
      f.clock().Advance(minutes(9));
    }
    CHECK(hook.items().empty());
  }
}

TEST_CASE("lifecycle auto: the delivery thread sends reauthorizationRequired by itself",
          "[graphsim][lifecycle]") {
  SimFixture f(LifecycleOptions());
  Webhook hook;
  auto expires = f.sim().Now() + hours(2);
  std::string id = Subscribe(f, hook.url(), "/users/" + f.user(0) + "/contacts", expires);
  f.sim().StartDeliveryThread(milliseconds(5));
  std::this_thread::sleep_for(milliseconds(30));
  CHECK(hook.items().empty());
  f.clock().Set(expires - minutes(30));
  CHECK(hook.WaitForItems(1));
  std::this_thread::sleep_for(milliseconds(30));
  f.sim().StopDeliveryThread();
  auto items = hook.items();
  REQUIRE(items.size() == 1);
  CHECK(items[0]["lifecycleEvent"] == "reauthorizationRequired");
  CHECK(items[0]["subscriptionId"] == id);
}

TEST_CASE("lifecycle auto: a password reset removes that user's subscriptions",
          "[graphsim][lifecycle]") {
  SimFixture f(LifecycleOptions());
  Webhook hook, lifecycle, other;
  auto expires = f.sim().Now() + hours(72);
  std::string u0 = f.user(0), u1 = f.user(1);
  std::string upn0 = f.sim().Users()[0].user_principal_name;
  std::string messages = Subscribe(f, hook.url(), "/users/" + u0 + "/messages", expires,
                                   Json{{"lifecycleNotificationUrl", lifecycle.url()}});
  std::string events =
      Subscribe(f, hook.url(), "/users/" + u0 + "/events", expires, Json{{"clientState", "ev"}});
  std::string contacts = Subscribe(
      f, hook.url(),
      "users('" + upn0 + "')/contactFolders('" + DefaultContactFolder(f, u0) + "')/contacts",
      expires);
  std::string kept = Subscribe(f, other.url(), "/users/" + u1 + "/messages", expires);
  REQUIRE(f.sim().Subscriptions().size() == 4);

  CHECK(f.sim().ResetPassword(upn0));  // by UPN
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 1);
  CHECK(subs[0].id == kept);
  for (const std::string& id : {messages, events, contacts}) {
    CheckError(f.Get("/v1.0/subscriptions/" + id), 404, "ResourceNotFound");
  }
  // Changes in the reset mailbox are no longer notified; the other mailbox's still are.
  f.sim().CreateItem(u0, "messages", "{}");
  std::string other_id = f.sim().CreateItem(u1, "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 3);  // lifecycle URL, notification URL, other
  auto lc = lifecycle.items();
  REQUIRE(lc.size() == 1);
  CHECK(lc[0]["lifecycleEvent"] == "subscriptionRemoved");
  CHECK(lc[0]["subscriptionId"] == messages);
  auto items = hook.items();
  REQUIRE(items.size() == 2);  // no lifecycle URL: to the notification URL
  std::set<std::string> removed;
  for (const Json& item : items) {
    CHECK(item["lifecycleEvent"] == "subscriptionRemoved");
    removed.insert(item["subscriptionId"].get<std::string>());
    if (item["subscriptionId"] == events) CHECK(item["clientState"] == "ev");
  }
  CHECK(removed == std::set<std::string>{events, contacts});
  auto kept_items = other.items();
  REQUIRE(kept_items.size() == 1);
  CHECK(kept_items[0]["changeType"] == "created");
  CHECK(kept_items[0]["resourceData"]["id"] == other_id);

  // App-only tokens survive a user's password reset; the mailbox is still readable, and a
  // new subscription may be created.
  CHECK(f.Get("/v1.0/users/" + u0 + "/messages?$top=1").status == 200);
  Subscribe(f, hook.url(), "/users/" + u0 + "/messages", expires);

  // A user with no subscriptions, an unknown user.
  CHECK_FALSE(f.sim().ResetPassword("nobody@graphsim.onmicrosoft.com"));

  // Through /_sim/.
  CHECK(SimPost(f, "/_sim/users/" + u1 + "/password-reset", "").status == 204);
  CHECK(SimPost(f, "/_sim/users/nobody/password-reset", "").status == 404);
  CHECK(f.sim().Subscriptions().size() == 1);  // the one created again on u0
  CHECK(f.sim().PumpDeliveries() == 1);
  REQUIRE(other.items().size() == 2);
  CHECK(other.items()[1]["lifecycleEvent"] == "subscriptionRemoved");
  CHECK(other.items()[1]["subscriptionId"] == kept);
  CHECK(f.sim().ResetPassword(u1));  // nothing left to remove: still a known user
  CHECK(f.sim().PumpDeliveries() == 0);
}

TEST_CASE("lifecycle auto: missed_on_drop", "[graphsim][lifecycle]") {
  for (bool missed_on_drop : {false, true}) {
    INFO("missed_on_drop " << missed_on_drop);
    graphsim::Options options = LifecycleOptions();
    options.delivery_retry_window = seconds(30);
    options.missed_on_drop = missed_on_drop;
    SimFixture f(options);
    Webhook failing, fine;
    failing.set_notification_status(500);
    auto expires = f.sim().Now() + hours(72);
    std::string lost = Subscribe(f, failing.url(), "/users/" + f.user(0) + "/messages", expires);
    Subscribe(f, fine.url(), "/users/" + f.user(0) + "/messages", expires,
              Json{{"changeType", "created"}});
    f.sim().CreateItem(f.user(0), "messages", "{}");
    CHECK(f.sim().PumpDeliveries() == 2);  // t = 0: failing fails, fine delivers
    f.clock().Advance(seconds(10));
    CHECK(f.sim().PumpDeliveries() == 1);  // t = 10
    f.clock().Advance(seconds(20));
    CHECK(f.sim().PumpDeliveries() == 1);  // t = 30: the next retry would be past the window
    CHECK(f.sim().Deliveries().dropped_items == 1);
    failing.set_notification_status(202);  // the endpoint is back
    failing.clear();
    CHECK(f.sim().PumpDeliveries() == (missed_on_drop ? size_t{1} : size_t{0}));
    if (missed_on_drop) {
      // No lifecycle URL: to the notification URL; only the subscription that lost items.
      auto items = failing.items();
      REQUIRE(items.size() == 1);
      CHECK(items[0]["lifecycleEvent"] == "missed");
      CHECK(items[0]["subscriptionId"] == lost);
    } else {
      CHECK(failing.items().empty());
    }
    CHECK(fine.items().size() == 1);
  }
}

TEST_CASE("access: a missing application permission answers 403 ErrorAccessDenied",
          "[graphsim][access]") {
  SimFixture f(LifecycleOptions());
  Webhook hook;
  std::string u = "/v1.0/users/" + f.user(0);
  auto expires = f.sim().Now() + hours(72);
  std::string message = f.sim().ItemIds(f.user(0), "messages").at(0);
  std::string event = f.sim().ItemIds(f.user(0), "events").at(0);
  std::string contact = f.sim().ItemIds(f.user(0), "contacts").at(0);
  std::string contact_folder = DefaultContactFolder(f, f.user(0));
  const std::string window = "?startDateTime=2025-01-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z";
  const std::vector<std::string> mail_paths = {u + "/messages",
                                               u + "/messages/" + message,
                                               u + "/mailFolders",
                                               u + "/mailFolders/inbox",
                                               u + "/mailFolders/inbox/messages",
                                               u + "/mailFolders/inbox/messages/delta"};
  const std::vector<std::string> calendar_paths = {u + "/events", u + "/events/" + event,
                                                   u + "/calendar", u + "/calendar/events",
                                                   u + "/calendarView/delta" + window};
  const std::vector<std::string> contact_paths = {
      u + "/contacts", u + "/contacts/" + contact, u + "/contactFolders",
      u + "/contactFolders/" + contact_folder + "/contacts",
      u + "/contactFolders/" + contact_folder + "/contacts/delta"};
  auto check_paths = [&](const std::vector<std::string>& paths, bool allowed) {
    for (const std::string& path : paths) {
      INFO(path);
      Reply r = f.Get(path);
      if (allowed) {
        INFO(r.raw);
        CHECK(r.status == 200);
      } else {
        CheckError(r, 403, "ErrorAccessDenied", kDenied);
      }
    }
  };
  auto roles = [&] {
    f.Refresh();
    return TokenPayload(f.Token())["roles"];
  };
  CHECK(roles() == Json::array({"Calendars.Read", "Contacts.Read", "Mail.Read"}));
  check_paths(mail_paths, true);

  f.sim().SetPermission("Mail.Read", false);
  check_paths(mail_paths, false);
  check_paths(calendar_paths, true);
  check_paths(contact_paths, true);
  // Writes too (graphsim needs only the read permission for them).
  CheckError(f.Post(u + "/messages", Json{{"subject", "x"}}), 403, "ErrorAccessDenied", kDenied);
  CheckError(f.Patch(u + "/messages/" + message, Json{{"isRead", true}}), 403, "ErrorAccessDenied",
             kDenied);
  CheckError(f.Delete(u + "/messages/" + message), 403, "ErrorAccessDenied", kDenied);
  // The directory is not the mailbox.
  CHECK(f.Get(u).status == 200);
  CHECK(f.Get("/v1.0/users").status == 200);
  // The other mailbox lacks it just the same: it is the app's permission.
  CheckError(f.Get("/v1.0/users/" + f.user(1) + "/messages"), 403, "ErrorAccessDenied", kDenied);
  // Subscriptions on mail: 403 ExtensionError, before any handshake.
  for (const std::string& resource : {"/users/" + f.user(0) + "/messages",
                                      "users/" + f.user(1) + "/mailFolders('inbox')/messages"}) {
    CheckError(f.Post("/v1.0/subscriptions", SubscriptionBody(f, hook.url(), resource, expires)),
               403, "ExtensionError", kCreateForbidden);
  }
  CHECK(hook.validations().empty());
  Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", expires);
  // Tokens issued now lack the role.
  CHECK(roles() == Json::array({"Calendars.Read", "Contacts.Read"}));

  // Mail.ReadWrite covers reading.
  f.sim().SetPermission("Mail.ReadWrite", true);
  check_paths(mail_paths, true);
  CHECK(roles() == Json::array({"Calendars.Read", "Contacts.Read", "Mail.ReadWrite"}));
  f.sim().SetPermission("mail.readwrite", false);  // names match case-insensitively
  check_paths(mail_paths, false);

  // Granting it back (through /_sim/) restores access at once, with the same token.
  CHECK(SimPost(f, "/_sim/permissions", R"({"permission":"Mail.Read","granted":true})").status ==
        204);
  check_paths(mail_paths, true);
  Subscribe(f, hook.url(), "/users/" + f.user(0) + "/messages", expires);

  // Calendars.Read and Contacts.Read likewise.
  CHECK(SimPost(f, "/_sim/permissions", R"({"permission":"Calendars.Read","granted":false})")
            .status == 204);
  check_paths(calendar_paths, false);
  check_paths(mail_paths, true);
  check_paths(contact_paths, true);
  CheckError(
      f.Post("/v1.0/subscriptions",
             SubscriptionBody(f, hook.url(), "/users/" + f.user(1) + "/calendar/events", expires)),
      403, "ExtensionError", kCreateForbidden);
  f.sim().SetPermission("Contacts.Read", false);
  check_paths(contact_paths, false);
  CheckError(f.Post("/v1.0/subscriptions",
                    SubscriptionBody(f, hook.url(), "/users/" + f.user(1) + "/contacts", expires)),
             403, "ExtensionError", kCreateForbidden);
  CHECK(roles() == Json::array({"Mail.Read"}));
  f.sim().SetPermission("Mail.Read", false);
  f.Refresh();
  CHECK_FALSE(TokenPayload(f.Token()).contains("roles"));  // no role at all: no claim
  f.sim().SetPermission("Calendars.Read", true);
  f.sim().SetPermission("Contacts.Read", true);
  f.sim().SetPermission("Mail.Read", true);
  check_paths(mail_paths, true);
  check_paths(calendar_paths, true);
  check_paths(contact_paths, true);

  // Bad control bodies.
  CHECK(SimPost(f, "/_sim/permissions", "{}").status == 400);
  CHECK(SimPost(f, "/_sim/permissions", R"({"permission":"Mail.Read"})").status == 400);
  CHECK(SimPost(f, "/_sim/permissions", R"({"permission":"","granted":true})").status == 400);
  CHECK(SimPost(f, "/_sim/permissions", R"({"permission":"Mail.Read","granted":"no"})").status ==
        400);
}

TEST_CASE("access: a mailbox denied by an access policy answers 403", "[graphsim][access]") {
  SimFixture f(LifecycleOptions());
  Webhook hook;
  auto expires = f.sim().Now() + hours(72);
  std::string upn0 = f.sim().Users()[0].user_principal_name;
  std::string u0 = "/v1.0/users/" + f.user(0), u1 = "/v1.0/users/" + f.user(1);
  std::string existing = Subscribe(f, hook.url(), "/users/" + f.user(0) + "/messages", expires);
  const size_t validations_before = hook.validations().size();

  f.sim().SetMailboxAccess(upn0, false);  // by UPN; the object id is the same mailbox
  for (const std::string& path :
       {u0 + "/messages", "/v1.0/users/" + upn0 + "/events", u0 + "/contacts",
        u0 + "/mailFolders/inbox/messages/delta", u0 + "/calendar"}) {
    INFO(path);
    CheckError(f.Get(path), 403, "ErrorAccessDenied", kODataDisabled);
  }
  CheckError(f.Post(u0 + "/contacts", Json{{"givenName", "x"}}), 403, "ErrorAccessDenied",
             kODataDisabled);
  CHECK(f.Get(u0).status == 200);                // the directory object
  CHECK(f.Get(u1 + "/messages").status == 200);  // another mailbox
  CheckError(f.Post("/v1.0/subscriptions",
                    SubscriptionBody(f, hook.url(), "/users/" + upn0 + "/events", expires)),
             403, "ExtensionError", kCreateForbidden);
  CHECK(hook.validations().size() == validations_before);  // no handshake for the refused one
  Subscribe(f, hook.url(), "/users/" + f.user(1) + "/events", expires);
  // An existing subscription stays (graphsim does not revoke it).
  CHECK(f.Get("/v1.0/subscriptions/" + existing).status == 200);

  // A missing permission is reported first.
  f.sim().SetPermission("Mail.Read", false);
  CheckError(f.Get(u0 + "/messages"), 403, "ErrorAccessDenied", kDenied);
  CheckError(f.Get(u0 + "/events"), 403, "ErrorAccessDenied", kODataDisabled);
  f.sim().SetPermission("Mail.Read", true);

  // Allowed again through /_sim/.
  CHECK(SimPost(f, "/_sim/users/" + upn0 + "/access", R"({"allowed":true})").status == 204);
  CHECK(f.Get(u0 + "/messages").status == 200);
  Subscribe(f, hook.url(), "/users/" + f.user(0) + "/events", expires);
  CHECK(SimPost(f, "/_sim/users/" + f.user(1) + "/access", R"({"allowed":false})").status == 204);
  CheckError(f.Get(u1 + "/contacts"), 403, "ErrorAccessDenied", kODataDisabled);
  CHECK(f.Get(u0 + "/contacts").status == 200);
  CHECK(SimPost(f, "/_sim/users/nobody/access", R"({"allowed":true})").status == 404);
  CHECK(SimPost(f, "/_sim/users/" + f.user(1) + "/access", "{}").status == 400);
  f.sim().SetMailboxAccess("nobody", false);  // ignored
  f.sim().SetMailboxAccess(f.user(1), true);
  CHECK(f.Get(u1 + "/contacts").status == 200);
}

TEST_CASE("access: a wrong client secret is refused by the token endpoint", "[graphsim][access]") {
  SimFixture f(LifecycleOptions());
  Reply r = f.RequestToken("graphsim-secret-old");
  CHECK(r.status == 401);
  CHECK(r.body["error"] == "invalid_client");
  CHECK(r.body["error_codes"][0] == 7000215);
  CHECK(r.body["error_description"].get<std::string>().rfind("AADSTS7000215: ", 0) == 0);
  CHECK_FALSE(r.body.contains("access_token"));
  CHECK(f.RequestToken("graphsim-secret").status == 200);
}

}  // namespace
}  // namespace graphsim_test
