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
  // Writes a batch of a list's changes and its new change token atomically, and counts a
  // successful sync. Idempotent: upserts replace rows, deletes of absent rows do nothing.
  Status ApplyChanges(const ListChanges& changes);
  // A whole-list read (schema/016): forgets the change token and takes the next read
  // generation, returned. Until FinishWholeRead the list has no token, so a crash midway
  // makes the next sync read it whole again.
  Result<int64_t> BeginWholeRead(const std::string& site, const std::string& list_id);
  // Upserts one page of the read, marked with its generation. Rows of the list not (yet)
  // read stay as they were: readers never see the list emptied.
  Status WriteWholeReadPage(const ListPage& page);
  // Ends the read of `generation`: deletes the rows it did not return and stores the
  // token taken before the read, in one transaction; counts a whole read and a sync.
  Status FinishWholeRead(const std::string& site, const std::string& list_id, int64_t generation,
                         const std::string& change_token, int64_t notified_before,
                         int64_t requests);
  // Records a failed sync (its one-line error, counted) or a failed subscription call
  // (`subscription` true; empty `error`: the call succeeded, clearing the last one).
  Status NoteError(const std::string& site, const std::string& list_id, const std::string& error,
                   bool subscription = false);
  // Counts a notification for each list, durably, before `deadline` (as
  // AppendNotifications: Unavailable means "maybe written"; the receiver answers 503).
  Status NoteNotified(const std::vector<std::pair<std::string, std::string>>& lists,
                      TimePoint deadline);
  // The state of (site, list); zeros and no token if the list was never seen.
  Result<ListState> State(const std::string& site, const std::string& list_id);
  // The items of a list, by id.
  Result<std::vector<ListItemRow>> Items(const std::string& site, const std::string& list_id);
  // A page of them: item_id > `after_item_id`, by item_id, at most `limit`.
  Result<std::vector<ListItemRow>> Items(const std::string& site, const std::string& list_id,
                                         int64_t after_item_id, int64_t limit);
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
