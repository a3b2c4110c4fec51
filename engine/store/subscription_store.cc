#include "engine/store/subscription_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cctype>
#include <mutex>

#include "engine/base/resource.h"
#include "engine/store/mirror_writes.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

Status SubscriptionStore::Put(const SubscriptionRecord& r, const std::vector<LogEntry>& also_log) {
  return store_->Write([&](WriteContext& ctx) {
    AppendLogEntries(ctx, also_log);
    SQLite::Statement& s = ctx.Prepare(
        "INSERT INTO subscriptions (id, user_id, collection, resource, change_type, "
        "client_state, expires_at, created_at, renewed_at, encryption_certificate_id, scope) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, ''), NULLIF(?10, ''), ?11) "
        "ON CONFLICT (user_id, collection, scope) DO UPDATE SET id = excluded.id, "
        "resource = excluded.resource, change_type = excluded.change_type, "
        "client_state = excluded.client_state, expires_at = excluded.expires_at, "
        "created_at = excluded.created_at, renewed_at = excluded.renewed_at, "
        "encryption_certificate_id = excluded.encryption_certificate_id");
    s.bind(1, r.id);
    s.bind(2, r.user_id);
    s.bind(3, std::string(CollectionName(r.collection)));
    s.bind(4, r.resource);
    s.bind(5, r.change_type);
    s.bind(6, r.client_state);
    s.bind(7, r.expires_at);
    s.bind(8, r.created_at);
    s.bind(9, r.renewed_at);
    s.bind(10, r.encryption_certificate_id);
    s.bind(11, r.scope);
    s.exec();
  });
}

Status SubscriptionStore::Delete(const std::string& id) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& s = ctx.Prepare("DELETE FROM subscriptions WHERE id = ?1");
    s.bind(1, id);
    s.exec();
  });
}

Result<std::vector<SubscriptionRecord>> SubscriptionStore::All() {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(),
                        "SELECT id, user_id, collection, resource, change_type, client_state, "
                        "expires_at, created_at, coalesce(renewed_at, ''), "
                        "coalesce(encryption_certificate_id, ''), scope FROM subscriptions "
                        "ORDER BY user_id, collection, scope");
    std::vector<SubscriptionRecord> out;
    while (q.executeStep()) {
      SubscriptionRecord r;
      r.id = q.getColumn(0).getString();
      r.user_id = q.getColumn(1).getString();
      r.collection = ParseCollection(q.getColumn(2).getString()).value_or(Collection::kMessages);
      r.resource = q.getColumn(3).getString();
      r.change_type = q.getColumn(4).getString();
      r.client_state = q.getColumn(5).getString();
      r.expires_at = q.getColumn(6).getString();
      r.created_at = q.getColumn(7).getString();
      r.renewed_at = q.getColumn(8).getString();
      r.encryption_certificate_id = q.getColumn(9).getString();
      r.scope = q.getColumn(10).getString();
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading subscriptions: ") + e.what());
  }
}

}  // namespace graphmirror::store
