// Building Graph request paths: percent-encoding and the resync queries.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_QUERY_H_
#define GRAPHMIRROR_ENGINE_GRAPH_QUERY_H_

#include <string>
#include <string_view>

#include "engine/base/item.h"

namespace graphmirror::graph {

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string PercentEncode(std::string_view text);

// Escapes only what would end a query option's value or the URL (% & # +), leaving the
// rest as written: the form of Graph's examples of a $filter in a subscription resource.
std::string EscapeQueryValue(std::string_view text);

// "/users/{user}/{collection}?$filter=createdDateTime ge {since}&$orderby=createdDateTime
// &$top={page_size}", encoded. `since` is a DateTimeOffset literal (unquoted, as OData
// wants). The $orderby property leads the $filter, which Graph requires of messages
// (else 400 InefficientFilter). `extra`, if not empty, is appended as one more query
// option ("$select=id,createdDateTime"). `scope_filter`, if not empty, is a scoped
// mirror's own $filter, joined as "{property} ge {since} and ({scope_filter})": the
// $orderby property still leads.
std::string CreatedSincePath(const std::string& user_id, Collection collection,
                             const std::string& since, int page_size, const std::string& extra = "",
                             const std::string& scope_filter = "");
// The same on lastModifiedDateTime: what changed (or was created) since `since`.
std::string ModifiedSincePath(const std::string& user_id, Collection collection,
                              const std::string& since, int page_size,
                              const std::string& extra = "", const std::string& scope_filter = "");

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_QUERY_H_
