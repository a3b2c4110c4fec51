// The properties a rich mailbox mirrors of each item: the `$select` of its rich
// subscriptions (Graph requires one when resource data is included) and of its queries,
// so that an item reads the same whether it came decrypted from a notification or from a
// query. It holds what the mirror's columns need and what users look for most; bodies
// are left out (they would bloat every notification).
//
// Thread-safety: constants.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_SELECT_H_
#define GRAPHMIRROR_ENGINE_GRAPH_SELECT_H_

#include <set>
#include <string>
#include <vector>

#include "engine/base/item.h"

namespace graphmirror::graph {

// The property names, in Graph's spelling.
const std::vector<std::string>& RichProperties(Collection collection);
// The same, comma-joined, for a `$select` query option.
const std::string& RichSelect(Collection collection);

// Which mailboxes are rich, and so what is kept of their items.
class Projection {
 public:
  Projection() = default;
  explicit Projection(std::set<std::string> rich_users) : rich_users_(std::move(rich_users)) {}

  bool rich(const std::string& user_id) const { return rich_users_.count(user_id) > 0; }
  // The properties kept of the user's items (for ParsePage); nullptr: all of them.
  const std::vector<std::string>* Keep(const std::string& user_id, Collection collection) const {
    return rich(user_id) ? &RichProperties(collection) : nullptr;
  }
  // "$select=..." for a query of the user's collection, or "" to read every property.
  std::string SelectOption(const std::string& user_id, Collection collection) const {
    return rich(user_id) ? "$select=" + RichSelect(collection) : std::string();
  }

 private:
  std::set<std::string> rich_users_;
};

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_SELECT_H_
