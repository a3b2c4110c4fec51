#include "engine/base/backoff.h"

#include <algorithm>

namespace graphmirror {

std::chrono::milliseconds Backoff::Delay(int attempt) const {
  auto delay = initial;
  // Doubling stops at the cap, so no attempt count overflows.
  for (int i = 1; i < attempt && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

std::chrono::milliseconds Backoff::Jittered(int attempt, double unit) const {
  const auto delay = Delay(attempt);
  const auto half = delay / 2;
  const double clamped = std::clamp(unit, 0.0, 1.0);
  return delay - half +
         std::chrono::milliseconds(
             static_cast<int64_t>(static_cast<double>(half.count()) * clamped));
}

}  // namespace graphmirror
