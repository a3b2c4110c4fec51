// ChangeFeed: the durable change feed (schema/018_changes.sql). The rows themselves are
// written by triggers on the mirror tables, in the transaction of each change; this facet
// reads them, keeps the named consumers' cursors and prunes old rows.
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.changes().
//
// Thread-safety: all methods are safe to call from many threads at once (and from other
// processes on the same database: a cursor only moves forward).

#ifndef GRAPHMIRROR_ENGINE_STORE_CHANGE_FEED_H_
#define GRAPHMIRROR_ENGINE_STORE_CHANGE_FEED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

class ChangeFeed {
 public:
  explicit ChangeFeed(Store* store) : store_(store) {}
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Changes with seq > after_seq in seq order, at most `limit`.
  Result<std::vector<ChangeRow>> Read(int64_t after_seq, int64_t limit);
  // The committed cursor of `consumer`, registering it at 0 if it is new.
  Result<int64_t> Cursor(const std::string& consumer);
  // Moves the cursor forward to `up_to_seq` (registering the consumer); a lower value
  // leaves it. InvalidArgument if up_to_seq is negative or beyond the newest seq ever
  // assigned.
  Status Commit(const std::string& consumer, int64_t up_to_seq);
  // NotFound if there is no such consumer.
  Status Drop(const std::string& consumer);
  Result<std::vector<ConsumerRow>> Consumers();
  // The newest seq ever assigned (0 if none): survives pruning.
  Result<int64_t> LastSeq();

  // Deletes, in one transaction, at most `batch` of the oldest changes that are all
  // older than `cutoff` and (unless drop_unread) read by every consumer. Only a prefix of
  // the feed goes, so the changes kept never have holes. Returns how many went.
  Result<int64_t> PruneBatch(TimePoint cutoff, bool drop_unread, int batch);
  // PruneBatch until a batch comes back short: each batch its own transaction, so other
  // writers are never held for long.
  Result<int64_t> Prune(TimePoint cutoff, bool drop_unread, int batch = 1000);

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_CHANGE_FEED_H_
