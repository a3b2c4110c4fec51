// Engine::Start returns at once: the initial sync runs in the background against a slow
// graphsim (real time, loopback HTTP, a real SQLite file) while notifications are
// answered 202 and logged, GetStatus, HandleNotification and Resync answer at once, and
// afterwards the mirror equals graphsim. Stop during the initial sync ends it promptly,
// and the next start goes on from there.

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "graphmirror/engine.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

graphsim::Options SlowSim() {
  graphsim::Options o;
  o.users = 2;
  o.messages = 1500;
  o.contacts = 20;
  o.events = 0;
  // Every Graph request takes 20 ms: the initial sync reads hundreds of small pages.
  o.handler_latency = milliseconds(20);
  return o;
}

Config EngineConfig(RealTimeSim& env, const std::string& db, int port) {
  Config c;
  c.database = db;
  c.graph.base_url = env.server().base_url() + "/v1.0";
  c.graph.token_url = env.server().base_url() + "/common/oauth2/v2.0/token";
  c.graph.client_id = "graphsim";
  c.graph.client_secret = "graphsim-secret";
  c.sync.page_size = 20;
  const std::string hook = "http://127.0.0.1:" + std::to_string(port);
  c.webhook.listen = "127.0.0.1:" + std::to_string(port);
  c.webhook.notification_url = hook + "/notify";
  c.webhook.lifecycle_url = hook + "/lifecycle";
  for (const std::string& user : env.sim().UserIds()) {
    MailboxConfig m;
    m.user = user;
    m.resources = {Collection::kMessages, Collection::kContacts};
    c.mailboxes.push_back(m);
  }
  return c;
}

int64_t Query(const std::string& db, const std::string& sql) {
  SQLite::Database mirror(db, SQLite::OPEN_READONLY);
  mirror.exec("PRAGMA busy_timeout = 5000");
  return mirror.execAndGet(sql).getInt64();
}

// Polls `done` every 10 ms for up to `limit`.
template <typename F>
bool WaitFor(F done, milliseconds limit) {
  const auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

double SecondsSince(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

TEST_CASE("Engine::Start returns before the initial sync; notifications are logged meanwhile",
          "[api][live]") {
  RealTimeSim env(SlowSim());
  graphsim::Simulator& sim = env.sim();
  TempDir dir;
  const std::string db = dir.Path("mirror.db");
  auto opened = Engine::Open(EngineConfig(env, db, FreePort()));
  REQUIRE(opened.ok());
  Engine& engine = **opened;

  auto t = steady_clock::now();
  REQUIRE(engine.Start().ok());
  CHECK(SecondsSince(t) < 2.0);
  auto status = engine.GetStatus();
  REQUIRE(status.ok());
  CHECK(status->running);
  REQUIRE(status->initial_sync_running);
  CHECK_FALSE(status->ready);
  CHECK_FALSE(engine.Healthy());

  // The subscriptions come first (the keeper), then the collections are read.
  REQUIRE(WaitFor([&] { return sim.Subscriptions().size() == 4; }, milliseconds(30000)));

  // Changes while the initial sync runs: graphsim notifies them at once.
  const std::string user = sim.UserIds().front();
  const std::string existing = sim.ItemIds(user, "messages").front();
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.push_back(sim.CreateItem(
        user, "messages", "{\"subject\":\"during the initial sync " + std::to_string(i) + "\"}"));
  }
  REQUIRE(sim.UpdateItem(user, "messages", existing, "{\"subject\":\"renamed meanwhile\"}"));
  REQUIRE(WaitFor([&] { return Query(db, "SELECT count(*) FROM notification_log") >= 6; },
                  milliseconds(20000)));
  // graphsim counts a batch once its 202 has come back, just after the commit.
  REQUIRE(WaitFor([&] { return sim.Deliveries().delivered_items >= 6; }, milliseconds(20000)));
  const graphsim::DeliveryStats deliveries = sim.Deliveries();
  CHECK(deliveries.failed_attempts == 0);  // no 503 while the sync runs

  // Everything answers at once meanwhile, and the notifications wait in the log.
  t = steady_clock::now();
  status = engine.GetStatus();
  REQUIRE(status.ok());
  CHECK(SecondsSince(t) < 1.0);
  REQUIRE(status->initial_sync_running);  // the test proves nothing if it already ended
  CHECK(status->progress.initial_sync_running);
  CHECK(status->progress.initial_sync_collections_total == 4);
  CHECK(status->progress.initial_sync_collections_done < 4);
  CHECK(status->log_backlog >= 6);
  CHECK(Query(db, "SELECT count(*) FROM notification_log WHERE state = 'applied'") == 0);
  t = steady_clock::now();
  CHECK(engine.HandleNotification("application/json", "{\"value\":[]}").status == 202);
  CHECK(engine.Resync(user, Collection::kContacts).ok());  // queued for after the sync
  CHECK(engine.Resync("nobody", Collection::kContacts).code() == Status::Code::kInvalidArgument);
  CHECK(SecondsSince(t) < 1.0);
  CHECK(engine.GetStatus()->initial_sync_running);

  // Then the log is applied, and the mirror is graphsim's.
  REQUIRE(engine.WaitForInitialSync(seconds(120)).ok());
  CHECK(engine.Healthy());
  CHECK_FALSE(engine.GetStatus()->initial_sync_running);
  REQUIRE(WaitFor(
      [&] {
        auto s = engine.GetStatus();
        return s.ok() && s->log_backlog == 0 && MirrorEquals(sim, db, "messages") &&
               MirrorEquals(sim, db, "contacts");
      },
      milliseconds(60000)));
  CHECK(Query(db, "SELECT count(*) FROM notification_log WHERE state IN ('received', 'failed')") ==
        0);
  CHECK(Query(db,
              "SELECT count(*) FROM messages WHERE subject = "
              "'renamed meanwhile'") == 1);
  for (const std::string& id : created) {
    CHECK(Query(db, "SELECT count(*) FROM messages WHERE id = '" + id + "'") == 1);
  }
  engine.Stop();
}

TEST_CASE("Engine::Stop during the initial sync ends it promptly; the next start finishes it",
          "[api][live]") {
  RealTimeSim env(SlowSim());
  graphsim::Simulator& sim = env.sim();
  TempDir dir;
  const std::string db = dir.Path("mirror.db");
  const Config config = EngineConfig(env, db, FreePort());
  {
    auto opened = Engine::Open(config);
    REQUIRE(opened.ok());
    Engine& engine = **opened;
    REQUIRE(engine.Start().ok());
    REQUIRE(WaitFor([&] { return engine.Progress().items_received >= 100; }, milliseconds(30000)));
    REQUIRE(engine.Progress().initial_sync_running);
    const auto t = steady_clock::now();
    engine.Stop();
    CHECK(SecondsSince(t) < 3.0);
    auto status = engine.GetStatus();
    REQUIRE(status.ok());
    CHECK_FALSE(status->running);
    CHECK_FALSE(status->initial_sync_running);
    // Stopping is no failure of a collection.
    for (const CollectionState& c : status->collections) {
      INFO(c.user_id << " " << CollectionName(c.collection) << ": " << c.last_error);
      CHECK(c.last_error.find("Cancelled") == std::string::npos);
    }
    CHECK_FALSE(MirrorEquals(sim, db, "messages"));  // it was cut short
  }
  auto opened = Engine::Open(config);
  REQUIRE(opened.ok());
  REQUIRE((*opened)->Start().ok());
  REQUIRE((*opened)->WaitForInitialSync(seconds(120)).ok());
  CHECK(MirrorEquals(sim, db, "messages"));
  CHECK(MirrorEquals(sim, db, "contacts"));
  (*opened)->Stop();
}

}  // namespace
}  // namespace graphmirror::test
