// Recurring events end to end: series masters in `events`, their occurrences and
// exceptions in `event_occurrences` (the calendar window), kept current through
// notifications and delta rounds without reading occurrences one by one.

#include <nlohmann/json.hpp>

#include "tests/integration/live_fixture.h"
#include "tests/support/mirror_compare.h"
#include "tools/graphsim/time_format.h"

namespace graphmirror::test {
namespace {

using Json = nlohmann::json;

// A series starting at `local_start` (wall time in `zone`), `minutes` long, with
// `pattern` and `range` as Graph's patternedRecurrence spells them.
std::string Series(const std::string& subject, const std::string& local_start,
                   const std::string& zone, int minutes, Json pattern, Json range) {
  // The end is computed on the wall clock: every test series stays within one day.
  const int hour = std::stoi(local_start.substr(11, 2)),
            minute = std::stoi(local_start.substr(14, 2));
  const int end_minutes = hour * 60 + minute + minutes;
  char end[64];
  std::snprintf(end, sizeof end, "%sT%02d:%02d:00", local_start.substr(0, 10).c_str(),
                end_minutes / 60, end_minutes % 60);
  return Json{{"subject", subject},
              {"start", {{"dateTime", local_start}, {"timeZone", zone}}},
              {"end", {{"dateTime", end}, {"timeZone", zone}}},
              {"recurrence", {{"pattern", pattern}, {"range", range}}}}
      .dump();
}

class CalendarFixture : public LiveFixture {
 public:
  explicit CalendarFixture(graphsim::Options options = Small(),
                           const std::function<void(graphsim::Simulator&)>& before_start = nullptr)
      : LiveFixture(options, before_start) {}

  std::vector<graphsim::EventOccurrenceState> Occurrences(const std::string& user,
                                                          const std::string& master) {
    std::vector<graphsim::EventOccurrenceState> out;
    for (auto& o : sim().EventOccurrences(user, TimePoint{}, TimePoint::max())) {
      if (o.series_master_id == master) out.push_back(std::move(o));
    }
    return out;
  }

  // `events` and `event_occurrences` equal Graph's, row by row.
  void RequireExactCalendar(const std::string& user) {
    RequireExactMirror(user, Collection::kEvents);
    auto events = convergence::CompareMirror(sim(), store(), dir().Path("mirror.db"), {user}, {},
                                             {Collection::kEvents});
    INFO(convergence::Describe(events));
    REQUIRE(events.empty());
    auto occurrences = convergence::CompareOccurrences(sim(), dir().Path("mirror.db"), {user});
    INFO(convergence::Describe(occurrences));
    REQUIRE(occurrences.empty());
  }

  std::string Text(const std::string& sql) {
    SQLite::Database db(dir().Path("mirror.db"));
    SQLite::Statement q(db, sql);
    return q.executeStep() && !q.getColumn(0).isNull() ? q.getColumn(0).getString() : "";
  }
};

const Json kWeeklyMonday = {{"type", "weekly"}, {"interval", 1}, {"daysOfWeek", {"monday"}}};

TEST_CASE("A weekly meeting over three years, with exceptions and cancellations",
          "[live][recurrence]") {
  CalendarFixture f;
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  // From SimStart (2026-03-01) the window runs a year back and two years ahead: the
  // series' third year is beyond it.
  const std::string weekly = f.sim().CreateItem(
      user, "events",
      Series("Team meeting", "2026-03-02T10:00:00", "W. Europe Standard Time", 60, kWeeklyMonday,
             {{"type", "endDate"}, {"startDate", "2026-03-02"}, {"endDate", "2029-02-26"}}));
  REQUIRE(!weekly.empty());
  f.Deliver();
  CHECK(f.Text("SELECT type FROM events WHERE id = '" + weekly + "'") == "seriesMaster");
  CHECK(f.Text("SELECT json_extract(recurrence, '$.pattern.type') FROM events WHERE id = '" +
               weekly + "'") == "weekly");
  f.RequireExactCalendar(user);
  const int64_t in_window = f.QueryInt(
      "SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly + "'");
  CHECK(in_window > 100);  // about two years of Mondays
  CHECK(in_window < 157);  // not all three
  // 10:00 in Berlin: 09:00 UTC in winter, 08:00 UTC in summer.
  CHECK(f.Text("SELECT start_at FROM event_occurrences WHERE series_master_id = '" + weekly +
               "' AND start_at LIKE '2026-03-09%'") == "2026-03-09T09:00:00.0000000Z");
  CHECK(f.Text("SELECT start_at FROM event_occurrences WHERE series_master_id = '" + weekly +
               "' AND start_at LIKE '2026-06-01%'") == "2026-06-01T08:00:00.0000000Z");

  auto occurrences = f.Occurrences(user, weekly);
  REQUIRE(occurrences.size() > 20);
  const uint64_t gets_before = f.sim().Stats(user).item_gets;
  // Five exceptions: two renamed, three moved by an hour.
  for (int i = 0; i < 5; ++i) {
    const auto& o = occurrences[static_cast<size_t>(2 + 3 * i)];
    Json change = {{"subject", "Team meeting (special " + std::to_string(i) + ")"}};
    if (i >= 2) {
      const std::string day = graphsim::FormatTicksLocal(o.start).substr(0, 10);
      change = {{"start", {{"dateTime", day + "T11:00:00"}, {"timeZone", "UTC"}}},
                {"end", {{"dateTime", day + "T12:00:00"}, {"timeZone", "UTC"}}}};
    }
    REQUIRE(f.sim().UpdateItem(user, "events", o.id, change.dump()));
  }
  // Three cancellations.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.sim().DeleteItem(user, "events", occurrences[static_cast<size_t>(3 + 3 * i)].id));
  }
  f.Deliver();
  f.RequireExactCalendar(user);
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                   "' AND type = 'exception'") == 5);
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                   "'") == in_window - 3);
  // No occurrence was read on its own.
  CHECK(f.sim().Stats(user).item_gets - gets_before <= 2 * 8);

  SECTION("renaming the series renames every occurrence but the exceptions") {
    // An exception keeps the fields it had when it was made, subject included.
    REQUIRE(f.sim().UpdateItem(user, "events", weekly, R"({"subject":"Weekly sync"})"));
    f.Deliver();
    f.RequireExactCalendar(user);
    CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                     "' AND subject = 'Weekly sync'") == in_window - 3 - 5);
  }
  SECTION("deleting the series deletes its occurrences and exceptions") {
    REQUIRE(f.sim().DeleteItem(user, "events", weekly));
    f.Deliver();
    f.RequireExactCalendar(user);
    CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                     "'") == 0);
  }
  SECTION("changing the pattern regenerates the occurrences") {
    REQUIRE(f.sim().UpdateItem(
        user, "events", weekly,
        Json{
            {"recurrence",
             {{"pattern", {{"type", "weekly"}, {"interval", 2}, {"daysOfWeek", {"tuesday"}}}},
              {"range",
               {{"type", "endDate"}, {"startDate", "2026-03-03"}, {"endDate", "2029-02-26"}}}}},
            {"start",
             {{"dateTime", "2026-03-03T10:00:00"}, {"timeZone", "W. Europe Standard Time"}}},
            {"end", {{"dateTime", "2026-03-03T11:00:00"}, {"timeZone", "W. Europe Standard Time"}}}}
            .dump()));
    f.Deliver();
    f.RequireExactCalendar(user);
    CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                     "' AND strftime('%w', start_at) <> '2'") == 0);
  }
}

TEST_CASE("A daily series across a daylight-saving change, and a monthly one ending by count",
          "[live][recurrence]") {
  CalendarFixture f;
  f.Deliver();
  const std::string user = f.sim().UserIds()[1];
  // The US moves its clocks on 2026-03-08: 09:00 Pacific is 17:00 UTC before, 16:00 after.
  const std::string daily = f.sim().CreateItem(
      user, "events",
      Series("Stand-up", "2026-03-05T09:00:00", "Pacific Standard Time", 15,
             {{"type", "daily"}, {"interval", 1}},
             {{"type", "numbered"}, {"startDate", "2026-03-05"}, {"numberOfOccurrences", 10}}));
  const std::string monthly = f.sim().CreateItem(
      user, "events",
      Series("Monthly review", "2026-03-15T14:00:00", "UTC", 90,
             {{"type", "absoluteMonthly"}, {"interval", 1}, {"dayOfMonth", 15}},
             {{"type", "numbered"}, {"startDate", "2026-03-15"}, {"numberOfOccurrences", 6}}));
  REQUIRE(!daily.empty());
  REQUIRE(!monthly.empty());
  f.Deliver();
  f.RequireExactCalendar(user);
  auto start_of = [&](const std::string& master, const std::string& day) {
    return f.Text("SELECT start_at FROM event_occurrences WHERE series_master_id = '" + master +
                  "' AND substr(start_at, 1, 10) = '" + day + "'");
  };
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + daily +
                   "'") == 10);
  CHECK(start_of(daily, "2026-03-07") == "2026-03-07T17:00:00.0000000Z");
  CHECK(start_of(daily, "2026-03-09") == "2026-03-09T16:00:00.0000000Z");
  CHECK(f.Text("SELECT max(end_at) FROM event_occurrences WHERE series_master_id = '" + daily +
               "'") == "2026-03-14T16:15:00.0000000Z");
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + monthly +
                   "'") == 6);
  CHECK(f.Text("SELECT max(start_at) FROM event_occurrences WHERE series_master_id = '" + monthly +
               "'") == "2026-08-15T14:00:00.0000000Z");
  // What a calendar shows for the week of the change, recurring meetings included.
  CHECK(f.QueryInt("SELECT count(*) FROM calendar WHERE user_id = '" + user +
                   "' AND start_at >= '2026-03-09' AND start_at < '2026-03-16' AND "
                   "series_master_id IS NOT NULL") == 6 + 1);
  // The API reads the same calendar.
  auto week =
      f.store().mirror().Events({user, "2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z", 100});
  REQUIRE(week.ok());
  int recurring = 0;
  for (const Event& e : *week) recurring += e.series_master_id.empty() ? 0 : 1;
  CHECK(recurring == 7);
}

TEST_CASE("Series changed while notifications are lost converge after missed",
          "[live][recurrence][recovery]") {
  graphsim::Options o = Small();
  o.missed_on_drop = true;
  CalendarFixture f(o);
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  const std::string weekly =
      f.sim().CreateItem(user, "events",
                         Series("Planning", "2026-03-02T08:30:00", "UTC", 30, kWeeklyMonday,
                                {{"type", "noEnd"}, {"startDate", "2026-03-02"}}));
  f.Deliver();
  f.RequireExactCalendar(user);
  auto occurrences = f.Occurrences(user, weekly);
  REQUIRE(occurrences.size() > 10);

  f.StopLive();  // the webhook is down
  REQUIRE(f.sim().UpdateItem(user, "events", occurrences[1].id, R"({"subject":"Long planning"})"));
  REQUIRE(f.sim().DeleteItem(user, "events", occurrences[2].id));
  REQUIRE(f.sim().UpdateItem(user, "events", weekly, R"({"subject":"Quarter planning"})"));
  f.sim().PumpDeliveries();
  f.clock().Advance(std::chrono::hours(5));  // past Graph's retry window: dropped, `missed`
  f.sim().PumpDeliveries();
  CHECK(f.sim().Deliveries().dropped_items > 0);

  f.StartLive();
  f.Deliver();
  f.RequireExactCalendar(user);
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE series_master_id = '" + weekly +
                   "' AND subject = 'Quarter planning'") ==
        static_cast<int64_t>(f.Occurrences(user, weekly).size()) - 1);
}

}  // namespace
}  // namespace graphmirror::test

namespace graphmirror::test {
namespace {

// A calendar of 50 daily series of 100 occurrences each: 5,000 occurrences.
void MakeFiftySeries(graphsim::Simulator& sim, const std::string& user) {
  for (int i = 0; i < 50; ++i) {
    char start[32];
    std::snprintf(start, sizeof start, "2026-03-%02dT%02d:00:00", 2 + i % 20, 8 + i % 9);
    REQUIRE(!sim.CreateItem(user, "events",
                            Series("Series " + std::to_string(i), start, "Pacific Standard Time",
                                   30, {{"type", "daily"}, {"interval", 1}},
                                   {{"type", "numbered"},
                                    {"startDate", std::string(start).substr(0, 10)},
                                    {"numberOfOccurrences", 100}}))
                 .empty());
  }
}

TEST_CASE("A calendar of 50 series of 100 occurrences costs no GET per occurrence",
          "[live][recurrence][cost]") {
  std::string user;
  CalendarFixture f(Small(), [&](graphsim::Simulator& sim) {
    user = sim.UserIds()[0];
    MakeFiftySeries(sim, user);
  });
  f.Deliver();
  // The initial sync read the masters from /events and the 5,000 occurrences from the
  // calendar's delta round: not one by id.
  CHECK(f.QueryInt("SELECT count(*) FROM event_occurrences WHERE user_id = '" + user + "'") ==
        5000);
  CHECK(f.sim().Stats(user).item_gets == 0);
  f.RequireExactCalendar(user);

  // A safety-net pass when nothing changed: a few requests, no GET by id.
  uint64_t requests = f.sim().Stats(user).requests, gets = f.sim().Stats(user).item_gets;
  auto pass = f.live().collections().Delta(user, Collection::kEvents);
  REQUIRE(pass.ok());
  CHECK(f.sim().Stats(user).requests - requests <= 3);
  CHECK(f.sim().Stats(user).item_gets == gets);

  // A run of changes: 10 series renamed, 10 occurrences edited, 10 cancelled, 5 series
  // deleted, 5 made. Budget: at most 2 x changes + 50 GETs of one item.
  const int changes = 40;
  auto occurrences = f.sim().EventOccurrences(user, TimePoint{}, TimePoint::max());
  auto masters = f.sim().ItemIds(user, "events");
  std::vector<std::string> series;
  for (const std::string& id : masters) {
    if (f.sim().ItemJson(user, "events", id).find("\"seriesMaster\"") != std::string::npos) {
      series.push_back(id);
    }
  }
  REQUIRE(series.size() == 50);
  requests = f.sim().Stats(user).requests;
  gets = f.sim().Stats(user).item_gets;
  for (int i = 0; i < 10; ++i) {
    REQUIRE(f.sim().UpdateItem(user, "events", series[static_cast<size_t>(i)],
                               R"({"subject":"renamed"})"));
    REQUIRE(f.sim().UpdateItem(user, "events", occurrences[static_cast<size_t>(100 * i + 7)].id,
                               R"({"subject":"edited"})"));
    REQUIRE(f.sim().DeleteItem(user, "events", occurrences[static_cast<size_t>(100 * i + 9)].id));
    if (i < 5) {
      REQUIRE(f.sim().DeleteItem(user, "events", series[static_cast<size_t>(40 + i)]));
      REQUIRE(!f.sim()
                   .CreateItem(user, "events",
                               Series("New " + std::to_string(i), "2026-04-01T09:00:00", "UTC", 30,
                                      kWeeklyMonday,
                                      {{"type", "numbered"},
                                       {"startDate", "2026-04-01"},
                                       {"numberOfOccurrences", 20}}))
                   .empty());
    }
    f.Deliver();
  }
  // Graph's rounds may lag a change: the engine looks again once that lag is over.
  f.clock().Advance(std::chrono::minutes(30));
  f.Deliver();
  f.RequireExactCalendar(user);
  const uint64_t item_gets = f.sim().Stats(user).item_gets - gets;
  INFO("item GETs " << item_gets << ", requests " << f.sim().Stats(user).requests - requests);
  CHECK(item_gets <= 2 * changes + 50);
}

}  // namespace
}  // namespace graphmirror::test
