#include "graphmirror/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/kafka/kafka_client.h"
#include "engine/kafka/source.h"
#include "engine/notify/admin_server.h"
#include "engine/ops/admin.h"
#include "engine/store/store.h"
#include "engine/sync/live_sync.h"
#include "engine/sync/sync_once.h"
#include "engine/sync/verify.h"

namespace graphmirror {

Result<Config> LoadConfig(const std::string& path) { return config::LoadConfigFile(path); }

struct Engine::Impl {
  Config config;
  Clock* clock = nullptr;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<graph::GraphClient> client;
  std::mutex mu;  // guards live against Start/Stop
  // Shared so that a request in flight keeps it alive without holding `mu` (notifications
  // must not queue behind one another: the store commits them in groups).
  std::shared_ptr<sync::LiveSync> live;
  // /metrics and /healthz on [metrics] listen, while started with serve_admin; else null.
  std::unique_ptr<notify::AdminServer> metrics_server;
  // The Kafka source while started with [kafka] and consume_kafka; else null. Shared for
  // the same reason as `live` (Kafka, Metrics read it without holding `mu`).
  std::shared_ptr<kafka::KafkaSource> kafka;
  // SyncOnce, and Resync while not started; set in Open, never replaced.
  std::unique_ptr<sync::CollectionSync> idle_sync;

  std::shared_ptr<sync::LiveSync> Live() {
    std::lock_guard<std::mutex> lock(mu);
    return live;
  }
};

namespace {

// The entry of `key` in `entries` (a status list), appended and set up by `init` the first
// time: the order of first mention, so configured entries come first, in config order.
template <typename Entry, typename Key, typename Init>
Entry* EntryFor(std::vector<Entry>& entries, std::map<Key, size_t>& index, const Key& key,
                Init init) {
  auto [it, added] = index.emplace(key, entries.size());
  if (added) {
    Entry entry;
    init(entry);
    entries.push_back(std::move(entry));
  }
  return &entries[it->second];
}

SyncReport ToReport(const sync::CollectionReport& r) {
  SyncReport out;
  out.user_id = r.user_id;
  out.collection = r.collection;
  out.status = r.status;
  out.fetched = r.stats.fetched + r.changed_stats.fetched + r.delta_stats.items;
  out.removed = r.delta_stats.removed;
  out.added = r.items_after - r.items_before + r.delta_stats.removed;
  out.items = r.items_after;
  out.seconds = std::chrono::duration<double>(r.stats.elapsed + r.changed_stats.elapsed).count();
  return out;
}

}  // namespace

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Open(const Config& config, Clock* clock) {
  OpenOptions options;
  options.clock = clock;
  return Open(config, options);
}

Result<std::unique_ptr<Engine>> Engine::Open(const Config& config, const OpenOptions& options) {
  // The checks the TOML loader applies, for a Config filled in by hand: one message for both.
  // The Graph identity is required where Graph is called (CheckCredentials, Start): a
  // program may open a mirror only to read it.
  if (Status s = config::ValidateConfig(config, "config", /*require_graph=*/false); !s.ok()) {
    return s;
  }
  if (!options.create_if_missing && !std::filesystem::exists(config.database)) {
    return Status::NotFound("no mirror database at " + config.database +
                            " yet (a sync creates it)");
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = options.clock != nullptr ? options.clock : SystemClock::Default();
  auto store = store::Store::Open(config.database, impl->clock);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  impl->store->SetKeepBodies(config.sync.bodies != "none");
  impl->client = std::make_unique<graph::GraphClient>(sync::ClientOptionsFrom(config), impl->clock);
  impl->idle_sync = std::make_unique<sync::CollectionSync>(impl->config, impl->client.get(),
                                                           impl->store.get(), impl->clock);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::CheckCredentials() {
  if (Status s = config::ValidateConfig(impl_->config); !s.ok()) return s;
  return impl_->client->CheckCredentials();
}

Status Engine::SyncOnce() {
  Status first;
  for (const auto& report : SyncOnceReports()) {
    if (!report.status.ok() && first.ok()) first = report.status;
  }
  return first;
}

std::vector<SyncReport> Engine::SyncOnceReports(
    const std::function<void(const SyncReport&)>& on_report) {
  std::vector<SyncReport> out;
  for (const auto& r : sync::SyncAllOnce(impl_->config, impl_->idle_sync.get(), impl_->store.get(),
                                         [&](const sync::CollectionReport& r) {
                                           if (on_report) on_report(ToReport(r));
                                         })) {
    out.push_back(ToReport(r));
  }
  return out;
}

SyncProgress Engine::Progress() const {
  SyncProgress progress;
  progress.items_received = impl_->idle_sync->items_received();
  if (auto live = impl_->Live()) {
    progress.items_received += live->collections().items_received();
    progress.initial_sync_running = live->initial_sync_running();
    progress.initial_sync_collections_done = live->initial_sync_done();
    progress.initial_sync_collections_total = live->initial_sync_total();
  }
  const graph::WaitState wait = impl_->client->Waiting();
  progress.waiting_requests = wait.requests;
  progress.longest_wait_seconds = std::chrono::duration<double>(wait.longest_left).count();
  progress.wait_reason = wait.reason;
  return progress;
}

Status Engine::Start(StartOptions options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->live) return Status::InvalidArgument("the engine is already started");
  if (Status s = config::ValidateConfig(impl_->config); !s.ok()) return s;
  const Config& config = impl_->config;
  auto live = std::make_shared<sync::LiveSync>(config, impl_->client.get(), impl_->store.get(),
                                               impl_->clock);
  sync::LiveSyncOptions live_options;
  live_options.serve_http = options.serve_http;
  // Graph delivers to an event hub and no webhook is configured: nothing posts to us, so
  // no receiver listens; /healthz and /metrics keep the webhook's address.
  const bool event_hub_only = config.kafka && !config.kafka->event_hub_url.empty() &&
                              config.webhook.notification_url.empty();
  if (event_hub_only) live_options.serve_http = false;
  if (config.kafka && config.kafka->mode == "partitioned" && options.consume_kafka) {
    // One engine would read every mailbox's notifications into one shard.
    return Status::InvalidArgument(
        "kafka.mode = \"partitioned\" runs as PartitionedMirror (graphmirror run), an engine "
        "per shard; an Engine of its own needs consume_kafka = false");
  }
  std::shared_ptr<kafka::KafkaSource> source;
  if (config.kafka && options.consume_kafka) {
    kafka::SourceOptions source_options;
    source_options.max_record_bytes = config.webhook.max_body_bytes;
    // Each record is what Graph would have POSTed: the webhook's own checks and log. Read
    // from a hub Graph delivers to, rich items come without validation tokens.
    const bool from_hub = !config.kafka->event_hub_url.empty();
    source = std::make_shared<kafka::KafkaSource>(
        *config.kafka,
        [this, from_hub](std::string_view body) {
          return from_hub ? HandleEventHubRecord(body).status
                          : HandleNotification("application/json", body).status;
        },
        source_options);
  }
  std::unique_ptr<notify::AdminServer> metrics_server;
  if (options.serve_admin) {
    notify::AdminHandler admin = ops::MakeAdminHandler(live.get(), source.get());
    if (config.metrics.listen.empty() && !(event_hub_only && options.serve_http)) {
      live_options.admin_handler = admin;
    } else if (config.metrics.listen.empty()) {
      metrics_server = std::make_unique<notify::AdminServer>(config.webhook.listen, admin);
      if (Status s = metrics_server->Start(); !s.ok()) return s;
    } else {
      // /metrics moves to its own listener (with /healthz, for the same scraper); the
      // webhook's port keeps /healthz only.
      metrics_server = std::make_unique<notify::AdminServer>(config.metrics.listen, admin);
      live_options.admin_handler = [admin](const std::string& path) {
        return path == "/metrics" ? std::nullopt : admin(path);
      };
      if (Status s = metrics_server->Start(); !s.ok()) return s;
    }
  }
  if (options.on_initial_sync) {
    live_options.on_initial_sync = [report = options.on_initial_sync](
                                       const sync::CollectionReport& r) { report(ToReport(r)); };
  }
  if (options.on_initial_sync_done) {
    live_options.on_initial_sync_done =
        [done = options.on_initial_sync_done](const std::vector<sync::CollectionReport>& rs) {
          std::vector<SyncReport> reports;
          reports.reserve(rs.size());
          for (const auto& r : rs) reports.push_back(ToReport(r));
          done(reports);
        };
  }
  // Start returns at once; the initial sync runs on the live engine's start-up thread.
  live_options.initial_sync_in_background = true;
  if (Status s = live->Start(live_options); !s.ok()) return s;
  impl_->live = live;
  if (source) {
    // After the live engine, so that its first record finds the receiver ready.
    if (Status s = source->Start(); !s.ok()) {
      impl_->live.reset();
      if (metrics_server) metrics_server->Stop();
      live->Stop();
      return s;
    }
  }
  impl_->kafka = std::move(source);
  impl_->metrics_server = std::move(metrics_server);
  return Status::Ok();
}

int Engine::MetricsPort() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->metrics_server ? impl_->metrics_server->port() : 0;
}

void Engine::Stop() {
  std::shared_ptr<sync::LiveSync> live;
  std::unique_ptr<notify::AdminServer> metrics_server;
  std::shared_ptr<kafka::KafkaSource> source;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = std::move(impl_->live);
    metrics_server = std::move(impl_->metrics_server);
    source = std::move(impl_->kafka);
  }
  // No record reaches the engine after this; what was made durable is committed. (Its
  // handler calls HandleNotification, which takes `mu`: stopped outside it.)
  if (source) source->Stop();
  if (metrics_server) metrics_server->Stop();  // it reads `live` and the source: first
  if (live) live->Stop();
  // `source` goes last: the receiver's admin handler read its counters until live->Stop.
}

Result<KafkaState> Engine::Kafka(std::chrono::milliseconds timeout) {
  const Config& config = impl_->config;
  if (!config.kafka) return Status::InvalidArgument("no [kafka] in the config");
  KafkaState out;
  out.brokers = config.kafka->brokers;
  out.topic = config.kafka->topic;
  out.group = config.kafka->group;
  std::shared_ptr<kafka::KafkaSource> source;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    source = impl_->kafka;
  }
  if (source) {
    const kafka::SourceStats& k = source->stats();
    auto read = [](const std::atomic<uint64_t>& v) { return static_cast<int64_t>(v.load()); };
    out.consuming = true;
    out.records = read(k.records);
    out.accepted = read(k.accepted);
    out.rejected = read(k.rejected);
    out.retries = read(k.retries);
    out.commits = read(k.commits);
    out.commit_errors = read(k.commit_errors);
    out.errors = read(k.errors);
    kafka::KafkaSource::LastError last = source->last_error();
    out.last_error = std::move(last.text);
    out.last_error_at = std::move(last.at);
  }
  auto offsets = kafka::GroupOffsets(*config.kafka, timeout);
  if (!offsets.ok()) {
    out.brokers_error = offsets.status().message();
    return out;
  }
  for (const kafka::PartitionOffsets& p : *offsets) {
    out.partitions.push_back({p.partition, p.committed, p.end});
  }
  return out;
}

HttpAnswer Engine::HandleNotification(std::string_view content_type, std::string_view body) {
  std::shared_ptr<sync::LiveSync> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = impl_->live;
  }
  // Accepted also during the initial sync: the log is durable and the worker applies it
  // once the initial sync has ended.
  if (!live) return {503, "text/plain; charset=utf-8", "not started\n"};
  notify::NotificationAnswer answer = live->receiver().Accept(content_type, body);
  return {answer.status, answer.body.empty() ? "" : "text/plain; charset=utf-8",
          std::move(answer.body)};
}

HttpAnswer Engine::HandleEventHubRecord(std::string_view body) {
  std::shared_ptr<sync::LiveSync> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = impl_->live;
  }
  if (!live) return {503, "text/plain; charset=utf-8", "not started\n"};
  notify::NotificationAnswer answer =
      live->receiver().Accept("application/json", body, notify::Delivery::kEventHub);
  return {answer.status, answer.body.empty() ? "" : "text/plain; charset=utf-8",
          std::move(answer.body)};
}

HttpAnswer Engine::HandleValidation(std::string_view token) {
  if (!notify::IsWellFormedValidationToken(token)) {
    return {400, "text/plain; charset=utf-8", "malformed validationToken\n"};
  }
  return {200, "text/plain; charset=utf-8", std::string(token)};
}

Status Engine::WaitForInitialSync(std::chrono::milliseconds timeout) {
  auto live = impl_->Live();
  if (!live) return Status::Cancelled("the engine is not started");
  if (live->WaitForInitialSync(timeout)) return Status::Ok();
  if (!live->initial_sync_running()) return Status::Cancelled("the engine was stopped");
  return Status::Unavailable("the initial sync is still running");
}

Status Engine::Resync(const std::string& user_id, Collection collection) {
  if (auto live = impl_->Live()) {
    if (live->initial_sync_running()) {
      // A full pass now would race the initial sync's rounds over the same collection
      // (and wait for them): queue it for the worker, which starts once that has ended.
      bool configured = false;
      for (const auto& mailbox : impl_->config.mailboxes) {
        if (mailbox.user != user_id) continue;
        for (Collection c : mailbox.resources) configured |= c == collection;
      }
      if (!configured) {
        return Status::InvalidArgument("resync: " + user_id + " " +
                                       std::string(CollectionName(collection)) +
                                       " is not configured");
      }
      live->collections().Owe(user_id, collection);
      return Status::Ok();
    }
    return live->collections().Full(user_id, collection);
  }
  return impl_->idle_sync->Full(user_id, collection);
}

bool Engine::Healthy() const {
  auto live = impl_->Live();
  return live != nullptr && live->ready();
}

Result<std::string> Engine::Metrics() {
  std::shared_ptr<sync::LiveSync> live;
  std::shared_ptr<kafka::KafkaSource> source;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = impl_->live;
    source = impl_->kafka;
  }
  if (!live) return Status::InvalidArgument("metrics need a started engine");
  return ops::RenderLiveMetrics(live.get(), source.get());
}

namespace {

VerifyDrift ToDrift(const sync::Drift& d, size_t max_examples) {
  VerifyDrift out;
  out.missing = static_cast<int64_t>(d.missing.size());
  out.extra = static_cast<int64_t>(d.extra.size());
  out.stale = static_cast<int64_t>(d.stale.size());
  auto first = [&](const std::vector<std::string>& ids) {
    return std::vector<std::string>(
        ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), max_examples)));
  };
  out.missing_ids = first(d.missing);
  out.extra_ids = first(d.extra);
  out.stale_ids = first(d.stale);
  return out;
}

}  // namespace

Result<VerifyResult> Engine::Verify(const VerifyOptions& options) {
  sync::Verifier verifier(impl_->config, impl_->client.get(), impl_->store.get(), impl_->clock);
  sync::VerifyRequest request;
  request.user_id = options.user_id;
  request.collection = options.collection;
  request.repair = options.repair;
  const uint64_t requests_before = impl_->client->stats().requests.load();
  auto scopes = verifier.Run(request);
  if (!scopes.ok()) return scopes.status();
  VerifyResult result;
  result.graph_requests =
      static_cast<int64_t>(impl_->client->stats().requests.load() - requests_before);
  for (const sync::ScopeVerify& s : *scopes) {
    VerifyScope v;
    v.user_id = s.user_id;
    v.resource = s.resource;
    v.graph_items = s.graph_items;
    v.mirror_items = s.mirror_items;
    v.drift = ToDrift(s.drift, options.max_examples);
    v.confirmed = s.confirmed;
    v.repaired = s.repaired;
    if (s.after_repair) v.after_repair = ToDrift(*s.after_repair, options.max_examples);
    result.scopes.push_back(std::move(v));
  }
  return result;
}

Result<EngineStatus> Engine::GetStatus() {
  EngineStatus status;
  status.running = impl_->Live() != nullptr;
  status.ready = Healthy();
  status.progress = Progress();
  status.initial_sync_running = status.progress.initial_sync_running;
  auto counts = impl_->store->mirror().Counts();
  if (!counts.ok()) return counts.status();
  auto syncs = impl_->store->sync_state().SyncStatuses();
  if (!syncs.ok()) return syncs.status();
  auto subscriptions = impl_->store->subscriptions().All();
  if (!subscriptions.ok()) return subscriptions.status();

  // Configured collections first, in config order; then whatever else the database holds.
  std::map<std::pair<std::string, Collection>, size_t> index;
  auto state_of = [&](const std::string& user, Collection c, bool configured) {
    return EntryFor(status.collections, index, {user, c}, [&](CollectionState& state) {
      state.user_id = user;
      state.collection = c;
      state.configured = configured;
    });
  };
  std::set<std::string> configured_users;
  for (const auto& mailbox : impl_->config.mailboxes) {
    configured_users.insert(mailbox.user);
    for (Collection c : mailbox.resources) state_of(mailbox.user, c, true);
  }
  for (const auto& count : *counts) {
    CollectionState* state = state_of(count.user_id, count.collection, false);
    state->items = count.items;
    state->created_up_to = count.created_after;
    state->modified_up_to = count.modified_after;
    state->loading_since = count.loading_since;
  }
  for (const auto& s : *syncs) {
    CollectionState* state = state_of(s.user_id, s.collection, false);
    state->last_sync_at = s.last_sync_at;
    state->last_sync_kind = s.last_sync_kind;
    state->last_error = s.last_error;
    state->last_error_at = s.last_error_at;
    state->last_lifecycle_event = s.last_lifecycle_event;
    state->last_lifecycle_at = s.last_lifecycle_at;
    state->stopped_reason = s.stopped_reason;
    state->stopped_at = s.stopped_at;
    state->retry_at = s.retry_at;
  }

  auto containers = impl_->store->containers().States();
  if (!containers.ok()) return containers.status();
  for (auto& c : *containers) {
    status.containers.push_back(
        {std::move(c.user_id), std::move(c.container), c.rows, std::move(c.synced_at)});
  }

  auto bodies = impl_->store->mirror().BodyCounts();
  if (!bodies.ok()) return bodies.status();
  for (auto& b : *bodies) status.bodies.push_back({std::move(b.user_id), b.bodies, b.bytes});
  // Lists as collections: the configured ones first, then whatever else the database holds.
  auto lists = impl_->store->lists().Statuses();
  if (!lists.ok()) return lists.status();
  std::map<std::pair<std::string, std::string>, size_t> list_index;
  auto list_of = [&](const std::string& site, const std::string& list, bool configured) {
    return EntryFor(status.lists, list_index, {site, list}, [&](ListStatus& l) {
      l.site = site;
      l.list_id = list;
      l.configured = configured;
    });
  };
  for (const SharePointConfig& site : impl_->config.sharepoint) {
    for (const std::string& list : site.lists) list_of(site.site, list, true);
  }
  for (const store::ListStatusRow& row : *lists) {
    ListStatus* l = list_of(row.site, row.list_id, false);
    l->items = row.items;
    l->synced_at = row.synced_at;
    l->full_reads = row.full_reads;
    l->pending_notifications = row.pending;
    l->has_change_token = row.has_token;
    l->change_token_at = row.token_at;
    l->last_change_at = row.last_change_at;
    l->subscription_expires = row.subscription_expires;
    l->last_error = row.last_error;
    l->last_error_at = row.last_error_at;
    l->subscription_error = row.subscription_error;
  }

  auto verified = impl_->store->sync_state().VerifyRecords();
  if (!verified.ok()) return verified.status();
  for (auto& r : *verified) {
    status.verifications.push_back({std::move(r.user_id), std::move(r.resource),
                                    std::move(r.verified_at), r.graph_items, r.mirror_items,
                                    r.missing, r.extra, r.stale, r.repaired, r.remaining});
  }

  std::set<std::string> users;
  for (const auto& state : status.collections) users.insert(state.user_id);
  for (const auto& sub : *subscriptions) {
    users.insert(sub.user_id);
    status.subscriptions.push_back({sub.id, sub.user_id, sub.collection, sub.resource,
                                    sub.expires_at, sub.encryption_certificate_id});
  }
  for (const std::string& user : users) {
    auto log = impl_->store->log().Stats(user);
    if (!log.ok()) return log.status();
    status.logs.push_back(
        {user, log->pending, log->failed, log->suspicious, log->last_received_at});
    if (configured_users.count(user) != 0) status.log_backlog += log->pending;
  }
  return status;
}

Result<std::vector<Message>> Engine::Messages(const MessageQuery& query) {
  return impl_->store->mirror().Messages(query);
}

Result<std::vector<Event>> Engine::Events(const EventQuery& query) {
  return impl_->store->mirror().Events(query);
}

Result<std::vector<Contact>> Engine::Contacts(const ContactQuery& query) {
  return impl_->store->mirror().Contacts(query);
}

Result<std::vector<ListItem>> Engine::ListItems(const ListItemQuery& query) {
  if (query.limit < 1 || query.limit > 10'000) {
    return Status::InvalidArgument("a list item read takes 1 to 10000 items");
  }
  std::string site = query.site;
  while (!site.empty() && site.back() == '/') site.pop_back();  // as the config keeps it
  std::string list_id = query.list_id;
  for (char& ch : list_id) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto rows = impl_->store->lists().Items(site, list_id, query.after_item_id, query.limit);
  if (!rows.ok()) return rows.status();
  std::vector<ListItem> out;
  out.reserve(rows->size());
  for (store::ListItemRow& r : *rows) {
    out.push_back({site, list_id, r.item_id, std::move(r.created_at), std::move(r.modified_at),
                   std::move(r.json)});
  }
  return out;
}

Result<std::vector<Message>> Engine::Search(const std::string& text, const std::string& user_id,
                                            int limit) {
  return impl_->store->mirror().SearchMessages(text, user_id, limit);
}

namespace {

constexpr size_t kMaxChangesPerRead = 100'000;

Status CheckLimit(size_t limit) {
  if (limit == 0 || limit > kMaxChangesPerRead) {
    return Status::InvalidArgument("a change feed read takes 1 to " +
                                   std::to_string(kMaxChangesPerRead) + " changes");
  }
  return Status::Ok();
}

Status CheckConsumerName(const std::string& name) {
  if (name.empty() || name.size() > 200) {
    return Status::InvalidArgument("a consumer name has 1 to 200 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("a consumer name has no control characters");
    }
  }
  return Status::Ok();
}

Result<std::vector<FeedChange>> ToFeed(Result<std::vector<store::ChangeRow>> rows) {
  if (!rows.ok()) return rows.status();
  std::vector<FeedChange> out;
  out.reserve(rows->size());
  for (store::ChangeRow& r : *rows) {
    out.push_back({r.seq, std::move(r.resource), std::move(r.user_id), std::move(r.site),
                   std::move(r.list_id), std::move(r.item_id), std::move(r.kind),
                   std::move(r.changed_at), std::move(r.fields)});
  }
  return out;
}

}  // namespace

Result<std::vector<FeedChange>> Engine::ReadChanges(int64_t after_seq, size_t limit) {
  if (Status s = CheckLimit(limit); !s.ok()) return s;
  if (after_seq < 0) return Status::InvalidArgument("a change feed seq is never negative");
  return ToFeed(impl_->store->changes().Read(after_seq, static_cast<int64_t>(limit)));
}

Result<std::vector<FeedChange>> Engine::ReadChanges(const std::string& consumer, size_t limit) {
  if (Status s = CheckLimit(limit); !s.ok()) return s;
  if (Status s = CheckConsumerName(consumer); !s.ok()) return s;
  auto cursor = impl_->store->changes().Cursor(consumer);
  if (!cursor.ok()) return cursor.status();
  return ToFeed(impl_->store->changes().Read(*cursor, static_cast<int64_t>(limit)));
}

Status Engine::CommitChanges(const std::string& consumer, int64_t up_to_seq) {
  if (Status s = CheckConsumerName(consumer); !s.ok()) return s;
  return impl_->store->changes().Commit(consumer, up_to_seq);
}

Status Engine::DropConsumer(const std::string& consumer) {
  return impl_->store->changes().Drop(consumer);
}

Result<std::vector<ConsumerState>> Engine::Consumers() {
  auto rows = impl_->store->changes().Consumers();
  if (!rows.ok()) return rows.status();
  std::vector<ConsumerState> out;
  for (store::ConsumerRow& r : *rows) {
    out.push_back({std::move(r.name), r.last_seq, std::move(r.updated_at)});
  }
  return out;
}

Result<int64_t> Engine::PruneChanges() {
  const ChangeSettings& settings = impl_->config.changes;
  if (settings.keep_days <= 0) return int64_t{0};
  return impl_->store->changes().Prune(
      impl_->clock->Now() - std::chrono::hours(24) * settings.keep_days, settings.drop_unread);
}

void Engine::SetObserver(std::function<void(const std::vector<Change>&)> observer) {
  if (!observer) {
    impl_->store->SetChangeObserver(nullptr);
    return;
  }
  impl_->store->SetChangeObserver(
      [observer = std::move(observer)](const std::vector<store::MirrorChange>& changes) {
        std::vector<Change> out;
        out.reserve(changes.size());
        for (const auto& c : changes) {
          out.push_back({c.user_id, c.collection, c.id, c.deleted, c.site, c.list_id});
        }
        try {
          observer(out);
        } catch (const std::exception& e) {
          spdlog::warn("engine: the change observer threw: {}", e.what());
        }
      });
}

}  // namespace graphmirror
