#include "graphmirror/clock.h"

#include <thread>

namespace graphmirror {

TimePoint SystemClock::Now() const { return std::chrono::system_clock::now(); }

void SystemClock::SleepUntil(TimePoint deadline) { std::this_thread::sleep_until(deadline); }

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

TimePoint ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::SleepUntil(TimePoint deadline) { Set(deadline); }

void ManualClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += std::chrono::duration_cast<TimePoint::duration>(d);
}

void ManualClock::Set(TimePoint t) {
  std::lock_guard<std::mutex> lock(mu_);
  if (t > now_) now_ = t;
}

}  // namespace graphmirror
