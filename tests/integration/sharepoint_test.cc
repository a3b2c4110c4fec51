// SharePoint lists mirrored through list webhooks (GRAPH.md section 9), against graphsim's
// SharePoint: the subscription, the notification as a hint, GetChanges from the stored
// change token as the truth, a lost delivery, an expired token.

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>

#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

constexpr char kSite[] = "/sites/team";

struct ListFixture {
  ListFixture() : f(Small()) {
    list = f.sim().AddSharePointList(kSite, "Tasks");
    for (int i = 0; i < 3; ++i) {
      f.sim().CreateListItem(list, "{\"Title\":\"seeded " + std::to_string(i) + "\"}");
    }
    site = f.server().base_url() + kSite;
    f.RestartWith([&](config::Config& c) { c.sharepoint.push_back({site, {list}}); });
    REQUIRE(f.live().sharepoint() != nullptr);
  }

  // Graph and SharePoint deliver what is due; the list worker syncs what was notified.
  void DeliverAndSync() {
    f.Deliver();
    auto synced = f.live().sharepoint()->RunOnce();
    REQUIRE(synced.ok());
  }

  // item id -> Title, as mirrored.
  std::map<int64_t, std::string> Mirrored() {
    auto rows = f.store().lists().Items(site, list);
    REQUIRE(rows.ok());
    std::map<int64_t, std::string> out;
    simdjson::dom::parser parser;
    for (const auto& row : *rows) {
      std::string_view title;
      REQUIRE(parser.parse(row.json)["Title"].get(title) == simdjson::SUCCESS);
      out[row.item_id] = std::string(title);
    }
    return out;
  }
  // item id -> Title, as graphsim has it.
  std::map<int64_t, std::string> Truth() {
    std::map<int64_t, std::string> out;
    simdjson::dom::parser parser;
    for (int id : f.sim().ListItemIds(list)) {
      std::string json = f.sim().ListItemJson(list, id);
      std::string_view title;
      REQUIRE(parser.parse(json)["Title"].get(title) == simdjson::SUCCESS);
      out[id] = std::string(title);
    }
    return out;
  }

  LiveFixture f;
  std::string list;
  std::string site;
};

TEST_CASE("A SharePoint list converges in the mirror through its webhook", "[live][sharepoint]") {
  ListFixture t;
  // Subscribed (SharePoint validated the URL), and read whole at start.
  auto subs = t.f.sim().ListSubscriptions();
  REQUIRE(subs.size() == 1);
  CHECK(subs[0].list_id == t.list);
  CHECK(subs[0].notification_url == t.f.config().webhook.notification_url);
  CHECK(subs[0].expires > t.f.clock().Now() + std::chrono::hours(24 * 170));
  CHECK(t.Mirrored() == t.Truth());
  CHECK(t.Mirrored().size() == 3);

  // Added, updated, deleted: the notification says only "changed"; GetChanges tells what.
  const int added = t.f.sim().CreateListItem(t.list, R"({"Title":"added"})");
  REQUIRE(t.f.sim().UpdateListItem(t.list, 1, R"({"Title":"renamed"})"));
  REQUIRE(t.f.sim().DeleteListItem(t.list, 2));
  t.DeliverAndSync();
  CHECK(t.f.sim().ListDeliveries().delivered >= 1);
  auto mirrored = t.Mirrored();
  CHECK(mirrored == t.Truth());
  CHECK(mirrored.count(added) == 1);
  CHECK(mirrored.count(2) == 0);
  CHECK(mirrored[1] == "renamed");
  auto state = t.f.store().lists().State(t.site, t.list);
  REQUIRE(state.ok());
  CHECK(state->full_reads == 1);
  CHECK_FALSE(state->due());
  CHECK(state->change_token.rfind("1;3;" + t.list + ";", 0) == 0);
  // What `status` shows of the list.
  auto statuses = t.f.store().lists().Statuses();
  REQUIRE(statuses.ok());
  REQUIRE(statuses->size() == 1);
  const store::ListStatusRow& shown = statuses->front();
  CHECK(shown.site == t.site);
  CHECK(shown.list_id == t.list);
  CHECK(shown.items == static_cast<int64_t>(t.Truth().size()));
  CHECK(shown.full_reads == 1);
  CHECK(shown.pending == 0);
  CHECK(shown.has_token);
  CHECK(!shown.synced_at.empty());
  CHECK(shown.subscription_expires > store::FormatUtc(t.f.clock().Now()));

  // An item added and deleted before the sync never shows up.
  const int fleeting = t.f.sim().CreateListItem(t.list, R"({"Title":"fleeting"})");
  REQUIRE(t.f.sim().DeleteListItem(t.list, fleeting));
  t.DeliverAndSync();
  CHECK(t.Mirrored() == t.Truth());
}

TEST_CASE("A lost SharePoint delivery is recovered by the next notification's GetChanges",
          "[live][sharepoint]") {
  ListFixture t;
  t.f.sim().DropNextListNotifications(1);
  REQUIRE(t.f.sim().UpdateListItem(t.list, 1, R"({"Title":"lost change"})"));
  t.DeliverAndSync();
  CHECK(t.f.sim().ListDeliveries().lost == 1);
  // Nothing said the list changed: the mirror still has the old title.
  CHECK(t.Mirrored()[1] == "seeded 0");

  const int later = t.f.sim().CreateListItem(t.list, R"({"Title":"later"})");
  t.DeliverAndSync();
  // The next notification's GetChanges starts at the stored token: both changes land.
  auto mirrored = t.Mirrored();
  CHECK(mirrored[1] == "lost change");
  CHECK(mirrored.count(later) == 1);
  CHECK(mirrored == t.Truth());
}

TEST_CASE("A SharePoint item restored from the recycle bin comes back into the mirror",
          "[live][sharepoint]") {
  ListFixture t;
  REQUIRE(t.f.sim().DeleteListItem(t.list, 2));
  t.DeliverAndSync();
  CHECK(t.Mirrored().count(2) == 0);

  // The restore is a change of its own (ChangeType Restore), not an add or an update.
  REQUIRE(t.f.sim().RestoreListItem(t.list, 2));
  t.DeliverAndSync();
  auto mirrored = t.Mirrored();
  CHECK(mirrored.count(2) == 1);
  CHECK(mirrored[2] == "seeded 1");
  CHECK(mirrored == t.Truth());
  auto state = t.f.store().lists().State(t.site, t.list);
  REQUIRE(state.ok());
  CHECK(state->full_reads == 1);  // through GetChanges, not a whole read

  // Deleted and restored between two syncs: still there, as it is now.
  REQUIRE(t.f.sim().UpdateListItem(t.list, 2, R"({"Title":"before the bin"})"));
  REQUIRE(t.f.sim().DeleteListItem(t.list, 2));
  REQUIRE(t.f.sim().RestoreListItem(t.list, 2));
  t.DeliverAndSync();
  CHECK(t.Mirrored()[2] == "before the bin");
  CHECK(t.Mirrored() == t.Truth());
}

TEST_CASE("An expired SharePoint change token makes the list be read whole", "[live][sharepoint]") {
  // SharePoint answers an SPInvalidChangeTokenException with 500 (seen in the field) or 400.
  const int status = GENERATE(500, 400);
  ListFixture t;
  t.f.sim().ExpireListChangeTokens(t.list, status);
  REQUIRE(t.f.sim().DeleteListItem(t.list, 3));
  const int added = t.f.sim().CreateListItem(t.list, R"({"Title":"after expiry"})");
  t.DeliverAndSync();
  auto state = t.f.store().lists().State(t.site, t.list);
  REQUIRE(state.ok());
  CHECK(state->full_reads == 2);
  auto mirrored = t.Mirrored();
  CHECK(mirrored.count(3) == 0);
  CHECK(mirrored.count(added) == 1);
  CHECK(mirrored == t.Truth());
  // And GetChanges works again from the token the whole read stored.
  REQUIRE(t.f.sim().UpdateListItem(t.list, added, R"({"Title":"incremental"})"));
  t.DeliverAndSync();
  CHECK(t.Mirrored()[added] == "incremental");
  state = t.f.store().lists().State(t.site, t.list);
  REQUIRE(state.ok());
  CHECK(state->full_reads == 2);
}

TEST_CASE("List subscriptions are renewed ahead of their end, and made anew if lost",
          "[live][sharepoint]") {
  ListFixture t;
  auto first = t.f.sim().ListSubscriptions();
  REQUIRE(first.size() == 1);
  const auto expires = first[0].expires;
  // Well inside its 179 days: nothing to do.
  t.f.clock().Advance(std::chrono::hours(24 * 100));
  REQUIRE(t.f.live().sharepoint()->Maintain().ok());
  CHECK(t.f.sim().ListSubscriptions().at(0).expires == expires);
  // Less than 30 days left: renewed (the same subscription, a later end).
  t.f.clock().Advance(std::chrono::hours(24 * 55));
  REQUIRE(t.f.live().sharepoint()->Maintain().ok());
  auto renewed = t.f.sim().ListSubscriptions();
  REQUIRE(renewed.size() == 1);
  CHECK(renewed[0].id == first[0].id);
  CHECK(renewed[0].expires > expires + std::chrono::hours(24 * 100));
  auto stored = t.f.store().lists().Subscriptions();
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 1);
  CHECK(stored->at(0).expires_at >
        store::FormatUtc(t.f.clock().Now() + std::chrono::hours(24 * 170)));

  // Past its end while the daemon was down: SharePoint dropped it; a new one is made, and
  // changes notified through it arrive.
  t.f.StopLive();
  t.f.clock().Advance(std::chrono::hours(24 * 200));
  t.f.StartLive();
  auto now = t.f.sim().ListSubscriptions();
  REQUIRE(now.size() == 1);
  CHECK(now[0].id != first[0].id);
  stored = t.f.store().lists().Subscriptions();
  REQUIRE(stored.ok());
  CHECK(stored->size() == 1);
  const int added = t.f.sim().CreateListItem(t.list, R"({"Title":"through the new one"})");
  t.DeliverAndSync();
  CHECK(t.Mirrored().count(added) == 1);
  CHECK(t.Mirrored() == t.Truth());
}

TEST_CASE("A forged SharePoint notification changes nothing", "[live][sharepoint]") {
  ListFixture t;
  const auto before = t.f.store().lists().State(t.site, t.list);
  REQUIRE(before.ok());
  const auto sub = t.f.sim().ListSubscriptions().at(0);
  httplib::Client http("127.0.0.1", t.f.port());
  const std::string body =
      R"({"value":[{"subscriptionId":")" + sub.id +
      R"(","clientState":"forged","expirationDateTime":"2027-01-01T00:00:00Z",)"
      R"("resource":")" +
      t.list + R"(","tenantId":"t","siteUrl":"/sites/team","webId":"w"}]})";
  auto res = http.Post("/notify", body, "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  const auto after = t.f.store().lists().State(t.site, t.list);
  REQUIRE(after.ok());
  CHECK(after->notified == before->notified);
  CHECK(t.f.live().receiver().stats().rejected_bad_client_state == 1);
  // The real one counts.
  const std::string real = R"({"value":[{"subscriptionId":")" + sub.id + R"(","clientState":")" +
                           sub.client_state + R"(","resource":")" + t.list +
                           R"(","siteUrl":"/sites/team"}]})";
  res = http.Post("/notify", real, "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(t.f.store().lists().State(t.site, t.list)->notified == before->notified + 1);
}

}  // namespace
}  // namespace graphmirror::test
