// SharePoint lists mirrored through list webhooks (GRAPH.md section 9), against graphsim's
// SharePoint: the subscription, the notification as a hint, GetChanges from the stored
// change token as the truth, a lost delivery, an expired token.

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>

#include "engine/ops/admin.h"
#include "engine/ops/doctor.h"
#include "engine/rich/keygen.h"
#include "tests/integration/live_fixture.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::test {
namespace {

constexpr char kSite[] = "/sites/team";

// The app's certificate ([graph] certificate and private_key), registered with graphsim:
// SharePoint takes app-only tokens obtained with a certificate only.
struct AppCertificate {
  AppCertificate() {
    auto generated = rich::GenerateCertificate("graphmirror app", 30);
    REQUIRE(generated.ok());
    pem = generated->certificate_pem;
    REQUIRE(rich::WriteCertificateFiles(*generated, cert, key).ok());
  }
  TempDir dir;
  std::string cert = dir.Path("app-cert.pem"), key = dir.Path("app-key.pem");
  std::string pem;
};

graphsim::Options WithCertificate(const std::string& pem) {
  graphsim::Options options = Small();
  options.client_certificate_pem = pem;
  return options;
}

struct ListFixture {
  // `certificate` false: the app has only its client secret.
  explicit ListFixture(bool certificate = true, int seeded = 3) : f(WithCertificate(app.pem)) {
    list = f.sim().AddSharePointList(kSite, "Tasks");
    for (int i = 0; i < seeded; ++i) {
      f.sim().CreateListItem(list, "{\"Title\":\"seeded " + std::to_string(i) + "\"}");
    }
    site = f.server().base_url() + kSite;
    f.RestartWith([&](config::Config& c) {
      if (certificate) {
        c.graph.certificate = app.cert;
        c.graph.private_key = app.key;
      }
      c.sharepoint.push_back({site, {list}});
    });
    REQUIRE(f.live().sharepoint() != nullptr);
  }

  // Graph and SharePoint deliver what is due; the list worker syncs what was notified.
  void DeliverAndSync() {
    f.Deliver();
    auto synced = f.live().sharepoint()->RunOnce();
    REQUIRE(synced.ok());
  }

  // The /metrics text; `name{site="...",list="..."<more>} ` prefixes a sample of the list.
  std::string Metrics() {
    auto text = ops::RenderLiveMetrics(&f.live());
    REQUIRE(text.ok());
    return *text;
  }
  std::string Sample(const std::string& name, const std::string& more = "") const {
    return "graphmirror_" + name + "{site=\"" + site + "\",list=\"" + list + "\"" + more + "} ";
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

  AppCertificate app;  // before f: graphsim registers it
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
  CHECK(shown.last_change_at == store::FormatUtc(t.f.clock().Now()));
  CHECK(!shown.token_at.empty());
  CHECK(shown.last_error.empty());
  CHECK(shown.subscription_error.empty());
  // And /metrics, per list.
  const std::string metrics = t.Metrics();
  INFO(metrics);
  CHECK(metrics.find(t.Sample("list_items") + "3\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_whole_reads_total") + "1\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_syncs_total", ",outcome=\"ok\"") + "2\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_syncs_total", ",outcome=\"failed\"") + "0\n") !=
        std::string::npos);
  CHECK(metrics.find(t.Sample("list_items_removed_total") + "1\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_failing", ",reason=\"sync\"") + "0\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_notifications_total")) != std::string::npos);

  // An item added and deleted before the sync never shows up.
  const int fleeting = t.f.sim().CreateListItem(t.list, R"({"Title":"fleeting"})");
  REQUIRE(t.f.sim().DeleteListItem(t.list, fleeting));
  t.DeliverAndSync();
  CHECK(t.Mirrored() == t.Truth());
}

TEST_CASE("Changed list items are read back 100 per GetItems, never one by one",
          "[live][sharepoint][cost]") {
  ListFixture t(/*certificate=*/true, /*seeded=*/300);
  const auto before = t.f.sim().ListRequests();
  // 250 items changed, 3 deleted, 20 added then deleted before the sync.
  for (int id = 1; id <= 250; ++id) {
    REQUIRE(
        t.f.sim().UpdateListItem(t.list, id, "{\"Title\":\"changed " + std::to_string(id) + "\"}"));
  }
  for (int id : {251, 252, 253}) REQUIRE(t.f.sim().DeleteListItem(t.list, id));
  for (int i = 0; i < 20; ++i) {
    const int fleeting = t.f.sim().CreateListItem(t.list, R"({"Title":"fleeting"})");
    REQUIRE(t.f.sim().DeleteListItem(t.list, fleeting));
  }
  t.DeliverAndSync();
  CHECK(t.Mirrored() == t.Truth());
  const auto after = t.f.sim().ListRequests();
  // 270 items to read back (the fleeting ones too: GetChanges reports their add): 3 queries.
  CHECK(after.get_items - before.get_items == 3);
  CHECK(after.item_reads == before.item_reads);  // no GET per item
  CHECK(after.get_changes - before.get_changes == 1);
  auto shown = t.f.store().lists().Statuses();
  REQUIRE(shown.ok());
  CHECK(shown->front().changes_read >= 250 + 3 + 40);
  CHECK(shown->front().last_error.empty());
  const auto& stats = t.f.live().sharepoint()->lists().front()->stats();
  CHECK(stats.item_queries == 3);
  CHECK(stats.item_reads == 250);  // read back; the fleeting ones were gone
}

TEST_CASE("A whole-list read holds one page in memory and keeps the list readable",
          "[live][sharepoint]") {
  ListFixture t(/*certificate=*/true, /*seeded=*/1200);
  CHECK(t.Mirrored().size() == 1200);
  const auto& stats = t.f.live().sharepoint()->lists().front()->stats();
  CHECK(t.f.store().lists().State(t.site, t.list)->full_reads == 1);
  CHECK(stats.largest_batch == 500);  // a page, never the list
  const auto pages = t.f.sim().ListRequests().item_pages;
  CHECK(pages == 3);

  // The token expires, an item goes, and the next whole read breaks off after its first
  // page: a reader still sees the whole list (nothing emptied, nothing half-swept), the
  // list has no token, its status shows the error; the next sync reads it whole again.
  t.f.sim().ExpireListChangeTokens(t.list);
  REQUIRE(t.f.sim().DeleteListItem(t.list, 1100));
  REQUIRE(t.f.sim().UpdateListItem(t.list, 2, R"({"Title":"renamed"})"));
  t.f.sim().FailListItemPage(/*after_pages=*/1, 400);
  t.f.Deliver();
  auto ran = t.f.live().sharepoint()->RunOnce();
  REQUIRE(ran.ok());
  CHECK(*ran == 0);  // the list's sync failed
  auto during = t.Mirrored();
  CHECK(during.size() == 1200);
  CHECK(during[2] == "renamed");   // the first page landed
  CHECK(during.count(1100) == 1);  // not swept before the read ends
  auto state = t.f.store().lists().State(t.site, t.list);
  REQUIRE(state.ok());
  CHECK(state->change_token.empty());
  auto shown = t.f.store().lists().Statuses();
  REQUIRE(shown.ok());
  CHECK(shown->front().last_error.find("400") != std::string::npos);
  CHECK(shown->front().sync_failures == 1);

  t.f.clock().Advance(std::chrono::minutes(10));  // past the retry delay
  REQUIRE(t.f.live().sharepoint()->RunOnce().ok());
  CHECK(t.Mirrored() == t.Truth());
  CHECK(t.Mirrored().count(1100) == 0);
  shown = t.f.store().lists().Statuses();
  CHECK(shown->front().last_error.empty());
  CHECK(shown->front().has_token);
  CHECK(stats.largest_batch == 500);
}

TEST_CASE("With only a client secret, SharePoint refuses the list and status says why",
          "[live][sharepoint]") {
  ListFixture t(/*certificate=*/false);
  // Nothing was read: SharePoint answered 401 "Unsupported app only token." to every call.
  CHECK(t.Mirrored().empty());
  CHECK(t.f.sim().ListSubscriptions().empty());
  auto shown = t.f.store().lists().Statuses();
  REQUIRE(shown.ok());
  REQUIRE(shown->size() == 1);
  CHECK(shown->front().last_error.find("Unsupported app only token") != std::string::npos);
  CHECK(shown->front().subscription_error.find("Unsupported app only token") != std::string::npos);
  CHECK(shown->front().sync_failures >= 1);
  CHECK_FALSE(shown->front().has_token);
  const std::string metrics = t.Metrics();
  INFO(metrics);
  CHECK(metrics.find(t.Sample("list_failing", ",reason=\"sync\"") + "1\n") != std::string::npos);
  CHECK(metrics.find(t.Sample("list_failing", ",reason=\"subscription\"") + "1\n") !=
        std::string::npos);
  CHECK(metrics.find(t.Sample("list_change_token_timestamp_seconds") + "0\n") != std::string::npos);
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

// doctor's SharePoint findings, one line each: "ok|warn|FAIL text".
std::vector<std::string> SharePointFindings(const config::Config& config, Clock* clock) {
  std::vector<std::string> out;
  for (const ops::Finding& f : ops::RunDoctor(config, clock)) {
    if (f.check != "sharepoint") continue;
    const char* level = f.level == ops::Finding::Level::kOk     ? "ok "
                        : f.level == ops::Finding::Level::kWarn ? "warn "
                                                                : "FAIL ";
    out.push_back(level + f.text);
  }
  return out;
}

bool Has(const std::vector<std::string>& findings, const std::string& start,
         const std::string& part) {
  for (const std::string& f : findings) {
    if (f.rfind(start, 0) == 0 && f.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("doctor checks each SharePoint site's permissions and each list",
          "[live][sharepoint][doctor]") {
  ListFixture t;
  config::Config config = t.f.config();
  config.sharepoint.front().lists.push_back("00000000-0000-0000-0000-00000000dead");
  auto findings = SharePointFindings(config, &t.f.clock());
  INFO([&] {
    std::string all;
    for (const std::string& f : findings) all += f + "\n";
    return all;
  }());
  CHECK(Has(findings, "ok " + t.site + ": Sites.Manage.All granted", ""));
  CHECK(Has(findings, "ok " + t.site + " list " + t.list, "readable (\"Tasks\", 3 items)"));
  CHECK(Has(findings, "FAIL " + t.site + " list 00000000-0000-0000-0000-00000000dead",
            "404: no such list"));

  // Reads only: the list is readable, its subscription is refused (403, shown in status),
  // and doctor names the permission.
  t.f.sim().SetPermission("Sites.Manage.All", false);
  t.f.sim().SetPermission("Sites.Read.All", true);
  findings = SharePointFindings(t.f.config(), &t.f.clock());
  CHECK(Has(findings, "FAIL " + t.site,
            "need the SharePoint application permission Sites.Manage.All"));
  CHECK(Has(findings, "ok " + t.site + " list " + t.list, "readable"));
  t.f.StopLive();
  t.f.clock().Advance(std::chrono::hours(24 * 200));  // the subscription ended meanwhile
  t.f.StartLive();
  CHECK(t.f.sim().ListSubscriptions().empty());
  auto shown = t.f.store().lists().Statuses();
  REQUIRE(shown.ok());
  CHECK(shown->front().subscription_error.find("Access denied") != std::string::npos);
  CHECK(shown->front().last_error.empty());  // reads work

  // Nothing at all of SharePoint's: the list itself is refused.
  t.f.sim().SetPermission("Sites.Read.All", false);
  findings = SharePointFindings(t.f.config(), &t.f.clock());
  CHECK(Has(findings, "FAIL " + t.site, "no SharePoint Sites permission"));
  CHECK(Has(findings, "FAIL " + t.site + " list " + t.list, "403"));
}

TEST_CASE("doctor says a secret cannot reach SharePoint", "[live][sharepoint][doctor]") {
  ListFixture t(/*certificate=*/false);
  auto findings = SharePointFindings(t.f.config(), &t.f.clock());
  INFO([&] {
    std::string all;
    for (const std::string& f : findings) all += f + "\n";
    return all;
  }());
  CHECK(Has(findings, "FAIL ", "certificate"));
  CHECK(Has(findings, "FAIL " + t.site + " list " + t.list,
            "401: Unsupported app only token. (SharePoint takes app-only tokens obtained with a "
            "certificate only)"));
}

}  // namespace
}  // namespace graphmirror::test
