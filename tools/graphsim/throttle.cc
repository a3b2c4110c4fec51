#include "tools/graphsim/throttle.h"

#include <algorithm>

namespace graphsim {

MailboxGovernor::MailboxGovernor(const Limits& limits) : limits_(limits) {}

MailboxGovernor::Decision MailboxGovernor::Admit(const std::string& mailbox, TimePoint now,
                                                 bool throttle) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = mailboxes_[mailbox];
  ++s.stats.requests;
  // Peak concurrency counts every arrival, the ones about to be refused too: a client
  // that keeps at most N requests in flight never shows more than N here.
  int arriving = s.stats.in_flight + 1;
  if (arriving > s.stats.max_concurrent_observed) s.stats.max_concurrent_observed = arriving;
  max_concurrent_all_ = std::max(max_concurrent_all_, in_flight_all_ + 1);

  auto refuse = [&](Verdict verdict) {
    ++s.stats.throttled;
    TimePoint fence = now + std::chrono::duration_cast<TimePoint::duration>(limits_.retry_after);
    if (fence > s.fence) {
      s.fence = fence;
      s.fence_cause = verdict;
      s.fence_raised = std::chrono::steady_clock::now();
    }
    return Decision{verdict, verdict};
  };
  if (now < s.fence) {
    ++s.stats.throttled;
    if (std::chrono::steady_clock::now() - s.fence_raised >= limits_.early_retry_grace) {
      ++s.stats.early_retries;
    }
    return Decision{Verdict::kEarlyRetry, s.fence_cause};
  }
  if (throttle) return refuse(Verdict::kForced);
  if (s.forced > 0) {
    --s.forced;
    return refuse(Verdict::kForced);
  }
  if (arriving > limits_.max_concurrent) return refuse(Verdict::kConcurrency);
  auto window = std::chrono::duration_cast<TimePoint::duration>(limits_.window);
  while (!s.admitted.empty() && s.admitted.front() <= now - window) s.admitted.pop_front();
  if (static_cast<int>(s.admitted.size()) >= limits_.requests_per_window) {
    return refuse(Verdict::kBudget);
  }
  s.admitted.push_back(now);
  s.stats.in_flight = arriving;
  ++in_flight_all_;
  return Decision{Verdict::kAdmit, Verdict::kAdmit};
}

void MailboxGovernor::Release(const std::string& mailbox) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mailboxes_.find(mailbox);
  if (it != mailboxes_.end() && it->second.stats.in_flight > 0) {
    --it->second.stats.in_flight;
    --in_flight_all_;
  }
}

int MailboxGovernor::MaxConcurrentObservedAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_concurrent_all_;
}

void MailboxGovernor::Force(const std::string& mailbox, int next_n_requests) {
  std::lock_guard<std::mutex> lock(mu_);
  mailboxes_[mailbox].forced = next_n_requests;
}

void MailboxGovernor::CountItemGet(const std::string& mailbox) {
  std::lock_guard<std::mutex> lock(mu_);
  ++mailboxes_[mailbox].stats.item_gets;
}

MailboxStats MailboxGovernor::Stats(const std::string& mailbox) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mailboxes_.find(mailbox);
  return it == mailboxes_.end() ? MailboxStats{} : it->second.stats;
}

}  // namespace graphsim
