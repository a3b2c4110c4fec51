// SubscriptionTable: the subscriptions the receiver accepts notifications for, with the
// clientState each must echo. The subscription keeper fills it (from the store at start,
// then on every create, renew and removal); the receiver reads it on every item.
//
// Thread-safety: all methods are safe to call from many threads at once (readers share a
// lock; a writer takes it alone).

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_SUBSCRIPTION_TABLE_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_SUBSCRIPTION_TABLE_H_

#include <cstddef>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/base/item.h"

namespace graphmirror::notify {

struct KnownSubscription {
  std::string id;  // Graph's subscription id
  std::string user_id;
  Collection collection = Collection::kMessages;
  // The secret sent at create; notifications must echo it. Never empty: the receiver
  // refuses every item of an entry without one.
  std::string client_state;
  // A SharePoint list subscription: the configured site URL and the list id (both
  // non-empty); user_id and collection are then unused.
  std::string list_site;
  std::string list_id;
  // A scoped mirror's subscription (a mail folder's, or one with a $filter): its `deleted`
  // may mean "left the scope", so it never marks an item as gone for good.
  bool scoped = false;
};

class SubscriptionTable {
 public:
  SubscriptionTable() = default;
  SubscriptionTable(const SubscriptionTable&) = delete;
  SubscriptionTable& operator=(const SubscriptionTable&) = delete;

  // Inserts or replaces the entry with this id.
  void Put(KnownSubscription subscription);
  void Remove(const std::string& id);
  std::optional<KnownSubscription> Find(const std::string& id) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, KnownSubscription> by_id_;
};

// Compares two secrets in time independent of where they differ (CRYPTO_memcmp), so a
// forger cannot find a clientState byte by byte from response times. Different lengths
// return false at once: the length is not secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A fresh clientState: 32 bytes from OpenSSL's CSPRNG, base64url without padding
// (43 characters; Graph allows 128).
std::string NewClientState();

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_SUBSCRIPTION_TABLE_H_
