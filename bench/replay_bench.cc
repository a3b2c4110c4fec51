// Row 7: restart replay, the notification log a daemon accepted but died before applying.
//
// graphsim in-process (system clock) with one seeded mailbox. The engine mirrors it
// (Engine::SyncOnce), starts (its subscription is created, its catch-up applied) and
// stops: the daemon is down (a clean Stop leaves the subscription at Graph, as a crash
// would). Graph goes on: 10,000 new messages (smoke: 500) are created
// in graphsim, and the notifications the receiver had logged for them before the crash are
// written into the database as the receiver writes them (store::Store::AppendNotifications):
// per new message one `created` row and nine `updated` rows, 100,000 rows (smoke: 5,000),
// each with its own notification id and dedupe key, the subscription the engine created,
// user, collection, resource and item id. graphsim's delivery thread is never started, so
// nothing else reaches the engine.
//
// The row is the time from Engine::Start() (the daemon's restart: subscriptions
// reconciled, the initial sync, then the worker draining the log) until the log backlog
// is 0 and every new message is in the mirror. Afterwards every replayed row must be
// `applied` and the mirror must hold exactly graphsim's messages: a replay that dropped
// or ignored rows must not look fast.

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/bench_util.h"
#include "engine/store/store.h"
#include "graphmirror/engine.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::bench {
namespace {

constexpr int kRowsPerItem = 10;  // one `created`, nine `updated`
constexpr char kNotificationPrefix[] = "bench7-";

Config MirrorConfigFor(const graphsim::Server& server, const std::string& user,
                       const std::string& db_path) {
  const int port = FreePort();
  Config config;
  config.database = db_path;
  config.graph.base_url = server.base_url() + "/v1.0";
  config.graph.token_url = server.base_url() + "/common/oauth2/v2.0/token";
  config.graph.client_id = "graphsim";
  config.graph.client_secret = "graphsim-secret";
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://127.0.0.1:" + std::to_string(port) + "/notify";
  config.mailboxes.push_back({user, {Collection::kMessages}, false, {}, {}});
  return config;
}

// The rows the receiver would have logged for `ids` (see notify/receiver.cc: the dedupe
// key of an item with an id is "n:" + id), appended in commits of `batch` rows. The
// subscription is the engine's own record, as the receiver stamps it; the worker groups
// change rows by user and collection and reads subscription_id only for lifecycle rows.
bool WriteLog(const std::string& db_path, const std::string& user,
              const std::vector<std::string>& ids, int batch) {
  auto store = store::Store::Open(db_path, SystemClock::Default());
  if (!store.ok()) {
    std::cerr << "replay: Store::Open: " << store.status().message() << "\n";
    return false;
  }
  auto subscriptions = (*store)->subscriptions().All();
  if (!subscriptions.ok()) {
    std::cerr << "replay: reading subscriptions: " << subscriptions.status().message() << "\n";
    return false;
  }
  std::string subscription_id;
  for (const auto& s : *subscriptions) {
    if (s.user_id == user && s.collection == Collection::kMessages) subscription_id = s.id;
  }
  if (subscription_id.empty()) {
    std::cerr << "replay: the engine left no messages subscription in the database\n";
    return false;
  }
  std::vector<store::LogEntry> entries;
  entries.reserve(batch);
  auto flush = [&]() -> bool {
    if (entries.empty()) return true;
    Status s = (*store)->log().Append(std::move(entries),
                                      SystemClock::Default()->Now() + std::chrono::minutes(1));
    entries.clear();
    if (!s.ok()) std::cerr << "replay: AppendNotifications: " << s.message() << "\n";
    return s.ok();
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int k = 0; k < kRowsPerItem; ++k) {
      store::LogEntry e;
      e.notification_id = kNotificationPrefix + std::to_string(i) + "-" + std::to_string(k);
      e.dedupe_key = "n:" + e.notification_id;
      e.subscription_id = subscription_id;
      e.user_id = user;
      e.collection = Collection::kMessages;
      e.change_type = k == 0 ? "created" : "updated";
      e.resource = "Users/" + user + "/Messages/" + ids[i];
      e.item_id = ids[i];
      entries.push_back(std::move(e));
      if (static_cast<int>(entries.size()) == batch && !flush()) return false;
    }
  }
  return flush();
}

int64_t Backlog(Engine& engine) {
  auto status = engine.GetStatus();
  return status.ok() ? status->log_backlog : -1;
}

// Whether any log row is still to apply, asked cheaply on a connection of our own: the
// first entry of the pending rows' partial index, one row read. GetStatus() counts them
// through the index on user_id, visiting every row of the log (about 100 ms at 100,000
// rows): polled during the replay it would take a core of this 2-core machine from the
// engine. It confirms the end once.
class PendingProbe {
 public:
  explicit PendingProbe(const std::string& db_path)
      : db_(db_path, SQLite::OPEN_READONLY),
        any_(db_,
             "SELECT seq FROM notification_log WHERE state IN ('received', 'failed') LIMIT 1") {}
  bool AnyPending() {
    try {
      any_.reset();
      return any_.executeStep();
    } catch (const std::exception&) {
      return true;  // busy or in the middle of a checkpoint: ask again
    }
  }

 private:
  SQLite::Database db_;
  SQLite::Statement any_;
};

// How many of `ids` the mirror holds, and how many messages it holds in all.
std::pair<size_t, size_t> MirrorHolds(Engine& engine, const std::string& user,
                                      const std::vector<std::string>& ids, int limit) {
  auto messages = engine.Messages({user, "", "", "", limit});
  if (!messages.ok()) return {0, 0};
  std::set<std::string> have;
  for (const Message& m : *messages) have.insert(m.id);
  size_t found = 0;
  for (const std::string& id : ids) found += have.count(id);
  return {found, have.size()};
}

// Rows of the replayed log by state ("applied", ...), read as a user's sqlite3 would.
std::string LogStates(const std::string& db_path, int64_t* applied) {
  std::string text;
  *applied = 0;
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    SQLite::Statement q(db,
                        "SELECT state, count(*) FROM notification_log WHERE notification_id "
                        "LIKE 'bench7-%' GROUP BY state ORDER BY state");
    while (q.executeStep()) {
      const std::string state = q.getColumn(0).getString();
      const int64_t n = q.getColumn(1).getInt64();
      if (state == "applied") *applied = n;
      if (!text.empty()) text += ", ";
      text += Thousands(static_cast<double>(n)) + " " + state;
    }
  } catch (const std::exception& e) {
    text = std::string("unreadable: ") + e.what();
  }
  return text;
}

int ReplayRow(const Options& options, const WorkDir& dir) {
  const int seeded = options.smoke ? 200 : 2000;
  const int fresh = options.smoke ? 500 : 10000;
  const int rows = fresh * kRowsPerItem;
  const std::string db_path = dir.Path("replay.db");

  graphsim::Options o;
  o.seed = options.seed;
  o.users = 1;
  o.messages = seeded;
  o.events = 0;
  o.contacts = 0;
  graphsim::Simulator sim(o, nullptr);
  graphsim::Server server(&sim);
  if (Status s = server.Start("127.0.0.1", 0); !s.ok()) {
    std::cerr << "replay: graphsim did not start: " << s.message() << "\n";
    return 1;
  }
  const std::string user = sim.UserIds()[0];

  // The daemon's life before the crash: mirrored, subscribed, caught up.
  std::cerr << "replay: mirroring " << seeded << " messages, then the daemon runs and stops\n";
  // One config for both lives: the restarted daemon must recognize its subscription at
  // Graph by its notification URL.
  const Config config = MirrorConfigFor(server, user, db_path);
  {
    auto engine = Engine::Open(config);
    if (!engine.ok()) {
      std::cerr << "replay: Engine::Open: " << engine.status().message() << "\n";
      return 1;
    }
    if (Status s = (*engine)->SyncOnce(); !s.ok()) {
      std::cerr << "replay: SyncOnce: " << s.message() << "\n";
      return 1;
    }
    if (Status s = (*engine)->Start(); !s.ok()) {
      std::cerr << "replay: Engine::Start: " << s.message() << "\n";
      return 1;
    }
    // Start returns at once: the subscriptions come with its initial sync.
    if (Status s = (*engine)->WaitForInitialSync(std::chrono::seconds(300)); !s.ok()) {
      std::cerr << "replay: the initial sync: " << s.message() << "\n";
      return 1;
    }
    for (int i = 0; i < 1000 && Backlog(**engine) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (*engine)->Stop();
  }

  // While it is down: new mail, and the log of notifications it had accepted.
  std::cerr << "replay: " << fresh << " new messages in graphsim, " << rows << " log rows\n";
  std::vector<std::string> ids;
  ids.reserve(fresh);
  for (int i = 0; i < fresh; ++i) {
    std::string id =
        sim.CreateItem(user, "messages", "{\"subject\":\"bench 7 new " + std::to_string(i) + "\"}");
    if (id.empty()) {
      std::cerr << "replay: graphsim refused CreateItem\n";
      return 1;
    }
    ids.push_back(std::move(id));
  }
  if (!WriteLog(db_path, user, ids, 5000)) return 1;

  auto opened = Engine::Open(config);
  if (!opened.ok()) {
    std::cerr << "replay: Engine::Open: " << opened.status().message() << "\n";
    return 1;
  }
  Engine& engine = **opened;
  Stopwatch status_clock;
  const int64_t backlog_before = Backlog(engine);
  const double status_ms = status_clock.Seconds() * 1000;
  if (backlog_before != rows) {
    std::cerr << "replay: expected a backlog of " << rows << " rows, found " << backlog_before
              << "\n";
    return 1;
  }
  const int limit = seeded + fresh + 1000;
  if (MirrorHolds(engine, user, ids, limit).first != 0) {
    std::cerr << "replay: the mirror already holds new messages before the restart\n";
    return 1;
  }

  // The restart.
  std::cerr << "replay: restarting\n";
  const uint64_t requests_before = sim.RequestCount();
  const uint64_t item_gets_before = sim.ItemGets();
  Stopwatch clock;
  if (Status s = engine.Start(); !s.ok()) {
    std::cerr << "replay: Engine::Start: " << s.message() << "\n";
    return 1;
  }
  // Start returns at once; "Start() returned" below is when its initial sync ended.
  if (Status s = engine.WaitForInitialSync(std::chrono::seconds(options.smoke ? 30 : 300));
      !s.ok()) {
    std::cerr << "replay: the initial sync: " << s.message() << "\n";
    return 1;
  }
  const double start_s = clock.Seconds();
  const double timeout_s = options.smoke ? 30 : 300;
  bool done = false;
  size_t found = 0, held = 0;
  int64_t backlog = backlog_before;
  std::unique_ptr<PendingProbe> probe;
  try {
    probe = std::make_unique<PendingProbe>(db_path);
  } catch (const std::exception& e) {
    std::cerr << "replay: opening " << db_path << ": " << e.what() << "\n";
    return 1;
  }
  while (!done && clock.Seconds() < timeout_s) {
    // The engine's own word decides; the probe only says when to ask.
    if (!probe->AnyPending() && (backlog = Backlog(engine)) == 0) {
      std::tie(found, held) = MirrorHolds(engine, user, ids, limit);
      done = found == ids.size();
    }
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double seconds = clock.Seconds();
  const uint64_t requests = sim.RequestCount() - requests_before;
  const uint64_t item_gets = sim.ItemGets() - item_gets_before;
  engine.Stop();
  std::tie(found, held) = MirrorHolds(engine, user, ids, limit);
  const size_t in_graph = sim.Count(user, "messages");
  int64_t applied = 0;
  const std::string states = LogStates(db_path, &applied);
  const bool complete = done && applied == rows && found == ids.size() && held == in_graph;
  if (!complete) {
    std::cerr << "replay: incomplete after " << seconds << " s: backlog " << backlog << ", "
              << found << " of " << ids.size() << " new messages in the mirror, " << held
              << " messages there vs " << in_graph << " in graphsim; log rows: " << states << "\n";
  }

  Row r;
  r.number = 7;
  r.what = "restart replay, " + Thousands(rows) + " unapplied log rows (" + Thousands(fresh) +
           " new messages)";
  r.value = seconds;
  r.unit = "s";
  r.target = "100,000 rows replayed in <= 5 s";
  r.met = !options.smoke && complete && rows >= 100000 && seconds <= 5;
  r.detail = Format(
      "%s rows, %s new items, %s rows/s; Start() returned after %.2f s (initial "
      "sync), log drained %.2f s later; %llu Graph requests (%llu item GETs); log "
      "rows: %s; mirror %zu messages, graphsim %zu%s; one GetStatus() at %s rows "
      "took %.0f ms",
      Thousands(rows).c_str(), Thousands(fresh).c_str(),
      Thousands(rows / std::max(seconds, 1e-9)).c_str(), start_s, seconds - start_s,
      static_cast<unsigned long long>(requests), static_cast<unsigned long long>(item_gets),
      states.c_str(), held, in_graph, complete ? "" : " (INCOMPLETE)", Thousands(rows).c_str(),
      status_ms);
  r.reproduce = "bench/run --only 7";
  PrintRow(r);
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "replay", "Restart replay of the notification log (row 7)",
                   [](const Options& options) {
                     if (!Wanted(options, 7)) return 0;
                     WorkDir dir(options, "replay");
                     return ReplayRow(options, dir);
                   });
}
