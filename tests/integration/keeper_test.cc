// The subscription keeper against graphsim over loopback: adoption after a lost create
// answer, orphans and duplicates, a subscription gone at renewal, replacement after the
// configured URLs change, the subscription quota.

#include "engine/sync/keeper.h"

#include <algorithm>
#include <set>

#include "engine/graph/subscriptions.h"
#include "engine/graph/timestamp.h"
#include "engine/notify/routing.h"
#include "engine/notify/subscription_table.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

// One mailbox with its three collections: three subscriptions.
graphsim::Options OneMailbox() {
  graphsim::Options o = Small(11);
  o.users = 1;
  return o;
}

std::set<std::string> Ids(const std::vector<graphsim::SubscriptionView>& subs) {
  std::set<std::string> ids;
  for (const auto& s : subs) ids.insert(s.id);
  return ids;
}

TEST_CASE("keeper: a create whose answer was lost is adopted on the 409", "[live][keeper]") {
  // The first create is made at Graph but its answer never arrives; the client asks again
  // with the same body and Graph answers 409.
  LiveFixture f(OneMailbox(),
                [](graphsim::Simulator& sim) { sim.LoseSubscriptionCreateAnswers(1); });
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 3);
  // Adopted, not deleted and made again: two creates answered, one adopted.
  CHECK(f.live().keeper().stats().adopted == 1);
  CHECK(f.live().keeper().stats().created == 2);
  // The adopted subscription's clientState is the one the mirror checks notifications with.
  for (const auto& s : subs) {
    CHECK(f.QueryInt("SELECT count(*) FROM subscriptions WHERE id = '" + s.id +
                     "' AND client_state = '" + s.client_state + "'") == 1);
  }
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(5));
  std::string message = f.sim().CreateItem(user, "messages", Subject("after adoption"));
  std::string contact = f.sim().CreateItem(user, "contacts", "{\"displayName\":\"Ada\"}");
  std::string event = f.sim().CreateItem(user, "events", "{\"subject\":\"meet\"}");
  const uint64_t refused = f.live().receiver().stats().rejected_unknown_subscription +
                           f.live().receiver().stats().rejected_bad_client_state;
  f.Deliver();
  CHECK(f.live().receiver().stats().rejected_unknown_subscription +
            f.live().receiver().stats().rejected_bad_client_state ==
        refused);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + message + "'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE id = '" + contact + "'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + event + "'") == 1);
}

TEST_CASE("keeper: orphans and duplicates at Graph are deleted at start", "[live][keeper]") {
  LiveFixture f(OneMailbox());
  REQUIRE(f.sim().Subscriptions().size() == 3);
  const std::string user = f.sim().UserIds()[0];
  // An orphan: a subscription of ours whose secret the mirror lost.
  auto stored = f.store().subscriptions().All();
  REQUIRE(stored.ok());
  REQUIRE(!stored->empty());
  const std::string orphan = stored->front().id;
  REQUIRE(f.store().subscriptions().Delete(orphan).ok());
  // A duplicate: another subscription to a watched resource, to our notification URL.
  graph::SubscriptionApi api(&f.client());
  graph::SubscriptionSpec spec;
  spec.change_type = "created,updated";
  spec.notification_url = f.config().webhook.notification_url;
  spec.lifecycle_url = f.config().webhook.lifecycle_url;
  spec.resource = "/users/" + user + "/events";
  spec.expiration = graph::FormatTimestamp(
      std::chrono::time_point_cast<graph::Ticks>(f.clock().Now() + std::chrono::hours(24)));
  spec.client_state = "unknown-secret";
  auto duplicate = api.Create(spec);
  REQUIRE(duplicate.ok());
  REQUIRE(duplicate->ok());
  // Someone else's subscription (another URL) is left alone.
  // (Another URL string that still reaches this receiver, which answers the handshake.)
  spec.notification_url = f.config().webhook.notification_url + "?app=another";
  spec.lifecycle_url.clear();
  auto foreign = api.Create(spec);
  REQUIRE(foreign.ok());
  REQUIRE(foreign->ok());

  f.RestartWith([](config::Config&) {});
  auto subs = f.sim().Subscriptions();
  std::set<std::string> ids = Ids(subs);
  CHECK(ids.count(orphan) == 0);
  CHECK(ids.count(duplicate->info.id) == 0);
  CHECK(ids.count(foreign->info.id) == 1);
  CHECK(subs.size() == 4);  // ours, one per collection, and the foreign one
  CHECK(f.live().keeper().stats().deleted_orphans == 2);
  CHECK(f.QueryInt("SELECT count(*) FROM subscriptions") == 3);
}

TEST_CASE("keeper: a shard's keeper routes its clientStates and leaves other shards' alone",
          "[live][keeper][routing]") {
  // Two mailboxes in two shards of a partitioned mirror: every shard delivers to the same
  // notification URL, so a subscription there that a shard does not know is an orphan only
  // if its mailbox is the shard's.
  graphsim::Options o = Small(12);
  o.users = 2;
  std::string mine, theirs;
  int partitions = 2, shard = 0;
  LiveFixture f(o, nullptr, [&](config::Config& c) {
    const std::string a = c.mailboxes[0].user, b = c.mailboxes[1].user;
    while (notify::PartitionOf(notify::RoutingKey(a), partitions) ==
           notify::PartitionOf(notify::RoutingKey(b), partitions)) {
      ++partitions;
    }
    mine = a;
    theirs = b;
    shard = notify::PartitionOf(notify::RoutingKey(a), partitions);
    KafkaSettings k;
    k.brokers = "127.0.0.1:9";
    k.topic = "hub";
    k.security = "plaintext";
    k.mode = "partitioned";
    k.partitions = partitions;
    k.shard_directory = "/nonexistent";
    k.shard = shard;
    c.kafka = k;
    c.mailboxes.erase(c.mailboxes.begin() + 1);  // the other mailbox is another shard's
  });
  INFO(partitions << " partitions, this keeper's shard " << shard);
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 3);
  for (const auto& sub : subs) {
    // "<16 hex of SHA-256 of the mailbox>.<secret>", the secret as long as ever.
    CHECK(sub.client_state.rfind(notify::RoutingKey(mine) + ".", 0) == 0);
    CHECK(notify::RoutingKeyOf(sub.client_state) == notify::RoutingKey(mine));
    CHECK(sub.client_state.size() == 16 + 1 + 43);
  }

  // The other shard's subscription and an orphan of this shard, both to our URL.
  graph::SubscriptionApi api(&f.client());
  graph::SubscriptionSpec spec;
  spec.change_type = "created,updated,deleted";
  spec.notification_url = f.config().webhook.notification_url;
  spec.lifecycle_url = f.config().webhook.lifecycle_url;
  spec.expiration = graph::FormatTimestamp(
      std::chrono::time_point_cast<graph::Ticks>(f.clock().Now() + std::chrono::hours(24)));
  spec.resource = "/users/" + theirs + "/messages";
  spec.client_state = notify::RoutedClientState(notify::RoutingKey(theirs));
  auto other_shard = api.Create(spec);
  REQUIRE(other_shard.ok());
  REQUIRE(other_shard->ok());
  auto stored = f.store().subscriptions().All();
  REQUIRE(stored.ok());
  const std::string orphan = stored->front().id;
  REQUIRE(f.store().subscriptions().Delete(orphan).ok());

  f.RestartWith([](config::Config&) {});
  const std::set<std::string> ids = Ids(f.sim().Subscriptions());
  CHECK(ids.count(other_shard->info.id) == 1);  // not ours to delete
  CHECK(ids.count(orphan) == 0);                // ours, secret lost: deleted and made again
  CHECK(f.live().keeper().stats().deleted_orphans == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM subscriptions") == 3);
}

TEST_CASE("keeper: a subscription gone at renewal (404) is recreated", "[live][keeper]") {
  LiveFixture f(OneMailbox(), nullptr, [](config::Config& c) {
    c.subscriptions.lifetime = std::chrono::minutes(60);
    c.subscriptions.renew_margin = std::chrono::minutes(20);
  });
  auto before = f.sim().Subscriptions();
  REQUIRE(before.size() == 3);
  // Gone at Graph without a word to the mirror.
  graph::SubscriptionApi api(&f.client());
  auto deleted = api.Delete(before[0].id);
  REQUIRE(deleted.ok());
  REQUIRE(deleted->http_status == 204);
  // Renewals are due before the hourly comparison with Graph's list: the PATCH meets 404.
  f.clock().Advance(std::chrono::minutes(45));
  REQUIRE(f.live().keeper().Maintain().ok());
  CHECK(f.live().keeper().stats().recreated == 1);
  CHECK(f.live().keeper().stats().renewed == 2);
  auto after = f.sim().Subscriptions();
  REQUIRE(after.size() == 3);
  CHECK(Ids(after).count(before[0].id) == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM subscriptions WHERE id = '" + before[0].id + "'") == 0);
}

TEST_CASE("keeper: after a notification URL change the subscriptions are replaced",
          "[live][keeper]") {
  LiveFixture f(OneMailbox());
  auto before = f.sim().Subscriptions();
  REQUIRE(before.size() == 3);
  const std::string moved = "http://127.0.0.1:" + std::to_string(f.port()) + "/moved";
  f.RestartWith([&](config::Config& c) {
    c.webhook.notification_url = moved;
    c.webhook.lifecycle_url = moved;
  });
  auto after = f.sim().Subscriptions();
  REQUIRE(after.size() == 3);  // the old ones deleted
  for (const auto& s : after) {
    CHECK(s.notification_url == moved);
    CHECK(s.lifecycle_url == moved);
    CHECK(Ids(before).count(s.id) == 0);
  }
  CHECK(f.live().keeper().stats().replaced == 3);
  CHECK(f.QueryInt("SELECT count(*) FROM subscriptions") == 3);
  // Notifications to the new URL reach the mirror.
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(5));
  std::string message = f.sim().CreateItem(user, "messages", Subject("moved"));
  f.Deliver();
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + message + "'") == 1);
}

TEST_CASE("keeper: a subscription without the configured lifecycle URL is replaced",
          "[live][keeper]") {
  SECTION("another lifecycle URL") {
    LiveFixture f(OneMailbox());
    const std::string notify = f.config().webhook.notification_url;
    REQUIRE(f.config().webhook.lifecycle_url != notify);
    f.RestartWith([](config::Config& c) { c.webhook.lifecycle_url.clear(); });
    auto after = f.sim().Subscriptions();
    REQUIRE(after.size() == 3);
    for (const auto& s : after) {
      CHECK(s.notification_url == notify);
      CHECK(s.lifecycle_url == notify);  // the default: the notification URL
    }
    CHECK(f.live().keeper().stats().replaced == 3);
  }
  SECTION("none at all") {
    LiveFixture f(OneMailbox());
    const std::string user = f.sim().UserIds()[0];
    auto stored = f.store().subscriptions().All();
    REQUIRE(stored.ok());
    auto events = std::find_if(stored->begin(), stored->end(),
                               [](const auto& r) { return r.collection == Collection::kEvents; });
    REQUIRE(events != stored->end());
    // Made by an older version: no lifecycleNotificationUrl, so Graph sends it no
    // lifecycle events at all.
    graph::SubscriptionApi api(&f.client());
    REQUIRE(api.Delete(events->id).ok());
    graph::SubscriptionSpec spec;
    spec.change_type = "created,updated,deleted";
    spec.notification_url = f.config().webhook.notification_url;
    spec.resource = events->resource;
    spec.expiration = graph::FormatTimestamp(
        std::chrono::time_point_cast<graph::Ticks>(f.clock().Now() + std::chrono::hours(24)));
    spec.client_state = "old-secret";
    auto old = api.Create(spec);
    REQUIRE(old.ok());
    REQUIRE(old->ok());
    store::SubscriptionRecord record = *events;
    record.id = old->info.id;
    record.client_state = spec.client_state;
    record.expires_at = old->info.expiration;
    REQUIRE(f.store().subscriptions().Put(record).ok());
    CHECK_FALSE(f.sim().EmitLifecycle(old->info.id, "missed"));  // Graph: none without the URL

    f.RestartWith([](config::Config&) {});
    auto after = f.sim().Subscriptions();
    REQUIRE(after.size() == 3);
    CHECK(Ids(after).count(old->info.id) == 0);
    for (const auto& s : after) CHECK(s.lifecycle_url == f.config().webhook.lifecycle_url);
    CHECK(f.live().keeper().stats().replaced == 1);
  }
}

TEST_CASE("keeper: the subscription quota is reported as such, not as a permission",
          "[live][keeper]") {
  graphsim::Options options = OneMailbox();
  options.max_subscriptions_per_mailbox = 2;  // Graph: 1,000 per mailbox, all apps
  LiveFixture f(options);
  CHECK(f.sim().Subscriptions().size() == 2);
  Status s = f.live().keeper().Maintain();
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Status::Code::kUnavailable);
  CHECK(s.message().find("subscription quota") != std::string::npos);
  CHECK(s.message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace graphmirror::test
