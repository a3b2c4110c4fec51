// One pass over every configured mailbox and collection: what `graphmirror sync --once`
// and the daemon's start run. Each collection gets a createdDateTime round (new items),
// a lastModifiedDateTime round (items changed since the last pass; a restart after hours
// offline must see edits, not just arrivals) and a delta pass (items deleted or moved),
// in the order of CollectionSync::Rounds (a first load reads each item once). Collections are read in turn (engine/base/turns.h): a thread each (up to 256), of which
// sync.parallelism at a time send a request and apply its answer, so every mailbox
// advances a page at a time and none waits for others to be read whole. The Graph client
// keeps each mailbox within its request limits.
//
// Thread-safety: SyncAllOnce may be called from any thread; it calls `on_done` from its
// worker threads, one call at a time.

#ifndef GRAPHMIRROR_ENGINE_SYNC_SYNC_ONCE_H_
#define GRAPHMIRROR_ENGINE_SYNC_SYNC_ONCE_H_

#include <functional>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/sync/collection_sync.h"

namespace graphmirror::sync {

struct CollectionReport {
  std::string user_id;
  Collection collection = Collection::kMessages;
  Status status;
  ResyncStats stats;          // the createdDateTime round: new items
  ResyncStats changed_stats;  // the lastModifiedDateTime round that follows: changed items
  DeltaStats delta_stats;     // the delta pass: deletions and moves
  int64_t items_before = 0;   // rows in the mirror before and after the pass
  int64_t items_after = 0;
};

// `clock` places the calendar window and times the bookkeeping (sync_status, stops).
std::vector<CollectionReport> SyncAllOnce(
    const config::Config& config, graph::GraphClient* client, store::Store* store,
    const std::function<void(const CollectionReport&)>& on_done = nullptr,
    Clock* clock = SystemClock::Default());
// The same with the caller's CollectionSync (the daemon shares it with its worker). Once
// `sync` is cancelled, the rounds running end after their page and the collections not
// begun report Cancelled.
std::vector<CollectionReport> SyncAllOnce(
    const config::Config& config, CollectionSync* sync, store::Store* store,
    const std::function<void(const CollectionReport&)>& on_done = nullptr);

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_SYNC_ONCE_H_
