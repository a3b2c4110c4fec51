// graphmirror: the command line over the engine.
//
//   graphmirror sync --config FILE --once   one pass over every mailbox and collection
//   graphmirror run --config FILE           the daemon: subscriptions, webhook, live sync
//   graphmirror status --config FILE        what the mirror holds, how current it is, and
//                                           which collections are stopped and why
//   graphmirror search --config FILE TEXT   full-text search over the mirrored messages
//   graphmirror doctor --config FILE        what is wrong with the app, permissions, clock,
//                                           webhook, explained
//   graphmirror keygen --cert F --key F     a self-signed RSA 2048 certificate and its key
//                                           (mode 0600) for rich notifications
//   graphmirror keygen --app --cert F --key F   the same, as the app's credential for the
//                                           token (graph.certificate, graph.private_key)
//   graphmirror changes --config FILE [--after N | --consumer NAME] [--follow]
//                                           the change feed, one JSON object per line
//   graphmirror verify --config FILE [--mailbox U] [--resource R] [--repair]
//                                           compares the mirror with Graph (ids and change
//                                           keys); exit 0 equal, 1 drift, 2 could not tell
//   graphmirror --version                   "graphmirror 0.1.0" (include/graphmirror/version.h)
//
// Every failure ends with one line on stderr naming the problem and a non-zero exit.

#include <pthread.h>
#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "graphmirror/engine.h"
#include "graphmirror/partitioned.h"
#include "graphmirror/setup.h"
#include "graphmirror/version.h"

namespace graphmirror {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Fail(const std::string& what) {
  std::cerr << "graphmirror: " << what << "\n";
  return kExitFailure;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// One line per collection synced: what came, what was new, what the mirror holds.
void PrintReport(const SyncReport& r) {
  std::string name(CollectionName(r.collection));
  if (r.status.ok()) {
    std::printf("%s %-8s fetched %lld, %lld new, %lld removed, %lld in mirror (%.2f s)\n",
                r.user_id.c_str(), name.c_str(), static_cast<long long>(r.fetched),
                static_cast<long long>(r.added), static_cast<long long>(r.removed),
                static_cast<long long>(r.items), r.seconds);
  } else {
    std::printf("%s %-8s FAILED: %s\n", r.user_id.c_str(), name.c_str(),
                r.status.ToString().c_str());
  }
  std::fflush(stdout);
}

// A one-line progress display on stderr while a long sync runs: items received and their
// rate, and whether requests are waiting out throttling or a failure ("waiting 1.5 s
// (throttled)"), redrawn twice a second; only when stderr is a terminal. Report lines
// printed in between (Print) clear it first.
class Progress {
 public:
  explicit Progress(const Engine* engine) : engine_(engine), shown_(::isatty(2) == 1) {
    if (!shown_) return;
    thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() {
    if (!shown_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::fputs("\r\033[K", stderr);
  }
  void Print(const std::function<void()>& print) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shown_) std::fputs("\r\033[K", stderr);
    print();
    std::fflush(stdout);
  }

 private:
  void Loop() {
    const auto started = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) {
      const double seconds = Seconds(std::chrono::steady_clock::now() - started);
      const SyncProgress now = engine_->Progress();
      const int64_t items = now.items_received;
      std::string waiting;
      if (now.waiting_requests > 0) {
        char text[96];
        std::snprintf(text, sizeof text, ", waiting %.1f s (%s)", now.longest_wait_seconds,
                      now.wait_reason.c_str());
        waiting = text;
      }
      std::fprintf(stderr, "\r\033[K  %lld items received, %.0f items/s%s",
                   static_cast<long long>(items), seconds > 0 ? items / seconds : 0.0,
                   waiting.c_str());
      std::fflush(stderr);
    }
  }

  const Engine* engine_;
  const bool shown_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

int RunSync(const std::string& config_path) {
  auto config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status().message());
  if (config->mailboxes.empty()) return Fail(config_path + ": no [[mailbox]] configured");
  // A partitioned config: each shard in turn, its file and its mailboxes (a first load
  // before the daemons start, say); else the one database.
  std::vector<Config> targets;
  if (config->kafka && config->kafka->mode == "partitioned") {
    std::error_code ignored;
    std::filesystem::create_directories(config->kafka->shard_directory, ignored);
    for (int n = 0; n < config->kafka->partitions; ++n) {
      Config shard = ShardConfig(*config, n);
      if (!shard.mailboxes.empty()) targets.push_back(std::move(shard));
    }
  } else {
    targets.push_back(*config);
  }

  auto started = std::chrono::steady_clock::now();
  std::vector<SyncReport> reports;
  for (const Config& target : targets) {
    auto engine = Engine::Open(target);
    if (!engine.ok()) return Fail(engine.status().message());
    if (Status s = (*engine)->CheckCredentials(); !s.ok()) return Fail(s.message());
    Progress progress(engine->get());
    for (SyncReport& r : (*engine)->SyncOnceReports(
             [&](const SyncReport& r) { progress.Print([&] { PrintReport(r); }); })) {
      reports.push_back(std::move(r));
    }
  }
  int failed = 0;
  for (const auto& r : reports) failed += r.status.ok() ? 0 : 1;
  std::printf("synced %zu collections in %.2f s%s\n", reports.size() - failed,
              Seconds(std::chrono::steady_clock::now() - started),
              failed ? (", " + std::to_string(failed) + " failed").c_str() : "");
  return failed == 0 ? 0 : kExitFailure;
}

// The partitioned mode ([kafka] mode = "partitioned", docs/scale-out.md): routes the
// topic's collections by mailbox and mirrors the shards the group assigns this daemon,
// until SIGTERM or SIGINT (blocked in `stop_signals` by the caller).
int RunPartitioned(const std::string& config_path, const Config& config, sigset_t stop_signals) {
  const KafkaSettings& kafka = *config.kafka;
  if (config.webhook.notification_url.empty() && kafka.event_hub_url.empty()) {
    return Fail(config_path +
                ": 'kafka.event_hub_url' (or 'webhook.notification_url', a relay that writes "
                "to the topic) is required to run");
  }
  {
    // Wrong credentials are one clear line before anything starts, without touching a
    // shard: the check runs on an engine over a scratch database.
    Config probe = config;
    probe.mailboxes.clear();
    probe.database = (std::filesystem::temp_directory_path() /
                      ("graphmirror-check-" + std::to_string(::getpid()) + ".db"))
                         .string();
    Status checked;
    {
      auto engine = Engine::Open(probe);
      checked = engine.ok() ? (*engine)->CheckCredentials() : engine.status();
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ignored;
      std::filesystem::remove(probe.database + suffix, ignored);
    }
    if (!checked.ok()) return Fail(checked.message());
  }
  auto daemon = PartitionedMirror::Open(config);
  if (!daemon.ok()) return Fail(daemon.status().message());
  std::mutex order;
  std::unique_lock<std::mutex> started(order);
  PartitionedMirror::StartOptions options;
  options.on_shard = [&order](int partition, const std::string& event) {
    std::lock_guard<std::mutex> lock(order);
    std::printf("shard %d %s\n", partition, event.c_str());
    std::fflush(stdout);
  };
  if (Status s = (*daemon)->Start(options); !s.ok()) return Fail(s.message());
  std::printf(
      "partitioned: routing kafka topic %s on %s to %s (%d partitions, group %s), shards in "
      "%s%s\n",
      kafka.topic.c_str(), kafka.brokers.c_str(), kMailboxChangesTopic, kafka.partitions,
      kafka.group.c_str(), kafka.shard_directory.c_str(),
      config.metrics.listen.empty()
          ? ""
          : (", metrics at http://" + config.metrics.listen + "/metrics").c_str());
  std::fflush(stdout);
  started.unlock();

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::printf("stopping (%s)\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  (*daemon)->Stop();
  return 0;
}

// Runs until SIGTERM or SIGINT. The signals are blocked in every thread and taken here
// with sigwait, so no handler runs in the middle of a commit.
int RunDaemon(const std::string& config_path) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A file size limit (ulimit -f) must fail a write with EFBIG, which the store answers
  // like any I/O error (503, retry later), not kill the daemon.
  std::signal(SIGXFSZ, SIG_IGN);
  // Each connection waiting at the webhook holds a descriptor: take the hard limit, as
  // the soft one (often 1,024) would cap webhook.max_idle_connections far below its value.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }

  auto config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status().message());
  if (config->mailboxes.empty() && config->sharepoint.empty()) {
    return Fail(config_path + ": no [[mailbox]] or [[sharepoint]] configured");
  }
  if (config->kafka && config->kafka->mode == "partitioned") {
    return RunPartitioned(config_path, *config, stop_signals);
  }
  const bool event_hub = config->kafka && !config->kafka->event_hub_url.empty();
  if (config->webhook.notification_url.empty() && !event_hub) {
    return Fail(config_path +
                ": 'webhook.notification_url' (or 'kafka.event_hub_url') is required to run");
  }
  auto engine = Engine::Open(*config);
  if (!engine.ok()) return Fail(engine.status().message());
  if (Status s = (*engine)->CheckCredentials(); !s.ok()) return Fail(s.message());

  // Start returns once the webhook listens: Graph's notifications are logged (202) while
  // the subscriptions are set and the initial sync runs in the background; its reports,
  // then one "initial sync done" line, follow the "listening on" line (`order` holds
  // them back until it is printed).
  std::mutex order;
  std::unique_lock<std::mutex> listening(order);
  Engine::StartOptions options;  // with /healthz and /metrics on the listener
  options.on_initial_sync = [&order](const SyncReport& r) {
    std::lock_guard<std::mutex> lock(order);
    PrintReport(r);
  };
  const auto started = std::chrono::steady_clock::now();
  options.on_initial_sync_done = [&order, started](const std::vector<SyncReport>& reports) {
    std::lock_guard<std::mutex> lock(order);
    size_t failed = 0;
    for (const auto& r : reports) failed += r.status.ok() ? 0 : 1;
    std::printf("initial sync done: %zu collections synced in %.2f s%s\n", reports.size() - failed,
                Seconds(std::chrono::steady_clock::now() - started),
                failed ? (", " + std::to_string(failed) + " failed").c_str() : "");
    std::fflush(stdout);
  };
  if (Status s = (*engine)->Start(options); !s.ok()) return Fail(s.message());
  const std::string metrics_at = config->metrics.listen.empty()
                                     ? ""
                                     : ", metrics at http://" + config->metrics.listen + "/metrics";
  if (!config->webhook.notification_url.empty()) {
    std::printf("listening on %s, notifications at %s%s\n", config->webhook.listen.c_str(),
                config->webhook.notification_url.c_str(), metrics_at.c_str());
  } else {
    // Graph delivers to the event hub; only /healthz and /metrics listen here.
    std::printf("serving /healthz on %s, notifications through %s%s\n",
                config->webhook.listen.c_str(), config->kafka->event_hub_url.c_str(),
                metrics_at.c_str());
  }
  if (config->kafka) {
    std::printf("reading notifications from kafka topic %s on %s as group %s\n",
                config->kafka->topic.c_str(), config->kafka->brokers.c_str(),
                config->kafka->group.c_str());
  }
  std::fflush(stdout);
  listening.unlock();

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::printf("stopping (%s)\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  (*engine)->Stop();
  return 0;
}

// The engine over the mirror database a config names, which must exist already (reading
// commands never create an empty one).
Result<std::unique_ptr<Engine>> OpenExisting(const std::string& config_path) {
  auto config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  Engine::OpenOptions options;
  options.create_if_missing = false;
  auto engine = Engine::Open(*config, options);
  if (!engine.ok() && engine.status().code() == Status::Code::kNotFound) {
    return Status::NotFound(engine.status().message() +
                            " (`graphmirror sync --once` or `graphmirror run` creates it)");
  }
  return engine;
}

// The shard directory to read: --shards, else kafka.shard_directory of a partitioned
// config; empty for an ordinary mirror.
Result<std::string> ShardDirectory(const std::string& config_path, const std::string& shards,
                                   std::optional<Config>* config) {
  if (!config_path.empty()) {
    auto loaded = LoadConfig(config_path);
    if (!loaded.ok()) return loaded.status();
    *config = std::move(loaded).value();
  }
  if (!shards.empty()) return shards;
  if (*config && (*config)->kafka && (*config)->kafka->mode == "partitioned") {
    return (*config)->kafka->shard_directory;
  }
  if (config_path.empty()) return Status::InvalidArgument("--config or --shards is required");
  return std::string();
}

int RunSearch(const std::string& config_path, const std::string& shards_dir,
              const std::string& text, const std::string& user, int limit) {
  std::optional<Config> config;
  auto dir = ShardDirectory(config_path, shards_dir, &config);
  if (!dir.ok()) return Fail(dir.status().message());
  Result<std::vector<Message>> hits = std::vector<Message>();
  if (!dir->empty()) {
    // A partitioned mirror: every shard at once.
    auto shards = FindShards(*dir);
    if (!shards.ok()) return Fail(shards.status().message());
    hits = SearchShards(*shards, text, user, limit);
  } else {
    auto engine = OpenExisting(config_path);
    if (!engine.ok()) return Fail(engine.status().message());
    hits = (*engine)->Search(text, user, limit);
  }
  if (!hits.ok()) return Fail(hits.status().message());
  for (const auto& hit : *hits) {
    const std::string& from = hit.from_address.empty() ? hit.from_name : hit.from_address;
    std::printf("%s  %-30s  %s\n    %s\n    user %s  id %s\n",
                hit.received_at.substr(0, 16).c_str(), from.c_str(), hit.subject.c_str(),
                hit.body_preview.c_str(), hit.user_id.c_str(), hit.id.c_str());
  }
  std::printf("%zu message%s\n", hits->size(), hits->size() == 1 ? "" : "s");
  return 0;
}

int RunDoctor(const std::string& config_path) {
  auto config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status().message());
  int failures = 0;
  for (const auto& f : Doctor(*config)) {
    const char* mark = f.level == DoctorFinding::Level::kOk     ? "ok  "
                       : f.level == DoctorFinding::Level::kWarn ? "warn"
                                                                : "FAIL";
    failures += f.level == DoctorFinding::Level::kFail;
    std::printf("%s  %-12s %s\n", mark, f.check.c_str(), f.text.c_str());
  }
  std::printf("%d problem%s found\n", failures, failures == 1 ? "" : "s");
  return failures == 0 ? 0 : 1;
}

// What one mirror database holds (a shard's too); with `show_kafka`, the [kafka] source's
// consumer group.
int PrintStatus(std::unique_ptr<Engine>* engine, bool show_kafka) {
  auto status = (*engine)->GetStatus();
  if (!status.ok()) return Fail(status.status().message());
  std::printf("%-38s %-9s %9s  %-28s  %s\n", "mailbox", "collection", "items", "created up to",
              "modified up to");
  for (const auto& c : status->collections) {
    std::printf("%-38s %-9s %9lld  %-28s  %s%s\n", c.user_id.c_str(),
                std::string(CollectionName(c.collection)).c_str(), static_cast<long long>(c.items),
                c.created_up_to.empty() ? "-" : c.created_up_to.c_str(),
                c.modified_up_to.empty() ? "-" : c.modified_up_to.c_str(),
                c.configured ? "" : "  (not configured)");
  }

  std::printf("\n%-38s %-9s %-28s %-10s  %s\n", "mailbox", "collection", "last sync", "kind",
              "last lifecycle event");
  for (const auto& st : status->collections) {
    std::string lifecycle = st.last_lifecycle_event.empty()
                                ? "-"
                                : st.last_lifecycle_event + " at " + st.last_lifecycle_at;
    std::printf("%-38s %-9s %-28s %-10s  %s\n", st.user_id.c_str(),
                std::string(CollectionName(st.collection)).c_str(),
                st.last_sync_at.empty() ? "never" : st.last_sync_at.c_str(),
                st.last_sync_kind.empty() ? "-" : st.last_sync_kind.c_str(), lifecycle.c_str());
    if (!st.loading_since.empty()) {
      std::printf("  LOADING since %s: search finds its messages once the load ends\n",
                  st.loading_since.c_str());
    }
    if (!st.stopped_reason.empty()) {
      std::printf("  STOPPED since %s (next try %s): %s\n", st.stopped_at.c_str(),
                  st.retry_at.c_str(), st.stopped_reason.c_str());
    } else if (!st.last_error.empty() && st.last_error_at > st.last_sync_at) {
      // No success since: the collection is behind Graph until a sync succeeds.
      std::printf("  FAILED at %s: %s\n", st.last_error_at.c_str(), st.last_error.c_str());
    }
  }

  if (!status->containers.empty()) {
    std::printf("\n%-38s %-14s %9s  %s\n", "mailbox", "container", "rows", "synced at");
    for (const auto& c : status->containers) {
      std::printf("%-38s %-14s %9lld  %s\n", c.user_id.c_str(), c.name.c_str(),
                  static_cast<long long>(c.rows),
                  c.synced_at.empty() ? "never" : c.synced_at.c_str());
    }
  }

  if (!status->bodies.empty()) {
    std::printf("\n%-38s %9s %12s  %s\n", "mailbox", "bodies", "bytes", "per message");
    for (const auto& b : status->bodies) {
      std::printf("%-38s %9lld %12lld  %lld\n", b.user_id.c_str(), static_cast<long long>(b.bodies),
                  static_cast<long long>(b.bytes),
                  static_cast<long long>(b.bodies > 0 ? b.bytes / b.bodies : 0));
    }
  }

  if (!status->lists.empty()) {
    std::printf("\n%-50s %-36s %9s  %s\n", "sharepoint site", "list", "items", "state");
    for (const auto& l : status->lists) {
      std::printf(
          "%-50s %-36s %9lld  synced %s, last change %s, %lld whole read(s), %lld "
          "notification(s) waiting, change token %s, subscription %s%s\n",
          l.site.c_str(), l.list_id.c_str(), static_cast<long long>(l.items),
          l.synced_at.empty() ? "never" : l.synced_at.c_str(),
          l.last_change_at.empty() ? "never" : l.last_change_at.c_str(),
          static_cast<long long>(l.full_reads), static_cast<long long>(l.pending_notifications),
          l.has_change_token ? ("from " + l.change_token_at).c_str()
                             : "none (the next sync reads the list whole)",
          l.subscription_expires.empty() ? "none" : ("until " + l.subscription_expires).c_str(),
          l.configured ? "" : " (not configured)");
      if (!l.last_error.empty()) {
        std::printf("  last error (%s): %s\n", l.last_error_at.c_str(), l.last_error.c_str());
      }
      if (!l.subscription_error.empty()) {
        std::printf("  subscription error: %s\n", l.subscription_error.c_str());
      }
    }
  }

  if (!status->verifications.empty()) {
    std::printf("\n%-38s %-17s %-28s %8s %8s %8s %8s  %s\n", "mailbox", "last verify",
                "verified at", "missing", "extra", "stale", "repaired", "drift left");
    for (const auto& v : status->verifications) {
      std::printf("%-38s %-17s %-28s %8lld %8lld %8lld %8lld  %lld\n", v.user_id.c_str(),
                  v.resource.c_str(), v.verified_at.c_str(), static_cast<long long>(v.missing),
                  static_cast<long long>(v.extra), static_cast<long long>(v.stale),
                  static_cast<long long>(v.repaired), static_cast<long long>(v.remaining));
    }
  }

  std::printf("\nsubscriptions: %zu\n", status->subscriptions.size());
  for (const auto& sub : status->subscriptions) {
    // A rich subscription's resource carries a long $select: show the path and "rich".
    const std::string path = sub.resource.substr(0, sub.resource.find('?'));
    std::printf("  %s  %-50s expires %s%s\n", sub.id.c_str(), path.c_str(), sub.expires_at.c_str(),
                sub.encryption_certificate_id.empty()
                    ? ""
                    : ("  rich (" + sub.encryption_certificate_id + ")").c_str());
  }

  std::printf("\n%-38s %9s %9s %10s  %s\n", "mailbox", "backlog", "failed", "suspicious",
              "last notification");
  for (const auto& log : status->logs) {
    std::printf("%-38s %9lld %9lld %10lld  %s\n", log.user_id.c_str(),
                static_cast<long long>(log.pending), static_cast<long long>(log.failed),
                static_cast<long long>(log.suspicious),
                log.last_received_at.empty() ? "-" : log.last_received_at.c_str());
  }

  if (!show_kafka) return 0;
  // [kafka]: how far the daemon's consumer group has read, asked of the brokers (the
  // daemon's own counters are in its /metrics).
  if (auto kafka = (*engine)->Kafka(std::chrono::seconds(5)); kafka.ok()) {
    std::printf("\nkafka topic %s on %s, group %s\n", kafka->topic.c_str(), kafka->brokers.c_str(),
                kafka->group.c_str());
    if (!kafka->brokers_error.empty()) {
      std::printf("  brokers not reachable: %s\n", kafka->brokers_error.c_str());
    } else {
      std::printf("  %9s %12s %12s %9s\n", "partition", "committed", "end", "behind");
      for (const auto& p : kafka->partitions) {
        const std::string committed = p.committed < 0 ? "-" : std::to_string(p.committed);
        const std::string end = p.end < 0 ? "?" : std::to_string(p.end);
        // Nothing committed yet: the group has read nothing the topic still holds.
        const std::string lag = p.lag() >= 0                    ? std::to_string(p.lag())
                                : p.committed < 0 && p.end >= 0 ? "all"
                                                                : "?";
        std::printf("  %9d %12s %12s %9s\n", p.partition, committed.c_str(), end.c_str(),
                    lag.c_str());
      }
    }
  }
  return 0;
}

// How far a consumer group of the partitioned mode has read (router or shards).
void PrintGroup(const KafkaState& kafka) {
  std::printf("\nkafka topic %s, group %s\n", kafka.topic.c_str(), kafka.group.c_str());
  if (!kafka.brokers_error.empty()) {
    std::printf("  brokers not reachable: %s\n", kafka.brokers_error.c_str());
    return;
  }
  std::printf("  %9s %12s %12s %9s\n", "partition", "committed", "end", "behind");
  for (const auto& p : kafka.partitions) {
    std::printf("  %9d %12s %12s %9s\n", p.partition,
                p.committed < 0 ? "-" : std::to_string(p.committed).c_str(),
                p.end < 0 ? "?" : std::to_string(p.end).c_str(),
                p.lag() >= 0 ? std::to_string(p.lag()).c_str() : p.end >= 0 ? "all" : "?");
  }
}

// A partitioned mirror: which shard holds which mailbox (each in exactly one, its own),
// then each shard's status, then how far the router and the shards have read.
int RunShardsStatus(const std::optional<Config>& config, const std::string& dir) {
  auto shards = FindShards(dir);
  if (!shards.ok()) return Fail(shards.status().message());
  auto mailboxes = ShardMailboxes(*shards);
  if (!mailboxes.ok()) return Fail(mailboxes.status().message());
  const int partitions =
      config && config->kafka && config->kafka->partitions > 0 ? config->kafka->partitions : 0;
  std::map<std::string, int> held;
  for (const ShardMailbox& m : *mailboxes) ++held[m.user_id];
  std::printf("%d shard(s) in %s\n\n%-5s %-38s %9s %9s %9s\n", static_cast<int>(shards->size()),
              dir.c_str(), "shard", "mailbox", "messages", "events", "contacts");
  int problems = 0;
  for (const ShardMailbox& m : *mailboxes) {
    std::string note;
    if (held[m.user_id] > 1) note += "  IN " + std::to_string(held[m.user_id]) + " SHARDS";
    if (partitions > 0 && MailboxPartition(m.user_id, partitions) != m.partition) {
      note += "  NOT ITS SHARD (p" + std::to_string(MailboxPartition(m.user_id, partitions)) + ")";
    }
    problems += note.empty() ? 0 : 1;
    std::printf("p%-4d %-38s %9lld %9lld %9lld%s\n", m.partition, m.user_id.c_str(),
                static_cast<long long>(m.messages), static_cast<long long>(m.events),
                static_cast<long long>(m.contacts), note.c_str());
  }
  if (config) {
    for (const MailboxConfig& mailbox : config->mailboxes) {
      if (held.count(mailbox.user) == 0) {
        std::printf("p%-4d %-38s  (not in its shard yet)\n",
                    partitions > 0 ? MailboxPartition(mailbox.user, partitions) : -1,
                    mailbox.user.c_str());
      }
    }
  }
  for (const ShardFileInfo& shard : *shards) {
    std::printf("\n== shard %d: %s ==\n", shard.partition, shard.path.c_str());
    Config c;
    if (config && config->kafka) {
      c = ShardConfig(*config, shard.partition);
    }
    c.database = shard.path;
    Engine::OpenOptions options;
    options.create_if_missing = false;
    auto engine = Engine::Open(c, options);
    if (!engine.ok()) return Fail(engine.status().message());
    if (int code = PrintStatus(&*engine, /*show_kafka=*/false); code != 0) return code;
  }
  if (config && config->kafka && config->kafka->mode == "partitioned") {
    // The groups' offsets, asked of the brokers without joining the groups.
    for (const bool router : {true, false}) {
      Config c = ShardConfig(*config, shards->front().partition);
      c.database = shards->front().path;
      // Read as a plain consumer group of one topic (Engine::Kafka asks the brokers).
      KafkaSettings& k = *c.kafka;
      k.group += router ? "-router" : "-shards";
      if (!router) k.topic = kMailboxChangesTopic;
      k.mode = "single";
      k.partitions = 0;
      k.shard_directory.clear();
      k.shard = -1;
      k.event_hub_url.clear();
      Engine::OpenOptions options;
      options.create_if_missing = false;
      auto engine = Engine::Open(c, options);
      if (!engine.ok()) return Fail(engine.status().message());
      if (auto kafka = (*engine)->Kafka(std::chrono::seconds(5)); kafka.ok()) PrintGroup(*kafka);
    }
  }
  if (problems > 0) {
    std::printf("\n%d mailbox row(s) not where they belong: kafka.partitions changed, or "
                "a shard file was copied\n", problems);
  }
  return 0;
}

int RunStatus(const std::string& config_path, const std::string& shards_dir) {
  std::optional<Config> config;
  auto dir = ShardDirectory(config_path, shards_dir, &config);
  if (!dir.ok()) return Fail(dir.status().message());
  if (!dir->empty()) return RunShardsStatus(config, *dir);
  auto engine = OpenExisting(config_path);
  if (!engine.ok()) return Fail(engine.status().message());
  return PrintStatus(&*engine, /*show_kafka=*/true);
}

// `s` as a JSON string, quotes included.
std::string JsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// One line of `graphmirror changes`.
std::string ChangeLine(const FeedChange& c) {
  std::string line =
      "{\"seq\":" + std::to_string(c.seq) + ",\"resource\":" + JsonString(c.resource);
  if (c.resource == "list_items") {
    line += ",\"site\":" + JsonString(c.site) + ",\"list_id\":" + JsonString(c.list_id);
  } else {
    line += ",\"user_id\":" + JsonString(c.user_id);
  }
  line += ",\"item_id\":" + JsonString(c.item_id) + ",\"kind\":" + JsonString(c.kind) +
          ",\"changed_at\":" + JsonString(c.changed_at) + ",\"fields\":";
  if (c.kind == "update" || c.kind == "move") {
    line += '[';
    for (size_t i = 0; i < c.fields.size(); ++i) {
      if (i > 0) line += ',';
      line += JsonString(c.fields[i]);
    }
    line += ']';
  } else {
    line += "null";
  }
  line += "}\n";
  return line;
}

// Prints the change feed after `after` (or after the cursor of `consumer`, which moves
// only once the lines are written, flushed and, for a file, synced), and with `follow`
// keeps polling until SIGINT or SIGTERM. A consumer killed between printing and
// committing prints those changes again when restarted: at least once, in seq order.
int RunChanges(const std::string& config_path, int64_t after, const std::string& consumer,
               bool follow) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the engine's threads start
  std::signal(SIGPIPE, SIG_IGN);  // a closed reader is a write error, not a silent death

  auto engine = OpenExisting(config_path);
  if (!engine.ok()) return Fail(engine.status().message());
  struct stat out_stat {};
  const bool out_is_file = ::fstat(1, &out_stat) == 0 && S_ISREG(out_stat.st_mode);
  constexpr size_t kBatch = 500;
  constexpr timespec kPoll{0, 200'000'000};
  constexpr timespec kNoWait{0, 0};
  int64_t expected = consumer.empty() ? after + 1 : -1;
  for (;;) {
    auto batch = consumer.empty() ? (*engine)->ReadChanges(after, kBatch)
                                  : (*engine)->ReadChanges(consumer, kBatch);
    if (!batch.ok()) {
      if (batch.status().code() == Status::Code::kInvalidArgument) {
        std::cerr << "graphmirror: " << batch.status().message() << "\n";
        return kExitUsage;
      }
      return Fail(batch.status().message());
    }
    if (!batch->empty()) {
      if (expected < 0) {
        expected = batch->front().seq;  // a consumer's first read: compare with its cursor
        auto consumers = (*engine)->Consumers();
        if (consumers.ok()) {
          for (const ConsumerState& c : *consumers) {
            if (c.name == consumer) expected = c.last_seq + 1;
          }
        }
      }
      if (batch->front().seq > expected) {
        std::cerr << "graphmirror: changes " << expected << " to " << batch->front().seq - 1
                  << " were pruned before they were read\n";
      }
      std::string text;
      for (const FeedChange& c : *batch) text += ChangeLine(c);
      if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
          std::fflush(stdout) != 0 || (out_is_file && ::fsync(1) != 0)) {
        return Fail("writing the changes failed: " + std::string(std::strerror(errno)));
      }
      after = batch->back().seq;
      expected = after + 1;
      if (!consumer.empty()) {
        if (Status s = (*engine)->CommitChanges(consumer, after); !s.ok()) {
          return Fail(s.message());
        }
      }
    }
    const bool caught_up = batch->size() < kBatch;
    if (caught_up && !follow) return 0;
    if (sigtimedwait(&stop_signals, nullptr, caught_up ? &kPoll : &kNoWait) > 0) return 0;
  }
}

// Prints `drift` of one scope: counts, then the example ids of each kind.
void PrintDrift(const VerifyDrift& drift) {
  auto ids = [](const char* kind, int64_t count, const std::vector<std::string>& shown) {
    if (count == 0) return;
    std::string line = std::string("    ") + kind + ":";
    for (const std::string& id : shown) line += " " + id;
    if (count > static_cast<int64_t>(shown.size())) {
      line += " (and " + std::to_string(count - static_cast<int64_t>(shown.size())) + " more)";
    }
    std::printf("%s\n", line.c_str());
  };
  ids("missing", drift.missing, drift.missing_ids);
  ids("extra", drift.extra, drift.extra_ids);
  ids("stale", drift.stale, drift.stale_ids);
}

// Compares the mirror with Graph and, with `repair`, fixes what differs. Exit 0 when the
// mirror equals Graph (after the repair), 1 when it does not, 2 when it could not tell
// (usage, config, database, Graph unreachable or refusing): never 0 with data unread.
int RunVerify(const std::string& config_path, const std::string& mailbox,
              const std::string& resource, bool repair) {
  auto fail = [](const std::string& what) {
    std::cerr << "graphmirror: " << what << "\n";
    return kExitUsage;
  };
  VerifyOptions options;
  options.user_id = mailbox;
  options.repair = repair;
  if (!resource.empty()) {
    options.collection = ParseCollection(resource);
    if (!options.collection) {
      return fail("--resource must be messages, events or contacts, not '" + resource + "'");
    }
  }
  auto engine = OpenExisting(config_path);
  if (!engine.ok()) return fail(engine.status().message());
  if (Status s = (*engine)->CheckCredentials(); !s.ok()) return fail(s.message());
  const auto started = std::chrono::steady_clock::now();
  auto result = (*engine)->Verify(options);
  if (!result.ok()) return fail("verify: " + result.status().message());
  for (const VerifyScope& scope : result->scopes) {
    const VerifyDrift& d = scope.drift;
    std::printf("%s %-17s graph %lld, mirror %lld: ", scope.user_id.c_str(), scope.resource.c_str(),
                static_cast<long long>(scope.graph_items),
                static_cast<long long>(scope.mirror_items));
    if (d.total() == 0) {
      std::printf("equal\n");
      continue;
    }
    std::printf("%lld missing, %lld extra, %lld stale%s\n", static_cast<long long>(d.missing),
                static_cast<long long>(d.extra), static_cast<long long>(d.stale),
                scope.confirmed ? "" : " (as listed: too many to confirm each by id)");
    PrintDrift(d);
    if (scope.after_repair) {
      const VerifyDrift& left = *scope.after_repair;
      if (left.total() == 0) {
        std::printf("  repaired %lld row(s): now equal\n", static_cast<long long>(scope.repaired));
      } else {
        std::printf("  repaired %lld row(s): still %lld missing, %lld extra, %lld stale\n",
                    static_cast<long long>(scope.repaired), static_cast<long long>(left.missing),
                    static_cast<long long>(left.extra), static_cast<long long>(left.stale));
        PrintDrift(left);
      }
    }
  }
  const int64_t remaining = result->remaining();
  std::printf(
      "verified %zu scope%s with %lld Graph request%s in %.2f s: %s\n", result->scopes.size(),
      result->scopes.size() == 1 ? "" : "s", static_cast<long long>(result->graph_requests),
      result->graph_requests == 1 ? "" : "s", Seconds(std::chrono::steady_clock::now() - started),
      remaining == 0 ? "the mirror equals Graph"
                     : (std::to_string(remaining) + " item" + (remaining == 1 ? "" : "s") +
                        " differ" + (remaining == 1 ? "s" : "") +
                        (repair ? " after the repair" : " (--repair fixes them)"))
                           .c_str());
  return remaining == 0 ? 0 : kExitFailure;
}

int RunKeygen(const std::string& cert_path, const std::string& key_path,
              const std::string& common_name, int days, bool app_credential) {
  auto thumbprint = WriteKeyPair(common_name, days, cert_path, key_path);
  if (!thumbprint.ok()) return Fail(thumbprint.status().message());
  std::printf("wrote %s (certificate, valid %d days) and %s (private key, mode 0600)\n",
              cert_path.c_str(), days, key_path.c_str());
  std::printf("thumbprint (SHA-1): %s\n", thumbprint->c_str());
  if (app_credential) {
    std::printf(
        "upload %s to the app registration (Entra admin center: App registrations > your app "
        "> Certificates & secrets > Certificates > Upload certificate), then set in [graph]:\n"
        "  certificate = \"%s\"\n  private_key = \"%s\"\n",
        cert_path.c_str(), cert_path.c_str(), key_path.c_str());
  }
  return 0;
}

// The log message as a JSON string's contents (for --log-format json).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xF]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

int Main(int argc, char** argv) {
  CLI::App app{"graphmirror: a local SQLite mirror of Microsoft 365 mailboxes"};
  app.set_version_flag("--version", "graphmirror " GRAPHMIRROR_VERSION,
                       "Print the version and exit");
  app.require_subcommand(1);
  std::string log_level = "warn";
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text, or json: one JSON object per line")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::string config_path;
  bool once = false;
  CLI::App* sync_cmd = app.add_subcommand("sync", "Bring the mirror up to date with Graph");
  sync_cmd->add_option("--config", config_path, "TOML config file")->required();
  sync_cmd->add_flag("--once", once, "One pass over every mailbox and collection, then exit");

  CLI::App* run_cmd =
      app.add_subcommand("run", "Keep the mirror current from change notifications");
  run_cmd->add_option("--config", config_path, "TOML config file")->required();

  std::string shards_dir;
  CLI::App* status_cmd = app.add_subcommand("status", "Show what the mirror holds");
  status_cmd->add_option("--config", config_path, "TOML config file");
  status_cmd->add_option("--shards", shards_dir,
                         "the shards mirror-p{n}.db of a partitioned mirror in this directory "
                         "(default with a partitioned config: kafka.shard_directory)");

  CLI::App* doctor_cmd = app.add_subcommand(
      "doctor", "Check credentials, permissions, the clock and the webhook against Graph");
  doctor_cmd->add_option("--config", config_path, "TOML config file")->required();

  std::string search_text, search_user;
  int search_limit = 20;
  CLI::App* search_cmd =
      app.add_subcommand("search", "Search the mirrored messages (subject, body preview, sender)");
  search_cmd->add_option("--config", config_path, "TOML config file");
  search_cmd->add_option("--shards", shards_dir,
                         "search the shards mirror-p{n}.db of a partitioned mirror in this "
                         "directory (default with a partitioned config: kafka.shard_directory)");
  search_cmd->add_option("text", search_text, "words to find; a word ending in * is a prefix")
      ->required();
  search_cmd->add_option("--user", search_user, "only this mailbox (its configured user)");
  search_cmd->add_option("--limit", search_limit, "at most this many (1..1000)")
      ->check(CLI::Range(1, 1000));

  std::string cert_path, key_path, common_name = "graphmirror";
  int days = 365;
  bool app_credential = false;
  CLI::App* keygen_cmd = app.add_subcommand(
      "keygen",
      "Write a new certificate and private key (rich notifications, or with --app the "
      "app's credential)");
  keygen_cmd->add_flag("--app", app_credential,
                       "for the app registration: graph.certificate and graph.private_key");
  keygen_cmd->add_option("--cert", cert_path, "certificate file to create (PEM)")->required();
  keygen_cmd->add_option("--key", key_path, "private key file to create (PEM, mode 0600)")
      ->required();
  keygen_cmd->add_option("--days", days, "validity in days (1..3650)")->check(CLI::Range(1, 3650));
  keygen_cmd->add_option("--name", common_name, "the certificate's common name");

  int64_t changes_after = -1;
  std::string changes_consumer;
  bool changes_follow = false;
  CLI::App* changes_cmd = app.add_subcommand(
      "changes", "Print the change feed, one JSON object per line (README \"Change feed\")");
  changes_cmd->add_option("--config", config_path, "TOML config file")->required();
  CLI::Option* after_opt =
      changes_cmd->add_option("--after", changes_after, "changes after this seq (default 0)");
  CLI::Option* consumer_opt =
      changes_cmd->add_option("--consumer", changes_consumer,
                              "read from this consumer's cursor and move it past what was printed");
  changes_cmd->add_flag("--follow", changes_follow, "keep printing new changes until stopped");

  std::string verify_mailbox, verify_resource;
  bool verify_repair = false;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify",
      "Compare the mirror with Graph (ids and change keys); exit 0 equal, 1 drift, 2 error");
  verify_cmd->add_option("--config", config_path, "TOML config file")->required();
  verify_cmd->add_option("--mailbox", verify_mailbox, "only this mailbox (its configured user)");
  verify_cmd->add_option("--resource", verify_resource,
                         "only this collection: messages, events or contacts");
  verify_cmd->add_flag("--repair", verify_repair,
                       "fix what differs (read missing and stale items, delete extra rows), "
                       "then compare again");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  auto logger = spdlog::stderr_color_mt("graphmirror");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (log_format == "json") {
    // UTC times, so that the "Z" is true.
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  }

  if (*sync_cmd) {
    if (!once) {
      std::cerr << "graphmirror: sync needs --once (to stay current, use `graphmirror run`)\n";
      return kExitUsage;
    }
    return RunSync(config_path);
  }
  if (*run_cmd) return RunDaemon(config_path);
  if (*status_cmd) return RunStatus(config_path, shards_dir);
  if (*doctor_cmd) return RunDoctor(config_path);
  if (*search_cmd) return RunSearch(config_path, shards_dir, search_text, search_user, search_limit);
  if (*changes_cmd) {
    if (after_opt->count() > 0 && consumer_opt->count() > 0) {
      std::cerr << "graphmirror: changes takes --after or --consumer, not both\n";
      return kExitUsage;
    }
    if (after_opt->count() > 0 && changes_after < 0) {
      std::cerr << "graphmirror: --after must be 0 or more\n";
      return kExitUsage;
    }
    if (consumer_opt->count() > 0 && changes_consumer.empty()) {
      std::cerr << "graphmirror: --consumer needs a name\n";
      return kExitUsage;
    }
    return RunChanges(config_path, std::max<int64_t>(changes_after, 0), changes_consumer,
                      changes_follow);
  }
  if (*verify_cmd) return RunVerify(config_path, verify_mailbox, verify_resource, verify_repair);
  if (*keygen_cmd) return RunKeygen(cert_path, key_path, common_name, days, app_credential);
  return kExitUsage;
}

}  // namespace
}  // namespace graphmirror

int main(int argc, char** argv) {
  int code;
  try {
    code = graphmirror::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "graphmirror: internal error: " << e.what() << "\n";
    code = 1;
  }
  spdlog::shutdown();
  return code;
}
