#include "graphmirror/partitioned.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "engine/config/config.h"
#include "engine/kafka/router.h"
#include "engine/kafka/shards.h"
#include "engine/notify/admin_server.h"
#include "engine/notify/routing.h"
#include "engine/store/shard_reader.h"

namespace graphmirror {

std::string MailboxRoutingKey(const std::string& mailbox) { return notify::RoutingKey(mailbox); }

int MailboxPartition(const std::string& mailbox, int partitions) {
  return notify::PartitionOf(notify::RoutingKey(mailbox), partitions);
}

std::string ShardFile(const std::string& directory, int partition) {
  return (std::filesystem::path(directory) / ("mirror-p" + std::to_string(partition) + ".db"))
      .string();
}

Config ShardConfig(const Config& config, int partition) {
  Config shard = config;
  const int partitions = config.kafka ? config.kafka->partitions : 1;
  shard.database = ShardFile(config.kafka ? config.kafka->shard_directory : ".", partition);
  shard.mailboxes.clear();
  for (const MailboxConfig& mailbox : config.mailboxes) {
    if (MailboxPartition(mailbox.user, partitions) == partition) shard.mailboxes.push_back(mailbox);
  }
  if (shard.kafka) shard.kafka->shard = partition;
  shard.metrics.listen.clear();  // the daemon's, not each shard's
  return shard;
}

Result<std::vector<ShardFileInfo>> FindShards(const std::string& directory) {
  std::vector<ShardFileInfo> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    // mirror-p{n}.db exactly: not its -wal and -shm files.
    constexpr std::string_view kPrefix = "mirror-p";
    constexpr std::string_view kSuffix = ".db";
    if (name.size() <= kPrefix.size() + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string digits =
        name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.empty() || digits.size() > 4 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    out.push_back({std::stoi(digits), entry.path().string()});
  }
  if (error)
    return Status::NotFound("cannot read the shard directory " + directory + ": " +
                            error.message());
  if (out.empty()) return Status::NotFound("no shards (mirror-p{n}.db) in " + directory);
  std::sort(out.begin(), out.end(), [](const ShardFileInfo& a, const ShardFileInfo& b) {
    return a.partition < b.partition;
  });
  return out;
}

namespace {

std::vector<store::ShardPath> Paths(const std::vector<ShardFileInfo>& shards) {
  std::vector<store::ShardPath> out;
  for (const ShardFileInfo& s : shards) out.push_back({s.partition, s.path});
  return out;
}

}  // namespace

Result<std::vector<Message>> SearchShards(const std::vector<ShardFileInfo>& shards,
                                          const std::string& text, const std::string& user_id,
                                          int limit) {
  return store::SearchShardFiles(Paths(shards), text, user_id, limit);
}

Result<std::vector<ShardMailbox>> ShardMailboxes(const std::vector<ShardFileInfo>& shards) {
  auto rows = store::ShardMailboxRows(Paths(shards));
  if (!rows.ok()) return rows.status();
  std::vector<ShardMailbox> out;
  for (const store::ShardMailboxRow& r : *rows) {
    out.push_back({r.partition, r.user_id, r.messages, r.events, r.contacts});
  }
  return out;
}

struct PartitionedMirror::Impl {
  Config config;
  StartOptions options;
  std::unique_ptr<kafka::Router> router;
  std::unique_ptr<kafka::Shards> shards;
  std::unique_ptr<notify::AdminServer> admin;  // [metrics] listen, while started
  struct ShardEngine {
    std::unique_ptr<Engine> engine;
    std::shared_ptr<std::atomic<bool>> ready;
    int mailboxes = 0;
  };
  mutable std::mutex mu;  // guards `open` against GetStatus
  std::map<int, ShardEngine> open;
  std::mutex event_mu;  // one on_shard call at a time

  void Event(int partition, const std::string& event) {
    spdlog::info("partitioned: shard {} {}", partition, event);
    if (!options.on_shard) return;
    std::lock_guard<std::mutex> lock(event_mu);
    options.on_shard(partition, event);
  }

  Status OpenShard(int partition) {
    const Config shard = ShardConfig(config, partition);
    auto engine = Engine::Open(shard);
    if (!engine.ok()) {
      Event(partition, "failed: " + engine.status().message());
      return engine.status();
    }
    auto ready = std::make_shared<std::atomic<bool>>(false);
    Engine::StartOptions start;
    start.serve_http = false;  // its notifications come from the topic
    start.serve_admin = false;
    start.consume_kafka = false;  // the router reads the source topic, not each shard
    start.on_initial_sync_done = [this, partition, ready](const std::vector<SyncReport>& reports) {
      ready->store(true);
      size_t failed = 0;
      for (const SyncReport& r : reports) failed += r.status.ok() ? 0 : 1;
      Event(partition, "ready (" + std::to_string(reports.size()) + " collections" +
                           (failed > 0 ? ", " + std::to_string(failed) + " failed" : "") + ")");
    };
    if (Status s = (*engine)->Start(start); !s.ok()) {
      Event(partition, "failed: " + s.message());
      return s;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      open[partition] =
          ShardEngine{std::move(engine).value(), ready, static_cast<int>(shard.mailboxes.size())};
    }
    Event(partition, "open (" + std::to_string(shard.mailboxes.size()) + " mailboxes, " +
                         shard.database + ")");
    return Status::Ok();
  }

  int Handle(int partition, std::string_view body) {
    Engine* engine = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = open.find(partition);
      if (it != open.end()) engine = it->second.engine.get();
    }
    if (engine == nullptr) return 503;
    // Collections Graph wrote to an event hub carry no validation tokens (rich items are
    // vouched for by the hub's access control); through a relay, they are webhook bodies.
    if (!config.kafka->event_hub_url.empty()) return engine->HandleEventHubRecord(body).status;
    return engine->HandleNotification("application/json", body).status;
  }

  void CloseShard(int partition) {
    ShardEngine closing;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = open.find(partition);
      if (it == open.end()) return;
      closing = std::move(it->second);
      open.erase(it);
    }
    closing.engine->Stop();
    closing.engine.reset();  // closes the database and its live lock for the next owner
    Event(partition, "closed");
  }
};

PartitionedMirror::PartitionedMirror(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PartitionedMirror::~PartitionedMirror() { Stop(); }

Result<std::unique_ptr<PartitionedMirror>> PartitionedMirror::Open(const Config& config) {
  if (Status s = config::ValidateConfig(config, "config"); !s.ok()) return s;
  if (!config.kafka || config.kafka->mode != "partitioned") {
    return Status::InvalidArgument("the partitioned mode needs [kafka] mode = \"partitioned\"");
  }
  std::error_code error;
  std::filesystem::create_directories(config.kafka->shard_directory, error);
  if (error) {
    return Status::IOError("cannot create kafka.shard_directory " + config.kafka->shard_directory +
                           ": " + error.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  return std::unique_ptr<PartitionedMirror>(new PartitionedMirror(std::move(impl)));
}

Status PartitionedMirror::Start(StartOptions options) {
  if (impl_->router) return Status::InvalidArgument("already started");
  impl_->options = std::move(options);
  Impl* impl = impl_.get();
  kafka::ShardHooks hooks;
  hooks.open = [impl](int32_t n) { return impl->OpenShard(n); };
  hooks.handle = [impl](int32_t n, std::string_view body) { return impl->Handle(n, body); };
  hooks.close = [impl](int32_t n) { impl->CloseShard(n); };
  auto router = std::make_unique<kafka::Router>(*impl_->config.kafka);
  auto shards = std::make_unique<kafka::Shards>(*impl_->config.kafka, std::move(hooks));
  if (Status s = router->Start(); !s.ok()) return s;
  if (Status s = shards->Start(); !s.ok()) {
    router->Stop();
    return s;
  }
  impl_->router = std::move(router);
  impl_->shards = std::move(shards);
  if (!impl_->config.metrics.listen.empty()) {
    PartitionedMirror* self = this;
    auto admin = std::make_unique<notify::AdminServer>(
        impl_->config.metrics.listen,
        [self](const std::string& path) -> std::optional<notify::AdminResponse> {
          if (path == "/healthz") {
            const bool ready = self->Healthy();
            return notify::AdminResponse{
                ready ? 200 : 503, "application/json",
                ready ? "{\"status\":\"ready\"}\n" : "{\"status\":\"starting\"}\n"};
          }
          if (path == "/metrics") {
            return notify::AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                         self->Metrics()};
          }
          return std::nullopt;
        });
    if (Status s = admin->Start(); !s.ok()) {
      Stop();
      return s;
    }
    impl_->admin = std::move(admin);
  }
  return Status::Ok();
}

int PartitionedMirror::MetricsPort() const { return impl_->admin ? impl_->admin->port() : 0; }

bool PartitionedMirror::Healthy() const {
  const PartitionedStatus status = GetStatus();
  if (!impl_->router) return false;
  for (const PartitionedStatus::Shard& shard : status.shards) {
    if (!shard.open || !shard.ready) return false;
  }
  return true;
}

std::string PartitionedMirror::Metrics() const {
  const PartitionedStatus st = GetStatus();
  std::string out;
  auto family = [&](const std::string& name, const char* type, const std::string& help) {
    out += "# HELP graphmirror_" + name + " " + help + "\n# TYPE graphmirror_" + name + " " + type +
           "\n";
  };
  auto sample = [&](const std::string& name, const std::string& labels, int64_t value) {
    out += "graphmirror_" + name + (labels.empty() ? "" : "{" + labels + "}") + " " +
           std::to_string(value) + "\n";
  };
  family("router_records_total", "counter",
         "Source records (Graph's collections) the router read, again after a crash included.");
  sample("router_records_total", "", st.source_records);
  family("router_items_total", "counter",
         "Notification items in them, by outcome: routed, or dropped without a routing key.");
  sample("router_items_total", "outcome=\"routed\"", st.items - st.unrouted_items);
  sample("router_items_total", "outcome=\"unrouted\"", st.unrouted_items);
  family("router_rejected_records_total", "counter", "Source records that were not a collection.");
  sample("router_rejected_records_total", "", st.rejected_records);
  family("router_produced_total", "counter",
         "Records written to graphmirror.mailbox-changes and acknowledged.");
  sample("router_produced_total", "", st.routed);
  family("router_produce_retries_total", "counter", "Records produced again after a failure.");
  sample("router_produce_retries_total", "", st.produce_retries);
  family("shard_records_total", "counter",
         "Keyed records handed to the shards, by outcome: accepted (durable), rejected (bad "
         "input, skipped), retried (not durable, handed over again).");
  sample("shard_records_total", "outcome=\"accepted\"", st.accepted);
  sample("shard_records_total", "outcome=\"rejected\"", st.rejected);
  sample("shard_records_total", "outcome=\"retried\"", st.retries);
  family("shards_opened_total", "counter", "Shards this daemon opened (assignments).");
  sample("shards_opened_total", "", st.shards_opened);
  family("shards_closed_total", "counter", "Shards this daemon closed (revocations, stop).");
  sample("shards_closed_total", "", st.shards_closed);
  family("shard_ready", "gauge",
         "Per shard assigned to this daemon: 1 once open and its initial sync is done.");
  for (const PartitionedStatus::Shard& shard : st.shards) {
    sample("shard_ready", "partition=\"" + std::to_string(shard.partition) + "\"",
           shard.open && shard.ready ? 1 : 0);
  }
  family("shard_mailboxes", "gauge", "Per shard assigned to this daemon: its mailboxes.");
  for (const PartitionedStatus::Shard& shard : st.shards) {
    sample("shard_mailboxes", "partition=\"" + std::to_string(shard.partition) + "\"",
           shard.mailboxes);
  }
  return out;
}

void PartitionedMirror::Stop() {
  if (impl_->admin) impl_->admin->Stop();  // it reads the router and the shards: first
  impl_->admin.reset();
  // Routing first: what it acknowledged is in the keyed topic, and commits.
  if (impl_->router) impl_->router->Stop();
  // Then the shards: each commits what it made durable, then closes.
  if (impl_->shards) impl_->shards->Stop();
  impl_->router.reset();
  impl_->shards.reset();
}

PartitionedStatus PartitionedMirror::GetStatus() const {
  PartitionedStatus out;
  auto read = [](const std::atomic<uint64_t>& v) { return static_cast<int64_t>(v.load()); };
  if (impl_->router) {
    const kafka::RouterStats& r = impl_->router->stats();
    out.source_records = read(r.records);
    out.items = read(r.items);
    out.unrouted_items = read(r.unrouted_items);
    out.rejected_records = read(r.rejected_records);
    out.routed = read(r.produced);
    out.produce_retries = read(r.produce_retries);
    out.router_error = impl_->router->last_error();
  }
  if (impl_->shards) {
    const kafka::ShardStats& s = impl_->shards->stats();
    out.shard_records = read(s.records);
    out.accepted = read(s.accepted);
    out.rejected = read(s.rejected);
    out.retries = read(s.retries);
    out.shards_opened = read(s.opened);
    out.shards_closed = read(s.closed);
    out.shard_error = impl_->shards->last_error();
    for (const auto& [n, is_open] : impl_->shards->Assigned()) {
      PartitionedStatus::Shard shard;
      shard.partition = n;
      shard.open = is_open;
      std::lock_guard<std::mutex> lock(impl_->mu);
      auto it = impl_->open.find(n);
      if (it != impl_->open.end()) {
        shard.ready = it->second.ready->load();
        shard.mailboxes = it->second.mailboxes;
      }
      out.shards.push_back(shard);
    }
  }
  return out;
}

}  // namespace graphmirror
