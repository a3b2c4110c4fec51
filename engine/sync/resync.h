// Resync: moves one (mailbox, collection) forward to the mailbox's present by reading
// `$filter=createdDateTime ge {watermark}&$orderby=createdDateTime` pages (new items), or
// the same on lastModifiedDateTime (new and changed items).
//
// Each page's items and the watermark it justifies (the newest timestamp of the cursor's
// property on the page) are committed in one transaction, so a resync stopped anywhere
// resumes from the last committed page. A round starts `overlap` before the watermark
// and uses `ge`: items sharing the watermark's timestamp, or listed late, are read again
// and upserted idempotently rather than skipped. Pages are keyset-paged: each next query
// starts at the newest timestamp committed, and @odata.nextLink is followed only through
// a page that is a single run of equal timestamps, so any number of items with one
// timestamp page through, and items changing mid-round cannot shift a $skip past others.
//
// Thread-safety: a Resyncer may run many (mailbox, collection) pairs at once from
// different threads; callers must not run the same pair twice at the same time.

#ifndef GRAPHMIRROR_ENGINE_SYNC_RESYNC_H_
#define GRAPHMIRROR_ENGINE_SYNC_RESYNC_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/base/item.h"
#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/graph/select.h"
#include "engine/store/store.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::sync {

struct ResyncOptions {
  int page_size = 500;
  std::chrono::seconds overlap{60};
  // The overlap of rounds notifications asked for (Reason::kNotified).
  std::chrono::seconds hint_overlap{2};
  // Called after each committed page with the number of pages committed so far; returning
  // false stops the round there (Cancelled), as if the process died after that commit.
  std::function<bool(int pages_committed)> after_page;
  // Rich mailboxes read and keep only the properties their notifications carry.
  graph::Projection projection;
  // If set, items received are added to it as pages come (progress displays).
  std::atomic<int64_t>* progress = nullptr;
  // Scoped mirrors: a collection's $filter joins every query.
  config::Scopes scopes;
  // sync.bodies: the form message bodies are kept in (graph::PutBodiesInForm).
  std::string bodies = "text";
};

struct ResyncStats {
  int64_t fetched = 0;  // items received, repeats from the overlap included
  int64_t pages = 0;
  std::chrono::steady_clock::duration elapsed{};
};

// Which property a round follows, and so which watermark it moves.
enum class Cursor { kCreated, kModified };
// Why a round runs: to catch up (a first sync, after downtime, a debt), re-reading the
// overlap; or because notifications said something changed, re-reading the hint overlap.
enum class Reason { kCatchUp, kNotified };

class Resyncer {
 public:
  Resyncer(graph::GraphClient* client, store::Store* store, ResyncOptions options);

  // A round on createdDateTime. The first round of a collection also starts its
  // lastModifiedDateTime watermark at Graph's clock reading (the Date of the first
  // answer, less the overlap): every later change is stamped after it, and everything
  // before it is read by this round.
  Result<ResyncStats> ResyncCreated(const std::string& user_id, Collection collection,
                                    Reason reason = Reason::kCatchUp);
  // A round on lastModifiedDateTime, from that watermark (from the beginning if none).
  Result<ResyncStats> ResyncModified(const std::string& user_id, Collection collection,
                                     Reason reason = Reason::kCatchUp);
  Result<ResyncStats> Resync(const std::string& user_id, Collection collection, Cursor cursor,
                             Reason reason = Reason::kCatchUp);

 private:
  graph::GraphClient* client_;
  store::Store* store_;
  ResyncOptions options_;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_RESYNC_H_
