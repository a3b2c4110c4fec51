#include "engine/sync/sync_once.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>

#include "engine/base/turns.h"

namespace graphmirror::sync {
namespace {

// Collections read at once, taking turns: past this many, the rest start as they end (a
// thread each; a waiting one holds no page).
constexpr size_t kMaxTakingTurns = 256;

}  // namespace

std::vector<CollectionReport> SyncAllOnce(
    const config::Config& config, graph::GraphClient* client, store::Store* store,
    const std::function<void(const CollectionReport&)>& on_done, Clock* clock) {
  CollectionSync sync(config, client, store, clock);
  return SyncAllOnce(config, &sync, store, on_done);
}

std::vector<CollectionReport> SyncAllOnce(
    const config::Config& config, CollectionSync* sync, store::Store* store,
    const std::function<void(const CollectionReport&)>& on_done) {
  std::vector<CollectionReport> reports;
  const Status scoped = ApplyScopes(config, store);
  for (const config::MailboxConfig& mailbox : config.mailboxes) {
    for (Collection c : mailbox.resources) {
      CollectionReport r;
      r.user_id = mailbox.user;
      r.collection = c;
      reports.push_back(std::move(r));
    }
  }
  std::atomic<size_t> next{0};
  std::mutex report_mu;
  // sync.parallelism requests (each with what is done with its answer) at a time, the
  // collections in turn: every mailbox advances a page at a time, so none waits for others
  // to be read whole.
  Turns turns(config.sync.parallelism);
  auto work = [&] {
    Turns::Participant participant(&turns);
    for (size_t i; (i = next.fetch_add(1)) < reports.size();) {
      CollectionReport& r = reports[i];
      auto before = store->mirror().CountItems(r.user_id, r.collection);
      r.items_before = before.ok() ? *before : 0;
      r.status = [&] {
        if (!scoped.ok()) return scoped;
        // Stopping (CollectionSync::Cancel): the collections not begun are not begun.
        if (sync->cancelled()) return Status::Cancelled("the sync was stopped");
        CollectionSync::PassStats pass;
        Status rounds = sync->Rounds(r.user_id, r.collection, &pass);
        r.stats = pass.created;
        r.changed_stats = pass.modified;
        r.delta_stats = pass.delta;
        return rounds;
      }();
      // What this pass could not read is read later by the daemon's worker.
      if (!r.status.ok() && !sync->cancelled()) sync->Owe(r.user_id, r.collection);
      auto after = store->mirror().CountItems(r.user_id, r.collection);
      r.items_after = after.ok() ? *after : 0;
      if (on_done) {
        std::lock_guard<std::mutex> lock(report_mu);
        on_done(r);
      }
    }
  };
  const size_t workers = std::min(reports.size(), kMaxTakingTurns);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // out of threads: those started share the collections
    }
  }
  work();
  for (auto& t : threads) t.join();
  return reports;
}

}  // namespace graphmirror::sync
