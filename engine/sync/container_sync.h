// ContainerSyncer: brings a mailbox's containers (mail folders, contact folders, calendars;
// engine/base/resource.h) up to date, one Graph collection each, as their descriptions
// say. A delta-tracked container continues from its stored deltaLink, else (first time,
// or the token expired) reads itself whole; a plain list is read whole every time. A round
// is small (folders and calendars, not items) and is written in one transaction with the
// deltaLink it ends at, so readers never see half a round and a crash mid-round costs only
// the round. A whole round also asks Graph for the well-known names its description lists.
//
// Thread-safety: safe from many threads; rounds over one (mailbox, container) must not
// run concurrently (the delta pass of the collection that holds them runs them, under its
// lock).

#ifndef GRAPHMIRROR_ENGINE_SYNC_CONTAINER_SYNC_H_
#define GRAPHMIRROR_ENGINE_SYNC_CONTAINER_SYNC_H_

#include <cstdint>
#include <string>

#include "engine/base/resource.h"
#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "graphmirror/status.h"

namespace graphmirror::sync {

struct ContainerStats {
  int64_t pages = 0;
  int64_t upserted = 0;  // rows written (new or changed)
  int64_t removed = 0;   // rows deleted
  int64_t expired_tokens = 0;
  bool whole = false;  // the round read the container whole
};

class ContainerSyncer {
 public:
  // `page_size` > 0: sent as Prefer: odata.maxpagesize on delta rounds.
  ContainerSyncer(graph::GraphClient* client, store::Store* store, int page_size);

  Result<ContainerStats> Sync(const std::string& user_id, const ContainerDescription& container);

 private:
  graph::GraphClient* client_;
  store::Store* store_;
  int page_size_;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_CONTAINER_SYNC_H_
