// Rows 4 and 6: the first sync end to end, and what it costs in memory.
//
// Row 4: the graphsim binary serves 3 mailboxes of 100,000 messages over loopback and
// `graphmirror sync --once` (the real command, its default settings) mirrors them into a
// fresh database. graphsim logs every request it serves; the baseline replays exactly
// those requests (same URLs, same Prefer header, one connection per mailbox, mailboxes in
// parallel as the engine's parallelism allows) with a client that reads each page and
// discards it. The ratio is the engine's rate over the baseline's: what parsing, storing
// and committing costs beyond fetching.
// Row 6: the command's resident set, sampled every 50 ms, during row 4 and during a sync
// of one 1,000,000-message mailbox; flat means the second half of the big run holds no
// more than the first half (plus a little).

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>

#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace graphmirror::bench {
namespace {

struct SyncRun {
  bool ok = false;
  double seconds = 0;
  uint64_t peak_rss = 0;
  uint64_t first_half_peak = 0;
  uint64_t second_half_peak = 0;
};

// Runs `graphmirror sync --once` against `sim` and samples its memory. `extra`: more of
// the config file (a [sync] table).
SyncRun RunSync(const Options& options, const WorkDir& dir, const SimProcess& sim,
                const std::string& name, const std::string& extra = "") {
  SyncRun run;
  std::string config = dir.Path(name + ".toml");
  WriteFile(config, MirrorConfig(sim, dir.Path(name + ".db"), "[\"messages\"]", extra));
  Stopwatch clock;
  pid_t pid = Spawn({GraphmirrorPath(options), "sync", "--config", config, "--once"},
                    dir.Path(name + ".log"));
  RssSampler sampler(pid, std::chrono::milliseconds(50));
  int rc = WaitExit(pid);
  run.seconds = clock.Seconds();
  auto samples = sampler.Samples();
  if (rc != 0) {
    std::cerr << "first_sync: graphmirror sync exited " << rc << ":\n"
              << ReadFile(dir.Path(name + ".log"));
    return run;
  }
  for (const auto& [t, rss] : samples) {
    run.peak_rss = std::max(run.peak_rss, rss);
    uint64_t& half = t < run.seconds / 2 ? run.first_half_peak : run.second_half_peak;
    half = std::max(half, rss);
  }
  run.ok = true;
  return run;
}

std::string FetchToken(const SimProcess& sim) {
  httplib::Client client(sim.base_url);
  auto res = client.Post("/common/oauth2/v2.0/token",
                         "grant_type=client_credentials&client_id=graphsim&client_secret="
                         "graphsim-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
                         "application/x-www-form-urlencoded");
  if (!res || res->status != 200) return "";
  std::smatch m;
  if (!std::regex_search(res->body, m, std::regex(R"re("access_token"\s*:\s*"([^"]+)")re"))) {
    return "";
  }
  return m[1];
}

// The Graph GETs graphsim served (its -v log from byte `from` on), per mailbox, in the
// order served; `bytes`, if given, gets the bytes of their answers.
std::map<std::string, std::vector<std::string>> ServedRequests(const std::string& log,
                                                               size_t from = 0,
                                                               uint64_t* bytes = nullptr) {
  std::map<std::string, std::vector<std::string>> by_user;
  std::stringstream in(ReadFile(log).substr(from));
  std::string line;
  const std::regex served(R"(graphsim: GET (/v1\.0/users/([^/?]+)\S*) -> 200 \((\d+) bytes\))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, m, served)) continue;
    by_user[m[2]].push_back(m[1]);
    if (bytes != nullptr) *bytes += std::stoull(m[3]);
  }
  return by_user;
}

// Bytes of item JSON a mirror holds: each message's json and its body.
uint64_t StoredBytes(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  return static_cast<uint64_t>(
      db.execAndGet("SELECT (SELECT coalesce(sum(length(CAST(json AS BLOB))), 0) FROM messages) + "
                    "(SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM message_bodies)")
          .getInt64());
}

// What a first sync cost in Graph requests and bytes, per the items it stored.
struct ReadCost {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  uint64_t stored = 0;
  double RequestsPerThousand(int items) const { return requests * 1000.0 / items; }
  double BytesPerStored() const { return stored == 0 ? 0 : static_cast<double>(bytes) / stored; }
};

ReadCost CostOf(const std::map<std::string, std::vector<std::string>>& requests, uint64_t bytes,
                const std::string& db_path) {
  ReadCost cost;
  for (const auto& [user, targets] : requests) cost.requests += targets.size();
  cost.bytes = bytes;
  cost.stored = StoredBytes(db_path);
  return cost;
}

struct ReplayResult {
  bool ok = false;
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t bytes = 0;
};

// The baseline: the same requests, each page read whole and thrown away.
ReplayResult Replay(const SimProcess& sim,
                    const std::map<std::string, std::vector<std::string>>& requests) {
  ReplayResult result;
  const std::string token = FetchToken(sim);
  if (token.empty()) {
    std::cerr << "first_sync: no token from graphsim\n";
    return result;
  }
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> bytes{0}, count{0};
  Stopwatch clock;
  std::vector<std::thread> threads;
  for (const auto& [user, targets] : requests) {
    threads.emplace_back([&, targets = &targets] {
      httplib::Client client(sim.base_url);
      client.set_keep_alive(true);
      client.set_read_timeout(60, 0);
      httplib::Headers headers{{"Authorization", "Bearer " + token},
                               {"Prefer", "IdType=\"ImmutableId\", odata.maxpagesize=500"},
                               {"Accept", "application/json"}};
      for (const std::string& target : *targets) {
        auto res = client.Get(target, headers);
        if (!res || res->status != 200) {
          std::cerr << "first_sync: replay of " << target.substr(0, 120) << " answered "
                    << (res ? res->status : 0) << "\n";
          failed = true;
          return;
        }
        bytes += res->body.size();
        ++count;
      }
    });
  }
  for (auto& t : threads) t.join();
  result.seconds = clock.Seconds();
  result.requests = count;
  result.bytes = bytes;
  result.ok = !failed;
  return result;
}

int FirstSyncRows(const Options& options, const WorkDir& dir) {
  const int users = 3;
  const int messages = options.smoke ? 2000 : 100000;
  const int items = users * messages;
  std::cerr << "first_sync: seeding graphsim with " << users << " x " << messages << " messages\n";
  auto sim = StartGraphsim(
      options,
      {"--users", std::to_string(users), "--messages", std::to_string(messages), "--events", "0",
       "--contacts", "0", "--seed", std::to_string(options.seed), "-v"},
      dir.Path("graphsim.log"));
  if (!sim) return 1;
  SyncRun sync = RunSync(options, dir, *sim, "first");
  uint64_t served_bytes = 0;
  auto requests = ServedRequests(dir.Path("graphsim.log"), 0, &served_bytes);
  if (!sync.ok) return 1;
  const ReadCost cost = CostOf(requests, served_bytes, dir.Path("first.db"));
  // With HTML bodies (or none) delta rounds are the whole first load: each item read once,
  // in pages as large as Graph serves ($top 1000).
  const size_t log_before = ReadFile(dir.Path("graphsim.log")).size();
  SyncRun html =
      RunSync(options, dir, *sim, "html", "[sync]\nbodies = \"html\"\npage_size = 1000\n");
  uint64_t html_bytes = 0;
  auto html_requests = ServedRequests(dir.Path("graphsim.log"), log_before, &html_bytes);
  if (!html.ok) return 1;
  const ReadCost html_cost = CostOf(html_requests, html_bytes, dir.Path("html.db"));
  ReplayResult replay = Replay(*sim, requests);
  Kill(sim->pid);
  if (!replay.ok) return 1;

  const double rate = items / sync.seconds;
  const double base_rate = items / replay.seconds;
  Row r;
  r.number = 4;
  r.what = "end-to-end first sync, 3 users x " + Thousands(messages) + " messages";
  r.value = rate;
  r.unit = "items/s";
  r.baseline = base_rate;
  r.baseline_what = "the same requests to graphsim, pages discarded";
  r.target =
      ">= 0.7 of baseline; each message read once: <= 1.1 requests per 1,000 messages, <= 1.1 "
      "bytes read per byte stored";
  r.met = !options.smoke && rate >= 0.7 * base_rate && cost.RequestsPerThousand(items) <= 1.1 &&
          cost.BytesPerStored() <= 1.1;
  r.detail = Format(
      "ratio %.2f; sync %.1f s, replay %.1f s; %llu requests, %.0f MiB of pages; peak "
      "RSS %.1f MiB; read cost (bodies as text, the default): %.2f requests per 1,000 "
      "messages, %.2f bytes read per byte stored; with sync.bodies = \"html\" and page_size = "
      "1000 (delta rounds alone): %.1f s (%.0f items/s), %.2f requests per 1,000 messages, %.2f "
      "bytes read per "
      "byte stored (targets: <= 1.1 and <= 1.1)",
      rate / base_rate, sync.seconds, replay.seconds,
      static_cast<unsigned long long>(replay.requests), replay.bytes / kMiB, sync.peak_rss / kMiB,
      cost.RequestsPerThousand(items), cost.BytesPerStored(), html.seconds, items / html.seconds,
      html_cost.RequestsPerThousand(items), html_cost.BytesPerStored());
  r.reproduce = "bench/run --only 4";
  if (Wanted(options, 4)) PrintRow(r);  // row 6 needs the run either way

  if (!Wanted(options, 6)) return 0;
  const int big = options.smoke ? 10000 : 1000000;
  std::cerr << "first_sync: seeding graphsim with 1 x " << big << " messages\n";
  auto big_sim = StartGraphsim(options,
                               {"--users", "1", "--messages", std::to_string(big), "--events", "0",
                                "--contacts", "0", "--seed", std::to_string(options.seed)},
                               dir.Path("graphsim-big.log"));
  if (!big_sim) return 1;
  SyncRun big_sync = RunSync(options, dir, *big_sim, "big");
  Kill(big_sim->pid);
  if (!big_sync.ok) return 1;

  const double peak = std::max(sync.peak_rss, big_sync.peak_rss) / kMiB;
  const bool flat = big_sync.second_half_peak <= big_sync.first_half_peak * 1.1 + 2 * kMiB;
  Row m;
  m.number = 6;
  m.what = "memory: daemon RSS (row 4, and 1 x " + Thousands(big) + " messages)";
  m.value = peak;
  m.unit = "MiB";
  m.target = "<= 64 MiB, flat as the mailbox grows";
  m.met = !options.smoke && peak <= 64 && flat;
  m.detail = Format(
      "row 4 peak %.1f MiB; big mailbox: peak %.1f MiB, first half %.1f MiB, second "
      "half %.1f MiB (%s); %.1f s, %.0f items/s",
      sync.peak_rss / kMiB, big_sync.peak_rss / kMiB, big_sync.first_half_peak / kMiB,
      big_sync.second_half_peak / kMiB, flat ? "flat" : "growing", big_sync.seconds,
      big / big_sync.seconds);
  m.reproduce = "bench/run --only 6";
  PrintRow(m);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "first_sync", "First sync end to end and its memory (rows 4, 6)",
                   [](const Options& options) {
                     if (options.bin_dir.empty()) {
                       std::cerr << "first_sync: --bin-dir (the build directory) is needed\n";
                       return 2;
                     }
                     if (!Wanted(options, 4) && !Wanted(options, 6)) return 0;
                     WorkDir dir(options, "first-sync");
                     return FirstSyncRows(options, dir);
                   });
}
