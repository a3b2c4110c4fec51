// LiveSync against graphsim in one process on a ManualClock: subscriptions, the webhook,
// the notification log and the worker, driven step by step so days pass in milliseconds.

#include "engine/sync/live_sync.h"

#include <httplib.h>

#include <random>

#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

TEST_CASE("Changes in graphsim reach the mirror through notifications", "[live]") {
  LiveFixture f(Small());
  // One subscription per mailbox and collection, with the lifecycle URL.
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 6);
  for (const auto& s : subs) CHECK(s.lifecycle_url == f.config().webhook.lifecycle_url);
  f.Deliver();
  f.RequireExactMirrorOfAll();

  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(5));
  std::string created = f.sim().CreateItem(user, "messages", Subject("hello"));
  std::string contact = f.sim().CreateItem(user, "contacts", "{\"displayName\":\"Zoe\"}");
  auto ids = f.sim().ItemIds(user, "messages");
  std::string changed = ids[0] == created ? ids[1] : ids[0];
  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(f.sim().UpdateItem(user, "messages", changed, Subject("changed")));
  std::string doomed = f.sim().ItemIds(user, "events")[0];
  REQUIRE(f.sim().DeleteItem(user, "events", doomed));
  f.Deliver();

  f.RequireExactMirrorOfAll();
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + created +
                   "' AND subject = 'hello'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + changed +
                   "' AND subject = 'changed'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + doomed + "'") == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE id = '" + contact + "'") == 1);
  CHECK(f.PendingLog() == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM notification_log WHERE state = 'applied' AND "
                   "change_type = 'deleted'") == 1);
  CHECK(f.live().receiver().stats().accepted >= 4);
}

TEST_CASE("A burst of 1,000 created notifications costs a handful of Graph requests", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[1];
  for (int i = 0; i < 1000; ++i) f.sim().CreateItem(user, "messages", Subject("burst"));
  while (f.sim().PumpDeliveries() > 0) {
  }
  REQUIRE(f.PendingLog() == 1000);
  const uint64_t before = f.client().stats().requests;
  REQUIRE(f.live().worker().RunOnce().ok());
  const uint64_t requests = f.client().stats().requests - before;
  CHECK(requests <= 10);  // pages of 500, not 1,000 GETs
  CHECK(f.PendingLog() == 0);
  f.RequireExactMirror(user, Collection::kMessages);
}

TEST_CASE("A created message stamped long before the watermark is read by id", "[live]") {
  // A move without immutable ids gives the message a new id and a `created` notification,
  // but it keeps its createdDateTime: a notified round, which re-reads only the hint
  // overlap behind the watermark, does not list it.
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(10));
  f.sim().CreateItem(user, "messages", Subject("newest"));  // moves the watermark to now
  f.Deliver();
  const std::string old_id = f.sim().ItemIds(user, "messages")[0];
  const std::string new_id = f.sim().MoveMessage(user, old_id, "archive", /*immutable_ids=*/false);
  REQUIRE(!new_id.empty());
  REQUIRE(new_id != old_id);
  const uint64_t fetched = f.live().worker().stats().fetched_items;
  f.Deliver();
  CHECK(f.live().worker().stats().fetched_items == fetched + 1);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + new_id + "'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + old_id + "'") == 0);
  f.RequireExactMirror(user, Collection::kMessages);
}

TEST_CASE("A backlog received before a successful round needs no round of its own", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(1));
  for (int i = 0; i < 20; ++i) f.sim().CreateItem(user, "messages", Subject("backlog"));
  const std::string changed = f.sim().ItemIds(user, "messages")[0];
  REQUIRE(f.sim().UpdateItem(user, "messages", changed, Subject("changed in the backlog")));
  while (f.sim().PumpDeliveries() > 0) {
  }
  REQUIRE(f.PendingLog() == 21);
  f.clock().Advance(std::chrono::seconds(1));
  // Rounds that began after the rows arrived (as the catch-up at start does).
  REQUIRE(f.live().collections().Created(user, Collection::kMessages).ok());
  REQUIRE(f.live().collections().Modified(user, Collection::kMessages).ok());
  const uint64_t rounds = f.live().worker().stats().rounds;
  const uint64_t before = f.client().stats().requests;
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.live().worker().stats().rounds == rounds);
  CHECK(f.client().stats().requests == before);  // all 21 changes are in the mirror already
  CHECK(f.PendingLog() == 0);
  f.RequireExactMirror(user, Collection::kMessages);

  // A row received after that round began still gets one.
  f.clock().Advance(std::chrono::seconds(1));
  f.sim().CreateItem(user, "messages", Subject("after"));
  while (f.sim().PumpDeliveries() > 0) {
  }
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.live().worker().stats().rounds == rounds + 1);
  f.RequireExactMirror(user, Collection::kMessages);
  f.clock().Advance(std::chrono::seconds(1));
  REQUIRE(f.sim().UpdateItem(user, "messages", changed, Subject("changed after")));
  while (f.sim().PumpDeliveries() > 0) {
  }
  REQUIRE(f.live().worker().RunOnce().ok());
  CHECK(f.live().worker().stats().rounds == rounds + 2);
  f.RequireExactMirror(user, Collection::kMessages);
}

TEST_CASE("A second live sync on the same database refuses to start", "[live]") {
  LiveFixture f(Small());
  config::Config other = f.config();
  other.webhook.listen = "127.0.0.1:" + std::to_string(FreePort());  // not the port
  // Another Store on the same file, as a second daemon would open.
  auto other_store = store::Store::Open(f.dir().Path("mirror.db"), &f.clock());
  REQUIRE(other_store.ok());
  sync::LiveSync third(other, &f.client(), other_store->get(), &f.clock());
  Status refused = third.Start();
  CHECK(refused.code() == Status::Code::kUnavailable);
  CHECK(refused.message().find("another graphmirror is running live on") != std::string::npos);
  CHECK(f.sim().Subscriptions().size() == 6);  // nothing subscribed twice
  f.StopLive();
  REQUIRE(third.Start().ok());  // the first one stopped: the database is free
  third.Stop();
}

TEST_CASE("30 simulated days: subscriptions renewed, alive, nothing missed", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  std::mt19937_64 rng(7);
  const auto users = f.sim().UserIds();
  for (int step = 0; step < 30 * 4; ++step) {
    f.clock().Advance(std::chrono::hours(6));
    REQUIRE(f.live().keeper().Maintain().ok());
    const std::string& user = users[rng() % users.size()];
    const char* collection = std::array{"messages", "events", "contacts"}[rng() % 3];
    f.sim().CreateItem(user, collection, Subject("day " + std::to_string(step / 4)));
    if (step % 5 == 0) {
      auto ids = f.sim().ItemIds(user, collection);
      f.sim().DeleteItem(user, collection, ids[rng() % ids.size()]);
    }
    f.Deliver();
  }
  auto subs = f.sim().Subscriptions();
  CHECK(subs.size() == 6);
  for (const auto& s : subs) CHECK(s.expires > f.clock().Now());
  CHECK(f.live().keeper().stats().renewed >= 6 * 10);
  CHECK(f.live().keeper().stats().recreated == 0);
  CHECK(f.sim().Deliveries().dropped_items == 0);
  f.RequireExactMirrorOfAll();
  CHECK(f.PendingLog() == 0);
}

TEST_CASE("A lower lifetime limit is learned, and renewals stay spaced", "[live]") {
  graphsim::Options o = Small();
  o.subscription_max_minutes = 1000;  // below the configured 4230 and its 1440 margin
  LiveFixture f(o);
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 6);  // created after ExtensionError taught the keeper the limit
  for (const auto& s : subs) CHECK(s.expires - f.clock().Now() <= std::chrono::minutes(1000));
  for (int hour = 0; hour < 240; ++hour) {
    f.clock().Advance(std::chrono::hours(1));
    REQUIRE(f.live().keeper().Maintain().ok());
  }
  for (const auto& s : f.sim().Subscriptions()) CHECK(s.expires > f.clock().Now());
  // Renewed when half the learned lifetime is left (about every 8 hours), not on every
  // pass as a margin longer than the lifetime would have it.
  CHECK(f.live().keeper().stats().renewed <= 6 * (240 / 8 + 2));
  CHECK(f.live().keeper().stats().renewed >= 6 * (240 / 17));
  CHECK(f.live().keeper().stats().recreated == 0);
}

TEST_CASE("Lifecycle events: reauthorize, removed subscription, missed, unknown", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  auto find = [&](const std::string& suffix) {
    for (const auto& s : f.sim().Subscriptions()) {
      if (s.resource.find(user) != std::string::npos && s.resource.size() >= suffix.size() &&
          s.resource.compare(s.resource.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return s;
      }
    }
    FAIL("no subscription for " << suffix);
    return graphsim::SubscriptionView{};
  };

  // reauthorizationRequired: answered by a PATCH of the expiry.
  const auto messages = find("/messages");
  const uint64_t renewed = f.live().keeper().stats().renewed;
  REQUIRE(f.sim().EmitLifecycle(messages.id, "reauthorizationRequired"));
  f.Deliver();
  CHECK(f.live().keeper().stats().renewed == renewed + 1);

  // subscriptionRemoved: a new subscription, and what changed in between is read.
  const auto contacts = find("/contacts");
  REQUIRE(f.sim().RemoveSubscription(contacts.id));
  f.clock().Advance(std::chrono::minutes(3));
  const std::string unseen = f.sim().CreateItem(user, "contacts", "{\"displayName\":\"Gap\"}");
  f.Deliver();
  const auto replacement = find("/contacts");
  CHECK(replacement.id != contacts.id);
  CHECK(f.live().keeper().stats().recreated == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE id = '" + unseen + "'") == 1);

  // missed: both rounds run; an unknown event is acknowledged and ignored.
  REQUIRE(f.sim().EmitLifecycle(find("/events").id, "missed"));
  REQUIRE(f.sim().EmitLifecycle(find("/events").id, "somethingNew"));
  f.Deliver();
  CHECK(f.PendingLog() == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM notification_log WHERE lifecycle_event IS NOT NULL "
                   "AND lifecycle_event <> 'graphmirror.catchUp' AND state = 'applied'") == 4);
  CHECK(f.live().keeper().stats().unknown_lifecycle == 1);
  CHECK(f.live().keeper().stats().lifecycle_events == 4);
  f.RequireExactMirrorOfAll();
}

// Runs the same changes against a fresh simulator and mirror, and returns every mirrored
// item as "collection|id|json", sorted.
std::vector<std::string> MirrorAfterChanges(graphsim::Options options) {
  LiveFixture f(options);
  f.Deliver();
  const auto users = f.sim().UserIds();
  std::mt19937_64 rng(99);
  for (int i = 0; i < 150; ++i) {
    const std::string& user = users[rng() % users.size()];
    const char* collection = std::array{"messages", "events", "contacts"}[rng() % 3];
    auto ids = f.sim().ItemIds(user, collection);
    switch (rng() % 3) {
      case 0:
        f.sim().CreateItem(user, collection, Subject("n" + std::to_string(i)));
        break;
      case 1:
        f.sim().UpdateItem(user, collection, ids[rng() % ids.size()],
                           Subject("u" + std::to_string(i)));
        break;
      case 2:
        f.sim().DeleteItem(user, collection, ids[rng() % ids.size()]);
        break;
    }
    if (i % 10 == 0) f.clock().Advance(std::chrono::seconds(rng() % 120));
    if (i % 25 == 0) f.Deliver();
  }
  f.Deliver();
  f.RequireExactMirrorOfAll();
  std::vector<std::string> rows;
  SQLite::Database db(f.dir().Path("mirror.db"));
  for (const char* table : {"messages", "events", "contacts"}) {
    SQLite::Statement q(db, std::string("SELECT user_id, id, json FROM ") + table);
    while (q.executeStep()) {
      std::string user = q.getColumn(0).getString(), id = q.getColumn(1).getString();
      std::string json = q.getColumn(2).getString();
      // The mirrored JSON is the simulator's item as it is now (a message's body is kept
      // in message_bodies instead), but for the @odata.type a delta round's copy carries
      // (contacts are loaded by their delta rounds).
      SQLite::Statement same(
          db, std::string(table) == "messages"
                  ? "SELECT json_remove(?1, '$.\"@odata.type\"') = json_remove(?2, '$.body')"
                  : "SELECT json_remove(?1, '$.\"@odata.type\"') = json(?2)");
      same.bind(1, json);
      same.bind(2, f.sim().ItemJson(user, table, id));
      same.executeStep();
      INFO(table << " " << id);
      INFO("mirror " << json << "\nsim    " << f.sim().ItemJson(user, table, id));
      CHECK(same.getColumn(0).getInt() == 1);
      rows.push_back(std::string(table) + "|" + user + "|" + id + "|" + json);
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST_CASE("Duplicated and reordered deliveries leave an identical mirror", "[live]") {
  graphsim::Options plain = Small(21);
  graphsim::Options messy = plain;
  messy.duplicate_every = 2;
  messy.reorder_deliveries = true;
  messy.resource_path_style = graphsim::ResourcePathStyle::kParen;
  auto a = MirrorAfterChanges(plain);
  auto b = MirrorAfterChanges(messy);
  CHECK(a.size() == b.size());
  CHECK(a == b);
}

TEST_CASE("Spoofed notifications change nothing", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  const std::string victim = f.sim().ItemIds(user, "messages")[0];
  const auto real = f.sim().Subscriptions()[0];
  const int64_t log_before = f.QueryInt("SELECT count(*) FROM notification_log");
  const int64_t items_before = f.QueryInt("SELECT count(*) FROM messages");

  auto forged = [&](const std::string& subscription, const std::string& state) {
    return "{\"value\":[{\"subscriptionId\":\"" + subscription + "\",\"clientState\":\"" + state +
           "\",\"changeType\":\"deleted\",\"tenantId\":\"t\",\"resource\":\"Users/" + user +
           "/Messages/" + victim + "\",\"resourceData\":{\"id\":\"" + victim + "\"}}]}";
  };
  httplib::Client http("127.0.0.1", f.port());
  auto wrong_state = http.Post("/notify", forged(real.id, "not-the-secret"), "application/json");
  auto unknown_sub =
      http.Post("/notify", forged("00000000-0000-0000-0000-000000000000", real.client_state),
                "application/json");
  REQUIRE(wrong_state);
  REQUIRE(unknown_sub);
  CHECK(wrong_state->status == 202);  // acknowledged, so a forger learns nothing; not stored
  CHECK(unknown_sub->status == 202);
  f.Deliver();
  CHECK(f.QueryInt("SELECT count(*) FROM notification_log") == log_before);
  CHECK(f.QueryInt("SELECT count(*) FROM messages") == items_before);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + victim + "'") == 1);
  CHECK(f.live().receiver().stats().rejected_bad_client_state == 1);
  CHECK(f.live().receiver().stats().rejected_unknown_subscription == 1);
}

TEST_CASE("A validation token with markup is echoed exactly as text/plain", "[live]") {
  graphsim::Options o = Small();
  o.validation_token_override = "<script>alert(1)</script>";
  LiveFixture f(o);
  CHECK(f.sim().Subscriptions().size() == 6);  // graphsim accepted every handshake

  httplib::Client http("127.0.0.1", f.port());
  http.set_url_encode(false);
  auto answer =
      http.Post("/notify?validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", "text/plain");
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(answer->body == "<script>alert(1)</script>");
  CHECK(answer->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
}

}  // namespace
}  // namespace graphmirror::test
