// NotificationLog: the durable log of what Graph posted (schema/001, 004): appended
// before the receiver answers 202, read and marked by the sync worker, pruned once old.
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.log().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_NOTIFICATION_LOG_H_
#define GRAPHMIRROR_ENGINE_STORE_NOTIFICATION_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

class NotificationLog {
 public:
  explicit NotificationLog(Store* store) : store_(store) {}
  NotificationLog(const NotificationLog&) = delete;
  NotificationLog& operator=(const NotificationLog&) = delete;

  // Appends accepted notification items (duplicates of logged ones are dropped by
  // dedupe key) and returns once they are durable. If the commit has not started by
  // `deadline`, the entries are withdrawn and Unavailable returned: the receiver answers
  // 503 and Graph delivers again. `validation_tokens` (a rich body's JWTs), if any, are
  // stored once and every entry of the body refers to them (token_batch).
  Status Append(std::vector<LogEntry> entries, TimePoint deadline,
                std::vector<std::string> validation_tokens = {});
  // The validation tokens stored for `token_batch`; empty if there is no such batch.
  Result<std::vector<std::string>> Tokens(int64_t token_batch);

  // Up to `limit` log rows in state received, or failed and due by `now`, oldest first.
  Result<std::vector<PendingNotification>> Pending(TimePoint now, int limit);
  // Ends rows: applied or ignored for good, or failed (retried at `retry_at`).
  Status Mark(const std::vector<int64_t>& seqs, LogState state, const std::string& reason,
              TimePoint retry_at = {});
  // In one transaction: upserts the items that rich notifications carried (never moving a
  // watermark, never replacing a newer version, never bringing back an item a `deleted`
  // notification named, as Graph does not reuse ids), deletes the items named by `deleted`
  // notifications, and marks the rows `seqs` applied.
  Status ApplyChanges(const std::string& user_id, Collection collection,
                      const std::vector<MirrorItem>& upserts,
                      const std::vector<std::string>& deleted_ids,
                      const std::vector<int64_t>& seqs);
  // The etags (item id, etag) that rows after `after_seq` notified for any of `item_ids`
  // of the collection: versions announced later than a group's, so newer than its own.
  // Scans the log from `after_seq` by seq: meant for the rare group whose versions a GET
  // did not show, soon after it was logged.
  Result<std::vector<std::pair<std::string, std::string>>> EtagsNotifiedAfter(
      const std::string& user_id, Collection collection, int64_t after_seq,
      const std::vector<std::string>& item_ids);
  Result<LogStats> Stats(const std::string& user_id);
  // Deletes applied and ignored rows that ended before `cutoff` (local time), and the
  // validation tokens no row refers to any more; returns how many rows. Redeliveries come
  // within hours, so old rows no longer serve deduplication.
  Result<int64_t> Prune(TimePoint cutoff);

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_NOTIFICATION_LOG_H_
