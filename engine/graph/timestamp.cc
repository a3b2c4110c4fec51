#include "engine/graph/timestamp.h"

#include <cstdio>

namespace graphmirror::graph {

namespace {

// Reads exactly `n` ASCII digits at `pos`; false if any is not a digit.
bool ReadDigits(std::string_view text, size_t pos, size_t n, int* out) {
  if (pos + n > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

bool Expect(std::string_view text, size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

}  // namespace

std::optional<Timestamp> ParseTimestamp(std::string_view text) {
  using std::chrono::days;
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;

  // Fixed layout first: "YYYY-MM-DDTHH:MM:SS" is 19 characters.
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, 0, 4, &year) || !Expect(text, 4, '-') || !ReadDigits(text, 5, 2, &month) ||
      !Expect(text, 7, '-') || !ReadDigits(text, 8, 2, &day) ||
      !(Expect(text, 10, 'T') || Expect(text, 10, 't')) || !ReadDigits(text, 11, 2, &hour) ||
      !Expect(text, 13, ':') || !ReadDigits(text, 14, 2, &minute) || !Expect(text, 16, ':') ||
      !ReadDigits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  // Leap seconds (60) are not accepted: Graph never sends them and the tick count
  // could not represent them anyway.
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;  // month 13, February 30, ...

  size_t pos = 19;
  // Fraction: 1 to 7 digits after a dot (Graph's precision is 100 ns).
  Ticks fraction{0};
  if (Expect(text, pos, '.')) {
    ++pos;
    size_t digits = 0;
    int64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 7) return std::nullopt;
      value = value * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 7; ++i) value *= 10;
    fraction = Ticks{value};
  }

  // Zone: "Z", "+HH:MM", "-HH:MM", or nothing (UTC, as Graph's dateTimeTimeZone with
  // timeZone "UTC" is written).
  Ticks offset{0};
  if (pos < text.size()) {
    char c = text[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      int off_hour, off_minute;
      if (!ReadDigits(text, pos + 1, 2, &off_hour) || !Expect(text, pos + 3, ':') ||
          !ReadDigits(text, pos + 4, 2, &off_minute) || off_hour > 23 || off_minute > 59) {
        return std::nullopt;
      }
      offset = hours{off_hour} + minutes{off_minute};
      if (c == '-') offset = -offset;
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;  // trailing junk

  const std::chrono::sys_days date{ymd};
  // Local time minus its offset is UTC: 03:12+05:30 is 21:42Z the day before.
  return Timestamp{date.time_since_epoch() + hours{hour} + minutes{minute} + seconds{second} +
                   fraction - offset};
}

std::string FormatTimestamp(Timestamp t) {
  // floor (not duration_cast) so that instants before 1970 land on the right day.
  const auto date = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{date};
  const std::chrono::hh_mm_ss<Ticks> tod{t - date};
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%07lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buf;
}

std::optional<std::string> NormalizeTimestamp(std::string_view text) {
  auto t = ParseTimestamp(text);
  if (!t) return std::nullopt;
  return FormatTimestamp(*t);
}

}  // namespace graphmirror::graph
