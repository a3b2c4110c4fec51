// Recurrence parsing, printing and expansion (recurrence.h).
//
// Rules the Graph pages leave to Exchange, and where they come from:
// - Periods (weeks, months, years) are counted from the one holding the first occurrence
//   on or after startDate, not from the one holding startDate. The Outlook page's example:
//   relativeMonthly, interval 2, first Thursday, startDate 2017-08-29: "Because the value
//   of startDate is after the first Thursday in August, the first occurrence of this series
//   will be in September" (counting from August would give October). [MS-OXOCAL]
//   2.2.1.44.1.1 does the same for weeks: the week "in which the first event of the
//   recurring series occurs", starting on FirstDOW (firstDayOfWeek).
// - dayOfMonth past the end of a month means its last day: EWS DayOfMonth (the element of
//   AbsoluteMonthlyRecurrence and AbsoluteYearlyRecurrence), "If for a particular month
//   this value is larger than the number of days in the month, the last day of the month
//   is assumed."
// - Several daysOfWeek with an index count the days matching any of them: [MS-OXOCAL]
//   2.2.1.44.1.6, "The recurrence falls on the second occurrence of the days specified in
//   every month" ("Nth Weekday of month: bits M, Tu, W, Th, F are set").

#include "tools/graphsim/recurrence.h"

#include <unicode/ucal.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

namespace graphsim {
namespace {

using Json = nlohmann::ordered_json;
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::weekday;
using std::chrono::year_month_day;
using PatternType = RecurrencePattern::Type;
using RangeType = RecurrenceRange::Type;
using WeekIndex = RecurrencePattern::Index;

constexpr year_month_day kNoDate{std::chrono::year{1}, std::chrono::January, std::chrono::day{1}};

constexpr std::array<std::string_view, 7> kDayNames = {"sunday",   "monday", "tuesday", "wednesday",
                                                       "thursday", "friday", "saturday"};
constexpr std::array<std::pair<std::string_view, PatternType>, 6> kPatternTypes = {{
    {"daily", PatternType::kDaily},
    {"weekly", PatternType::kWeekly},
    {"absoluteMonthly", PatternType::kAbsoluteMonthly},
    {"relativeMonthly", PatternType::kRelativeMonthly},
    {"absoluteYearly", PatternType::kAbsoluteYearly},
    {"relativeYearly", PatternType::kRelativeYearly},
}};
constexpr std::array<std::pair<std::string_view, RangeType>, 3> kRangeTypes = {{
    {"endDate", RangeType::kEndDate},
    {"noEnd", RangeType::kNoEnd},
    {"numbered", RangeType::kNumbered},
}};
constexpr std::array<std::pair<std::string_view, WeekIndex>, 5> kIndexes = {{
    {"first", WeekIndex::kFirst},
    {"second", WeekIndex::kSecond},
    {"third", WeekIndex::kThird},
    {"fourth", WeekIndex::kFourth},
    {"last", WeekIndex::kLast},
}};

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

template <typename T, std::size_t N>
std::optional<T> Lookup(const std::array<std::pair<std::string_view, T>, N>& table,
                        std::string_view name) {
  for (const auto& [text, value] : table) {
    if (EqualsIgnoringCase(text, name)) return value;
  }
  return std::nullopt;
}

template <typename T, std::size_t N>
std::string_view NameOf(const std::array<std::pair<std::string_view, T>, N>& table, T value) {
  for (const auto& [text, v] : table) {
    if (v == value) return text;
  }
  return "";
}

std::optional<weekday> DayFromName(std::string_view name) {
  for (unsigned i = 0; i < kDayNames.size(); ++i) {
    if (EqualsIgnoringCase(kDayNames[i], name)) return weekday{i};
  }
  return std::nullopt;
}

std::string_view DayName(weekday day) { return kDayNames[day.c_encoding()]; }

// ---------------------------------------------------------------- time zones (ICU)

struct CalendarCloser {
  void operator()(UCalendar* calendar) const { ucal_close(calendar); }
};
using Calendar = std::unique_ptr<UCalendar, CalendarCloser>;

Calendar OpenCalendar(const std::u16string& zone) {
  UErrorCode status = U_ZERO_ERROR;
  Calendar calendar(
      ucal_open(zone.data(), static_cast<int32_t>(zone.size()), "", UCAL_GREGORIAN, &status));
  if (U_FAILURE(status)) return nullptr;
  return calendar;
}

using Millis = std::chrono::milliseconds;

// UTC offset in force at a wall time. ICU offsets are whole milliseconds, so the wall time
// is floored to them and any finer part carried over unchanged.
Millis OffsetAtLocal(const std::u16string& zone, Millis local) {
  Calendar calendar = OpenCalendar(zone);
  if (!calendar) return Millis{0};
  UErrorCode status = U_ZERO_ERROR;
  // ucal_getTimeZoneOffsetFromLocal reads the calendar's time as a local time.
  ucal_setMillis(calendar.get(), static_cast<UDate>(local.count()), &status);
  int32_t raw = 0;
  int32_t dst = 0;
  // Standard time on both sides of a daylight-saving change: what Windows and .NET take
  // (TimeZoneInfo reads an ambiguous time as standard time) and ICU's own default
  // (UCAL_WALLTIME_LAST).
  ucal_getTimeZoneOffsetFromLocal(calendar.get(), UCAL_TZ_LOCAL_STANDARD_FORMER,
                                  UCAL_TZ_LOCAL_STANDARD_FORMER, &raw, &dst, &status);
  if (U_FAILURE(status)) return Millis{0};
  return Millis{int64_t{raw} + dst};
}

Millis OffsetAtUtc(const std::u16string& zone, Millis utc) {
  Calendar calendar = OpenCalendar(zone);
  if (!calendar) return Millis{0};
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(calendar.get(), static_cast<UDate>(utc.count()), &status);
  int32_t raw = ucal_get(calendar.get(), UCAL_ZONE_OFFSET, &status);
  int32_t dst = ucal_get(calendar.get(), UCAL_DST_OFFSET, &status);
  if (U_FAILURE(status)) return Millis{0};
  return Millis{int64_t{raw} + dst};
}

std::optional<std::u16string> Ascii16(std::string_view text) {
  std::u16string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) > 0x7e || static_cast<unsigned char>(c) < 0x20) {
      return std::nullopt;
    }
    out.push_back(static_cast<char16_t>(c));
  }
  return out;
}

std::string Narrow(std::u16string_view text) {
  std::string out;
  for (char16_t c : text) out.push_back(c < 0x80 ? static_cast<char>(c) : '?');
  return out;
}

// ---------------------------------------------------------------- dates

sys_days LastDayOf(std::chrono::year_month month) { return sys_days{month / std::chrono::last}; }

// The date a monthly or yearly pattern picks in `month`.
sys_days DayInMonth(const RecurrencePattern& pattern, std::chrono::year_month month) {
  if (pattern.type == PatternType::kAbsoluteMonthly ||
      pattern.type == PatternType::kAbsoluteYearly) {
    sys_days last = LastDayOf(month);
    unsigned last_day = static_cast<unsigned>(year_month_day{last}.day());
    unsigned day = std::min(static_cast<unsigned>(pattern.day_of_month), last_day);
    return sys_days{month / std::chrono::day{day}};
  }
  auto matches = [&](sys_days d) {
    return std::find(pattern.days_of_week.begin(), pattern.days_of_week.end(), weekday{d}) !=
           pattern.days_of_week.end();
  };
  if (pattern.index == WeekIndex::kLast) {
    sys_days d = LastDayOf(month);
    while (!matches(d)) d -= days{1};
    return d;
  }
  // Every weekday comes at least four times a month, so the fourth match always exists.
  int wanted = static_cast<int>(pattern.index);
  sys_days d = sys_days{month / std::chrono::day{1}};
  for (;; d += days{1}) {
    if (matches(d) && wanted-- == 0) return d;
  }
}

// The pattern's dates on or after `start`, in order. Every period yields at least one date
// (each weekday set is non-empty, dayOfMonth is clamped), so Next() never stalls.
class DateSequence {
 public:
  DateSequence(const RecurrencePattern& pattern, sys_days start) : pattern_(pattern) {
    switch (pattern_.type) {
      case PatternType::kDaily:
        next_day_ = start;
        break;
      case PatternType::kWeekly: {
        sys_days first = start;
        while (!OnPatternDay(first)) first += days{1};
        week_start_ = first - (weekday{first} - pattern_.first_day_of_week);
        week_offset_ = (first - week_start_).count();
        break;
      }
      case PatternType::kAbsoluteMonthly:
      case PatternType::kRelativeMonthly: {
        year_month_day ymd{start};
        month_ = ymd.year() / ymd.month();
        while (DayInMonth(pattern_, month_) < start) month_ += std::chrono::months{1};
        break;
      }
      case PatternType::kAbsoluteYearly:
      case PatternType::kRelativeYearly: {
        auto month = std::chrono::month{static_cast<unsigned>(pattern_.month)};
        month_ = year_month_day{start}.year() / month;
        while (DayInMonth(pattern_, month_) < start) month_ += std::chrono::years{1};
        break;
      }
    }
  }

  sys_days Next() {
    switch (pattern_.type) {
      case PatternType::kDaily: {
        sys_days d = next_day_;
        next_day_ += days{pattern_.interval};
        return d;
      }
      case PatternType::kWeekly:
        for (;;) {
          while (week_offset_ < 7) {
            sys_days d = week_start_ + days{week_offset_++};
            if (OnPatternDay(d)) return d;
          }
          week_start_ += days{7 * pattern_.interval};
          week_offset_ = 0;
        }
      case PatternType::kAbsoluteMonthly:
      case PatternType::kRelativeMonthly: {
        sys_days d = DayInMonth(pattern_, month_);
        month_ += std::chrono::months{pattern_.interval};
        return d;
      }
      case PatternType::kAbsoluteYearly:
      case PatternType::kRelativeYearly: {
        sys_days d = DayInMonth(pattern_, month_);
        month_ += std::chrono::years{pattern_.interval};
        return d;
      }
    }
    return next_day_;  // not reached
  }

 private:
  bool OnPatternDay(sys_days d) const {
    return std::find(pattern_.days_of_week.begin(), pattern_.days_of_week.end(), weekday{d}) !=
           pattern_.days_of_week.end();
  }

  const RecurrencePattern& pattern_;
  sys_days next_day_{};              // daily
  sys_days week_start_{};            // weekly: first day of the current week
  int week_offset_ = 0;              // weekly: next day of that week to look at
  std::chrono::year_month month_{};  // monthly and yearly: the next period's month
};

// Walks the series' dates through `last`, honouring the range's end; `visit` returns false
// to stop early.
template <typename Visit>
void ForEachDate(const Recurrence& recurrence, sys_days last, Visit visit) {
  const RecurrenceRange& range = recurrence.range;
  if (range.type == RangeType::kEndDate) last = std::min(last, sys_days{range.end_date});
  DateSequence sequence(recurrence.pattern, sys_days{range.start_date});
  for (int count = 0;; ++count) {
    if (range.type == RangeType::kNumbered && count >= range.number_of_occurrences) return;
    sys_days d = sequence.Next();
    if (d > last || !visit(d)) return;
  }
}

// ---------------------------------------------------------------- parsing

std::string Invalid(std::string_view path, std::string_view what) {
  return "Invalid recurrence: " + std::string(path) + " " + std::string(what);
}

// Present and not null.
const Json* Get(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> CheckKnownProperties(const Json& object, std::string_view type,
                                                std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (key.rfind("@odata.", 0) == 0) continue;
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return "The property '" + key + "' does not exist on type 'microsoft.graph." +
             std::string(type) +
             "'. Make sure to only use property names that are defined by "
             "the type.";
    }
  }
  return std::nullopt;
}

// Readers of one property: each stores the value in *out (left alone when the property is
// absent) and answers an error message, empty when all is well.

// An Int32 in [low, high].
std::string ReadInt(const Json& object, const char* key, std::string_view path, int low, int high,
                    int* out) {
  const Json* value = Get(object, key);
  if (value == nullptr) return "";
  if (!value->is_number_integer()) return Invalid(path, "must be an integer.");
  int64_t n = value->is_number_unsigned()
                  ? static_cast<int64_t>(std::min<uint64_t>(value->get<uint64_t>(), INT64_MAX))
                  : value->get<int64_t>();
  if (n < low || n > high) {
    return Invalid(path, "must be from " + std::to_string(low) + " to " + std::to_string(high) +
                             ", not " + std::to_string(n) + ".");
  }
  *out = static_cast<int>(n);
  return "";
}

std::string ReadString(const Json& object, const char* key, std::string_view path,
                       std::string* out) {
  const Json* value = Get(object, key);
  if (value == nullptr) return "";
  if (!value->is_string()) return Invalid(path, "must be a string.");
  *out = value->get<std::string>();
  return "";
}

std::string ReadDate(const Json& object, const char* key, std::string_view path,
                     year_month_day* out) {
  const Json* value = Get(object, key);
  if (value == nullptr) return "";
  std::optional<year_month_day> date;
  if (value->is_string()) date = ParseDate(value->get<std::string>());
  if (!date) return Invalid(path, "must be a date (YYYY-MM-DD).");
  *out = *date;
  return "";
}

std::variant<RecurrencePattern, std::string> ParsePattern(const Json& json) {
  if (!json.is_object()) return Invalid("pattern", "must be a recurrencePattern object.");
  if (auto error = CheckKnownProperties(
          json, "recurrencePattern",
          {"type", "interval", "month", "dayOfMonth", "daysOfWeek", "firstDayOfWeek", "index"})) {
    return *error;
  }
  RecurrencePattern pattern;
  std::string error;

  std::string type_name;
  if (error = ReadString(json, "type", "pattern.type", &type_name); !error.empty()) return error;
  if (type_name.empty()) {
    return Invalid("pattern.type",
                   "is required: daily, weekly, absoluteMonthly, relativeMonthly, "
                   "absoluteYearly or relativeYearly.");
  }
  std::optional<PatternType> type = Lookup(kPatternTypes, type_name);
  if (!type) return Invalid("pattern.type", "'" + type_name + "' is not a recurrencePatternType.");
  pattern.type = *type;
  type_name = NameOf(kPatternTypes, *type);
  const bool absolute =
      pattern.type == PatternType::kAbsoluteMonthly || pattern.type == PatternType::kAbsoluteYearly;
  const bool yearly =
      pattern.type == PatternType::kAbsoluteYearly || pattern.type == PatternType::kRelativeYearly;
  const bool needs_days = pattern.type == PatternType::kWeekly ||
                          pattern.type == PatternType::kRelativeMonthly ||
                          pattern.type == PatternType::kRelativeYearly;
  auto required_for_type = [&](std::string_view path) {
    return Invalid(path, "is required for a " + type_name + " pattern.");
  };

  if (Get(json, "interval") == nullptr) return Invalid("pattern.interval", "is required.");
  error = ReadInt(json, "interval", "pattern.interval", 1, std::numeric_limits<int>::max(),
                  &pattern.interval);
  if (!error.empty()) return error;

  // Values a type ignores are still checked; 0 is what Graph prints for "none". They are
  // stored as 0 all the same, as Graph prints them.
  int month = 0;
  error = ReadInt(json, "month", "pattern.month", yearly ? 1 : 0, 12, &month);
  if (!error.empty()) return error;
  if (yearly && Get(json, "month") == nullptr) return required_for_type("pattern.month");
  pattern.month = yearly ? month : 0;

  int day_of_month = 0;
  error = ReadInt(json, "dayOfMonth", "pattern.dayOfMonth", absolute ? 1 : 0, 31, &day_of_month);
  if (!error.empty()) return error;
  if (absolute && Get(json, "dayOfMonth") == nullptr) {
    return required_for_type("pattern.dayOfMonth");
  }
  pattern.day_of_month = absolute ? day_of_month : 0;

  if (const Json* days_json = Get(json, "daysOfWeek")) {
    if (!days_json->is_array()) return Invalid("pattern.daysOfWeek", "must be an array.");
    for (const Json& day : *days_json) {
      std::optional<weekday> parsed;
      if (day.is_string()) parsed = DayFromName(day.get<std::string>());
      if (!parsed) {
        return Invalid("pattern.daysOfWeek", "holds " + day.dump() + ", which is not a dayOfWeek.");
      }
      if (std::find(pattern.days_of_week.begin(), pattern.days_of_week.end(), *parsed) ==
          pattern.days_of_week.end()) {
        pattern.days_of_week.push_back(*parsed);
      }
    }
  }
  if (needs_days && pattern.days_of_week.empty()) return required_for_type("pattern.daysOfWeek");
  if (!needs_days) pattern.days_of_week.clear();

  std::string first_day;
  error = ReadString(json, "firstDayOfWeek", "pattern.firstDayOfWeek", &first_day);
  if (!error.empty()) return error;
  if (!first_day.empty()) {
    std::optional<weekday> parsed = DayFromName(first_day);
    if (!parsed)
      return Invalid("pattern.firstDayOfWeek", "'" + first_day + "' is not a dayOfWeek.");
    pattern.first_day_of_week = *parsed;
  }

  std::string index;
  if (error = ReadString(json, "index", "pattern.index", &index); !error.empty()) return error;
  if (!index.empty()) {
    std::optional<WeekIndex> parsed = Lookup(kIndexes, index);
    if (!parsed) return Invalid("pattern.index", "'" + index + "' is not a weekIndex.");
    pattern.index = *parsed;
  }
  return pattern;
}

std::variant<RecurrenceRange, std::string> ParseRange(const Json& json) {
  if (!json.is_object()) return Invalid("range", "must be a recurrenceRange object.");
  if (auto error = CheckKnownProperties(
          json, "recurrenceRange",
          {"type", "startDate", "endDate", "numberOfOccurrences", "recurrenceTimeZone"})) {
    return *error;
  }
  RecurrenceRange range;
  std::string error;

  std::string type_name;
  if (error = ReadString(json, "type", "range.type", &type_name); !error.empty()) return error;
  if (type_name.empty()) return Invalid("range.type", "is required: endDate, noEnd or numbered.");
  std::optional<RangeType> type = Lookup(kRangeTypes, type_name);
  if (!type) return Invalid("range.type", "'" + type_name + "' is not a recurrenceRangeType.");
  range.type = *type;

  if (Get(json, "startDate") == nullptr) return Invalid("range.startDate", "is required.");
  error = ReadDate(json, "startDate", "range.startDate", &range.start_date);
  if (!error.empty()) return error;

  year_month_day end = kNoDate;
  if (error = ReadDate(json, "endDate", "range.endDate", &end); !error.empty()) return error;
  if (range.type == RangeType::kEndDate) {
    if (Get(json, "endDate") == nullptr) {
      return Invalid("range.endDate", "is required for an endDate range.");
    }
    if (sys_days{end} < sys_days{range.start_date}) {
      return Invalid("range.endDate", "must not be before range.startDate.");
    }
    range.end_date = end;
  }

  const bool numbered = range.type == RangeType::kNumbered;
  int count = 0;
  error = ReadInt(json, "numberOfOccurrences", "range.numberOfOccurrences", numbered ? 1 : 0,
                  std::numeric_limits<int>::max(), &count);
  if (!error.empty()) return error;
  if (numbered && Get(json, "numberOfOccurrences") == nullptr) {
    return Invalid("range.numberOfOccurrences", "is required for a numbered range.");
  }
  range.number_of_occurrences = numbered ? count : 0;

  error = ReadString(json, "recurrenceTimeZone", "range.recurrenceTimeZone",
                     &range.recurrence_time_zone);
  if (!error.empty()) return error;
  if (!range.recurrence_time_zone.empty() && !TimeZone::Find(range.recurrence_time_zone)) {
    return Invalid("range.recurrenceTimeZone",
                   "'" + range.recurrence_time_zone + "' is not a known time zone.");
  }
  return range;
}

}  // namespace

// ---------------------------------------------------------------- TimeZone

std::optional<TimeZone> TimeZone::Find(std::string_view name) {
  std::optional<std::u16string> name16 = Ascii16(name);
  if (!name16 || name16->empty()) return std::nullopt;
  std::array<UChar, 128> buffer{};
  UErrorCode status = U_ZERO_ERROR;
  // A Windows name first: "UTC" is one as well as an IANA alias.
  int32_t length =
      ucal_getTimeZoneIDForWindowsID(name16->data(), static_cast<int32_t>(name16->size()), nullptr,
                                     buffer.data(), buffer.size(), &status);
  std::u16string candidate =
      U_SUCCESS(status) && length > 0 ? std::u16string(buffer.data(), length) : *name16;
  status = U_ZERO_ERROR;
  UBool is_system = false;
  length = ucal_getCanonicalTimeZoneID(candidate.data(), static_cast<int32_t>(candidate.size()),
                                       buffer.data(), buffer.size(), &is_system, &status);
  // Custom ids ("GMT+05:00") are not system zones; neither Windows nor Graph knows them.
  if (U_FAILURE(status) || !is_system || length <= 0) return std::nullopt;
  std::u16string canonical(buffer.data(), length);
  return TimeZone(Narrow(canonical), canonical);
}

TimePoint TimeZone::ToUtc(LocalTime local) const {
  auto local_ms = std::chrono::floor<Millis>(local.time_since_epoch());
  return TimePoint{local.time_since_epoch() - OffsetAtLocal(icu_id_, local_ms)};
}

LocalTime TimeZone::ToLocal(TimePoint utc) const {
  auto utc_ms = std::chrono::floor<Millis>(utc.time_since_epoch());
  return LocalTime{utc.time_since_epoch() + OffsetAtUtc(icu_id_, utc_ms)};
}

// ---------------------------------------------------------------- dates

std::string FormatDate(year_month_day date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::optional<year_month_day> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t from, std::size_t count) -> std::optional<int> {
    int n = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    return n;
  };
  auto y = number(0, 4);
  auto m = number(5, 2);
  auto d = number(8, 2);
  if (!y || !m || !d || *y < 1) return std::nullopt;
  year_month_day date{std::chrono::year{*y}, std::chrono::month{static_cast<unsigned>(*m)},
                      std::chrono::day{static_cast<unsigned>(*d)}};
  if (!date.ok()) return std::nullopt;
  return date;
}

// ---------------------------------------------------------------- JSON

std::variant<Recurrence, std::string> ParseRecurrence(const Json& json) {
  if (!json.is_object()) return Invalid("recurrence", "must be a patternedRecurrence object.");
  if (auto error = CheckKnownProperties(json, "patternedRecurrence", {"pattern", "range"})) {
    return *error;
  }
  const Json* pattern_json = Get(json, "pattern");
  if (pattern_json == nullptr) return Invalid("pattern", "is required.");
  const Json* range_json = Get(json, "range");
  if (range_json == nullptr) return Invalid("range", "is required.");
  auto pattern = ParsePattern(*pattern_json);
  if (pattern.index() == 1) return std::get<1>(pattern);
  auto range = ParseRange(*range_json);
  if (range.index() == 1) return std::get<1>(range);
  return Recurrence{std::move(std::get<0>(pattern)), std::move(std::get<0>(range))};
}

Json ToJson(const Recurrence& recurrence) {
  const RecurrencePattern& p = recurrence.pattern;
  Json pattern = Json::object();
  pattern["type"] = NameOf(kPatternTypes, p.type);
  pattern["interval"] = p.interval;
  pattern["month"] = p.month;
  pattern["dayOfMonth"] = p.day_of_month;
  if (!p.days_of_week.empty()) {
    Json days = Json::array();
    for (weekday day : p.days_of_week) days.push_back(DayName(day));
    pattern["daysOfWeek"] = std::move(days);
  }
  pattern["firstDayOfWeek"] = DayName(p.first_day_of_week);
  pattern["index"] = NameOf(kIndexes, p.index);

  const RecurrenceRange& r = recurrence.range;
  Json range = Json::object();
  range["type"] = NameOf(kRangeTypes, r.type);
  range["startDate"] = FormatDate(r.start_date);
  range["endDate"] = FormatDate(r.type == RangeType::kEndDate ? r.end_date : kNoDate);
  range["recurrenceTimeZone"] = r.recurrence_time_zone;
  range["numberOfOccurrences"] = r.type == RangeType::kNumbered ? r.number_of_occurrences : 0;

  Json out = Json::object();
  out["pattern"] = std::move(pattern);
  out["range"] = std::move(range);
  return out;
}

// ---------------------------------------------------------------- expansion

std::vector<year_month_day> OccurrenceDates(const Recurrence& recurrence, year_month_day last,
                                            std::size_t max_dates) {
  std::vector<year_month_day> dates;
  if (max_dates == 0) return dates;
  ForEachDate(recurrence, sys_days{last}, [&](sys_days d) {
    dates.emplace_back(d);
    return dates.size() < max_dates;
  });
  return dates;
}

std::variant<std::vector<Occurrence>, std::string> ExpandRecurrence(
    const Recurrence& recurrence, LocalTime master_start, std::string_view event_time_zone,
    TimePoint::duration duration, TimePoint window_start, TimePoint window_end,
    std::size_t max_occurrences) {
  std::optional<TimeZone> event_zone = TimeZone::Find(event_time_zone);
  if (!event_zone) {
    return "Invalid event time zone: '" + std::string(event_time_zone) +
           "' is not a known time zone.";
  }
  std::optional<TimeZone> zone = event_zone;
  if (!recurrence.range.recurrence_time_zone.empty()) {
    zone = TimeZone::Find(recurrence.range.recurrence_time_zone);
    if (!zone) {
      return Invalid("range.recurrenceTimeZone",
                     "'" + recurrence.range.recurrence_time_zone + "' is not a known time zone.");
    }
  }
  // Occurrences keep the master's wall-clock time of day in the recurrence time zone.
  LocalTime local_start = master_start;
  if (zone->id() != event_zone->id()) local_start = zone->ToLocal(event_zone->ToUtc(master_start));
  const TimePoint::duration time_of_day = local_start - std::chrono::floor<days>(local_start);
  duration = std::max(duration, TimePoint::duration::zero());

  std::vector<Occurrence> occurrences;
  if (window_end <= window_start || max_occurrences == 0) return occurrences;
  // A zone's offset stays within a day of UTC, so local dates more than two days outside the
  // window (widened by the duration) cannot hold an overlapping occurrence.
  const sys_days first_useful =
      std::chrono::floor<days>(window_start) - std::chrono::ceil<days>(duration) - days{2};
  const sys_days last_useful = std::chrono::floor<days>(window_end) + days{2};
  ForEachDate(recurrence, last_useful, [&](sys_days d) {
    if (d < first_useful) return true;  // still counted against numberOfOccurrences
    TimePoint start = zone->ToUtc(LocalTime{d.time_since_epoch()} + time_of_day);
    TimePoint end = start + duration;
    bool overlaps = duration == TimePoint::duration::zero()
                        ? start >= window_start && start < window_end
                        : start < window_end && end > window_start;
    if (overlaps) occurrences.push_back(Occurrence{start, start, end});
    return occurrences.size() < max_occurrences;
  });
  return occurrences;
}

}  // namespace graphsim
