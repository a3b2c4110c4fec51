// ListStore: mirrored SharePoint lists (schema/006): list items and their change
// token written together, notification counts, list subscriptions.
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.lists().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_LIST_STORE_H_
#define GRAPHMIRROR_ENGINE_STORE_LIST_STORE_H_

#include <string>
#include <utility>
#include <vector>

#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

class ListStore {
 public:
  explicit ListStore(Store* store) : store_(store) {}
  ListStore(const ListStore&) = delete;
  ListStore& operator=(const ListStore&) = delete;

  // --- SharePoint lists -------------------------------------------------------------------
  // Writes one sync of a list and its new change token atomically. Idempotent: upserts
  // replace rows, deletes of absent rows do nothing.
  Status ApplyChanges(const ListChanges& changes);
  // Forgets the list's change token (it expired): the next sync reads the list whole.
  Status ClearToken(const std::string& site, const std::string& list_id);
  // Counts a notification for each list, durably, before `deadline` (as
  // AppendNotifications: Unavailable means "maybe written"; the receiver answers 503).
  Status NoteNotified(const std::vector<std::pair<std::string, std::string>>& lists,
                      TimePoint deadline);
  // The state of (site, list); zeros and no token if the list was never seen.
  Result<ListState> State(const std::string& site, const std::string& list_id);
  // The items of a list, by id.
  Result<std::vector<ListItemRow>> Items(const std::string& site, const std::string& list_id);
  Status PutSubscription(const ListSubscriptionRecord& record);
  Status DeleteSubscription(const std::string& id);
  Result<std::vector<ListSubscriptionRecord>> Subscriptions();
  // Every list the database holds items, state or a subscription of, by site and list.
  Result<std::vector<ListStatusRow>> Statuses();

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_LIST_STORE_H_
