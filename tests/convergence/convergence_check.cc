// convergence_check: proves that the mirror converges to Graph whatever Graph and the
// process do in between. Each schedule runs the real engine (LiveSync, Store, GraphClient)
// against an in-process graphsim over loopback HTTP, with a real SQLite file and one
// ManualClock, through a seeded random mix of mailbox changes (create, update, delete,
// moves with immutable ids, A -> B -> A moves) and faults (duplicated, reordered, delayed
// and dropped deliveries, 429 and 503 bursts, connection resets, lifecycle events, removed
// subscriptions, token and delta-token expiry, restarts, downtime, clock jumps past
// subscription expiry). Once the faults stop and the engine is quiet (nothing left to
// deliver, nothing pending in its log), every row of the mirror must equal the simulator's
// item (same ids per mailbox and collection, same content), and a change made afterwards
// must still reach the mirror. A mirror that differs fails the schedule; the tool then
// also says whether the engine's periodic safety-net delta pass repairs it later
// ("stale until safety-net pass") or not ("diverged").
//
//   convergence_check [--schedules N] [--seed S] [--steps K] [--faults a,b|all|none]
//                     [--jobs J] [--keep DIR] [--require-all-faults] [--listing-lag S]
//                     [--verbose]
//
// Schedule i uses seed S + i. A failing schedule prints its seed, the first mismatches with
// each item's history (what the schedule did to it, what graphsim delivered about it, what
// the engine logged), and the command that replays it alone; the exit status is then 1.
// The fault table counts faults that happened (see Tally::faults), beside those injected;
// the enabled kinds that never happened are named, and in the long mode (--schedules of
// kLongModeSchedules or more, or --require-all-faults) they fail the run (exit status 1):
// a run that never met a fault proves nothing about it.
// --verbose prints every step of every schedule; --keep copies failing mirrors for sqlite3.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/convergence/schedule.h"

namespace graphmirror::convergence {
namespace {

constexpr int kDefaultSteps = 40;
// From this many schedules on, every enabled fault kind must have happened.
constexpr int kLongModeSchedules = 1000;

struct Flags {
  int schedules = 200;
  uint64_t seed = 1;
  Settings settings;
  std::string faults_text = "all";
  // Schedules run at once. They are independent; a few per core overlap one schedule's
  // waits (loopback round trips, durable SQLite commits) with another's work. 0: 4 per
  // core, at most 8.
  int jobs = 0;
  bool require_all_faults = false;  // also implied by --schedules >= kLongModeSchedules
};

int Usage(const std::string& error) {
  if (!error.empty()) std::cerr << "convergence_check: " << error << "\n";
  std::cerr
      << "usage: convergence_check [--schedules N] [--seed S] [--steps K] "
         "[--faults KIND,...|all|none] [--jobs J] [--keep DIR] [--require-all-faults] "
         "[--listing-lag SECONDS] [--no-scoped] [--verbose]\n"
         "  --no-scoped  every mailbox whole (by default the first one is scoped to two "
         "folders or to unread messages in half of the schedules)\n"
         "  --listing-lag SECONDS  graphsim shows changes to lists and delta rounds this "
         "long after they happen, in every schedule (default: chosen per schedule, fault kind "
         "listing_lag)\n"
         "  --keep DIR  copy the mirror database of each failing schedule into DIR\n"
         "  --require-all-faults  fail if an enabled fault kind never happened (the "
         "default from "
      << kLongModeSchedules
      << " schedules on)\n"
         "fault kinds:";
  for (const std::string& k : FaultKinds()) std::cerr << " " << k;
  std::cerr << "\n";
  return 2;
}

bool ParseInt(const std::string& text, int64_t min, int64_t* out) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size() || v < min) return false;
    *out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Returns "" or the error.
std::string ParseFaults(const std::string& text, std::set<std::string>* out) {
  out->clear();
  if (text == "all") {
    out->insert(FaultKinds().begin(), FaultKinds().end());
    return "";
  }
  if (text == "none") return "";
  std::stringstream in(text);
  std::string kind;
  while (std::getline(in, kind, ',')) {
    if (kind.empty()) continue;
    if (std::find(FaultKinds().begin(), FaultKinds().end(), kind) == FaultKinds().end()) {
      return "unknown fault kind '" + kind + "'";
    }
    out->insert(kind);
  }
  return "";
}

std::string ReplayCommand(const Flags& flags, uint64_t seed) {
  std::string cmd = "convergence_check --schedules 1 --seed " + std::to_string(seed);
  if (flags.settings.steps != kDefaultSteps)
    cmd += " --steps " + std::to_string(flags.settings.steps);
  if (flags.faults_text != "all") cmd += " --faults " + flags.faults_text;
  if (flags.settings.listing_lag >= 0)
    cmd += " --listing-lag " + std::to_string(flags.settings.listing_lag);
  if (!flags.settings.scoped) cmd += " --no-scoped";
  return cmd;
}

// With `injected`, a column of how many were injected (occurrences: how many happened).
void PrintTable(const std::string& title, const std::map<std::string, int64_t>& counts,
                const std::map<std::string, int64_t>& schedules,
                const std::map<std::string, int64_t>& failing,
                const std::map<std::string, int64_t>* injected = nullptr) {
  std::printf("%-28s %12s %10s %9s%s\n", title.c_str(), "occurrences", "schedules", "failing",
              injected ? "  injected" : "");
  for (const auto& [kind, n] : counts) {
    auto get = [&](const std::map<std::string, int64_t>& m) {
      auto it = m.find(kind);
      return it == m.end() ? int64_t{0} : it->second;
    };
    std::printf("  %-26s %12lld %10lld %9lld", kind.c_str(), static_cast<long long>(n),
                static_cast<long long>(get(schedules)), static_cast<long long>(get(failing)));
    if (injected) std::printf(" %9lld", static_cast<long long>(get(*injected)));
    std::printf("\n");
  }
}

int Main(int argc, char** argv) {
  Flags flags;
  flags.settings.steps = kDefaultSteps;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    int64_t n = 0;
    if (arg == "--verbose" || arg == "-v") {
      flags.settings.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage("");
      return 0;
    } else if (arg == "--schedules") {
      if (!value(&v) || !ParseInt(v, 1, &n)) return Usage("--schedules needs a number >= 1");
      flags.schedules = static_cast<int>(n);
    } else if (arg == "--seed") {
      if (!value(&v) || !ParseInt(v, 0, &n)) return Usage("--seed needs a number >= 0");
      flags.seed = static_cast<uint64_t>(n);
    } else if (arg == "--steps") {
      if (!value(&v) || !ParseInt(v, 0, &n)) return Usage("--steps needs a number >= 0");
      flags.settings.steps = static_cast<int>(n);
    } else if (arg == "--jobs") {
      if (!value(&v) || !ParseInt(v, 1, &n)) return Usage("--jobs needs a number >= 1");
      flags.jobs = static_cast<int>(n);
    } else if (arg == "--no-scoped") {
      flags.settings.scoped = false;
    } else if (arg == "--require-all-faults") {
      flags.require_all_faults = true;
    } else if (arg == "--listing-lag") {
      if (!value(&v) || !ParseInt(v, 0, &n) || n > 24 * 3600) {
        return Usage("--listing-lag needs seconds (0 to 86400)");
      }
      flags.settings.listing_lag = static_cast<int>(n);
    } else if (arg == "--keep") {
      if (!value(&flags.settings.keep_dir)) return Usage("--keep needs a directory");
    } else if (arg == "--faults") {
      if (!value(&v)) return Usage("--faults needs a list");
      flags.faults_text = v;
    } else {
      return Usage("unknown argument " + arg);
    }
  }
  if (std::string e = ParseFaults(flags.faults_text, &flags.settings.faults); !e.empty()) {
    return Usage(e);
  }
  if (flags.jobs == 0) {
    flags.jobs = static_cast<int>(std::clamp(4 * std::thread::hardware_concurrency(), 1u, 8u));
  }
  // The engine's warnings (retries, throttling) are expected here; --verbose shows them.
  spdlog::set_level(flags.settings.verbose ? spdlog::level::warn : spdlog::level::off);

  const auto started = std::chrono::steady_clock::now();
  std::vector<ScheduleResult> results(static_cast<size_t>(flags.schedules));
  std::atomic<int> next{0};
  std::mutex print_mu;
  auto work = [&] {
    for (int i = next++; i < flags.schedules; i = next++) {
      const uint64_t seed = flags.seed + static_cast<uint64_t>(i);
      ScheduleResult r = RunSchedule(seed, flags.settings);
      if (flags.settings.verbose) {
        std::lock_guard<std::mutex> lock(print_mu);
        std::printf("schedule seed %llu: %s\n%s", static_cast<unsigned long long>(seed),
                    r.ok ? "converged" : "FAILED", r.log.c_str());
        std::fflush(stdout);
      }
      results[static_cast<size_t>(i)] = std::move(r);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < flags.jobs; ++j) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  Tally total;
  std::map<std::string, int64_t> schedules_with, failing_with;
  std::vector<const ScheduleResult*> failed;
  for (const ScheduleResult& r : results) {
    total.Add(r.tally);
    if (!r.ok) failed.push_back(&r);
    for (const auto* m : {&r.tally.ops, &r.tally.faults, &r.tally.engine}) {
      for (const auto& [kind, count] : *m) {
        if (count <= 0) continue;
        ++schedules_with[kind];
        if (!r.ok) ++failing_with[kind];
      }
    }
  }

  for (const ScheduleResult* r : failed) {
    std::string faults;
    for (const auto& [kind, count] : r->tally.faults) {
      faults += (faults.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
    }
    std::printf("FAIL seed %llu: %s (faults: %s)\n  %s  replay: %s\n",
                static_cast<unsigned long long>(r->seed), r->verdict.c_str(),
                faults.empty() ? "none" : faults.c_str(), r->failure.c_str(),
                ReplayCommand(flags, r->seed).c_str());
  }

  std::printf("\nconvergence_check: %d schedules (seeds %llu..%llu), %d steps each, faults %s\n",
              flags.schedules, static_cast<unsigned long long>(flags.seed),
              static_cast<unsigned long long>(flags.seed + flags.schedules - 1),
              flags.settings.steps, flags.faults_text.c_str());
  PrintTable("operations", total.ops, schedules_with, failing_with);
  std::map<std::string, int64_t> faults = total.faults;
  for (const std::string& kind : flags.settings.faults) faults.emplace(kind, 0);  // show zeros
  PrintTable("faults (happened)", faults, schedules_with, failing_with, &total.injected);
  PrintTable("engine steps", total.engine, schedules_with, failing_with);
  std::vector<std::string> never;
  for (const std::string& kind : flags.settings.faults) {
    if (faults[kind] == 0) never.push_back(kind);
  }
  const bool require_all = flags.require_all_faults || flags.schedules >= kLongModeSchedules;
  if (!never.empty()) {
    std::printf("fault kinds that never occurred%s:",
                require_all ? " (FAIL: every enabled kind must happen in the long mode)" : "");
    for (const std::string& k : never) std::printf(" %s", k.c_str());
    std::printf("\n");
  }
  std::map<std::string, int> verdicts;
  for (const ScheduleResult& r : results) ++verdicts[r.verdict];
  std::printf("verdicts:");
  for (const auto& [verdict, n] : verdicts) std::printf(" %s %d;", verdict.c_str(), n);
  std::printf("\n%zu of %d schedules failed; %.1f s (%d jobs)\n", failed.size(), flags.schedules,
              elapsed, flags.jobs);
  if (!failed.empty()) {
    std::printf("failing seeds:");
    for (const ScheduleResult* r : failed) {
      std::printf(" %llu", static_cast<unsigned long long>(r->seed));
    }
    std::printf("\n");
  }
  std::fflush(stdout);
  spdlog::shutdown();
  return failed.empty() && (never.empty() || !require_all) ? 0 : 1;
}

}  // namespace
}  // namespace graphmirror::convergence

int main(int argc, char** argv) { return graphmirror::convergence::Main(argc, argv); }
