// `graphmirror run` as a child process against graphsim on the real clock: the pieces the
// tests that kill or starve the daemon share.

#ifndef GRAPHMIRROR_TESTS_INTEGRATION_DAEMON_PROCESS_H_
#define GRAPHMIRROR_TESTS_INTEGRATION_DAEMON_PROCESS_H_

#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/sim_fixture.h"
#include "tests/support/process.h"

namespace graphmirror::test {

inline pid_t SpawnDaemon(const std::string& config, const std::string& log) {
  return Spawn({GRAPHMIRROR_CLI_PATH, "--log-level", "info", "run", "--config", config}, log);
}

inline size_t CountInFile(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  size_t n = 0;
  for (size_t pos = 0; (pos = text.str().find(needle, pos)) != std::string::npos; ++pos) ++n;
  return n;
}

// Waits up to `timeout` until `needle` occurs in `path` more than `before` times.
inline bool WaitForLine(const std::string& path, const std::string& needle, size_t before,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (CountInFile(path, needle) <= before) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// One integer from the database, or -1 if it cannot be read (busy, not there yet).
inline int64_t Query(const std::string& db_path, const std::string& sql) {
  try {
    SQLite::Database db(db_path);
    return db.execAndGet(sql).getInt64();
  } catch (const std::exception&) {
    return -1;
  }
}

// The simulator on the real clock: the daemon is another process with its own clock.
class RealTimeSim {
 public:
  explicit RealTimeSim(graphsim::Options options) : sim_(options, nullptr), server_(&sim_) {
    REQUIRE(server_.Start("127.0.0.1", 0).ok());
    sim_.StartDeliveryThread();
  }
  graphsim::Simulator& sim() { return sim_; }
  graphsim::Server& server() { return server_; }

 private:
  graphsim::Simulator sim_;
  graphsim::Server server_;
};

// The [graph], [sync] and [webhook] part of a daemon config that talks to `sim` and
// listens on 127.0.0.1:`port`; the caller adds [[mailbox]] tables (and [rich]).
inline std::string DaemonConfigText(RealTimeSim& env, const std::string& database, int port) {
  const std::string hook = "http://127.0.0.1:" + std::to_string(port);
  return "database = \"" + database + "\"\n[graph]\nbase_url = \"" + env.server().base_url() +
         "/v1.0\"\ntoken_url = \"" + env.server().base_url() +
         "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\n"
         "client_secret = \"graphsim-secret\"\n[sync]\npage_size = 100\n"
         "[webhook]\nlisten = \"127.0.0.1:" +
         std::to_string(port) + "\"\nnotification_url = \"" + hook +
         "/notify\"\nlifecycle_url = \"" + hook + "/lifecycle\"\n";
}

// What graphsim got a 2xx for, against the daemon's notification log: how many
// notifications were acknowledged (for a subscription the database stores, if
// `stored_subscriptions_only`) and how many of those the log lacks.
struct AckedVersusLog {
  size_t acked = 0;
  size_t missing = 0;
};
inline AckedVersusLog CompareAckedWithLog(graphsim::Simulator& sim, SQLite::Database& mirror,
                                          bool stored_subscriptions_only) {
  std::set<std::string> logged, subscriptions;
  SQLite::Statement log(mirror,
                        "SELECT notification_id FROM notification_log "
                        "WHERE notification_id IS NOT NULL");
  while (log.executeStep()) logged.insert(log.getColumn(0).getString());
  SQLite::Statement subs(mirror, "SELECT id FROM subscriptions");
  while (subs.executeStep()) subscriptions.insert(subs.getColumn(0).getString());
  AckedVersusLog out;
  for (const auto& n : sim.AckedNotifications()) {
    if (stored_subscriptions_only && !subscriptions.count(n.subscription_id)) continue;
    ++out.acked;
    if (!logged.count(n.id)) ++out.missing;
  }
  return out;
}

// True once the mirror holds exactly graphsim's items of `collection` for every user.
inline bool MirrorEquals(graphsim::Simulator& sim, const std::string& db_path,
                         const std::string& collection) {
  try {
    SQLite::Database mirror(db_path);
    for (const std::string& user : sim.UserIds()) {
      std::vector<std::string> want = sim.ItemIds(user, collection);
      std::sort(want.begin(), want.end());
      SQLite::Statement q(mirror,
                          "SELECT id FROM " + collection + " WHERE user_id = ? ORDER BY id");
      q.bind(1, user);
      std::vector<std::string> have;
      while (q.executeStep()) have.push_back(q.getColumn(0).getString());
      if (have != want) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_INTEGRATION_DAEMON_PROCESS_H_
