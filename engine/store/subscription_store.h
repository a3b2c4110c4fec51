// SubscriptionStore: the Graph subscriptions the keeper holds, one per (mailbox,
// collection), with their clientState and expiry.
// A facet of Store (store.h), which owns the connections and the writer thread; reached
// as store.subscriptions().
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_SUBSCRIPTION_STORE_H_
#define GRAPHMIRROR_ENGINE_STORE_SUBSCRIPTION_STORE_H_

#include <string>
#include <utility>
#include <vector>

#include "engine/store/records.h"

namespace graphmirror::store {

class Store;

class SubscriptionStore {
 public:
  explicit SubscriptionStore(Store* store) : store_(store) {}
  SubscriptionStore(const SubscriptionStore&) = delete;
  SubscriptionStore& operator=(const SubscriptionStore&) = delete;

  // Inserts or replaces by (user, collection); `also_log` is appended to the notification
  // log in the same transaction (the keeper queues a catch-up with a new subscription).
  Status Put(const SubscriptionRecord& record, const std::vector<LogEntry>& also_log = {});
  Status Delete(const std::string& id);
  Result<std::vector<SubscriptionRecord>> All();

 private:
  Store* store_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_SUBSCRIPTION_STORE_H_
