// `graphmirror sync --once` killed with SIGKILL in the middle of a sync, then run again:
// the mirror ends exact, with nothing lost or doubled, and the database intact.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "tests/integration/sim_fixture.h"
#include "tests/support/mirror_compare.h"
#include "tests/support/process.h"

namespace graphmirror::test {
namespace {

std::string WriteConfig(SimFixture& f, int page_size) {
  std::string path = f.dir().Path("graphmirror.toml");
  std::ofstream out(path);
  out << "database = \"crash.db\"\n[graph]\n"
      << "base_url = \"" << f.server().base_url() << "/v1.0\"\n"
      << "token_url = \"" << f.server().base_url() << "/common/oauth2/v2.0/token\"\n"
      << "client_id = \"graphsim\"\nclient_secret = \"graphsim-secret\"\n"
      << "[sync]\npage_size = " << page_size << "\nparallelism = 3\n";
  for (const std::string& user : f.sim().UserIds()) {
    out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\", \"contacts\"]\n";
  }
  return path;
}

int64_t CountRows(const std::string& db_path, const std::string& sql) {
  try {
    SQLite::Database db(db_path);
    return db.execAndGet(sql).getInt64();
  } catch (const std::exception&) {
    return 0;  // not created yet
  }
}

TEST_CASE("sync --once killed mid-sync and run again leaves an exact, intact mirror", "[crash]") {
  graphsim::Options o;
  o.seed = 11;
  o.users = 3;
  o.messages = 3000;
  o.contacts = 500;
  o.events = 0;
  SimFixture f(o);
  const std::string config = WriteConfig(f, 40);
  const std::string db = f.dir().Path("crash.db");
  const std::string log = f.dir().Path("sync.log");
  const std::vector<std::string> args = {GRAPHMIRROR_CLI_PATH, "sync", "--config", config,
                                         "--once"};

  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed << ", log " << log);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 3; ++round) {
    // Kill once the mirror has some rows, at a random moment after that.
    const int64_t threshold = 200 + static_cast<int64_t>(rng() % 2000) * (round + 1);
    pid_t pid = Spawn(args, log);
    while (CountRows(db, "SELECT count(*) FROM messages") < threshold) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) FAIL("sync ended before it could be killed");
      ::usleep(1000);
    }
    ::kill(pid, SIGKILL);
    CHECK(WaitExit(pid) == 128 + SIGKILL);
  }

  REQUIRE(WaitExit(Spawn(args, log)) == 0);
  SQLite::Database mirror(db);
  CHECK(mirror.execAndGet("PRAGMA integrity_check").getString() == "ok");
  // Nothing lost or doubled, and every mirrored field (subject, body preview, sender,
  // times, changeKey, ... and the stored JSON) equals graphsim's.
  SystemClock clock;
  auto store = store::Store::Open(db, &clock);
  REQUIRE(store.ok());
  const std::vector<convergence::Mismatch> mismatches = convergence::CompareMirror(
      f.sim(), **store, db, f.sim().UserIds(), {}, {Collection::kMessages, Collection::kContacts});
  INFO(convergence::Describe(mismatches));
  CHECK(mismatches.empty());

  // The comparison sees one changed field of one item: change one, compare again.
  {
    SQLite::Database writable(db, SQLite::OPEN_READWRITE);
    writable.exec(
        "UPDATE messages SET change_key = change_key || '-corrupt' "
        "WHERE rowid = (SELECT min(rowid) FROM messages)");
  }
  const std::vector<convergence::Mismatch> corrupted = convergence::CompareMirror(
      f.sim(), **store, db, f.sim().UserIds(), {}, {Collection::kMessages, Collection::kContacts});
  INFO(convergence::Describe(corrupted));
  REQUIRE(corrupted.size() == 1);
  CHECK(corrupted[0].kind == convergence::Mismatch::Kind::kContent);
  CHECK(corrupted[0].detail.find("change_key") != std::string::npos);
}

}  // namespace
}  // namespace graphmirror::test
