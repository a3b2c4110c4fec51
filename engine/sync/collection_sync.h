// CollectionSync: the rounds that bring one (mailbox, collection) up to date, shared by
// the initial sync, the sync worker and the subscription keeper, and the bookkeeping
// around them: the sync_status row of each collection, and stopping a collection Graph
// refuses for good.
//
// The round that reads an empty collection from its beginning (the createdDateTime round
// without a watermark; for a collection scoped by mail folders, its first delta pass) is a
// bulk load (store::MirrorTables::BeginLoad): the full-text index and, in an empty table,
// the secondary indexes are built once at its end. A load stopped by the process's end
// (or a crash) stays open and the next round of the collection goes on with it; a round
// that fails otherwise finishes it.
//
// A collection stops when Graph answers 403 (the app lacks the application permission
// the collection needs, or an application access policy excludes the mailbox) or the
// credentials are rejected: its notifications wait, its subscription is not pursued, and
// `graphmirror status` names the permission and the resource. The other collections go
// on. A stopped collection is tried again after `kStopRetry`, and at every start; the
// first success resumes it.
//
// Thread-safety: safe from many threads; rounds over one (mailbox, collection) must not
// run concurrently (the worker, the keeper and the initial sync take turns by design).

#ifndef GRAPHMIRROR_ENGINE_SYNC_COLLECTION_SYNC_H_
#define GRAPHMIRROR_ENGINE_SYNC_COLLECTION_SYNC_H_

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/sync/delta.h"
#include "engine/sync/resync.h"

namespace graphmirror::sync {

// How long a stopped collection waits before it is tried again.
inline constexpr std::chrono::hours kStopRetry{1};

// The mailboxes configured with `rich = true`, whose items keep the rich properties only.
graph::Projection RichProjection(const config::Config& config);

// How long rounds took (real time), by kind, for metrics. Monotonic.
struct RoundTimings {
  static constexpr const char* kKinds[] = {"created", "modified", "delta"};
  std::atomic<uint64_t> count[3]{};
  std::atomic<uint64_t> micros[3]{};
  std::atomic<uint64_t> failed[3]{};
};

// Records each configured collection's scope (MailboxConfig.folders and .filters) with
// the mirror; a collection whose scope changed since its rows were read is emptied and
// read again from the start (logged). Finishes the bulk loads of collections no longer
// configured. Run before any round of a process.
Status ApplyScopes(const config::Config& config, store::Store* store);

class CollectionSync {
 public:
  CollectionSync(const config::Config& config, graph::GraphClient* client, store::Store* store,
                 Clock* clock);

  // Learns which collections a previous run stopped (they are tried again at once).
  Status LoadStopped();

  // New items (createdDateTime round), changed items (lastModifiedDateTime round), and
  // deletions and moves (a delta pass). Each records its outcome (see Note).
  Result<ResyncStats> Created(const std::string& user_id, Collection collection,
                              Reason reason = Reason::kCatchUp);
  Result<ResyncStats> Modified(const std::string& user_id, Collection collection,
                               Reason reason = Reason::kCatchUp);
  Result<DeltaStats> Delta(const std::string& user_id, Collection collection);
  // All three, in that order; stops at the first failure. A collection scoped by mail
  // folders has no created and modified rounds (they list every folder): its delta rounds,
  // over the scoped folders only, are all its rounds. A first load reads each item once
  // (LoadByDelta). Events the mirror holds none of yet take the delta pass first (see
  // WindowFirst). `stats` gets what each round that ended did.
  struct PassStats {
    ResyncStats created;
    ResyncStats modified;
    DeltaStats delta;
  };
  Status Rounds(const std::string& user_id, Collection collection, PassStats* stats);
  // Rounds, and a failure owes a Full pass later (Owe); one that succeeds pays the debt.
  Status Full(const std::string& user_id, Collection collection);
  // A collection whose delta rounds list every item it holds (messages, contacts: every
  // folder, no $filter; bodies come as HTML, made text by graph::HtmlToText) and that has no
  // createdDateTime watermark yet is loaded by its fresh delta rounds alone, not also by a
  // createdDateTime round that would read every item a second time; the watermarks then start from
  // what the rounds wrote (the newest createdDateTime held; lastModifiedDateTime at the rounds'
  // start, less the overlap). The rounds' stats if it did so; nullopt if the collection is not one
  // of those (or not mirrored whole).
  Result<std::optional<DeltaStats>> LoadByDelta(const std::string& user_id, Collection collection);
  // True if notifications are answered by a delta pass rather than by created and
  // modified rounds: the collection's list does not cover it (contacts: the default
  // folder only), or it is scoped by mail folders.
  bool RoundsByDelta(const std::string& user_id, Collection collection) const;
  const config::Scopes& scopes() const { return scopes_; }

  // Records the outcome of Graph work on the collection (`kind` names it: "created",
  // "delta", "subscribe", ...): success resumes a stopped collection, a refusal stops it.
  void Note(const std::string& user_id, Collection collection, const std::string& kind,
            const Status& outcome);
  // A collection whose catch-up failed (the initial sync, a delta pass) owes a full pass
  // (Full): the worker runs it when due, backing off while it keeps failing. Nothing else
  // would: notifications only cover what changes from now on.
  void Owe(const std::string& user_id, Collection collection);
  // The owed collections due by now, oldest debt first; each is marked as tried (its next
  // try backs off) until a Full pass succeeds.
  std::vector<std::pair<std::string, Collection>> TakeDue();
  // After a catch-up pass that succeeded: one more Full pass `sync.catch_up_recheck`
  // later (TakeDue hands it out), for the changes made just before the catch-up that
  // Graph's lists did not show yet. Nothing else would bring them: their notifications
  // were lost with the gap the catch-up covered. A Full pass that pays a debt schedules
  // its recheck itself.
  void Recheck(const std::string& user_id, Collection collection);
  // When the earliest recheck is due; nullopt if none is waiting.
  std::optional<TimePoint> NextRecheck();
  // When a stopped collection may be tried again; nullopt if it is not stopped (or due).
  std::optional<TimePoint> StoppedUntil(const std::string& user_id, Collection collection);
  // When the newest successful round on `cursor` began (local clock, store::FormatUtc
  // text; "" if none yet): a change notified before then was committed before that
  // round began, so the round listed it unless it is stamped before the overlap.
  std::string RoundStartedAt(const std::string& user_id, Collection collection, Cursor cursor);
  // Reads the items among `ids` the mirror does not hold one by one from Graph (an item
  // gone by then is not added) and writes them; how many were read. For created items a
  // round did not list: stamped before the watermark it re-read from, or listed late.
  Result<int64_t> FetchMissing(const std::string& user_id, Collection collection,
                               const std::vector<std::string>& ids);
  // Notified versions the rounds did not show: Graph may notify a change before its list
  // and delta queries show it. Reads by id each item among `notified` (id, changeKey; an
  // empty changeKey asks only for the item) that the mirror does not hold at every version
  // notified for it (so an item notified at two versions is read), and writes Graph's
  // current state (404 removes the row).
  struct LateFetch {
    int64_t fetched = 0;  // items read by id
    // Read, but at none of the versions notified for it: (id, the changeKey read).
    std::vector<std::pair<std::string, std::string>> behind;
  };
  Result<LateFetch> FetchNotified(const std::string& user_id, Collection collection,
                                  const std::vector<std::pair<std::string, std::string>>& notified);
  // Reads each of `ids` by id and writes Graph's current state, whatever the mirror holds:
  // a row whose item is gone (404) or out of the collection's scope is removed. For
  // `deleted` from a scoped subscription ("left the scope"), which the delta rounds may
  // not show yet. Returns how many were read.
  Result<int64_t> Recheck(const std::string& user_id, Collection collection,
                          const std::vector<std::string>& ids);
  // Reads the series `master_id` anew through its instances (DeltaSyncer::ReadSeries).
  Result<int64_t> ReadSeries(const std::string& user_id, const std::string& master_id);
  // Ends the rounds running and those to come after their current page (Cancelled), as if
  // the process stopped there: what they committed stays, an open bulk load stays open
  // for the next start. For Stop() during a long initial sync. Not undone.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  const RoundTimings& timings() const { return timings_; }
  // Items received from Graph by every round so far (for progress displays).
  int64_t items_received() const { return received_.load(std::memory_order_relaxed); }
  // The one-line reason a refusal stops a collection, or "" if `outcome` is no refusal.
  static std::string StopReason(const std::string& user_id, Collection collection,
                                const Status& outcome);

 private:
  using Key = std::pair<std::string, Collection>;

  Clock* clock_;
  store::Store* store_;
  std::atomic<int64_t> received_{0};    // before the syncers, which point at it
  std::atomic<bool> cancelled_{false};  // likewise (their after_page reads it)
  const config::Scopes scopes_;         // likewise
  Resyncer resyncer_;
  DeltaSyncer delta_;

  struct Debt {
    TimePoint due;
    int tries = 0;
  };

  Result<ResyncStats> Round(const std::string& user_id, Collection collection, Cursor cursor,
                            Reason reason);
  // True for events (whole: no $filter) of which the mirror holds none and no
  // createdDateTime round has read any: their first Full pass runs the calendar window's
  // delta round before the createdDateTime round from the beginning. That round then lists
  // every event after the window's round began, and what changes from then on is in the
  // next round from the window's token (changes outside the window as `@removed`), so the
  // window's fresh round skips the listing of every event's id that it runs otherwise
  // (DeltaSyncer's `listed_after`).
  Result<bool> WindowFirst(const std::string& user_id, Collection collection);
  Result<DeltaStats> DeltaPass(const std::string& user_id, Collection collection,
                               bool listed_after);

  // Runs `round` as a bulk load of the collection (store::MirrorTables::BeginLoad) if it
  // is the `first` read of an empty collection or a load of it is open (a process stopped
  // mid-load), and then finishes that load.
  template <typename F>
  auto AsLoad(const std::string& user_id, Collection collection, bool first, F&& round)
      -> decltype(round());
  // Runs `round`, timing it as round kind `kind` (an index of RoundTimings::kKinds).
  template <typename F>
  auto Timed(int kind, F&& round);

  RoundTimings timings_;
  std::mutex mu_;
  std::map<Key, TimePoint> stopped_;  // until when
  std::map<Key, Debt> owed_;
  std::map<Key, TimePoint> recheck_;  // when
  const std::chrono::seconds recheck_after_;
  const std::chrono::seconds overlap_;                       // sync.overlap
  const std::string bodies_;                                 // sync.bodies
  std::map<Key, std::array<std::string, 2>> round_started_;  // created, modified
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_COLLECTION_SYNC_H_
