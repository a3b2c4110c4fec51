// SubscriptionKeeper: keeps one live Graph subscription per configured (mailbox,
// collection), so that notifications keep coming; a collection scoped by mail folders gets
// one per folder (`/users/{id}/mailFolders/{folder}/messages`), a filtered one carries its
// `$filter` in the resource (then `deleted` also means "left the filter").
//
// It creates subscriptions (always with a lifecycle URL, by default the notification URL,
// since Graph sends lifecycle events to no other; and a fresh random clientState each,
// which in partitioned mode starts with the mailbox's routing key: notify/routing.h),
// stores them, renews them `renew_margin` before expiry (clamping the requested lifetime
// when Graph answers ExtensionError / ErrorInvalidParameter), recreates them when Graph
// answers 404, and at start reconciles with Graph's own list: adopts what it knows,
// deletes subscriptions to our notification URL it has no secret for (orphans,
// duplicates), forgets stored ones Graph no longer has, and replaces ours whose
// notification or lifecycle URL is not the configured one. A create answered 409 after
// its first attempt got no answer adopts the subscription that attempt made. Whenever a
// subscription is (re)created, a catch-up is queued in the notification log in the same
// transaction, because changes made while no subscription existed were never notified.
//
// Mailboxes configured `rich = true` get rich subscriptions: `includeResourceData` with
// the configured certificate, a `$select` of the rich properties (graph/select.h) and a
// lifetime of at most 1,440 minutes (Graph's limit with resource data). A renewal after
// a key rotation sends the new certificate; a mailbox switched to or from rich gets its
// subscription replaced.
//
// Thread-safety: all methods may be called from any thread; calls are serialized inside.

#ifndef GRAPHMIRROR_ENGINE_SYNC_KEEPER_H_
#define GRAPHMIRROR_ENGINE_SYNC_KEEPER_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/graph/subscriptions.h"
#include "engine/notify/subscription_table.h"
#include "engine/store/store.h"
#include "engine/sync/collection_sync.h"

namespace graphmirror::sync {

// The log rows the keeper queues with a new subscription (not a Graph event): a full pass
// over what happened while nothing notified.
inline constexpr const char* kCatchUpEvent = "graphmirror.catchUp";
// How often Maintain compares the subscriptions with Graph's list.
inline constexpr std::chrono::hours kReconcileEvery{1};

struct KeeperStats {
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> renewed{0};
  std::atomic<uint64_t> recreated{0};
  std::atomic<uint64_t> deleted_orphans{0};
  std::atomic<uint64_t> adopted{0};   // found at Graph after a create's answer was lost
  std::atomic<uint64_t> replaced{0};  // had other notification or lifecycle URLs

  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> lifecycle_events{0};   // handled, unknown ones included
  std::atomic<uint64_t> unknown_lifecycle{0};  // acknowledged, logged and ignored
};

class SubscriptionKeeper {
 public:
  // `sync` (the rounds a lifecycle event calls for) is borrowed and must outlive the keeper.
  SubscriptionKeeper(const config::Config& config, graph::GraphClient* client, store::Store* store,
                     notify::SubscriptionTable* table, Clock* clock, CollectionSync* sync);

  // The certificate rich subscriptions are created with (see rich/keygen.h). Needed
  // before Maintain when a mailbox is rich.
  void SetRichCertificate(std::string der_base64, std::string certificate_id);

  // Loads the stored subscriptions into the table, so that the receiver accepts their
  // notifications from its first request on (Graph's retries arrive the moment it
  // listens). No Graph call.
  Status LoadStored();
  // Compares the stored subscriptions with GET /subscriptions: adopts ours, deletes
  // orphans, forgets the ones Graph no longer has.
  Status Reconcile();
  // Reconciles when due (hourly, or after a failed attempt), creates what is missing and
  // renews what is due. Keeps going past a failing mailbox and returns the first failure.
  Status Maintain();
  // When Maintain has work next (the earliest renewal), or now if something is missing.
  TimePoint NextDue();

  // The lifecycle events of GRAPH.md section 4, called by the sync worker for log rows.
  Status HandleLifecycle(const store::PendingNotification& row);

  // Runs Maintain whenever due (checking at least every `max_wait`, real time) until Stop.
  void Run(std::chrono::milliseconds max_wait = std::chrono::milliseconds(60'000));
  void Stop();

  const KeeperStats& stats() const { return stats_; }

 private:
  struct Key {
    std::string user;
    Collection collection;
    std::string scope;  // the folder of a folder-scoped collection, else ""
    auto operator<=>(const Key&) const = default;
  };
  // The subscriptions a configured (mailbox, collection) needs.
  std::vector<Key> KeysOf(const std::string& user, Collection collection) const;
  // What the receiver needs to accept the subscription's notifications.
  notify::KnownSubscription Known(const store::SubscriptionRecord& record) const;
  // The key of a stored subscription.
  static Key KeyOf(const store::SubscriptionRecord& record) {
    return {record.user_id, record.collection, record.scope};
  }

  // Whether a subscription at Graph to our notification URL is this keeper's to delete
  // when it does not know it: always, but in partitioned mode ([kafka] mode), where every
  // shard delivers to the same URL, only one for a mailbox of this shard's partition (or,
  // outside a shard, a configured one).
  bool OwnsResource(const std::string& resource) const;
  Status Create(const Key& key);
  Status Renew(const Key& key);
  // A full pass over what happened while nothing notified, and its recheck.
  Status CatchUp(const Key& key);
  Status Forget(const Key& key);
  // Deletes the subscription at Graph and here (a mailbox switched to or from rich, a
  // scope no longer configured); `why` is logged.
  Status Replace(const Key& key, const std::string& why);
  // Creates a subscription with the configured URLs, then deletes the old one.
  Status ReplaceOutdated(const Key& key);
  static store::LogEntry CatchUpEntry(const store::SubscriptionRecord& record);
  bool IsRich(const Key& key) const { return rich_users_.count(key.user) > 0; }
  std::chrono::minutes Lifetime(const Key& key) const;
  std::chrono::minutes RenewMargin(const Key& key) const;
  // After ExtensionError / ErrorInvalidParameter: ask for less from now on.
  void LowerLifetime(const Key& key, const graph::SubscriptionOutcome& too_far);
  std::string Expiration(const Key& key) const;
  std::string Resource(const Key& key) const;

  config::Config config_;
  config::Scopes scopes_;
  graph::SubscriptionApi api_;
  store::Store* store_;
  notify::SubscriptionTable* table_;
  Clock* clock_;
  CollectionSync* sync_;
  KeeperStats stats_;

  std::recursive_mutex mu_;  // serializes the public calls
  std::map<Key, store::SubscriptionRecord> live_;
  // The clientState of a create that got no answer (Graph may have made it), asked again.
  std::map<Key, std::string> unanswered_client_state_;
  std::set<std::string> given_up_;  // ids of subscriptions this keeper forgot
  // The URLs subscriptions are made with (config::SubscriptionUrls): the webhook's, or
  // the event hub of [kafka] event_hub_url for both.
  std::string notification_url_;
  std::string lifecycle_url_;
  std::set<std::string> rich_users_;
  int partitions_ = 0;  // [kafka] partitions when partitioned, else 0
  int shard_ = -1;      // [kafka] shard: the partition of this keeper's engine, or -1
  std::string rich_certificate_;  // base64 DER
  std::string rich_certificate_id_;
  std::chrono::minutes lifetime_;       // lowered when Graph says it is too long
  std::chrono::minutes rich_lifetime_;  // the same for rich subscriptions
  TimePoint last_reconciled_{};         // never, until Reconcile succeeds

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_KEEPER_H_
