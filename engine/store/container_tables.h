// ContainerTables: the mirrored containers (mail folders, contact folders, calendars), one
// table each as its ContainerDescription says (engine/base/resource.h), and the deltaLink
// of each (mailbox, container) (schema/009). A facet of Store (store.h), which owns the
// connections and the writer thread; reached as store.containers().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_CONTAINER_TABLES_H_
#define GRAPHMIRROR_ENGINE_STORE_CONTAINER_TABLES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/resource.h"
#include "graphmirror/status.h"

namespace graphmirror::store {

class Store;

// One round of a container, written in one transaction with the link it ends at.
struct ContainerRound {
  std::string user_id;
  const ContainerDescription* container = nullptr;
  std::vector<ContainerRow> rows;        // upserted
  std::vector<std::string> removed_ids;  // deleted
  // The round listed the whole container (a fresh delta round, or a plain list): rows of
  // the mailbox it did not list are deleted, and the well-known names are set anew.
  bool whole = false;
  std::vector<std::pair<std::string, std::string>> well_known;  // (id, name), if whole
  std::string delta_link;  // stored for the next round ("" for a plain list)
};

struct ContainerRoundResult {
  int64_t upserted = 0;
  int64_t removed = 0;  // rows deleted, by @removed or by a whole round's sweep
};

// What the mirror holds of one (mailbox, container).
struct ContainerTableState {
  std::string user_id;
  std::string container;  // its table's name
  int64_t rows = 0;
  std::string synced_at;  // when its last round was written; "" if never
};

class ContainerTables {
 public:
  explicit ContainerTables(Store* store) : store_(store) {}
  ContainerTables(const ContainerTables&) = delete;
  ContainerTables& operator=(const ContainerTables&) = delete;

  // Idempotent: a round applied twice leaves the same rows.
  Result<ContainerRoundResult> ApplyRound(const ContainerRound& round);
  // The stored deltaLink, "" if none (never synced, or forgotten).
  Result<std::string> DeltaLink(const std::string& user_id, std::string_view container);
  // Forgets the deltaLink (Graph no longer honours it): the next round lists it whole.
  Status ForgetDeltaLink(const std::string& user_id, std::string_view container);
  // Rows of the mailbox in the container's table.
  Result<int64_t> Count(const std::string& user_id, const ContainerDescription& container);
  // Every (mailbox, container) with rows or a round written, by container then mailbox.
  Result<std::vector<ContainerTableState>> States();

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_CONTAINER_TABLES_H_
