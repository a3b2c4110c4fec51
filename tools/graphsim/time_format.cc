#include "tools/graphsim/time_format.h"

#include <cstdio>

namespace graphsim {
namespace {

using std::chrono::days;
using std::chrono::duration_cast;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// Reads exactly `n` digits at `pos`; -1 if they are not all digits.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

struct Parsed {
  TimePoint time;
  size_t end;  // index after the parsed part
};

// Parses "YYYY-MM-DDThh:mm[:ss[.f{1,7}]]" at the start of `s`.
std::optional<Parsed> ParseDateTimePart(std::string_view s) {
  int y = Digits(s, 0, 4);
  if (y < 0 || s.size() < 16 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':') {
    return std::nullopt;
  }
  int mo = Digits(s, 5, 2), d = Digits(s, 8, 2), h = Digits(s, 11, 2), mi = Digits(s, 14, 2);
  if (mo < 0 || d < 0 || h < 0 || mi < 0 || h > 23 || mi > 59) return std::nullopt;
  year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                     std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  size_t pos = 16;
  int sec = 0;
  int64_t fraction_ticks = 0;
  if (pos < s.size() && s[pos] == ':') {
    sec = Digits(s, pos + 1, 2);
    if (sec < 0 || sec > 59) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t n = 0;
      while (pos + n < s.size() && s[pos + n] >= '0' && s[pos + n] <= '9') ++n;
      if (n == 0 || n > 7) return std::nullopt;
      fraction_ticks = Digits(s, pos, n);
      for (size_t i = n; i < 7; ++i) fraction_ticks *= 10;
      pos += n;
    }
  }
  // TimePoint counts nanoseconds (years 1678 to 2261); Graph takes years up to 9999, as
  // in "lt 9999-12-31T00:00:00Z" for "everything". Such dates saturate, a day inside.
  constexpr auto kLastDay = floor<days>(TimePoint::max()) - days{1};
  constexpr auto kFirstDay = ceil<days>(TimePoint::min()) + days{1};
  const sys_days day{ymd};
  if (day > kLastDay) return Parsed{kLastDay, pos};
  if (day < kFirstDay) return Parsed{kFirstDay, pos};
  TimePoint t = day + hours{h} + minutes{mi} + seconds{sec};
  t += duration_cast<TimePoint::duration>(Ticks{fraction_ticks});
  return Parsed{t, pos};
}

struct Fields {
  int year, month, day, hour, minute, second;
  int64_t ticks;  // 100 ns within the second
  unsigned weekday;
};

Fields Split(TimePoint t) {
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  auto in_day = t - day_point;
  auto ticks = duration_cast<Ticks>(in_day).count();
  int64_t secs = ticks / 10'000'000;
  return Fields{static_cast<int>(ymd.year()),
                static_cast<int>(static_cast<unsigned>(ymd.month())),
                static_cast<int>(static_cast<unsigned>(ymd.day())),
                static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60),
                ticks % 10'000'000,
                std::chrono::weekday{day_point}.c_encoding()};
}

}  // namespace

std::optional<TimePoint> ParseDateTimeOffset(std::string_view text) {
  auto parsed = ParseDateTimePart(text);
  if (!parsed) return std::nullopt;
  std::string_view zone = text.substr(parsed->end);
  if (zone == "Z") return parsed->time;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
    return std::nullopt;
  }
  int oh = Digits(zone, 1, 2), om = Digits(zone, 4, 2);
  if (oh < 0 || om < 0 || oh > 14 || om > 59) return std::nullopt;
  auto offset = hours{oh} + minutes{om};
  // Local time = UTC + offset, so UTC = local - offset.
  return zone[0] == '+' ? parsed->time - offset : parsed->time + offset;
}

std::optional<TimePoint> ParseLocalDateTime(std::string_view text) {
  auto parsed = ParseDateTimePart(text);
  if (!parsed || parsed->end != text.size()) return std::nullopt;
  return parsed->time;
}

TimePoint TruncateToSeconds(TimePoint t) { return floor<seconds>(t); }

TimePoint TruncateToTicks(TimePoint t) {
  return TimePoint{duration_cast<TimePoint::duration>(floor<Ticks>(t.time_since_epoch()))};
}

std::string FormatSecondsZ(TimePoint t) {
  Fields f = Split(t);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", f.year, f.month, f.day, f.hour,
                f.minute, f.second);
  return buf;
}

std::string FormatTicksLocal(TimePoint t) {
  Fields f = Split(t);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%07lld", f.year, f.month, f.day,
                f.hour, f.minute, f.second, static_cast<long long>(f.ticks));
  return buf;
}

std::string FormatTicksZ(TimePoint t) { return FormatTicksLocal(t) + "Z"; }

std::string FormatSecondsLocal(TimePoint t) {
  std::string s = FormatSecondsZ(t);
  s.pop_back();
  return s;
}

std::string FormatHttpDate(TimePoint t) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Fields f = Split(t);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[f.weekday], f.day,
                kMonths[f.month - 1], f.year, f.hour, f.minute, f.second);
  return buf;
}

int64_t ToTicks(TimePoint t) { return floor<Ticks>(t.time_since_epoch()).count(); }

TimePoint FromTicks(int64_t ticks) {
  return TimePoint{duration_cast<TimePoint::duration>(Ticks{ticks})};
}

}  // namespace graphsim
