// graphsim's own timestamp parsing and printing (time_format.h).

#include <catch2/catch.hpp>

#include "tools/graphsim/time_format.h"

namespace graphsim {
namespace {

TEST_CASE("DateTimeOffset literals", "[graphsim][time]") {
  auto t = ParseDateTimeOffset("2026-01-01T10:00:00Z");
  REQUIRE(t);
  CHECK(FormatSecondsZ(*t) == "2026-01-01T10:00:00Z");
  CHECK(*ParseDateTimeOffset("2022-01-02T03:12:18.2257768+05:30") ==
        *ParseDateTimeOffset("2022-01-01T21:42:18.2257768Z"));
  CHECK(FormatTicksZ(*ParseDateTimeOffset("2022-01-01T21:42:18.2257768Z")) ==
        "2022-01-01T21:42:18.2257768Z");
  CHECK(*ParseDateTimeOffset("2026-01-01T10:00:00.5-01:00") ==
        *ParseDateTimeOffset("2026-01-01T11:00:00.5000000Z"));
  CHECK(*ParseDateTimeOffset("2026-01-01T10:00Z") == *t);
  for (const char* bad : {"2026-01-01T10:00:00", "2026-01-01t10:00:00Z", "2026-01-01T10:00:00z",
                          "2026-02-30T10:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01",
                          "2026-01-01T10:00:00.12345678Z", "2026-01-01T10:00:00.Z",
                          "2026-01-01T10:00:00+0530", "", "x"}) {
    INFO(bad);
    CHECK_FALSE(ParseDateTimeOffset(bad));
  }
  CHECK(ParseLocalDateTime("2026-01-01T10:00:00.0000000"));
  CHECK(FormatTicksLocal(*t) == "2026-01-01T10:00:00.0000000");
  CHECK(FormatHttpDate(*t) == "Thu, 01 Jan 2026 10:00:00 GMT");
  CHECK(FromTicks(ToTicks(*t)) == *t);
}

}  // namespace
}  // namespace graphsim
