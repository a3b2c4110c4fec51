// What every benchmark program shares: its command line, the rows it reports, timing,
// percentiles, child processes and their memory, graphsim and the requests it served.
//
// A benchmark prints one JSON object per measured row on stdout (bench/report.py turns
// them into the table of BENCHMARKS.md) and its progress on stderr. In smoke mode
// (--smoke, what the test suite runs) sizes are tiny and targets are not judged: it
// proves the program still works, not how fast it is.
//
// Thread-safety: free functions and value types; Stopwatch and RssSampler are for one thread
// each (RssSampler samples on its own thread).

#ifndef GRAPHMIRROR_BENCH_BENCH_UTIL_H_
#define GRAPHMIRROR_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace graphmirror::bench {

struct Options {
  bool smoke = false;
  uint64_t seed = 1;
  std::string work_dir;  // scratch space; a fresh temp dir if empty
  std::string bin_dir;   // the build directory (graphsim and graphmirror binaries)
  std::string only;      // run only the rows whose number is listed ("1,2"); empty: all
};

// Parses the common flags (--smoke, --seed, --work-dir, --bin-dir, --only); exits with
// a one-line error on a bad command line. `about` is the program's one-line description.
Options ParseOptions(int argc, char** argv, const std::string& about);
bool Wanted(const Options& options, int row);

// The whole main() of a benchmark program: parses the options, sends the engine's log to
// stderr at warn level (stdout carries only the rows; SPDLOG_LEVEL=debug shows more), runs
// `body` and returns its exit code. A setup failure thrown by `body` (a full disk, a
// simulator refusing) ends the program with "NAME: what" on stderr and exit code 1.
int BenchMain(int argc, char** argv, const std::string& name, const std::string& about,
              const std::function<int(const Options&)>& body);

// One row of the table.
struct Row {
  int number = 0;
  std::string what;  // "durable ingest, 1 item per POST"
  double value = 0;
  std::string unit;                // "POST/s", "items/s", "ms", "MiB", "s", "requests"
  std::optional<double> baseline;  // measured in the same run, same unit
  std::string baseline_what;       // what the baseline is
  std::string target;              // as the issue states it
  bool met = false;                // judged by the program (false in smoke mode)
  std::string detail;              // further figures: percentiles, sizes, counts
  std::string reproduce;           // the command that measures this row alone
};
// Prints the row as one JSON line on stdout (and flushes).
void PrintRow(const Row& row);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void Reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The p-th percentile (0..100) of `samples` (sorted in place); 0 if empty.
double Percentile(std::vector<double>& samples, double p);

// A scratch directory removed at scope exit (kept if Options::work_dir named it).
class WorkDir {
 public:
  explicit WorkDir(const Options& options, const std::string& name);
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
  bool remove_ = true;
};

// Child processes: Spawn (PATH searched, output to a log) and WaitExit are the tests'.
using test::Spawn;
using test::WaitExit;
void Kill(pid_t pid);  // SIGTERM, then waits
// Runs a command to completion and returns its stdout (stderr goes to ours); nullopt if
// it could not run or exited non-zero.
std::optional<std::string> Capture(const std::vector<std::string>& args);
// Reads `path` until `pred(text)` holds or `timeout` passes; the text, or nullopt.
template <typename Pred>
std::optional<std::string> WaitForFile(const std::string& path, Pred pred,
                                       std::chrono::milliseconds timeout);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);

// Resident set size of a process in bytes (VmRSS), 0 if it is gone.
uint64_t RssBytes(pid_t pid);
// Samples a process's RSS every `period` on its own thread until Stop().
class RssSampler {
 public:
  RssSampler(pid_t pid, std::chrono::milliseconds period);
  ~RssSampler();
  void Stop();
  uint64_t peak() const { return peak_.load(); }
  // (seconds since start, bytes), one per sample.
  std::vector<std::pair<double, uint64_t>> Samples();

 private:
  pid_t pid_;
  std::chrono::milliseconds period_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0};
  std::vector<std::pair<double, uint64_t>> samples_;
  std::thread thread_;
};

// The graphsim binary (Options::bin_dir) serving seeded mailboxes over loopback.
struct SimProcess {
  pid_t pid = 0;
  std::string base_url;            // "http://127.0.0.1:PORT"
  std::vector<std::string> users;  // object ids
};
// Starts it with `args` (--users, --messages, ...) and waits until it serves; its output
// goes to `log`. nullopt (and a message on stderr) if it did not come up.
std::optional<SimProcess> StartGraphsim(const Options& options,
                                        const std::vector<std::string>& args,
                                        const std::string& log);
// A graphmirror config file's text for these mailboxes of `sim`: database `db_path`,
// `resources` (TOML array text, e.g. "[\"messages\"]"), then `extra` verbatim.
std::string MirrorConfig(const SimProcess& sim, const std::string& db_path,
                         const std::string& resources, const std::string& extra = "");
std::string GraphmirrorPath(const Options& options);

// An access token from `sim`'s token endpoint for its one app; empty if refused.
std::string FetchToken(const std::string& base_url);
inline std::string FetchToken(const SimProcess& sim) { return FetchToken(sim.base_url); }

// graphsim's own counters of one mailbox (GET /_sim/stats).
struct MailboxStats {
  int64_t requests = 0;
  int64_t throttled = 0;
  int64_t max_concurrent_observed = 0;
  int64_t messages = 0;
};
// Those counters by mailbox (object id); empty if graphsim did not answer them all.
std::map<std::string, MailboxStats> SimStats(const SimProcess& sim);

// The Graph GETs graphsim answered 200 (its -v log, from byte `offset` on), per mailbox
// (object id), in the order served, each with the time graphsim logged it (seconds since
// the epoch, millisecond resolution, graphsim's local clock).
struct Served {
  std::vector<std::string> targets;
  std::vector<double> at;
  uint64_t bytes = 0;  // of the answers' bodies
};
std::map<std::string, Served> ServedRequests(const std::string& log, size_t offset = 0);

// The baseline of the first-sync rows: the same requests (same URLs, the engine's Prefer
// header), each page read whole and thrown away. `workers` connections take the mailboxes
// in turn, each replaying one mailbox's requests in order, as the engine's sync.parallelism
// workers take collections.
struct ReplayResult {
  bool ok = false;
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t bytes = 0;
};
ReplayResult Replay(const SimProcess& sim, const std::map<std::string, Served>& requests,
                    size_t workers);

// "2026-12-07T03:28:31.4873078Z" (the engine's timestamps) as seconds since the epoch; 0
// if it is not one.
double ParseUtc(const std::string& text);
double EpochSeconds(std::chrono::system_clock::time_point t);

// A free loopback TCP port.
int FreePort();
// printf into a string, for the detail text.
std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));
// "12,345" style for the detail text.
std::string Thousands(double value);
constexpr double kMiB = 1024.0 * 1024.0;

// --- implementation of the template ---------------------------------------------------------
template <typename Pred>
std::optional<std::string> WaitForFile(const std::string& path, Pred pred,
                                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFile(path);
    if (pred(text)) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace graphmirror::bench

#endif  // GRAPHMIRROR_BENCH_BENCH_UTIL_H_
