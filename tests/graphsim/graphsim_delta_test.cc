// Delta queries over HTTP: rounds paged to a deltaLink, changes since a token (created,
// updated, deleted, moved out and in), calendarView windows, expired tokens in the three
// styles, replayed pages, and a message moved A -> B -> A.

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

struct Round {
  std::vector<Json> items;                      // in order, duplicates kept
  std::vector<std::vector<std::string>> pages;  // ids per page
  std::string delta_link;
  std::vector<std::string> next_links;
};

// GET of an absolute link on the simulator, with extra headers.
Reply GetAbsolute(SimFixture& f, const std::string& link, httplib::Headers headers = {}) {
  std::string base = f.server().base_url();
  REQUIRE(link.rfind(base, 0) == 0);
  return f.Get(link.substr(base.size()), std::move(headers));
}

// Follows a delta round from `first` (a path or an absolute link) to its deltaLink.
Round RunRound(SimFixture& f, const std::string& first, int max_page_size = 0) {
  httplib::Headers headers;
  if (max_page_size > 0) {
    headers.emplace("Prefer", "odata.maxpagesize=" + std::to_string(max_page_size));
  }
  Round round;
  std::string link = first;
  for (int guard = 0; guard < 1000; ++guard) {
    Reply r = link.rfind("http", 0) == 0 ? GetAbsolute(f, link, headers) : f.Get(link, headers);
    REQUIRE(r.status == 200);
    if (max_page_size > 0) {
      CHECK(r.Header("Preference-Applied") == "odata.maxpagesize=" + std::to_string(max_page_size));
    }
    REQUIRE(r.body["value"].is_array());
    size_t limit = max_page_size > 0 ? static_cast<size_t>(max_page_size) : 10;
    CHECK(r.body["value"].size() <= limit);
    round.pages.emplace_back();
    for (const Json& item : r.body["value"]) {
      round.items.push_back(item);
      round.pages.back().push_back(item["id"]);
    }
    if (r.body.contains("@odata.deltaLink")) {
      CHECK_FALSE(r.body.contains("@odata.nextLink"));
      round.delta_link = r.body["@odata.deltaLink"];
      return round;
    }
    REQUIRE(r.body.contains("@odata.nextLink"));
    link = r.body["@odata.nextLink"];
    round.next_links.push_back(link);
  }
  FAIL("delta round did not end");
  return round;
}

std::set<std::string> Ids(const std::vector<Json>& items, bool removed) {
  std::set<std::string> ids;
  for (const Json& item : items) {
    if (item.contains("@removed") == removed) ids.insert(item["id"].get<std::string>());
  }
  return ids;
}

std::vector<std::string> Present(const std::vector<Json>& items) {
  std::set<std::string> ids = Ids(items, false);
  return std::vector<std::string>(ids.begin(), ids.end());
}

std::set<std::string> FolderIds(SimFixture& f, const std::string& folder) {
  Reply r = f.Get("/v1.0/users/" + f.user(0) + "/mailFolders/" + folder + "/messages?$top=1000");
  REQUIRE(r.status == 200);
  std::set<std::string> ids;
  for (const Json& m : r.body["value"]) ids.insert(m["id"].get<std::string>());
  return ids;
}

const Json* FindItem(const std::vector<Json>& items, const std::string& id) {
  for (const Json& item : items) {
    if (item["id"] == id) return &item;
  }
  return nullptr;
}

graphsim::Options DeltaOptions() {
  graphsim::Options options = SmallOptions();
  options.messages = 80;
  return options;
}

TEST_CASE("delta: a full round pages to a deltaLink", "[graphsim][delta]") {
  SimFixture f(DeltaOptions());
  std::string base = "/v1.0/users/" + f.user(0);
  std::set<std::string> inbox = FolderIds(f, "inbox");
  REQUIRE(inbox.size() > 10);

  Round round = RunRound(f, base + "/mailFolders/inbox/messages/delta", 3);
  CHECK(round.pages.size() == (inbox.size() + 2) / 3);
  CHECK(round.items.size() == inbox.size());
  CHECK(Ids(round.items, false) == inbox);
  for (const Json& item : round.items) {
    CHECK(item["@odata.type"] == "#microsoft.graph.message");
    CHECK(item.contains("subject"));
    CHECK(item.contains("@odata.etag"));
  }
  std::string prefix = f.server().base_url() + base + "/mailFolders/inbox/messages/delta?";
  for (const std::string& link : round.next_links) {
    CHECK(link.rfind(prefix + "$skiptoken=", 0) == 0);
  }
  CHECK(round.delta_link.rfind(prefix + "$deltatoken=", 0) == 0);

  // Default page size 10; the folder by id works the same.
  Reply folder = f.Get(base + "/mailFolders/inbox");
  std::string inbox_id = folder.body["id"];
  Reply first = f.Get(base + "/mailFolders/" + inbox_id + "/messages/delta");
  REQUIRE(first.status == 200);
  CHECK(first.body["value"].size() == 10);
  CHECK(first.body["@odata.context"] ==
        f.server().base_url() + "/v1.0/$metadata#Collection(message)");
  CHECK(Ids(RunRound(f, base + "/mailFolders/" + inbox_id + "/messages/delta").items, false) ==
        inbox);

  // $select: only those properties, plus id and @odata.etag; kept through the links.
  Round selected = RunRound(f, base + "/mailFolders/inbox/messages/delta?$select=subject", 4);
  CHECK(selected.items.size() == inbox.size());
  for (const Json& item : selected.items) {
    CHECK(item.contains("subject"));
    CHECK_FALSE(item.contains("body"));
  }
  CHECK(f.Get(base + "/mailFolders/inbox/messages/delta?$select=nope").status == 400);
  CHECK(f.Get(base + "/mailFolders/inbox/messages/delta?$top=5").status == 400);
  CHECK(f.Get(base + "/mailFolders/inbox/messages/delta?$deltatoken=garbage").status == 400);
  CHECK(f.Get(base + "/messages/delta").status == 400);
  CHECK(f.Get(base + "/mailFolders/nosuch/messages/delta").status == 404);

  // A token of one folder is refused on another.
  std::string token = round.delta_link.substr(round.delta_link.find("$deltatoken="));
  CHECK(f.Get(base + "/mailFolders/archive/messages/delta?" + token).status == 400);

  // Contacts: the default folder and the folder by id.
  std::set<std::string> contacts;
  for (const std::string& id : f.sim().ItemIds(f.user(0), "contacts")) contacts.insert(id);
  std::string contacts_folder = DefaultContactFolder(f, f.user(0));
  Round c1 = RunRound(f, base + "/contactFolders/" + contacts_folder + "/contacts/delta", 4);
  CHECK(Ids(c1.items, false) == contacts);
  CHECK(c1.items[0]["@odata.type"] == "#microsoft.graph.contact");
}

TEST_CASE("delta: changes since a token", "[graphsim][delta]") {
  SimFixture f(DeltaOptions());
  std::string user = f.user(0);
  std::string base = "/v1.0/users/" + user;
  Round inbox0 = RunRound(f, base + "/mailFolders/inbox/messages/delta", 50);
  Round archive0 = RunRound(f, base + "/mailFolders/archive/messages/delta", 50);

  // Nothing changed: an empty page and a new deltaLink.
  Reply nothing = GetAbsolute(f, inbox0.delta_link);
  REQUIRE(nothing.status == 200);
  CHECK(nothing.body["value"].empty());
  CHECK(nothing.body.contains("@odata.deltaLink"));

  std::vector<std::string> inbox = Present(inbox0.items);
  std::vector<std::string> archive = Present(archive0.items);
  REQUIRE(inbox.size() >= 3);
  REQUIRE(!archive.empty());
  std::string created = f.sim().CreateItem(user, "messages", R"({"subject":"fresh"})", "inbox");
  REQUIRE(f.Patch(base + "/messages/" + inbox[0], {{"subject", "renamed"}}).status == 200);
  REQUIRE(f.Delete(base + "/messages/" + inbox[1]).status == 204);
  std::string moved_out = f.sim().MoveMessage(user, inbox[2], "archive", /*immutable_ids=*/true);
  CHECK(moved_out == inbox[2]);
  std::string moved_in = f.sim().MoveMessage(user, archive[0], "inbox", /*immutable_ids=*/false);
  CHECK(moved_in != archive[0]);
  f.sim().CreateItem(user, "messages", R"({"subject":"elsewhere"})", "drafts");

  Round inbox1 = RunRound(f, inbox0.delta_link, 2);
  CHECK(Ids(inbox1.items, false) == std::set<std::string>{created, inbox[0], moved_in});
  CHECK(Ids(inbox1.items, true) == std::set<std::string>{inbox[1], inbox[2]});
  CHECK((*FindItem(inbox1.items, inbox[0]))["subject"] == "renamed");
  CHECK((*FindItem(inbox1.items, created))["subject"] == "fresh");
  CHECK(*FindItem(inbox1.items, inbox[1]) == Json{{"@odata.type", "#microsoft.graph.message"},
                                                  {"id", inbox[1]},
                                                  {"@removed", {{"reason", "deleted"}}}});
  CHECK((*FindItem(inbox1.items, inbox[2]))["@removed"]["reason"] == "deleted");

  Round archive1 = RunRound(f, archive0.delta_link);
  CHECK(Ids(archive1.items, false) == std::set<std::string>{inbox[2]});
  CHECK(Ids(archive1.items, true) == std::set<std::string>{archive[0]});

  // The new deltaLinks see only later changes; the old one still sees everything.
  REQUIRE(f.Delete(base + "/messages/" + created).status == 204);
  Round inbox2 = RunRound(f, inbox1.delta_link);
  CHECK(inbox2.items.size() == 1);
  CHECK(Ids(inbox2.items, true) == std::set<std::string>{created});
  Round again = RunRound(f, inbox0.delta_link, 100);
  CHECK(Ids(again.items, false) == std::set<std::string>{inbox[0], moved_in});
  CHECK(Ids(again.items, true) ==
        std::set<std::string>{inbox[1], inbox[2]});  // created: never seen

  // Contacts: created, updated, deleted.
  Round c0 = RunRound(
      f, base + "/contactFolders/" + DefaultContactFolder(f, user) + "/contacts/delta", 100);
  std::vector<std::string> contacts = f.sim().ItemIds(user, "contacts");
  std::string new_contact = f.sim().CreateItem(user, "contacts", R"({"givenName":"Zed"})");
  REQUIRE(f.sim().UpdateItem(user, "contacts", contacts[0], R"({"givenName":"Ann"})"));
  REQUIRE(f.sim().DeleteItem(user, "contacts", contacts[1]));
  Round c1 = RunRound(f, c0.delta_link);
  CHECK(Ids(c1.items, false) == std::set<std::string>{new_contact, contacts[0]});
  CHECK(Ids(c1.items, true) == std::set<std::string>{contacts[1]});
  CHECK((*FindItem(c1.items, contacts[1]))["@odata.type"] == "#microsoft.graph.contact");
}

Json EventAt(const std::string& subject, const std::string& start, const std::string& end) {
  return Json{{"subject", subject},
              {"start", {{"dateTime", start}, {"timeZone", "UTC"}}},
              {"end", {{"dateTime", end}, {"timeZone", "UTC"}}}};
}

TEST_CASE("delta: calendarView window", "[graphsim][delta]") {
  SimFixture f;
  std::string user = f.user(0);
  std::string base = "/v1.0/users/" + user;
  std::string view = base + "/calendarView/delta";

  Reply none = f.Get(view);
  CHECK(none.status == 400);
  CHECK(none.body["error"]["code"] == "ErrorInvalidParameter");
  CHECK(f.Get(view + "?startDateTime=2026-03-01T00:00:00Z").status == 400);
  CHECK(f.Get(view + "?endDateTime=2026-03-02T00:00:00Z").status == 400);
  CHECK(
      f.Get(view + "?startDateTime=2026-03-02T00:00:00Z&endDateTime=2026-03-01T00:00:00Z").status ==
      400);

  // A wide window holds every seeded event.
  Round all =
      RunRound(f, view + "?startDateTime=2025-01-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z", 3);
  std::vector<std::string> seeded = f.sim().ItemIds(user, "events");
  CHECK(Ids(all.items, false) == std::set<std::string>(seeded.begin(), seeded.end()));
  CHECK(all.items[0]["@odata.type"] == "#microsoft.graph.event");
  CHECK(all.delta_link.rfind(f.server().base_url() + view + "?$deltatoken=", 0) == 0);

  // March 1st: only what overlaps it.
  Reply a = f.Post(base + "/events",
                   EventAt("A", "2026-03-01T10:00:00.0000000", "2026-03-01T11:00:00.0000000"));
  Reply b = f.Post(base + "/events",
                   EventAt("B", "2026-04-01T10:00:00.0000000", "2026-04-01T11:00:00.0000000"));
  Reply edge = f.Post(base + "/events", EventAt("edge", "2026-02-28T23:00:00.0000000",
                                                "2026-03-01T00:30:00.0000000"));
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  std::string a_id = a.body["id"], b_id = b.body["id"], edge_id = edge.body["id"];
  Round w0 =
      RunRound(f, view + "?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-02T00:00:00Z");
  CHECK(Ids(w0.items, false) == std::set<std::string>{a_id, edge_id});

  // A leaves the window, B enters it, C is created in it, edge is deleted, D outside.
  REQUIRE(f.Patch(base + "/events/" + a_id,
                  EventAt("A", "2026-05-01T10:00:00.0000000", "2026-05-01T11:00:00.0000000"))
              .status == 200);
  REQUIRE(f.Patch(base + "/events/" + b_id,
                  EventAt("B", "2026-03-01T15:00:00.0000000", "2026-03-01T16:00:00.0000000"))
              .status == 200);
  Reply c = f.Post(base + "/events",
                   EventAt("C", "2026-03-01T08:00:00.0000000", "2026-03-01T09:00:00.0000000"));
  Reply d = f.Post(base + "/events",
                   EventAt("D", "2026-06-01T08:00:00.0000000", "2026-06-01T09:00:00.0000000"));
  REQUIRE(f.Delete(base + "/events/" + edge_id).status == 204);
  Round w1 = RunRound(f, w0.delta_link);  // the window travels in the token
  CHECK(Ids(w1.items, false) == std::set<std::string>{b_id, c.body["id"].get<std::string>()});
  // "event: delta", Response: events outside the window that were added, updated or
  // deleted since the token come as @removed too (D was never in the window).
  const std::string d_id = d.body["id"];
  CHECK(Ids(w1.items, true) == std::set<std::string>{a_id, edge_id, d_id});
  CHECK((*FindItem(w1.items, a_id))["@removed"]["reason"] == "deleted");
  CHECK((*FindItem(w1.items, d_id))["@removed"]["reason"] == "deleted");
  CHECK(f.Get(view + "?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-02T00:00:00Z&"
                     "$select=subject")
            .status == 400);
}

TEST_CASE("delta: expired tokens answer 410 with Location", "[graphsim][delta]") {
  graphsim::Options options = SmallOptions();
  options.delta_journal_max_entries = 3;
  SimFixture f(options);
  std::string user = f.user(0);
  std::string base = "/v1.0/users/" + user;
  std::string fresh = f.server().base_url() + base + "/mailFolders/inbox/messages/delta";

  // Token lifetime: 7 days of clock time.
  Round r0 = RunRound(f, base + "/mailFolders/inbox/messages/delta");
  f.clock().Advance(std::chrono::hours(24 * 7) - std::chrono::seconds(1));
  f.Refresh();  // the bearer token expired long ago
  Reply ok = GetAbsolute(f, r0.delta_link);
  CHECK(ok.status == 200);
  f.clock().Advance(std::chrono::seconds(2));
  Reply gone = GetAbsolute(f, r0.delta_link);
  CHECK(gone.status == 410);
  CHECK(gone.body["error"]["code"] == "syncStateNotFound");
  CHECK(gone.Header("Location") == fresh);
  Round restarted = RunRound(f, gone.Header("Location"));
  CHECK(Ids(restarted.items, false) == FolderIds(f, "inbox"));
  // The newer deltaLink (issued a second before) is still good.
  CHECK(GetAbsolute(f, ok.body["@odata.deltaLink"]).status == 200);

  // POST /_sim/delta/expire: every token, skip tokens mid-round included.
  Reply page1 =
      f.Get(base + "/mailFolders/inbox/messages/delta", {{"Prefer", "odata.maxpagesize=2"}});
  REQUIRE(page1.body.contains("@odata.nextLink"));
  auto expire = f.client().Post("/_sim/delta/expire", "", "application/json");
  REQUIRE(expire);
  CHECK(expire->status == 204);
  CHECK(GetAbsolute(f, restarted.delta_link).status == 410);
  Reply mid = GetAbsolute(f, page1.body["@odata.nextLink"]);
  CHECK(mid.status == 410);
  CHECK(mid.Header("Location") == fresh);

  // The journal keeps 3 changes: a token from before the dropped ones is expired.
  Round r1 = RunRound(f, base + "/mailFolders/inbox/messages/delta");
  for (int i = 0; i < 3; ++i) f.sim().CreateItem(user, "messages", R"({"subject":"x"})", "inbox");
  CHECK(GetAbsolute(f, r1.delta_link).status == 200);
  f.sim().CreateItem(user, "messages", R"({"subject":"x"})", "inbox");
  CHECK(GetAbsolute(f, r1.delta_link).status == 410);

  // calendarView: Location carries the window again.
  Round w =
      RunRound(f, base +
                      "/calendarView/"
                      "delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-02T00:00:00Z");
  f.sim().ExpireDeltaTokens();
  Reply wgone = GetAbsolute(f, w.delta_link);
  CHECK(wgone.status == 410);
  std::string location = wgone.Header("Location");
  for (size_t at; (at = location.find("%3A")) != std::string::npos;) location.replace(at, 3, ":");
  CHECK(location == f.server().base_url() + base +
                        "/calendarView/delta?startDateTime=2026-03-01T00:00:00.0000000Z&"
                        "endDateTime=2026-03-02T00:00:00.0000000Z");
  CHECK(GetAbsolute(f, wgone.Header("Location")).status == 200);
}

TEST_CASE("delta: the three expired styles", "[graphsim][delta]") {
  struct Case {
    graphsim::DeltaExpiredStyle style;
    int status;
    const char* code;
    bool location;
  };
  for (const Case& c :
       {Case{graphsim::DeltaExpiredStyle::kGone410, 410, "syncStateNotFound", true},
        Case{graphsim::DeltaExpiredStyle::kSyncStateNotFound400, 400, "syncStateNotFound", false},
        Case{graphsim::DeltaExpiredStyle::kResyncRequired, 400, "resyncRequired", false}}) {
    graphsim::Options options = SmallOptions();
    options.delta_expired_style = c.style;
    SimFixture f(options);
    Round r = RunRound(f, "/v1.0/users/" + f.user(0) + "/contactFolders/" +
                              DefaultContactFolder(f, f.user(0)) + "/contacts/delta");
    f.sim().ExpireDeltaTokens();
    Reply expired = GetAbsolute(f, r.delta_link);
    CHECK(expired.status == c.status);
    CHECK(expired.body["error"]["code"] == c.code);
    CHECK(expired.Header("Location").empty() == !c.location);
  }
}

TEST_CASE("delta: replayed pages", "[graphsim][delta]") {
  graphsim::Options options = DeltaOptions();
  options.delta_replay_every = 2;
  SimFixture f(options);
  std::set<std::string> inbox = FolderIds(f, "inbox");
  REQUIRE(inbox.size() > 9);
  Round round = RunRound(f, "/v1.0/users/" + f.user(0) + "/mailFolders/inbox/messages/delta", 3);
  CHECK(Ids(round.items, false) == inbox);
  CHECK(round.items.size() > inbox.size());  // duplicates
  int replays = 0;
  for (size_t i = 1; i < round.pages.size(); ++i) {
    if (round.pages[i] == round.pages[i - 1]) ++replays;
  }
  CHECK(replays > 0);
  CHECK(round.items.size() == inbox.size() + 3 * static_cast<size_t>(replays));

  // Change rounds replay too, and still end.
  std::string user = f.user(0);
  for (int i = 0; i < 10; ++i) f.sim().CreateItem(user, "messages", R"({"subject":"n"})", "inbox");
  Round changes = RunRound(f, round.delta_link, 3);
  CHECK(Ids(changes.items, false).size() == 10);
}

TEST_CASE("delta: a message moved A -> B -> A within one window", "[graphsim][delta]") {
  SimFixture f(DeltaOptions());
  std::string user = f.user(0);
  std::string base = "/v1.0/users/" + user;
  Round inbox0 = RunRound(f, base + "/mailFolders/inbox/messages/delta", 100);
  Round archive0 = RunRound(f, base + "/mailFolders/archive/messages/delta", 100);
  std::vector<std::string> inbox = Present(inbox0.items);

  // Immutable ids: one id throughout; inbox sees it (updated), never removed; archive sees
  // nothing of it.
  std::string m = inbox[0];
  auto move = [&](const std::string& id, const std::string& to) {
    return f.Post(base + "/messages/" + id + "/move", {{"destinationId", to}},
                  {{"Prefer", "IdType=\"ImmutableId\""}});
  };
  REQUIRE(move(m, "archive").status == 201);
  REQUIRE(move(m, "inbox").status == 201);
  Round inbox1 = RunRound(f, inbox0.delta_link);
  CHECK(Ids(inbox1.items, false) == std::set<std::string>{m});
  CHECK(Ids(inbox1.items, true).empty());
  Round archive1 = RunRound(f, archive0.delta_link);
  CHECK(archive1.items.empty());

  // Without immutable ids: the old id is removed, the item returns under a new id.
  std::string n = inbox[1];
  std::string n2 = f.sim().MoveMessage(user, n, "archive", false);
  std::string n3 = f.sim().MoveMessage(user, n2, "inbox", false);
  Round inbox2 = RunRound(f, inbox1.delta_link);
  CHECK(Ids(inbox2.items, true) == std::set<std::string>{n});
  CHECK(Ids(inbox2.items, false) == std::set<std::string>{n3});
}

TEST_CASE("delta: a server page cap and empty pages before nextLinks", "[graphsim][delta]") {
  graphsim::Options options = DeltaOptions();
  options.max_page_size = 4;
  options.delta_empty_page_every = 2;
  SimFixture f(options);
  std::set<std::string> inbox;  // listed in pages of 4 under the cap
  std::string page = "/v1.0/users/" + f.user(0) + "/mailFolders/inbox/messages?$top=1000";
  for (int guard = 0; guard < 100 && !page.empty(); ++guard) {
    Reply r = page.rfind("http", 0) == 0 ? GetAbsolute(f, page) : f.Get(page);
    REQUIRE(r.status == 200);
    CHECK(r.body["value"].size() <= 4);
    for (const Json& m : r.body["value"]) inbox.insert(m["id"].get<std::string>());
    page = r.body.value("@odata.nextLink", "");
  }
  REQUIRE(inbox.size() > 12);
  const graphsim::ItemsServed before = f.sim().Served();

  httplib::Headers prefer{{"Prefer", "odata.maxpagesize=50"}};
  std::string link = "/v1.0/users/" + f.user(0) + "/mailFolders/inbox/messages/delta";
  std::vector<std::string> ids;
  int empty_pages = 0, pages = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    Reply r = link.rfind("http", 0) == 0 ? GetAbsolute(f, link, prefer) : f.Get(link, prefer);
    REQUIRE(r.status == 200);
    CHECK(r.Header("Preference-Applied") == "odata.maxpagesize=4");
    CHECK(r.body["value"].size() <= 4);
    ++pages;
    for (const Json& item : r.body["value"]) ids.push_back(item["id"]);
    if (r.body.contains("@odata.deltaLink")) break;
    REQUIRE(r.body.contains("@odata.nextLink"));
    if (r.body["value"].empty()) ++empty_pages;
    link = r.body["@odata.nextLink"];
  }
  // Every second page with a nextLink was an empty one first; nothing is lost or repeated.
  CHECK(empty_pages >= 2);
  CHECK(ids.size() == inbox.size());
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == inbox);
  const graphsim::ItemsServed after = f.sim().Served();
  CHECK(after.delta - before.delta == inbox.size());
  CHECK(after.listed == before.listed);

  // Lists are capped too; a GET by id counts as one item served.
  Reply list = f.Get("/v1.0/users/" + f.user(0) + "/messages?$top=100");
  REQUIRE(list.status == 200);
  CHECK(list.body["value"].size() == 4);
  CHECK(list.body.contains("@odata.nextLink"));
  Reply one = f.Get("/v1.0/users/" + f.user(0) + "/messages/" + ids[0]);
  REQUIRE(one.status == 200);
  CHECK(f.sim().Served().listed == after.listed + 4);
  CHECK(f.sim().Served().by_id == after.by_id + 1);
}

TEST_CASE("delta: listing lag hides changes from lists and delta, not from GET by id",
          "[graphsim][delta]") {
  graphsim::Options options = DeltaOptions();
  options.listing_lag = std::chrono::seconds(60);
  SimFixture f(options);
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  Round first = RunRound(f, base + "/mailFolders/inbox/messages/delta");
  std::set<std::string> inbox = FolderIds(f, "inbox");
  const std::string changed = *inbox.begin();
  const std::string doomed = *inbox.rbegin();

  f.clock().Advance(std::chrono::seconds(5));
  const std::string created = f.sim().CreateItem(user, "messages", R"({"subject":"new"})", "inbox");
  REQUIRE(f.sim().UpdateItem(user, "messages", changed, R"({"subject":"changed"})"));
  REQUIRE(f.sim().DeleteItem(user, "messages", doomed));

  // GET by id sees every change at once.
  CHECK(f.Get(base + "/messages/" + created).status == 200);
  CHECK(f.Get(base + "/messages/" + changed).body["subject"] == "changed");
  CHECK(f.Get(base + "/messages/" + doomed).status == 404);
  // Lists and delta rounds do not, until the lag has passed.
  f.clock().Advance(std::chrono::seconds(50));
  CHECK(FolderIds(f, "inbox") == inbox);
  Reply listed = f.Get(base + "/messages?$filter=lastModifiedDateTime%20ge%202026-01-01T06:00:00Z");
  REQUIRE(listed.status == 200);
  CHECK(listed.body["value"].empty());
  Round early = RunRound(f, first.delta_link);
  CHECK(early.items.empty());

  f.clock().Advance(std::chrono::seconds(10));
  std::set<std::string> now_listed = FolderIds(f, "inbox");
  CHECK(now_listed.count(created) == 1);
  CHECK(now_listed.count(doomed) == 0);
  Round late = RunRound(f, early.delta_link);
  CHECK(Ids(late.items, false) == std::set<std::string>{created, changed});
  CHECK(Ids(late.items, true) == std::set<std::string>{doomed});
  const Json* item = FindItem(late.items, changed);
  REQUIRE(item != nullptr);
  CHECK((*item)["subject"] == "changed");
}

}  // namespace
}  // namespace graphsim_test
