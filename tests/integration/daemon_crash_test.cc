// `graphmirror run` as a separate process, receiving a stream of notifications from
// graphsim while it is killed with SIGKILL at random moments. Every notification it
// acknowledged must be in the log after the restart, and once the stream ends the mirror
// must equal graphsim's mailboxes exactly.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/cli_run.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"
#include "tests/support/mirror_compare.h"
#include "tests/support/process.h"

namespace graphmirror::test {
namespace {

TEST_CASE("The daemon killed 20 times loses no acknowledged notification", "[crash][live]") {
  // Plain and rich subscriptions: rich items wait in the log still encrypted, and a
  // restarted daemon must still be able to check and decrypt them.
  const bool rich = GENERATE(false, true);
  INFO((rich ? "rich" : "plain") << " mailboxes");
  graphsim::Options o;
  o.seed = 5;
  o.users = 2;
  o.messages = 40;
  o.events = 10;
  o.contacts = 10;
  o.delivery_retry_initial = std::chrono::milliseconds(50);
  o.delivery_retry_cap = std::chrono::milliseconds(500);
  o.delivery_timeout = std::chrono::milliseconds(1000);
  RealTimeSim env(o);
  graphsim::Simulator& sim = env.sim();
  TempDir dir;
  const int port = FreePort();
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << DaemonConfigText(env, "mirror.db", port);
    if (rich) {
      // The key pair as a user makes it: with `graphmirror keygen`.
      const Run keygen = RunCli("keygen --cert " + dir.Path("rich-cert.pem") + " --key " +
                                dir.Path("rich-key.pem"));
      REQUIRE(keygen.exit_code == 0);
      out << "[rich]\ncertificate = \"rich-cert.pem\"\ncertificate_id = \"crash-test\"\n"
          << "private_key = \"rich-key.pem\"\njwks_url = \"" << env.server().base_url()
          << "/common/discovery/v2.0/keys\"\n";
    }
    for (const std::string& user : sim.UserIds()) {
      out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\", \"contacts\"]\n"
          << (rich ? "rich = true\n" : "");
    }
  }
  const std::string db = dir.Path("mirror.db");
  const std::string log = dir.Path("daemon.log");

  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed << "; daemon log " << log);
  std::mt19937_64 rng(seed);

  // A first start creates the subscriptions. (Deletions made while no subscription
  // exists are only seen by delta rounds, which this test does not exercise.)
  {
    pid_t first = SpawnDaemon(config, log);
    for (int i = 0; i < 3000 && CountInFile(log, "initial sync done") == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(CountInFile(log, "initial sync done") == 1);
    REQUIRE(sim.Subscriptions().size() == 4);
    ::kill(first, SIGKILL);
    REQUIRE(WaitExit(first) == 128 + SIGKILL);
  }

  // The stream: creates, updates and deletes, all the time, dead daemon or not.
  std::atomic<bool> streaming{true};
  std::thread stream([&, stream_seed = rng()] {
    std::mt19937_64 r(stream_seed);
    const auto users = sim.UserIds();
    int n = 0;
    while (streaming) {
      const std::string& user = users[r() % users.size()];
      const char* collection = r() % 2 ? "messages" : "contacts";
      auto ids = sim.ItemIds(user, collection);
      switch (r() % 4) {
        case 0:
        case 1:
          sim.CreateItem(user, collection,
                         "{\"subject\":\"private-subject-" + std::to_string(n) +
                             "\",\"displayName\":\"private-name-" + std::to_string(n) + "\"}");
          break;
        case 2:
          if (!ids.empty())
            sim.UpdateItem(user, collection, ids[r() % ids.size()], "{\"subject\":\"u\"}");
          break;
        case 3:
          if (ids.size() > 5) sim.DeleteItem(user, collection, ids[r() % ids.size()]);
          break;
      }
      ++n;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  constexpr int kKills = 20;
  for (int kill = 0; kill < kKills; ++kill) {
    const size_t started_before = CountInFile(log, "initial sync done");
    pid_t pid = SpawnDaemon(config, log);
    // Half the kills land during start-up (subscriptions, initial sync), half while it runs.
    if (kill % 2 == 1) {
      for (int i = 0; i < 3000 && CountInFile(log, "initial sync done") == started_before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 300));
    ::kill(pid, SIGKILL);
    REQUIRE(WaitExit(pid) == 128 + SIGKILL);
  }
  streaming = false;
  stream.join();

  // The last run drains what Graph still holds for it, then stops on SIGTERM.
  const size_t started_before = CountInFile(log, "initial sync done");
  pid_t pid = SpawnDaemon(config, log);
  for (int i = 0; i < 3000 && CountInFile(log, "initial sync done") == started_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(CountInFile(log, "initial sync done") > started_before);
  for (int i = 0; i < 3000; ++i) {
    if (sim.Deliveries().pending_items == 0 &&
        Query(db, "SELECT count(*) FROM notification_log WHERE state IN ('received', 'failed')") ==
            0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGTERM);
  REQUIRE(WaitExit(pid) == 0);

  SQLite::Database mirror(db);
  CHECK(mirror.execAndGet("PRAGMA integrity_check").getString() == "ok");
  // Every notification graphsim got a 2xx for, for a subscription the daemon stored, is
  // in the log. (Items for a subscription a killed daemon created but never stored are
  // refused as unknown, and that subscription is deleted at the next start.)
  CHECK(mirror.execAndGet("SELECT count(*) FROM subscriptions").getInt64() == 4);
  const AckedVersusLog acked = CompareAckedWithLog(sim, mirror, /*stored_subscriptions_only=*/true);
  CHECK(acked.acked > 100);
  CHECK(acked.missing == 0);
  CHECK(sim.Deliveries().dropped_items == 0);
  if (rich) {
    CHECK(sim.Deliveries().rich_items > 50);
    CHECK(mirror
              .execAndGet("SELECT count(*) FROM notification_log WHERE reason LIKE "
                          "'suspicious:%'")
              .getInt64() == 0);
  }
  // Mail content, decrypted or read, never reaches the log.
  CHECK(CountInFile(log, "private-subject-") == 0);
  CHECK(CountInFile(log, "private-name-") == 0);

  // The mirror equals graphsim's mailboxes: the same items, each with every mirrored
  // field (subject, body preview, sender, times, changeKey, ... and the stored JSON; for
  // rich mailboxes the properties they keep).
  SystemClock clock;
  auto store = store::Store::Open(db, &clock);
  REQUIRE(store.ok());
  const std::vector<std::string> users = sim.UserIds();
  const std::vector<convergence::Mismatch> mismatches = convergence::CompareMirror(
      sim, **store, db, users,
      rich ? std::set<std::string>(users.begin(), users.end()) : std::set<std::string>(),
      {Collection::kMessages, Collection::kContacts});
  INFO(convergence::Describe(mismatches));
  CHECK(mismatches.empty());
}

}  // namespace
}  // namespace graphmirror::test
