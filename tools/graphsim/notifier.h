// Notifier: the subscriptions of the simulated tenant and the delivery of their change and
// lifecycle notifications (GRAPH.md sections 1, 3 and 4).
//
// Changes of items arrive through OnChange (called by the data model after it released its
// data lock); each live subscription that watches the item's collection (or mail folder)
// and asked for that change type gets a changeNotification queued for its notificationUrl.
// A subscription sees an item that is in its folder and matches its $filter: one that
// starts to be (created, moved in, changed to match) is `created`, one that stops
// (deleted, moved out, changed not to match) is `deleted`, one that stays is `updated`.
// Pump() first queues a `reauthorizationRequired` for each subscription whose expiry came
// within Options::reauthorize_before_expiry (once per expiry value), then turns the due
// queue into batches (at most Options::max_batch items per POST, items of several
// subscriptions together), POSTs them and schedules failed batches for retry with
// exponential backoff in clock time, dropping them after the retry window.
//
// Rich subscriptions (includeResourceData): a created/updated item carries encryptedContent
// made at queue time from the item as the change left it (ItemChange::content), in
// Outlook's shape (RichContent in schema.h: the subscription's $select, annotated); each POST with
// such items carries validationTokens from the TokenSigner. Rich faults are counted down here.
//
// Event Hubs (`EventHub:` URLs, event_hub.h): a batch for a hub is written as one Kafka
// record to the hub's topic instead of POSTed, with the same retries; it carries no
// validationTokens (Graph sends none through Event Hubs). The producer is made on first use
// from Options::kafka_brokers.
//
// Thread-safety: safe to use from many threads. mu_ guards the subscriptions and the queue
// and is never held during a POST or a Kafka write; pump_mu_ serializes pumps (and is held
// during POSTs); thread_mu_ guards the background thread's handle; hub_mu_ guards the
// producer's creation only. Lock order: pump_mu_, then mu_; hub_mu_ is taken alone. The
// Notifier must outlive every PublishToHub call (the server stops before it is destroyed).

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_NOTIFIER_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_NOTIFIER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tools/graphsim/event_hub.h"
#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/odata.h"
#include "tools/graphsim/rich.h"
#include "tools/graphsim/schema.h"

namespace graphsim {

enum ChangeBits : unsigned { kChangeCreated = 1, kChangeUpdated = 2, kChangeDeleted = 4 };

// What a subscription watches: one collection of one mailbox, or one mail folder's messages,
// or one contact folder's contacts.
struct WatchTarget {
  int user = -1;  // UserRecord::index
  EntityKind kind = EntityKind::kMessage;
  int folder = -1;  // mail or contact folder index; -1: the whole collection
  bool operator==(const WatchTarget&) const = default;
};

struct SubscriptionRecord {
  uint64_t seq = 0;      // creation order; list paging key
  std::string id;        // GUID text
  std::string resource;  // as the client sent it
  WatchTarget target;
  std::string user_id;   // the watched mailbox's object id
  unsigned changes = 0;  // ChangeBits
  std::string notification_url;
  std::string lifecycle_url;  // "" if none
  std::optional<std::string> client_state;
  std::string tls_version = "v1_2";
  std::optional<bool> include_resource_data;  // as sent
  // The resource's $select, Graph's spelling and order; empty: none.
  std::vector<std::string> select;
  // The resource's $filter ("Refine the conditions for a notification"): only items that
  // match it are watched; an item entering or leaving the match is created or deleted.
  std::shared_ptr<const FilterExpr> filter;
  std::string filter_text;  // as sent (decoded); part of the 409 identity

  // encryptionCertificate as sent ("" if none), echoed by the create answer only.
  std::string certificate_text;
  std::string certificate_id;  // encryptionCertificateId ("" if none)
  std::shared_ptr<const EncryptionCertificate> certificate;
  TimePoint expires;
  // The expiry for which the automatic reauthorizationRequired was queued (epoch: none);
  // a renewal to another expiry re-arms it.
  TimePoint reauthorization_for{};
};

inline bool IsRich(const SubscriptionRecord& sub) {
  return sub.include_resource_data.value_or(false);
}

// "created,updated,deleted" for a set of ChangeBits, in that order.
std::string ChangeTypeText(unsigned changes);

// One change of one item, as the data model saw it.
struct ItemChange {
  enum class Op { kCreate, kUpdate, kDelete, kMove };
  Op op = Op::kCreate;
  int user = -1;        // UserRecord::index
  std::string user_id;  // the mailbox's object id
  EntityKind kind = EntityKind::kMessage;
  std::string id;  // after the change (before it, for a delete)
  std::string etag;
  int folder = 0;      // messages, contacts: the folder after the change (before it, for a delete)
  std::string old_id;  // kMove: the id before the move
  int old_folder = 0;  // kMove: the folder before the move
  // The item after the change, rendered in full (Render with no $select), for rich
  // subscriptions and $filter; null when Notifier::WantsContent() was false or for a delete.
  std::shared_ptr<const Json> content;
  // The item before the change, rendered likewise, for $filter; null when
  // Notifier::WantsContent() was false or for a create.
  std::shared_ptr<const Json> before;
};

class Notifier {
 public:
  // `signer` (borrowed) signs the validationTokens of rich notifications.
  Notifier(const Options& options, std::string tenant_id, std::function<TimePoint()> now,
           TokenSigner* signer);
  ~Notifier();  // stops the delivery thread
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // --- Subscriptions (expired ones are purged by the clock on every call) ----------------
  // The 409 (same target, change types and notificationUrl) and 403 (mailbox quota)
  // checks of a create, for a candidate not yet inserted.
  std::optional<ApiError> CheckCreate(const SubscriptionRecord& candidate);
  // Assigns id and seq, checks again (the handshake ran unlocked) and stores.
  std::optional<ApiError> Insert(SubscriptionRecord* record);
  std::optional<SubscriptionRecord> Find(const std::string& id);
  // Live subscriptions with seq > after, oldest first, at most `limit`; *more if others follow.
  std::vector<SubscriptionRecord> List(uint64_t after, size_t limit, bool* more);
  struct Change {
    std::optional<TimePoint> expires;
    std::optional<std::string> notification_url;
    // A new encryption certificate (rotation): later rich items use it.
    std::shared_ptr<const EncryptionCertificate> certificate;
    std::string certificate_id;
  };
  // PATCH: nullopt and *out updated, or 404 / 409.
  std::optional<ApiError> Update(const std::string& id, const Change& change,
                                 SubscriptionRecord* out);
  bool Delete(const std::string& id);
  bool Exists(const std::string& id);
  bool EmitLifecycle(const std::string& id, const std::string& event);
  bool Remove(const std::string& id);  // subscriptionRemoved, then delete
  // Remove() for every live subscription on that mailbox (a password reset); returns how many.
  size_t RemoveForUser(int user);

  // --- Notifications ---------------------------------------------------------------------
  // True once any rich subscription or one with a $filter was created: changes should
  // carry the item's rendered states (ItemChange::content, ::before). (It stays true:
  // rendering an item nobody needs only costs time.)
  bool WantsContent() const { return any_rich_.load(std::memory_order_relaxed); }
  void OnChange(const ItemChange& change);
  size_t Pump();
  // `also` runs after each pump on the thread (other deliveries: SharePoint's).
  void StartThread(std::chrono::milliseconds poll, std::function<void()> also = nullptr);
  void StopThread();
  DeliveryStats Stats() const;
  std::vector<AckedNotification> Acked() const;

  // Rich faults (see RichFault): the next `count` rich items or token-carrying POSTs.
  void InjectRichFault(RichFault fault, int count);
  void ClearRichFaults();

  // --- Event Hubs ------------------------------------------------------------------------
  // Writes `body` as one record to the hub an `EventHub:` URL names, waiting at most
  // `timeout` for the cluster's acknowledgement: nullopt once written, else why not (no
  // --kafka-brokers, a URL naming no hub, the cluster's error or silence).
  std::optional<std::string> PublishToHub(const std::string& url, const std::string& body,
                                          std::chrono::milliseconds timeout);

 private:
  struct Pending {
    std::string notification_id;  // "" if ids are not included
    std::string subscription_id;
    bool change = true;  // a change notification: discarded if its subscription is gone
    bool rich = false;   // carries encryptedContent (its POST needs validationTokens)
    Json item;
    TimePoint due;
  };
  struct Batch {
    uint64_t seq = 0;
    std::string url;
    std::vector<Pending> items;
    TimePoint first_attempt;
    TimePoint next_due;
    std::chrono::nanoseconds backoff{0};
    bool duplicate = false;
  };

  void PurgeExpiredLocked(TimePoint now);
  SubscriptionRecord* FindLocked(const std::string& id);
  std::optional<ApiError> CheckLocked(const SubscriptionRecord& candidate);
  std::string NewIdLocked();
  std::string ResourcePathLocked(const std::string& user_id, EntityKind kind,
                                 const std::string& item_id);
  // A queued item with the fields every notification carries (id, subscription, expiry).
  Pending NewPendingLocked(const SubscriptionRecord& sub, TimePoint due);
  // False if nothing was queued (a rich subscription and a change without content).
  bool QueueChangeLocked(const SubscriptionRecord& sub, unsigned change, const ItemChange& item,
                         const std::string& item_id, TimePoint now);
  // The faults that apply to the next item or token-carrying POST (counting them down):
  // content faults for `content`, else token faults.
  RichFaults TakeRichFaultsLocked(bool content);
  // To the subscription's lifecycleNotificationUrl; false (nothing queued) without one.
  bool QueueLifecycleLocked(const SubscriptionRecord& sub, const std::string& event, TimePoint now);
  // reauthorizationRequired for each subscription that entered its reauthorization window.
  void QueueReauthorizationsLocked(TimePoint now);
  void QueueLocked(const std::string& url, Pending pending);
  void FormBatchesLocked(TimePoint now);
  template <typename T>
  void ShuffleLocked(std::vector<T>* items);
  // POSTs one batch (twice if it is a duplicate), records the outcome and reschedules or
  // drops it on failure; returns the POSTs made.
  size_t Deliver(Batch batch);
  void AckLocked(const Batch& batch);
  // One POST (or, for an `EventHub:` URL, one Kafka record); true if answered 2xx (written)
  // in time.
  bool Send(const std::string& url, const std::string& body);

  const Options& options_;
  const std::string tenant_id_;
  const std::function<TimePoint()> now_;
  TokenSigner* const signer_;
  std::atomic<bool> any_rich_{false};

  std::mutex pump_mu_;

  mutable std::mutex mu_;
  std::map<uint64_t, SubscriptionRecord> subs_;        // guarded by mu_
  std::unordered_map<std::string, uint64_t> seq_of_;   // guarded by mu_
  uint64_t next_seq_ = 0;                              // guarded by mu_
  Rng ids_;                                            // guarded by mu_
  Rng shuffle_;                                        // guarded by mu_
  uint64_t notifications_ = 0;                         // guarded by mu_
  uint64_t batches_formed_ = 0;                        // guarded by mu_
  std::map<std::string, std::vector<Pending>> fresh_;  // by URL; guarded by mu_
  std::list<Batch> batches_;                           // formed, not yet sent; mu_
  DeliveryStats stats_;                                // guarded by mu_
  std::vector<AckedNotification> acked_;               // guarded by mu_
  int rich_faults_[kRichFaultCount] = {};              // pending counts; guarded by mu_
  bool wake_ = false;                                  // guarded by mu_
  bool stop_ = false;                                  // guarded by mu_
  std::condition_variable wake_cv_;

  std::mutex thread_mu_;
  std::thread thread_;  // guarded by thread_mu_

  std::mutex hub_mu_;
  std::unique_ptr<EventHubProducer> hub_producer_;  // made on first use; guarded by hub_mu_
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_NOTIFIER_H_
