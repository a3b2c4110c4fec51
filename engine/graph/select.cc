#include "engine/graph/select.h"

#include "engine/base/resource.h"

namespace graphmirror::graph {
namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out.append(out.empty() ? "" : ",").append(name);
  return out;
}

}  // namespace

const std::vector<std::string>& RichProperties(Collection collection) {
  return Describe(collection).rich_properties;
}

const std::string& RichSelect(Collection collection) {
  static const std::string kJoined[] = {Join(RichProperties(Collection::kMessages)),
                                        Join(RichProperties(Collection::kEvents)),
                                        Join(RichProperties(Collection::kContacts))};
  return kJoined[static_cast<int>(collection)];
}

}  // namespace graphmirror::graph
