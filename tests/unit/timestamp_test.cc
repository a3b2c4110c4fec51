#include "engine/graph/timestamp.h"

#include <catch2/catch.hpp>

namespace graphmirror::graph {
namespace {

std::string Norm(std::string_view text) { return NormalizeTimestamp(text).value_or("<none>"); }

TEST_CASE("timestamp: Z with 0 to 7 fractional digits", "[timestamp]") {
  CHECK(Norm("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.0000000Z");
  CHECK(Norm("2026-01-01T00:00:00.1Z") == "2026-01-01T00:00:00.1000000Z");
  CHECK(Norm("2026-01-01T00:00:00.12Z") == "2026-01-01T00:00:00.1200000Z");
  CHECK(Norm("2026-01-01T00:00:00.123Z") == "2026-01-01T00:00:00.1230000Z");
  CHECK(Norm("2026-01-01T00:00:00.123456Z") == "2026-01-01T00:00:00.1234560Z");
  CHECK(Norm("2026-01-01T00:00:00.1234567Z") == "2026-01-01T00:00:00.1234567Z");
  CHECK(Norm("2026-01-01T00:00:00.0000001Z") == "2026-01-01T00:00:00.0000001Z");
}

TEST_CASE("timestamp: offsets are converted to UTC", "[timestamp]") {
  CHECK(Norm("2022-01-02T03:12:18.2257768+05:30") == "2022-01-01T21:42:18.2257768Z");
  CHECK(Norm("2022-01-01T21:42:18.2257768-00:00") == "2022-01-01T21:42:18.2257768Z");
  CHECK(Norm("2021-12-31T23:30:00-01:00") == "2022-01-01T00:30:00.0000000Z");
  CHECK(Norm("2026-03-01T00:00:00+00:00") == "2026-03-01T00:00:00.0000000Z");
  // Across a leap day.
  CHECK(Norm("2024-03-01T01:00:00+02:00") == "2024-02-29T23:00:00.0000000Z");
}

TEST_CASE("timestamp: offset-less text is UTC", "[timestamp]") {
  CHECK(Norm("2026-01-01T10:00:00.0000000") == "2026-01-01T10:00:00.0000000Z");
  CHECK(Norm("2026-01-01T10:00:00") == "2026-01-01T10:00:00.0000000Z");
}

TEST_CASE("timestamp: parse gives 100 ns ticks since the epoch", "[timestamp]") {
  auto t = ParseTimestamp("1970-01-01T00:00:01.0000001Z");
  REQUIRE(t);
  CHECK(t->time_since_epoch().count() == 10'000'001);
  auto before = ParseTimestamp("1969-12-31T23:59:59.9999999Z");
  REQUIRE(before);
  CHECK(before->time_since_epoch().count() == -1);
  CHECK(FormatTimestamp(*before) == "1969-12-31T23:59:59.9999999Z");
  // Graph's DateTimeOffset.MinValue shows up in real payloads.
  CHECK(Norm("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00.0000000Z");
  CHECK(Norm("9999-12-31T23:59:59.9999999Z") == "9999-12-31T23:59:59.9999999Z");
}

TEST_CASE("timestamp: format and parse round-trip, text order is time order", "[timestamp]") {
  const char* samples[] = {"2000-02-29T12:34:56.7890123Z", "2026-12-31T23:59:59.9999999Z",
                           "2027-01-01T00:00:00.0000000Z"};
  std::string previous;
  for (const char* s : samples) {
    auto t = ParseTimestamp(s);
    REQUIRE(t);
    CHECK(FormatTimestamp(*t) == s);
    CHECK(previous < std::string(s));
    previous = s;
  }
}

TEST_CASE("timestamp: garbage is rejected", "[timestamp]") {
  const char* bad[] = {
      "",
      "2026",
      "2026-01-01",                     // no time
      "2026-01-01 00:00:00Z",           // missing T
      "2026-13-01T00:00:00Z",           // month 13
      "2026-00-01T00:00:00Z",           // month 0
      "2026-02-29T00:00:00Z",           // not a leap year
      "2026-04-31T00:00:00Z",           // April has 30 days
      "2026-01-00T00:00:00Z",           // day 0
      "2026-01-01T24:00:00Z",           // hour 24
      "2026-01-01T00:60:00Z",           // minute 60
      "2026-01-01T00:00:60Z",           // second 60
      "2026-01-01T00:00:00.Z",          // dot without digits
      "2026-01-01T00:00:00.12345678Z",  // 8 digits
      "2026-01-01T00:00:00Zjunk",       // trailing junk
      "2026-01-01T00:00:00Z ",          // trailing space
      " 2026-01-01T00:00:00Z",          // leading space
      "2026-01-01T00:00:00+0530",       // offset without colon
      "2026-01-01T00:00:00+05",         // short offset
      "2026-01-01T00:00:00+24:00",      // offset hour 24
      "2026-01-01T00:00:00+05:60",      // offset minute 60
      "2026-1-01T00:00:00Z",            // one-digit month
      "2026-01-01T0:00:00Z",            // one-digit hour
      "2026-01-01T00:00:00X",           // unknown zone letter
      "+026-01-01T00:00:00Z",           // sign in year
      "2026-01-01T00:00:00.1234567+05:30:00",
  };
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(ParseTimestamp(s));
    CHECK_FALSE(NormalizeTimestamp(s));
  }
}

}  // namespace
}  // namespace graphmirror::graph
