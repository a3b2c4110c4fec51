// graphsim's OData: $filter, $orderby (and InefficientFilter), $top, $select, $count,
// paging by @odata.nextLink, over HTTP.

#include <catch2/catch.hpp>
#include <cctype>
#include <functional>
#include <set>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

// Every item of a query, following nextLinks; fails the test on an error.
std::vector<Json> ReadAll(SimFixture& f, const std::string& first, int* pages = nullptr) {
  std::vector<Json> items;
  Reply r = f.Get(first);
  int n = 0;
  while (true) {
    REQUIRE(r.status == 200);
    ++n;
    for (const Json& item : r.body["value"]) items.push_back(item);
    if (!r.body.contains("@odata.nextLink")) break;
    r = f.GetLink(r.body["@odata.nextLink"]);
  }
  if (pages) *pages = n;
  return items;
}

TEST_CASE("$filter on timestamps", "[graphsim][odata]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(0) + "/messages";
  std::vector<Json> all = ReadAll(f, base + "?$top=1000");
  REQUIRE(all.size() == 30);
  std::vector<std::string> created;
  for (const Json& m : all) created.push_back(m["createdDateTime"]);
  std::sort(created.begin(), created.end());
  const std::string& pivot = created[15];
  auto expect = [&](auto pred) {
    return static_cast<size_t>(std::count_if(created.begin(), created.end(), pred));
  };

  CHECK(ReadAll(f, base + "?$filter=createdDateTime ge " + pivot).size() ==
        expect([&](const std::string& c) { return c >= pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime gt " + pivot).size() ==
        expect([&](const std::string& c) { return c > pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime lt " + pivot).size() ==
        expect([&](const std::string& c) { return c < pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime le " + pivot).size() ==
        expect([&](const std::string& c) { return c <= pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime eq " + pivot).size() ==
        expect([&](const std::string& c) { return c == pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime ge " + created[5] + " and createdDateTime lt " +
                       created[20])
            .size() ==
        expect([&](const std::string& c) { return c >= created[5] && c < created[20]; }));

  // Literal forms: fractional digits (0-7), offsets ('+' must arrive as %2B), URL-encoded.
  std::string at = pivot.substr(0, 19);  // without Z
  CHECK(ReadAll(f, base + "?$filter=createdDateTime eq " + at + ".0000000Z").size() ==
        expect([&](const std::string& c) { return c == pivot; }));
  CHECK(ReadAll(f, base + "?$filter=createdDateTime ge " + at + ".5Z").size() ==
        expect([&](const std::string& c) { return c > pivot; }));
  int hour = std::stoi(at.substr(11, 2));
  char shifted[32];
  std::snprintf(shifted, sizeof(shifted), "%s%02d%s", at.substr(0, 11).c_str(), (hour + 2) % 24,
                at.substr(13).c_str());
  if (hour < 22) {
    CHECK(ReadAll(f, base + "?$filter=createdDateTime eq " + std::string(shifted) + "%2B02:00")
              .size() == expect([&](const std::string& c) { return c == pivot; }));
  }
  CHECK(ReadAll(f, base + "?%24filter=createdDateTime%20ge%20" + pivot).size() ==
        expect([&](const std::string& c) { return c >= pivot; }));
  CHECK(ReadAll(f, base + "?$filter=lastModifiedDateTime ge 2025-12-01T00:00:00Z and "
                          "receivedDateTime le 2026-01-01T00:00:00Z")
            .size() <= 30);

  for (const char* bad :
       {"createdDateTime ge", "createdDateTime foo 2026-01-01T00:00:00Z",
        "createdDateTime ge 2026-01-01", "createdDateTime ge '2026-01-01T00:00:00Z'",
        "createdDateTime ge 2026-01-01T00:00:00.12345678Z",
        "createdDateTime ge 2026-13-01T00:00:00Z", "(createdDateTime ge 2026-01-01T00:00:00Z",
        "noSuchProperty ge 2026-01-01T00:00:00Z"}) {
    INFO(bad);
    Reply r = f.Get(base + "?$filter=" + bad);
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "BadRequest");
  }
  // Graph's OData layer refuses more than 100 nodes (parentheses count here).
  std::string clauses = "createdDateTime ge 2026-01-01T00:00:00Z";
  for (int i = 0; i < 99; ++i) clauses += " and createdDateTime ge 2026-01-01T00:00:00Z";
  CHECK(f.Get(base + "?$filter=" + clauses).status == 200);
  Reply too_many =
      f.Get(base + "?$filter=" + clauses + " and createdDateTime ge 2026-01-01T00:00:00Z");
  CHECK(too_many.status == 400);
  CHECK(too_many.body["error"]["message"].get<std::string>().find("node count limit") !=
        std::string::npos);
  CHECK(f.Get(base + "?$filter=" + std::string(5000, '(')).status == 400);
  // Dates past what graphsim's nanosecond clock holds saturate instead of overflowing.
  CHECK(ReadAll(f, base + "?$filter=createdDateTime lt 9999-12-31T00:00:00Z").size() == 30);
  CHECK(ReadAll(f, base + "?$filter=createdDateTime gt 0001-01-01T00:00:00Z").size() == 30);
  // Graph filters on sentDateTime too; graphsim does not: 501, not a client error.
  Reply unsupported = f.Get(base + "?$filter=sentDateTime ge 2026-01-01T00:00:00Z");
  CHECK(unsupported.status == 501);
  CHECK(unsupported.body["error"]["code"] == "NotImplemented");
  // receivedDateTime exists on messages only.
  CHECK(
      f.Get("/v1.0/users/" + f.user(0) + "/events?$filter=receivedDateTime ge 2026-01-01T00:00:00Z")
          .status == 400);
  CHECK(f.Get("/v1.0/users/" + f.user(0) +
              "/contacts?$filter=lastModifiedDateTime ge 2026-01-01T00:00:00Z")
            .status == 200);
}

// The ids of `items` that satisfy `pred`, and the ids a filtered query returns (all pages).
std::set<std::string> IdsOf(const std::vector<Json>& items,
                            const std::function<bool(const Json&)>& pred) {
  std::set<std::string> ids;
  for (const Json& item : items) {
    if (pred(item)) ids.insert(item["id"].get<std::string>());
  }
  return ids;
}
std::set<std::string> Queried(SimFixture& f, const std::string& url) {
  return IdsOf(ReadAll(f, url), [](const Json&) { return true; });
}

std::string LowerText(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_CASE("$filter on Boolean, String and enum properties", "[graphsim][odata]") {
  SimFixture f;
  const std::string uid = f.user(0);
  const std::string base = "/v1.0/users/" + uid + "/messages";
  // Variety beyond the seed: a high-importance unread message, a low one read.
  std::string high = f.sim().CreateItem(uid, "messages", R"({"subject":"It's urgent"})");
  REQUIRE(f.Patch(base + "/" + high, Json{{"isRead", false}, {"importance", "high"}}).status ==
          200);
  std::string low = f.sim().CreateItem(uid, "messages", R"({"subject":"fyi"})");
  REQUIRE(f.Patch(base + "/" + low, Json{{"isRead", true}, {"importance", "Low"}}).status == 200);
  // "Update message" spells the members `Low`, `Normal`, `High`; Graph serves them lower-case.
  CHECK(f.Get(base + "/" + low + "?$select=importance").body["importance"] == "low");
  const std::vector<Json> all = ReadAll(f, base + "?$top=1000");
  REQUIRE(all.size() == 32);
  auto unread = [](const Json& m) { return m["isRead"] == false; };
  auto importance = [](const Json& m) { return m["importance"].get<std::string>(); };
  REQUIRE_FALSE(IdsOf(all, unread).empty());
  REQUIRE(IdsOf(all, unread).size() < all.size());

  struct Case {
    const char* filter;
    std::function<bool(const Json&)> pred;
  };
  const std::vector<Case> cases = {
      {"isRead eq false", unread},
      {"isRead ne false", [&](const Json& m) { return !unread(m); }},
      {"isRead", [&](const Json& m) { return !unread(m); }},  // a Boolean property alone
      {"not isRead", unread},
      {"NOT(isRead eq true)", unread},
      {"isRead eq FALSE", unread},  // true/false/null and keywords in any case
      {"hasAttachments eq true", [](const Json& m) { return m["hasAttachments"] == true; }},
      {"isDraft eq true or hasAttachments eq true",
       [](const Json& m) { return m["isDraft"] == true || m["hasAttachments"] == true; }},
      // Outlook-CN Example 3 writes `AND` and `'High'`.
      {"hasAttachments eq false AND importance eq 'High'",
       [&](const Json& m) { return m["hasAttachments"] == false && importance(m) == "high"; }},
      {"importance ne 'normal'", [&](const Json& m) { return importance(m) != "normal"; }},
      // Enum members compare in the order the page lists them: low, normal, high.
      {"importance gt 'normal'", [&](const Json& m) { return importance(m) == "high"; }},
      {"importance le 'normal'", [&](const Json& m) { return importance(m) != "high"; }},
      {"inferenceClassification eq 'focused'",
       [](const Json& m) { return m["inferenceClassification"] == "focused"; }},
      {"subject eq 'IT''S URGENT'", [](const Json& m) { return m["subject"] == "It's urgent"; }},
      {"subject ge 'r'",
       [](const Json& m) { return LowerText(m["subject"].get<std::string>()) >= "r"; }},
      {"(isRead eq false or importance eq 'high') and not (hasAttachments eq true)",
       [&](const Json& m) {
         return (unread(m) || importance(m) == "high") && m["hasAttachments"] == false;
       }},
      {"subject eq null", [](const Json&) { return false; }},
      {"subject ne null", [](const Json&) { return true; }},
      {"createdDateTime ge 1900-01-01T00:00:00Z and (isRead eq false)", unread},
  };
  for (const Case& c : cases) {
    INFO(c.filter);
    std::set<std::string> expected = IdsOf(all, c.pred);
    CHECK(Queried(f, base + "?$filter=" + c.filter + "&$top=3") == expected);
    Reply counted = f.Get(base + "?$filter=" + c.filter + "&$count=true&$top=1");
    CHECK(counted.body["@odata.count"] == expected.size());
  }
  CHECK(Queried(f, base + "?$filter=importance eq 'high'").count(high) == 1);
  CHECK(Queried(f, base + "?$filter=importance eq 'low'").count(low) == 1);

  // The engine's queries: the time key leads $filter, the scope follows in parentheses.
  std::set<std::string> unread_ids = IdsOf(all, unread);
  CHECK(Queried(f, base + "?$filter=createdDateTime ge 1900-01-01T00:00:00Z and (isRead eq false)"
                          "&$orderby=createdDateTime&$select=id,createdDateTime,"
                          "lastModifiedDateTime,changeKey&$top=1000") == unread_ids);
  CHECK(Queried(f, base + "?$filter=lastModifiedDateTime ge 1900-01-01T00:00:00Z and (isRead eq "
                          "false)&$orderby=lastModifiedDateTime&$top=5&$select=subject,isRead") ==
        unread_ids);
  CheckError(f.Get(base + "?$filter=isRead eq false and createdDateTime ge "
                          "1900-01-01T00:00:00Z&$orderby=createdDateTime"),
             400, "InefficientFilter");

  // A folder's list filters within the folder.
  const std::string inbox_url = "/v1.0/users/" + uid + "/mailFolders/inbox/messages";
  std::vector<Json> inbox = ReadAll(f, inbox_url + "?$top=1000");
  CHECK(Queried(f, inbox_url + "?$filter=isRead eq false") == IdsOf(inbox, unread));

  // Marking read takes a message out of the unread list at once.
  REQUIRE(f.Patch(base + "/" + high, Json{{"isRead", true}}).status == 200);
  CHECK(Queried(f, base + "?$filter=isRead eq false").count(high) == 0);

  // Type mismatches, bad literals and unknown properties are the client's error; what
  // Graph documents and graphsim does not serve is 501.
  CheckError(f.Get(base + "?$filter=isRead eq 'x'"), 400, "BadRequest",
             "A binary operator with incompatible types was detected. Found operand types "
             "'Edm.Boolean' and 'Edm.String' for operator kind 'Equal'.");
  CheckError(f.Get(base + "?$filter=subject ne true"), 400, "BadRequest",
             "A binary operator with incompatible types was detected. Found operand types "
             "'Edm.String' and 'Edm.Boolean' for operator kind 'NotEqual'.");
  CheckError(f.Get(base + "?$filter=importance eq 2026-01-01T00:00:00Z"), 400, "BadRequest",
             "A binary operator with incompatible types was detected. Found operand types "
             "'microsoft.graph.importance' and 'Edm.DateTimeOffset' for operator kind 'Equal'.");
  CheckError(f.Get(base + "?$filter=isRead eq 1"), 400, "BadRequest");
  CheckError(f.Get(base + "?$filter=importance eq 'urgent'"), 400, "BadRequest",
             "The string 'urgent' is not a valid enumeration type constant.");
  for (const char* bad :
       {"subject eq hello", "subject", "isRead eq", "not", "isRead and", "subject eq 'open",
        "isRead eq false or", "nosuch eq true", "nosuch/address eq 'x'", "nosuch(subject)"}) {
    INFO(bad);
    CheckError(f.Get(base + "?$filter=" + bad), 400, "BadRequest");
  }
  for (const char* unserved :
       {"from/emailAddress/address eq 'someuser@example.com'", "startswith(subject,'a')",
        "contains(subject,'a')", "categories/any(c:c eq 'Blue category')",
        "importance in ('high','low')", "webLink eq 'x'", "body eq 'x'"}) {
    INFO(unserved);
    CheckError(f.Get(base + "?$filter=" + unserved), 501, "NotImplemented");
  }
}

TEST_CASE("$filter on event and contact properties, and PATCH of them", "[graphsim][odata]") {
  SimFixture f;
  const std::string uid = f.user(0);
  const std::string events = "/v1.0/users/" + uid + "/events";
  std::string meeting = f.sim().CreateItem(uid, "events", R"({"subject":"Board"})");
  REQUIRE(f.Patch(events + "/" + meeting,
                  Json{{"importance", "high"}, {"showAs", "oof"}, {"isAllDay", false}})
              .status == 200);
  const std::vector<Json> all = ReadAll(f, events + "?$top=1000");
  REQUIRE(all.size() == 11);
  auto high = [](const Json& e) { return e["importance"] == "high"; };
  CHECK(Queried(f, events + "?$filter=createdDateTime ge 1900-01-01T00:00:00Z and (importance "
                            "eq 'high')&$orderby=createdDateTime") == IdsOf(all, high));
  CHECK(IdsOf(all, high) == std::set<std::string>{meeting});
  for (const char* filter :
       {"isAllDay eq true", "showAs eq 'free'", "showAs eq 'OOF'", "isCancelled eq false",
        "type eq 'singleInstance'", "subject eq 'board'"}) {
    INFO(filter);
    std::string text = filter;
    std::string property = text.substr(0, text.find(' '));
    std::string literal = text.substr(text.find(' ', text.find(' ') + 1) + 1);
    auto pred = [&](const Json& e) {
      const Json& v = e[property];
      if (v.is_boolean()) return (v.get<bool>() ? "true" : "false") == literal;
      return "'" + LowerText(v.get<std::string>()) + "'" == LowerText(literal);
    };
    CHECK(Queried(f, events + "?$filter=" + text) == IdsOf(all, pred));
  }
  CheckError(f.Get(events + "?$filter=showAs eq 'away'"), 400, "BadRequest");
  CheckError(f.Get(events + "?$filter=isRead eq false"), 400, "BadRequest");  // not an event's

  // Contacts: the default folder's list and a child folder's.
  const std::string contacts = "/v1.0/users/" + uid + "/contacts";
  std::string nameless = f.sim().CreateItem(uid, "contacts", R"({"displayName":"Nobody"})");
  std::vector<Json> people = ReadAll(f, contacts + "?$top=1000");
  REQUIRE(people.size() == 11);
  const std::string company = people[0]["companyName"];
  auto at = [&](const Json& c) {
    return c["companyName"].is_string() && LowerText(c["companyName"]) == LowerText(company);
  };
  CHECK(Queried(f, contacts + "?$filter=companyName eq '" + LowerText(company) + "'") ==
        IdsOf(people, at));
  CHECK(Queried(f, contacts + "?$filter=companyName eq null") == std::set<std::string>{nameless});
  CHECK(Queried(f, contacts + "?$filter=companyName ne null").size() == 10);
  CHECK(Queried(f, contacts + "?$filter=givenName eq null or displayName eq 'NOBODY'") ==
        std::set<std::string>{nameless});
  REQUIRE(f.Patch(contacts + "/" + nameless, Json{{"companyName", "Fabrikam"}}).status == 200);
  CHECK(Queried(f, contacts + "?$filter=companyName eq 'fabrikam'").count(nameless) == 1);
  const std::string folder_id = DefaultContactFolder(f, uid);
  std::string child = f.sim().CreateContactFolder(uid, folder_id, "Suppliers");
  REQUIRE_FALSE(child.empty());
  std::string supplier = f.sim().CreateItem(uid, "contacts", R"({"displayName":"Supplier"})");
  REQUIRE(f.Post("/v1.0/users/" + uid + "/contactFolders/" + child + "/contacts",
                 Json{{"displayName", "Vendor"}, {"companyName", "Fabrikam"}})
              .status == 201);
  std::set<std::string> in_child = Queried(f, "/v1.0/users/" + uid + "/contactFolders/" + child +
                                                  "/contacts?$filter=companyName eq "
                                                  "'Fabrikam'");
  CHECK(in_child.size() == 1);
  CHECK(in_child.count(nameless) == 0);
  CHECK(in_child.count(supplier) == 0);
}

TEST_CASE("$orderby, InefficientFilter, $top, $select, unknown options", "[graphsim][odata]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(0) + "/messages";
  const std::string kFilter = "$filter=createdDateTime ge 2025-01-01T00:00:00Z";

  std::vector<Json> asc = ReadAll(f, base + "?" + kFilter + "&$orderby=createdDateTime&$top=7");
  REQUIRE(asc.size() == 30);
  for (size_t i = 1; i < asc.size(); ++i) {
    auto a = std::make_pair(asc[i - 1]["createdDateTime"].get<std::string>(),
                            asc[i - 1]["id"].get<std::string>());
    auto b = std::make_pair(asc[i]["createdDateTime"].get<std::string>(),
                            asc[i]["id"].get<std::string>());
    CHECK(a < b);  // total order: ties broken by id
  }
  std::vector<Json> desc =
      ReadAll(f, base + "?" + kFilter + "&$orderby=createdDateTime desc&$top=7");
  REQUIRE(desc.size() == 30);
  for (size_t i = 1; i < desc.size(); ++i) {
    CHECK(desc[i - 1]["createdDateTime"] >= desc[i]["createdDateTime"]);
  }
  std::vector<Json> two = ReadAll(
      f, base +
             "?$filter=createdDateTime ge 2025-01-01T00:00:00Z and lastModifiedDateTime ge "
             "2025-01-01T00:00:00Z&$orderby=createdDateTime desc,lastModifiedDateTime&$top=4");
  REQUIRE(two.size() == 30);
  for (size_t i = 1; i < two.size(); ++i) {
    auto key = [](const Json& m) {
      return std::make_pair(m["createdDateTime"].get<std::string>(),
                            m["lastModifiedDateTime"].get<std::string>());
    };
    if (key(two[i - 1]).first == key(two[i]).first) {
      CHECK(key(two[i - 1]).second <= key(two[i]).second);
    } else {
      CHECK(key(two[i - 1]).first > key(two[i]).first);
    }
  }

  // Messages: $orderby properties must lead $filter, in order.
  for (const char* query :
       {"$filter=lastModifiedDateTime ge 2025-01-01T00:00:00Z&$orderby=createdDateTime",
        "$filter=lastModifiedDateTime ge 2025-01-01T00:00:00Z and createdDateTime ge "
        "2025-01-01T00:00:00Z&$orderby=createdDateTime",
        "$filter=createdDateTime ge "
        "2025-01-01T00:00:00Z&$orderby=createdDateTime,lastModifiedDateTime"}) {
    INFO(query);
    Reply r = f.Get(base + "?" + query);
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "InefficientFilter");
    CHECK(r.body["error"]["message"] ==
          "The restriction or sort order is too complex for this operation.");
  }
  CHECK(f.Get(base + "?$orderby=receivedDateTime desc").status == 200);  // no $filter: fine
  CHECK(
      f.Get("/v1.0/users/" + f.user(0) +
            "/events?$filter=lastModifiedDateTime ge 2025-01-01T00:00:00Z&$orderby=createdDateTime")
          .status == 200);  // the rule is Outlook mail's
  CHECK(f.Get(base + "?$orderby=createdDateTime sideways").status == 400);

  CHECK(f.Get(base).body["value"].size() == 10);  // default $top
  CHECK(f.Get(base + "?$top=1").body["value"].size() == 1);
  CHECK(f.Get(base + "?$top=1000").status == 200);
  CHECK(f.Get(base + "?$top=0").status == 400);
  CHECK(f.Get(base + "?$top=1001").status == 400);
  CHECK(f.Get(base + "?$top=ten").status == 400);

  Reply selected = f.Get(base + "?$select=subject,createdDateTime&$top=3");
  REQUIRE(selected.status == 200);
  for (const Json& m : selected.body["value"]) {
    std::set<std::string> keys;
    for (auto it = m.begin(); it != m.end(); ++it) keys.insert(it.key());
    CHECK(keys == std::set<std::string>{"@odata.etag", "id", "subject", "createdDateTime"});
  }
  CHECK(selected.body["@odata.context"].get<std::string>().find(
            "messages(subject,createdDateTime)") != std::string::npos);
  CHECK(f.Get(base + "?$select=nope").status == 400);
  Reply one =
      f.Get(base + "/" + selected.body["value"][0]["id"].get<std::string>() + "?$select=subject");
  CHECK(one.status == 200);
  CHECK(!one.body.contains("body"));

  CHECK(f.Get(base + "?$bogus=1").status == 400);
  CHECK(f.Get(base + "?$top=1&$top=2").status == 400);
  CHECK(f.Get(base + "?custom=ignored").status == 200);
  CHECK(f.Get(base + "?$skiptoken=garbage").status == 400);

  Reply preferred = f.Get(base, {{"Prefer", "odata.maxpagesize=25"}});
  CHECK(preferred.body["value"].size() == 25);
  CHECK(preferred.Header("Preference-Applied") == "odata.maxpagesize=25");
  CHECK(f.Get(base + "?$top=3", {{"Prefer", "odata.maxpagesize=25"}}).body["value"].size() == 3);

  Reply counted = f.Get(base + "?$count=true&$top=2");
  CHECK(counted.body["@odata.count"] == 30);
}

// The paging contract the engine relies on: a round sees every item exactly once even
// when hundreds share one createdDateTime and items are created between pages.
TEST_CASE("paging is stable with 300 items sharing one createdDateTime", "[graphsim][odata]") {
  graphsim::Options options = SmallOptions();
  options.messages = 0;
  SimFixture f(options);
  std::string u = f.user(0);
  std::set<std::string> created_ids;
  for (int i = 0; i < 300; ++i) {
    created_ids.insert(
        f.sim().CreateItem(u, "messages", Json{{"subject", std::to_string(i)}}.dump()));
  }
  REQUIRE(created_ids.size() == 300);
  const std::string query = "/v1.0/users/" + u +
                            "/messages?$filter=createdDateTime ge 2026-01-01T12:00:00Z"
                            "&$orderby=createdDateTime&$top=100";
  for (const std::string& first : {query, query + "&$select=subject,createdDateTime"}) {
    std::vector<std::string> seen;
    Reply r = f.Get(first);
    int pages = 0;
    while (true) {
      REQUIRE(r.status == 200);
      ++pages;
      for (const Json& m : r.body["value"]) {
        CHECK(m["createdDateTime"] == "2026-01-01T12:00:00Z");
        seen.push_back(m["id"]);
      }
      if (!r.body.contains("@odata.nextLink")) break;
      std::string link = r.body["@odata.nextLink"];
      CHECK(link.rfind(f.server().base_url() + "/v1.0/users/", 0) == 0);
      // New items with the same timestamp arrive between pages: they must not shift or
      // duplicate what this round returns (they sort after or are picked up later).
      for (int i = 0; i < 5; ++i) f.sim().CreateItem(u, "messages", R"({"subject":"late"})");
      r = f.GetLink(link);
    }
    std::set<std::string> unique(seen.begin(), seen.end());
    CHECK(unique.size() == seen.size());                                     // no duplicates
    for (const std::string& id : created_ids) CHECK(unique.count(id) == 1);  // nothing skipped
    CHECK(pages >= 3);
  }

  // Default order (receivedDateTime desc) pages stably too.
  std::set<std::string> all;
  Reply r = f.Get("/v1.0/users/" + u + "/messages?$top=100");
  while (true) {
    REQUIRE(r.status == 200);
    for (const Json& m : r.body["value"]) CHECK(all.insert(m["id"].get<std::string>()).second);
    if (!r.body.contains("@odata.nextLink")) break;
    f.sim().CreateItem(u, "messages", R"({"subject":"later"})");
    r = f.GetLink(r.body["@odata.nextLink"]);
  }
  for (const std::string& id : created_ids) CHECK(all.count(id) == 1);
}

TEST_CASE("$skip paging and exact page counts", "[graphsim][odata]") {
  SimFixture f;
  std::string base = "/v1.0/users/" + f.user(1) + "/contacts";
  int pages = 0;
  CHECK(ReadAll(f, base + "?$top=5", &pages).size() == 10);
  CHECK(pages == 2);  // no empty trailing page
  Reply skipped = f.Get(base + "?$top=3&$skip=6");
  REQUIRE(skipped.status == 200);
  CHECK(skipped.body["value"].size() == 3);
  std::string link = skipped.body["@odata.nextLink"];
  CHECK(link.find("$skip=9") != std::string::npos);
  CHECK(f.GetLink(link).body["value"].size() == 1);
}

}  // namespace
}  // namespace graphsim_test
