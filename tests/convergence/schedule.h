// One convergence schedule: a small simulated tenant and a LiveSync engine on one
// ManualClock, a seeded random sequence of mailbox changes, faults and engine steps, then
// quiescence and a row-by-row comparison of the mirror with the simulator.

#ifndef GRAPHMIRROR_TESTS_CONVERGENCE_SCHEDULE_H_
#define GRAPHMIRROR_TESTS_CONVERGENCE_SCHEDULE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace graphmirror::convergence {

// Fault kinds, as named by --faults. The first group are graphsim options chosen per
// schedule (counted once per schedule that has them); the rest are injected at steps.
inline const std::vector<std::string>& FaultKinds() {
  static const std::vector<std::string> kKinds = {
      // graphsim options
      "duplicate",            // duplicate_every: batches delivered twice
      "reorder",              // reorder_deliveries: items and batches shuffled
      "delay",                // delivery_delay: notifications due later than the change
      "resource_style",       // resource paths spelled paren / mixed / tenant
      "delta_replay",         // delta_replay_every: delta pages repeated
      "delta_expired_style",  // expired delta tokens answered 400 instead of 410
      "rich",                 // some mailboxes rich: changes applied from encrypted content
      "listing_lag",          // lists and delta rounds show a change seconds after it happens
      // injected at a step
      "drop",                 // receiver down past the retry window: batches dropped, missed
      "throttle_429",         // sim.ForceThrottle(user, n)
      "status_503",           // sim.InjectStatus(503, n, retry_after)
      "conn_reset",           // sim.InjectConnectionResets(n)
      "lifecycle_missed",     // EmitLifecycle(id, "missed")
      "lifecycle_reauth",     // EmitLifecycle(id, "reauthorizationRequired")
      "lifecycle_removed",    // EmitLifecycle(id, "subscriptionRemoved"), subscription kept
      "lifecycle_unknown",    // EmitLifecycle(id, <an unknown event>)
      "remove_subscription",  // sim.RemoveSubscription(id): subscriptionRemoved + deleted
      "password_reset",       // sim.ResetPassword(user): all its subscriptions removed
      "token_expiry",         // sim.ExpireAllTokens()
      "restart",              // process restart: LiveSync, Store, GraphClient reopened
      "downtime",             // process down for a few steps (changes keep happening)
      "clock_minutes",        // the clock jumps minutes
      "clock_hours",          // the clock jumps hours
      "clock_days",           // days while the process is down: subscriptions expire
      "delta_expiry",         // sim.ExpireDeltaTokens()
      "rich_content",         // sim.InjectRichFault(content fault, n): refused, read back
  };
  return kKinds;
}

struct Settings {
  int steps = 40;
  std::set<std::string> faults;  // enabled fault kinds
  bool verbose = false;          // keep the step log
  std::string keep_dir;          // non-empty: a failing schedule's mirror is copied here
  // graphsim's listing lag in seconds (lists and delta rounds show a change this long
  // after it happens, its notification and a GET by id at once), for every schedule.
  // Negative: chosen per schedule (fault kind "listing_lag": half of the schedules, 5 s to
  // 2 min), from a generator of its own, so that a seed's changes and faults are the same
  // whatever its lag.
  int listing_lag = -1;
  // A scoped first mailbox (two folders, or unread messages) in a quarter of the schedules
  // each; --no-scoped leaves every mailbox whole.
  bool scoped = true;
};

// What happened in a schedule, by kind: "create messages", "drop", "pump", ...
struct Tally {
  std::map<std::string, int64_t> ops;
  // Faults that happened: where it is cheap to observe, one whose effect was seen (a 429
  // or 503 answered, a connection reset met by the engine, a lifecycle event delivered,
  // rich content refused, a batch delivered twice, rich items delivered), not one merely
  // scheduled. The others happen as they are made (a restart, a clock jump, a graphsim
  // option chosen).
  std::map<std::string, int64_t> faults;
  std::map<std::string, int64_t> injected;  // faults scheduled, whether or not they happened
  std::map<std::string, int64_t> engine;
  void Add(const Tally& other);
};

struct ScheduleResult {
  uint64_t seed = 0;
  bool ok = false;
  // "converged", or what went wrong first: "diverged" (the mirror differs after quiescence
  // and after the engine's periodic safety-net delta pass), "stale until safety-net pass"
  // (differs after quiescence, repaired by that pass), "liveness" (a change made after
  // quiescence never arrived), "no quiescence", "engine error", "harness error".
  std::string verdict;
  std::string failure;  // lines describing the divergence (empty when ok)
  Tally tally;
  std::string log;  // the step log (only with Settings::verbose)
};

ScheduleResult RunSchedule(uint64_t seed, const Settings& settings);

}  // namespace graphmirror::convergence

#endif  // GRAPHMIRROR_TESTS_CONVERGENCE_SCHEDULE_H_
