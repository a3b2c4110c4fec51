// Recurring events (recurrence.h): Graph's patternedRecurrence read, printed and expanded.
// Expected dates are written by hand from the examples of
//   [pattern] https://learn.microsoft.com/graph/api/resources/recurrencepattern
//   [range]   https://learn.microsoft.com/graph/api/resources/recurrencerange
//   [outlook] https://learn.microsoft.com/graph/outlook-schedule-recurring-events
//   [create]  https://learn.microsoft.com/graph/api/user-post-events (request 3)
// and, where those pages are silent, EWS's DayOfMonth element and [MS-OXOCAL] 2.2.1.44.1
// (see recurrence.cc).

#include <catch2/catch.hpp>
#include <string>
#include <variant>
#include <vector>

#include "tools/graphsim/recurrence.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {
namespace {

using Json = nlohmann::ordered_json;
using namespace std::chrono_literals;

Recurrence Parse(const char* text) {
  auto parsed = ParseRecurrence(Json::parse(text));
  if (parsed.index() == 1) FAIL(std::get<1>(parsed));
  return std::get<0>(parsed);
}

std::string ParseError(const char* text) {
  auto parsed = ParseRecurrence(Json::parse(text));
  if (parsed.index() == 0) FAIL("parsed, but an error was expected: " << text);
  return std::get<1>(parsed);
}

// The series' dates as "YYYY-MM-DD", through 2099 unless the range ends sooner.
std::vector<std::string> Dates(const Recurrence& recurrence, std::size_t max = 100) {
  std::vector<std::string> out;
  for (auto date : OccurrenceDates(recurrence, *ParseDate("2099-12-31"), max)) {
    out.push_back(FormatDate(date));
  }
  return out;
}

using Strings = std::vector<std::string>;

LocalTime Local(const char* text) {
  return LocalTime{ParseLocalDateTime(text)->time_since_epoch()};
}
TimePoint Utc(const char* text) { return *ParseDateTimeOffset(text); }

std::vector<Occurrence> Expand(const Recurrence& recurrence, const char* master_start,
                               const char* zone, TimePoint::duration duration,
                               const char* window_start, const char* window_end,
                               std::size_t max = kMaxOccurrences) {
  auto expanded = ExpandRecurrence(recurrence, Local(master_start), zone, duration,
                                   Utc(window_start), Utc(window_end), max);
  if (expanded.index() == 1) FAIL(std::get<1>(expanded));
  return std::get<0>(expanded);
}

Strings Starts(const std::vector<Occurrence>& occurrences) {
  Strings out;
  for (const Occurrence& o : occurrences) out.push_back(FormatSecondsZ(o.start));
  return out;
}

// ---------------------------------------------------------------- pattern types

TEST_CASE("daily: every three days, numbered", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event every three days"; "Repeat this event 10 times" from
  // 2017-04-02.
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":3},
      "range":{"type":"numbered","startDate":"2017-04-02","numberOfOccurrences":10}})");
  CHECK(Dates(r) == Strings{"2017-04-02", "2017-04-05", "2017-04-08", "2017-04-11", "2017-04-14",
                            "2017-04-17", "2017-04-20", "2017-04-23", "2017-04-26", "2017-04-29"});
}

TEST_CASE("weekly: every Monday until the end of the year", "[graphsim][recurrence]") {
  // [outlook] "Meet from 1:00 PM to 1:30 PM every Monday starting September 4, 2017, until
  // the end of the year ... Because December 31, 2017, is on a Sunday, the last occurrence
  // in this series will be on Monday, December 25."
  Recurrence r = Parse(R"({"pattern":{"type":"weekly","interval":1,"daysOfWeek":["Monday"]},
      "range":{"type":"endDate","startDate":"2017-09-04","endDate":"2017-12-31"}})");
  Strings dates = Dates(r);
  REQUIRE(dates.size() == 17);
  CHECK(dates.front() == "2017-09-04");
  CHECK(dates[1] == "2017-09-11");
  CHECK(dates.back() == "2017-12-25");
}

TEST_CASE("weekly: every other week on Monday, Wednesday and Friday", "[graphsim][recurrence]") {
  // [pattern] weekly: "Repeat event Monday and Tuesday of every other week." startDate is a
  // Wednesday: that week's Wednesday and Friday, then two weeks on.
  Recurrence r = Parse(R"({"pattern":{"type":"weekly","interval":2,
      "daysOfWeek":["monday","wednesday","friday"]},
      "range":{"type":"numbered","startDate":"2027-01-06","numberOfOccurrences":7}})");
  CHECK(Dates(r) == Strings{"2027-01-06", "2027-01-08", "2027-01-18", "2027-01-20", "2027-01-22",
                            "2027-02-01", "2027-02-03"});
}

TEST_CASE("weekly: weeks are counted from the week of the first occurrence",
          "[graphsim][recurrence]") {
  // startDate is Sunday 2027-01-03. With weeks starting on Monday it closes the week of
  // 2026-12-28, which holds no Monday, Wednesday or Friday on or after it; the first
  // occurrence is Monday 01-04 and its week (01-04..01-10) is week 0 ([MS-OXOCAL]
  // 2.2.1.44.1.1: "the first day of the week in which the first event of the recurring
  // series occurs"), so both week starts give the same dates here.
  const char* sunday = R"({"pattern":{"type":"weekly","interval":2,"firstDayOfWeek":"sunday",
      "daysOfWeek":["monday","wednesday","friday"]},
      "range":{"type":"numbered","startDate":"2027-01-03","numberOfOccurrences":6}})";
  const char* monday = R"({"pattern":{"type":"weekly","interval":2,"firstDayOfWeek":"monday",
      "daysOfWeek":["monday","wednesday","friday"]},
      "range":{"type":"numbered","startDate":"2027-01-03","numberOfOccurrences":6}})";
  Strings expected{"2027-01-04", "2027-01-06", "2027-01-08",
                   "2027-01-18", "2027-01-20", "2027-01-22"};
  CHECK(Dates(Parse(sunday)) == expected);
  CHECK(Dates(Parse(monday)) == expected);
}

TEST_CASE("weekly: firstDayOfWeek decides which days share a week", "[graphsim][recurrence]") {
  // Every other weekend from Saturday 2027-01-02. Weeks from Sunday put Saturday and the
  // next day's Sunday in different weeks; weeks from Monday keep them together.
  Recurrence sunday = Parse(R"({"pattern":{"type":"weekly","interval":2,
      "firstDayOfWeek":"sunday","daysOfWeek":["saturday","sunday"]},
      "range":{"type":"numbered","startDate":"2027-01-02","numberOfOccurrences":6}})");
  CHECK(Dates(sunday) == Strings{"2027-01-02", "2027-01-10", "2027-01-16", "2027-01-24",
                                 "2027-01-30", "2027-02-07"});
  Recurrence monday = Parse(R"({"pattern":{"type":"weekly","interval":2,
      "firstDayOfWeek":"monday","daysOfWeek":["saturday","sunday"]},
      "range":{"type":"numbered","startDate":"2027-01-02","numberOfOccurrences":6}})");
  CHECK(Dates(monday) == Strings{"2027-01-02", "2027-01-03", "2027-01-16", "2027-01-17",
                                 "2027-01-30", "2027-01-31"});
}

TEST_CASE("absoluteMonthly: quarterly on the 7th", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event quarterly (every 3 months) on the 7th".
  Recurrence r = Parse(R"({"pattern":{"type":"absoluteMonthly","interval":3,"dayOfMonth":7},
      "range":{"type":"numbered","startDate":"2017-04-02","numberOfOccurrences":4}})");
  CHECK(Dates(r) == Strings{"2017-04-07", "2017-07-07", "2017-10-07", "2018-01-07"});
}

TEST_CASE("absoluteMonthly: months are counted from the first occurrence",
          "[graphsim][recurrence]") {
  // The 15th of every other month from 2017-04-20: April's 15th is past, so May is the
  // first month (as [outlook]'s relativeMonthly example moves to September).
  Recurrence r = Parse(R"({"pattern":{"type":"absoluteMonthly","interval":2,"dayOfMonth":15},
      "range":{"type":"noEnd","startDate":"2017-04-20"}})");
  CHECK(Dates(r, 3) == Strings{"2017-05-15", "2017-07-15", "2017-09-15"});
}

TEST_CASE("absoluteMonthly: day 31 falls on the last day of shorter months",
          "[graphsim][recurrence]") {
  // EWS DayOfMonth: "If for a particular month this value is larger than the number of days
  // in the month, the last day of the month is assumed."
  Recurrence r = Parse(R"({"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":31},
      "range":{"type":"endDate","startDate":"2027-12-01","endDate":"2028-06-30"}})");
  CHECK(Dates(r) == Strings{"2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30",
                            "2028-05-31", "2028-06-30"});
}

TEST_CASE("relativeMonthly: first Thursday of every other month", "[graphsim][recurrence]") {
  // [outlook] "Meet from 2:00 PM to 3:00 PM on the first Thursday of every other month
  // starting August 29, 2017 ... Because the value of startDate is after the first Thursday
  // in August, the first occurrence of this series will be in September."
  Recurrence r = Parse(R"({"pattern":{"type":"relativeMonthly","interval":2,
      "daysOfWeek":["Thursday"],"index":"first"},
      "range":{"type":"noEnd","startDate":"2017-08-29"}})");
  CHECK(Dates(r, 4) == Strings{"2017-09-07", "2017-11-02", "2018-01-04", "2018-03-01"});
}

TEST_CASE("relativeMonthly: second Wednesday, last Friday", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event on the second Wednesday of every month".
  Recurrence second = Parse(R"({"pattern":{"type":"relativeMonthly","interval":1,
      "daysOfWeek":["Wednesday"],"index":"second"},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":3}})");
  CHECK(Dates(second) == Strings{"2027-01-13", "2027-02-10", "2027-03-10"});
  Recurrence last = Parse(R"({"pattern":{"type":"relativeMonthly","interval":1,
      "daysOfWeek":["friday"],"index":"last"},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":4}})");
  CHECK(Dates(last) == Strings{"2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30"});
}

TEST_CASE("relativeMonthly: several days count the days matching any of them",
          "[graphsim][recurrence]") {
  // [outlook] "Repeat this event on the first Thursday or Friday of every month".
  Recurrence first = Parse(R"({"pattern":{"type":"relativeMonthly","interval":1,
      "daysOfWeek":["Thursday","Friday"],"index":"first"},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":3}})");
  CHECK(Dates(first) == Strings{"2027-01-01", "2027-02-04", "2027-03-04"});
  // [pattern] "Repeat event on the second Thursday or Friday every three months": the
  // second of the month's Thursdays and Fridays ([MS-OXOCAL] MonthNth: "the second
  // occurrence of the days specified"). April 2027 opens Thursday 1, Friday 2.
  Recurrence second = Parse(R"({"pattern":{"type":"relativeMonthly","interval":3,
      "daysOfWeek":["thursday","friday"],"index":"second"},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":4}})");
  CHECK(Dates(second) == Strings{"2027-01-07", "2027-04-02", "2027-07-02", "2027-10-07"});
  // The first weekday of the month: May 2027 opens on a Saturday.
  Recurrence weekday = Parse(R"({"pattern":{"type":"relativeMonthly","interval":1,
      "daysOfWeek":["monday","tuesday","wednesday","thursday","friday"]},
      "range":{"type":"endDate","startDate":"2027-04-02","endDate":"2027-06-01"}})");
  CHECK(Dates(weekday) == Strings{"2027-05-03", "2027-06-01"});
}

TEST_CASE("absoluteYearly: April 15 every year, March 15 every 3 years", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event on April 15 every year".
  Recurrence april = Parse(R"({"pattern":{"type":"absoluteYearly","interval":1,
      "dayOfMonth":15,"month":4},
      "range":{"type":"numbered","startDate":"2017-04-02","numberOfOccurrences":3}})");
  CHECK(Dates(april) == Strings{"2017-04-15", "2018-04-15", "2019-04-15"});
  // [pattern] "Repeat event on the 15th of March every 3 years", from after March 15.
  Recurrence march = Parse(R"({"pattern":{"type":"absoluteYearly","interval":3,
      "dayOfMonth":15,"month":3},
      "range":{"type":"noEnd","startDate":"2017-04-01"}})");
  CHECK(Dates(march, 3) == Strings{"2018-03-15", "2021-03-15", "2024-03-15"});
  // February 29 outside leap years: the last day of February (EWS DayOfMonth).
  Recurrence leap = Parse(R"({"pattern":{"type":"absoluteYearly","interval":1,
      "dayOfMonth":29,"month":2},
      "range":{"type":"endDate","startDate":"2027-01-01","endDate":"2029-12-31"}})");
  CHECK(Dates(leap) == Strings{"2027-02-28", "2028-02-29", "2029-02-28"});
}

TEST_CASE("relativeYearly: last Wednesday of November", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event on the last Wednesday of November every year".
  Recurrence r = Parse(R"({"pattern":{"type":"relativeYearly","interval":1,
      "daysOfWeek":["Wednesday"],"index":"last","month":11},
      "range":{"type":"numbered","startDate":"2017-01-01","numberOfOccurrences":3}})");
  CHECK(Dates(r) == Strings{"2017-11-29", "2018-11-28", "2019-11-27"});
  // [pattern] "Repeat event on the second Thursday or Friday of every November every 3
  // years".
  Recurrence every3 = Parse(R"({"pattern":{"type":"relativeYearly","interval":3,
      "daysOfWeek":["thursday","friday"],"index":"second","month":11},
      "range":{"type":"endDate","startDate":"2027-11-06","endDate":"2031-12-31"}})");
  // 2027: the second of Thu 4, Fri 5 is the 5th, before startDate, so the series starts in
  // 2028 and counts its years from there (as [outlook]'s relativeMonthly example does
  // months).
  CHECK(Dates(every3) == Strings{"2028-11-03", "2031-11-07"});
}

// ---------------------------------------------------------------- range types

TEST_CASE("endDate is inclusive", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event from July 1, 2017, to July 31, 2017"; [range] endDate:
  // "all the days that fit the corresponding recurrence pattern between the startDate and
  // endDate inclusive".
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"endDate","startDate":"2017-07-01","endDate":"2017-07-31"}})");
  Strings dates = Dates(r);
  REQUIRE(dates.size() == 31);
  CHECK(dates.front() == "2017-07-01");
  CHECK(dates.back() == "2017-07-31");
}

TEST_CASE("numbered counts occurrences, not days", "[graphsim][recurrence]") {
  // [range] numbered: "Event repeats for the numberOfOccurrences based on the recurrence
  // pattern beginning on the startDate."
  Recurrence r = Parse(R"({"pattern":{"type":"weekly","interval":1,
      "daysOfWeek":["tuesday","thursday"]},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":3}})");
  CHECK(Dates(r) == Strings{"2027-01-05", "2027-01-07", "2027-01-12"});
  // The count runs from the series' start even when the window opens later.
  auto later =
      Expand(r, "2027-01-01T10:00:00", "UTC", 1h, "2027-01-06T00:00:00Z", "2027-12-31T00:00:00Z");
  CHECK(Starts(later) == Strings{"2027-01-07T10:00:00Z", "2027-01-12T10:00:00Z"});
}

TEST_CASE("noEnd repeats until the window ends", "[graphsim][recurrence]") {
  // [outlook] "Repeat this event from May 15, 2017, forever".
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd","startDate":"2017-05-15"}})");
  auto occurrences = Expand(r, "2017-05-15T08:00:00", "UTC", 30min, "2045-03-01T00:00:00Z",
                            "2045-03-04T00:00:00Z");
  CHECK(Starts(occurrences) ==
        Strings{"2045-03-01T08:00:00Z", "2045-03-02T08:00:00Z", "2045-03-03T08:00:00Z"});
  CHECK(FormatSecondsZ(occurrences[0].end) == "2045-03-01T08:30:00Z");
  CHECK(occurrences[0].original_start == occurrences[0].start);
}

// ---------------------------------------------------------------- expansion in time zones

TEST_CASE("a daily series keeps its wall-clock time across the DST change",
          "[graphsim][recurrence]") {
  // Pacific time moves to daylight time on Sunday 2027-03-14: 09:00 is 17:00Z before and
  // 16:00Z after. "Pacific Standard Time" is the Windows name of America/Los_Angeles.
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"numbered","startDate":"2027-03-12","numberOfOccurrences":4}})");
  Strings expected{"2027-03-12T17:00:00Z", "2027-03-13T17:00:00Z", "2027-03-14T16:00:00Z",
                   "2027-03-15T16:00:00Z"};
  for (const char* zone : {"America/Los_Angeles", "Pacific Standard Time"}) {
    INFO(zone);
    auto occurrences =
        Expand(r, "2027-03-12T09:00:00", zone, 1h, "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z");
    CHECK(Starts(occurrences) == expected);
    CHECK(FormatSecondsZ(occurrences[2].end) == "2027-03-14T17:00:00Z");
  }
  // And back on Sunday 2027-11-07.
  Recurrence fall = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"endDate","startDate":"2027-11-06","endDate":"2027-11-07"}})");
  CHECK(Starts(Expand(fall, "2027-11-06T09:00:00", "Pacific Standard Time", 1h,
                      "2027-11-01T00:00:00Z", "2027-12-01T00:00:00Z")) ==
        Strings{"2027-11-06T16:00:00Z", "2027-11-07T17:00:00Z"});
}

TEST_CASE("the recurrence time zone sets the wall-clock time", "[graphsim][recurrence]") {
  // [range] recurrenceTimeZone: "If not specified, the time zone of the event is used."
  // The master starts at 17:00 UTC = 09:00 Pacific; the series follows Pacific time.
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"numbered","startDate":"2027-03-13","numberOfOccurrences":2,
               "recurrenceTimeZone":"Pacific Standard Time"}})");
  CHECK(Starts(Expand(r, "2027-03-13T17:00:00", "UTC", 1h, "2027-03-01T00:00:00Z",
                      "2027-04-01T00:00:00Z")) ==
        Strings{"2027-03-13T17:00:00Z", "2027-03-14T16:00:00Z"});
  // A European zone by its Windows name: Berlin moves on 2027-03-28.
  Recurrence berlin = Parse(R"({"pattern":{"type":"weekly","interval":1,
      "daysOfWeek":["monday"]},
      "range":{"type":"numbered","startDate":"2027-03-22","numberOfOccurrences":2}})");
  CHECK(Starts(Expand(berlin, "2027-03-22T10:00:00", "W. Europe Standard Time", 1h,
                      "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z")) ==
        Strings{"2027-03-22T09:00:00Z", "2027-03-29T08:00:00Z"});
}

TEST_CASE("the window: overlap, order, cap", "[graphsim][recurrence]") {
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})");
  // An occurrence that started before the window but ends inside it overlaps it; one that
  // ends as the window opens does not.
  CHECK(Starts(Expand(r, "2027-01-01T23:00:00", "UTC", 2h, "2027-01-03T00:00:00Z",
                      "2027-01-04T00:00:00Z")) ==
        Strings{"2027-01-02T23:00:00Z", "2027-01-03T23:00:00Z"});
  CHECK(Starts(Expand(r, "2027-01-01T22:00:00", "UTC", 2h, "2027-01-03T00:00:00Z",
                      "2027-01-04T00:00:00Z")) == Strings{"2027-01-03T22:00:00Z"});
  // A zero-length occurrence belongs to the window it starts in.
  CHECK(Starts(Expand(r, "2027-01-01T00:00:00", "UTC", 0s, "2027-01-03T00:00:00Z",
                      "2027-01-04T00:00:00Z")) == Strings{"2027-01-03T00:00:00Z"});
  // At most max_occurrences, the earliest.
  CHECK(Starts(Expand(r, "2027-01-01T09:00:00", "UTC", 1h, "2027-01-01T00:00:00Z",
                      "2028-01-01T00:00:00Z", 2)) ==
        Strings{"2027-01-01T09:00:00Z", "2027-01-02T09:00:00Z"});
  // Nothing before the range starts.
  CHECK(Expand(r, "2027-01-01T09:00:00", "UTC", 1h, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
            .empty());
}

TEST_CASE("time zones: names, gaps and overlaps", "[graphsim][recurrence]") {
  auto la = TimeZone::Find("America/Los_Angeles");
  REQUIRE(la);
  CHECK(la->id() == "America/Los_Angeles");
  CHECK(TimeZone::Find("Pacific Standard Time")->id() == "America/Los_Angeles");
  CHECK(TimeZone::Find("W. Europe Standard Time")->id() == "Europe/Berlin");
  REQUIRE(TimeZone::Find("UTC"));
  CHECK(TimeZone::Find("UTC")->ToUtc(Local("2027-06-01T12:00:00")) == Utc("2027-06-01T12:00:00Z"));
  CHECK_FALSE(TimeZone::Find("Mars/Olympus_Mons"));
  CHECK_FALSE(TimeZone::Find("Pacific Standard Tim"));
  CHECK_FALSE(TimeZone::Find(""));
  CHECK_FALSE(TimeZone::Find("GMT+05:00"));

  // 02:30 does not exist on 2027-03-14: read with the standard offset, it is 03:30 PDT.
  CHECK(la->ToUtc(Local("2027-03-14T02:30:00")) == Utc("2027-03-14T10:30:00Z"));
  // 01:30 comes twice on 2027-11-07: the second one, in standard time.
  CHECK(la->ToUtc(Local("2027-11-07T01:30:00")) == Utc("2027-11-07T09:30:00Z"));
  CHECK(la->ToUtc(Local("2027-07-01T12:00:00.1234567")) == Utc("2027-07-01T19:00:00.1234567Z"));
  CHECK(la->ToLocal(Utc("2027-11-07T08:30:00Z")) == Local("2027-11-07T01:30:00"));
  CHECK(la->ToLocal(Utc("2027-11-07T09:30:00Z")) == Local("2027-11-07T01:30:00"));
  CHECK(la->ToLocal(Utc("2027-01-15T20:00:00Z")) == Local("2027-01-15T12:00:00"));
}

TEST_CASE("an unknown event time zone is an error", "[graphsim][recurrence]") {
  Recurrence r = Parse(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})");
  auto expanded = ExpandRecurrence(r, Local("2027-01-01T09:00:00"), "Atlantis Standard Time", 1h,
                                   Utc("2027-01-01T00:00:00Z"), Utc("2027-02-01T00:00:00Z"));
  REQUIRE(expanded.index() == 1);
  CHECK_THAT(std::get<1>(expanded), Catch::Contains("Atlantis Standard Time"));
}

// ---------------------------------------------------------------- JSON

TEST_CASE("printed as Graph prints it", "[graphsim][recurrence]") {
  // [create] request 3 and its response (recurrenceTimeZone: the event's zone, which the
  // caller fills in).
  Recurrence r = Parse(R"({"pattern":{"type":"weekly","interval":1,"daysOfWeek":["Monday"]},
      "range":{"type":"endDate","startDate":"2017-09-04","endDate":"2017-12-31"}})");
  CHECK(r.range.recurrence_time_zone.empty());
  r.range.recurrence_time_zone = "Pacific Standard Time";
  CHECK(ToJson(r).dump() ==
        R"({"pattern":{"type":"weekly","interval":1,"month":0,"dayOfMonth":0,)"
        R"("daysOfWeek":["monday"],"firstDayOfWeek":"sunday","index":"first"},)"
        R"("range":{"type":"endDate","startDate":"2017-09-04","endDate":"2017-12-31",)"
        R"("recurrenceTimeZone":"Pacific Standard Time","numberOfOccurrences":0}})");

  // No end date: 0001-01-01. Daily has no daysOfWeek.
  Recurrence daily = Parse(R"({"pattern":{"type":"DAILY","interval":2,"month":0},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":5,
               "recurrenceTimeZone":"UTC"}})");
  CHECK(ToJson(daily).dump() ==
        R"({"pattern":{"type":"daily","interval":2,"month":0,"dayOfMonth":0,)"
        R"("firstDayOfWeek":"sunday","index":"first"},)"
        R"("range":{"type":"numbered","startDate":"2027-01-01","endDate":"0001-01-01",)"
        R"("recurrenceTimeZone":"UTC","numberOfOccurrences":5}})");

  // What ToJson prints parses back to the same series.
  Recurrence yearly = Parse(R"({"pattern":{"type":"relativeYearly","interval":1,
      "daysOfWeek":["wednesday"],"index":"last","month":11,"firstDayOfWeek":"monday"},
      "range":{"type":"noEnd","startDate":"2017-01-01"}})");
  Json printed = ToJson(yearly);
  CHECK(printed["range"]["endDate"] == "0001-01-01");
  CHECK(ToJson(Parse(printed.dump().c_str())) == printed);
}

TEST_CASE("parse errors name the property", "[graphsim][recurrence]") {
  CHECK_THAT(ParseError(R"({"pattern":{"interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.type") && Catch::Contains("required"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":0},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.interval"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily"},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.interval"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"weekly","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.daysOfWeek") && Catch::Contains("weekly"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"weekly","interval":1,"daysOfWeek":[]},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.daysOfWeek"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01","recurrenceTimeZone":"Mars Time"}})"),
             Catch::Contains("range.recurrenceTimeZone") && Catch::Contains("Mars Time"));
  // Others: wrong values, ignored values still checked, missing range parts.
  CHECK_THAT(ParseError(R"({"pattern":{"type":"hourly","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.type") && Catch::Contains("hourly"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":"1"},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.interval"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"absoluteMonthly","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.dayOfMonth"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":32},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.dayOfMonth"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"absoluteYearly","interval":1,"dayOfMonth":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.month"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1,"month":13},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.month"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1,"index":"fifth"},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.index"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1,"firstDayOfWeek":"funday"},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.firstDayOfWeek"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"weekly","interval":1,"daysOfWeek":["mon"]},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("pattern.daysOfWeek"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1,"hours":3},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})"),
             Catch::Contains("'hours'") && Catch::Contains("recurrencePattern"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1}})"), Catch::Contains("range"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"startDate":"2027-01-01"}})"),
             Catch::Contains("range.type"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd"}})"),
             Catch::Contains("range.startDate"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"noEnd","startDate":"2027-02-30"}})"),
             Catch::Contains("range.startDate"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"endDate","startDate":"2027-01-01"}})"),
             Catch::Contains("range.endDate"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"endDate","startDate":"2027-01-02","endDate":"2027-01-01"}})"),
             Catch::Contains("range.endDate"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"numbered","startDate":"2027-01-01"}})"),
             Catch::Contains("range.numberOfOccurrences"));
  CHECK_THAT(ParseError(R"({"pattern":{"type":"daily","interval":1},
      "range":{"type":"numbered","startDate":"2027-01-01","numberOfOccurrences":0}})"),
             Catch::Contains("range.numberOfOccurrences"));
  // Every message is one line.
  CHECK(ParseError(R"({"pattern":{"type":"weekly","interval":1},
      "range":{"type":"noEnd","startDate":"2027-01-01"}})")
            .find('\n') == std::string::npos);
}

TEST_CASE("dates", "[graphsim][recurrence]") {
  REQUIRE(ParseDate("2028-02-29"));
  CHECK(FormatDate(*ParseDate("2028-02-29")) == "2028-02-29");
  CHECK(FormatDate(*ParseDate("0001-01-01")) == "0001-01-01");
  CHECK_FALSE(ParseDate("2027-02-29"));
  CHECK_FALSE(ParseDate("2027-1-01"));
  CHECK_FALSE(ParseDate("2027-01-01T00:00:00"));
  CHECK_FALSE(ParseDate("0000-01-01"));
}

}  // namespace
}  // namespace graphsim
