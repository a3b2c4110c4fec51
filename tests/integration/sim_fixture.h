// An in-process graphsim on a loopback port, a fresh mirror database, and a Graph client
// pointed at the simulator; all on one ManualClock so tests cross hours in no time.

#ifndef GRAPHMIRROR_TESTS_INTEGRATION_SIM_FIXTURE_H_
#define GRAPHMIRROR_TESTS_INTEGRATION_SIM_FIXTURE_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "engine/sync/delta.h"
#include "engine/sync/resync.h"
#include "engine/sync/sync_once.h"
#include "tests/support/temp_dir.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::test {

// 2026-03-01T00:00:00Z: after all seeded data (which lies before 2026-01-01).
inline TimePoint SimStart() { return TimePoint(std::chrono::seconds(1772323200)); }

class SimFixture {
 public:
  explicit SimFixture(graphsim::Options options)
      : clock_(SimStart()), sim_(options, &clock_), server_(&sim_) {
    REQUIRE(server_.Start("127.0.0.1", 0).ok());
    auto store = store::Store::Open(dir_.Path("mirror.db"), &clock_);
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    client_ = std::make_unique<graph::GraphClient>(ClientOptions(), &clock_);
  }

  graph::ClientOptions ClientOptions() const {
    graph::ClientOptions o;
    o.base_url = server_.base_url() + "/v1.0";
    o.token_url = server_.base_url() + "/common/oauth2/v2.0/token";
    o.client_id = "graphsim";
    o.client_secret = "graphsim-secret";
    return o;
  }

  // A config naming every simulated mailbox with all three collections.
  config::Config Config(int page_size, std::chrono::seconds overlap = std::chrono::seconds(60)) {
    config::Config c;
    c.database = dir_.Path("mirror.db");
    c.graph.base_url = ClientOptions().base_url;
    c.graph.token_url = ClientOptions().token_url;
    c.graph.client_id = "graphsim";
    c.graph.client_secret = "graphsim-secret";
    c.sync.page_size = page_size;
    c.sync.overlap = overlap;
    for (const std::string& user : sim_.UserIds()) {
      config::MailboxConfig m;
      m.user = user;
      m.resources.assign(std::begin(kAllCollections), std::end(kAllCollections));
      c.mailboxes.push_back(m);
    }
    return c;
  }

  // One delta pass over the user's collection (its containers first); REQUIREs success.
  sync::DeltaStats DeltaPass(const config::Config& config, const std::string& user,
                             Collection collection) {
    sync::DeltaSyncer delta(client_.get(), store_.get(), &clock_,
                            sync::DeltaOptions::From(config.sync));
    auto pass = delta.Sync(user, collection);
    INFO(pass.status().ToString());
    REQUIRE(pass.ok());
    return *pass;
  }

  sync::Resyncer MakeResyncer(sync::ResyncOptions options) {
    return sync::Resyncer(client_.get(), store_.get(), std::move(options));
  }

  // The mirror holds exactly the simulator's items: same ids, nothing missing, nothing extra.
  void RequireExactMirror(const std::string& user, Collection c) {
    std::vector<std::string> want = sim_.ItemIds(user, std::string(CollectionName(c)));
    std::sort(want.begin(), want.end());
    auto have = store_->mirror().ItemIds(user, c);
    REQUIRE(have.ok());
    INFO("user " << user << " collection " << CollectionName(c));
    REQUIRE(have->size() == want.size());
    REQUIRE(*have == want);
  }

  void RequireExactMirrorOfAll() {
    for (const std::string& user : sim_.UserIds()) {
      for (Collection c : kAllCollections) RequireExactMirror(user, c);
    }
  }

  // Reads one value with a fresh read-only connection, as a user's sqlite3 would.
  int64_t QueryInt(const std::string& sql) {
    SQLite::Database db(dir_.Path("mirror.db"));
    return db.execAndGet(sql).getInt64();
  }

  ManualClock& clock() { return clock_; }
  graphsim::Simulator& sim() { return sim_; }
  graphsim::Server& server() { return server_; }
  store::Store& store() { return *store_; }
  graph::GraphClient& client() { return *client_; }
  TempDir& dir() { return dir_; }

 private:
  TempDir dir_;
  ManualClock clock_;
  graphsim::Simulator sim_;
  graphsim::Server server_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<graph::GraphClient> client_;
};

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_INTEGRATION_SIM_FIXTURE_H_
