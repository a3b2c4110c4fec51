// Row 12: notifications through the Kafka path (docs/scale-out.md) with 1, 2 and 3
// daemons.
//
// For each daemon count, from scratch: librdkafka's mock cluster in this process (3
// brokers; the hub topic Graph writes to and graphmirror.mailbox-changes with P
// partitions), the graphsim binary writing Graph's notification collections to the hub
// (`EventHub:` notification URLs, its --kafka-brokers delivery), and N `graphmirror run`
// daemons in partitioned mode sharing one shard directory, each mailbox subscribed and
// loaded first.
//
// Capacity: the daemons are paused (SIGSTOP) while a driver creates K messages over the
// mailboxes; once graphsim has written every notification to the hub, the daemons go on
// (SIGCONT) and the clock runs until every message is in its shard and every log row is
// ended. notifications/s = K / that time: what the routers, the keyed topic, the shards'
// logs and their sync rounds (reading the new messages from graphsim) take together. The
// consumer groups keep their members through the pause (a session timeout longer than
// it), so no rebalance is timed.
// Latency: then a steady stream of creates (100/s for 20 s); each create's time (this
// program's clock, when graphsim answered it) against the insert's changed_at in its
// shard's change feed (the daemon's clock, the same machine's): p50 and p99.
// Scaling ratio: notifications/s with 3 daemons over 1 daemon, measured in the same run.
// Every process shares the machine's cores: graphsim, the cluster and the daemons.
//
// Every run must mirror every message (each mailbox's count in its shard equal to
// graphsim's) and end every log row; otherwise the program fails (in smoke mode too).

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "tests/support/mock_kafka.h"

namespace graphmirror::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kHub = "graph-hub";
constexpr const char* kKeyedTopic = "graphmirror.mailbox-changes";
constexpr int kSeededMessages = 2;

struct Sizes {
  int users, partitions, backlog;
  int rate;  // creates per second in the latency phase
  seconds steady;
  std::vector<int> daemons;
};

// What the shards hold, read together.
struct ShardCounts {
  int64_t messages = 0, log_rows = 0, unended = 0;
  bool ok = false;
};
ShardCounts CountShards(const std::string& dir, int partitions) {
  ShardCounts c;
  try {
    for (int n = 0; n < partitions; ++n) {
      const std::string path = dir + "/mirror-p" + std::to_string(n) + ".db";
      if (!std::filesystem::exists(path)) continue;
      SQLite::Database db(path, SQLite::OPEN_READONLY);
      db.setBusyTimeout(5000);
      c.messages += db.execAndGet("SELECT count(*) FROM messages").getInt64();
      SQLite::Statement log(db,
                            "SELECT count(*), coalesce(sum(state IN ('received', 'failed')), 0) "
                            "FROM notification_log WHERE change_type IS NOT NULL");
      log.executeStep();
      c.log_rows += log.getColumn(0).getInt64();
      c.unended += log.getColumn(1).getInt64();
    }
    c.ok = true;
  } catch (const std::exception& e) {
    std::cerr << "scaleout: reading the shards: " << e.what() << "\n";
  }
  return c;
}

// The newest time the shards wrote: an insert into the change feed or a log row ended.
double LastWrite(const std::string& dir, int partitions) {
  double last = 0;
  for (int n = 0; n < partitions; ++n) {
    const std::string path = dir + "/mirror-p" + std::to_string(n) + ".db";
    if (!std::filesystem::exists(path)) continue;
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    last = std::max(last, ParseUtc(db.execAndGet("SELECT coalesce(max(changed_at), '') FROM "
                                                 "changes WHERE kind = 'insert'")
                                       .getString()));
    last = std::max(last, ParseUtc(db.execAndGet("SELECT coalesce(max(done_at), '') FROM "
                                                 "notification_log")
                                       .getString()));
  }
  return last;
}

// When each message was inserted into a shard (changed_at of its insert), by id.
std::map<std::string, double> InsertTimes(const std::string& dir, int partitions) {
  std::map<std::string, double> out;
  for (int n = 0; n < partitions; ++n) {
    const std::string path = dir + "/mirror-p" + std::to_string(n) + ".db";
    if (!std::filesystem::exists(path)) continue;
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    SQLite::Statement q(db,
                        "SELECT item_id, changed_at FROM changes WHERE resource = 'messages' "
                        "AND kind = 'insert'");
    while (q.executeStep()) out[q.getColumn(0).getString()] = ParseUtc(q.getColumn(1).getString());
  }
  return out;
}

uint64_t PendingDeliveries(const SimProcess& sim) {
  httplib::Client client(sim.base_url);
  auto res = client.Get("/_sim/deliveries");
  simdjson::dom::parser parser;
  uint64_t n = 0;
  if (!res || res->status != 200 ||
      parser.parse(res->body)["pending_items"].get(n) != simdjson::SUCCESS) {
    return ~0ULL;
  }
  return n;
}

// The Graph requests graphsim was sent, all mailboxes together; -1 if it did not say.
int64_t GraphRequests(const SimProcess& sim) {
  const auto stats = SimStats(sim);
  if (stats.empty()) return -1;
  int64_t total = 0;
  for (const auto& [user, s] : stats) total += s.requests;
  return total;
}

size_t Subscriptions(const SimProcess& sim) {
  httplib::Client client(sim.base_url);
  auto res = client.Get("/_sim/subscriptions");
  if (!res || res->status != 200) return 0;
  size_t n = 0;
  for (size_t at = res->body.find("\"clientState\""); at != std::string::npos;
       at = res->body.find("\"clientState\"", at + 1)) {
    ++n;
  }
  return n;
}

// Creates messages through Graph's API (POST /users/{id}/messages), as a mail client would.
class Driver {
 public:
  explicit Driver(const SimProcess& sim) : sim_(sim), token_(FetchToken(sim)) {
    if (token_.empty()) throw std::runtime_error("graphsim gave no token");
  }
  // `count` creates over the mailboxes in turn on `threads` connections, as fast as graphsim
  // answers; false if one failed.
  bool Burst(int count, int threads) {
    std::atomic<int> next{0};
    std::atomic<bool> ok{true};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        httplib::Client client(sim_.base_url);
        for (int i = next++; i < count && ok; i = next++) {
          if (Create(client, i).empty()) ok = false;
        }
      });
    }
    for (auto& t : pool) t.join();
    return ok;
  }
  // `rate` creates per second for `duration`, each timed when graphsim answered it: id ->
  // seconds since the epoch. Empty if one failed.
  std::map<std::string, double> Steady(int rate, seconds duration, int first) {
    std::map<std::string, double> made;
    httplib::Client client(sim_.base_url);
    const auto start = std::chrono::steady_clock::now();
    const int total = rate * static_cast<int>(duration.count());
    for (int i = 0; i < total; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / rate));
      std::string id = Create(client, first + i);
      if (id.empty()) return {};
      made[id] = EpochSeconds(std::chrono::system_clock::now());
    }
    return made;
  }

 private:
  // The new message's id; empty if graphsim refused.
  std::string Create(httplib::Client& client, int n) {
    const std::string& user = sim_.users[static_cast<size_t>(n) % sim_.users.size()];
    auto res = client.Post("/v1.0/users/" + user + "/messages",
                           httplib::Headers{{"Authorization", "Bearer " + token_}},
                           "{\"subject\":\"scale " + std::to_string(n) + "\"}",
                           "application/json");
    if (!res || res->status != 201) {
      std::lock_guard<std::mutex> lock(mu_);
      std::cerr << "scaleout: create refused: " << (res ? std::to_string(res->status) : "no answer")
                << "\n";
      return "";
    }
    simdjson::dom::parser parser;
    std::string_view id;
    if (parser.parse(res->body)["id"].get(id) != simdjson::SUCCESS) return "";
    return std::string(id);
  }

  const SimProcess& sim_;
  std::string token_;
  std::mutex mu_;
};

struct DaemonRun {
  int daemons = 0;
  bool ok = false;
  double drain_seconds = 0;
  double rate = 0;  // notifications/s
  int64_t notifications = 0;
  int64_t requests = 0;  // Graph requests the daemons made while draining the backlog
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  size_t steady = 0;
};

template <typename F>
bool WaitUntil(F&& done, seconds timeout, milliseconds step = milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

DaemonRun RunWith(const Options& options, const WorkDir& dir, const Sizes& sizes, int count) {
  DaemonRun run;
  run.daemons = count;
  const std::string name = "d" + std::to_string(count);
  test::MockKafka cluster(3);
  cluster.CreateTopic(kHub, 4);
  cluster.CreateTopic(kKeyedTopic, sizes.partitions);
  auto sim = StartGraphsim(options,
                           {"--users", std::to_string(sizes.users), "--messages",
                            std::to_string(kSeededMessages), "--events", "0", "--contacts", "0",
                            "--seed", std::to_string(options.seed), "--kafka-brokers",
                            cluster.brokers(), "--delivery-concurrency", "4"},
                           dir.Path(name + "-graphsim.log"));
  if (!sim) return run;
  struct Cleanup {
    std::vector<pid_t> pids;
    ~Cleanup() {
      for (pid_t pid : pids) {
        ::kill(pid, SIGCONT);
        Kill(pid);
      }
    }
  } cleanup;
  cleanup.pids.push_back(sim->pid);

  const std::string shards = dir.Path(name + "-shards");
  const std::string config_text =
      MirrorConfig(*sim, dir.Path(name + ".db"), "[\"messages\"]",
                   "[kafka]\nevent_hub_url = \"EventHub:https://graphmirror-bench.servicebus."
                   "windows.net/eventhubname/" +
                       std::string(kHub) + "?tenantId=contoso.com\"\nbrokers = \"" +
                       cluster.brokers() + "\"\ntopic = \"" + kHub +
                       "\"\ngroup = \"bench\"\nsecurity = \"plaintext\"\n"
                       // Longer than the pause: no member leaves its group meanwhile.
                       "session_timeout_seconds = 30\nmode = \"partitioned\"\npartitions = " +
                       std::to_string(sizes.partitions) + "\nshard_directory = \"" + shards +
                       "\"\n");
  std::vector<pid_t> daemons;
  for (int i = 0; i < count; ++i) {
    const std::string config = dir.Path(name + "-" + std::to_string(i) + ".toml");
    WriteFile(config, config_text);
    daemons.push_back(Spawn({GraphmirrorPath(options), "run", "--config", config},
                            dir.Path(name + "-" + std::to_string(i) + ".log")));
    cleanup.pids.push_back(daemons.back());
  }
  // Every mailbox subscribed and loaded into its shard.
  const int64_t seeded = static_cast<int64_t>(sizes.users) * kSeededMessages;
  if (!WaitUntil(
          [&] {
            return Subscriptions(*sim) >= static_cast<size_t>(sizes.users) &&
                   CountShards(shards, sizes.partitions).messages == seeded;
          },
          seconds(120), milliseconds(200))) {
    std::cerr << "scaleout: " << count << " daemon(s) did not load every mailbox in 120 s (logs in "
              << dir.Path(name + "-*.log") << ")\n";
    return run;
  }
  const ShardCounts loaded = CountShards(shards, sizes.partitions);
  Driver driver(*sim);

  // Capacity: the backlog written to the hub while the daemons are paused.
  for (pid_t pid : daemons) ::kill(pid, SIGSTOP);
  if (!driver.Burst(sizes.backlog, 4) ||
      !WaitUntil([&] { return PendingDeliveries(*sim) == 0; }, seconds(120))) {
    std::cerr << "scaleout: graphsim did not write the backlog to the hub\n";
    return run;
  }
  const int64_t requests_before = GraphRequests(*sim);
  const double resumed = EpochSeconds(std::chrono::system_clock::now());
  for (pid_t pid : daemons) ::kill(pid, SIGCONT);
  const int64_t want = seeded + sizes.backlog;
  ShardCounts now;
  const bool drained = WaitUntil(
      [&] {
        now = CountShards(shards, sizes.partitions);
        return now.messages == want && now.log_rows - loaded.log_rows >= sizes.backlog &&
               now.unended == 0;
      },
      seconds(300));
  if (!drained) {
    std::cerr << "scaleout: " << count << " daemon(s): " << now.messages << " of " << want
              << " messages, " << now.log_rows - loaded.log_rows << " of " << sizes.backlog
              << " notifications logged, " << now.unended << " not ended after 300 s\n";
    return run;
  }
  run.notifications = now.log_rows - loaded.log_rows;
  run.requests = GraphRequests(*sim) - requests_before;
  run.drain_seconds = LastWrite(shards, sizes.partitions) - resumed;
  run.rate = run.notifications / run.drain_seconds;

  // Latency at a steady rate.
  const std::map<std::string, double> made =
      driver.Steady(sizes.rate, sizes.steady, sizes.backlog);
  if (made.empty()) return run;
  std::map<std::string, double> inserted;
  std::vector<std::string> missing;
  WaitUntil(
      [&] {
        inserted = InsertTimes(shards, sizes.partitions);
        missing.clear();
        for (const auto& [id, at] : made) {
          if (!inserted.count(id)) missing.push_back(id);
        }
        return missing.empty();
      },
      seconds(60), milliseconds(200));
  if (!missing.empty()) {
    std::cerr << "scaleout: " << missing.size() << " of " << made.size()
              << " steady creates not in a shard 60 s later\n";
    return run;
  }
  std::vector<double> latency;
  for (const auto& [id, at] : made) latency.push_back(1000 * (inserted.at(id) - at));
  run.steady = made.size();
  run.max_ms = Percentile(latency, 100);
  run.p50_ms = Percentile(latency, 50);
  run.p99_ms = Percentile(latency, 99);

  // Every message in its shard, every log row ended, the daemons stop cleanly.
  const ShardCounts end = CountShards(shards, sizes.partitions);
  if (end.messages != want + static_cast<int64_t>(made.size()) || !end.ok) {
    std::cerr << "scaleout: the shards hold " << end.messages << " messages, graphsim "
              << want + static_cast<int64_t>(made.size()) << "\n";
    return run;
  }
  for (pid_t pid : daemons) {
    ::kill(pid, SIGTERM);
    if (WaitExit(pid) != 0) {
      std::cerr << "scaleout: a daemon did not stop cleanly\n";
      return run;
    }
    std::erase(cleanup.pids, pid);
  }
  std::error_code ignored;
  std::filesystem::remove_all(shards, ignored);
  run.ok = true;
  std::cerr << "scaleout: " << count << " daemon(s): " << Thousands(run.rate)
            << " notifications/s, p99 " << run.p99_ms << " ms\n";
  return run;
}

int ScaleOutRow(const Options& options, const WorkDir& dir) {
  const Sizes sizes = options.smoke ? Sizes{6, 3, 200, 20, seconds(2), {1, 2}}
                                    : Sizes{60, 6, 20000, 100, seconds(20), {1, 2, 3}};
  std::vector<DaemonRun> runs;
  for (int count : sizes.daemons) {
    std::cerr << "scaleout: " << count << " daemon(s), " << sizes.users << " mailboxes, "
              << sizes.partitions << " partitions\n";
    runs.push_back(RunWith(options, dir, sizes, count));
    if (!runs.back().ok) return 1;
  }
  const DaemonRun& one = runs.front();
  const DaemonRun& most = runs.back();
  std::string by_count;
  double worst_p99 = 0;
  for (const DaemonRun& r : runs) {
    worst_p99 = std::max(worst_p99, r.p99_ms);
    by_count += Format(
        "%s%d: %s notifications/s (%lld in %.2f s, %lld Graph requests), at %d/s p50 %.1f ms, "
        "p99 %.1f ms, max %.1f ms",
        by_count.empty() ? "" : "; ", r.daemons, Thousands(r.rate).c_str(),
        static_cast<long long>(r.notifications), r.drain_seconds,
        static_cast<long long>(r.requests), sizes.rate, r.p50_ms, r.p99_ms, r.max_ms);
  }
  Row row;
  row.number = 12;
  row.what = "notifications through Kafka (partitioned mode), " + std::to_string(sizes.users) +
             " mailboxes, " + std::to_string(sizes.partitions) + " partitions: " +
             std::to_string(most.daemons) + " daemons";
  row.value = most.rate;
  row.unit = "notifications/s";
  row.baseline = one.rate;
  row.baseline_what = "1 daemon";
  row.target =
      "measured (no threshold set): notifications/s with 1, 2 and 3 daemons and the scaling "
      "ratio; p99 notification -> visible; every notification applied";
  row.met = !options.smoke;  // every run mirrored every message and ended every log row
  row.detail = Format(
      "scaling ratio %.2f; by daemons: %s; capacity: a backlog of %s creates written to the hub "
      "while the daemons were paused, timed from their resuming to the last message in its "
      "shard and the last log row ended; every message mirrored, every notification logged "
      "and applied in every run; all processes (graphsim, the mock cluster, the daemons) on "
      "the same %u cores; latency: librdkafka's mock broker answers a fetch that finds no "
      "data only after fetch.wait.max.ms (500 ms, the default the daemons keep) even when a "
      "record arrives meanwhile (rdkafka_mock_handlers.c), and a notification takes two "
      "such hops (the hub, then the keyed topic): up to 1 s of the worst p99 here (%.1f ms) "
      "is the mock's, where Kafka and Event Hubs answer a waiting fetch as soon as data comes",
      most.rate / one.rate, by_count.c_str(), Thousands(sizes.backlog).c_str(),
      std::thread::hardware_concurrency(), worst_p99);
  row.reproduce = "bench/run --only 12";
  PrintRow(row);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "scaleout",
                   "Notifications through Kafka with 1, 2 and 3 daemons (row 12)",
                   [](const Options& options) {
                     if (options.bin_dir.empty()) {
                       std::cerr << "scaleout: --bin-dir (the build directory) is needed\n";
                       return 2;
                     }
                     if (!Wanted(options, 12)) return 0;
                     WorkDir dir(options, "scaleout");
                     return ScaleOutRow(options, dir);
                   });
}
