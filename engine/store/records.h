// The records the store reads and writes: plain structs shared by its facets and their
// callers.
//
// Thread-safety: values.

#ifndef GRAPHMIRROR_ENGINE_STORE_RECORDS_H_
#define GRAPHMIRROR_ENGINE_STORE_RECORDS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/clock.h"
#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

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
  std::string loading_since;  // when its bulk load began (store clock); empty if none is open
};

// A bulk load in progress (schema/017_bulk_load.sql, MirrorTables::BeginLoad).
struct LoadState {
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string started_at;  // store clock
};

// The message bodies a mailbox keeps (message_bodies).
struct BodyCount {
  std::string user_id;
  int64_t bodies = 0;
  int64_t bytes = 0;  // of their content
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
  std::string etag;     // resourceData.@odata.etag, as sent
  RichContent rich;     // empty unless the item carried encryptedContent
  bool scoped = false;  // from a scoped mirror's subscription (KnownSubscription::scoped)
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
  std::string scope;  // the mail folder of a folder-scoped collection, else ""
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
  std::string user_id;                            // empty for a list item
  Collection collection = Collection::kMessages;  // mailbox items only
  std::string id;                                 // a list item: its SharePoint Id, as text
  bool deleted = false;
  // A SharePoint list item (list_items): its site and list; empty for mailbox items.
  std::string site;
  std::string list_id;
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

// One batch of a list's changes, written in one transaction: the rows and the change
// token they bring the list to.
struct ListChanges {
  std::string site;
  std::string list_id;
  std::vector<ListItemRow> upserts;
  std::vector<int64_t> deletes;
  std::string change_token;  // required: the new watermark
  // ListState::notified as the sync began: notifications that came later keep the list due.
  int64_t notified_before = 0;
  // What the batch cost, added to the list's counters.
  int64_t changes_read = 0;
  int64_t requests = 0;
};

// One page of a whole-list read (ListStore::BeginWholeRead .. FinishWholeRead).
struct ListPage {
  std::string site;
  std::string list_id;
  int64_t generation = 0;  // BeginWholeRead's
  std::vector<ListItemRow> rows;
  int64_t requests = 0;
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

// What `status` and /metrics show of one mirrored list.
struct ListStatusRow {
  std::string site;
  std::string list_id;
  int64_t items = 0;
  std::string synced_at;  // the last successful sync (local clock); empty if never
  int64_t full_reads = 0;
  int64_t pending = 0;               // notifications received since the last sync began
  bool has_token = false;            // false: the next sync reads the list whole
  std::string token_at;              // when the change token was stored; empty if none
  std::string last_change_at;        // when an item was last written or removed
  std::string subscription_expires;  // the latest of its subscriptions; empty if none
  std::string last_error;            // the last failed sync, until one succeeds
  std::string last_error_at;
  std::string subscription_error;  // the last failed subscription call, until one succeeds
  // Counters since the list was first mirrored.
  int64_t notified = 0;
  int64_t syncs = 0;
  int64_t sync_failures = 0;
  int64_t changes_read = 0;
  int64_t items_written = 0;
  int64_t items_removed = 0;
  int64_t requests = 0;
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
// A row of the change feed (schema/018_changes.sql).
struct ChangeRow {
  int64_t seq = 0;
  std::string resource;
  std::string user_id;  // mailbox resources
  std::string site;     // list items
  std::string list_id;
  std::string item_id;
  std::string kind;
  std::string changed_at;
  std::vector<std::string> fields;  // update and move
};

// A named consumer of the change feed and its cursor.
struct ConsumerRow {
  std::string name;
  int64_t last_seq = 0;
  std::string updated_at;
};

// A mirror row's identity and version, as a verify compares it with Graph's listing.
struct RowVersion {
  std::string id;
  std::string change_key;   // "" if the row has none
  std::string modified_at;  // Graph's lastModifiedDateTime, normalized; "" if none
};

// The last verify of one scope (schema/019_verify.sql).
struct VerifyRecord {
  std::string user_id;
  std::string resource;     // "messages", "events", "event_occurrences", "contacts"
  std::string verified_at;  // store clock; set by RecordVerify
  int64_t graph_items = 0;
  int64_t mirror_items = 0;
  int64_t missing = 0;
  int64_t extra = 0;
  int64_t stale = 0;
  int64_t repaired = 0;
  int64_t remaining = 0;
};

struct StoreStats {
  // Transactions the writer committed. Concurrent writes share one (group commit), so
  // under load this grows slower than the number of Write() calls.
  std::atomic<uint64_t> commits{0};
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_RECORDS_H_
