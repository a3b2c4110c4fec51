// Backoff: the engine's one retry schedule. Every retry without a server-given time (Graph
// requests, notification groups, owed delta passes, SharePoint lists) waits
// initial * 2^(attempt-1), capped at `max`; Graph requests add equal jitter.
//
// Thread-safety: a value type; its members are const and pure.

#ifndef GRAPHMIRROR_ENGINE_BASE_BACKOFF_H_
#define GRAPHMIRROR_ENGINE_BASE_BACKOFF_H_

#include <chrono>

namespace graphmirror {

struct Backoff {
  std::chrono::milliseconds initial;
  std::chrono::milliseconds max;

  // The wait before retry number `attempt` (1 for the first retry; less counts as 1).
  std::chrono::milliseconds Delay(int attempt) const;

  // "Equal jitter": the lower half of Delay(attempt) fixed, the upper half scaled by
  // `unit` in [0, 1], so that clients throttled together do not come back together.
  std::chrono::milliseconds Jittered(int attempt, double unit) const;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_BACKOFF_H_
