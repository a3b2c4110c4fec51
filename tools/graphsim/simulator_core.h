// SimulatorCore: the Simulator's insides, shared by the files that implement it: simulator.cc (data
// model, seeding, direct manipulation), graph_routes.cc (the Graph REST API) and sim_control.cc
// (the /_sim/ control API).
//
// Thread-safety: data (users' collections) is guarded by data_mu_ (shared for reads,
// exclusive for writes); tokens, app access, throttling, faults, the TokenSigner and the
// Notifier (subscriptions and deliveries) have their own locks. No two of these locks are ever held
// at once (except the leaf locks time_mu_, which Now() takes briefly under any of them, and
// AppAccess's, which the token issuer reads before taking its own): a data operation
// hands its change to the Notifier after releasing data_mu_, and no lock but the
// Notifier's pump lock is held while a notification or handshake request is in flight.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_SIMULATOR_CORE_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_SIMULATOR_CORE_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/graphsim/auth.h"
#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/item_store.h"
#include "tools/graphsim/notifier.h"
#include "tools/graphsim/recurrence.h"
#include "tools/graphsim/rich.h"
#include "tools/graphsim/schema.h"
#include "tools/graphsim/sharepoint.h"
#include "tools/graphsim/throttle.h"

namespace graphsim {

class SimulatorCore {
 public:
  SimulatorCore(Options options, graphmirror::Clock* clock);
  ~SimulatorCore();  // stops the delivery thread before anything it uses goes away

  // --- Time -------------------------------------------------------------------------------
  TimePoint Now() const;
  void Advance(std::chrono::nanoseconds d);
  bool manual_clock() const { return manual_ != nullptr; }

  // --- Users ------------------------------------------------------------------------------
  // By object id (exact) or UPN (case-insensitive); nullptr if unknown.
  const UserRecord* FindUser(const std::string& key) const;
  const std::vector<UserRecord>& users() const { return users_; }
  const std::string& tenant_id() const { return tenant_id_; }
  // A live mail folder by well-known name (case-insensitive) or id; -1 if none. Takes the
  // data lock itself.
  int FindMailFolder(const UserRecord& user, const std::string& name_or_id) const;

  // --- Data operations, shared by the HTTP API and the direct C++ API ---------------------
  // Each takes the data lock itself. Errors are Graph errors.
  struct Created {
    std::string id;
    Json rendered;
  };
  std::optional<ApiError> CreateItem(const UserRecord& user, EntityKind kind, const Json& fields,
                                     int folder, bool draft, Created* out);
  std::optional<ApiError> UpdateItem(const UserRecord& user, EntityKind kind, const std::string& id,
                                     const Json& fields, Json* rendered);
  std::optional<ApiError> DeleteItem(const UserRecord& user, EntityKind kind,
                                     const std::string& id);
  std::optional<ApiError> MoveMessage(const UserRecord& user, const std::string& id, int folder,
                                      bool immutable_ids, Created* out);
  std::optional<ApiError> GetItem(const UserRecord& user, EntityKind kind, const std::string& id,
                                  const std::vector<std::string>& select, Json* rendered,
                                  BodyType body_type = BodyType::kHtml) const;
  size_t Count(const UserRecord& user, EntityKind kind) const;
  std::vector<std::string> Ids(const UserRecord& user, EntityKind kind) const;

  // --- Mail folders: the seeded ones and folders created later (indexes never reused).
  // Each takes the data lock itself. ------------------------------------------------------
  struct MailFolderView : MailFolderState {
    int index = 0;
    int parent = -1;  // -1: the root
  };
  // Every live folder, by index.
  std::vector<MailFolderView> MailFolderViews(const UserRecord& user) const;
  std::optional<MailFolderView> MailFolderInfo(const UserRecord& user, int index) const;
  // `parent` -1: the root. `hidden`: isHidden. Errors: no such parent (404), a search
  // folder as parent (400), an empty name (400), a same-named sibling (409).
  std::optional<ApiError> CreateMailFolder(const UserRecord& user, int parent,
                                           const std::string& display_name, bool hidden,
                                           std::string* id);
  // Not a well-known folder (400); no same-named sibling (409).
  std::optional<ApiError> RenameMailFolder(const UserRecord& user, int folder,
                                           const std::string& display_name);
  // The folder, the folders under it and their messages (each message a delete: journal
  // and notifications). Not a well-known folder (400).
  std::optional<ApiError> DeleteMailFolder(const UserRecord& user, int folder);

  // --- Calendars: [0] the default one (UserRecord::calendar), then created ones. -------
  struct CalendarView : CalendarState {
    int index = 0;
  };
  std::vector<CalendarView> CalendarViews(const UserRecord& user) const;  // live, by index
  int FindCalendar(const UserRecord& user, const std::string& id) const;  // live; -1 if none
  std::optional<ApiError> CreateCalendar(const UserRecord& user, const std::string& name,
                                         std::string* id);
  std::optional<ApiError> RenameCalendar(const UserRecord& user, int index,
                                         const std::string& name);
  std::optional<ApiError> DeleteCalendar(const UserRecord& user, int index);

  // --- Contact folders: the default one (index 0, Item::folder of a contact) and the
  // folders created under it, nested. Each takes the data lock itself. -------------------
  struct ContactFolderView {
    int index = 0;
    std::string id;
    std::string display_name;
    std::string parent_id;  // the default folder's parent: the mailbox root
  };
  // Index of the live contact folder with that id; -1 if none.
  int FindContactFolder(const UserRecord& user, const std::string& id) const;
  std::optional<ContactFolderView> ContactFolderInfo(const UserRecord& user, int index) const;
  // The live folders directly under folder `parent`, oldest first.
  std::vector<ContactFolderView> ContactFolderChildren(const UserRecord& user, int parent) const;
  std::optional<ApiError> CreateContactFolder(const UserRecord& user, int parent,
                                              const std::string& display_name, std::string* id);
  // Deletes the folder, the folders under it and their contacts (each contact as a
  // delete: journal and notifications). The default folder cannot be deleted.
  std::optional<ApiError> DeleteContactFolder(const UserRecord& user, int folder);
  // The default folder cannot be renamed (400); no same-named sibling (409).
  std::optional<ApiError> RenameContactFolder(const UserRecord& user, int folder,
                                              const std::string& display_name);

  // A page of a list query plus what building the nextLink needs.
  struct ListResult {
    std::vector<Json> items;
    bool more = false;
    size_t total = 0;
    std::optional<Cursor> next;  // position after the last item (skiptoken paging)
  };
  ListResult List(const UserRecord& user, EntityKind kind, const Collection::Query& query,
                  const std::vector<std::string>& select,
                  BodyType body_type = BodyType::kHtml) const;
  std::vector<OrderKey> EffectiveOrder(EntityKind kind, const std::vector<OrderKey>& order) const;

  // --- Recurring events (series.cc) --------------------------------------------------------
  // What calendarView lists of events overlapping [window_start, window_end): single
  // instances, occurrences and exceptions (never series masters), ordered by start, then
  // id; `master_id` non-empty: only that series' occurrences and exceptions (instances;
  // 404 if there is no such event). A page of `top` after `after`, as List pages.
  std::optional<ApiError> View(const UserRecord& user, TimePoint window_start, TimePoint window_end,
                               const std::string& master_id, const std::vector<std::string>& select,
                               size_t top, const std::optional<Cursor>& after,
                               ListResult* out) const;
  // Truth for tests: the occurrences and exceptions View would list now (without the
  // listing lag), in its order.
  std::vector<EventOccurrenceState> EventOccurrences(const UserRecord& user, TimePoint window_start,
                                                     TimePoint window_end) const;

  // --- Delta queries (delta.cc) -----------------------------------------------------------
  // What a delta URL names. The route fills it; the token (if any) must agree with it.
  // Token kinds of folder rounds (mailFolders/delta, contactFolders/delta), beside the
  // EntityKind values of item rounds.
  static constexpr int kMailFolderRounds = 10;
  static constexpr int kContactFolderRounds = 11;
  struct DeltaTarget {
    int folders = 0;  // kMailFolderRounds or kContactFolderRounds: a folder round (not `kind`)
    EntityKind kind = EntityKind::kMessage;
    int folder = -1;             // messages: the mail folder
    bool calendar_view = false;  // events: the window comes from the query or the token
    std::string link_path;       // "/v1.0/users/{u}/mailFolders/inbox/messages/delta" (encoded)
    int max_page_size = 0;       // Prefer: odata.maxpagesize, 0 if none
  };
  HttpResponse Delta(const HttpRequest& request, const UserRecord& user, const DeltaTarget& target,
                     TimePoint now);
  // mailFolders/delta and contactFolders/delta (target.folders): every folder in one flat
  // round, then the folders changed since the token.
  HttpResponse FolderDelta(const HttpRequest& request, const UserRecord& user,
                           const DeltaTarget& target, TimePoint now);
  void ExpireDeltaTokens() { ++delta_epoch_; }
  // Brings the mailbox's view for list queries and delta rounds up to the changes older
  // than Options::listing_lag (a no-op without a lag). Takes data_mu_ itself.
  void CatchUpListing(const UserRecord& user, TimePoint now);

  // --- HTTP -------------------------------------------------------------------------------
  HttpResponse Handle(const HttpRequest& request);
  HttpResponse OutlookRestRefusal();
  // The 401 a request without a valid bearer token gets; nullopt if the token is good.
  // Without `facts` the token must be one for Graph; with it, any audience passes and
  // `facts` says what the token was issued for (the caller checks).
  std::optional<HttpResponse> CheckBearer(const HttpRequest& request, TimePoint now,
                                          TokenIssuer::Facts* facts = nullptr) const;
  // SharePoint's REST API: a valid token whose audience is this site's origin, obtained
  // with a certificate (an app-only token from a secret is refused, GRAPH.md section 9).
  std::optional<HttpResponse> CheckSharePointBearer(const HttpRequest& request,
                                                    TimePoint now) const;
  HttpResponse HandleGraph(const HttpRequest& request, const std::vector<std::string>& segments,
                           TimePoint now);  // graph_routes.cc
  HttpResponse HandleControl(const HttpRequest& request,
                             const std::vector<std::string>& segments);  // sim_control.cc
  // /v1.0/subscriptions[/...]: `rest` starts at "subscriptions" (subscription_routes.cc).
  HttpResponse HandleSubscriptions(const HttpRequest& request, const std::vector<std::string>& rest,
                                   TimePoint now);
  // The identity platform's discovery documents: JWKS ({tenant}/discovery/keys,
  // {tenant}/discovery/v2.0/keys) and OpenID configurations ({tenant}/.well-known/...,
  // {tenant}/v2.0/.well-known/...). nullopt if `segments` names none of them. (Called after
  // the /v1.0 and /_sim routes, so a tenant segment is never one of those.)
  std::optional<HttpResponse> HandleDiscovery(const HttpRequest& request,
                                              const std::vector<std::string>& segments,
                                              TimePoint now);

  // --- Access: application permissions and per-mailbox denials (auth.h) ------------------
  // The permission a collection needs: "Mail.Read", "Calendars.Read" or "Contacts.Read".
  static const char* PermissionFor(EntityKind kind);
  // nullopt if the app may read that collection of that mailbox; else the 403
  // ErrorAccessDenied a Graph request on it answers.
  std::optional<ApiError> AccessDenied(const UserRecord& user, EntityKind kind) const;
  // The same for a collection that any of `permissions` opens (or its ReadWrite sibling).
  std::optional<ApiError> AccessDenied(const UserRecord& user,
                                       const std::vector<const char*>& permissions) const;
  // Password reset: subscriptionRemoved for every subscription on the user's mailbox.
  size_t ResetPassword(const UserRecord& user) { return notifier_.RemoveForUser(user.index); }

  // --- Faults and observations ------------------------------------------------------------
  struct InjectedStatus {
    int status = 0;
    double retry_after = -1;
  };
  void InjectStatus(int status, int count, double retry_after);
  void InjectResets(int count);
  void InjectLostCreateAnswers(int count);
  void SetRandomFaults(const RandomFaults& faults);
  enum class RandomFault { kNone, kThrottle, kUnavailable, kGatewayTimeout, kReset };
  RandomFault DrawRandomFault();  // counts what it draws
  RandomFaultCounts RandomFaultsServed();
  void InjectForeignLinks(const std::string& base, int count, const std::string& link);
  // Points the links of `response` at the injected foreign base if one is pending.
  void RewriteForeignLinks(const HttpRequest& request, HttpResponse* response);
  void ClearFaults();
  std::optional<InjectedStatus> TakeInjectedStatus();
  bool TakeReset();
  bool TakeLostCreateAnswer();  // true if this successful create goes unanswered
  bool TakeStaleUpn();          // true if this UPN-addressed request should be "stale"

  const Options options_;
  graphmirror::Clock* const clock_;
  graphmirror::ManualClock* const manual_;  // clock_ if it is a ManualClock
  AppAccess access_;                        // before tokens_, which reads it
  TokenIssuer tokens_;
  MailboxGovernor governor_;
  std::atomic<uint64_t> request_count_{0};
  std::atomic<int64_t> latency_ms_{0};
  std::atomic<uint64_t> jwks_requests_{0};
  // Items served (ItemsServed), by route kind.
  std::atomic<uint64_t> served_listed_{0};
  std::atomic<uint64_t> served_delta_{0};
  std::atomic<uint64_t> served_by_id_{0};
  TokenSigner signer_;  // before notifier_, which signs with it
  Notifier notifier_;
  SharePointSim sharepoint_;

 private:
  // Where an item was (or is) as far as delta scopes care.
  struct Place {
    bool exists = false;
    int folder = 0;            // an item's folder; a folder entry's folder index
    TimePoint start{}, end{};  // events
    bool unread = false;       // messages: folder counts change with it
    bool in_view = true;       // events: calendarView may list it (not a series master)
  };
  static Place PlaceOf(const Item& item) {
    return Place{true,     item.folder, item.start,
                 item.end, item.unread, item.event_type != EventType::kSeriesMaster};
  }
  // What a journal entry is about: an item (`kind`, `id`) or a folder (`before.folder`).
  enum class Space : uint8_t { kItem, kMailFolder, kContactFolder };
  // One change of one item or folder: the delta journal. Sequence numbers start at 1 per
  // mailbox; the seeded data is the state at sequence 0. A folder entry says whether the
  // folder existed before and after (a create, a rename or a change of its child folders,
  // a delete).
  struct JournalEntry {
    uint64_t seq = 0;
    EntityKind kind = EntityKind::kMessage;
    std::string id;
    Place before, after;
    Space space = Space::kItem;
  };
  struct ContactFolderRecord {
    std::string display_name;
    int parent = -1;  // -1: the default folder's (the mailbox root)
    bool deleted = false;
  };
  struct MailFolderRecord {
    std::string display_name;
    std::string well_known;  // seeded well-known folders only
    int parent = -1;         // -1: the root
    bool hidden = false;
    bool search = false;
    bool deleted = false;
  };
  struct CalendarRecord {
    std::string name;
    uint32_t version = 0;  // bumped by a rename: the changeKey changes
    bool deleted = false;
  };
  struct Collections {
    Collections();
    Collection messages;
    Collection events;
    Collection contacts;
    std::vector<ContactFolderRecord> contact_folders;  // [0]: the default Contacts folder
    Collection& Of(EntityKind kind);
    const Collection& Of(EntityKind kind) const;
  };
  // A change not yet visible to queries (Options::listing_lag): the item as the change left
  // it, or none if the change removed it.
  struct PendingListing {
    uint64_t seq = 0;
    TimePoint at{};
    EntityKind kind = EntityKind::kMessage;
    std::string id;
    std::unique_ptr<Item> after;
  };
  // A recurring series, by its master's id: what expanding it needs beside the master.
  struct SeriesRecord {
    Recurrence recurrence;
    // Occurrences the client deleted (cancelled), by original start (ticks): a master
    // change that keeps the series does not bring them back.
    std::set<int64_t> cancelled;
    // The live occurrences and exceptions, by original start (ticks).
    std::map<int64_t, std::string> members;
  };
  struct Mailbox : Collections {
    std::vector<MailFolderRecord> mail_folders;  // [0, kMailFolderCount): the seeded ones
    std::vector<CalendarRecord> calendars;       // [0]: the default calendar
    std::deque<JournalEntry> journal;
    uint64_t journal_seq = 0;    // last sequence number handed out
    uint64_t journal_floor = 0;  // entries up to this one were dropped
    // With a listing lag: what list queries and delta rounds see (the state at
    // `listed_seq`) and the changes still to reach it, oldest first.
    std::unique_ptr<Collections> listed;
    uint64_t listed_seq = 0;
    std::deque<PendingListing> pending;
    std::unordered_map<std::string, SeriesRecord> series;  // by master id
    // The collection queries see, and the journal sequence it reflects.
    const Collection& Listed(EntityKind kind) const { return listed ? listed->Of(kind) : Of(kind); }
    uint64_t ListedSeq() const { return listed ? listed_seq : journal_seq; }
  };

  // Requires data_mu_ held exclusively. `after_item` is the item as the change left it
  // (nullptr if the change removed it from the collection).
  void Journal(Mailbox& mailbox, EntityKind kind, const std::string& id, Place before, Place after,
               const Item* after_item);
  // A folder's entry (requires data_mu_ held exclusively): it existed before / after.
  void JournalFolder(Mailbox& mailbox, Space space, int index, bool before, bool after);
  void TrimJournal(Mailbox& mailbox);  // to Options::delta_journal_max_entries
  // Requires data_mu_ held (shared is enough).
  int FindMailFolderLocked(const UserRecord& user, const Mailbox& mailbox,
                           const std::string& name_or_id) const;
  std::vector<MailFolderView> MailFolderViewsLocked(const UserRecord& user,
                                                    const Mailbox& mailbox) const;
  CalendarView CalendarViewLocked(const UserRecord& user, const Mailbox& mailbox, int index) const;
  // A live folder of `folders` under `parent`, other than `except`, named `name`
  // (case-insensitively).
  template <typename Records>
  static bool SiblingNamed(const Records& folders, int parent, const std::string& name, int except);
  // Events, series-aware (series.cc). Each requires data_mu_ held exclusively and appends
  // the notifications to queue, once the lock is released, to `changes`.
  std::optional<ApiError> CreateEventLocked(const UserRecord& user, Json content, TimePoint now,
                                            Created* out, std::vector<ItemChange>* changes);
  std::optional<ApiError> UpdateEventLocked(const UserRecord& user, const std::string& id,
                                            const Json& fields, TimePoint now, Json* rendered,
                                            std::vector<ItemChange>* changes);
  std::optional<ApiError> DeleteEventLocked(const UserRecord& user, const std::string& id,
                                            TimePoint now, std::vector<ItemChange>* changes);
  // Brings the series of `master_id` in line with its master: its occurrences expanded
  // again, an occurrence at an original start the pattern still has keeping its id.
  // `reset`: the pattern or times changed, so exceptions become plain occurrences again
  // and cancelled occurrences return; else only occurrences are refreshed from the master
  // (exceptions keep their own fields).
  std::optional<ApiError> SyncSeries(const UserRecord& user, Mailbox& mailbox,
                                     const std::string& master_id, bool reset, TimePoint now);
  // Removes every occurrence and exception of the series (journaled) and its record.
  void DropSeries(Mailbox& mailbox, const std::string& master_id);
  // A change of the master made by a change of one of its occurrences (exception,
  // cancellation): version and lastModifiedDateTime, journal, its notification.
  void TouchMaster(const UserRecord& user, Mailbox& mailbox, const std::string& master_id,
                   TimePoint now, std::vector<ItemChange>* changes);
  // Deterministic: the master's key and the original start, so an occurrence expanded
  // again at the same original start keeps its id.
  std::string OccurrenceId(const UserRecord& user, uint64_t master_key,
                           TimePoint original_start) const;
  void SeedUsers();
  void SeedItems();
  uint64_t NextKey();  // requires data_mu_ held exclusively
  std::string ItemId(const UserRecord& user, EntityKind kind, uint64_t id_key) const;
  Mailbox& MailboxOf(const UserRecord& user) { return *mailboxes_[user.index]; }
  const Mailbox& MailboxOf(const UserRecord& user) const { return *mailboxes_[user.index]; }

  std::string tenant_id_;
  std::vector<UserRecord> users_;
  std::unordered_map<std::string, int> user_index_;  // object id and lower-case UPN
  TenantView tenant_;

  mutable std::shared_mutex data_mu_;
  std::vector<std::unique_ptr<Mailbox>> mailboxes_;  // guarded by data_mu_
  uint64_t serial_ = 0;                              // guarded by data_mu_
  uint64_t key_base_ = 0;

  std::atomic<uint64_t> delta_epoch_{0};          // bumped by ExpireDeltaTokens
  std::atomic<uint64_t> delta_continuations_{0};  // $skiptoken pages served (replays)
  std::atomic<uint64_t> delta_next_links_{0};     // delta pages with a nextLink (empty pages)

  mutable std::mutex time_mu_;
  std::chrono::nanoseconds offset_{0};  // guarded by time_mu_ (non-manual clocks only)

  std::mutex faults_mu_;
  int injected_count_ = 0;           // guarded by faults_mu_
  InjectedStatus injected_;          // guarded by faults_mu_
  int resets_ = 0;                   // guarded by faults_mu_
  int lost_create_answers_ = 0;      // guarded by faults_mu_
  uint64_t upn_requests_ = 0;        // guarded by faults_mu_
  RandomFaults random_;              // guarded by faults_mu_
  std::mt19937_64 random_rng_;       // guarded by faults_mu_
  RandomFaultCounts random_counts_;  // guarded by faults_mu_
  std::string foreign_base_;         // guarded by faults_mu_
  std::string foreign_link_;         // "next", "delta" or "any"; guarded by faults_mu_
  std::atomic<int> foreign_count_{0};
};

// Graph JSON of a mail folder ("mailFolder resource type": id, displayName,
// parentFolderId, childFolderCount, unreadItemCount, totalItemCount, isHidden; a search
// folder first carries "@odata.type": "#microsoft.graph.mailSearchFolder" and, last, the
// properties of "mailSearchFolder resource type"), and of a calendar ("calendar resource
// type", the properties graphsim models).
Json MailFolderJson(const MailFolderState& folder, const UserRecord& owner);
Json CalendarJson(const CalendarState& calendar);

// Splits a path into its non-empty segments.
std::vector<std::string> SplitPath(const std::string& path);
// "a, b,c" -> {"a", "b", "c"}: the parts of a comma-separated list, spaces trimmed.
std::vector<std::string> SplitList(const std::string& text);
std::string ToLower(std::string_view s);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_SIMULATOR_CORE_H_
