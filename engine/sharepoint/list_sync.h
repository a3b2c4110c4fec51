// ListSync: one SharePoint list mirrored into list_items (GRAPH.md section 9).
//
// The notification is a hint, the change query is truth, the token is the watermark:
// Sync() asks `GetChanges` for the changes after the stored change token (adds, updates,
// system updates, deletes and restores from the recycle bin: SharePoint reports only the
// types asked for), reads the items that were added, updated or restored with `GetItems`,
// 100 per CAML query (an item gone by then counts as deleted), and writes the rows with
// the token of the last change in one transaction, a batch of at most 1000 changes at a
// time. Without a token (first sync), or when SharePoint says the token is no longer valid
// (an SPInvalidChangeTokenException, whatever the status), it reads the list whole
// instead, page by page, each page written as it comes (ListStore::BeginWholeRead): the
// memory held is one page, readers keep seeing the list, and the rows the read did not
// return go when it ends, with the list's token taken before the read (changes made during
// the read come again with the next sync; applying them twice is harmless).
//
// Thread-safety: one Sync() at a time per ListSync; different lists may sync at once.

#ifndef GRAPHMIRROR_ENGINE_SHAREPOINT_LIST_SYNC_H_
#define GRAPHMIRROR_ENGINE_SHAREPOINT_LIST_SYNC_H_

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "graphmirror/status.h"

namespace graphmirror::sharepoint {

// What list_state does not keep (its counters are the durable ones: ListStatusRow).
struct ListSyncStats {
  uint64_t item_reads = 0;    // changed items read back
  uint64_t item_queries = 0;  // GetItems calls that read them
  size_t largest_batch = 0;   // the most rows held in memory at once
};

// The REST path of a list, relative to its site: "/_api/web/lists('{id}')".
std::string ListApiPath(const std::string& list_id);

class ListSync {
 public:
  // `site` is a GraphClient whose base_url is the site URL; `site_url` names the site in
  // the store (as configured). Both must outlive the ListSync.
  ListSync(graph::GraphClient* site, store::Store* store, std::string site_url,
           std::string list_id);

  Status Sync();

  const std::string& site_url() const { return site_url_; }
  const std::string& list_id() const { return list_id_; }
  const ListSyncStats& stats() const { return stats_; }

 private:
  Status WholeRead(int64_t notified_before);
  Status ReadItems(simdjson::dom::parser& parser, const std::vector<int64_t>& ids, size_t from,
                   size_t to, store::ListChanges* write);

  graph::GraphClient* const site_;
  store::Store* const store_;
  const std::string site_url_;
  const std::string list_id_;
  ListSyncStats stats_;
};

}  // namespace graphmirror::sharepoint

#endif  // GRAPHMIRROR_ENGINE_SHAREPOINT_LIST_SYNC_H_
