// Recurring events: an event's `recurrence` (Graph's patternedRecurrence: a
// recurrencePattern and a recurrenceRange) read from and written as Graph's JSON, and
// expanded into occurrences, as
//   https://learn.microsoft.com/graph/api/resources/patternedrecurrence
//   https://learn.microsoft.com/graph/api/resources/recurrencepattern
//   https://learn.microsoft.com/graph/api/resources/recurrencerange
//   https://learn.microsoft.com/graph/outlook-schedule-recurring-events
// describe them. Where Graph's pages are silent, Exchange's own documentation decides
// (EWS DayOfMonth, [MS-OXOCAL] 2.2.1.44.1): see recurrence.cc.
//
// Time zones are ICU's (IANA names, and Windows names through CLDR's mapping), since
// libstdc++ 12 has no std::chrono tzdb.
//
// Thread-safety: values and free functions with no shared state; every call opens its own
// ICU calendar, so concurrent calls are safe.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_RECURRENCE_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_RECURRENCE_H_

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tools/graphsim/time_format.h"

namespace graphsim {

// A wall-clock date and time in some time zone (a dateTimeTimeZone's dateTime). From
// ParseLocalDateTime's result: LocalTime{parsed->time_since_epoch()}.
using LocalTime = std::chrono::local_time<TimePoint::duration>;

// A time zone known to ICU, named the IANA way ("America/Los_Angeles") or the Windows way
// ("Pacific Standard Time", "W. Europe Standard Time", "UTC"), as Graph accepts both.
class TimeZone {
 public:
  // nullopt when the name is neither a Windows zone nor a system (IANA) zone.
  static std::optional<TimeZone> Find(std::string_view name);

  // The canonical IANA id ("America/Los_Angeles" for "Pacific Standard Time").
  const std::string& id() const { return id_; }

  // A wall time that does not exist (in the hour a spring-forward skips) or exists twice
  // (in the hour a fall-back repeats) is read with the zone's standard offset, as Windows
  // and .NET read it: 02:30 on a US spring-forward day is 03:30 daylight time, 01:30 on a
  // fall-back day is the second 01:30 (standard time).
  TimePoint ToUtc(LocalTime local) const;
  LocalTime ToLocal(TimePoint utc) const;

 private:
  TimeZone(std::string id, std::u16string icu_id)
      : id_(std::move(id)), icu_id_(std::move(icu_id)) {}

  std::string id_;
  std::u16string icu_id_;
};

// How often the series repeats. Fields a type does not use keep their defaults (Graph
// prints them anyway: month 0, dayOfMonth 0, firstDayOfWeek sunday, index first).
struct RecurrencePattern {
  enum class Type {
    kDaily,
    kWeekly,
    kAbsoluteMonthly,
    kRelativeMonthly,
    kAbsoluteYearly,
    kRelativeYearly
  };
  // Which of the days matching daysOfWeek in the month (relative patterns).
  enum class Index { kFirst, kSecond, kThird, kFourth, kLast };

  Type type = Type::kDaily;
  int interval = 1;      // days, weeks, months or years between repetitions; >= 1
  int month = 0;         // 1-12 for the yearly types
  int day_of_month = 0;  // 1-31 for the absolute types
  std::vector<std::chrono::weekday> days_of_week;  // as given, without repeats
  std::chrono::weekday first_day_of_week = std::chrono::Sunday;
  Index index = Index::kFirst;
};

// Over how long the series repeats. Dates are civil dates in the recurrence time zone.
struct RecurrenceRange {
  enum class Type { kEndDate, kNoEnd, kNumbered };

  Type type = Type::kNoEnd;
  std::chrono::year_month_day start_date{std::chrono::year{1}, std::chrono::January,
                                         std::chrono::day{1}};
  // Inclusive. 0001-01-01 (what Graph prints) unless type is kEndDate.
  std::chrono::year_month_day end_date{std::chrono::year{1}, std::chrono::January,
                                       std::chrono::day{1}};
  int number_of_occurrences = 0;  // > 0 for kNumbered, else 0
  // As the client spelled it; empty means the event's start time zone. Graph stores and
  // prints the event's zone when the client gave none: the caller fills it in.
  std::string recurrence_time_zone;
};

struct Recurrence {
  RecurrencePattern pattern;
  RecurrenceRange range;
};

// Reads an event's `recurrence` property (an ordered_json, graphsim's Json in schema.h).
// On error, a one-line message naming the property at fault, for a 400 answer. Names of
// types, days and indexes are read without regard to case ("Monday" as the Graph pages
// spell it in places, "monday" as Graph prints it); a property Graph does not define is an
// error; null is as absent. Values a type ignores are still checked, as the Outlook page
// says they are, but stored as Graph prints them (0, no daysOfWeek).
std::variant<Recurrence, std::string> ParseRecurrence(const nlohmann::ordered_json& json);

// Graph's shape: pattern {type, interval, month, dayOfMonth, daysOfWeek (only when not
// empty), firstDayOfWeek, index}, range {type, startDate, endDate, recurrenceTimeZone,
// numberOfOccurrences}.
nlohmann::ordered_json ToJson(const Recurrence& recurrence);

// "2027-03-14": a Graph Date.
std::string FormatDate(std::chrono::year_month_day date);
std::optional<std::chrono::year_month_day> ParseDate(std::string_view text);

// The dates of the series' occurrences in order, from the first on or after
// range.start_date, through `last` (inclusive) or the range's end, whichever comes first,
// and at most `max_dates` of them.
std::vector<std::chrono::year_month_day> OccurrenceDates(const Recurrence& recurrence,
                                                         std::chrono::year_month_day last,
                                                         std::size_t max_dates);

struct Occurrence {
  TimePoint original_start;  // when the pattern schedules it (UTC)
  TimePoint start;           // when it starts (UTC): the same, as long as exceptions are
                             // not modelled
  TimePoint end;             // start + the master's duration
};

inline constexpr std::size_t kMaxOccurrences = 10'000;

// The occurrences of a series that overlap [window_start, window_end) (an occurrence of
// zero duration: that starts inside it), in order, at most `max_occurrences` of them.
// The master starts at `master_start`, a wall time in `event_time_zone`, and lasts
// `duration`. Each occurrence starts at the master's wall-clock time of day in the
// recurrence time zone (range.recurrence_time_zone, or else `event_time_zone`), so across a
// daylight-saving change its UTC time moves. Errors (an unknown zone): a one-line message.
std::variant<std::vector<Occurrence>, std::string> ExpandRecurrence(
    const Recurrence& recurrence, LocalTime master_start, std::string_view event_time_zone,
    TimePoint::duration duration, TimePoint window_start, TimePoint window_end,
    std::size_t max_occurrences = kMaxOccurrences);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_RECURRENCE_H_
