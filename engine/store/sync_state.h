// SyncState: the bookkeeping of recovery (schema/003): delta links per scope, the
// sweep of fresh delta rounds, removals queued for a check, and each collection's
// sync status (last sync, errors, lifecycle events, stops).
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.sync_state().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_SYNC_STATE_H_
#define GRAPHMIRROR_ENGINE_STORE_SYNC_STATE_H_

#include <string>
#include <utility>
#include <vector>

#include "engine/base/resource.h"
#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

// SQL condition: row `t` of a mirror table lies in delta scope ?3 (a folder id, or a
// calendar window "start/end") of the given kind, as a fresh round ending there would
// have listed it.
std::string_view DeltaScopeCondition(DeltaScopeKind kind);

class SyncState {
 public:
  explicit SyncState(Store* store) : store_(store) {}
  SyncState(const SyncState&) = delete;
  SyncState& operator=(const SyncState&) = delete;

  // --- Delta rounds (see schema/003_recovery.sql) -----------------------------------------
  Result<std::vector<DeltaScope>> DeltaScopes(const std::string& user_id, Collection collection);
  Status ApplyDeltaPage(DeltaPageWrite page);
  // Drops a scope no longer in use (a deleted mail or contact folder, a calendar window
  // that moved on). With `sweep_rows`, the mirror rows still in it (messages or contacts
  // of a deleted folder) are queued for removal.
  Status ForgetDeltaScope(const std::string& user_id, Collection collection,
                          const std::string& scope, bool sweep_rows);
  Result<std::vector<DeltaRemoval>> DeltaRemovals(const std::string& user_id,
                                                  Collection collection);
  // Queues rows to be checked with Graph one by one at the end of a delta pass (scope ""
  // in delta_removals): never removed on a round's word alone, and kept across passes
  // until checked.
  Status QueueForCheck(const std::string& user_id, Collection collection,
                       const std::vector<std::string>& item_ids);
  // Ends a pass over every scope of the collection, in one transaction: writes `pages`
  // (rounds that brought nothing but a new link, gathered so that a quiet pass costs one
  // commit), then applies the queued removals. A message is removed only if it is still
  // in the folder it was reported gone from, and no row changed later than an hour before
  // the reporting round began is removed (Graph's lists may not show it yet: the caller
  // checks those with Graph). `verified`, if given,
  // replaces that rule: its upserts and deletes are written and every queued removal is
  // done (events are checked one by one with Graph). Returns the number of rows removed.
  Result<int64_t> EndDeltaPass(const std::string& user_id, Collection collection,
                               const std::vector<DeltaPageWrite>& pages, const PageWrite* verified);

  // --- Scopes (schema/014_scopes.sql) ---------------------------------------------------------
  // Records that (user, collection) is mirrored under `signature` (config::MirrorScope;
  // "" for the whole collection). If it was read under another, first drops in the same
  // transaction its rows (and their bodies), watermarks and delta state, so that it is
  // read again under the new scope; returns true then.
  Result<bool> ApplyScope(const std::string& user_id, Collection collection,
                          const std::string& signature);

  // --- Sync status ---------------------------------------------------------------------------
  // Each records one fact for (user, collection) at the store clock's now.
  Status RecordSync(const std::string& user_id, Collection collection, const std::string& kind,
                    const Status& result);
  Status RecordLifecycle(const std::string& user_id, Collection collection,
                         const std::string& event);
  // Stops (non-empty reason) or resumes (empty) a collection; a stopped one is tried again
  // at `retry_at`.
  Status SetStopped(const std::string& user_id, Collection collection, const std::string& reason,
                    TimePoint retry_at = {});
  Result<std::vector<SyncStatus>> SyncStatuses();

  // --- Verify (schema/019_verify.sql) -------------------------------------------------------
  // Replaces the last verify result of (record.user_id, record.resource), stamped with the
  // store clock's now.
  Status RecordVerify(const VerifyRecord& record);
  // Every scope's last verify result, by mailbox then resource.
  Result<std::vector<VerifyRecord>> VerifyRecords();

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_SYNC_STATE_H_
