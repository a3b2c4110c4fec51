// The user's calendars as "List calendars" and "calendar resource type" describe them: the
// default calendar and calendars made through the C++ API, paged; no delta function.

#include <set>
#include <string>
#include <vector>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

// Every calendar of a list, following nextLinks; the page sizes in `pages`.
std::vector<Json> AllCalendars(SimFixture& f, const std::string& first, std::vector<size_t>* pages,
                               httplib::Headers headers = {}) {
  std::vector<Json> out;
  const std::string base = f.server().base_url();
  std::string link = first;
  for (int guard = 0; guard < 100; ++guard) {
    Reply r = f.Get(link.rfind("http", 0) == 0 ? link.substr(base.size()) : link, headers);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    pages->push_back(r.body["value"].size());
    for (const Json& c : r.body["value"]) out.push_back(c);
    if (!r.body.contains("@odata.nextLink")) return out;
    link = r.body["@odata.nextLink"];
  }
  FAIL("calendar list did not end");
  return out;
}

TEST_CASE("calendars: the default calendar and created ones, paged", "[graphsim][calendars]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();

  Reply list = f.Get(base + "/calendars");
  REQUIRE(list.status == 200);
  CHECK(list.body["@odata.context"] ==
        f.server().base_url() + "/v1.0/$metadata#users('" + user + "')/calendars");
  REQUIRE(list.body["value"].size() == 1);
  CHECK_FALSE(list.body.contains("@odata.nextLink"));
  const Json default_calendar = list.body["value"][0];
  Reply calendar = f.Get(base + "/calendar");
  REQUIRE(calendar.status == 200);
  const std::string default_id = calendar.body["id"];
  CHECK(default_calendar == Json{{"id", default_id},
                                 {"name", "Calendar"},
                                 {"color", "auto"},
                                 {"isDefaultCalendar", true},
                                 {"changeKey", default_calendar["changeKey"]},
                                 {"canShare", true},
                                 {"canViewPrivateItems", true},
                                 {"canEdit", true},
                                 {"isRemovable", false},
                                 {"owner",
                                  {{"name", sim.Users()[0].display_name},
                                   {"address", sim.Users()[0].user_principal_name}}}});
  CHECK(default_calendar["changeKey"].is_string());
  Json got = calendar.body;
  got.erase("@odata.context");
  CHECK(got == default_calendar);

  // 12 calendars: pages of 10 by default, the default calendar first, then by creation.
  std::vector<std::string> ids{default_id};
  for (int i = 1; i <= 11; ++i) {
    ids.push_back(sim.CreateCalendar(user, "Calendar " + std::to_string(i)));
    REQUIRE(!ids.back().empty());
  }
  CHECK(sim.CreateCalendar(user, "calendar 3").empty());  // another calendar has the name
  CHECK(sim.CreateCalendar(user, "").empty());
  std::vector<size_t> pages;
  std::vector<Json> all = AllCalendars(f, base + "/calendars", &pages);
  CHECK(pages == std::vector<size_t>{10, 2});
  std::vector<std::string> listed;
  for (const Json& c : all) listed.push_back(c["id"]);
  CHECK(listed == ids);
  CHECK(all[1]["name"] == "Calendar 1");
  CHECK(all[1]["isDefaultCalendar"] == false);
  CHECK(all[1]["isRemovable"] == true);
  Reply first = f.Get(base + "/calendars");
  CHECK(first.body["@odata.nextLink"].get<std::string>().rfind(
            f.server().base_url() + base + "/calendars?$skiptoken=", 0) == 0);

  // $top sets the page size and travels in the nextLink; so does $select.
  pages.clear();
  all = AllCalendars(f, base + "/calendars?$top=5&$select=name", &pages);
  CHECK(pages == std::vector<size_t>{5, 5, 2});
  for (const Json& c : all) CHECK(c.size() == 2);
  CHECK(all[11] == Json{{"id", ids[11]}, {"name", "Calendar 11"}});
  // Prefer: odata.maxpagesize without $top.
  pages.clear();
  all = AllCalendars(f, base + "/calendars", &pages, {{"Prefer", "odata.maxpagesize=4"}});
  CHECK(pages == std::vector<size_t>{4, 4, 4});
  CHECK(f.Get(base + "/calendars", {{"Prefer", "odata.maxpagesize=4"}})
            .Header("Preference-Applied") == "odata.maxpagesize=4");

  // Renamed: a new changeKey; deleted: gone (the default one cannot be).
  const std::string key = all[2]["changeKey"];
  REQUIRE(sim.RenameCalendar(user, ids[2], "Team"));
  Reply renamed = f.Get(base + "/calendars/" + ids[2]);
  REQUIRE(renamed.status == 200);
  CHECK(renamed.body["name"] == "Team");
  CHECK(renamed.body["changeKey"] != key);
  CHECK(!sim.RenameCalendar(user, ids[3], "team"));
  CHECK(!sim.DeleteCalendar(user, default_id));
  REQUIRE(sim.DeleteCalendar(user, ids[2]));
  CHECK(!sim.DeleteCalendar(user, ids[2]));
  CheckError(f.Get(base + "/calendars/" + ids[2]), 404, "ErrorItemNotFound");
  pages.clear();
  all = AllCalendars(f, base + "/calendars?$top=100", &pages);
  CHECK(all.size() == 11);
  for (const Json& c : all) CHECK(c["id"] != ids[2]);

  // The truth: what the list serves.
  std::vector<graphsim::CalendarState> truth = sim.Calendars(user);
  REQUIRE(truth.size() == all.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    CHECK(all[i]["id"] == truth[i].id);
    CHECK(all[i]["name"] == truth[i].name);
    CHECK(all[i]["changeKey"] == truth[i].change_key);
    CHECK(all[i]["isDefaultCalendar"] == truth[i].is_default_calendar);
    CHECK(all[i]["isRemovable"] == truth[i].is_removable);
    CHECK(all[i]["owner"]["address"] == truth[i].owner_address);
  }
  CHECK(truth[0].is_default_calendar);
  // Another mailbox's calendars are its own.
  CHECK(sim.Calendars(f.user(1)).size() == 1);
}

TEST_CASE("calendars: no delta, query options, and permissions", "[graphsim][calendars]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();

  // No delta function is documented for calendars: an unknown segment.
  CheckError(f.Get(base + "/calendars/delta"), 400, "BadRequest",
             "Resource not found for the segment 'delta'.");
  CheckError(f.Get(base + "/calendars/AAMkADnope"), 404, "ErrorItemNotFound");
  CheckError(f.Get(base + "/calendars?$select=nope"), 400, "BadRequest");
  CheckError(f.Get(base + "/calendars?$select=hexColor"), 501, "NotImplemented");
  CheckError(f.Get(base + "/calendars?$filter=name%20eq%20'x'"), 501, "NotImplemented");
  CheckError(f.Get(base + "/calendars?$top=0"), 400, "BadRequest");
  CheckError(f.Get(base + "/calendars?$bogus=1"), 400, "BadRequest");
  CheckError(f.Get(base + "/calendars?$skiptoken=garbage"), 400, "BadRequest");
  CHECK(f.Post(base + "/calendars", Json{{"name", "x"}}).status == 501);
  CHECK(f.Delete(base + "/calendars").status == 405);
  Reply one = f.Get(base + "/calendar?$select=name");
  CHECK(one.body["name"] == "Calendar");
  CHECK_FALSE(one.body.contains("owner"));

  // Calendars.ReadBasic is the least privileged permission; Calendars.Read(Write) serve too.
  sim.SetPermission("Calendars.Read", false);
  CheckError(f.Get(base + "/calendars"), 403, "ErrorAccessDenied");
  sim.SetPermission("Calendars.ReadBasic", true);
  CHECK(f.Get(base + "/calendars").status == 200);
  CheckError(f.Get(base + "/events"), 403, "ErrorAccessDenied");
  sim.SetPermission("Calendars.ReadBasic", false);
  sim.SetPermission("Calendars.ReadWrite", true);
  CHECK(f.Get(base + "/calendars").status == 200);
  sim.SetMailboxAccess(user, false);
  CheckError(f.Get(base + "/calendars"), 403, "ErrorAccessDenied", "Access to OData is disabled.");
}

}  // namespace
}  // namespace graphsim_test
