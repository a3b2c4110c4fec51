// Verifier: compares the mirror with Graph cheaply and, if asked, repairs exactly what
// differs (`graphmirror verify`, Engine::Verify).
//
// A scope is one mirror table of one mailbox: messages, events (single instances and
// series masters), event_occurrences (occurrences and exceptions within the calendar
// window) and contacts. Graph's side is listed by DeltaSyncer::ListVersions: ids and
// changeKeys only, in pages of 1,000, over exactly the set the sync keeps (every folder or
// the scoped ones, every contact folder, the calendar window, a collection's $filter), so
// a mirror the sync brought up to date compares equal. The mirror's side is its rows' ids
// and change keys. Each scope then has:
//   missing  in Graph's listing, not in the mirror,
//   extra    in the mirror, not in Graph's listing,
//   stale    in both, with another changeKey.
//
// A repair reads the missing and stale items by id (DeltaSyncer::Fetch, as the sync reads
// an item: a 404 deletes, an item moved out of a scoped folder leaves) and writes them
// through the store's one apply path (MirrorTables::ApplyPage: idempotent, a version
// never replaced by an older one), deletes the extras (as a filtered collection's sweep
// removes what its listing lacks), and compares the scope again. Rows that did not
// differ are not written.
//
// Graph's lists may show a change a little after it happened (GRAPH.md section 6), and a
// change made while a verify runs may fall between its two listings: both show as drift
// that the next verify no longer reports. The verify of a running daemon's mirror is a
// snapshot, not a proof.
//
// The last result of every scope is kept (store::SyncState::RecordVerify) for
// `graphmirror status` and /metrics.
//
// Thread-safety: one Run at a time per Verifier; it may run beside the sync of the same
// mirror (another process, or the daemon's threads), with the caveat above.

#ifndef GRAPHMIRROR_ENGINE_SYNC_VERIFY_H_
#define GRAPHMIRROR_ENGINE_SYNC_VERIFY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "engine/sync/delta.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::sync {

// What differs in one scope. The id lists are whole, sorted.
struct Drift {
  std::vector<std::string> missing;
  std::vector<std::string> extra;
  std::vector<std::string> stale;
  int64_t total() const {
    return static_cast<int64_t>(missing.size() + extra.size() + stale.size());
  }
};

struct ScopeVerify {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string resource;  // the mirror table: "messages", "events", "event_occurrences", ...
  int64_t graph_items = 0;
  int64_t mirror_items = 0;
  Drift drift;  // what the comparison found
  // With repair: rows written or deleted, and what the comparison after it found.
  int64_t repaired = 0;
  std::optional<Drift> after_repair;
};

struct VerifyRequest {
  std::string user_id;                   // "": every configured mailbox
  std::optional<Collection> collection;  // nullopt: every configured collection
  bool repair = false;
};

// The two sides of a scope, compared (pure: unit-testable without Graph or a store).
// `graph` and `mirror` are (id, changeKey) pairs; `mirror` sorted by id.
Drift Compare(const std::map<std::string, std::string>& graph,
              const std::vector<std::pair<std::string, std::string>>& mirror);

class Verifier {
 public:
  // All borrowed; `config` names the mailboxes, their collections and scopes.
  Verifier(const config::Config& config, graph::GraphClient* client, store::Store* store,
           Clock* clock);

  // Compares (and repairs) every scope the request names, recording each result. The
  // first failure to read Graph or the store ends the run with that Status (scopes done
  // before it keep their record); nothing is reported for a scope not read whole.
  // InvalidArgument if the request names a mailbox or collection the config does not
  // mirror.
  Result<std::vector<ScopeVerify>> Run(const VerifyRequest& request);

 private:
  Result<Drift> CompareScope(const std::string& user_id, Collection collection,
                             const std::string& resource, int64_t* graph_items,
                             int64_t* mirror_items);
  Result<int64_t> Repair(const std::string& user_id, Collection collection, const Drift& drift);

  const config::Config& config_;
  store::Store* store_;
  DeltaSyncer delta_;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_VERIFY_H_
