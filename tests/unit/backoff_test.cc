#include "engine/base/backoff.h"

#include <catch2/catch.hpp>

namespace graphmirror {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("backoff doubles from initial and stops at the cap", "[base]") {
  const Backoff backoff{seconds(2), minutes(15)};
  CHECK(backoff.Delay(0) == seconds(2));
  CHECK(backoff.Delay(1) == seconds(2));
  CHECK(backoff.Delay(2) == seconds(4));
  CHECK(backoff.Delay(3) == seconds(8));
  CHECK(backoff.Delay(9) == seconds(512));
  CHECK(backoff.Delay(10) == minutes(15));
  // Attempt counts far past the cap neither overflow nor wrap.
  CHECK(backoff.Delay(1'000'000) == minutes(15));
}

TEST_CASE("backoff jitter keeps the lower half and scales the upper half", "[base]") {
  const Backoff backoff{milliseconds(500), seconds(60)};
  CHECK(backoff.Jittered(3, 0.0) == milliseconds(1000));
  CHECK(backoff.Jittered(3, 1.0) == milliseconds(2000));
  CHECK(backoff.Jittered(3, 0.5) == milliseconds(1500));
  // Out-of-range units are clamped rather than producing waits outside the band.
  CHECK(backoff.Jittered(3, -1.0) == milliseconds(1000));
  CHECK(backoff.Jittered(3, 7.0) == milliseconds(2000));
  CHECK(backoff.Jittered(100, 1.0) == seconds(60));
}

}  // namespace
}  // namespace graphmirror
