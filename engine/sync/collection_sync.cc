#include "engine/sync/collection_sync.h"

#include <spdlog/spdlog.h>

#include <set>

#include "engine/base/backoff.h"
#include "engine/base/resource.h"
#include "engine/graph/query.h"
#include "engine/graph/timestamp.h"

namespace graphmirror::sync {

graph::Projection RichProjection(const config::Config& config) {
  std::set<std::string> rich;
  for (const auto& mailbox : config.mailboxes) {
    if (mailbox.rich) rich.insert(mailbox.user);
  }
  return graph::Projection(std::move(rich));
}

Status ApplyScopes(const config::Config& config, store::Store* store) {
  const config::Scopes scopes(config);
  std::set<std::pair<std::string, Collection>> configured;
  for (const auto& mailbox : config.mailboxes) {
    for (Collection c : mailbox.resources) {
      configured.insert({mailbox.user, c});
      auto reset =
          store->sync_state().ApplyScope(mailbox.user, c, scopes.Of(mailbox.user, c).Signature());
      if (!reset.ok()) return reset.status();
      if (*reset) {
        spdlog::info("sync: {} {}: the configured scope changed; reading it again", mailbox.user,
                     CollectionName(c));
      }
    }
  }
  // A load of a collection no longer configured would never end: its rows are indexed now.
  return store->mirror().FinishLoadsExcept(configured);
}

CollectionSync::CollectionSync(const config::Config& config, graph::GraphClient* client,
                               store::Store* store, Clock* clock)
    : clock_(clock),
      store_(store),
      scopes_(config),
      resyncer_(client, store,
                ResyncOptions{config.sync.page_size, config.sync.overlap, config.sync.hint_overlap,
                              [this](int) { return !cancelled_.load(); }, RichProjection(config),
                              &received_, scopes_, config.sync.bodies}),
      delta_(client, store, clock,
             [&] {
               DeltaOptions options = DeltaOptions::From(config.sync, RichProjection(config));
               options.progress = &received_;
               options.scopes = scopes_;
               options.after_page = [this](int) { return !cancelled_.load(); };
               return options;
             }()),
      recheck_after_(config.sync.catch_up_recheck),
      overlap_(config.sync.overlap),
      bodies_(config.sync.bodies) {}

std::string CollectionSync::StopReason(const std::string& user_id, Collection collection,
                                       const Status& outcome) {
  const std::string resource = "/users/" + user_id + "/" + std::string(CollectionName(collection));
  switch (outcome.code()) {
    case Status::Code::kPermissionDenied:
      return "Graph denies " + resource + ": the app needs the application permission " +
             std::string(Describe(collection).permission) +
             " (admin consent), or an application access policy excludes this mailbox [" +
             outcome.message() + "]";
    case Status::Code::kUnauthenticated:
      return "Graph rejects the app's credentials for " + resource +
             " (client secret or certificate wrong, expired or revoked) [" + outcome.message() +
             "]";
    default:
      return "";
  }
}

void CollectionSync::Note(const std::string& user_id, Collection collection,
                          const std::string& kind, const Status& outcome) {
  // A round cut short by Cancel is no failure of the collection: it goes on at the next start.
  if (outcome.code() == Status::Code::kCancelled && cancelled()) return;
  const Key key{user_id, collection};
  const std::string reason = StopReason(user_id, collection, outcome);
  bool was_stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_stopped = stopped_.count(key) > 0;
    if (!reason.empty()) {
      stopped_[key] = clock_->Now() + kStopRetry;
    } else if (outcome.ok()) {
      stopped_.erase(key);
    }
  }
  Status s = store_->sync_state().RecordSync(user_id, collection, kind, outcome);
  if (!reason.empty()) {
    if (!was_stopped)
      spdlog::error("sync: {} {} stopped: {}", user_id, CollectionName(collection), reason);
    s.Update(
        store_->sync_state().SetStopped(user_id, collection, reason, clock_->Now() + kStopRetry));
  } else if (outcome.ok() && was_stopped) {
    spdlog::info("sync: {} {} resumed", user_id, CollectionName(collection));
  }
  if (outcome.ok() && was_stopped)
    s.Update(store_->sync_state().SetStopped(user_id, collection, ""));
  if (!s.ok()) spdlog::warn("sync: recording the status of {}: {}", user_id, s.message());
}

Status CollectionSync::LoadStopped() {
  auto statuses = store_->sync_state().SyncStatuses();
  if (!statuses.ok()) return statuses.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& st : *statuses) {
    // Due at once: every start tries again, and the first success resumes it.
    if (!st.stopped_reason.empty()) stopped_[{st.user_id, st.collection}] = TimePoint{};
  }
  return Status::Ok();
}

std::optional<TimePoint> CollectionSync::StoppedUntil(const std::string& user_id,
                                                      Collection collection) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stopped_.find({user_id, collection});
  if (it == stopped_.end() || it->second <= clock_->Now()) return std::nullopt;
  return it->second;
}

template <typename F>
auto CollectionSync::Timed(int kind, F&& round) {
  const auto started = std::chrono::steady_clock::now();
  auto result = round();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  timings_.count[kind].fetch_add(1, std::memory_order_relaxed);
  timings_.micros[kind].fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
  if (!result.ok()) timings_.failed[kind].fetch_add(1, std::memory_order_relaxed);
  return result;
}

template <typename F>
auto CollectionSync::AsLoad(const std::string& user_id, Collection collection, bool first,
                            F&& round) -> decltype(round()) {
  using R = decltype(round());
  auto loading = first ? store_->mirror().BeginLoad(user_id, collection)
                       : store_->mirror().Loading(user_id, collection);
  if (!loading.ok()) return R(loading.status());
  R r = round();
  // A round stopped (Cancelled: the process is stopping) leaves the load open, as a crash
  // would, and the next round goes on with it. Any other end finishes it: a load that
  // keeps failing must not hold search and indexes back; what the next rounds bring is
  // written row by row.
  if (*loading && (r.ok() || r.status().code() != Status::Code::kCancelled)) {
    if (Status s = store_->mirror().FinishLoad(user_id, collection); !s.ok()) {
      spdlog::warn("sync: {} {}: building the indexes of its load: {}", user_id,
                   CollectionName(collection), s.message());
      if (r.ok()) return R(s);
    }
  }
  return r;
}

Result<ResyncStats> CollectionSync::Created(const std::string& user_id, Collection collection,
                                            Reason reason) {
  return Round(user_id, collection, Cursor::kCreated, reason);
}

Result<ResyncStats> CollectionSync::Modified(const std::string& user_id, Collection collection,
                                             Reason reason) {
  return Round(user_id, collection, Cursor::kModified, reason);
}

bool CollectionSync::RoundsByDelta(const std::string& user_id, Collection collection) const {
  return !Describe(collection).list_covers_all || scopes_.Of(user_id, collection).by_folder();
}

Result<ResyncStats> CollectionSync::Round(const std::string& user_id, Collection collection,
                                          Cursor cursor, Reason reason) {
  // The mailbox-wide list would bring the messages of every folder: the delta rounds of
  // the scoped folders (Delta, which every pass runs) read them instead.
  if (scopes_.Of(user_id, collection).by_folder()) return ResyncStats{};
  const bool created = cursor == Cursor::kCreated;
  const std::string started = store::FormatUtc(clock_->Now());
  // A createdDateTime round with no watermark reads the collection from its beginning.
  bool first = false;
  if (created) {
    auto watermark = store_->mirror().GetWatermark(user_id, collection);
    first = watermark.ok() && watermark->created_after.empty();
  }
  auto r = Timed(created ? 0 : 1, [&] {
    return AsLoad(user_id, collection, first,
                  [&] { return resyncer_.Resync(user_id, collection, cursor, reason); });
  });
  Note(user_id, collection, created ? "created" : "modified", r.status());
  if (r.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string& newest = round_started_[{user_id, collection}][created ? 0 : 1];
    newest = std::max(newest, started);
  }
  return r;
}

std::string CollectionSync::RoundStartedAt(const std::string& user_id, Collection collection,
                                           Cursor cursor) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = round_started_.find({user_id, collection});
  return it == round_started_.end() ? "" : it->second[cursor == Cursor::kCreated ? 0 : 1];
}

Result<int64_t> CollectionSync::FetchMissing(const std::string& user_id, Collection collection,
                                             const std::vector<std::string>& ids) {
  auto missing = store_->mirror().MissingItems(user_id, collection, ids);
  if (!missing.ok()) return missing.status();
  if (missing->empty()) return 0;
  auto fetched = delta_.Fetch(user_id, collection, {missing->begin(), missing->end()});
  if (!fetched.ok()) return fetched.status();
  if (Status s = store_->mirror().ApplyPage(std::move(fetched).value()); !s.ok()) return s;
  return static_cast<int64_t>(missing->size());
}

Result<CollectionSync::LateFetch> CollectionSync::FetchNotified(
    const std::string& user_id, Collection collection,
    const std::vector<std::pair<std::string, std::string>>& notified) {
  LateFetch result;
  auto stale = store_->mirror().NotHeldAt(user_id, collection, notified);
  if (!stale.ok()) return stale.status();
  if (stale->empty()) return result;
  // An item notified at versions the mirror does not all hold is read: notifications come
  // in any order, so the version held may be the older of two (a round listing late shows
  // the older one).
  std::map<std::string, std::set<std::string>> versions;
  for (const auto& [id, change_key] : notified) {
    if (!change_key.empty()) versions[id].insert(change_key);
  }
  const std::set<std::string> late(stale->begin(), stale->end());
  if (late.empty()) return result;
  auto fetched = delta_.Fetch(user_id, collection, late);
  if (!fetched.ok()) return fetched.status();
  result.fetched = static_cast<int64_t>(late.size());
  for (const MirrorItem& item : fetched->upserts) {
    auto it = versions.find(item.id);
    if (it != versions.end() && !item.change_key.empty() && !it->second.count(item.change_key)) {
      result.behind.emplace_back(item.id, item.change_key);
    }
  }
  if (Status s = store_->mirror().ApplyPage(std::move(fetched).value()); !s.ok()) return s;
  return result;
}

Result<int64_t> CollectionSync::Recheck(const std::string& user_id, Collection collection,
                                        const std::vector<std::string>& ids) {
  const std::set<std::string> unique(ids.begin(), ids.end());
  if (unique.empty()) return int64_t{0};
  auto fetched = delta_.Fetch(user_id, collection, unique);
  if (!fetched.ok()) return fetched.status();
  if (Status s = store_->mirror().ApplyPage(std::move(fetched).value()); !s.ok()) return s;
  return static_cast<int64_t>(unique.size());
}

Result<int64_t> CollectionSync::ReadSeries(const std::string& user_id,
                                           const std::string& master_id) {
  return delta_.ReadSeries(user_id, master_id);
}

Result<DeltaStats> CollectionSync::Delta(const std::string& user_id, Collection collection) {
  return DeltaPass(user_id, collection, /*listed_after=*/false);
}

Result<DeltaStats> CollectionSync::DeltaPass(const std::string& user_id, Collection collection,
                                             bool listed_after) {
  // The first delta pass (no scope has a link yet) reads the collection from the
  // beginning: a load if nothing else read it before (scoped by mail folders, the
  // collection has no other rounds; LoadByDelta has none run).
  auto known = store_->sync_state().DeltaScopes(user_id, collection);
  const bool first = known.ok() && known->empty();
  auto r = Timed(2, [&]() -> Result<DeltaStats> {
    auto pass =
        AsLoad(user_id, collection, first,
               [&] { return delta_.Sync(user_id, collection, listed_after); });
    // Messages whose only rounds are delta rounds (scoped by folder, or loaded by them) get
    // a body the rounds did not bring read by id. After a first pass that brought every
    // body there is none to look for (the mailbox held no message before it).
    const bool bodies_by_delta = collection == Collection::kMessages && bodies_ != "none";
    if (!pass.ok() || !bodies_by_delta || (first && pass->without_body == 0)) return pass;
    auto bodies = delta_.ReadMissingBodies(user_id);
    if (!bodies.ok()) return bodies.status();
    pass->verified += *bodies;
    return pass;
  });
  Note(user_id, collection, "delta", r.status());
  if (!r.ok()) Owe(user_id, collection);
  return r;
}

Result<std::optional<DeltaStats>> CollectionSync::LoadByDelta(const std::string& user_id,
                                                              Collection collection) {
  // Events: calendarView lists a window, /events every single event and series master.
  if (!Describe(collection).scoped_by_folder() || !scopes_.Of(user_id, collection).whole()) {
    return std::optional<DeltaStats>();
  }
  auto watermark = store_->mirror().GetWatermark(user_id, collection);
  if (!watermark.ok()) return watermark.status();
  if (!watermark->created_after.empty()) return std::optional<DeltaStats>();
  const std::string started = store::FormatUtc(clock_->Now());
  auto pass = Delta(user_id, collection);
  if (!pass.ok()) return pass.status();
  auto scopes = store_->sync_state().DeltaScopes(user_id, collection);
  if (!scopes.ok()) return scopes.status();
  std::string began;  // Graph's clock when the earliest of the rounds began
  for (const store::DeltaScope& s : *scopes) {
    if (!s.round_started_at.empty() && (began.empty() || s.round_started_at < began)) {
      began = s.round_started_at;
    }
  }
  std::string modified_after;
  if (auto at = graph::ParseTimestamp(began)) {
    modified_after = graph::FormatTimestamp(*at - overlap_);
  }
  if (Status s = store_->mirror().StartWatermarksFromRows(user_id, collection, modified_after);
      !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string& newest : round_started_[{user_id, collection}]) {
    newest = std::max(newest, started);
  }
  return std::optional<DeltaStats>(*pass);
}

Result<bool> CollectionSync::WindowFirst(const std::string& user_id, Collection collection) {
  if (Describe(collection).scoped_by_folder() ||
      !scopes_.Of(user_id, collection).filter.empty()) {
    return false;
  }
  auto watermark = store_->mirror().GetWatermark(user_id, collection);
  if (!watermark.ok()) return watermark.status();
  if (!watermark->created_after.empty()) return false;
  auto held = store_->mirror().CountItems(user_id, collection);
  if (!held.ok()) return held.status();
  return *held == 0;
}

Status CollectionSync::Rounds(const std::string& user_id, Collection collection,
                              PassStats* stats) {
  auto loaded = LoadByDelta(user_id, collection);
  if (!loaded.ok()) return loaded.status();
  if (loaded->has_value()) {
    stats->delta = **loaded;
    return Status::Ok();
  }
  auto window_first = WindowFirst(user_id, collection);
  if (!window_first.ok()) return window_first.status();
  if (*window_first) {
    auto delta = DeltaPass(user_id, collection, /*listed_after=*/true);
    if (!delta.ok()) return delta.status();
    stats->delta = *delta;
  }
  auto created = Created(user_id, collection);
  if (!created.ok()) return created.status();
  stats->created = *created;
  auto modified = Modified(user_id, collection);
  if (!modified.ok()) return modified.status();
  stats->modified = *modified;
  if (*window_first) return Status::Ok();
  auto delta = Delta(user_id, collection);
  if (!delta.ok()) return delta.status();
  stats->delta = *delta;
  return Status::Ok();
}

Status CollectionSync::Full(const std::string& user_id, Collection collection) {
  PassStats stats;
  const Status s = Rounds(user_id, collection, &stats);
  std::lock_guard<std::mutex> lock(mu_);
  if (s.ok()) {
    // A debt paid is a catch-up too (what happened while the collection failed).
    if (owed_.erase({user_id, collection}) > 0 && recheck_after_.count() > 0) {
      recheck_[{user_id, collection}] = clock_->Now() + recheck_after_;
    }
  } else {
    owed_.try_emplace({user_id, collection}, Debt{clock_->Now(), 0});
  }
  return s;
}

void CollectionSync::Owe(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(mu_);
  owed_.try_emplace({user_id, collection}, Debt{clock_->Now(), 0});
}

std::vector<std::pair<std::string, Collection>> CollectionSync::TakeDue() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  std::vector<std::pair<std::string, Collection>> due;
  for (auto& [key, debt] : owed_) {
    if (debt.due > now) continue;
    due.push_back(key);
    // 30 s, 1 min, 2 min, ... capped at 15 minutes, until a Full pass pays it.
    ++debt.tries;
    debt.due = now + Backoff{std::chrono::seconds(30), std::chrono::minutes(15)}.Delay(debt.tries);
  }
  for (auto it = recheck_.begin(); it != recheck_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    if (!owed_.count(it->first)) due.push_back(it->first);  // an owed pass does it as well
    it = recheck_.erase(it);
  }
  return due;
}

void CollectionSync::Recheck(const std::string& user_id, Collection collection) {
  if (recheck_after_.count() == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  recheck_[{user_id, collection}] = clock_->Now() + recheck_after_;
}

std::optional<TimePoint> CollectionSync::NextRecheck() {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<TimePoint> next;
  for (const auto& [key, due] : recheck_) next = next ? std::min(*next, due) : due;
  return next;
}

}  // namespace graphmirror::sync
