// graphsim's change notifications: what is queued for which subscription, the payload
// shapes, batching, retries with backoff in clock time, drops, duplicates, reordering,
// lifecycle notifications and the background delivery thread.

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

graphsim::Options DeliveryOptions() {
  graphsim::Options options = SmallOptions();
  options.validation_timeout = milliseconds(2000);
  options.delivery_timeout = milliseconds(1000);
  return options;
}

// Creates a subscription over HTTP; returns its id (REQUIREs success).
std::string Subscribe(SimFixture& f, const std::string& url, const std::string& resource,
                      const std::string& change_type = "created,updated,deleted",
                      Json extra = Json::object()) {
  Json body{{"changeType", change_type},
            {"notificationUrl", url},
            {"resource", resource},
            {"expirationDateTime", IsoTime(f.sim().Now() + hours(72))}};
  body.update(extra);
  Reply r = f.Post("/v1.0/subscriptions", body);
  INFO(r.raw);
  REQUIRE(r.status == 201);
  return r.body["id"];
}

std::string Messages(SimFixture& f, int user) { return "/users/" + f.user(user) + "/messages"; }

// (changeType, resourceData.id) of every item received.
std::vector<std::pair<std::string, std::string>> Changes(const Webhook& hook) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Json& item : hook.items()) {
    out.emplace_back(item.value("changeType", ""), item["resourceData"].value("id", ""));
  }
  return out;
}

using ChangeList = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("delivery: a change notification has Graph's shape", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook hook;
  std::string sub = Subscribe(f, hook.url("/notify?route=mail"), Messages(f, 0),
                              "created,updated,deleted", Json{{"clientState", "s3cret"}});
  std::string events_sub =
      Subscribe(f, hook.url("/notify?route=mail"), "users/" + f.user(0) + "/events", "created");
  std::string uid = f.user(0);

  std::string id = f.sim().CreateItem(uid, "messages", R"({"subject":"hello"})");
  REQUIRE_FALSE(id.empty());
  CHECK(f.sim().Deliveries().pending_items == 1);
  CHECK(f.sim().PumpDeliveries() == 1);
  CHECK(f.sim().PumpDeliveries() == 0);
  auto posts = hook.notifications();
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].target == "/notify?route=mail");  // the URL's own query is kept
  CHECK(posts[0].content_type.rfind("application/json", 0) == 0);
  REQUIRE(posts[0].json["value"].size() == 1);
  const Json& item = posts[0].json["value"][0];
  INFO(item.dump());
  CHECK(item["id"].get<std::string>().size() == 36);
  CHECK(item["subscriptionId"] == sub);
  CHECK(item["subscriptionExpirationDateTime"] == "2026-01-04T12:00:00.0000000+00:00");
  CHECK(item["changeType"] == "created");
  CHECK(item["resource"] == "Users/" + uid + "/Messages/" + id);
  CHECK(item["clientState"] == "s3cret");
  CHECK(item["tenantId"] == f.sim().TenantId());
  const Json& data = item["resourceData"];
  CHECK(data["@odata.type"] == "#Microsoft.Graph.Message");
  CHECK(data["@odata.id"] == item["resource"]);
  CHECK(data["id"] == id);
  Json stored = Json::parse(f.sim().ItemJson(uid, "messages", id));
  CHECK(data["@odata.etag"] == stored["@odata.etag"]);
  CHECK(f.sim().AckedNotificationIds() == std::vector<std::string>{item["id"]});
  auto acked = f.sim().AckedNotifications();
  REQUIRE(acked.size() == 1);
  CHECK(acked[0].id == item["id"]);
  CHECK(acked[0].subscription_id == sub);
  CHECK(acked[0].change_type == "created");
  CHECK(acked[0].lifecycle_event.empty());
  CHECK(acked[0].resource_id == id);
  CHECK(acked[0].url == hook.url("/notify?route=mail"));

  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"subject":"changed"})"));
  REQUIRE(f.sim().DeleteItem(uid, "messages", id));
  std::string event = f.sim().CreateItem(uid, "events", R"({"subject":"meet"})");
  f.sim().CreateItem(f.user(1), "messages", "{}");  // another mailbox: nobody subscribed
  CHECK(f.sim().PumpDeliveries() == 1);             // one POST for the URL
  auto items = hook.items();
  REQUIRE(items.size() == 4);
  CHECK(items[1]["changeType"] == "updated");
  CHECK(items[1]["resourceData"]["@odata.etag"] != data["@odata.etag"]);  // a new change key
  CHECK(items[2]["changeType"] == "deleted");
  CHECK(items[2]["resourceData"]["id"] == id);
  CHECK(items[3]["subscriptionId"] == events_sub);
  CHECK(items[3]["clientState"].is_null());
  CHECK(items[3]["resource"] == "Users/" + uid + "/Events/" + event);
  CHECK(items[3]["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event");

  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.attempts == 2);
  CHECK(stats.delivered_items == 4);
  CHECK(stats.failed_attempts == 0);
  CHECK(stats.pending_items == 0);
  CHECK(f.sim().AckedNotificationIds().size() == 4);
  std::set<std::string> ids;
  for (const Json& i : items) ids.insert(i["id"].get<std::string>());
  CHECK(ids.size() == 4);  // unique notification ids
}

TEST_CASE("delivery: resource path styles", "[graphsim][delivery]") {
  struct Case {
    graphsim::ResourcePathStyle style;
    std::vector<std::string> expected;  // with {u} and {id} placeholders
  };
  const std::vector<Case> cases = {
      {graphsim::ResourcePathStyle::kSlash, {"Users/{u}/Contacts/{id}", "Users/{u}/Contacts/{id}"}},
      {graphsim::ResourcePathStyle::kParen,
       {"Users('{u}')/contacts('{id}')", "Users('{u}')/contacts('{id}')"}},
      {graphsim::ResourcePathStyle::kMixed,
       {"Users/{u}/Contacts/{id}", "Users('{u}')/contacts('{id}')"}},
      {graphsim::ResourcePathStyle::kTenant,
       {"users/{u}@{t}/contacts/{id}", "users/{u}@{t}/contacts/{id}"}},
  };
  for (const Case& c : cases) {
    graphsim::Options options = DeliveryOptions();
    options.resource_path_style = c.style;
    SimFixture f(options);
    Webhook hook;
    Subscribe(f, hook.url(), "/users/" + f.user(1) + "/contacts");
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) ids.push_back(f.sim().CreateItem(f.user(1), "contacts", "{}"));
    f.sim().PumpDeliveries();
    auto items = hook.items();
    REQUIRE(items.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      std::string want = c.expected[i];
      auto put = [&](const std::string& key, const std::string& value) {
        want.replace(want.find(key), key.size(), value);
      };
      put("{u}", f.user(1));
      put("{id}", ids[i]);
      if (want.find("{t}") != std::string::npos) put("{t}", f.sim().TenantId());
      CHECK(items[i]["resource"] == want);
      CHECK(items[i]["resourceData"]["@odata.id"] == want);
      CHECK(items[i]["resourceData"]["@odata.type"] == "#Microsoft.Graph.Contact");
    }
  }
}

TEST_CASE("delivery: folder subscriptions see moves as deleted/created", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook all, inbox, archive;
  std::string uid = f.user(0);
  Subscribe(f, all.url(), Messages(f, 0));
  Subscribe(f, inbox.url(), "/users/" + uid + "/mailFolders/inbox/messages");
  Subscribe(f, archive.url(), "users/" + uid + "/mailFolders('Archive')/messages");

  std::string id = f.sim().CreateItem(uid, "messages", R"({"subject":"m"})", "inbox");
  f.sim().UpdateItem(uid, "messages", id, R"({"isRead":true})");
  // Immutable ids: the mailbox-wide subscription sees an update of the same id.
  REQUIRE(f.sim().MoveMessage(uid, id, "archive", /*immutable_ids=*/true) == id);
  f.sim().PumpDeliveries();
  CHECK(Changes(all) == ChangeList{{"created", id}, {"updated", id}, {"updated", id}});
  CHECK(Changes(inbox) == ChangeList{{"created", id}, {"updated", id}, {"deleted", id}});
  CHECK(Changes(archive) == ChangeList{{"created", id}});

  // Over HTTP, without immutable ids: a new id, so deleted + created mailbox-wide.
  all.clear();
  inbox.clear();
  archive.clear();
  Reply moved =
      f.Post("/v1.0/users/" + uid + "/messages/" + id + "/move", Json{{"destinationId", "inbox"}});
  REQUIRE(moved.status == 201);
  std::string new_id = moved.body["id"];
  REQUIRE(new_id != id);
  f.sim().PumpDeliveries();
  CHECK(Changes(all) == ChangeList{{"deleted", id}, {"created", new_id}});
  CHECK(Changes(archive) == ChangeList{{"deleted", id}});
  CHECK(Changes(inbox) == ChangeList{{"created", new_id}});

  // HTTP create (a draft, in Drafts), patch and delete.
  all.clear();
  inbox.clear();
  Reply draft = f.Post("/v1.0/users/" + uid + "/messages", Json{{"subject", "draft"}});
  REQUIRE(draft.status == 201);
  std::string draft_id = draft.body["id"];
  REQUIRE(f.Patch("/v1.0/users/" + uid + "/messages/" + draft_id, Json{{"subject", "d2"}}).status ==
          200);
  REQUIRE(f.Delete("/v1.0/users/" + uid + "/messages/" + draft_id).status == 204);
  f.sim().PumpDeliveries();
  CHECK(Changes(all) ==
        ChangeList{{"created", draft_id}, {"updated", draft_id}, {"deleted", draft_id}});
  CHECK(inbox.items().empty());
}

TEST_CASE("delivery: only the subscribed change types", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook created, deleted;
  Subscribe(f, created.url(), Messages(f, 0), "created");
  Subscribe(f, deleted.url(), Messages(f, 0), "updated, deleted");
  std::string id = f.sim().CreateItem(f.user(0), "messages", "{}");
  f.sim().UpdateItem(f.user(0), "messages", id, R"({"subject":"x"})");
  f.sim().DeleteItem(f.user(0), "messages", id);
  f.sim().PumpDeliveries();
  CHECK(Changes(created) == ChangeList{{"created", id}});
  CHECK(Changes(deleted) == ChangeList{{"updated", id}, {"deleted", id}});
}

TEST_CASE("delivery: batches carry items of several subscriptions, max_batch per POST",
          "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.max_batch = 4;
  SimFixture f(options);
  Webhook hook, other;
  std::string uid = f.user(0);
  std::string a = Subscribe(f, hook.url(), Messages(f, 0));
  std::string b = Subscribe(f, hook.url(), "/users/" + uid + "/events");
  std::string c = Subscribe(f, hook.url(), "/users/" + f.user(1) + "/contacts");
  Subscribe(f, other.url(), "/users/" + uid + "/events");
  for (int i = 0; i < 3; ++i) {
    f.sim().CreateItem(uid, "messages", "{}");
    f.sim().CreateItem(uid, "events", "{}");
    f.sim().CreateItem(f.user(1), "contacts", "{}");
  }
  CHECK(f.sim().PumpDeliveries() == 4);  // 9 items for hook: 4 + 4 + 1; 3 for other: 1
  auto posts = hook.notifications();
  REQUIRE(posts.size() == 3);
  CHECK(posts[0].json["value"].size() == 4);
  CHECK(posts[1].json["value"].size() == 4);
  CHECK(posts[2].json["value"].size() == 1);
  std::set<std::string> subs_in_first;
  for (const Json& item : posts[0].json["value"]) subs_in_first.insert(item["subscriptionId"]);
  CHECK(subs_in_first == std::set<std::string>{a, b, c});
  CHECK(other.notifications().size() == 1);
  CHECK(other.items().size() == 3);
  CHECK(f.sim().Deliveries().delivered_items == 12);
}

TEST_CASE("delivery: failed batches retry with exponential backoff, then are dropped",
          "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());  // 10 s initial, doubling, 1 h cap, 4 h window
  Webhook hook;
  hook.set_notification_status(500);
  Subscribe(f, hook.url(), Messages(f, 0));
  f.sim().CreateItem(f.user(0), "messages", "{}");
  // Attempts at 0, 10, 30, 70, ... s; 5110 + 3600 (the cap) = 8710, 12310; the next, at
  // 15910 s, would be beyond 4 h (14400 s) after the first attempt: dropped instead.
  const std::vector<int> attempt_at = {0, 10, 30, 70, 150, 310, 630, 1270, 2550, 5110, 8710, 12310};
  auto start = f.sim().Now();
  for (int t : attempt_at) {
    INFO("attempt at " << t << " s");
    auto due = start + seconds(t);
    if (f.sim().Now() < due - seconds(1)) {
      f.clock().Set(due - seconds(1));
      CHECK(f.sim().PumpDeliveries() == 0);
    }
    f.clock().Set(due);
    CHECK(f.sim().PumpDeliveries() == 1);
    CHECK(f.sim().PumpDeliveries() == 0);
  }
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.attempts == 12);
  CHECK(stats.failed_attempts == 12);
  CHECK(stats.dropped_items == 1);
  CHECK(stats.pending_items == 0);
  CHECK(stats.delivered_items == 0);
  f.clock().Advance(hours(5));
  CHECK(f.sim().PumpDeliveries() == 0);
  // Every retry was the same batch: same notification id.
  std::set<std::string> ids;
  for (const Json& item : hook.items()) ids.insert(item["id"].get<std::string>());
  CHECK(hook.items().size() == 12);
  CHECK(ids.size() == 1);
  CHECK(f.sim().AckedNotificationIds().empty());
}

TEST_CASE("delivery: a retried batch is delivered once the endpoint recovers",
          "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.delivery_retry_initial = seconds(2);
  SimFixture f(options);
  Webhook hook;
  hook.set_notification_status(503);
  Subscribe(f, hook.url(), Messages(f, 0));
  f.sim().CreateItem(f.user(0), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 1);
  f.clock().Advance(seconds(2));
  CHECK(f.sim().PumpDeliveries() == 1);
  hook.set_notification_status(202);
  f.clock().Advance(seconds(3));
  CHECK(f.sim().PumpDeliveries() == 0);  // the next retry waits 4 s
  f.clock().Advance(seconds(1));
  CHECK(f.sim().PumpDeliveries() == 1);
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.failed_attempts == 2);
  CHECK(stats.delivered_items == 1);
  CHECK(stats.pending_items == 0);
  REQUIRE(f.sim().AckedNotificationIds().size() == 1);
  CHECK(f.sim().AckedNotificationIds()[0] == hook.items().back()["id"]);
}

TEST_CASE("delivery: timeouts and refused connections are failures", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.delivery_timeout = milliseconds(200);
  SimFixture f(options);
  Webhook slow, gone;
  Subscribe(f, slow.url(), Messages(f, 0));
  Subscribe(f, gone.url(), Messages(f, 1));
  gone.Stop();
  slow.set_notification_status(0);  // hang
  f.sim().CreateItem(f.user(0), "messages", "{}");
  f.sim().CreateItem(f.user(1), "messages", "{}");
  auto started = std::chrono::steady_clock::now();
  CHECK(f.sim().PumpDeliveries() == 2);
  CHECK(std::chrono::steady_clock::now() - started < seconds(2));
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.failed_attempts == 2);
  CHECK(stats.pending_items == 2);
  slow.set_notification_status(202);
  f.clock().Advance(seconds(10));
  CHECK(f.sim().PumpDeliveries() == 2);
  stats = f.sim().Deliveries();
  CHECK(stats.delivered_items == 1);
  CHECK(stats.failed_attempts == 3);
  CHECK(stats.pending_items == 1);
}

TEST_CASE("delivery: every Nth batch is delivered twice", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.duplicate_every = 2;
  SimFixture f(options);
  Webhook hook;
  Subscribe(f, hook.url(), Messages(f, 0));
  size_t posts = 0;
  for (int i = 0; i < 4; ++i) {
    f.sim().CreateItem(f.user(0), "messages", "{}");
    posts += f.sim().PumpDeliveries();
  }
  CHECK(posts == 6);
  CHECK(hook.notifications().size() == 6);
  auto items = hook.items();
  REQUIRE(items.size() == 6);
  CHECK(items[1]["id"] == items[2]["id"]);  // the 2nd batch, twice
  CHECK(items[4]["id"] == items[5]["id"]);  // the 4th
  std::vector<std::string> acked = f.sim().AckedNotificationIds();
  CHECK(acked.size() == 6);
  CHECK(std::set<std::string>(acked.begin(), acked.end()).size() == 4);
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.delivered_items == 4);
  CHECK(stats.duplicate_posts == 2);
  CHECK(stats.attempts == 6);
}

TEST_CASE("delivery: reordering shuffles items within and across batches, by seed",
          "[graphsim][delivery]") {
  auto run = [](bool reorder) {
    graphsim::Options options = DeliveryOptions();
    options.reorder_deliveries = reorder;
    options.max_batch = 5;
    SimFixture f(options);
    Webhook hook;
    Subscribe(f, hook.url(), Messages(f, 0));
    std::vector<std::string> created;
    for (int i = 0; i < 12; ++i) created.push_back(f.sim().CreateItem(f.user(0), "messages", "{}"));
    CHECK(f.sim().PumpDeliveries() == 3);
    std::vector<std::string> received;
    for (const Json& item : hook.items()) received.push_back(item["resourceData"]["id"]);
    return std::make_pair(created, received);
  };
  auto [created, in_order] = run(false);
  CHECK(in_order == created);
  auto [created2, shuffled] = run(true);
  REQUIRE(created2 == created);  // same seed, same ids
  CHECK(shuffled != created);
  CHECK(std::multiset<std::string>(shuffled.begin(), shuffled.end()) ==
        std::multiset<std::string>(created.begin(), created.end()));
  // An item of the first five created arrived outside the first POST, or vice versa.
  std::set<std::string> first_batch(shuffled.begin(), shuffled.begin() + 5);
  std::set<std::string> first_created(created.begin(), created.begin() + 5);
  CHECK(first_batch != first_created);
  auto [created3, shuffled_again] = run(true);
  CHECK(shuffled_again == shuffled);  // deterministic for the seed
}

TEST_CASE("delivery: notifications wait for delivery_delay of clock time", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.delivery_delay = seconds(30);
  SimFixture f(options);
  Webhook hook;
  Subscribe(f, hook.url(), Messages(f, 0));
  f.sim().CreateItem(f.user(0), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Advance(seconds(29));
  CHECK(f.sim().PumpDeliveries() == 0);
  f.clock().Advance(seconds(1));
  CHECK(f.sim().PumpDeliveries() == 1);
}

TEST_CASE("delivery: gone subscriptions get nothing more", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.delivery_retry_initial = hours(1);
  // The 50-minute subscription below would get an automatic reauthorizationRequired (a
  // lifecycle item, delivered even after expiry); this test counts change items only.
  options.reauthorize_before_expiry = std::chrono::minutes(0);
  SimFixture f(options);
  Webhook hook, failing;
  std::string id = Subscribe(f, hook.url(), Messages(f, 0));
  f.sim().CreateItem(f.user(0), "messages", "{}");
  REQUIRE(f.Delete("/v1.0/subscriptions/" + id).status == 204);
  CHECK(f.sim().PumpDeliveries() == 0);
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.orphaned_items == 1);
  CHECK(stats.pending_items == 0);
  CHECK(hook.notifications().empty());

  // A batch waiting for a retry when its subscription expires is discarded too.
  failing.set_notification_status(500);
  Json body{{"changeType", "created"},
            {"notificationUrl", failing.url()},
            {"resource", Messages(f, 1)},
            {"expirationDateTime", IsoTime(f.sim().Now() + std::chrono::minutes(50))}};
  REQUIRE(f.Post("/v1.0/subscriptions", body).status == 201);
  f.sim().CreateItem(f.user(1), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 1);
  f.clock().Advance(hours(1));
  CHECK(f.sim().PumpDeliveries() == 0);
  stats = f.sim().Deliveries();
  CHECK(stats.orphaned_items == 2);
  CHECK(stats.pending_items == 0);
}

TEST_CASE("delivery: lifecycle notifications", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook hook, lifecycle;
  std::string with_lifecycle =
      Subscribe(f, hook.url(), Messages(f, 0), "created",
                Json{{"clientState", "cs"}, {"lifecycleNotificationUrl", lifecycle.url("/lc")}});
  std::string without = Subscribe(f, hook.url(), Messages(f, 1), "created");

  CHECK(f.sim().EmitLifecycle(with_lifecycle, "missed"));
  // Created without lifecycleNotificationUrl: Graph sends it no lifecycle notifications.
  CHECK_FALSE(f.sim().EmitLifecycle(without, "reauthorizationRequired"));
  CHECK_FALSE(f.sim().EmitLifecycle("no-such-id", "missed"));
  CHECK(f.sim().PumpDeliveries() == 1);
  auto lc = lifecycle.items();
  REQUIRE(lc.size() == 1);
  CHECK(lifecycle.notifications()[0].path == "/lc");
  CHECK(lc[0]["subscriptionId"] == with_lifecycle);
  CHECK(lc[0]["lifecycleEvent"] == "missed");
  CHECK(lc[0]["clientState"] == "cs");
  CHECK(lc[0]["tenantId"] == f.sim().TenantId());
  CHECK(lc[0]["subscriptionExpirationDateTime"] == "2026-01-04T12:00:00.0000000+00:00");
  CHECK_FALSE(lc[0].contains("changeType"));
  CHECK(hook.items().empty());  // nothing to the notification URL

  // A removed subscription (a password reset): subscriptionRemoved, then it is gone.
  CHECK(f.sim().RemoveSubscription(with_lifecycle));
  CHECK_FALSE(f.sim().RemoveSubscription(with_lifecycle));
  CHECK(f.Get("/v1.0/subscriptions/" + with_lifecycle).status == 404);
  CHECK(f.sim().PumpDeliveries() == 1);
  REQUIRE(lifecycle.items().size() == 2);
  CHECK(lifecycle.items()[1]["lifecycleEvent"] == "subscriptionRemoved");

  // The same through /_sim/ (nothing for a subscription without a lifecycle URL).
  auto r = f.client().Post(("/_sim/subscriptions/" + without + "/lifecycle").c_str(),
                           R"({"event":"missed"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 404);
  r = f.client().Post("/_sim/subscriptions/nope/lifecycle", R"({"event":"missed"})",
                      "application/json");
  CHECK(r->status == 404);
  r = f.client().Post(("/_sim/subscriptions/" + without + "/lifecycle").c_str(), "{}",
                      "application/json");
  CHECK(r->status == 400);
  Reply pumped = SimFixture::ToReply(f.client().Post("/_sim/deliveries/pump", "", "text/plain"));
  REQUIRE(pumped.status == 200);
  CHECK(pumped.body["posts"] == 0);
  CHECK(hook.items().empty());
  r = f.client().Post(("/_sim/subscriptions/" + without + "/remove").c_str(), "", "text/plain");
  CHECK(r->status == 204);
  CHECK(f.sim().Subscriptions().empty());
  Reply stats = SimFixture::ToReply(f.client().Get("/_sim/deliveries"));
  // Only the subscription with a lifecycle URL got lifecycle items: missed, removed.
  CHECK(stats.body["pending_items"] == 0);
  CHECK(stats.body["delivered_items"] == 2);
  Reply acked = SimFixture::ToReply(f.client().Get("/_sim/deliveries/acked"));
  CHECK(acked.body["ids"].size() == 2);
}

TEST_CASE("delivery: lifecycle items in the field-report shape", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.lifecycle_field_report_shape = true;
  options.include_notification_id = false;
  SimFixture f(options);
  Webhook hook;
  std::string id = Subscribe(f, hook.url(), Messages(f, 0), "created,updated,deleted",
                             Json{{"lifecycleNotificationUrl", hook.url()}});
  REQUIRE(f.sim().EmitLifecycle(id, "reauthorizationRequired"));
  f.sim().CreateItem(f.user(0), "messages", "{}");
  f.sim().PumpDeliveries();
  auto items = hook.items();
  REQUIRE(items.size() == 2);
  CHECK(items[0]["organizationId"] == f.sim().TenantId());
  CHECK_FALSE(items[0].contains("tenantId"));
  CHECK(items[0]["resource"] == "Subscriptions/" + id);
  CHECK(items[0]["resourceData"].is_null());
  CHECK(items[0]["changeType"].is_null());
  CHECK_FALSE(items[0].contains("id"));
  CHECK_FALSE(items[1].contains("id"));
  CHECK(f.sim().AckedNotificationIds().empty());
  auto acked = f.sim().AckedNotifications();
  REQUIRE(acked.size() == 2);
  CHECK(acked[0].lifecycle_event == "reauthorizationRequired");
  CHECK(acked[0].change_type.empty());
  CHECK(acked[0].subscription_id == id);
  CHECK(acked[1].change_type == "created");
  CHECK(f.sim().Deliveries().delivered_items == 2);
}

TEST_CASE("delivery: a dropped batch can raise a missed lifecycle notification",
          "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.delivery_retry_window = seconds(30);
  options.missed_on_drop = true;
  SimFixture f(options);
  Webhook hook, lifecycle;
  hook.set_notification_status(500);
  std::string id = Subscribe(f, hook.url(), Messages(f, 0), "created",
                             Json{{"lifecycleNotificationUrl", lifecycle.url()}});
  f.sim().CreateItem(f.user(0), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 1);  // t = 0
  f.clock().Advance(seconds(10));
  CHECK(f.sim().PumpDeliveries() == 1);  // t = 10
  f.clock().Advance(seconds(20));
  CHECK(f.sim().PumpDeliveries() == 1);  // t = 30; the next (70) is past the window
  CHECK(f.sim().Deliveries().dropped_items == 1);
  CHECK(f.sim().PumpDeliveries() == 1);
  REQUIRE(lifecycle.items().size() == 1);
  CHECK(lifecycle.items()[0]["lifecycleEvent"] == "missed");
  CHECK(lifecycle.items()[0]["subscriptionId"] == id);
}

TEST_CASE("delivery: no simulator lock is held while POSTing", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook hook;
  Subscribe(f, hook.url(), Messages(f, 0));
  std::atomic<int> created_in_handler{0};
  // The receiver changes the mailbox (through the C++ API and over HTTP) while its POST is
  // being answered: that would deadlock if the pump held the data lock or the queue lock.
  hook.set_on_notification([&](const nlohmann::json&) {
    if (created_in_handler.fetch_add(1) == 0) {
      f.sim().CreateItem(f.user(0), "messages", "{}");
      auto client = f.NewClient();
      client->Get(("/v1.0/users/" + f.user(0) + "/messages?$top=1").c_str(),
                  httplib::Headers{{"Authorization", "Bearer " + f.Token()}});
    }
  });
  f.sim().CreateItem(f.user(0), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 1);
  CHECK(f.sim().PumpDeliveries() == 1);  // the item created inside the handler
  CHECK(hook.items().size() == 2);
}

TEST_CASE("delivery: delivery_concurrency keeps several POSTs in flight", "[graphsim][delivery]") {
  graphsim::Options options = DeliveryOptions();
  options.max_batch = 1;
  options.delivery_concurrency = 4;
  SimFixture f(options);
  Webhook hook;
  Subscribe(f, hook.url(), Messages(f, 0));
  std::atomic<int> in_flight{0}, peak{0};
  hook.set_on_notification([&](const nlohmann::json&) {
    int now = ++in_flight;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(50));
    --in_flight;
  });
  for (int i = 0; i < 8; ++i) f.sim().CreateItem(f.user(0), "messages", "{}");
  auto started = std::chrono::steady_clock::now();
  CHECK(f.sim().PumpDeliveries() == 8);
  CHECK(std::chrono::steady_clock::now() - started < milliseconds(350));
  CHECK(peak.load() > 1);
  CHECK(peak.load() <= 4);
  CHECK(f.sim().Deliveries().delivered_items == 8);
}

TEST_CASE("delivery: the background thread delivers by itself", "[graphsim][delivery]") {
  SimFixture f(DeliveryOptions());
  Webhook hook;
  Subscribe(f, hook.url(), Messages(f, 0));
  f.sim().StartDeliveryThread(milliseconds(5));
  f.sim().StartDeliveryThread();  // idempotent
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&f] {
      for (int i = 0; i < 10; ++i) f.sim().CreateItem(f.user(0), "messages", "{}");
    });
  }
  for (std::thread& t : writers) t.join();
  CHECK(hook.WaitForItems(40));
  f.sim().StopDeliveryThread();
  f.sim().StopDeliveryThread();
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.delivered_items == 40);
  CHECK(stats.pending_items == 0);
  CHECK(f.sim().AckedNotificationIds().size() == 40);
  // Stopped: nothing more is sent until someone pumps.
  f.sim().CreateItem(f.user(0), "messages", "{}");
  std::this_thread::sleep_for(milliseconds(30));
  CHECK(hook.items().size() == 40);
  CHECK(f.sim().PumpDeliveries() == 1);
  // The destructor stops a running thread.
  f.sim().StartDeliveryThread();
}

}  // namespace
}  // namespace graphsim_test
