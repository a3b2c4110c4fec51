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
// Graph's lists may show a change some time after a GET by id and the change notification
// do (GRAPH.md section 6), so a mirror kept current by notifications can be ahead of
// the listing. Each difference is therefore confirmed with Graph before it is reported:
// the item is read by id (DeltaSyncer::Fetch, as the sync reads an item: a 404 means gone,
// an item moved out of a scoped folder is out of the scope). A missing item that is gone,
// a stale one whose current changeKey is the mirror's, and an extra one that Graph has in
// the scope are no drift. Whether an item is in a collection's $filter or the calendar
// window cannot be read from a GET: there an extra row Graph still has is drift unless it
// changed within the last hour (the lag the sync's own sweep allows, DeltaSyncer::Sweep).
// Confirming costs a GET per difference, so a scope with more than kMaxConfirmed
// differences is reported as listed, unconfirmed (ScopeVerify::confirmed).
//
// A repair writes what the confirming reads returned for the missing and stale items
// through the store's one apply path (MirrorTables::ApplyPage: idempotent, a version never
// replaced by an older one), deletes the extra rows (and stale rows whose item is gone),
// and compares the scope again. Rows that did not differ are not written.
//
// A change made while a verify runs may still fall between its listing and its reads:
// the verify of a running daemon's mirror is a snapshot, not a proof.
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
  Drift drift;            // what the comparison found (confirmed, see above)
  bool confirmed = true;  // false: too many differences to read each by id
  // With repair: rows written or deleted, and what the comparison after it found.
  int64_t repaired = 0;
  std::optional<Drift> after_repair;
};

struct VerifyRequest {
  std::string user_id;                   // "": every configured mailbox
  std::optional<Collection> collection;  // nullopt: every configured collection
  bool repair = false;
};

// Differences confirmed by reading each by id, beyond which a scope is reported as listed.
inline constexpr size_t kMaxConfirmed = 1000;

// The two sides of a scope, compared as listed (pure: unit-testable without Graph or a
// store). `graph` maps id to changeKey; `mirror` is sorted by id.
Drift Compare(const std::map<std::string, std::string>& graph,
              const std::vector<store::RowVersion>& mirror);

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
  struct Compared {
    Drift drift;
    bool confirmed = true;
    int64_t graph_items = 0;
    int64_t mirror_items = 0;
    store::PageWrite fix;  // what a repair writes: Graph's state of exactly the drift
  };
  // Lists both sides, compares them and confirms the differences with Graph.
  Result<Compared> CompareScope(const std::string& user_id, Collection collection,
                                const std::string& resource, bool repairing);

  const config::Config& config_;
  const config::Scopes scopes_;
  store::Store* store_;
  Clock* clock_;
  DeltaSyncer delta_;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_VERIFY_H_
