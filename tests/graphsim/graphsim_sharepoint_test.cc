// graphsim's SharePoint lists (GRAPH.md section 9): item CRUD, GetChanges with change
// tokens, list subscriptions with their validation, and notifications with SharePoint's
// retry policy, over real HTTP.

#include <catch2/catch.hpp>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"
#include "tests/graphsim/test_certificate.h"

namespace graphsim_test {
namespace {

constexpr char kSite[] = "/sites/team";

// The certificate registered for the app: SharePoint takes app-only tokens obtained with
// one, never with a secret.
const TestCertificate& AppCertificate() {
  static const TestCertificate certificate;
  return certificate;
}

graphsim::Options WithAppCertificate() {
  graphsim::Options options = SmallOptions();
  options.client_certificate_pem = AppCertificate().pem;
  return options;
}

// Talks to the site with a token for its origin, obtained with the certificate.
struct ListFixture : SimFixture {
  ListFixture() : SimFixture(WithAppCertificate()) {
    list = sim().AddSharePointList(kSite, "Tasks");
    UseToken(CertificateToken(*this, AppCertificate(), SiteScope()));
  }
  std::string SiteScope() { return server().base_url() + "/.default"; }
  std::string Api(const std::string& rest = "") const {
    return std::string(kSite) + "/_api/web/lists('" + list + "')" + rest;
  }
  Reply Changes(const std::string& token, int row_limit = 0, bool restore = false) {
    Json query = {{"Add", true}, {"Update", true}, {"DeleteObject", true}, {"Item", true}};
    if (restore) query["Restore"] = true;
    if (!token.empty()) query["ChangeTokenStart"] = {{"StringValue", token}};
    if (row_limit > 0) query["RowLimit"] = row_limit;
    return Post(Api("/GetChanges"), Json{{"query", query}});
  }
  Reply Subscribe(const std::string& url, const std::string& expires,
                  const std::string& client_state = "spcs") {
    return Post(Api("/subscriptions"), Json{{"resource", "https://contoso.sharepoint.com" + Api()},
                                            {"notificationUrl", url},
                                            {"expirationDateTime", expires},
                                            {"clientState", client_state}});
  }
  std::string list;
};

TEST_CASE("sharepoint: app-only tokens from a secret or for another resource are refused",
          "[graphsim][sharepoint][auth]") {
  ListFixture f;
  REQUIRE(f.Get(f.Api()).status == 200);  // the certificate token for the site

  // A secret token for the site: SharePoint's own 401.
  Reply secret = f.RequestToken("graphsim-secret", "graphsim", "common", f.SiteScope());
  REQUIRE(secret.status == 200);
  httplib::Headers with_secret{
      {"Authorization", "Bearer " + secret.body["access_token"].get<std::string>()}};
  Reply refused = SimFixture::ToReply(f.client().Get(f.Api().c_str(), with_secret));
  CHECK(refused.status == 401);
  CHECK(refused.body["error_description"] == "Unsupported app only token.");
  CHECK(refused.raw.find("InvalidAuthenticationToken") == std::string::npos);  // not Graph's

  // A certificate token for Graph is not one for the site, nor the other way round.
  const std::string graph_token =
      CertificateToken(f, AppCertificate(), "https://graph.microsoft.com/.default");
  Reply wrong_audience = SimFixture::ToReply(
      f.client().Get(f.Api().c_str(), {{"Authorization", "Bearer " + graph_token}}));
  CHECK(wrong_audience.status == 401);
  CHECK(wrong_audience.body["error_description"].get<std::string>().find("Invalid audience") !=
        std::string::npos);
  const std::string contoso_token =
      CertificateToken(f, AppCertificate(), "https://contoso.sharepoint.com/.default");
  Reply graph_with_site_token = SimFixture::ToReply(
      f.client().Get("/v1.0/users", {{"Authorization", "Bearer " + contoso_token}}));
  CHECK(graph_with_site_token.status == 401);
  CHECK(graph_with_site_token.body["error"]["message"] ==
        "Access token validation failure. Invalid audience.");
  // Nor is a token for another site's host one for this site.
  CHECK(SimFixture::ToReply(
            f.client().Get(f.Api().c_str(), {{"Authorization", "Bearer " + contoso_token}}))
            .status == 401);
  // The Graph token is good for Graph.
  CHECK(SimFixture::ToReply(
            f.client().Get("/v1.0/users", {{"Authorization", "Bearer " + graph_token}}))
            .status == 200);
  // The scope carries no default port: a site at :443 is not "https://host:443".
  Reply port_scope = f.RequestToken("graphsim-secret", "graphsim", "common",
                                    "https://contoso.sharepoint.com:443/.default");
  CHECK(port_scope.status == 400);
}

TEST_CASE("sharepoint: GetItems selects items by a CAML In on their IDs",
          "[graphsim][sharepoint]") {
  ListFixture f;
  for (int i = 1; i <= 5; ++i) {
    f.sim().CreateListItem(f.list, "{\"Title\":\"t" + std::to_string(i) + "\"}");
  }
  auto get_items = [&](const std::string& view_xml) {
    return f.Post(f.Api("/GetItems"), Json{{"query", {{"ViewXml", view_xml}}}});
  };
  // Ids 2, 4 and 9 (gone): the two that exist, in id order, as /items renders them.
  Reply some = get_items(
      "<View><Query><Where><In><FieldRef Name='ID'/><Values><Value Type='Counter'>4</Value>"
      "<Value Type='Counter'>2</Value><Value Type='Counter'>9</Value></Values></In></Where>"
      "</Query><RowLimit>100</RowLimit></View>");
  INFO(some.raw);
  REQUIRE(some.status == 200);
  REQUIRE(some.body["value"].size() == 2);
  CHECK(some.body["value"][0]["Id"] == 2);
  CHECK(some.body["value"][1]["Id"] == 4);
  CHECK(some.body["value"][1] == f.Get(f.Api("/items(4)")).body);
  // Eq, double quotes.
  Reply one = get_items(
      "<View><Query><Where><Eq><FieldRef Name=\"ID\" /><Value Type=\"Counter\">3</Value></Eq>"
      "</Where></Query></View>");
  REQUIRE(one.body["value"].size() == 1);
  CHECK(one.body["value"][0]["Title"] == "t3");
  // No Where: every item, up to RowLimit.
  CHECK(get_items("<View><RowLimit>2</RowLimit></View>").body["value"].size() == 2);
  // What graphsim does not model, and what is not CAML, is refused, not ignored.
  CHECK(get_items("<View><Query><Where><Contains><FieldRef Name='Title'/><Value Type='Text'>t"
                  "</Value></Contains></Where></Query></View>")
            .status == 400);
  CHECK(get_items("not xml").status == 400);
  CHECK(f.Post(f.Api("/GetItems"), Json{{"query", Json::object()}}).status == 400);
  CHECK(f.sim().ListRequests().get_items == 6);
}

TEST_CASE("sharepoint: items, GetChanges and change tokens", "[graphsim][sharepoint]") {
  ListFixture f;
  Reply info = f.Get(f.Api());
  REQUIRE(info.status == 200);
  CHECK(info.body["Title"] == "Tasks");
  const std::string start = info.body["CurrentChangeToken"]["StringValue"];
  CHECK(start.rfind("1;3;" + f.list + ";", 0) == 0);

  // Without a bearer token: 401, like Graph.
  auto anonymous = f.NewClient()->Get(f.Api());
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);

  Reply created = f.Post(f.Api("/items"), Json{{"Title", "one"}});
  REQUIRE(created.status == 201);
  const int one = created.body["Id"];
  const int two = f.sim().CreateListItem(f.list, R"({"Title":"two"})");
  REQUIRE(f.Patch(f.Api("/items(" + std::to_string(one) + ")"), Json{{"Title", "uno"}}).status ==
          204);
  CHECK(f.Get(f.Api("/items(" + std::to_string(one) + ")")).body["Title"] == "uno");
  REQUIRE(f.Delete(f.Api("/items(" + std::to_string(two) + ")")).status == 204);
  CHECK(f.Get(f.Api("/items(" + std::to_string(two) + ")")).status == 404);

  Reply changes = f.Changes(start);
  REQUIRE(changes.status == 200);
  REQUIRE(changes.body["value"].size() == 4);
  std::vector<int> types;
  for (const Json& c : changes.body["value"]) types.push_back(c["ChangeType"]);
  CHECK(types == std::vector<int>{1, 1, 2, 3});
  CHECK(changes.body["value"][3]["ItemId"] == two);
  // From the token of the second change on: the last two.
  const std::string second = changes.body["value"][1]["ChangeToken"]["StringValue"];
  CHECK(f.Changes(second).body["value"].size() == 2);
  // RowLimit pages the changes.
  CHECK(f.Changes(start, 3).body["value"].size() == 3);
  // Only what the query asks for.
  Reply adds = f.Post(
      f.Api("/GetChanges"),
      Json{{"query",
            {{"Add", true}, {"Item", true}, {"ChangeTokenStart", {{"StringValue", start}}}}}});
  CHECK(adds.body["value"].size() == 2);
  CHECK(f.Changes("garbage").status == 400);

  // After the log's retention, old tokens are refused with SPInvalidChangeTokenException
  // (500 by default, as seen in the field); the current one still works.
  f.sim().ExpireListChangeTokens(f.list);
  Reply too_early = f.Changes(second);
  CHECK(too_early.status == 500);
  CHECK(too_early.body["odata.error"]["code"] ==
        "-2130575172, Microsoft.SharePoint.SPInvalidChangeTokenException");
  CHECK(too_early.body["odata.error"]["message"]["lang"] == "en-US");
  CHECK(too_early.body["odata.error"]["message"]["value"].get<std::string>().find(
            "before the start of the current change log") != std::string::npos);
  f.sim().ExpireListChangeTokens(f.list, 400);
  Reply refused = f.Changes(second);
  CHECK(refused.status == 400);
  CHECK(refused.body["odata.error"]["code"] == too_early.body["odata.error"]["code"]);
  const std::string now = f.Get(f.Api()).body["CurrentChangeToken"]["StringValue"];
  CHECK(f.Changes(now).status == 200);
  CHECK(f.Changes(now).body["value"].empty());

  // Paged item reads.
  for (int i = 0; i < 5; ++i) f.sim().CreateListItem(f.list, R"({"Title":"p"})");
  Reply page = f.Get(f.Api("/items?$top=2"));
  REQUIRE(page.status == 200);
  CHECK(page.body["value"].size() == 2);
  size_t seen = page.body["value"].size();
  while (page.body.contains("odata.nextLink")) {
    page = f.GetLink(page.body["odata.nextLink"]);
    REQUIRE(page.status == 200);
    seen += page.body["value"].size();
  }
  CHECK(seen == f.sim().ListItemIds(f.list).size());
  CHECK(f.Get(std::string(kSite) + "/_api/web/lists('00000000-0000-0000-0000-000000000000')")
            .status == 404);
}

TEST_CASE("sharepoint: the recycle bin, and Restore changes only when asked",
          "[graphsim][sharepoint]") {
  ListFixture f;
  const std::string start = f.Get(f.Api()).body["CurrentChangeToken"]["StringValue"];
  const int one = f.sim().CreateListItem(f.list, R"({"Title":"one"})");
  const int two = f.sim().CreateListItem(f.list, R"({"Title":"two"})");
  const std::string item = "/items(" + std::to_string(one) + ")";

  // recycle() moves the item to the site's recycle bin and names the recycle bin item.
  Reply recycled = f.Post(f.Api(item + "/recycle()"), Json::object());
  REQUIRE(recycled.status == 200);
  const std::string guid = recycled.body["value"];
  CHECK(f.Get(f.Api(item)).status == 404);
  CHECK(f.Post(f.Api(item + "/recycle()"), Json::object()).status == 404);

  // RecycleBin('{id}')/restore() brings it back with its id and fields.
  const std::string bin = std::string(kSite) + "/_api/web/RecycleBin('" + guid + "')";
  CHECK(f.Get(bin + "/restore()").status == 405);
  REQUIRE(f.Post(bin + "/restore()", Json::object()).status == 200);
  Reply back = f.Get(f.Api(item));
  REQUIRE(back.status == 200);
  CHECK(back.body["Title"] == "one");
  CHECK(back.body["Id"] == one);
  // Restored once: the recycle bin item is gone.
  CHECK(f.Post(bin + "/restore()", Json::object()).status == 404);

  // The direct API: a user's delete recycles, and the restore brings the same id back.
  REQUIRE(f.sim().DeleteListItem(f.list, two));
  CHECK(f.sim().ListItemIds(f.list) == std::vector<int>{one});
  REQUIRE(f.sim().RestoreListItem(f.list, two));
  CHECK_FALSE(f.sim().RestoreListItem(f.list, two));
  CHECK(f.sim().ListItemIds(f.list) == std::vector<int>{one, two});

  auto types = [](const Reply& r) {
    std::vector<int> out;
    for (const Json& c : r.body["value"]) out.push_back(c["ChangeType"]);
    return out;
  };
  // SPChangeType Restore (7) is reported only to a query with Restore: true.
  CHECK(types(f.Changes(start, 0, /*restore=*/true)) == std::vector<int>{1, 1, 3, 7, 3, 7});
  CHECK(types(f.Changes(start)) == std::vector<int>{1, 1, 3, 3});
  Reply with_restore = f.Changes(start, 0, /*restore=*/true);
  CHECK(with_restore.body["value"][3]["ItemId"] == one);
  CHECK(with_restore.body["value"][5]["ItemId"] == two);
}

TEST_CASE("sharepoint: subscriptions are validated, renewed and deleted",
          "[graphsim][sharepoint]") {
  ListFixture f;
  Webhook hook;
  const auto now = f.clock().Now();
  Reply created = f.Subscribe(hook.url(), IsoTime(now + std::chrono::hours(24 * 90)));
  REQUIRE(created.status == 201);
  CHECK(created.body["resource"] == f.list);
  REQUIRE(hook.validations().size() == 1);
  CHECK(!hook.validations()[0].token.empty());
  CHECK(hook.validations()[0].target.find("validationtoken=") != std::string::npos);
  const std::string id = created.body["id"];

  // More than 180 days, or in the past: refused.
  CHECK(f.Subscribe(hook.url(), IsoTime(now + std::chrono::hours(24 * 181))).status == 400);
  CHECK(f.Subscribe(hook.url(), IsoTime(now - std::chrono::hours(1))).status == 400);
  // An endpoint that does not echo the token gets no subscription.
  hook.set_validation(Webhook::Validation::kWrongBody);
  CHECK(f.Subscribe(hook.url(), IsoTime(now + std::chrono::hours(24))).status == 400);
  CHECK(f.sim().ListSubscriptions().size() == 1);

  const std::string path = f.Api("/subscriptions('" + id + "')");
  CHECK(f.Patch(path, Json{{"expirationDateTime", IsoTime(now + std::chrono::hours(24 * 170))}})
            .status == 204);
  CHECK(f.Get(path).body["expirationDateTime"] == IsoTime(now + std::chrono::hours(24 * 170)));
  CHECK(f.Get(f.Api("/subscriptions")).body["value"].size() == 1);
  CHECK(f.Delete(path).status == 204);
  CHECK(f.Get(path).status == 404);
  CHECK(f.sim().ListSubscriptions().empty());
}

TEST_CASE("sharepoint: notifications carry no details, and are retried 5 times 5 minutes apart",
          "[graphsim][sharepoint]") {
  ListFixture f;
  Webhook hook;
  const auto now = f.clock().Now();
  REQUIRE(f.Subscribe(hook.url(), IsoTime(now + std::chrono::hours(24 * 30))).status == 201);
  const std::string subscription = f.sim().ListSubscriptions()[0].id;

  // A burst of changes: one notification.
  f.sim().CreateListItem(f.list, R"({"Title":"a"})");
  f.sim().CreateListItem(f.list, R"({"Title":"b"})");
  CHECK(f.sim().PumpDeliveries() == 1);
  REQUIRE(hook.items().size() == 1);
  const Json item = hook.items()[0];
  CHECK(item["subscriptionId"] == subscription);
  CHECK(item["clientState"] == "spcs");
  CHECK(item["resource"] == f.list);
  CHECK(item["siteUrl"] == kSite);
  CHECK(item.contains("tenantId"));
  CHECK(item.contains("webId"));
  CHECK_FALSE(item.contains("changeType"));
  CHECK(f.sim().ListDeliveries().delivered == 1);

  // Refused: tried again only after 5 minutes, 5 tries in all, then dropped.
  hook.set_notification_status(500);
  f.sim().UpdateListItem(f.list, 1, R"({"Title":"a2"})");
  CHECK(f.sim().PumpDeliveries() == 1);
  CHECK(f.sim().PumpDeliveries() == 0);
  for (int i = 0; i < 4; ++i) {
    f.clock().Advance(std::chrono::minutes(5));
    CHECK(f.sim().PumpDeliveries() == 1);
  }
  f.clock().Advance(std::chrono::minutes(5));
  CHECK(f.sim().PumpDeliveries() == 0);
  auto stats = f.sim().ListDeliveries();
  CHECK(stats.failed_attempts == 5);
  CHECK(stats.dropped == 1);
  CHECK(stats.pending == 0);

  // A lost notification is never posted.
  hook.set_notification_status(200);
  f.sim().DropNextListNotifications(1);
  f.sim().DeleteListItem(f.list, 2);
  CHECK(f.sim().PumpDeliveries() == 0);
  CHECK(f.sim().ListDeliveries().lost == 1);
  f.sim().CreateListItem(f.list, R"({"Title":"c"})");
  CHECK(f.sim().PumpDeliveries() == 1);
}

}  // namespace
}  // namespace graphsim_test
