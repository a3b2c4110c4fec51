// `graphmirror run` with its database on failing storage, while graphsim keeps changing
// the mailbox: a full disk (a small tmpfs, filled up) and I/O errors (a file size limit
// set on the running daemon, so that growing a file fails with EFBIG). The daemon must
// answer 503 while it cannot commit, keep running, and once storage works again converge
// with nothing acknowledged lost and an intact database.

#include <httplib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/integration/daemon_process.h"
#include "tests/support/free_port.h"

namespace graphmirror::test {
namespace {

using namespace std::chrono_literals;

// A tmpfs of `bytes` mounted at `path` for the test's lifetime; mounted() is false
// where mounting is not allowed (no CAP_SYS_ADMIN).
class SmallFilesystem {
 public:
  SmallFilesystem(const std::string& path, size_t bytes) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) why_ = std::strerror(errno);
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

  // Writes a filler file until the filesystem is full.
  void Fill() {
    std::ofstream filler(path_ + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  void Free() { std::filesystem::remove(path_ + "/filler"); }

 private:
  const std::string path_;
  bool mounted_ = false;
  std::string why_;
};

// The daemon's HTTP errors by status, from its /metrics.
int64_t Answered503(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(2, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const std::string line = "graphmirror_http_errors_total{status=\"503\"} ";
  const size_t at = res->body.find(line);
  if (at == std::string::npos) return -1;
  return std::stoll(res->body.substr(at + line.size()));
}

TEST_CASE("Storage faults: 503 while the database cannot commit, then convergence",
          "[storage][live]") {
  const std::string fault = GENERATE(as<std::string>{}, "disk full", "I/O errors");
  INFO("fault: " << fault);
  graphsim::Options o;
  o.seed = 11;
  o.users = 1;
  o.messages = 30;
  o.events = 0;
  o.contacts = 5;
  o.delivery_retry_initial = std::chrono::milliseconds(50);
  o.delivery_retry_cap = std::chrono::milliseconds(300);
  o.delivery_timeout = std::chrono::milliseconds(2000);
  RealTimeSim env(o);
  graphsim::Simulator& sim = env.sim();
  TempDir dir;
  std::string db_dir = dir.Path("data");
  std::unique_ptr<SmallFilesystem> small;
  if (fault == "disk full") {
    small = std::make_unique<SmallFilesystem>(db_dir, 16 << 20);
    if (!small->mounted()) {
      WARN("cannot mount a tmpfs here (" << small->why() << "): disk-full case not run");
      return;
    }
  } else {
    std::filesystem::create_directories(db_dir);
  }
  const std::string db = db_dir + "/mirror.db";
  const int port = FreePort();
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << DaemonConfigText(env, db, port);
    for (const std::string& user : sim.UserIds()) {
      out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\"]\n";
    }
  }
  const std::string log = dir.Path("daemon.log");
  const pid_t pid = SpawnDaemon(config, log);
  INFO("daemon log " << log);
  REQUIRE(WaitForLine(log, "initial sync done", 0, 30s));
  for (int i = 0; i < 1000 && !MirrorEquals(sim, db, "messages"); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(MirrorEquals(sim, db, "messages"));
  const std::string user = sim.UserIds().front();
  const int64_t refused_before = Answered503(port);
  REQUIRE(refused_before == 0);

  // The fault, then changes Graph notifies about while it lasts.
  if (small) {
    small->Fill();
  } else {
    const rlimit tiny{4096, RLIM_INFINITY};  // no file may grow past 4 KiB
    REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &tiny, nullptr) == 0);
  }
  const std::string body(2000, 'b');  // rows that need new pages
  for (int i = 0; i < 60; ++i) {
    sim.CreateItem(user, "messages",
                   "{\"subject\":\"during fault " + std::to_string(i) + "\",\"body\":{" +
                       "\"contentType\":\"text\",\"content\":\"" + body + "\"}}");
    if (i % 10 == 9) {
      auto ids = sim.ItemIds(user, "messages");
      sim.DeleteItem(user, "messages", ids.front());
    }
  }
  // Graph is refused (503) and retries; the daemon stays up all the while.
  int64_t refused = 0;
  for (int i = 0; i < 500 && refused <= 0; ++i) {
    std::this_thread::sleep_for(10ms);
    refused = Answered503(port);
  }
  CHECK(refused > 0);
  // The fault lasts until Graph has been refused several times over (its retries too).
  for (int i = 0; i < 1000 && sim.Deliveries().failed_attempts < 10; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(::waitpid(pid, nullptr, WNOHANG) == 0);  // still running
  CHECK(sim.Deliveries().failed_attempts >= 10);

  // Storage works again: everything Graph retries lands, and the mirror converges.
  if (small) {
    small->Free();
  } else {
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    REQUIRE(::prlimit(pid, RLIMIT_FSIZE, &unlimited, nullptr) == 0);
  }
  bool converged = false;
  for (int i = 0; i < 3000 && !converged; ++i) {
    std::this_thread::sleep_for(10ms);
    converged = sim.Deliveries().pending_items == 0 &&
                Query(db,
                      "SELECT count(*) FROM notification_log "
                      "WHERE state IN ('received', 'failed')") == 0 &&
                MirrorEquals(sim, db, "messages");
  }
  CHECK(converged);
  REQUIRE(::waitpid(pid, nullptr, WNOHANG) == 0);
  ::kill(pid, SIGTERM);
  CHECK(WaitExit(pid) == 0);

  SQLite::Database mirror(db);
  CHECK(mirror.execAndGet("PRAGMA integrity_check").getString() == "ok");
  const AckedVersusLog acked =
      CompareAckedWithLog(sim, mirror, /*stored_subscriptions_only=*/false);
  CHECK(acked.acked >= 60);
  CHECK(acked.missing == 0);
  CHECK(sim.Deliveries().dropped_items == 0);
}

}  // namespace
}  // namespace graphmirror::test
