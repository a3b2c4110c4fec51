#include "engine/base/item.h"

namespace graphmirror {

std::string_view CollectionName(Collection c) {
  switch (c) {
    case Collection::kMessages:
      return "messages";
    case Collection::kEvents:
      return "events";
    case Collection::kContacts:
      return "contacts";
  }
  return "unknown";
}

std::optional<Collection> ParseCollection(std::string_view name) {
  for (Collection c : kAllCollections) {
    if (CollectionName(c) == name) return c;
  }
  return std::nullopt;
}

}  // namespace graphmirror
