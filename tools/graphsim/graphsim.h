// graphsim: a faithful, in-process Microsoft Graph simulator.
//
// Simulator holds the data model (users, their messages, events and contacts) and all of
// Graph's behaviour: OAuth2 client-credentials tokens, OData queries and paging,
// per-mailbox throttling, injected faults, subscriptions with their validation handshake,
// and the delivery of change and lifecycle notifications to subscribers' endpoints. It is
// transport-agnostic: Handle() takes a parsed HTTP request and returns the response. Server serves
// a Simulator over real HTTP (cpp-httplib), which is how the engine's tests and the `graphsim`
// binary use it.
//
// graphsim shares no Graph-protocol code with the engine on purpose: if both sides shared
// one misunderstanding of Graph, the tests would pass and the real service would fail.
//
// Rich notifications (includeResourceData, GRAPH.md section 5) are Graph's in full: the
// subscriber's certificate encrypts each created/updated item's $selected properties
// (encryptedContent), every batch with such items carries validationTokens signed by the
// simulated identity platform, whose keys its JWKS endpoints publish; RichFault spoils
// either for tests.
//
// Thread-safety: Simulator and Server are safe to use from many threads.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphsim {

class SimulatorCore;  // internal: simulator_core.h

// How a change notification spells its `resource` and `resourceData.@odata.id`
// (GRAPH.md section 3: real payloads differ from one another).
enum class ResourcePathStyle {
  kSlash,   // Users/{uid}/Messages/{id}
  kParen,   // Users('{uid}')/messages('{id}')
  kMixed,   // alternates kSlash and kParen, notification by notification
  kTenant,  // users/{uid}@{tid}/messages/{id}
};

// How a delta request with an expired or unknown-position token is answered (GRAPH.md
// section 6: all three are seen in the field).
enum class DeltaExpiredStyle {
  kGone410,               // 410 Gone, Location: a fresh delta URL, code syncStateNotFound
  kSyncStateNotFound400,  // 400, code syncStateNotFound
  kResyncRequired,        // 400, code resyncRequired
};

// What InjectRichFault spoils. Content faults apply to the next N items that carry
// encryptedContent, token faults to the next N notification POSTs that carry
// validationTokens (or would: kTokenMissing). Several may be pending at once; they stack.
enum class RichFault {
  kFlipDataBit,         // one bit of the ciphertext flipped after signing (HMAC fails)
  kBadSignature,        // dataSignature of other bytes
  kTruncatedDataKey,    // dataKey cut short (still valid base64)
  kWrongCertificateId,  // encryptionCertificateId of no known certificate
  kBadPadding,          // no valid PKCS7 padding (the HMAC over that ciphertext is valid)
  kMalformedBase64,     // data is not base64
  kTokenBadSignature,   // token signature bytes altered
  kTokenWrongAudience,  // aud another app id
  kTokenWrongApp,       // appid/azp not Graph's change-tracking app
  kTokenExpired,        // exp in the past (beyond any leeway: 2 hours ago)
  kTokenNotYetValid,    // nbf 2 hours ahead
  kTokenUnknownKid,     // signed with a key that is not in the JWKS, kid not published
  kTokenAlgNone,        // alg "none", empty signature
  kTokenMissing,        // no validationTokens at all
};
constexpr int kRichFaultCount = 14;

// Random faults on mailbox requests, a test control (Graph throttles under load, which a
// test cannot call up on demand): each request on a mailbox draws once, seeded, and is
// answered with these probabilities 429 (through the mailbox's Retry-After fence, so a
// request sent before Retry-After elapsed is refused too), 503, 504, or a closed
// connection; otherwise it is served as usual.
struct RandomFaults {
  double throttle = 0;         // 429 TooManyRequests, Retry-After: throttle_retry_after_seconds
  double unavailable = 0;      // 503 serviceNotAvailable, no Retry-After
  double gateway_timeout = 0;  // 504 without Retry-After
  double reset = 0;            // the connection closed without an answer
  uint64_t seed = 1;
};

// How many random faults were served, by kind.
struct RandomFaultCounts {
  uint64_t throttled = 0;
  uint64_t unavailable = 0;
  uint64_t gateway_timeout = 0;
  uint64_t resets = 0;
};

struct Options {
  uint64_t seed = 1;
  // Seeded data: `users` users, each with this many messages, events and contacts.
  int users = 3;
  int messages = 50;
  int events = 20;
  int contacts = 20;

  // The one application that may ask for tokens.
  std::string client_id = "graphsim";
  std::string client_secret = "graphsim-secret";
  // The certificate (PEM) registered for the app: client assertions signed with its key
  // are accepted. Empty: none registered, every assertion is refused (AADSTS700027).
  std::string client_certificate_pem;
  std::chrono::seconds token_lifetime{3599};

  // Outlook's per app and mailbox limits (GRAPH.md section 7). Over either: 429.
  int max_concurrent_per_mailbox = 4;
  int requests_per_window = 10000;
  std::chrono::seconds window{600};
  // The Retry-After sent with every 429 (Graph sends fractional values like this one).
  double throttle_retry_after_seconds = 2.128;

  // Random faults from the start (see RandomFaults; SetRandomFaults changes them).
  RandomFaults random_faults;

  // If true, a UPN in the path answers 503 MailboxInfoStale on the 1st, 4th, 7th, ...
  // UPN-addressed request (GRAPH.md: prefer the object id).
  bool stale_mailbox_for_upn = false;

  // A request refused by a Retry-After fence counts in EarlyRetries only if it arrives
  // this long (real time) after the 429 that raised the fence: requests a client sent
  // concurrently, before it could see that 429, are refused but not blamed on it.
  std::chrono::milliseconds early_retry_grace{100};

  // Real time each mailbox request spends in flight before it is answered, so that tests
  // can make requests overlap. Zero in normal use.
  std::chrono::milliseconds handler_latency{0};

  // --- Subscriptions and change notifications (GRAPH.md sections 1-4) ----------------------
  // Graph requires https notification URLs; tests on loopback need http.
  bool allow_http_notification_url = true;
  // Longest lifetime of a subscription; beyond it a create or renew is refused with
  // `expiry_too_far_code` ("ExtensionError"; some tenants answer "ErrorInvalidParameter").
  int subscription_max_minutes = 10080;
  std::string expiry_too_far_code = "ExtensionError";
  // Longest lifetime of a subscription with resource data (Outlook: one day); beyond it the
  // same 400 as above, naming this number.
  int rich_subscription_max_minutes = 1440;
  // An expiry less than this far ahead is silently raised to it.
  int subscription_min_minutes = 45;
  // Subscriptions per mailbox (all apps) before 403.
  int max_subscriptions_per_mailbox = 1000;
  // GET /subscriptions page size (@odata.nextLink beyond it).
  int subscriptions_page_size = 100;
  // The validation handshake's wait for an answer (real time).
  std::chrono::milliseconds validation_timeout{10000};
  // Non-empty: the validation token sent instead of a random one.
  std::string validation_token_override;
  // Verify TLS certificates of https notification endpoints.
  bool verify_webhook_certificates = true;

  // Delivery. Each item carries a unique `id` unless this is false.
  bool include_notification_id = true;
  ResourcePathStyle resource_path_style = ResourcePathStyle::kSlash;
  // Items per POST (one POST may carry items of several subscriptions).
  int max_batch = 50;
  // Clock time between a change and its notification becoming due (Graph: < 1 min avg).
  std::chrono::milliseconds delivery_delay{0};
  // POSTs a pump keeps in flight at once (different batches, same or other URLs).
  int delivery_concurrency = 1;
  // A POST not answered 2xx within this (real time) failed.
  std::chrono::milliseconds delivery_timeout{3000};
  // Retries of a failed batch: backoff starts here and doubles up to the cap (clock
  // time); after `delivery_retry_window` since the first attempt the batch is dropped.
  std::chrono::milliseconds delivery_retry_initial{10000};
  std::chrono::milliseconds delivery_retry_cap{3600 * 1000};
  std::chrono::milliseconds delivery_retry_window{4 * 3600 * 1000};
  // 0: never; N: every Nth batch is delivered twice (at-least-once delivery).
  int duplicate_every = 0;
  // Shuffle items within and across the batches formed by a pump, and the order in which
  // due batches are sent (seeded by `seed`).
  bool reorder_deliveries = false;
  // When a batch is dropped after the retry window, queue a `missed` lifecycle
  // notification for each subscription that lost change notifications in it (if it is
  // still live and has a lifecycleNotificationUrl).
  bool missed_on_drop = false;
  // A live subscription whose expiry comes within this much of the clock gets one
  // `reauthorizationRequired` lifecycle notification by itself (checked on every pump, so
  // also by the delivery thread). Once per expiry value: a renewal that moves the expiry
  // re-arms it. Zero: never (EmitLifecycle still can).
  std::chrono::minutes reauthorize_before_expiry{60};
  // Lifecycle items in the field-report shape: organizationId instead of tenantId,
  // resource "Subscriptions/{id}", changeType and resourceData null.
  bool lifecycle_field_report_shape = false;
  // validationTokens of rich notifications: 1 (iss https://sts.windows.net/{tid}/, the
  // caller in `appid`) or 2 (iss https://login.microsoftonline.com/{tid}/v2.0, in `azp`).
  int validation_token_version = 2;
  // Azure Event Hubs delivery: the Kafka cluster ("host:port,...") that stands in for every
  // Event Hubs namespace. A subscription whose notificationUrl (or lifecycleNotificationUrl)
  // is `EventHub:https://<ns>.servicebus.windows.net/eventhubname/<hub>?tenantId=<domain>`
  // gets each notification collection as one record on topic <hub> (acks=all). Empty: no
  // hub is reachable, and a create naming one fails as Graph's does when it cannot publish.
  std::string kafka_brokers;

  // --- Delta queries (GRAPH.md section 6) --------------------------------------------------
  // A delta or skip token older than this (clock time since its round began) is expired.
  std::chrono::seconds delta_token_lifetime{7 * 24 * 3600};
  // Changes each mailbox remembers; a token from before the oldest one is expired.
  size_t delta_journal_max_entries = 100000;
  DeltaExpiredStyle delta_expired_style = DeltaExpiredStyle::kGone410;
  // 0: never; N: every Nth continuation page ($skiptoken request) of a delta round
  // returns the previous page again (Graph documents duplicates and replays).
  int delta_replay_every = 0;
  // 0: never; N >= 2: every Nth delta page that would carry an @odata.nextLink is answered
  // first by an empty page whose nextLink resumes at the same place (Graph documents that
  // a round may return empty pages before its deltaLink).
  int delta_empty_page_every = 0;

  // --- Paging and visibility ----------------------------------------------------------------
  // Server-side page size cap of lists and delta rounds: at most this many items per page
  // whatever $top or Prefer: odata.maxpagesize ask for (Graph pages at its own size and the
  // client follows nextLink). 0: no cap beyond the documented ones.
  int max_page_size = 0;
  // Changes become visible to list queries and delta rounds this long (clock time) after
  // they happen; a GET of the item by id and change notifications see them at once. Models
  // the eventual consistency of Graph's query results.
  std::chrono::seconds listing_lag{0};

  // --- Recurring events -----------------------------------------------------------------------
  // A series without an end (range noEnd) is expanded into occurrences this many days past
  // the later of its start and the clock's now (when the series is created or changed);
  // Graph's series have no horizon.
  int recurrence_horizon_days = 730;

  // HTTP serving (Server only).
  int http_threads = 32;
  int keep_alive_seconds = 2;
  size_t max_payload_bytes = 4 << 20;
};

// One user (and mailbox) of the simulated tenant.
struct UserInfo {
  std::string id;  // object id, GUID text
  std::string user_principal_name;
  std::string display_name;
};

// A request as the transport parsed it. Path and query values are already URL-decoded.
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // "/v1.0/users/{id}/messages"
  std::vector<std::pair<std::string, std::string>> params;   // query, in request order
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  // Scheme and authority the client used ("http://127.0.0.1:8080"); links (nextLink,
  // @odata.context) are built on it so that they point back at this server.
  std::string base_url;

  // First value of a header, matched case-insensitively; "" if absent.
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // empty when there is no body
  std::string body;
  // Fault injection: the transport must drop the connection without answering.
  bool reset_connection = false;

  std::string Header(std::string_view name) const;
};

// Per-mailbox observations, for tests and GET /_sim/stats.
struct MailboxStats {
  int in_flight = 0;
  int max_concurrent_observed = 0;
  int early_retries = 0;
  int throttled = 0;
  uint64_t requests = 0;  // requests that reached the mailbox (admitted or not)
  // GETs of one item (a message, event or contact by id) served, found or not: what a
  // receiver of rich notifications should no longer need.
  uint64_t item_gets = 0;
};

// Items served to clients by route kind, over all mailboxes (tests count what a sync costs).
struct ItemsServed {
  uint64_t listed = 0;  // items in pages of list queries (/messages, /events, ...)
  uint64_t delta = 0;   // items in delta pages (@removed entries included)
  uint64_t by_id = 0;   // items returned by a GET of one item (found)
  uint64_t total() const { return listed + delta + by_id; }
};

// Delivery counters, for tests and GET /_sim/deliveries.
struct DeliveryStats {
  uint64_t attempts = 0;         // POSTs of notification batches (duplicates included)
  uint64_t delivered_items = 0;  // items whose batch was answered 2xx (first time only)
  uint64_t failed_attempts = 0;  // POSTs answered non-2xx, timed out or refused
  uint64_t dropped_items = 0;    // given up after the retry window
  uint64_t pending_items = 0;    // queued, in flight or waiting for a retry
  uint64_t duplicate_posts = 0;  // extra deliveries made by duplicate_every
  uint64_t orphaned_items = 0;   // discarded unsent: their subscription was deleted/expired
  uint64_t rich_items = 0;       // delivered items that carried encryptedContent (first time)
  uint64_t hub_records = 0;      // collections an Event Hub acknowledged (duplicates too)
};

// A SharePoint list subscription (GRAPH.md section 9).
struct SharePointSubscriptionView {
  std::string id;
  std::string list_id;
  std::string notification_url;
  std::string client_state;  // "" if none
  graphmirror::TimePoint expires;
};

// SharePoint notification counters. A notification says only "this list changed".
struct SharePointDeliveryStats {
  uint64_t attempts = 0;         // POSTs
  uint64_t delivered = 0;        // answered 2xx
  uint64_t failed_attempts = 0;  // answered otherwise, timed out or refused
  uint64_t dropped = 0;          // given up after 5 tries
  uint64_t lost = 0;             // discarded unsent by DropNextListNotifications
  uint64_t pending = 0;          // waiting for a first try or a retry
};

// What SharePoint's REST API was asked, by kind (a client's cost).
struct SharePointRequestStats {
  uint64_t total = 0;        // every request to a list (after the bearer check)
  uint64_t get_changes = 0;  // POST .../GetChanges
  uint64_t get_items = 0;    // POST .../GetItems (a CAML query)
  uint64_t item_reads = 0;   // GET .../items({id})
  uint64_t item_pages = 0;   // GET .../items (a page of the whole list)
};

// One notification item whose POST was answered 2xx.
struct AckedNotification {
  std::string id;  // the item's `id` ("" if Options::include_notification_id is false)
  std::string subscription_id;
  std::string change_type;      // "created", "updated", "deleted"; "" for lifecycle items
  std::string lifecycle_event;  // "" for change notifications
  std::string resource_id;      // resourceData.id; "" for lifecycle items
  std::string url;              // where it was POSTed
};

// A live subscription as the simulator holds it (clientState included).
struct SubscriptionView {
  std::string id;
  std::string resource;     // as the client sent it
  std::string change_type;  // "created,updated,deleted" (normalized order)
  std::string notification_url;
  std::string lifecycle_url;  // "" if none
  std::string client_state;   // "" if none
  graphmirror::TimePoint expires;
  bool include_resource_data = false;
  std::string encryption_certificate_id;  // "" if none; the current one after a rotation
};

// A mail folder as the routes serve it (GET .../mailFolders, childFolders, mailFolders/{id},
// mailFolders/delta). Truth for convergence checks.
struct MailFolderState {
  std::string id;
  std::string display_name;
  std::string parent_folder_id;  // the mailbox root's id for a top-level folder
  int child_folder_count = 0;    // folders directly under it, hidden ones included
  int unread_item_count = 0;
  int total_item_count = 0;
  bool is_hidden = false;
  // A mailSearchFolder: served with "@odata.type": "#microsoft.graph.mailSearchFolder"
  // (and its isSupported, includeNestedFolders, sourceFolderIds, filterQuery).
  bool is_search_folder = false;
  std::string well_known_name;  // "inbox", ...; "" for none (a key graphsim accepts, not served)
};

// A contact folder as the routes serve it (id, displayName, parentFolderId).
struct ContactFolderState {
  std::string id;
  std::string display_name;
  std::string parent_folder_id;  // the default folder's: the mailbox root's id
  bool is_default = false;       // the default Contacts folder (not in GET /contactFolders)
};

// A calendar as GET .../calendars serves it.
struct CalendarState {
  std::string id;
  std::string name;
  std::string color = "auto";
  bool is_default_calendar = false;
  std::string change_key;  // changes when the calendar changes (a rename)
  bool can_share = true;
  bool can_view_private_items = true;
  bool can_edit = true;
  bool is_removable = false;  // every calendar but the default one
  std::string owner_name;     // owner: the mailbox's user
  std::string owner_address;
};

// An occurrence or exception of a recurring event as calendarView serves it.
struct EventOccurrenceState {
  std::string id;
  std::string series_master_id;
  std::string type;                       // "occurrence" or "exception"
  graphmirror::TimePoint original_start;  // where the pattern put it (UTC)
  graphmirror::TimePoint start, end;      // where it is now (UTC): an exception may have moved
  std::string subject;
  std::string json;  // the event as GET .../events/{id} renders it
};

class Simulator {
 public:
  // `clock` is borrowed and must outlive the Simulator; nullptr means the system clock.
  Simulator(Options options, graphmirror::Clock* clock);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  const Options& options() const;
  std::vector<std::string> UserIds() const;  // object ids, deterministic for the seed
  std::vector<UserInfo> Users() const;
  std::string TenantId() const;

  // Direct manipulation, with the same effects as the HTTP API. `user` is an object id or
  // a UPN; `collection` is "messages", "events" or "contacts"; `fields_json` is Graph JSON
  // of the item (e.g. {"subject":"x"}). Messages land in `folder` (a well-known name or a
  // folder id) and are not drafts unless the folder is drafts. Failures return ""/false.
  std::string CreateItem(const std::string& user, const std::string& collection,
                         const std::string& fields_json, const std::string& folder = "inbox");
  bool UpdateItem(const std::string& user, const std::string& collection, const std::string& id,
                  const std::string& fields_json);
  bool DeleteItem(const std::string& user, const std::string& collection, const std::string& id);
  // Contact folders: the default Contacts folder and folders under it, nested. Creates a
  // folder under `parent_id` ("" for the default folder) and returns its id ("" on
  // failure). A contact is created in a folder by passing the folder's id as `folder` to
  // CreateItem ("" or the default "inbox": the default folder; an unknown id fails). Deleting a
  // folder deletes the folders under it and their contacts (as deletes: delta rounds and
  // notifications see them); the default folder cannot be deleted.
  std::string CreateContactFolder(const std::string& user, const std::string& parent_id,
                                  const std::string& display_name);
  bool DeleteContactFolder(const std::string& user, const std::string& folder_id);
  bool RenameContactFolder(const std::string& user, const std::string& folder_id,
                           const std::string& display_name);
  // Mail folders: the seeded ones (the well-known folders, a hidden folder under the root,
  // a search folder under the Inbox) and folders created here, nested at any depth.
  // CreateMailFolder makes a folder under `parent` (a well-known name or a folder id; ""
  // for the root) and returns its id; "" on failure: no such parent, a search folder as
  // parent, an empty name, or a folder of the same name (case-insensitive) under the same
  // parent. `hidden` is its isHidden, which only a create sets. Messages can be created in
  // it (CreateItem's `folder`) and moved to it (MoveMessage). A folder (not a well-known
  // one) can be renamed (no same-named sibling) and deleted: deleting it deletes the
  // folders under it and their messages, each message a delete for delta rounds and
  // notifications. `folder`: a folder id (or well-known name, which both refuse).
  std::string CreateMailFolder(const std::string& user, const std::string& parent,
                               const std::string& display_name, bool hidden = false);
  bool RenameMailFolder(const std::string& user, const std::string& folder,
                        const std::string& display_name);
  bool DeleteMailFolder(const std::string& user, const std::string& folder);
  // Calendars: the default one (GET /calendar) and calendars created here, which hold no
  // events (events are the default calendar's). CreateCalendar returns the new id ("" if
  // the name is empty or another calendar has it, case-insensitively). Renaming changes
  // the calendar's changeKey; the default calendar cannot be deleted.
  std::string CreateCalendar(const std::string& user, const std::string& name);
  bool RenameCalendar(const std::string& user, const std::string& calendar_id,
                      const std::string& name);
  bool DeleteCalendar(const std::string& user, const std::string& calendar_id);
  // Returns the message's id after the move ("" on failure): a new one unless
  // `immutable_ids`, as Graph does without / with Prefer: IdType="ImmutableId".
  std::string MoveMessage(const std::string& user, const std::string& id,
                          const std::string& destination_folder, bool immutable_ids);

  // What GET /users/{u}/{collection} lists: for events, single instances and series
  // masters, never the occurrences and exceptions of a series (EventOccurrences).
  size_t Count(const std::string& user, const std::string& collection) const;
  // Current ids, sorted (for exact-mirror checks); events as Count counts them.
  std::vector<std::string> ItemIds(const std::string& user, const std::string& collection) const;
  // Full Graph JSON of the item, "" if there is none.
  std::string ItemJson(const std::string& user, const std::string& collection,
                       const std::string& id) const;
  // Truth, exactly as the routes serve it. Every live mail folder (hidden and search
  // folders included, as GET .../mailFolders/delta lists them), seeded ones first, then by
  // creation; every contact folder, the default one first; every calendar, the default
  // one first (the order of GET .../calendars). Empty for an unknown user.
  std::vector<MailFolderState> MailFolders(const std::string& user) const;
  std::vector<ContactFolderState> ContactFolders(const std::string& user) const;
  std::vector<CalendarState> Calendars(const std::string& user) const;
  // A message's body content as GET serves it: HTML by default (`text` false), or as
  // with Prefer: outlook.body-content-type="text" (`text` true). "" if there is no such
  // message.
  std::string MessageBody(const std::string& user, const std::string& id, bool text) const;
  // The occurrences and exceptions of recurring events (cancelled ones are gone) that
  // overlap [window_start, window_end), ordered by start, then id: what GET
  // .../calendarView lists for that window, minus single instances (series masters it
  // never lists). Ignores Options::listing_lag. Empty for an unknown user.
  std::vector<EventOccurrenceState> EventOccurrences(const std::string& user,
                                                     graphmirror::TimePoint window_start,
                                                     graphmirror::TimePoint window_end) const;

  // Fault injection.
  // The next N requests on that mailbox answer 429 with Retry-After.
  void ForceThrottle(const std::string& user, int next_n_requests);
  // The next N Graph requests (any mailbox) answer `status` with a Graph error body. A 429
  // always carries Retry-After (the throttle value unless `retry_after_seconds` >= 0);
  // other statuses carry it only if `retry_after_seconds` >= 0.
  void InjectStatus(int status, int next_n_requests, double retry_after_seconds = -1);
  // The next N Graph requests get their connection closed without an answer.
  void InjectConnectionResets(int next_n_requests);
  // The next `next_n` subscription creates that succeed are answered with a dropped
  // connection: the subscription exists, the client never learns its id.
  void LoseSubscriptionCreateAnswers(int next_n);
  void ExpireAllTokens();
  // Every delta and skip token issued so far becomes expired (as after a long outage).
  void ExpireDeltaTokens();
  // From now on, mailbox requests fail at random as `faults` says (all zero: never).
  void SetRandomFaults(const RandomFaults& faults);
  RandomFaultCounts RandomFaultsServed() const;
  // A test control: the next `count` mailbox answers that carry the link `link` names
  // ("next": @odata.nextLink, "delta": @odata.deltaLink, "any": either) point it at
  // `base` (scheme://host[:port]) instead of this server, path and query unchanged.
  void InjectForeignLinks(const std::string& base, int count, const std::string& link = "next");
  // Cancels injected statuses, connection resets, random faults, foreign links and rich
  // faults.
  void ClearFaults();
  void SetHandlerLatency(std::chrono::milliseconds latency);

  // Application permissions of the one app (GRAPH.md section 8), all granted by default:
  // "Mail.Read" (messages, mail folders), "Calendars.Read" (events, calendar,
  // calendarView, calendars), "Contacts.Read" (contacts, contact folders); a ".ReadWrite"
  // grant of the same family satisfies the need too, and GET .../calendars is also served
  // with "Calendars.ReadBasic" (its least privileged permission, not granted by default).
  // Without it, every Graph request on that collection of any mailbox answers 403
  // ErrorAccessDenied and a subscription create on it 403 ExtensionError. Checked at
  // request time (Entra ID would bake the roles into the next token); tokens issued
  // afterwards list the granted ones in their `roles` claim. Any other name is kept as a
  // role and needed by nothing.
  void SetPermission(const std::string& permission, bool granted);
  // A per-mailbox denial, like an Exchange application access policy: every Graph request
  // on the mailbox's messages, events and contacts (not the directory's GET /users/{u})
  // answers 403 ErrorAccessDenied "Access to OData is disabled.", a subscription create
  // on it 403 ExtensionError. `user`: object id or UPN; unknown users are ignored.
  void SetMailboxAccess(const std::string& user, bool allowed);

  // Observations for tests.
  int MaxConcurrentObserved(const std::string& user) const;  // peak in-flight on the mailbox
  int MaxConcurrentObservedAll() const;  // peak in-flight on all mailboxes together
  // Requests that arrived while the mailbox's Retry-After had not elapsed (by the clock),
  // beyond Options::early_retry_grace after the 429 that set it.
  int EarlyRetries(const std::string& user) const;
  int ThrottledCount(const std::string& user) const;  // 429s sent on that mailbox
  MailboxStats Stats(const std::string& user) const;
  uint64_t RequestCount() const;  // Graph requests (/v1.0/...) received
  uint64_t ItemGets() const;      // MailboxStats::item_gets summed over all mailboxes
  ItemsServed Served() const;

  // Time. Now() is the clock plus any offset AdvanceClock kept for a non-manual clock.
  graphmirror::Clock* clock() const;
  graphmirror::TimePoint Now() const;
  // Moves simulated time forward: a ManualClock is advanced (everyone sharing it sees the
  // jump); any other clock gets a simulator-private offset.
  void AdvanceClock(std::chrono::nanoseconds d);

  // --- Subscriptions and change notifications ---------------------------------------------
  // Live subscriptions (expired ones are gone), oldest first.
  std::vector<SubscriptionView> Subscriptions() const;
  // Sends every notification batch due by the clock now (retries included), POST by POST,
  // and returns the number of POSTs attempted. Blocks while another pump runs, so never
  // call it from inside a receiver's handler of a notification POST (it would wait for
  // itself); the receiver may call anything else, item changes included.
  size_t PumpDeliveries();
  // A background thread that pumps continuously (woken by new notifications, else every
  // `poll` of real time). Stopped by StopDeliveryThread() and by the destructor.
  void StartDeliveryThread(std::chrono::milliseconds poll = std::chrono::milliseconds(5));
  void StopDeliveryThread();
  DeliveryStats Deliveries() const;
  // Notification ids of items whose batch was answered 2xx, in delivery order (an item
  // delivered twice appears twice).
  std::vector<std::string> AckedNotificationIds() const;
  // The same items in full (items without an id included).
  std::vector<AckedNotification> AckedNotifications() const;
  // Queues a lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`,
  // `missed` or any text) for the subscription, to its lifecycleNotificationUrl. False if
  // there is no such live subscription or it was created without that URL: Graph sends
  // lifecycle notifications only to a lifecycleNotificationUrl set at create.
  bool EmitLifecycle(const std::string& subscription_id, const std::string& event);
  // As Graph does on a password reset: queues `subscriptionRemoved`, deletes the
  // subscription. False if there is no such live subscription.
  bool RemoveSubscription(const std::string& subscription_id);
  // A simulated password reset of `user` (object id or UPN): every live subscription on
  // that user's messages, events or contacts gets `subscriptionRemoved` and is deleted
  // (RemoveSubscription for each); other mailboxes' subscriptions are untouched. Tokens
  // (app-only) stay valid. False if there is no such user.
  bool ResetPassword(const std::string& user);

  // --- SharePoint lists (GRAPH.md section 9) ----------------------------------------------
  // Served under the site's path: {base_url}{site}/_api/web/lists('{id}')/... with the
  // same bearer tokens as Graph. PumpDeliveries and the delivery thread post their
  // notifications too. Sites are paths like "/sites/team"; list ids lower-case GUIDs.
  std::string AddSharePointList(const std::string& site, const std::string& title);
  // Item changes as a user makes them; `fields_json` is an object ({"Title":"x"}).
  // CreateListItem returns the new item id, 0 if the list is unknown or the JSON bad.
  int CreateListItem(const std::string& list_id, const std::string& fields_json);
  bool UpdateListItem(const std::string& list_id, int item_id, const std::string& fields_json);
  // Deleted as a user deletes in the browser: into the site's recycle bin.
  bool DeleteListItem(const std::string& list_id, int item_id);
  // Brings a deleted item back from the recycle bin with the same id (ChangeType
  // Restore in the change log); false if it is not there.
  bool RestoreListItem(const std::string& list_id, int item_id);
  std::vector<int> ListItemIds(const std::string& list_id) const;  // sorted
  // The item as the REST API renders it, "" if there is none.
  std::string ListItemJson(const std::string& list_id, int item_id) const;
  // As after the change log's retention: every change token issued so far is too old,
  // refused with an SPInvalidChangeTokenException and `status` (500 as seen in the field).
  void ExpireListChangeTokens(const std::string& list_id, int status = 500);
  // The next `n` list notifications are lost on the way (a dropped delivery).
  void DropNextListNotifications(int n);
  std::vector<SharePointSubscriptionView> ListSubscriptions() const;
  SharePointDeliveryStats ListDeliveries() const;
  SharePointRequestStats ListRequests() const;
  // After `after_pages` more pages of a whole-list read (GET .../items), the next one is
  // answered `status` once (a read broken off midway).
  void FailListItemPage(int after_pages, int status);

  // --- Rich notifications (includeResourceData) --------------------------------------------
  // The next `next_n` rich items (content faults) or POSTs with validationTokens (token
  // faults) are spoilt as `fault` says; replaces what was pending for that fault.
  void InjectRichFault(RichFault fault, int next_n);
  // A new signing key becomes current (validationTokens from now on carry its kid); the
  // JWKS keeps publishing the earlier ones too, as the identity platform does while keys roll.
  void RotateSigningKey();
  // Requests answered by the JWKS endpoints ({tenant}/discovery/keys and .../v2.0/keys).
  uint64_t JwksRequests() const;

  // Serves one request (Graph API, the identity platform's token, JWKS and OpenID
  // configuration endpoints, and /_sim/ control). Never throws.
  HttpResponse Handle(const HttpRequest& request);

 private:
  std::unique_ptr<SimulatorCore> impl_;
};

class Server {
 public:
  explicit Server(Simulator* sim);  // `sim` is borrowed and must outlive the Server
  ~Server();                        // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a background thread; returns once requests are accepted.
  graphmirror::Status Start(const std::string& host = "127.0.0.1", int port = 0 /*any*/);
  int port() const;
  // "http://127.0.0.1:PORT". Graph base: base_url() + "/v1.0"; token endpoint:
  // base_url() + "/common/oauth2/v2.0/token".
  std::string base_url() const;
  void Stop();  // idempotent

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_
