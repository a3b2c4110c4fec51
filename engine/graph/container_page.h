// Parsing of a container's collection page (mail folders, contact folders, calendars) into
// rows of the columns its description names, with one simdjson parse per page.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_CONTAINER_PAGE_H_
#define GRAPHMIRROR_ENGINE_GRAPH_CONTAINER_PAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/resource.h"
#include "graphmirror/status.h"

namespace graphmirror::graph {

struct ContainerPage {
  std::vector<ContainerRow> rows;
  std::vector<std::string> removed_ids;  // delta entries {"id":..,"@removed":{...}}
  std::string next_link;
  std::string delta_link;
};

// Corruption, one line, for a body that is not a collection page, an entity without an
// id, or a value of the wrong JSON type for its column (a string where a number or a
// boolean is described). Every value of the body is checked, read or not.
Result<ContainerPage> ParseContainerPage(const ContainerDescription& description,
                                         std::string_view body);

// One entity as a document of its own (GET of one folder), with the checks of
// ParseContainerPage.
Result<ContainerRow> ParseContainerEntity(const ContainerDescription& description,
                                          std::string_view body);

// "$select=a,b,c": the top-level properties the columns are read from (annotations and
// unread columns left out), or "" if the description does not select.
std::string ContainerSelect(const ContainerDescription& description);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_CONTAINER_PAGE_H_
