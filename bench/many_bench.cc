// Row 11: the first sync of many mailboxes, and how it scales with sync.parallelism.
//
// The graphsim binary serves 200 mailboxes of 2,000 messages over loopback, with its
// per-mailbox limit of 4 requests in flight (its default: one more is answered 429 with
// Retry-After). For sync.parallelism 1, 2, 4 and 8, `graphmirror sync --once` (the real
// command, default settings otherwise) mirrors them into a fresh database; measured are
// items/s, Graph requests/s (graphsim's own count of the requests it was sent) and each
// mailbox's finish time: the last commit of its messages (the newest `updated_at` of its
// watermark and delta links, the engine's clock) after the command was started. No mailbox
// starves when the slowest finishes within 2x the median. Each mailbox's span (its first
// request served, from graphsim's log, to its last commit) shows whether a late finish is
// waiting in the queue or a slow sync.
// Every run must exit 0 and leave each mailbox with as many messages in the mirror as
// graphsim holds for it; otherwise the program fails (in smoke mode too).
// The baseline replays the requests graphsim served in the default-parallelism run (4)
// with 4 connections taking the mailboxes in turn, each page read and thrown away, as
// row 4's baseline does.

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace graphmirror::bench {
namespace {

constexpr int kDefaultParallelism = 4;  // sync.parallelism's default

struct ParallelismRun {
  int parallelism = 0;
  bool ok = false;
  double seconds = 0;
  int64_t requests = 0;   // Graph requests graphsim was sent during the run
  int64_t throttled = 0;  // of which answered 429
  double finish_median = 0, finish_max = 0;
  double span_median = 0, span_max = 0;
  std::string slowest;                    // the mailbox that finished last
  std::map<std::string, Served> served;  // what graphsim served in this run
};

// One `graphmirror sync --once` of every mailbox of `sim` at `parallelism`, checked against
// graphsim's counts.
ParallelismRun RunAt(const Options& options, const WorkDir& dir, const SimProcess& sim,
                     const std::string& sim_log, int parallelism) {
  ParallelismRun run;
  run.parallelism = parallelism;
  const std::string name = "p" + std::to_string(parallelism);
  const std::string db = dir.Path(name + ".db");
  const std::string config = dir.Path(name + ".toml");
  const std::string log = dir.Path(name + ".log");
  WriteFile(config, MirrorConfig(sim, db, "[\"messages\"]",
                                 "[sync]\nparallelism = " + std::to_string(parallelism) + "\n"));
  const auto before = SimStats(sim);
  const size_t log_offset = ReadFile(sim_log).size();
  const double started = EpochSeconds(std::chrono::system_clock::now());
  Stopwatch clock;
  pid_t pid = Spawn({GraphmirrorPath(options), "sync", "--config", config, "--once"}, log);
  const int rc = WaitExit(pid);
  run.seconds = clock.Seconds();
  if (rc != 0) {
    std::cerr << "many: graphmirror sync at parallelism " << parallelism << " exited " << rc
              << ":\n"
              << ReadFile(log);
    return run;
  }
  const auto after = SimStats(sim);
  if (before.empty() || after.size() != sim.users.size()) {
    std::cerr << "many: no stats from graphsim\n";
    return run;
  }
  for (const auto& [user, s] : after) {
    const MailboxStats& b = before.at(user);
    run.requests += s.requests - b.requests;
    run.throttled += s.throttled - b.throttled;
  }
  run.served = ServedRequests(sim_log, log_offset);

  // Each mailbox's count in the mirror against graphsim's, and its last commit.
  std::map<std::string, int64_t> mirrored;
  std::map<std::string, double> finished;
  {
    SQLite::Database mirror(db, SQLite::OPEN_READONLY);
    SQLite::Statement counts(mirror, "SELECT user_id, count(*) FROM messages GROUP BY user_id");
    while (counts.executeStep()) {
      mirrored[counts.getColumn(0).getString()] = counts.getColumn(1).getInt64();
    }
    SQLite::Statement last(mirror,
                           "SELECT user_id, max(updated_at) FROM ("
                           "SELECT user_id, updated_at FROM watermarks WHERE collection = "
                           "'messages' UNION ALL SELECT user_id, updated_at FROM delta_links "
                           "WHERE collection = 'messages') GROUP BY user_id");
    while (last.executeStep()) {
      finished[last.getColumn(0).getString()] = ParseUtc(last.getColumn(1).getString());
    }
  }
  int wrong = 0;
  std::vector<double> finish, span;
  for (const std::string& user : sim.users) {
    const int64_t want = after.at(user).messages;
    const int64_t have = mirrored.count(user) ? mirrored.at(user) : 0;
    if (have != want) {
      if (++wrong <= 5) {
        std::cerr << "many: parallelism " << parallelism << ": mailbox " << user << " has "
                  << have << " messages in the mirror, graphsim holds " << want << "\n";
      }
      continue;
    }
    auto f = finished.find(user);
    auto s = run.served.find(user);
    if (f == finished.end() || f->second <= 0 || s == run.served.end()) {
      ++wrong;
      std::cerr << "many: parallelism " << parallelism << ": mailbox " << user
                << " has no sync state or no request in graphsim's log\n";
      continue;
    }
    finish.push_back(f->second - started);
    span.push_back(f->second - s->second.at.front());
    if (finish.back() >= run.finish_max) {
      run.finish_max = finish.back();
      run.slowest = user;
    }
  }
  if (wrong > 0) {
    std::cerr << "many: parallelism " << parallelism << ": " << wrong << " of "
              << sim.users.size() << " mailboxes not mirrored whole\n";
    return run;
  }
  run.finish_median = Percentile(finish, 50);
  run.span_median = Percentile(span, 50);
  run.span_max = Percentile(span, 100);
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix, ignored);
  run.ok = true;
  return run;
}

int ManyRows(const Options& options, const WorkDir& dir) {
  const int users = options.smoke ? 6 : 200;
  const int messages = options.smoke ? 100 : 2000;
  const int64_t items = static_cast<int64_t>(users) * messages;
  const std::vector<int> parallelisms =
      options.smoke ? std::vector<int>{1, 4} : std::vector<int>{1, 2, 4, 8};
  std::cerr << "many: seeding graphsim with " << users << " x " << messages << " messages\n";
  const std::string sim_log = dir.Path("graphsim.log");
  // --max-concurrent 4 is graphsim's default; named here because the row depends on it.
  auto sim = StartGraphsim(options,
                           {"--users", std::to_string(users), "--messages",
                            std::to_string(messages), "--events", "0", "--contacts", "0",
                            "--max-concurrent", "4", "--seed", std::to_string(options.seed), "-v"},
                           sim_log);
  if (!sim) return 1;
  std::vector<ParallelismRun> runs;
  for (int p : parallelisms) {
    std::cerr << "many: sync --once at parallelism " << p << "\n";
    runs.push_back(RunAt(options, dir, *sim, sim_log, p));
    if (!runs.back().ok) {
      Kill(sim->pid);
      return 1;
    }
  }
  const ParallelismRun* standard = nullptr;
  for (const auto& r : runs) {
    if (r.parallelism == kDefaultParallelism) standard = &r;
  }
  ReplayResult replay = Replay(*sim, standard->served, kDefaultParallelism);
  int64_t max_concurrent = 0;
  for (const auto& [user, s] : SimStats(*sim)) {
    max_concurrent = std::max(max_concurrent, s.max_concurrent_observed);
  }
  Kill(sim->pid);
  if (!replay.ok) return 1;

  bool starves = false, slower = false;
  std::string scaling;
  const double one = items / runs.front().seconds;
  for (const auto& r : runs) {
    const double rate = items / r.seconds;
    starves |= r.finish_max > 2 * r.finish_median;
    if (r.parallelism > 1) slower |= rate < 0.9 * one;
    scaling += Format(
        "%s%d: %s items/s, %.0f requests/s, %.1f s; finish median %.1f s, slowest %.1f s "
        "(%.2fx); span median %.2f s, longest %.2f s",
        scaling.empty() ? "" : "; ", r.parallelism, Thousands(rate).c_str(),
        r.requests / r.seconds, r.seconds, r.finish_median, r.finish_max,
        r.finish_max / r.finish_median, r.span_median, r.span_max);
  }
  const double rate = items / standard->seconds;
  const double base_rate = items / replay.seconds;
  Row row;
  row.number = 11;
  row.what = "first sync of many mailboxes, " + std::to_string(users) + " users x " +
             Thousands(messages) + " messages, 4 in flight per mailbox (sync.parallelism 4)";
  row.value = rate;
  row.unit = "items/s";
  row.baseline = base_rate;
  row.baseline_what = "the same requests to graphsim, 4 connections, pages discarded";
  row.target =
      "no mailbox starves: slowest finishes <= 2x the median at parallelism 1, 2, 4, 8; more "
      "parallelism never below 0.9x of parallelism 1";
  row.met = !options.smoke && !starves && !slower;
  row.detail = Format(
      "ratio %.2f; by sync.parallelism: %s; every mailbox's count in the mirror equal to "
      "graphsim's; %lld requests at parallelism 4 (%.1f per mailbox), %lld answered 429 in "
      "all runs, at most %lld in flight on a mailbox; replay %.1f s, %.0f MiB of pages; "
      "finish: a mailbox's last commit after the command started; span: its first request "
      "served to its last commit",
      rate / base_rate, scaling.c_str(), static_cast<long long>(standard->requests),
      static_cast<double>(standard->requests) / users,
      static_cast<long long>([&] {
        int64_t n = 0;
        for (const auto& r : runs) n += r.throttled;
        return n;
      }()),
      static_cast<long long>(max_concurrent), replay.seconds, replay.bytes / kMiB);
  row.reproduce = "bench/run --only 11";
  PrintRow(row);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "many",
                   "First sync of many mailboxes, by sync.parallelism (row 11)",
                   [](const Options& options) {
                     if (options.bin_dir.empty()) {
                       std::cerr << "many: --bin-dir (the build directory) is needed\n";
                       return 2;
                     }
                     if (!Wanted(options, 11)) return 0;
                     WorkDir dir(options, "many");
                     return ManyRows(options, dir);
                   });
}
