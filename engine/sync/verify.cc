#include "engine/sync/verify.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "engine/sync/collection_sync.h"

namespace graphmirror::sync {
namespace {

DeltaOptions VerifyDeltaOptions(const config::Config& config) {
  DeltaOptions options = DeltaOptions::From(config.sync, RichProjection(config));
  options.scopes = config::Scopes(config);
  return options;
}

}  // namespace

Drift Compare(const std::map<std::string, std::string>& graph,
              const std::vector<std::pair<std::string, std::string>>& mirror) {
  Drift drift;
  std::set<std::string> held;
  for (const auto& [id, change_key] : mirror) {
    held.insert(id);
    auto it = graph.find(id);
    if (it == graph.end()) {
      drift.extra.push_back(id);
    } else if (it->second != change_key) {
      drift.stale.push_back(id);
    }
  }
  for (const auto& [id, unused] : graph) {
    if (!held.count(id)) drift.missing.push_back(id);
  }
  std::sort(drift.extra.begin(), drift.extra.end());
  std::sort(drift.stale.begin(), drift.stale.end());
  return drift;  // missing is in map order: sorted
}

Verifier::Verifier(const config::Config& config, graph::GraphClient* client, store::Store* store,
                   Clock* clock)
    : config_(config), store_(store), delta_(client, store, clock, VerifyDeltaOptions(config)) {}

Result<Drift> Verifier::CompareScope(const std::string& user_id, Collection collection,
                                     const std::string& resource, int64_t* graph_items,
                                     int64_t* mirror_items) {
  // Graph first, then the mirror: a change the sync applies in between is in both sides
  // or shows as drift the next verify no longer reports, never the reverse (a row
  // written from Graph before Graph listed it).
  auto listed = delta_.ListVersions(user_id, collection, resource == "event_occurrences");
  if (!listed.ok()) return listed.status();
  auto rows = store_->mirror().Versions(user_id, resource);
  if (!rows.ok()) return rows.status();
  *graph_items = static_cast<int64_t>(listed->size());
  *mirror_items = static_cast<int64_t>(rows->size());
  return Compare(*listed, *rows);
}

Result<int64_t> Verifier::Repair(const std::string& user_id, Collection collection,
                                 const Drift& drift) {
  if (drift.total() == 0) return int64_t{0};
  std::set<std::string> to_read(drift.missing.begin(), drift.missing.end());
  to_read.insert(drift.stale.begin(), drift.stale.end());
  // Read by id as the sync reads an item: a 404 is a delete, an item that left a scoped
  // folder leaves the mirror.
  auto write = delta_.Fetch(user_id, collection, to_read);
  if (!write.ok()) return write.status();
  // Extras leave without a read: the listing, not a GET, says what the scope holds (an
  // item that no longer matches a collection's $filter still answers its GET).
  write->deletes.insert(write->deletes.end(), drift.extra.begin(), drift.extra.end());
  const auto repaired = static_cast<int64_t>(write->upserts.size() + write->deletes.size());
  if (Status s = store_->mirror().ApplyPage(std::move(write).value()); !s.ok()) return s;
  return repaired;
}

Result<std::vector<ScopeVerify>> Verifier::Run(const VerifyRequest& request) {
  // The scopes first, so that a request naming what is not mirrored reads nothing.
  struct Planned {
    std::string user_id;
    Collection collection;
    std::string resource;
  };
  std::vector<Planned> plan;
  bool user_found = request.user_id.empty();
  const config::Scopes scopes(config_);
  for (const config::MailboxConfig& mailbox : config_.mailboxes) {
    if (!request.user_id.empty() && mailbox.user != request.user_id) continue;
    user_found = true;
    for (Collection collection : mailbox.resources) {
      if (request.collection && *request.collection != collection) continue;
      plan.push_back({mailbox.user, collection, std::string(CollectionName(collection))});
      // A filtered calendar's occurrences follow no rule of their own: only those of a
      // whole calendar are compared.
      if (collection == Collection::kEvents && scopes.Of(mailbox.user, collection).whole()) {
        plan.push_back({mailbox.user, collection, "event_occurrences"});
      }
    }
  }
  if (!user_found) {
    return Status::InvalidArgument("mailbox " + request.user_id + " is not configured");
  }
  if (plan.empty()) {
    return Status::InvalidArgument(
        "no configured mailbox" + (request.user_id.empty() ? "" : " " + request.user_id) +
        (request.collection ? " mirrors " + std::string(CollectionName(*request.collection))
                            : " mirrors anything"));
  }

  std::vector<ScopeVerify> out;
  for (const Planned& p : plan) {
    ScopeVerify v;
    v.user_id = p.user_id;
    v.collection = p.collection;
    v.resource = p.resource;
    auto drift = CompareScope(p.user_id, p.collection, p.resource, &v.graph_items, &v.mirror_items);
    if (!drift.ok()) return drift.status();
    v.drift = std::move(drift).value();
    int64_t remaining = v.drift.total();
    if (request.repair && remaining > 0) {
      auto repaired = Repair(p.user_id, p.collection, v.drift);
      if (!repaired.ok()) return repaired.status();
      v.repaired = *repaired;
      int64_t graph_items = 0, mirror_items = 0;
      auto again = CompareScope(p.user_id, p.collection, p.resource, &graph_items, &mirror_items);
      if (!again.ok()) return again.status();
      v.after_repair = std::move(again).value();
      remaining = v.after_repair->total();
      spdlog::info("verify: {} {}: repaired {} row(s), {} still differ", p.user_id, p.resource,
                   v.repaired, remaining);
    }
    store::VerifyRecord record;
    record.user_id = v.user_id;
    record.resource = v.resource;
    record.graph_items = v.graph_items;
    record.mirror_items = v.mirror_items;
    record.missing = static_cast<int64_t>(v.drift.missing.size());
    record.extra = static_cast<int64_t>(v.drift.extra.size());
    record.stale = static_cast<int64_t>(v.drift.stale.size());
    record.repaired = v.repaired;
    record.remaining = remaining;
    if (Status s = store_->sync_state().RecordVerify(record); !s.ok()) return s;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace graphmirror::sync
