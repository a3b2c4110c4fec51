// Outlook's per-mailbox limits (GRAPH.md section 7): concurrent requests, a request budget
// per window, and the Retry-After fence a 429 puts up. Also what tests observe of them.
//
// Thread-safety: MailboxGovernor is safe to use from many threads.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_THROTTLE_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_THROTTLE_H_

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

class MailboxGovernor {
 public:
  struct Limits {
    int max_concurrent;
    int requests_per_window;
    std::chrono::nanoseconds window;
    std::chrono::nanoseconds retry_after;
    // Real time after a fence goes up during which a request is refused but not counted
    // as an early retry: it was sent before the client could have seen the 429.
    std::chrono::nanoseconds early_retry_grace;
  };
  explicit MailboxGovernor(const Limits& limits);

  enum class Verdict {
    kAdmit,        // serve it; call Release() when done
    kEarlyRetry,   // arrived before the mailbox's Retry-After elapsed
    kForced,       // ForceThrottle()
    kConcurrency,  // over max_concurrent in flight
    kBudget,       // over requests_per_window in the window
  };
  struct Decision {
    Verdict verdict;
    // Why the mailbox is refusing: the verdict, or for kEarlyRetry what put the fence up.
    Verdict cause;
  };
  // Every verdict but kAdmit is a 429; all but kEarlyRetry put up a fence of
  // `retry_after` from `now` (an early retry does not extend it, so a client's requests
  // that crossed the 429 in flight cost it nothing more than the 429s they get).
  // `throttle`: refuse it as kForced unless it is an early retry (a random 429).
  Decision Admit(const std::string& mailbox, TimePoint now, bool throttle = false);
  void Release(const std::string& mailbox);
  void Force(const std::string& mailbox, int next_n_requests);
  // A GET of one item of the mailbox was served (MailboxStats::item_gets).
  void CountItemGet(const std::string& mailbox);
  MailboxStats Stats(const std::string& mailbox) const;
  // Peak of requests in flight on all mailboxes together, counted as MailboxStats counts
  // them per mailbox.
  int MaxConcurrentObservedAll() const;

 private:
  struct State {
    MailboxStats stats;
    std::deque<TimePoint> admitted;  // admission times within the current window
    TimePoint fence{};               // no request before this
    Verdict fence_cause = Verdict::kAdmit;
    std::chrono::steady_clock::time_point fence_raised{};  // real time, for the grace
    int forced = 0;
  };

  const Limits limits_;
  mutable std::mutex mu_;
  std::map<std::string, State> mailboxes_;  // guarded by mu_
  int in_flight_all_ = 0;                   // guarded by mu_
  int max_concurrent_all_ = 0;              // guarded by mu_
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_THROTTLE_H_
