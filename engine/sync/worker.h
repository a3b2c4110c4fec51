// SyncWorker: turns the notification log into mirror changes.
//
// Notifications are hints. All pending rows of one (mailbox, collection) are coalesced
// into at most one createdDateTime round (for `created`) and one lastModifiedDateTime
// round (for `updated`), whatever their number: a burst of 1,000 notifications costs a
// handful of Graph requests. Such a round re-reads only `sync.hint_overlap`; rows
// received before a round of their kind that already succeeded began (a backlog at start)
// need no round at all. An item the mirror then does not hold at the version a row
// notified (its `@odata.etag`) is read by id: Graph may notify a change before its list
// and delta queries show it, or the change was stamped before the overlap. If even the
// read by id shows another version, the group is retried with backoff, at most a few
// times. `deleted`
// rows delete their item, after the rounds and in the transaction that marks the group's
// rows applied. A group whose rounds fail is marked failed with the reason and retried
// with exponential backoff; rows for a mailbox or collection no longer configured are
// ignored with a reason, and those of a stopped collection (see CollectionSync) wait until
// it is tried again. Every `sync.delta_interval` a delta pass runs over every collection,
// as a safety net, a collection whose catch-up failed gets its full pass again, with
// backoff, and one whose catch-up succeeded gets it once more `sync.catch_up_recheck`
// later (CollectionSync::Recheck). Everything is idempotent, so a crash anywhere only means the
// same work is done again after the restart.
//
// Rich notifications (SetRichContent): a `created` or `updated` row whose content
// decrypts is upserted from it, in the transaction that marks the group's rows applied,
// and costs no Graph request; it does not move a watermark. A row whose content is
// refused is a plain hint, and so is one whose content lacks createdDateTime for an item
// the mirror does not hold yet (for one it holds, the stored creation time stands). Rows of a body
// whose validation tokens fail are ignored as suspicious; rows whose tokens cannot be judged yet
// are retried with backoff.
//
// Thread-safety: RunOnce must not run concurrently with itself; Wake may be called from
// any thread (the receiver calls it after each commit).

#ifndef GRAPHMIRROR_ENGINE_SYNC_WORKER_H_
#define GRAPHMIRROR_ENGINE_SYNC_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "engine/config/config.h"
#include "engine/sync/collection_sync.h"
#include "engine/sync/rich_content.h"

namespace graphmirror::sync {

struct WorkerStats {
  std::atomic<uint64_t> rounds{0};  // Graph resync rounds run
  std::atomic<uint64_t> applied_rows{0};
  std::atomic<uint64_t> ignored_rows{0};
  std::atomic<uint64_t> failed_rows{0};
  std::atomic<uint64_t> rich_items{0};       // items upserted from decrypted content
  std::atomic<uint64_t> suspicious_rows{0};  // ignored: their body's tokens failed
  std::atomic<uint64_t> fetched_items{0};    // notified items no round showed, read by id
};

// Called for lifecycle rows; returns how the row ended. Wired to the subscription keeper.
using LifecycleHandler = std::function<Status(const store::PendingNotification& row)>;

class SyncWorker {
 public:
  // `sync` is borrowed and must outlive the worker.
  SyncWorker(const config::Config& config, CollectionSync* sync, store::Store* store, Clock* clock);

  void SetLifecycleHandler(LifecycleHandler handler) { lifecycle_ = std::move(handler); }
  // Enables rich notifications (borrowed; must outlive the worker). Without it, rich
  // rows are plain hints.
  void SetRichContent(RichContent* rich) { rich_ = rich; }

  // Applies everything pending now; returns the number of log rows it ended (applied,
  // ignored or failed).
  Result<int64_t> RunOnce();

  // Runs until Stop(): RunOnce whenever woken, and at least every `idle_poll` (real time)
  // so that failed rows are retried when due.
  void Run(std::chrono::milliseconds idle_poll = std::chrono::milliseconds(1000));
  void Wake();
  void Stop();

  const WorkerStats& stats() const { return stats_; }

 private:
  std::chrono::seconds RetryDelay(int attempts) const;
  // How many of the versions `read` by id (id, changeKey) for the group of log rows
  // `seqs` are behind what it notified rather than newer.
  Result<int64_t> BehindNotified(const std::string& user, Collection collection,
                                 const std::vector<int64_t>& seqs,
                                 const std::vector<std::pair<std::string, std::string>>& read);
  void PruneLogIfDue();
  // Deletes old changes of the change feed ([changes] keep_days), a few small batches
  // per pass: a large backlog is worked off over the following passes.
  void PruneChangesIfDue();
  void DeltaPassIfDue();
  void PayDebts();  // the full passes CollectionSync says are owed

  Clock* clock_;
  store::Store* store_;
  CollectionSync* sync_;
  std::set<std::pair<std::string, Collection>> configured_;
  LifecycleHandler lifecycle_;
  RichContent* rich_ = nullptr;
  WorkerStats stats_;
  std::chrono::hours log_retention_;
  TimePoint next_prune_{};
  ChangeSettings changes_;
  TimePoint next_changes_prune_{};
  std::chrono::minutes delta_interval_;
  TimePoint next_delta_{};  // the next safety-net delta pass over every collection

  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_WORKER_H_
