// DeltaSyncer: how the mirror sees deletions and moves, which createdDateTime and
// lastModifiedDateTime queries cannot show.
//
// A pass over a (mailbox, collection) runs a Graph delta round in each of its scopes:
// messages per mail folder (`/mailFolders/{id}/messages/delta`, hidden folders included,
// search folders skipped), contacts per contact folder
// (`/contactFolders/{id}/contacts/delta`: the default folder and every folder under it;
// Graph has no mailbox-wide contact delta), events through
// `/calendarView/delta` over a window around now (`sync.calendar_past_days` and
// `calendar_future_days`, moved on every 30 days). A round resumes from the stored
// nextLink, else continues from the stored deltaLink, else starts fresh; every page is
// committed with the link it justifies. An expired token (410 Gone, syncStateNotFound,
// resyncRequired, SyncStateInvalid) starts a fresh round, which lists the whole scope
// and at its end queues what it did not list for removal.
//
// Removals are queued, not done at once, and applied when the rounds of every scope have
// ended (see Store::EndDeltaPass): readers never see a collection emptied by a
// fresh round, and a message moved from folder A to folder B (gone from A's round,
// present in B's, in either order) keeps its row with its folder updated. Some rows are
// checked one by one with Graph (GET; 404 removes) instead: events (one that merely left
// the window still exists), rows changed since the round that reported them gone began,
// and rows created since the previous round that this round did not list (a delta round
// never reports an item created and deleted since its token, so if the `deleted`
// notification was lost, only this finds it). Events outside the window are covered by
// listing the ids of all events once per pass (keyset-paged on createdDateTime): a row
// Graph does not list is checked, and an event Graph lists that the mirror lacks is read
// by id (one outside the window whose notification was lost; no round lists it). That
// listing runs only after a fresh round of the window: a round from a token reports every
// event changed outside the window as `@removed`, and each is checked by id.
//
// A pass first brings the containers of the collection up to date (ContainerSyncer: the
// mail folders for messages, ...).
//
// Scoped mirrors (config::MirrorScope). Messages scoped by folder run the rounds of the
// configured folders only (each resolved by `GET /mailFolders/{id or well-known name}`),
// and an item read by id that is in no scoped folder leaves the mirror. A filtered
// collection has no delta round that keeps to its filter (Graph's message and event
// delta take no such $filter): its pass sweeps instead. It lists the ids and changeKeys
// of every item the filter matches (keyset-paged on createdDateTime), reads by id what
// the mirror lacks or holds at another version, and removes the rows Graph did not list
// (a row changed less than an hour before the listing began is read by id instead, as
// Graph's lists can lag: 404 removes it).
//
// Thread-safety: safe from many threads; passes over the same (mailbox, collection) run
// one at a time.

#ifndef GRAPHMIRROR_ENGINE_SYNC_DELTA_H_
#define GRAPHMIRROR_ENGINE_SYNC_DELTA_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/item.h"
#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/graph/select.h"
#include "engine/store/store.h"
#include "engine/sync/container_sync.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::sync {

struct DeltaOptions {
  int page_size = 500;  // Prefer: odata.maxpagesize
  // Margin under Graph's clock for the start of a round (see DeltaPageWrite).
  std::chrono::seconds overlap{60};
  int calendar_past_days = 365;
  int calendar_future_days = 730;
  // Called after each committed page with the pages committed so far in this pass;
  // returning false stops the pass there (Cancelled), as if the process died.
  std::function<bool(int pages_committed)> after_page;
  // Rich mailboxes read and keep only the properties their notifications carry.
  graph::Projection projection;
  // If set, items received are added to it as pages come (progress displays).
  std::atomic<int64_t>* progress = nullptr;
  // Scoped mirrors: the mail folders whose rounds run, or the $filter a pass sweeps by.
  config::Scopes scopes;
  // sync.bodies: the form message bodies are kept in (graph::PutBodiesInForm). Every read
  // asks for HTML, the only form delta rounds serve.
  std::string bodies = "text";

  static DeltaOptions From(const config::SyncSettings& sync, graph::Projection projection = {});
};

struct DeltaStats {
  int64_t scopes = 0;
  int64_t pages = 0;
  int64_t items = 0;              // present items received (replays included)
  int64_t without_body = 0;       // messages among them that came without a body
  int64_t removed = 0;            // mirror rows removed at the end of the pass
  int64_t verified = 0;           // items checked one by one with Graph before removal
  int64_t fresh_rounds = 0;       // rounds started without a token
  int64_t fresh_ended = 0;        // rounds without a token that reached their deltaLink
  int64_t expired_tokens = 0;     // tokens Graph no longer knew (each restarted a round fresh)
  int64_t container_rows = 0;     // container rows written (folders, calendars)
  int64_t container_removed = 0;  // container rows deleted
};

class DeltaSyncer {
 public:
  DeltaSyncer(graph::GraphClient* client, store::Store* store, Clock* clock, DeltaOptions options);

  // One pass over every scope of the collection, then the queued removals.
  // `listed_after`: the caller reads every event by a createdDateTime round from the
  // beginning once this pass has ended (a first load), so a fresh round of the window
  // lists no event ids of its own: that round lists them all, and whatever changes from the
  // window round's start on is in the next round from its token.
  Result<DeltaStats> Sync(const std::string& user_id, Collection collection,
                          bool listed_after = false);
  // Reads by id the bodies the mirror lacks of `user_id`'s messages (none if bodies are not
  // kept, or the mailbox is rich: its items keep no body, see select.h): a delta round's
  // item may come without one. Returns how many were read.
  Result<int64_t> ReadMissingBodies(const std::string& user_id);
  // Reads the occurrences and exceptions of the series `master_id` within the calendar
  // window (GET .../events/{id}/instances, paged) and makes the mirror's rows of that
  // series exactly those; a series that is gone (404) leaves with its occurrences.
  // Returns how many occurrences were read.
  Result<int64_t> ReadSeries(const std::string& user_id, const std::string& master_id);
  // What `graphmirror verify` compares the mirror with: the (id, changeKey) of every item
  // Graph lists now in the scope the mirror is meant to hold, read with `$select` of
  // those properties (and createdDateTime, which paging and parsing need) and pages of
  // 1,000. `occurrences` false: the collection's own table (messages of every folder, or
  // of the scoped folders; events as /events lists them: single instances and series
  // masters; contacts of the default folder and every folder under it; a filtered
  // collection, what its $filter matches); true (events only): the occurrences and
  // exceptions calendarView lists in the calendar window (event_occurrences). Every page
  // is read whole or the listing fails: a listing is never silently short.
  Result<std::map<std::string, std::string>> ListVersions(const std::string& user_id,
                                                          Collection collection, bool occurrences);
  // GETs each item: 404 becomes a delete, anything else an upsert of its current state
  // (the page has no watermark).
  Result<store::PageWrite> Fetch(const std::string& user_id, Collection collection,
                                 const std::set<std::string>& ids);

 private:
  struct Scope {
    std::string scope;      // as stored in delta_links
    std::string fresh_url;  // the first request of a fresh round
    bool sweep_when_gone;   // a mail or contact folder: its rows go with it
  };

  Result<std::vector<Scope>> Scopes(const std::string& user_id, Collection collection);
  Result<std::vector<Scope>> MailFolderScopes(const std::string& user_id);
  // The ids of the configured folders of a folder-scoped mailbox (resolved once).
  Result<std::set<std::string>> ScopedFolderIds(const std::string& user_id);
  // Lists the ids (and changeKeys, if `change_keys`) of every item of the collection,
  // or of those `filter` matches, keyset-paged on createdDateTime.
  Result<std::map<std::string, std::string>> ListIds(const std::string& user_id,
                                                     Collection collection,
                                                     const std::string& filter, bool change_keys,
                                                     std::string* listing_began);
  // Adds the (id, changeKey) of every item of the collection at `path` (a folder's
  // messages or contacts, calendarView) to `out`, following its nextLinks. `keep`, if set,
  // says which items count (calendarView: occurrences and exceptions only).
  Status ListPaged(const std::string& user_id, Collection collection, const std::string& path,
                   const std::function<bool(const MirrorItem&)>& keep,
                   std::map<std::string, std::string>* out);
  // The pass of a filtered collection (see above).
  Status Sweep(const std::string& user_id, Collection collection, const std::string& filter,
               DeltaStats* stats);
  Result<std::vector<Scope>> ContactFolderScopes(const std::string& user_id);
  // The default contact folder's id: `from_listing` (the parent of a listed folder) if
  // known, else a contact's parentFolderId; "" if neither says (no folder, no contact).
  Result<std::string> DefaultContactFolder(const std::string& user_id,
                                           const std::string& from_listing);
  Scope CalendarScope(const std::string& user_id) const;
  // The calendar window now: (startDateTime, endDateTime) literals.
  std::pair<std::string, std::string> CalendarWindow() const;
  // A request for one page of a paged collection (a delta round, instances): client
  // errors answered, the configured page size preferred.
  graph::Request PageRequest(const std::string& user_id, const std::string& url) const;
  // "?$select=..." for a rich mailbox's delta requests, else "".
  std::string SelectQuery(const std::string& user_id, Collection collection) const;
  // Runs the scope's round. A round that brought nothing but a new link is not written
  // but added to `quiet`, for the pass's last transaction.
  // Rows that need a word from Graph before they are removed go to `to_verify`.
  Status RunScope(const std::string& user_id, Collection collection, const Scope& scope,
                  const store::DeltaScope* stored, DeltaStats* stats,
                  std::vector<store::DeltaPageWrite>* quiet, std::set<std::string>* to_verify);
  // Lists the ids of every event (calendarView delta sees only its window) and adds to
  // `to_verify` the mirror's events Graph did not list and the listed events the mirror
  // lacks.
  Status UnlistedEvents(const std::string& user_id, std::set<std::string>* to_verify);
  std::mutex& LockFor(const std::string& user_id, Collection collection);

  graph::GraphClient* client_;
  store::Store* store_;
  Clock* clock_;
  DeltaOptions options_;

  ContainerSyncer containers_;
  std::mutex locks_mu_;  // guards locks_, default_contact_folders_ and scoped_folder_ids_
  std::map<std::string, std::set<std::string>> scoped_folder_ids_;
  std::map<std::pair<std::string, Collection>, std::unique_ptr<std::mutex>> locks_;
  std::map<std::string, std::string> default_contact_folders_;  // by mailbox, once known
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_DELTA_H_
