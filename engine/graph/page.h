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
  // Delta rounds only: ids of entries that came as {"id":..,"@removed":{...}} (deleted,
  // or moved out of the folder). They are not in `items` and need no createdDateTime.
  std::vector<std::string> removed_ids;
};

// Fails with Corruption on a body that is not a page, or on an item without an id or
// (for every collection) without a parseable createdDateTime.
//
// Every value of the body is checked (simdjson on-demand checks only what is read, so
// the parser walks the rest): a truncated or malformed body fails as a whole, never as a
// shorter page. Timestamps are normalized (see timestamp.h); a present but unparseable
// lastModifiedDateTime or receivedDateTime is Corruption as well. Events' start/end are
// normalized when their timeZone is "UTC" or absent, else kept as Graph wrote them.
// Null and absent optional fields are empty strings (is_read: false). A message's `body`
// is read into `body` and `body_type` and left out of its `json` (bodies are kept apart).
//
// `keep`, if given, projects each item's `json` onto those top-level properties (plus
// `id` and `@odata.etag`), in the order the body has them: a rich mailbox stores the
// same shape whichever way an item came (see select.h). The columns are read as always.
Result<Page> ParsePage(Collection collection, std::string_view body,
                       const std::vector<std::string>* keep = nullptr);

// One item as a JSON document of its own (the decrypted content of a rich notification),
// with the checks and projection of ParsePage. Corruption if it is not exactly one valid
// item object.
Result<MirrorItem> ParseItem(Collection collection, std::string_view json,
                             const std::vector<std::string>* keep = nullptr);

// The decrypted content of a rich notification for item `id` (its resourceData.id). Graph
// encrypts the `$select`ed properties only ("Change notifications for Outlook resources",
// the decrypted payload): no `id`, and createdDateTime only if selected (created_at is then
// empty), with OData annotations on values (`receivedDateTime@odata.type`, `@odata.type`
// inside complex values). The item's json is `{"id":...}` followed by the content's
// properties (projected onto `keep`, if given) with every annotation dropped at any depth,
// so that it reads as a query's copy. The checks of ParseItem otherwise; Corruption also if
// the content names another id.
Result<MirrorItem> ParseRichContent(Collection collection, std::string_view json,
                                    const std::string& id,
                                    const std::vector<std::string>* keep = nullptr);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_PAGE_H_
