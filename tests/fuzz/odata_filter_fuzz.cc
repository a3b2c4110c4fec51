// graphsim's OData query parser ($filter, $orderby, $select, $top, $skiptoken): the input
// is a query string "name=value&..." (already decoded), parsed for messages, events and
// contacts as a list request, and a parsed $filter evaluated on a fixed item. An ApiError
// or options, never a crash.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_target.h"
#include "tools/graphsim/odata.h"
#include "tools/graphsim/schema.h"

namespace {

// An item with every property set, some null: the filter reads whatever it names.
class Subject : public graphsim::FilterSubject {
 public:
  graphsim::TimePoint Time(graphsim::TimeField field) const override {
    return graphsim::TimePoint{} + std::chrono::hours(24 * 365 * 56 + static_cast<int>(field));
  }
  graphsim::FilterValue Value(const std::string& property) const override {
    using Type = graphsim::FilterValue::Type;
    if (property.size() % 3 == 0) return {Type::kNull, false, ""};
    if (property.rfind("is", 0) == 0 || property.rfind("has", 0) == 0) {
      return {Type::kBool, property.size() % 2 == 0, ""};
    }
    return {Type::kString, false, property.size() % 2 ? "High" : "normal"};
  }
};

}  // namespace

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
  for (auto kind : {graphsim::EntityKind::kMessage, graphsim::EntityKind::kEvent,
                    graphsim::EntityKind::kContact}) {
    graphsim::QueryOptions options;
    if (!graphsim::ParseQueryOptions(params, graphsim::Entity(kind),
                                     graphsim::QueryKind::kCollection, &options)) {
      graphsim::IsInefficientFilter(options);
      if (options.filter) {
        options.filter->Matches(Subject());
        options.filter->TimesOnly();
      }
    }
  }
  return 0;
}
