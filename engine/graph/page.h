// Parsing of Graph collection pages ({"value":[...], "@odata.nextLink": ...}) into
// MirrorItems, with one simdjson parse per page.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_PAGE_H_
#define GRAPHMIRROR_ENGINE_GRAPH_PAGE_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/status.h"

namespace graphmirror::graph {

struct Page {
  std::vector<MirrorItem> items;
  std::string next_link;   // empty on the last page
  std::string delta_link;  // set on the last page of a delta round
};

// Fails with Corruption on a body that is not a page, or on an item without an id or
// (for every collection) without a parseable createdDateTime.
Result<Page> ParsePage(Collection collection, std::string_view body);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_PAGE_H_
