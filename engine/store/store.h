// Store: the SQLite database behind the mirror.
//
// One writer thread owns the write connection. Every write is a job handed to it; the
// writer runs all jobs waiting at that moment in one transaction (group commit, as
// leveldb's DBImpl::Write batches writers), each job inside its own SAVEPOINT so that one
// failing job is rolled back alone. A caller's Write() returns only after the commit that
// holds its job is durable (WAL, synchronous=FULL). Reads use their own connection and
// never wait for the writer (they share one read connection among themselves).
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_STORE_H_
#define GRAPHMIRROR_ENGINE_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::store {

struct Watermark {
  std::string created_after;   // newest committed createdDateTime; empty if none yet
  std::string modified_after;  // newest committed lastModifiedDateTime; empty if none yet
  std::string delta_link;
};

// One page of a collection as it is written: the items, the ids removed, and the
// watermark the page justifies. All of it lands in one transaction or none of it does.
struct PageWrite {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::vector<MirrorItem> upserts;
  std::vector<std::string> deletes;
  std::string created_after;   // if non-empty, the watermark moves forward to it (never back)
  std::string modified_after;  // likewise for the lastModifiedDateTime watermark
};

struct CollectionCount {
  std::string user_id;
  Collection collection;
  int64_t items = 0;
  std::string created_after;  // the watermarks, empty if none
  std::string modified_after;
};

// A notification item as the receiver accepted it, ready for the log.
struct LogEntry {
  std::string dedupe_key;
  std::string subscription_id;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string change_type;      // "created", "updated", "deleted"; empty for lifecycle
  std::string lifecycle_event;  // empty for change notifications
  std::string resource;
  std::string item_id;
  std::string notification_id;
};

// A log row waiting for the sync worker.
struct PendingNotification {
  int64_t seq = 0;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string change_type;
  std::string lifecycle_event;
  std::string subscription_id;
  std::string item_id;
  int attempts = 0;
};

enum class LogState { kApplied, kIgnored, kFailed };

struct SubscriptionRecord {
  std::string id;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string resource;
  std::string change_type;
  std::string client_state;
  std::string expires_at;  // normalized UTC text
  std::string created_at;
  std::string renewed_at;
};

struct LogStats {
  int64_t pending = 0;  // received or failed, not yet done
  int64_t failed = 0;
  std::string last_received_at;  // newest received_at, empty if none
};

class WriteContext;

class Store {
 public:
  // Opens (creating if needed, mode 0600) and migrates the database at `path`.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, Clock* clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Writes a page: upserts (an older version never replaces a newer one, by
  // lastModifiedDateTime), deletes, and the watermark, atomically. Idempotent.
  Status ApplyPage(PageWrite page);

  // Runs `job` on the writer thread inside a transaction shared with concurrent jobs and
  // returns once that transaction committed. A job signals failure by throwing; its own
  // changes are then rolled back and its Status says why. Building block for callers
  // that need writes the methods above do not cover.
  Status Write(std::function<void(WriteContext&)> job);
  // Like Write, but gives up at `deadline` (system_clock, real time): a job that has not
  // started by then is withdrawn and Unavailable returned. A job already running may
  // still commit after that, so callers must treat Unavailable as "maybe written" (the
  // notification log dedupes, so a redelivery is harmless).
  Status WriteBefore(std::function<void(WriteContext&)> job, TimePoint deadline);

  // Appends accepted notification items (duplicates of logged ones are dropped by
  // dedupe key) and returns once they are durable. If the commit has not started by
  // `deadline`, the entries are withdrawn and Unavailable returned: the receiver answers
  // 503 and Graph delivers again.
  Status AppendNotifications(std::vector<LogEntry> entries, TimePoint deadline);

  // Up to `limit` log rows in state received, or failed and due by `now`, oldest first.
  Result<std::vector<PendingNotification>> PendingNotifications(TimePoint now, int limit);
  // Ends rows: applied or ignored for good, or failed (retried at `retry_at`).
  Status MarkNotifications(const std::vector<int64_t>& seqs, LogState state,
                           const std::string& reason, TimePoint retry_at = {});
  // Deletes items named by `deleted` notifications and marks those rows applied, in one
  // transaction.
  Status ApplyDeletions(const std::string& user_id, Collection collection,
                        const std::vector<std::string>& item_ids, const std::vector<int64_t>& seqs);
  Result<LogStats> NotificationStats(const std::string& user_id);
  // Deletes applied and ignored rows that ended before `cutoff` (local time); returns
  // how many. Redeliveries come within hours, so old rows no longer serve deduplication.
  Result<int64_t> PruneNotificationLog(TimePoint cutoff);

  // Inserts or replaces by (user, collection); `also_log` is appended to the notification
  // log in the same transaction (the keeper queues a catch-up with a new subscription).
  Status PutSubscription(const SubscriptionRecord& record,
                         const std::vector<LogEntry>& also_log = {});
  Status DeleteSubscription(const std::string& id);
  Result<std::vector<SubscriptionRecord>> Subscriptions();

  Result<Watermark> GetWatermark(const std::string& user_id, Collection collection);
  Result<int64_t> CountItems(const std::string& user_id, Collection collection);
  // Every (mailbox, collection) with items or a watermark, ordered by user then collection.
  Result<std::vector<CollectionCount>> Counts();
  // The ids of a collection's items for one mailbox, sorted (for convergence checks).
  Result<std::vector<std::string>> ItemIds(const std::string& user_id, Collection collection);

  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_STORE_H_
