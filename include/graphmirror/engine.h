// Engine: graphmirror inside a program. It opens the mirror database named by a Config,
// syncs it (once, or live from Graph's change notifications), and answers queries.
//
//   auto config = graphmirror::LoadConfig("graphmirror.toml");        // or fill one in
//   auto engine = graphmirror::Engine::Open(*config);
//   (*engine)->SyncOnce();                                            // one pass
//   (*engine)->Start();                        // or: live, with its own webhook listener
//   auto inbox = (*engine)->Messages({.user_id = "...", .limit = 20});
//
// A program that runs its own HTTP server starts the engine with serve_http = false and
// hands it what Graph POSTs to the notification URL (HandleNotification) and the
// validation handshake (HandleValidation). Errors come back as Status / Result; nothing
// throws across this API.
//
// Thread-safety: Open, Start and Stop are for one controlling thread; every other method
// may be called from any thread at any time, also while the engine runs. The observer is
// called on the engine's writer thread (see SetObserver). The change feed may also be
// read and committed by other processes on the same database (a consumer's cursor is one
// row, moved only forward); two readers of one consumer at once each get the same changes.

#ifndef GRAPHMIRROR_ENGINE_H_
#define GRAPHMIRROR_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/clock.h"
#include "graphmirror/collection.h"
#include "graphmirror/config.h"
#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

namespace graphmirror {

// Reads the TOML config file documented in the README (relative paths resolve against
// its directory; GRAPHMIRROR_CLIENT_SECRET supplies graph.client_secret).
Result<Config> LoadConfig(const std::string& path);

struct CollectionState {
  std::string user_id;
  Collection collection = Collection::kMessages;
  int64_t items = 0;
  std::string created_up_to;   // the createdDateTime watermark (Graph's time); empty if none
  std::string modified_up_to;  // the lastModifiedDateTime watermark; empty if none
  std::string last_sync_at;    // local clock; empty if never
  std::string last_sync_kind;  // "full", "delta", ...; empty if never
  std::string last_error;      // the latest failure, and when; empty if none
  std::string last_error_at;
  std::string last_lifecycle_event;  // "missed", "subscriptionRemoved", ...; empty if none
  std::string last_lifecycle_at;
  std::string stopped_reason;  // why Graph refuses it (permission, credentials); empty if not
  std::string stopped_at;
  std::string retry_at;  // when a stopped collection is tried again
  // While the collection is read into an empty mirror in bulk, when that began (local
  // clock); empty otherwise. Its rows are readable as they come, but search finds its
  // messages only once the load has ended and built the full-text index.
  std::string loading_since;
  bool configured = true;  // false: rows of a mailbox or collection no longer configured
};

struct SubscriptionState {
  std::string id;
  std::string user_id;
  Collection collection = Collection::kMessages;
  std::string resource;
  std::string expires_at;
  std::string encryption_certificate_id;  // rich subscriptions only
};

// The notification log of one mailbox.
struct MailboxLogState {
  std::string user_id;
  int64_t pending = 0;     // received, not yet applied
  int64_t failed = 0;      // failed at least once, still being retried
  int64_t suspicious = 0;  // ignored: their body's validation tokens did not check
  std::string last_received_at;
};

// A mirrored container of a mailbox: its mail folders, contact folders or calendars.
struct ContainerState {
  std::string user_id;
  std::string name;  // its table: "mail_folders", ...
  int64_t rows = 0;
  std::string synced_at;  // local clock; empty if never
};

// The message bodies a mailbox keeps (sync.bodies), and what they take.
struct BodyState {
  std::string user_id;
  int64_t bodies = 0;  // messages with a body kept
  int64_t bytes = 0;   // their content, UTF-8
};

// A mirrored SharePoint list ([[sharepoint]]).
struct ListStatus {
  std::string site;
  std::string list_id;
  bool configured = false;
  int64_t items = 0;
  std::string synced_at;              // the last sync (local clock); empty if never
  int64_t full_reads = 0;             // whole-list reads: the first sync, expired change tokens
  int64_t pending_notifications = 0;  // received since the last sync began
  bool has_change_token = false;      // false: the next sync reads the list whole
  std::string change_token_at;        // when the change token was stored; empty if none
  std::string last_change_at;         // when an item was last written or removed
  std::string subscription_expires;   // UTC; empty if there is none
  std::string last_error;             // the last failed sync, until one succeeds
  std::string last_error_at;
  std::string subscription_error;  // the last failed subscription call, until one succeeds
};

// The last verify of one scope (Engine::Verify, `graphmirror verify`), kept in the
// database.
struct VerifyState {
  std::string user_id;
  std::string resource;     // "messages", "events", "event_occurrences", "contacts"
  std::string verified_at;  // local clock
  int64_t graph_items = 0;  // listed by Graph
  int64_t mirror_items = 0;
  int64_t missing = 0;    // in Graph, not in the mirror
  int64_t extra = 0;      // in the mirror, not in Graph
  int64_t stale = 0;      // in both, with another changeKey
  int64_t repaired = 0;   // rows a repair wrote or deleted
  int64_t remaining = 0;  // drift left: after the repair, else missing + extra + stale
};

// What a sync is doing right now, for a progress display.
struct SyncProgress {
  int64_t items_received = 0;  // by the passes of this engine so far
  int waiting_requests = 0;    // Graph requests waiting out a 429, a 5xx or a broken connection
  double longest_wait_seconds = 0;
  std::string wait_reason;  // of the longest wait: "throttled", "service unavailable", ...
  // Start's initial sync (subscriptions, every collection, then the SharePoint lists),
  // which runs in the background: true from Start until it has ended (or Stop).
  bool initial_sync_running = false;
  int initial_sync_collections_done = 0;   // collections it has finished, failed ones too
  int initial_sync_collections_total = 0;  // 0 until it has begun listing them
};

struct EngineStatus {
  bool running = false;  // Start()ed and not Stop()ped
  bool ready = false;    // subscriptions set and the first sync done
  // Start's initial sync is still running (see SyncProgress): notifications are accepted
  // and logged meanwhile, and applied once it has ended.
  bool initial_sync_running = false;
  SyncProgress progress;  // Progress() when the status was read
  // Every configured collection, then any other the database holds rows or state of.
  std::vector<CollectionState> collections;
  std::vector<ContainerState> containers;  // by container, then mailbox
  std::vector<BodyState> bodies;           // by mailbox
  std::vector<ListStatus> lists;           // configured ones first, then any other held
  std::vector<SubscriptionState> subscriptions;
  std::vector<MailboxLogState> logs;       // every mailbox of `collections` and `subscriptions`
  std::vector<VerifyState> verifications;  // the last verify of each scope, by mailbox
  int64_t log_backlog = 0;                 // notifications received and not yet applied
};

// One collection's outcome of a sync pass (SyncOnce, or the initial sync of Start).
struct SyncReport {
  std::string user_id;
  Collection collection = Collection::kMessages;
  Status status;
  int64_t fetched = 0;  // items read from Graph
  int64_t added = 0;    // rows new in the mirror
  int64_t removed = 0;  // rows deleted, or moved out of the mailbox's scope
  int64_t items = 0;    // rows in the mirror after the pass
  double seconds = 0;   // spent reading
};

// What Engine::Verify compares (README "Verify").
struct VerifyOptions {
  std::string user_id;                   // empty: every configured mailbox
  std::optional<Collection> collection;  // empty: every configured collection
  // Fix what differs: read the missing and stale items by id and write them as the sync
  // does (never over a newer version), delete the extra rows, then compare again.
  bool repair = false;
  size_t max_examples = 5;  // ids named per kind of drift and scope (counts are whole)
};

// The drift of one scope: counts, and the first ids of each kind (sorted).
struct VerifyDrift {
  int64_t missing = 0;  // in Graph, not in the mirror
  int64_t extra = 0;    // in the mirror, not in Graph
  int64_t stale = 0;    // in both, with another changeKey
  std::vector<std::string> missing_ids;
  std::vector<std::string> extra_ids;
  std::vector<std::string> stale_ids;
  int64_t total() const { return missing + extra + stale; }
};

// One scope: a mirror table of one mailbox, compared with what Graph lists for it.
struct VerifyScope {
  std::string user_id;
  std::string resource;  // "messages", "events", "event_occurrences", "contacts"
  int64_t graph_items = 0;
  int64_t mirror_items = 0;
  // What the comparison found, each difference confirmed by reading the item by id
  // (Graph's lists may lag what a GET and the notifications show).
  VerifyDrift drift;
  // false: more than 1,000 differences, reported as listed, without reading each by id.
  bool confirmed = true;
  // With repair (and drift): rows written or deleted, and what the comparison after the
  // repair found (all zero once repaired).
  int64_t repaired = 0;
  std::optional<VerifyDrift> after_repair;
  // The drift left: after_repair's, else the comparison's.
  int64_t remaining() const { return after_repair ? after_repair->total() : drift.total(); }
};

struct VerifyResult {
  std::vector<VerifyScope> scopes;
  // HTTP requests the engine sent to Graph while the verify ran, retries included (a
  // started engine's own sync counts too).
  int64_t graph_requests = 0;
  // Drift left in all scopes: 0 means the mirror equals Graph (after the repair, if any).
  int64_t remaining() const {
    int64_t n = 0;
    for (const VerifyScope& s : scopes) n += s.remaining();
    return n;
  }
};

// One change of the mirror, as the change feed holds it (the `changes` table): every
// insert, update, move and delete of a message, event, event occurrence, contact or
// SharePoint list item, recorded in the transaction that made it.
struct FeedChange {
  int64_t seq = 0;       // increasing, never reused; retained changes have no holes
  std::string resource;  // "messages", "events", "event_occurrences", "contacts", "list_items"
  std::string user_id;   // the mailbox; empty for list items
  std::string site;      // list items: the site and list; empty otherwise
  std::string list_id;
  std::string item_id;
  std::string kind;        // "insert", "update", "move" (folder changed), "delete"
  std::string changed_at;  // UTC, when it was applied (see README "Change feed")
  // update and move: the top-level fields of the item's JSON that changed, by name.
  std::vector<std::string> fields;
};

// A named reader of the change feed and its durable cursor.
struct ConsumerState {
  std::string name;
  int64_t last_seq = 0;    // the newest change it committed; 0: none yet
  std::string updated_at;  // when the cursor last moved (or the consumer was registered)
};

// One partition of the [kafka] topic, as the brokers tell it.
struct KafkaPartitionState {
  int32_t partition = 0;
  int64_t committed = -1;  // the next offset the group reads (-1: it committed none)
  int64_t end = -1;        // the partition's end, its high watermark (-1: unknown)
  // Records not committed yet (-1: unknown); with nothing committed, from the start.
  int64_t lag() const { return end < 0 ? -1 : committed < 0 ? -1 : end - committed; }
};

// The Kafka source ([kafka]; Engine::Kafka): what this engine's consumer did since Start,
// and how far the consumer group is, asked of the brokers.
struct KafkaState {
  std::string brokers;
  std::string topic;
  std::string group;
  bool consuming = false;  // this engine reads the topic (started, with consume_kafka)
  // This engine's consumer since Start (all 0 when it does not read).
  int64_t records = 0;   // read, records read again included
  int64_t accepted = 0;  // logged durably (202); offset committed
  int64_t rejected = 0;  // bad input (400, 413, 415): skipped, offset committed
  int64_t retries = 0;   // not durable (503): read again after a backoff
  int64_t commits = 0;   // offset commits confirmed
  int64_t commit_errors = 0;
  int64_t errors = 0;      // consumer errors: brokers unreachable, ...
  std::string last_error;  // the last of those, or a record not made durable; empty if none
  std::string last_error_at;
  // Per partition, from the brokers; empty with `brokers_error` saying why.
  std::vector<KafkaPartitionState> partitions;
  std::string brokers_error;
};

// What to answer an HTTP request from Graph with.
struct HttpAnswer {
  int status = 202;
  std::string content_type;  // for a non-empty body
  std::string body;
};

class Engine {
 public:
  // Opens (creating and migrating if needed) the database of `config`. `clock` (borrowed)
  // is for tests; null means the system clock. `config` gets the checks the TOML loader
  // applies (ValidateConfig), with the same one-line InvalidArgument; only the Graph
  // identity (graph.token_url, client_id, a credential) may be left out here, for a
  // program that only reads: CheckCredentials and Start require it.
  static Result<std::unique_ptr<Engine>> Open(const Config& config, Clock* clock = nullptr);
  struct OpenOptions {
    Clock* clock = nullptr;  // borrowed; null: the system clock
    // false: a missing database is NotFound (programs that only read never create one).
    bool create_if_missing = true;
  };
  static Result<std::unique_ptr<Engine>> Open(const Config& config, const OpenOptions& options);
  ~Engine();  // Stop()s
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Gets a token now: wrong credentials are one clear error before any sync starts.
  Status CheckCredentials();

  // One pass over every configured mailbox and collection: new, changed and deleted items.
  // The first failure of any collection, after trying all of them.
  Status SyncOnce();
  // The same, with one report per collection, also given to `on_report` as each finishes
  // (from the sync's threads, one call at a time).
  std::vector<SyncReport> SyncOnceReports(
      const std::function<void(const SyncReport&)>& on_report = nullptr);
  // Any thread, any time (a progress display polls it while SyncOnce runs).
  SyncProgress Progress() const;

  struct StartOptions {
    bool serve_http = true;  // listen on config.webhook.listen
    // Also answer GET /healthz and /metrics on that listener (see Health and Metrics).
    // With Graph delivering to an event hub and no webhook.notification_url, they are
    // served on webhook.listen all the same (or on metrics.listen).
    bool serve_admin = true;
    // With [kafka]: read the notification collections of its topic and hand each to
    // HandleNotification, committing a record's offset once it is logged durably (a
    // program that routes records itself, as the partitioned mode does, turns this off).
    bool consume_kafka = true;
    // Reports of the initial sync, one per collection (from its threads, one at a time).
    std::function<void(const SyncReport&)> on_initial_sync = nullptr;
    // Called once when the initial sync has ended (not if Stop cut it short), with every
    // collection's report, from the engine's start-up thread; Healthy() is true by then.
    std::function<void(const std::vector<SyncReport>&)> on_initial_sync_done = nullptr;
  };
  // Live: subscriptions kept with Graph, notifications received and applied, renewals,
  // lifecycle events and the safety-net delta passes, on background threads.
  //
  // Returns at once, once the webhook listener (serve_http) listens and the stored
  // subscriptions are known; errors are those found by then (config, port taken, rich
  // keys, the database held by another daemon). The rest runs in the background:
  // subscriptions are reconciled and created, every collection is synced once (the
  // initial sync, reported by GetStatus, Progress and on_initial_sync), then the
  // notification log is applied. Notifications arriving meanwhile are accepted and
  // logged durably (202) and applied once the initial sync has ended. Healthy() turns
  // true then; WaitForInitialSync waits for it.
  Status Start(StartOptions options);
  Status Start() { return Start(StartOptions{}); }
  // Stops the receiver (requests in flight are answered), ends the initial sync or any
  // round after its current page (what was committed stays; the next start goes on from
  // there) and the background threads. A request waiting out a Graph Retry-After ends
  // with its wait.
  void Stop();
  // Waits until Start's initial sync has ended: Ok; Unavailable if `timeout` passed first;
  // Cancelled if the engine is not started or was stopped meanwhile. Any thread.
  Status WaitForInitialSync(std::chrono::milliseconds timeout);

  // A body Graph POSTed to the notification (or lifecycle) URL, for a program with its own
  // HTTP server: checked, logged durably, answered (202, 400, 415 or 503). Needs Start()
  // (also while its initial sync runs: the notification is logged and applied after it).
  HttpAnswer HandleNotification(std::string_view content_type, std::string_view body);
  // A record read from an Azure event hub Graph delivers to (kafka.event_hub_url): the same
  // checks, log and answer as HandleNotification, except that rich notifications need no
  // validation tokens, which Graph does not send through a hub (the hub's access control
  // vouches for the sender instead). Only for bodies read from such a hub.
  HttpAnswer HandleEventHubRecord(std::string_view body);
  // The Kafka source ([kafka]): this engine's counters (while started) and, asked of the
  // brokers within `timeout`, each partition's committed offset and end (the consumer
  // group is not joined, so a running daemon is not disturbed). InvalidArgument without
  // [kafka]; brokers that cannot be asked leave `partitions` empty and say why.
  Result<KafkaState> Kafka(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The answer to `?validationToken=...` (already URL-decoded): the token as text/plain,
  // or 400 for a malformed one.
  static HttpAnswer HandleValidation(std::string_view token);

  // A full pass over one collection now (the same as after a `missed` lifecycle event).
  // While Start's initial sync runs, the pass of a configured collection is queued
  // instead (it runs as soon as the initial sync has ended) and Resync returns at once;
  // an unconfigured one is InvalidArgument then.
  Status Resync(const std::string& user_id, Collection collection);

  Result<EngineStatus> GetStatus();
  // Compares the mirror with Graph: for each scope (mailbox and table) the ids and
  // changeKeys Graph lists (with $select, 1,000 a page: about one request per 1,000 items)
  // against the mirror's rows, and with options.repair fixes exactly the rows that
  // differ. Each scope's result is kept for GetStatus and /metrics. InvalidArgument if
  // the options name a mailbox or collection not configured; the Status of the first
  // failure to read Graph otherwise (nothing is reported for a scope not read whole).
  Result<VerifyResult> Verify(const VerifyOptions& options);

  // What GET /healthz answers: true once started, subscriptions set and the first sync done.
  bool Healthy() const;
  // What GET /metrics answers: the engine's counters in Prometheus text format (0.0.4).
  // Needs Start(). With config.metrics.listen set (and serve_admin), /metrics (and
  // /healthz) are served on that address instead of the webhook's listener.
  Result<std::string> Metrics();
  // The port of that metrics listener (useful with port 0); 0 if there is none.
  int MetricsPort() const;

  Result<std::vector<Message>> Messages(const MessageQuery& query);
  // What the calendar shows (the view `calendar`): single instances, occurrences and
  // exceptions overlapping the query's range, by start.
  Result<std::vector<Event>> Events(const EventQuery& query);
  Result<std::vector<Contact>> Contacts(const ContactQuery& query);
  // The items of a mirrored SharePoint list, by Id (see ListItemQuery). A list never
  // synced has none; site and list_id are compared as configured (list_id in any case).
  Result<std::vector<ListItem>> ListItems(const ListItemQuery& query);
  Result<std::vector<ListItem>> ListItems(const std::string& site, const std::string& list_id,
                                          int limit = 1000) {
    return ListItems(ListItemQuery{site, list_id, 0, limit});
  }
  // Full-text search over subject, body preview and sender; every word must occur, a word
  // ending in '*' is a prefix. Best matches first; each Message's body_preview holds the
  // best matching passage (matches in [brackets]) and its json is left empty. Messages of
  // a collection still loading (CollectionState::loading_since) are found once its load
  // has ended.
  Result<std::vector<Message>> Search(const std::string& text, const std::string& user_id = "",
                                      int limit = 20);

  // --- The change feed (README "Change feed") --------------------------------------------
  // Changes with seq > after_seq, oldest first, at most `limit` (1..100,000). A first
  // change above after_seq + 1 means the ones between were pruned.
  Result<std::vector<FeedChange>> ReadChanges(int64_t after_seq, size_t limit);
  // The next changes of `consumer` (1..200 characters): those after its committed cursor.
  // A name never seen is registered at 0, so retention keeps from then on everything it
  // has not committed. Reading does not move the cursor: a consumer that dies before
  // CommitChanges reads the same changes again (at least once; dedupe by seq).
  Result<std::vector<FeedChange>> ReadChanges(const std::string& consumer, size_t limit);
  // Moves the cursor of `consumer` (registering it) to `up_to_seq`, durably: changes up to
  // it are read and may be pruned. Never backward (a lower seq is a no-op); a seq beyond
  // the newest change is InvalidArgument.
  Status CommitChanges(const std::string& consumer, int64_t up_to_seq);
  // Forgets a consumer: it no longer holds back pruning. NotFound if it was never seen.
  Status DropConsumer(const std::string& consumer);
  Result<std::vector<ConsumerState>> Consumers();
  // Deletes changes older than config.changes.keep_days (none if 0) that every consumer
  // has read (or all such with drop_unread), oldest first, in small transactions; returns
  // how many. The daemon (Start) does this by itself every few minutes.
  Result<int64_t> PruneChanges();

  // Called after every commit that inserted, changed or deleted mirror rows (messages,
  // events and occurrences, contacts, SharePoint list items: Change::is_list_item), on the
  // engine's writer thread: keep it short and do not call back into the engine from it
  // (hand the changes to a thread of yours). Empty: none.
  void SetObserver(std::function<void(const std::vector<Change>&)> observer);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_H_
