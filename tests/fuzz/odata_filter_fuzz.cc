// graphsim's OData query parser ($filter, $orderby, $select, $top, $skiptoken): the input
// is a query string "name=value&..." (already decoded), parsed for messages as a list
// request. An ApiError or options, never a crash.

#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_target.h"
#include "tools/graphsim/odata.h"
#include "tools/graphsim/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = graphmirror::fuzz::AsText(data, size);
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      params.emplace_back(std::string(pair), "");
    } else {
      params.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    }
    start = end + 1;
  }
  for (auto kind : {graphsim::EntityKind::kMessage, graphsim::EntityKind::kEvent}) {
    graphsim::QueryOptions options;
    if (!graphsim::ParseQueryOptions(params, graphsim::Entity(kind),
                                     graphsim::QueryKind::kCollection, &options)) {
      graphsim::IsInefficientFilter(options);
    }
  }
  return 0;
}
