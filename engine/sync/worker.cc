#include "engine/sync/worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "engine/base/backoff.h"
#include "engine/base/resource.h"

namespace graphmirror::sync {
namespace {

// Log rows taken per RunOnce: bounds memory; the rest waits for the next pass.
constexpr int kBatchRows = 20'000;
// The change feed is pruned this often, at most kChangesBatches transactions of
// kChangesBatchRows rows each per pass: the writer is never held long by it.
constexpr std::chrono::minutes kChangesPruneInterval{10};
constexpr int kChangesBatchRows = 1000;
constexpr int kChangesBatches = 10;
// Passes that retry a group whose notified versions Graph did not show even by id, before
// its rows are applied anyway (the delta pass remains the safety net).
constexpr int kLateVersionRetries = 3;

// The changeKey an etag names: W/"CQAAABYAAAB..." -> CQAAABYAAAB...
std::string ChangeKeyOfEtag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

struct Group {
  std::vector<int64_t> seqs;  // change notifications, ended together
  std::vector<std::string> deleted_ids;
  std::vector<MirrorItem> rich_items;  // decrypted from rich notifications
  bool created = false;
  bool updated = false;
  // (id, changeKey) of the created and updated rows that name an item ("" if no etag).
  std::vector<std::pair<std::string, std::string>> notified;
  std::vector<std::string> changed_ids;  // every created and updated row's item
  // The newest receipt time of the created and of the updated rows (store::FormatUtc).
  std::string created_received;
  std::string updated_received;
  bool tied_versions = false;  // rich versions only Graph can order: its round must run
  std::vector<const store::PendingNotification*> lifecycle;
  int attempts = 0;  // the most any change row of the group has had: sets the backoff
};

}  // namespace

SyncWorker::SyncWorker(const config::Config& config, CollectionSync* sync, store::Store* store,
                       Clock* clock)
    : clock_(clock),
      store_(store),
      sync_(sync),
      log_retention_(config.sync.log_retention),
      changes_(config.changes),
      delta_interval_(config.sync.delta_interval),
      next_delta_(clock->Now() + config.sync.delta_interval) {
  for (const auto& mailbox : config.mailboxes) {
    for (Collection c : mailbox.resources) configured_.emplace(mailbox.user, c);
  }
}

Result<int64_t> SyncWorker::BehindNotified(
    const std::string& user, Collection collection, const std::vector<int64_t>& seqs,
    const std::vector<std::pair<std::string, std::string>>& read) {
  if (read.empty() || seqs.empty()) return static_cast<int64_t>(read.size());
  // A version read that a later row notified is newer than the group's, not older: the
  // item changed again meanwhile (a series renamed, then an occurrence edited), and the
  // later row is answered in its own group. Retrying would wait for a version gone by.
  std::vector<std::string> ids;
  for (const auto& [id, change_key] : read) ids.push_back(id);
  auto later = store_->log().EtagsNotifiedAfter(user, collection,
                                                *std::max_element(seqs.begin(), seqs.end()), ids);
  if (!later.ok()) return later.status();
  std::set<std::pair<std::string, std::string>> newer;
  for (const auto& [id, etag] : *later) newer.emplace(id, ChangeKeyOfEtag(etag));
  return static_cast<int64_t>(
      std::count_if(read.begin(), read.end(), [&](const auto& v) { return !newer.count(v); }));
}

std::chrono::seconds SyncWorker::RetryDelay(int attempts) const {
  // 2 s, 4 s, 8 s, ... capped at 15 minutes.
  return std::chrono::duration_cast<std::chrono::seconds>(
      Backoff{std::chrono::seconds(2), std::chrono::minutes(15)}.Delay(attempts + 1));
}

void SyncWorker::PruneLogIfDue() {
  const TimePoint now = clock_->Now();
  if (log_retention_.count() == 0 || now < next_prune_) return;
  next_prune_ = now + std::chrono::hours(1);
  auto pruned = store_->log().Prune(now - log_retention_);
  if (!pruned.ok()) {
    spdlog::warn("sync: pruning the notification log: {}", pruned.status().message());
  } else if (*pruned > 0) {
    spdlog::info("sync: pruned {} ended notification log rows", *pruned);
  }
}

void SyncWorker::PruneChangesIfDue() {
  const TimePoint now = clock_->Now();
  if (changes_.keep_days <= 0 || now < next_changes_prune_) return;
  next_changes_prune_ = now + kChangesPruneInterval;
  const TimePoint cutoff = now - std::chrono::hours(24) * changes_.keep_days;
  int64_t pruned = 0;
  for (int i = 0; i < kChangesBatches; ++i) {
    auto batch = store_->changes().PruneBatch(cutoff, changes_.drop_unread, kChangesBatchRows);
    if (!batch.ok()) {
      spdlog::warn("sync: pruning the change feed: {}", batch.status().message());
      return;
    }
    pruned += *batch;
    if (*batch < kChangesBatchRows) break;
    if (i + 1 == kChangesBatches) next_changes_prune_ = now;  // more next pass
  }
  if (pruned > 0) spdlog::info("sync: pruned {} changes from the change feed", pruned);
}

void SyncWorker::DeltaPassIfDue() {
  const TimePoint now = clock_->Now();
  if (delta_interval_.count() == 0 || now < next_delta_) return;
  next_delta_ = now + delta_interval_;
  for (const auto& [user, collection] : configured_) {
    if (sync_->StoppedUntil(user, collection)) continue;
    auto pass = sync_->Delta(user, collection);
    if (!pass.ok()) {
      spdlog::warn("sync: delta pass of {} {}: {}", user, CollectionName(collection),
                   pass.status().message());
    } else if (pass->removed > 0) {
      spdlog::info("sync: delta pass of {} {} removed {} items nothing had reported", user,
                   CollectionName(collection), pass->removed);
    }
  }
}

void SyncWorker::PayDebts() {
  for (const auto& [user, collection] : sync_->TakeDue()) {
    if (!configured_.count({user, collection}) || sync_->StoppedUntil(user, collection)) continue;
    if (Status s = sync_->Full(user, collection); !s.ok()) {
      spdlog::warn("sync: catching up {} {}: {} (retrying)", user, CollectionName(collection),
                   s.message());
    }
  }
}

Result<int64_t> SyncWorker::RunOnce() {
  PruneLogIfDue();
  PruneChangesIfDue();
  PayDebts();
  DeltaPassIfDue();
  auto pending = store_->log().Pending(clock_->Now(), kBatchRows);
  if (!pending.ok()) return pending.status();

  std::map<std::pair<std::string, Collection>, Group> groups;
  std::vector<int64_t> unknown;
  if (rich_ != nullptr) rich_->BeginPass();
  std::map<std::string, std::vector<int64_t>> suspicious;  // by reason
  std::vector<const store::PendingNotification*> not_yet;  // tokens not judged yet
  for (const auto& row : *pending) {
    auto key = std::make_pair(row.user_id, row.collection);
    if (!configured_.count(key)) {
      unknown.push_back(row.seq);
      continue;
    }
    Group& g = groups[key];
    if (!row.lifecycle_event.empty()) {
      g.lifecycle.push_back(&row);
      continue;
    }
    const bool changed = row.change_type == "created" || row.change_type == "updated";
    if (rich_ != nullptr) {
      std::string reason;
      switch (rich_->CheckBody(row, &reason)) {
        case RichContent::Verdict::kValid:
          break;
        case RichContent::Verdict::kSuspicious:
          suspicious[reason].push_back(row.seq);
          continue;
        case RichContent::Verdict::kRetry:
          not_yet.push_back(&row);
          continue;
      }
    }
    g.attempts = std::max(g.attempts, row.attempts);
    if (rich_ != nullptr && !row.rich.empty() && changed) {
      auto item = rich_->Item(row);
      if (item.ok() && item->created_at.empty()) {
        // Content without createdDateTime (not selected): the mirror's own creation
        // time stands; an item the mirror lacks is read by a query instead.
        auto created = store_->mirror().CreatedAt(row.user_id, row.collection, item->id);
        if (!created.ok()) return created.status();
        if (created->empty()) {
          item = Status::NotFound("rich content without createdDateTime of a new item");
        } else {
          item->created_at = std::move(created).value();
        }
      }
      if (item.ok()) {
        g.seqs.push_back(row.seq);
        g.rich_items.push_back(std::move(item).value());
        continue;
      }
      // Refused content: the row is an ordinary hint, answered by a query.
    }
    g.seqs.push_back(row.seq);
    if (changed && !row.item_id.empty() && (row.change_type == "created" || !row.etag.empty())) {
      g.notified.emplace_back(row.item_id, ChangeKeyOfEtag(row.etag));
    }
    if (changed && !row.item_id.empty()) g.changed_ids.push_back(row.item_id);
    if (row.change_type == "created") {
      g.created = true;
      g.created_received = std::max(g.created_received, row.received_at);
    }
    if (row.change_type == "updated") {
      g.updated = true;
      g.updated_received = std::max(g.updated_received, row.received_at);
    }
    if (row.change_type == "deleted" && !row.item_id.empty()) {
      g.deleted_ids.push_back(row.item_id);
    }
  }

  int64_t ended = 0;
  if (!unknown.empty()) {
    Status s = store_->log().Mark(unknown, store::LogState::kIgnored,
                                  "mailbox or collection not configured");
    if (!s.ok()) return s;
    ended += static_cast<int64_t>(unknown.size());
    stats_.ignored_rows += unknown.size();
  }
  for (const auto& [reason, seqs] : suspicious) {
    spdlog::warn("sync: {} notification(s) not applied ({})", seqs.size(), reason);
    if (Status s = store_->log().Mark(seqs, store::LogState::kIgnored, reason); !s.ok()) {
      return s;
    }
    ended += static_cast<int64_t>(seqs.size());
    stats_.ignored_rows += seqs.size();
    stats_.suspicious_rows += seqs.size();
  }
  for (const store::PendingNotification* row : not_yet) {
    Status s = store_->log().Mark({row->seq}, store::LogState::kFailed,
                                  "validation token keys unavailable",
                                  clock_->Now() + RetryDelay(row->attempts));
    if (!s.ok()) return s;
    ++ended;
    ++stats_.failed_rows;
  }

  for (auto& [key, g] : groups) {
    const auto& [user, collection] = key;
    if (auto until = sync_->StoppedUntil(user, collection)) {
      // Stopped: the rows wait until the collection is tried again.
      std::vector<int64_t> seqs = g.seqs;
      for (const store::PendingNotification* row : g.lifecycle) seqs.push_back(row->seq);
      Status s = store_->log().Mark(seqs, store::LogState::kFailed, "collection stopped", *until);
      if (!s.ok()) return s;
      ended += static_cast<int64_t>(seqs.size());
      continue;
    }
    for (const store::PendingNotification* row : g.lifecycle) {
      Status handled = lifecycle_ ? lifecycle_(*row) : Status::Ok();
      std::vector<int64_t> seq{row->seq};
      Status s = handled.ok()
                     ? store_->log().Mark(
                           seq, lifecycle_ ? store::LogState::kApplied : store::LogState::kIgnored,
                           lifecycle_ ? "" : "no lifecycle handler")
                     : store_->log().Mark(seq, store::LogState::kFailed, handled.message(),
                                          clock_->Now() + RetryDelay(row->attempts));
      if (!s.ok()) return s;
      ++ended;
    }
    if (g.seqs.empty()) continue;

    if (!g.rich_items.empty()) {
      // Two versions stamped in the same second (in this group, or this one and the
      // mirror's) cannot be ordered from their content: Graph decides, through a query.
      std::set<std::string> tied;
      std::map<std::string, const MirrorItem*> newest;
      for (const MirrorItem& item : g.rich_items) {
        auto [it, first] = newest.emplace(item.id, &item);
        if (first) continue;
        if (item.modified_at == it->second->modified_at &&
            item.change_key != it->second->change_key) {
          tied.insert(item.id);
        } else if (item.modified_at > it->second->modified_at) {
          it->second = &item;
        }
      }
      std::vector<MirrorItem> unique;
      for (const auto& [id, item] : newest) {
        if (!tied.count(id)) unique.push_back(*item);
      }
      auto with_mirror = store_->mirror().TiedVersions(user, collection, unique);
      if (!with_mirror.ok()) return with_mirror.status();
      tied.insert(with_mirror->begin(), with_mirror->end());
      std::erase_if(unique, [&](const MirrorItem& item) { return tied.count(item.id) > 0; });
      // The query may list an older version yet (Graph's lists can lag): what it does not
      // show at a notified version is read by id below.
      for (const MirrorItem& item : g.rich_items) {
        if (tied.count(item.id)) g.notified.emplace_back(item.id, item.change_key);
      }
      // Content of an item the mirror lacks, older than the last delta pass: deleted since
      // (a lost `deleted`) or not listed by that pass yet. Read by id, never assumed.
      auto passed = store_->mirror().PassedOver(user, collection, unique);
      if (!passed.ok()) return passed.status();
      const std::set<std::string> passed_ids(passed->begin(), passed->end());
      std::erase_if(unique, [&](const MirrorItem& item) {
        if (!passed_ids.count(item.id)) return false;
        g.notified.emplace_back(item.id, item.change_key);
        return true;
      });
      g.rich_items = std::move(unique);
      if (!tied.empty()) {
        g.updated = true;
        g.tied_versions = true;
      }
    }
    // A round that began after a row was received has read its change already (the
    // catch-up at start, an earlier pass's round): a backlog needs no round per pass. A
    // created item such a round did not list is read by id below.
    auto covered = [&, &user = user, &collection = collection](const std::string& received,
                                                               Cursor cursor) {
      return !received.empty() && received < sync_->RoundStartedAt(user, collection, cursor);
    };
    bool created_round = g.created && !covered(g.created_received, Cursor::kCreated);
    const bool updated_round =
        g.updated && (g.tied_versions || !covered(g.updated_received, Cursor::kModified));
    Status round;
    const bool list_covers_all = !sync_->RoundsByDelta(user, collection);
    if (sync_->scopes().Of(user, collection).by_folder() && !g.deleted_ids.empty()) {
      // `deleted` from a folder's subscription means "left this folder", perhaps for
      // another scoped one: each is read by id (gone or out of scope: removed; moved to a
      // kept folder: kept), since the folders' delta rounds may not show the move yet.
      auto read = sync_->Recheck(user, collection, g.deleted_ids);
      if (!read.ok()) {
        round = read.status();
      } else {
        stats_.fetched_items += static_cast<uint64_t>(*read);
      }
      g.deleted_ids.clear();
      created_round = true;
    }
    if (round.ok() && !list_covers_all && (created_round || updated_round)) {
      // The collection's list does not cover all of it (contacts: the default folder
      // only; a collection scoped by folder); its delta rounds see every scope.
      ++stats_.rounds;
      auto r = sync_->Delta(user, collection);
      if (!r.ok()) round = r.status();
    } else if (round.ok() && created_round) {
      ++stats_.rounds;
      auto r = sync_->Created(user, collection, Reason::kNotified);
      if (!r.ok()) round = r.status();
    }
    if (round.ok() && updated_round && list_covers_all) {
      ++stats_.rounds;
      auto r = sync_->Modified(user, collection, Reason::kNotified);
      if (!r.ok()) round = r.status();
    }
    if (round.ok() && !g.notified.empty()) {
      // What the rounds did not show at the notified version (stamped before the overlap
      // they re-read, or not yet in Graph's lists: a notification can come first) is read
      // by id; an id deleted in the same group needs no read. Whether or not a round ran.
      std::set<std::string> deleted(g.deleted_ids.begin(), g.deleted_ids.end());
      std::erase_if(g.notified, [&](const auto& n) { return deleted.count(n.first) > 0; });
      auto late = sync_->FetchNotified(user, collection, g.notified);
      if (!late.ok()) {
        round = late.status();
      } else {
        stats_.fetched_items += static_cast<uint64_t>(late->fetched);
        auto behind = BehindNotified(user, collection, g.seqs, late->behind);
        if (!behind.ok()) {
          round = behind.status();
        } else if (*behind > 0 && g.attempts < kLateVersionRetries) {
          // Not even a GET shows the notified version yet: again after the backoff.
          round = Status::Unavailable(std::to_string(*behind) +
                                      " notified item version(s) not visible yet");
        }
      }
    }
    if (round.ok() && collection == Collection::kEvents) {
      // Notifications name series masters (and, some say, exceptions), never each
      // occurrence a change of its series adds, moves or removes. A changed master's series
      // is read anew through its instances; other ids that may be occurrences or
      // exceptions through the calendar's delta round from its token. No GET per
      // occurrence either way.
      std::vector<std::string> ids = g.changed_ids;
      for (const auto& [id, change_key] : g.notified) ids.push_back(id);
      auto touched = store_->mirror().TouchedSeries(user, ids);
      if (!touched.ok()) return touched.status();
      std::set<std::string> series(touched->masters.begin(), touched->masters.end());
      for (const MirrorItem& item : g.rich_items) {
        if (item.event_type == "seriesMaster") series.insert(item.id);
      }
      for (const std::string& master : series) {
        ++stats_.rounds;
        auto read = sync_->ReadSeries(user, master);
        if (!read.ok()) {
          round = read.status();
          break;
        }
      }
      if (round.ok() && touched->occurrences) {
        ++stats_.rounds;
        auto r = sync_->Delta(user, collection);
        if (!r.ok()) round = r.status();
      }
      // Graph's lists may show a series' change later than its notification came: one
      // more pass when that lag is over.
      if (!series.empty() || touched->occurrences) sync_->Recheck(user, collection);
    }
    if (round.ok() && (g.created || g.updated) && !g.rich_items.empty()) {
      // The rounds just wrote Graph's current state: a rich item stamped in the same
      // second as what they wrote is not newer than it.
      auto tied = store_->mirror().TiedVersions(user, collection, g.rich_items);
      if (!tied.ok()) return tied.status();
      std::set<std::string> ids(tied->begin(), tied->end());
      std::vector<std::pair<std::string, std::string>> unsure;
      for (const MirrorItem& item : g.rich_items) {
        if (ids.count(item.id)) unsure.emplace_back(item.id, item.change_key);
      }
      std::erase_if(g.rich_items, [&](const MirrorItem& item) { return ids.count(item.id) > 0; });
      // Unless the rounds wrote that very version, Graph's current state is read by id.
      if (!unsure.empty()) {
        auto late = sync_->FetchNotified(user, collection, unsure);
        if (!late.ok()) {
          round = late.status();
        } else {
          stats_.fetched_items += static_cast<uint64_t>(late->fetched);
        }
      }
    }
    Status s;
    if (round.ok()) {
      s = store_->log().ApplyChanges(user, collection, g.rich_items, g.deleted_ids, g.seqs);
      if (s.ok()) {
        stats_.applied_rows += g.seqs.size();
        stats_.rich_items += g.rich_items.size();
      }
    } else {
      spdlog::warn("sync: {} {}: {} (retrying)", user, CollectionName(collection), round.message());
      s = store_->log().Mark(g.seqs, store::LogState::kFailed, round.message(),
                             clock_->Now() + RetryDelay(g.attempts));
      if (s.ok()) stats_.failed_rows += g.seqs.size();
    }
    if (!s.ok()) return s;
    ended += static_cast<int64_t>(g.seqs.size());
  }
  return ended;
}

void SyncWorker::Run(std::chrono::milliseconds idle_poll) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, idle_poll, [&] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    auto ended = RunOnce();
    if (!ended.ok()) {
      spdlog::error("sync: applying the notification log: {}", ended.status().message());
    } else if (*ended >= kBatchRows) {
      Wake();  // more rows are waiting
    }
  }
}

void SyncWorker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void SyncWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

}  // namespace graphmirror::sync
