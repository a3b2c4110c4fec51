// Clock: the single source of time for the engine and the simulator, so that tests can
// cross days of token and subscription expiry in milliseconds.
//
// Thread-safety: every Clock implementation here is safe to use from many threads.

#ifndef GRAPHMIRROR_CLOCK_H_
#define GRAPHMIRROR_CLOCK_H_

#include <chrono>
#include <mutex>

namespace graphmirror {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Returns once Now() >= deadline (or at once if it already is).
  virtual void SleepUntil(TimePoint deadline) = 0;
  void SleepFor(std::chrono::nanoseconds d) {
    SleepUntil(Now() + std::chrono::duration_cast<TimePoint::duration>(d));
  }
};

// Wall-clock time.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  void SleepUntil(TimePoint deadline) override;
  // A process-wide instance.
  static SystemClock* Default();
};

// Time that moves only when told to. SleepUntil jumps the clock forward to the deadline
// (never backward), so a sleeping caller returns at once and every other reader of the
// clock sees the time it slept to: a 30 s Retry-After costs the test no real time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start);
  TimePoint Now() const override;
  void SleepUntil(TimePoint deadline) override;
  void Advance(std::chrono::nanoseconds d);
  void Set(TimePoint t);  // ignored if t is before Now()

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_CLOCK_H_
