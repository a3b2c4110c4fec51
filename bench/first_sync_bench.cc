// Rows 4 and 6: the first sync end to end, and what it costs in memory.
//
// Row 4: the graphsim binary serves 3 mailboxes of 100,000 messages over loopback and
// `graphmirror sync --once` (the real command, its default settings) mirrors them into a
// fresh database. graphsim logs every request it serves; the baseline replays exactly
// those requests (same URLs, same Prefer header, one connection per mailbox, mailboxes in
// parallel as the engine's parallelism allows) with a client that reads each page and
// discards it. The ratio is the engine's rate over the baseline's: what parsing, storing
// and committing costs beyond fetching. The read cost (requests and bytes per item and
// byte stored) is also taken of a mailbox of 100,000 events and one of 100,000 contacts.
// Row 6: the resident set, sampled every 50 ms, of `graphmirror sync --once` and of the
// daemon (`graphmirror run`), each doing the first sync of row 4's mailboxes and of one
// 1,000,000-message mailbox; the daemon then receives change notifications for new
// messages (created through Graph, mirrored by the daemon) and idles. Flat means the
// second half of a big mailbox's first sync (sync --once, and the daemon's initial sync)
// holds no more than its first half, and the daemon's notifications and idle after it hold
// no more than after row 4's mailboxes (each plus a little): the notifications are a
// phase of their own, the same whatever the mailbox's size, not a half of the sync.

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <iostream>
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

// The peaks of a run's samples: overall, and in its first and second half of `seconds`.
void Halves(const std::vector<std::pair<double, uint64_t>>& samples, double seconds, SyncRun* run) {
  for (const auto& [t, rss] : samples) {
    run->peak_rss = std::max(run->peak_rss, rss);
    uint64_t& half = t < seconds / 2 ? run->first_half_peak : run->second_half_peak;
    half = std::max(half, rss);
  }
}

// Runs `graphmirror sync --once` against `sim` and samples its memory. `extra`: more of
// the config file (a [sync] table); `resources`: the mailboxes' collections.
SyncRun RunSync(const Options& options, const WorkDir& dir, const SimProcess& sim,
                const std::string& name, const std::string& extra = "",
                const std::string& resources = "[\"messages\"]") {
  SyncRun run;
  std::string config = dir.Path(name + ".toml");
  WriteFile(config, MirrorConfig(sim, dir.Path(name + ".db"), resources, extra));
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
  Halves(samples, run.seconds, &run);
  run.ok = true;
  return run;
}

int64_t CountMessages(const std::string& db, const std::string& user) {
  try {
    SQLite::Database mirror(db, SQLite::OPEN_READONLY);
    mirror.setBusyTimeout(5000);
    SQLite::Statement q(mirror, "SELECT count(*) FROM messages WHERE user_id = ?1");
    q.bind(1, user);
    return q.executeStep() ? q.getColumn(0).getInt64() : -1;
  } catch (const std::exception&) {
    return -1;  // not there yet, or busy
  }
}

// Bytes of item JSON a mirror holds: each message's json and its body, each event's and
// occurrence's json, each contact's json.
uint64_t StoredBytes(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  const std::pair<const char*, const char*> stored[] = {{"json", "messages"},
                                                        {"content", "message_bodies"},
                                                        {"json", "events"},
                                                        {"json", "event_occurrences"},
                                                        {"json", "contacts"}};
  uint64_t bytes = 0;
  for (const auto& [column, table] : stored) {
    bytes += static_cast<uint64_t>(db.execAndGet("SELECT coalesce(sum(length(CAST(" +
                                                 std::string(column) + " AS BLOB))), 0) FROM " +
                                                 table)
                                       .getInt64());
  }
  return bytes;
}

// What a first sync cost in Graph requests and bytes, per the items it stored.
struct ReadCost {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  uint64_t stored = 0;
  double RequestsPerThousand(int items) const { return requests * 1000.0 / items; }
  double BytesPerStored() const { return stored == 0 ? 0 : static_cast<double>(bytes) / stored; }
};

ReadCost CostOf(const std::map<std::string, Served>& requests, const std::string& db_path) {
  ReadCost cost;
  for (const auto& [user, served] : requests) {
    cost.requests += served.targets.size();
    cost.bytes += served.bytes;
  }
  cost.stored = StoredBytes(db_path);
  return cost;
}

struct DaemonRun {
  bool ok = false;
  SyncRun memory;           // the whole run, start to SIGTERM
  SyncRun initial;          // the initial sync alone (its halves)
  double sync_seconds = 0;  // until it listens: the initial sync is done
  uint64_t sync_peak = 0;   // peak while it synced
  uint64_t after_peak = 0;  // peak while it received and idled
  int received = 0;         // messages created in Graph and seen in the mirror
  double receive_seconds = 0;
  double idle_seconds = 0;
};

// Runs the daemon (`graphmirror run`, its own webhook listener on a free port) against
// `sim`: the initial sync, then `receive` messages created in the first mailbox through
// Graph, each announced to the daemon by a change notification, until the mirror holds
// them, then `idle` doing nothing; SIGTERM ends it. Its memory is sampled throughout.
DaemonRun RunDaemon(const Options& options, const WorkDir& dir, const SimProcess& sim,
                    const std::string& name, int receive, std::chrono::seconds idle) {
  DaemonRun run;
  const std::string config = dir.Path(name + ".toml");
  const std::string db = dir.Path(name + ".db");
  const std::string log = dir.Path(name + ".log");
  const int port = FreePort();
  const std::string hook = "http://127.0.0.1:" + std::to_string(port);
  WriteFile(config, MirrorConfig(sim, db, "[\"messages\"]",
                                 "[webhook]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                                     "\"\nnotification_url = \"" + hook + "/notify\"\n"));
  Stopwatch clock;
  pid_t pid = Spawn({GraphmirrorPath(options), "run", "--config", config}, log);
  RssSampler sampler(pid, std::chrono::milliseconds(50));
  auto fail = [&](const std::string& why) {
    std::cerr << "first_sync: daemon " << name << ": " << why << "; its log:\n" << ReadFile(log);
    ::kill(pid, SIGKILL);
    WaitExit(pid);
    return run;
  };

  // "initial sync done" is printed once the initial sync (in the background of Start) ended.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  while (ReadFile(log).find("initial sync done") == std::string::npos) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::cerr << "first_sync: daemon " << name << " exited during its initial sync:\n"
                << ReadFile(log);
      return run;
    }
    if (std::chrono::steady_clock::now() > deadline) return fail("no initial sync in an hour");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.sync_seconds = clock.Seconds();

  const std::string& user = sim.users.front();
  const int64_t before = CountMessages(db, user);
  const std::string token = FetchToken(sim);
  if (before < 0 || token.empty()) return fail("no message count or no token");
  Stopwatch receiving;
  httplib::Client graph(sim.base_url);
  const httplib::Headers headers{{"Authorization", "Bearer " + token}};
  for (int i = 0; i < receive; ++i) {
    auto res =
        graph.Post("/v1.0/users/" + user + "/messages", headers,
                   "{\"subject\":\"daemon memory " + std::to_string(i) + "\"}", "application/json");
    if (!res || res->status != 201) return fail("graphsim refused a new message");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // about 50 a second
  }
  while (CountMessages(db, user) < before + receive) {
    if (receiving.Seconds() > 120) return fail("new messages not mirrored within 2 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.received = receive;
  run.receive_seconds = receiving.Seconds();
  std::this_thread::sleep_for(idle);
  run.idle_seconds = std::chrono::duration<double>(idle).count();

  ::kill(pid, SIGTERM);
  const int rc = WaitExit(pid);
  const double seconds = clock.Seconds();
  auto samples = sampler.Samples();
  if (rc != 0) {
    std::cerr << "first_sync: daemon " << name << " exited " << rc << ":\n" << ReadFile(log);
    return run;
  }
  run.memory.seconds = seconds;
  Halves(samples, seconds, &run.memory);
  std::vector<std::pair<double, uint64_t>> initial;
  for (const auto& [t, rss] : samples) {
    uint64_t& phase = t < run.sync_seconds ? run.sync_peak : run.after_peak;
    phase = std::max(phase, rss);
    if (t < run.sync_seconds) initial.emplace_back(t, rss);
  }
  run.initial.seconds = run.sync_seconds;
  Halves(initial, run.sync_seconds, &run.initial);
  run.ok = true;
  return run;
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
  // Delta rounds are the whole first load, each item read once, in pages as large as
  // Graph serves ($top 1000); bodies kept as text (the default), made of the HTML read.
  SyncRun sync = RunSync(options, dir, *sim, "first", "[sync]\npage_size = 1000\n");
  auto requests = ServedRequests(dir.Path("graphsim.log"));
  if (!sync.ok) return 1;
  const ReadCost cost = CostOf(requests, dir.Path("first.db"));
  // The same with bodies kept as HTML: what making text of them costs.
  const size_t log_before = ReadFile(dir.Path("graphsim.log")).size();
  SyncRun html =
      RunSync(options, dir, *sim, "html", "[sync]\nbodies = \"html\"\npage_size = 1000\n");
  auto html_requests = ServedRequests(dir.Path("graphsim.log"), log_before);
  if (!html.ok) return 1;
  const ReadCost html_cost = CostOf(html_requests, dir.Path("html.db"));
  ReplayResult replay = Replay(*sim, requests, requests.size());
  // Row 6: the daemon's first sync of the same mailboxes, then a few notifications.
  const int receive = options.smoke ? 20 : 200;
  const auto idle = std::chrono::seconds(options.smoke ? 1 : 10);
  DaemonRun daemon;
  SyncRun default_sync;  // row 6 holds the default config to its budget: pages of 500
  if (sync.ok && replay.ok && Wanted(options, 6)) {
    default_sync = RunSync(options, dir, *sim, "default");
    if (default_sync.ok) daemon = RunDaemon(options, dir, *sim, "daemon", receive, idle);
  }
  Kill(sim->pid);
  if (!replay.ok) return 1;

  // Events and contacts are to be read once as well: a mailbox of each, as large as row 4's.
  const int others = options.smoke ? 1000 : 100000;
  ReadCost event_cost, contact_cost;
  if (Wanted(options, 4)) {
    std::cerr << "first_sync: seeding graphsim with 1 x " << others << " events and contacts\n";
    const std::string others_log = dir.Path("graphsim-others.log");
    auto others_sim = StartGraphsim(
        options,
        {"--users", "1", "--messages", "0", "--events", std::to_string(others), "--contacts",
         std::to_string(others), "--seed", std::to_string(options.seed), "-v"},
        others_log);
    if (!others_sim) return 1;
    for (auto [collection, cost] :
         {std::pair{"events", &event_cost}, std::pair{"contacts", &contact_cost}}) {
      const size_t offset = ReadFile(others_log).size();
      SyncRun run = RunSync(options, dir, *others_sim, collection, "[sync]\npage_size = 1000\n",
                            "[\"" + std::string(collection) + "\"]");
      if (!run.ok) {
        Kill(others_sim->pid);
        return 1;
      }
      *cost = CostOf(ServedRequests(others_log, offset), dir.Path(std::string(collection) + ".db"));
    }
    Kill(others_sim->pid);
  }

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
      ">= 0.7 of baseline; each item read once: <= 1.1 requests per 1,000 items, <= 1.1 bytes "
      "read per byte stored (messages, events, contacts)";
  auto read_once = [](const ReadCost& c, int n) {
    return c.RequestsPerThousand(n) <= 1.1 && c.BytesPerStored() <= 1.1;
  };
  r.met = !options.smoke && rate >= 0.7 * base_rate && read_once(cost, items) &&
          read_once(event_cost, others) && read_once(contact_cost, others);
  r.detail = Format(
      "ratio %.2f; sync.page_size 1000; sync %.1f s, replay %.1f s; %llu requests, %.0f MiB of "
      "pages; peak RSS %.1f MiB; read cost (bodies as text, the default): %.2f requests per "
      "1,000 messages, %.2f bytes read per byte stored; with sync.bodies = \"html\": %.1f s "
      "(%.0f items/s), %.2f requests per 1,000 messages, %.2f bytes read per byte stored; "
      "1 x %s events: %llu requests (%.2f per 1,000), %.2f bytes read per byte stored; "
      "1 x %s contacts: %llu requests (%.2f per 1,000), %.2f bytes read per byte stored "
      "(targets: <= 1.1 and <= 1.1)",
      rate / base_rate, sync.seconds, replay.seconds,
      static_cast<unsigned long long>(replay.requests), replay.bytes / kMiB, sync.peak_rss / kMiB,
      cost.RequestsPerThousand(items), cost.BytesPerStored(), html.seconds, items / html.seconds,
      html_cost.RequestsPerThousand(items), html_cost.BytesPerStored(), Thousands(others).c_str(),
      static_cast<unsigned long long>(event_cost.requests), event_cost.RequestsPerThousand(others),
      event_cost.BytesPerStored(), Thousands(others).c_str(),
      static_cast<unsigned long long>(contact_cost.requests),
      contact_cost.RequestsPerThousand(others), contact_cost.BytesPerStored());
  r.reproduce = "bench/run --only 4";
  if (Wanted(options, 4)) PrintRow(r);  // row 6 needs the run either way

  if (!Wanted(options, 6)) return 0;
  if (!default_sync.ok || !daemon.ok) return 1;
  const int big = options.smoke ? 10000 : 1000000;
  std::cerr << "first_sync: seeding graphsim with 1 x " << big << " messages\n";
  auto big_sim = StartGraphsim(options,
                               {"--users", "1", "--messages", std::to_string(big), "--events", "0",
                                "--contacts", "0", "--seed", std::to_string(options.seed)},
                               dir.Path("graphsim-big.log"));
  if (!big_sim) return 1;
  SyncRun big_sync = RunSync(options, dir, *big_sim, "big");
  DaemonRun big_daemon;
  if (big_sync.ok) big_daemon = RunDaemon(options, dir, *big_sim, "big-daemon", receive, idle);
  Kill(big_sim->pid);
  if (!big_sync.ok || !big_daemon.ok) return 1;

  auto is_flat = [](const SyncRun& run) {
    return run.second_half_peak <= run.first_half_peak * 1.1 + 2 * kMiB;
  };
  const bool after_flat = big_daemon.after_peak <= daemon.after_peak * 1.1 + 2 * kMiB;
  const bool flat = is_flat(big_sync) && is_flat(big_daemon.initial) && after_flat;
  const double peak = std::max({default_sync.peak_rss, big_sync.peak_rss, daemon.memory.peak_rss,
                                big_daemon.memory.peak_rss}) /
                      kMiB;
  auto daemon_detail = [&](const DaemonRun& d) {
    return Format(
        "peak %.1f MiB (initial sync %.1f MiB in %.1f s, its first half %.1f MiB, second "
        "half %.1f MiB (%s); then %d notified messages mirrored in %.1f s and %.0f s idle: "
        "%.1f MiB)",
        d.memory.peak_rss / kMiB, d.sync_peak / kMiB, d.sync_seconds,
        d.initial.first_half_peak / kMiB, d.initial.second_half_peak / kMiB,
        is_flat(d.initial) ? "flat" : "growing", d.received, d.receive_seconds, d.idle_seconds,
        d.after_peak / kMiB);
  };
  Row m;
  m.number = 6;
  m.what = "memory: RSS of the daemon and of sync --once (row 4, and 1 x " + Thousands(big) +
           " messages)";
  m.value = peak;
  m.unit = "MiB";
  m.target = "<= 64 MiB, flat as the mailbox grows";
  m.met = !options.smoke && peak <= 64 && flat;
  m.detail = Format(
      "the default config (sync.page_size 500); daemon (`graphmirror run`), row 4's "
      "mailboxes: %s; daemon, big mailbox: %s; the notifications and idle after the big "
      "mailbox's sync %s those after row 4's; sync --once, row 4's mailboxes: peak %.1f MiB "
      "in %.1f s (with page_size 1000, row 4's run: %.1f MiB); sync --once, big mailbox: peak "
      "%.1f MiB, first half %.1f MiB, second half %.1f MiB (%s), %.1f s, %.0f items/s",
      daemon_detail(daemon).c_str(), daemon_detail(big_daemon).c_str(),
      after_flat ? "within" : "above",
      default_sync.peak_rss / kMiB, default_sync.seconds, sync.peak_rss / kMiB,
      big_sync.peak_rss / kMiB, big_sync.first_half_peak / kMiB, big_sync.second_half_peak / kMiB,
      is_flat(big_sync) ? "flat" : "growing", big_sync.seconds, big / big_sync.seconds);
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
