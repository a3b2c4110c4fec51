// Recurring events through the HTTP API: series masters in /events, occurrences and
// exceptions in calendarView (delta and plain) and instances, exceptions, cancellations,
// master changes, notifications, refused recurrences.

#include <set>
#include <string>
#include <vector>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

const char kWindow[] = "startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-05-01T00:00:00Z";

graphmirror::TimePoint At(const std::string& text) {
  std::tm tm{};
  strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// Every Monday at 09:00 Pacific time, six times from 2026-03-02: US daylight saving time
// starts on 2026-03-08, so the first occurrence is at 17:00Z and the others at 16:00Z.
Json WeeklySeries(const std::string& subject, int count = 6) {
  return Json{
      {"subject", subject},
      {"start", {{"dateTime", "2026-03-02T09:00:00"}, {"timeZone", "Pacific Standard Time"}}},
      {"end", {{"dateTime", "2026-03-02T09:30:00"}, {"timeZone", "Pacific Standard Time"}}},
      {"recurrence",
       {{"pattern", {{"type", "weekly"}, {"interval", 1}, {"daysOfWeek", {"monday"}}}},
        {"range",
         {{"type", "numbered"}, {"startDate", "2026-03-02"}, {"numberOfOccurrences", count}}}}}};
}

const std::vector<std::string> kStarts = {
    "2026-03-02T17:00:00.0000000", "2026-03-09T16:00:00.0000000", "2026-03-16T16:00:00.0000000",
    "2026-03-23T16:00:00.0000000", "2026-03-30T16:00:00.0000000", "2026-04-06T16:00:00.0000000"};

struct Round {
  std::vector<Json> items;
  std::string delta_link;
};

Reply GetAny(SimFixture& f, const std::string& link) {
  return link.rfind("http", 0) == 0 ? f.GetLink(link) : f.Get(link);
}

Round RunRound(SimFixture& f, const std::string& first) {
  Round round;
  std::string link = first;
  for (int guard = 0; guard < 100; ++guard) {
    Reply r = GetAny(f, link);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    for (const Json& item : r.body["value"]) round.items.push_back(item);
    if (r.body.contains("@odata.deltaLink")) {
      round.delta_link = r.body["@odata.deltaLink"];
      return round;
    }
    link = r.body["@odata.nextLink"];
  }
  FAIL("delta round did not end");
  return round;
}

// The items of a round (or page) that belong to the series, live or removed.
std::vector<Json> OfSeries(const std::vector<Json>& items, const std::string& master,
                           bool removed) {
  std::vector<Json> out;
  for (const Json& item : items) {
    if (item.contains("@removed") != removed) continue;
    if (removed || item.value("seriesMasterId", Json()) == master) out.push_back(item);
  }
  return out;
}

std::set<std::string> IdsOf(const std::vector<Json>& items) {
  std::set<std::string> ids;
  for (const Json& item : items) ids.insert(item["id"].get<std::string>());
  return ids;
}

// Every page of a list (calendarView, instances), following nextLinks.
std::vector<Json> ListAll(SimFixture& f, const std::string& first, int* pages = nullptr) {
  std::vector<Json> items;
  std::string link = first;
  int n = 0;
  for (; !link.empty() && n < 100; ++n) {
    Reply r = GetAny(f, link);
    INFO(r.raw);
    REQUIRE(r.status == 200);
    for (const Json& item : r.body["value"]) items.push_back(item);
    link = r.body.value("@odata.nextLink", "");
  }
  if (pages) *pages = n;
  return items;
}

TEST_CASE("series: a weekly series is a master in /events, occurrences in calendarView",
          "[graphsim][series]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  const size_t seeded = f.sim().Count(user, "events");

  Reply created = f.Post(base + "/events", WeeklySeries("Standup"));
  INFO(created.raw);
  REQUIRE(created.status == 201);
  const std::string master = created.body["id"];
  CHECK(created.body["type"] == "seriesMaster");
  CHECK(created.body["seriesMasterId"].is_null());
  CHECK_FALSE(created.body.contains("originalStart"));
  CHECK(created.body["originalStartTimeZone"] == "Pacific Standard Time");
  // "Create event" Example 3: Graph fills in the pattern's defaults and the zone.
  const Json& recurrence = created.body["recurrence"];
  CHECK(recurrence["pattern"]["firstDayOfWeek"] == "sunday");
  CHECK(recurrence["pattern"]["daysOfWeek"] == Json::array({"monday"}));
  CHECK(recurrence["range"]["recurrenceTimeZone"] == "Pacific Standard Time");
  CHECK(recurrence["range"]["numberOfOccurrences"] == 6);

  // /events: single instances and series masters only.
  Reply events = f.Get(base + "/events?$top=1000");
  REQUIRE(events.status == 200);
  std::set<std::string> listed;
  for (const Json& e : events.body["value"]) {
    listed.insert(e["id"].get<std::string>());
    CHECK((e["type"] == "singleInstance" || e["type"] == "seriesMaster"));
  }
  CHECK(listed.count(master) == 1);
  CHECK(listed.size() == seeded + 1);
  CHECK(f.sim().Count(user, "events") == seeded + 1);
  Reply masters = f.Get(base + "/events?$filter=type eq 'seriesMaster'");
  REQUIRE(masters.body["value"].size() == 1);

  // calendarView delta: the six occurrences at their UTC times, never the master.
  Round round = RunRound(f, base + "/calendarView/delta?" + kWindow);
  std::vector<Json> occurrences = OfSeries(round.items, master, false);
  REQUIRE(occurrences.size() == 6);
  CHECK(IdsOf(round.items).count(master) == 0);
  std::sort(occurrences.begin(), occurrences.end(), [](const Json& a, const Json& b) {
    return a["start"]["dateTime"] < b["start"]["dateTime"];
  });
  for (size_t i = 0; i < occurrences.size(); ++i) {
    const Json& o = occurrences[i];
    CHECK(o["type"] == "occurrence");
    CHECK(o["subject"] == "Standup");
    CHECK(o["recurrence"].is_null());
    CHECK(o["start"]["dateTime"] == kStarts[i]);
    CHECK(o["start"]["timeZone"] == "UTC");
    CHECK(o["originalStart"] == kStarts[i].substr(0, 19) + "Z");
  }
  CHECK(occurrences[0]["end"]["dateTime"] == "2026-03-02T17:30:00.0000000");

  // The truth agrees, in start order.
  auto truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 6);
  for (size_t i = 0; i < truth.size(); ++i) {
    CHECK(truth[i].id == occurrences[i]["id"]);
    CHECK(truth[i].series_master_id == master);
    CHECK(truth[i].type == "occurrence");
    CHECK(truth[i].start == At(kStarts[i].substr(0, 19)));
    CHECK(truth[i].original_start == truth[i].start);
    CHECK(truth[i].subject == "Standup");
  }
  CHECK(
      f.sim().EventOccurrences(user, At("2026-03-03T00:00:00"), At("2026-03-10T00:00:00")).size() ==
      1);

  // An occurrence by id.
  Reply one = f.Get(base + "/events/" + truth[1].id);
  REQUIRE(one.status == 200);
  CHECK(one.body["type"] == "occurrence");
  CHECK(one.body["seriesMasterId"] == master);

  // Plain calendarView: the same, by start, paged.
  int pages = 0;
  std::vector<Json> view = ListAll(f, base + "/calendarView?" + kWindow + "&$top=4", &pages);
  CHECK(pages == 2);
  REQUIRE(view.size() == 6);
  for (size_t i = 0; i < view.size(); ++i) CHECK(view[i]["id"] == truth[i].id);
  CheckError(f.Get(base + "/calendarView"), 400, "ErrorInvalidParameter");
  CheckError(f.Get(base + "/calendarView?" + std::string(kWindow) + "&$filter=subject eq 'x'"), 501,
             "NotImplemented");
}

TEST_CASE("series: instances pages one series' occurrences", "[graphsim][series]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  Reply a = f.Post(base + "/events", WeeklySeries("A"));
  Reply b = f.Post(base + "/events", WeeklySeries("B", 3));
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  const std::string master = a.body["id"];

  int pages = 0;
  std::vector<Json> all =
      ListAll(f, base + "/events/" + master + "/instances?" + kWindow + "&$top=4", &pages);
  CHECK(pages == 2);
  REQUIRE(all.size() == 6);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i]["seriesMasterId"] == master);
    CHECK(all[i]["start"]["dateTime"] == kStarts[i]);
  }
  // A narrower window, $select.
  Reply some = f.Get(base + "/events/" + master +
                     "/instances?startDateTime=2026-03-08T00:00:00&endDateTime=2026-03-20T00:00:00"
                     "&$select=subject,type");
  INFO(some.raw);
  REQUIRE(some.status == 200);
  REQUIRE(some.body["value"].size() == 2);
  CHECK(some.body["value"][0]["type"] == "occurrence");
  CHECK_FALSE(some.body["value"][0].contains("start"));
  CHECK(some.body["@odata.context"].get<std::string>().find("/instances(subject,type)") !=
        std::string::npos);

  CheckError(f.Get(base + "/events/" + master + "/instances"), 400, "ErrorInvalidParameter");
  CheckError(f.Get(base + "/events/" + master + "/instances?startDateTime=2026-03-01T00:00:00Z"),
             400, "ErrorInvalidParameter");
  const std::string unknown = master.substr(0, master.size() - 8) + "AAAAAAA=";
  CheckError(f.Get(base + "/events/" + unknown + "/instances?" + kWindow), 404,
             "ErrorItemNotFound");
}

TEST_CASE("series: exceptions, cancellations and master changes in delta rounds",
          "[graphsim][series]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  Reply created = f.Post(base + "/events", WeeklySeries("Standup"));
  REQUIRE(created.status == 201);
  const std::string master = created.body["id"];
  Round r0 = RunRound(f, base + "/calendarView/delta?" + kWindow);
  auto truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 6);
  const std::string second = truth[1].id, third = truth[2].id;

  // PATCH an occurrence: it becomes an exception, same id, moved an hour later.
  Reply moved =
      f.Patch(base + "/events/" + second,
              Json{{"subject", "Moved"},
                   {"start", {{"dateTime", "2026-03-09T17:00:00.0000000"}, {"timeZone", "UTC"}}},
                   {"end", {{"dateTime", "2026-03-09T17:30:00.0000000"}, {"timeZone", "UTC"}}}});
  INFO(moved.raw);
  REQUIRE(moved.status == 200);
  CHECK(moved.body["id"] == second);
  CHECK(moved.body["type"] == "exception");
  CHECK(moved.body["seriesMasterId"] == master);
  CHECK(moved.body["originalStart"] == "2026-03-09T16:00:00Z");
  // DELETE an occurrence: cancelled.
  REQUIRE(f.Delete(base + "/events/" + third).status == 204);
  CheckError(f.Get(base + "/events/" + third), 404, "ErrorItemNotFound");

  Round r1 = RunRound(f, r0.delta_link);
  std::vector<Json> live = OfSeries(r1.items, master, false);
  REQUIRE(live.size() == 1);
  CHECK(live[0]["id"] == second);
  CHECK(live[0]["type"] == "exception");
  CHECK(live[0]["subject"] == "Moved");
  CHECK(live[0]["start"]["dateTime"] == "2026-03-09T17:00:00.0000000");
  CHECK(IdsOf(OfSeries(r1.items, master, true)) == std::set<std::string>{third});
  CHECK(IdsOf(r1.items).count(master) == 0);

  std::vector<Json> instances = ListAll(f, base + "/events/" + master + "/instances?" + kWindow);
  CHECK(instances.size() == 5);
  CHECK(IdsOf(instances).count(third) == 0);
  truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 5);
  CHECK(truth[1].type == "exception");
  CHECK(truth[1].start == At("2026-03-09T17:00:00"));
  CHECK(truth[1].original_start == At("2026-03-09T16:00:00"));

  // Renaming the master reaches its occurrences, not its exception; the cancelled one
  // stays cancelled.
  REQUIRE(f.Patch(base + "/events/" + master, Json{{"subject", "Daily sync"}}).status == 200);
  Round r2 = RunRound(f, r1.delta_link);
  live = OfSeries(r2.items, master, false);
  CHECK(live.size() == 4);
  for (const Json& o : live) CHECK(o["subject"] == "Daily sync");
  CHECK(OfSeries(r2.items, master, true).empty());
  truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 5);
  CHECK(truth[1].subject == "Moved");
  CHECK(truth[0].subject == "Daily sync");

  // A new pattern expands the series afresh: three occurrences, the exception and the
  // cancellation gone; occurrences past the third removed.
  Json shorter = WeeklySeries("Daily sync", 3);
  REQUIRE(f.Patch(base + "/events/" + master, Json{{"recurrence", shorter["recurrence"]}}).status ==
          200);
  Round r3 = RunRound(f, r2.delta_link);
  live = OfSeries(r3.items, master, false);
  CHECK(live.size() == 3);
  for (const Json& o : live) CHECK(o["type"] == "occurrence");
  CHECK(IdsOf(OfSeries(r3.items, master, true)).size() == 3);
  truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 3);
  CHECK(truth[1].id == second);  // same original start, same id
  CHECK(truth[1].start == At("2026-03-09T16:00:00"));
  CHECK(truth[2].id == third);  // the cancellation is gone with the old pattern

  // Deleting the master deletes the series.
  REQUIRE(f.Delete(base + "/events/" + master).status == 204);
  Round r4 = RunRound(f, r3.delta_link);
  CHECK(IdsOf(OfSeries(r4.items, master, true)).size() == 3);
  CHECK(
      f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00")).empty());
  CheckError(f.Get(base + "/events/" + second), 404, "ErrorItemNotFound");
  CheckError(f.Get(base + "/events/" + master + "/instances?" + kWindow), 404, "ErrorItemNotFound");
}

TEST_CASE("series: a series without an end is expanded to the horizon", "[graphsim][series]") {
  graphsim::Options options = SmallOptions();
  options.recurrence_horizon_days = 30;
  SimFixture f(options);
  const std::string user = f.user(0);
  Json daily = WeeklySeries("Daily");
  daily["recurrence"] = {{"pattern", {{"type", "daily"}, {"interval", 1}}},
                         {"range", {{"type", "noEnd"}, {"startDate", "2026-03-02"}}}};
  // Through the C++ API: the same path as POST.
  const std::string master = f.sim().CreateItem(user, "events", daily.dump());
  REQUIRE_FALSE(master.empty());
  auto truth = f.sim().EventOccurrences(user, At("2026-01-01T00:00:00"), At("2027-01-01T00:00:00"));
  // 2026-03-02 through 30 days after it.
  CHECK(truth.size() >= 30);
  CHECK(truth.size() <= 31);
  CHECK(truth.front().start == At("2026-03-02T17:00:00"));
}

TEST_CASE("series: refused recurrences", "[graphsim][series]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);
  const size_t before = f.sim().Count(f.user(0), "events");
  Json bad = WeeklySeries("x");
  bad["recurrence"]["pattern"]["type"] = "fortnightly";
  Reply r = f.Post(base + "/events", bad);
  CHECK(r.status == 400);
  bad = WeeklySeries("x", 0);
  CHECK(f.Post(base + "/events", bad).status == 400);
  bad = WeeklySeries("x");
  bad["start"]["timeZone"] = "Nowhere/Atlantis";
  CHECK(f.Post(base + "/events", bad).status == 400);
  CHECK(f.sim().Count(f.user(0), "events") == before);

  Reply created = f.Post(base + "/events", WeeklySeries("ok"));
  REQUIRE(created.status == 201);
  auto truth =
      f.sim().EventOccurrences(f.user(0), At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE_FALSE(truth.empty());
  // An occurrence has no pattern of its own.
  CHECK(f.Patch(base + "/events/" + truth[0].id,
                Json{{"recurrence", WeeklySeries("x")["recurrence"]}})
            .status == 400);
}

TEST_CASE("series: change notifications name the series master", "[graphsim][series]") {
  SimFixture f;
  Webhook hook;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  Reply sub = f.Post("/v1.0/subscriptions",
                     Json{{"changeType", "created,updated,deleted"},
                          {"notificationUrl", hook.url()},
                          {"resource", "users/" + user + "/events"},
                          {"expirationDateTime", IsoTime(TestStart() + std::chrono::minutes(60))},
                          {"clientState", "s"}});
  REQUIRE(sub.status == 201);
  auto take = [&](size_t n) {
    f.sim().PumpDeliveries();
    REQUIRE(hook.WaitForItems(n));
    std::vector<std::pair<std::string, std::string>> out;
    for (const Json& item : hook.items()) {
      out.emplace_back(item["changeType"], item["resourceData"]["id"]);
    }
    hook.clear();
    return out;
  };
  using Seen = std::vector<std::pair<std::string, std::string>>;

  Reply created = f.Post(base + "/events", WeeklySeries("Standup"));
  REQUIRE(created.status == 201);
  const std::string master = created.body["id"];
  CHECK(take(1) == Seen{{"created", master}});
  auto truth = f.sim().EventOccurrences(user, At("2026-03-01T00:00:00"), At("2026-05-01T00:00:00"));
  REQUIRE(truth.size() == 6);

  REQUIRE(f.Patch(base + "/events/" + truth[0].id, Json{{"subject", "x"}}).status == 200);
  CHECK(take(1) == Seen{{"updated", master}});
  REQUIRE(f.Delete(base + "/events/" + truth[1].id).status == 204);
  CHECK(take(1) == Seen{{"updated", master}});
  REQUIRE(f.Patch(base + "/events/" + master, Json{{"subject", "y"}}).status == 200);
  CHECK(take(1) == Seen{{"updated", master}});
  REQUIRE(f.Delete(base + "/events/" + master).status == 204);
  CHECK(take(1) == Seen{{"deleted", master}});
  f.sim().PumpDeliveries();
  CHECK(hook.items().empty());
}

}  // namespace
}  // namespace graphsim_test
