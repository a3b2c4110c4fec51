// Store: the SQLite database behind the mirror.
//
// One writer thread owns the write connection. Every write is a job handed to it; the
// writer runs all jobs waiting at that moment in one transaction (group commit, as
// leveldb's DBImpl::Write batches writers), each job inside its own SAVEPOINT so that one
// failing job is rolled back alone. A caller's Write() returns only after the commit that
// holds its job is durable (WAL, synchronous=FULL). Reads use their own connection and
// never wait for the writer (they share one read connection among themselves).
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_STORE_H_
#define GRAPHMIRROR_ENGINE_STORE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/clock.h"
#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

namespace SQLite {
class Database;
}

namespace graphmirror::store {

struct Watermark {
  std::string created_after;   // newest committed createdDateTime; empty if none yet
  std::string modified_after;  // newest committed lastModifiedDateTime; empty if none yet
};

// One page of a collection as it is written: the items, the ids removed, and the
// watermark the page justifies. All of it lands in one transaction or none of it does.
struct PageWrite {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::vector<MirrorItem> upserts;
  std::vector<std::string> deletes;
  std::string created_after;   // if non-empty, the watermark moves forward to it (never back)
  std::string modified_after;  // likewise for the lastModifiedDateTime watermark
};

struct CollectionCount {
  std::string user_id;
  Collection collection;
  int64_t items = 0;
  std::string created_after;  // the watermarks, empty if none
  std::string modified_after;
};

// The encryptedContent of a rich notification item, as received (base64 text). It is
// decrypted only by the sync worker, after the body's validation tokens checked.
struct RichContent {
  std::string data;
  std::string data_key;
  std::string signature;
  std::string certificate_id;
  bool empty() const { return data.empty() && data_key.empty() && signature.empty(); }
};

// A notification item as the receiver accepted it, ready for the log.
struct LogEntry {
  std::string dedupe_key;
  std::string subscription_id;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string change_type;      // "created", "updated", "deleted"; empty for lifecycle
  std::string lifecycle_event;  // empty for change notifications
  std::string resource;
  std::string item_id;
  std::string notification_id;
  std::string etag;  // resourceData.@odata.etag, as sent
  RichContent rich;  // empty unless the item carried encryptedContent
};

// A log row waiting for the sync worker.
// "YYYY-MM-DDTHH:MM:SS.fffffffZ" of a local clock reading: the text of the database's
// bookkeeping times (received_at, synced_at, ...), ordered as the times are.
std::string FormatUtc(TimePoint t);

struct PendingNotification {
  int64_t seq = 0;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string change_type;
  std::string lifecycle_event;
  std::string subscription_id;
  std::string item_id;
  std::string etag;  // the notified version (resourceData.@odata.etag), "" if none
  int attempts = 0;
  std::string received_at;  // local clock, normalized UTC text
  RichContent rich;
  int64_t token_batch = 0;  // the body's validationTokens (NotificationTokens); 0: none
};

enum class LogState { kApplied, kIgnored, kFailed };

struct SubscriptionRecord {
  std::string id;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string resource;
  std::string change_type;
  std::string client_state;
  std::string expires_at;  // normalized UTC text
  std::string created_at;
  std::string renewed_at;
  std::string encryption_certificate_id;  // rich subscriptions only
};

struct LogStats {
  int64_t pending = 0;  // received or failed, not yet done
  int64_t failed = 0;
  int64_t suspicious = 0;        // ignored because their body's validation tokens failed
  std::string last_received_at;  // newest received_at, empty if none
};

// Where the delta rounds of one scope of a collection stand (schema/003_recovery.sql): a
// mail folder or a contact folder (scope: its id) or a calendar window.
struct DeltaScope {
  std::string scope;
  std::string delta_link;        // ended the last complete round; empty if none yet
  std::string next_link;         // where a round in progress resumes; empty if none runs
  bool fresh = false;            // the round in progress began without a token: it sweeps
  std::string round_started_at;  // Graph's clock when the latest round began; empty if none
};

// One page of a delta round. Its items, removals and the link it justifies are written
// in one transaction.
struct DeltaPageWrite {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string scope;
  std::vector<MirrorItem> upserts;       // present in the scope now
  std::vector<std::string> removed_ids;  // reported gone from the scope: queued for removal
  // The first page of a round: `round_started_at` (Graph's clock) is recorded for the
  // scope, and for a fresh round what an interrupted fresh round had listed is forgotten.
  bool first_page = false;
  std::string round_started_at;
  bool fresh = false;     // the round began without a token: its ids are kept for the sweep
  std::string next_link;  // non-empty: the round goes on from here
  // Non-empty: the round ended. A fresh round then queues for removal every row of the
  // scope it did not list.
  std::string delta_link;
};

// An item a delta round reported gone from `scope` (or that a fresh round did not list).
struct DeltaRemoval {
  std::string item_id;
  std::string scope;
};

// What `graphmirror status` shows for one configured (mailbox, collection).
struct SyncStatus {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string last_sync_at;  // local clock, normalized UTC text; empty if never
  std::string last_sync_kind;
  std::string last_error;
  std::string last_error_at;
  std::string last_lifecycle_event;
  std::string last_lifecycle_at;
  std::string stopped_reason;  // empty unless stopped
  std::string stopped_at;
  std::string retry_at;
};

// A mirror row that a committed write inserted, changed or deleted.
struct MirrorChange {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string id;
  bool deleted = false;
};
// Called on the writer thread right after a commit, before its writers are told it is
// durable. It must be quick and must not write to the store (it would wait for itself).
using ChangeObserver = std::function<void(const std::vector<MirrorChange>&)>;

// Text a user typed, as an FTS5 query: each word must occur (in any column), a word ending
// in '*' matches as a prefix, and nothing else is syntax (quotes, AND, NEAR, ... are words).
// Empty if the text has no words.
std::string FullTextQuery(const std::string& text);

// --- SharePoint lists (schema/006_sharepoint.sql) ---------------------------------------
struct ListItemRow {
  int64_t item_id = 0;
  std::string json;
  std::string created_at;  // as SharePoint wrote Created / Modified
  std::string modified_at;
};

// One sync of a list, written in one transaction: the rows and the change token they
// bring the list to.
struct ListChanges {
  std::string site;
  std::string list_id;
  std::vector<ListItemRow> upserts;
  std::vector<int64_t> deletes;
  // A whole-list read: every row not in `upserts` is deleted too.
  bool replace_all = false;
  std::string change_token;  // required: the new watermark
  // ListState::notified as the sync began: notifications that came later keep the list due.
  int64_t notified_before = 0;
};

struct ListState {
  std::string site;
  std::string list_id;
  std::string change_token;  // empty: never synced, or the token expired
  int64_t notified = 0;      // notifications received
  int64_t synced = 0;        // `notified` as the last successful sync began
  int64_t full_reads = 0;
  bool due() const { return notified > synced || change_token.empty(); }
};

struct ListSubscriptionRecord {
  std::string id;
  std::string site;
  std::string list_id;
  std::string client_state;
  std::string notification_url;
  std::string expires_at;  // normalized UTC text
};

// Counters since Open(), each read on its own.
struct StoreStats {
  // Transactions the writer committed. Concurrent writes share one (group commit), so
  // under load this grows slower than the number of Write() calls.
  std::atomic<uint64_t> commits{0};
};

class WriteContext;

class Store {
 public:
  // Opens (creating if needed, mode 0600) and migrates the database at `path`.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, Clock* clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Marks this process as the database's one live user (a daemon or a started Engine:
  // subscriptions, webhook, worker) with an exclusive lock on the file, held until
  // ReleaseLiveLock or the Store's end (or the process's: a killed daemon leaves none).
  // Unavailable naming the file if another holds it; one-shot commands (sync
  // --once, search, status) do not take it and run beside a daemon.
  Status HoldLiveLock();
  void ReleaseLiveLock();

  // Writes a page: upserts (an older version never replaces a newer one, by
  // lastModifiedDateTime), deletes, and the watermark, atomically. Idempotent.
  Status ApplyPage(PageWrite page);

  // Runs `job` on the writer thread inside a transaction shared with concurrent jobs and
  // returns once that transaction committed. A job signals failure by throwing; its own
  // changes are then rolled back and its Status says why. Building block for callers
  // that need writes the methods above do not cover.
  Status Write(std::function<void(WriteContext&)> job);
  // Like Write, but gives up at `deadline` (system_clock, real time): a job that has not
  // started by then is withdrawn and Unavailable returned. A job already running may
  // still commit after that, so callers must treat Unavailable as "maybe written" (the
  // notification log dedupes, so a redelivery is harmless).
  Status WriteBefore(std::function<void(WriteContext&)> job, TimePoint deadline);

  // Appends accepted notification items (duplicates of logged ones are dropped by
  // dedupe key) and returns once they are durable. If the commit has not started by
  // `deadline`, the entries are withdrawn and Unavailable returned: the receiver answers
  // 503 and Graph delivers again. `validation_tokens` (a rich body's JWTs), if any, are
  // stored once and every entry of the body refers to them (token_batch).
  Status AppendNotifications(std::vector<LogEntry> entries, TimePoint deadline,
                             std::vector<std::string> validation_tokens = {});
  // The validation tokens stored for `token_batch`; empty if there is no such batch.
  Result<std::vector<std::string>> NotificationTokens(int64_t token_batch);

  // Up to `limit` log rows in state received, or failed and due by `now`, oldest first.
  Result<std::vector<PendingNotification>> PendingNotifications(TimePoint now, int limit);
  // Ends rows: applied or ignored for good, or failed (retried at `retry_at`).
  Status MarkNotifications(const std::vector<int64_t>& seqs, LogState state,
                           const std::string& reason, TimePoint retry_at = {});
  // In one transaction: upserts the items that rich notifications carried (never moving a
  // watermark, never replacing a newer version, never bringing back an item a `deleted`
  // notification named, as Graph does not reuse ids), deletes the items named by `deleted`
  // notifications, and marks the rows `seqs` applied.
  // The ids among `items` whose stored row has the same lastModifiedDateTime but another
  // changeKey: two versions Graph stamped in one second (messages carry whole seconds),
  // which a reordered delivery cannot tell apart. Only a query can say which is current.
  Result<std::vector<std::string>> TiedVersions(const std::string& user_id, Collection collection,
                                                const std::vector<MirrorItem>& items);
  // The ids among `items` (rich content) the mirror does not hold although their version
  // is older than the start of the last complete delta pass (for events: inside its
  // calendar window, as the pass lists no other). Either the item was gone when the pass
  // looked (its `deleted` notification lost, this one late) or the pass's lists did not
  // show it yet (Graph's lists can lag): only a read by id can tell.
  Result<std::vector<std::string>> PassedOver(const std::string& user_id, Collection collection,
                                              const std::vector<MirrorItem>& items);
  Status ApplyNotificationChanges(const std::string& user_id, Collection collection,
                                  const std::vector<MirrorItem>& upserts,
                                  const std::vector<std::string>& deleted_ids,
                                  const std::vector<int64_t>& seqs);
  Result<LogStats> NotificationStats(const std::string& user_id);
  // Deletes applied and ignored rows that ended before `cutoff` (local time), and the
  // validation tokens no row refers to any more; returns how many rows. Redeliveries come
  // within hours, so old rows no longer serve deduplication.
  Result<int64_t> PruneNotificationLog(TimePoint cutoff);

  // Inserts or replaces by (user, collection); `also_log` is appended to the notification
  // log in the same transaction (the keeper queues a catch-up with a new subscription).
  Status PutSubscription(const SubscriptionRecord& record,
                         const std::vector<LogEntry>& also_log = {});
  Status DeleteSubscription(const std::string& id);
  Result<std::vector<SubscriptionRecord>> Subscriptions();

  Result<Watermark> GetWatermark(const std::string& user_id, Collection collection);
  Result<int64_t> CountItems(const std::string& user_id, Collection collection);
  // Every (mailbox, collection) with items or a watermark, ordered by user then collection.
  Result<std::vector<CollectionCount>> Counts();
  // Those of `notified` (id, changeKey) the collection does not hold for the mailbox at
  // that version: no row, or a row with another changeKey. An empty changeKey asks only
  // for the row. In the order given.
  Result<std::vector<std::string>> NotHeldAt(
      const std::string& user_id, Collection collection,
      const std::vector<std::pair<std::string, std::string>>& notified);
  // The stored createdDateTime of an item; "" if the collection does not hold it.
  Result<std::string> CreatedAt(const std::string& user_id, Collection collection,
                                const std::string& id);
  // Those of `ids` the collection does not hold for the mailbox, in the order given.
  Result<std::vector<std::string>> MissingItems(const std::string& user_id, Collection collection,
                                                const std::vector<std::string>& ids);
  // The ids of a collection's items for one mailbox, sorted (for convergence checks).
  Result<std::vector<std::string>> ItemIds(const std::string& user_id, Collection collection);

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
  // Ids of the collection's rows created at or after `since` (Graph's createdDateTime),
  // only those in folder `folder_id` (mail or contact folder) if it is not empty.
  Result<std::vector<std::string>> CreatedSince(const std::string& user_id, Collection collection,
                                                const std::string& folder_id,
                                                const std::string& since);
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

  // --- Search ---------------------------------------------------------------------------------
  // Messages matching `text` (see FullTextQuery) in subject, body preview or sender, best
  // first; only `user_id`'s if it is not empty. Each one's body_preview is the best
  // matching passage (matches in [brackets]); json is left empty. InvalidArgument if the
  // text has no words.
  Result<std::vector<Message>> SearchMessages(const std::string& text, const std::string& user_id,
                                              int limit);

  // --- Typed reads (the embedding API's accessors) ----------------------------------------
  Result<std::vector<Message>> Messages(const MessageQuery& query);
  Result<std::vector<Event>> Events(const EventQuery& query);
  Result<std::vector<Contact>> Contacts(const ContactQuery& query);

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

  // --- SharePoint lists -------------------------------------------------------------------
  // Writes one sync of a list and its new change token atomically. Idempotent: upserts
  // replace rows, deletes of absent rows do nothing.
  Status ApplyListChanges(const ListChanges& changes);
  // Forgets the list's change token (it expired): the next sync reads the list whole.
  Status ClearListToken(const std::string& site, const std::string& list_id);
  // Counts a notification for each list, durably, before `deadline` (as
  // AppendNotifications: Unavailable means "maybe written"; the receiver answers 503).
  Status NoteListsNotified(const std::vector<std::pair<std::string, std::string>>& lists,
                           TimePoint deadline);
  // The state of (site, list); zeros and no token if the list was never seen.
  Result<ListState> GetListState(const std::string& site, const std::string& list_id);
  // The items of a list, by id.
  Result<std::vector<ListItemRow>> ListItems(const std::string& site, const std::string& list_id);
  Status PutListSubscription(const ListSubscriptionRecord& record);
  Status DeleteListSubscription(const std::string& id);
  Result<std::vector<ListSubscriptionRecord>> ListSubscriptions();

  // Replaces the observer of committed mirror changes (empty: none).
  void SetChangeObserver(ChangeObserver observer);

  const StoreStats& stats() const;

  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  // Runs `fn` on the shared read connection; an exception becomes IOError("<what>: ...").
  Status Read(const char* what, const std::function<void(SQLite::Database&)>& fn);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_STORE_H_
