#include "engine/sync/verify.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
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
              const std::vector<store::RowVersion>& mirror) {
  Drift drift;
  std::set<std::string> held;
  for (const store::RowVersion& row : mirror) {
    held.insert(row.id);
    auto it = graph.find(row.id);
    if (it == graph.end()) {
      drift.extra.push_back(row.id);
    } else if (it->second != row.change_key) {
      drift.stale.push_back(row.id);
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
    : config_(config),
      scopes_(config),
      store_(store),
      clock_(clock),
      delta_(client, store, clock, VerifyDeltaOptions(config)) {}

Result<Verifier::Compared> Verifier::CompareScope(const std::string& user_id, Collection collection,
                                                  const std::string& resource, bool repairing) {
  // Graph's lists may lag a GET by id by this much (as DeltaSyncer::Sweep allows).
  constexpr std::chrono::hours kListingLag{1};
  const std::string recent = store::FormatUtc(clock_->Now() - kListingLag);
  // Graph first, then the mirror: a change the sync applies in between is in the mirror
  // and confirmed below, never a row written from Graph before Graph listed it.
  auto listed = delta_.ListVersions(user_id, collection, resource == "event_occurrences");
  if (!listed.ok()) return listed.status();
  auto rows = store_->mirror().Versions(user_id, resource);
  if (!rows.ok()) return rows.status();
  Compared out;
  out.graph_items = static_cast<int64_t>(listed->size());
  out.mirror_items = static_cast<int64_t>(rows->size());
  out.fix.user_id = user_id;
  out.fix.collection = collection;
  const Drift as_listed = Compare(*listed, *rows);
  if (as_listed.total() == 0) return out;
  if (!repairing && as_listed.total() > static_cast<int64_t>(kMaxConfirmed)) {
    out.drift = as_listed;
    out.confirmed = false;
    return out;
  }

  // Confirm each difference by reading the item by id, as the sync reads an item.
  std::set<std::string> ids(as_listed.missing.begin(), as_listed.missing.end());
  ids.insert(as_listed.stale.begin(), as_listed.stale.end());
  ids.insert(as_listed.extra.begin(), as_listed.extra.end());
  auto read = delta_.Fetch(user_id, collection, ids);
  if (!read.ok()) return read.status();
  std::map<std::string, MirrorItem*> present;  // in Graph and in the scope
  for (MirrorItem& item : read->upserts) present[item.id] = &item;
  const std::set<std::string> gone(read->deletes.begin(), read->deletes.end());
  std::map<std::string, const store::RowVersion*> row_of;
  for (const store::RowVersion& row : *rows) row_of[row.id] = &row;
  // Whether a GET tells that an item is in the scope: not for a $filter or the window.
  const bool get_tells_scope =
      resource != "event_occurrences" && scopes_.Of(user_id, collection).filter.empty();

  std::set<std::string> write;
  for (const std::string& id : as_listed.missing) {
    if (present.count(id)) {
      out.drift.missing.push_back(id);
      write.insert(id);
    }  // else gone since it was listed, or out of a scoped folder: no drift
  }
  for (const std::string& id : as_listed.stale) {
    auto it = present.find(id);
    if (it == present.end()) {
      out.drift.stale.push_back(id);  // gone since it was listed: the row must go
      out.fix.deletes.push_back(id);
    } else if (it->second->change_key != row_of.at(id)->change_key) {
      out.drift.stale.push_back(id);
      write.insert(id);
    }  // else the listing showed an older version than Graph has now: no drift
  }
  for (const std::string& id : as_listed.extra) {
    const bool drifted = gone.count(id) > 0 || (present.count(id) > 0 && !get_tells_scope &&
                                                row_of.at(id)->modified_at < recent);
    if (drifted) {
      out.drift.extra.push_back(id);
      out.fix.deletes.push_back(id);
    }  // else Graph has it in the scope and its lists do not show it yet: no drift
  }
  for (MirrorItem& item : read->upserts) {
    if (write.count(item.id)) out.fix.upserts.push_back(std::move(item));
  }
  return out;
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
  for (const config::MailboxConfig& mailbox : config_.mailboxes) {
    if (!request.user_id.empty() && mailbox.user != request.user_id) continue;
    user_found = true;
    for (Collection collection : mailbox.resources) {
      if (request.collection && *request.collection != collection) continue;
      plan.push_back({mailbox.user, collection, std::string(CollectionName(collection))});
      // A filtered calendar's occurrences follow no rule of their own: only those of a
      // whole calendar are compared.
      if (collection == Collection::kEvents && scopes_.Of(mailbox.user, collection).whole()) {
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
    auto compared = CompareScope(p.user_id, p.collection, p.resource, request.repair);
    if (!compared.ok()) return compared.status();
    v.drift = compared->drift;
    v.confirmed = compared->confirmed;
    v.graph_items = compared->graph_items;
    v.mirror_items = compared->mirror_items;
    int64_t remaining = v.drift.total();
    if (request.repair && remaining > 0) {
      // Exactly the drifted rows: Graph's state of the missing and stale items (newer
      // versions only, as every write), and the extra rows deleted.
      v.repaired =
          static_cast<int64_t>(compared->fix.upserts.size() + compared->fix.deletes.size());
      if (Status s = store_->mirror().ApplyPage(std::move(compared->fix)); !s.ok()) return s;
      auto again = CompareScope(p.user_id, p.collection, p.resource, /*repairing=*/false);
      if (!again.ok()) return again.status();
      v.after_repair = again->drift;
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
