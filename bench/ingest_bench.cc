// Rows 1 and 2: durable ingest at the receiver.
//
// The engine's Receiver (the daemon's defaults: pool, keep-alive, commit deadline) on a
// real database, a known subscription, and `wrk` posting change notification bodies over
// keep-alive connections; every item is unique (wrk's Lua script numbers them), so each
// 202 stands for rows committed with synchronous=FULL. The log is counted afterwards:
// an acknowledged item that is not in the database fails the benchmark.
//
// Row 1 (1 item per POST): throughput at 64 connections, against an httplib server with
// the same settings that answers 202 without storing; then p99 of the ack at about 2,000
// POST/s (wrk's delay() paces each connection); then, with 10,000 idle connections open
// (slowloris peers that never send a byte), how long a valid delivery waits for its 202,
// whether any idle one was closed, and how many threads the receiver's process has.
// Row 2 (50 items per POST): items/s, against raw SQLite inserts of the same log rows,
// 50 per transaction, synchronous=FULL, one thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "engine/notify/receiver.h"
#include "engine/notify/subscription_table.h"
#include "engine/store/connection.h"
#include "engine/store/store.h"

namespace graphmirror::bench {
namespace {

constexpr char kSubscriptionId[] = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07";
constexpr char kClientState[] = "bench-client-state-5b1d2e0f8a9c4e7d9f3b6a1c2d4e6f80aa";
constexpr char kUserId[] = "e86d5215-954d-4f9c-89ed-fea107416c98";

// A Graph change notification item as Outlook sends it, with %d holes for the wrk
// thread, the request number and the item's index (unique ids and resources).
constexpr char kItemFormat[] =
    R"({"id":"n-%d-%d-%d","subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07",)"
    R"("subscriptionExpirationDateTime":"2026-12-05T18:23:45.9356913Z",)"
    R"("clientState":"bench-client-state-5b1d2e0f8a9c4e7d9f3b6a1c2d4e6f80aa",)"
    R"("changeType":"created",)"
    R"("resource":"Users/e86d5215-954d-4f9c-89ed-fea107416c98/Messages/AAMkAD-%d-%d-%d",)"
    R"("resourceData":{"@odata.type":"#Microsoft.Graph.Message",)"
    R"("@odata.id":"Users/e86d5215-954d-4f9c-89ed-fea107416c98/Messages/AAMkAD-%d-%d-%d",)"
    R"("@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"",)"
    R"("id":"AAMkAD-%d-%d-%d"},"tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"})";

// wrk's script: each thread numbers its requests; `delay_ms` > 0 paces each connection.
std::string WrkScript(int items, int delay_ms) {
  std::string item = kItemFormat;
  // Lua's string.format takes %d as C does; quotes must be escaped for a Lua string.
  std::string lua_item;
  for (char c : item) {
    if (c == '\\' || c == '"') lua_item += '\\';
    lua_item += c;
  }
  std::string script = R"(
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local counter = 0
function init(args)
  tid = tonumber(wrk.thread:get("tid"))
end
local item = ")" + lua_item +
                       R"("
local items = )" + std::to_string(items) +
                       R"(
local headers = {["Content-Type"] = "application/json"}
function request()
  counter = counter + 1
  local parts = {}
  for i = 1, items do
    parts[i] = string.format(item, tid, counter, i, tid, counter, i, tid, counter, i, tid, counter, i)
  end
  return wrk.format("POST", "/notifications", headers, '{"value":[' .. table.concat(parts, ",") .. ']}')
end
)";
  if (delay_ms > 0) script += "function delay() return " + std::to_string(delay_ms) + " end\n";
  return script;
}

struct WrkResult {
  bool ok = false;
  double seconds = 0;
  double requests = 0;
  double non_2xx = 0;
  double errors = 0;  // connect, read, write, timeout
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  std::string text;
};

double ToMs(const std::string& number, const std::string& unit) {
  double v = std::stod(number);
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60000;
  return v;  // ms
}

WrkResult RunWrk(const std::string& url, const std::string& script_path, int connections,
                 int seconds) {
  WrkResult r;
  auto out = Capture({"wrk", "-t2", "-c" + std::to_string(connections),
                      "-d" + std::to_string(seconds) + "s", "--timeout", "5s", "--latency", "-s",
                      script_path, url});
  if (!out) return r;
  r.text = *out;
  std::smatch m;
  if (std::regex_search(*out, m, std::regex(R"((\d+) requests in ([\d.]+)(ms|s|m))"))) {
    r.requests = std::stod(m[1]);
    r.seconds = ToMs(m[2], m[3]) / 1000;
  }
  if (std::regex_search(*out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    r.non_2xx = std::stod(m[1]);
  }
  if (std::regex_search(
          *out, m,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    r.errors = std::stod(m[1]) + std::stod(m[2]) + std::stod(m[3]) + std::stod(m[4]);
  }
  auto percentile = [&](const char* p, double* into) {
    std::smatch pm;
    if (std::regex_search(*out, pm,
                          std::regex(std::string(R"(\s)") + p + R"(%\s+([\d.]+)(us|ms|s|m))"))) {
      *into = ToMs(pm[1], pm[2]);
    }
  };
  percentile("50", &r.p50_ms);
  percentile("90", &r.p90_ms);
  percentile("99", &r.p99_ms);
  r.ok = r.seconds > 0;
  return r;
}

// The daemon's receiver on a fresh database with one known subscription.
struct DurableReceiver {
  std::unique_ptr<store::Store> store;
  notify::SubscriptionTable subscriptions;
  std::unique_ptr<notify::Receiver> receiver;
};

std::unique_ptr<DurableReceiver> StartReceiver(const std::string& db_path,
                                               notify::ReceiverOptions options = {}) {
  auto r = std::make_unique<DurableReceiver>();
  auto store = store::Store::Open(db_path, SystemClock::Default());
  if (!store.ok()) {
    std::cerr << "ingest: " << store.status().ToString() << "\n";
    return nullptr;
  }
  r->store = std::move(*store);
  r->subscriptions.Put(
      {kSubscriptionId, kUserId, Collection::kMessages, kClientState, {}, {}, false});
  r->receiver = std::make_unique<notify::Receiver>(std::move(options), &r->subscriptions,
                                                   r->store.get(), SystemClock::Default());
  Status started = r->receiver->Start();
  if (!started.ok()) {
    std::cerr << "ingest: " << started.ToString() << "\n";
    return nullptr;
  }
  return r;
}

// The baseline of row 1: httplib as the receiver configures it, answering 202 at once.
class NullServer {
 public:
  NullServer() {
    server_.new_task_queue = [] {
      return new httplib::ThreadPool(notify::ReceiverOptions{}.threads);
    };
    server_.set_keep_alive_timeout(notify::ReceiverOptions{}.keep_alive.count());
    server_.set_keep_alive_max_count(1000);
    server_.set_tcp_nodelay(true);
    server_.Post("/notifications",
                 [](const httplib::Request&, httplib::Response& res) { res.status = 202; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~NullServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

int64_t LogRows(store::Store& store) {
  auto stats = store.log().Stats(kUserId);
  return stats.ok() ? stats->pending : -1;
}

// Acked POSTs and items of a run, checked against the log: every acknowledged item must
// be a row. Returns false (with a message) if one is missing.
bool CheckDurable(const WrkResult& run, int items_per_post, int64_t rows_before, int64_t rows_after,
                  double* acked_posts) {
  *acked_posts = run.requests - run.non_2xx;
  double acked_items = *acked_posts * items_per_post;
  // wrk counts only answered requests; a request cut off at the end may have committed
  // without wrk seeing its 202, so rows may exceed acks, never the reverse.
  if (static_cast<double>(rows_after - rows_before) < acked_items) {
    std::cerr << "ingest: " << acked_items << " items acknowledged but only "
              << rows_after - rows_before << " rows in the log\n";
    return false;
  }
  return true;
}

// Raw SQLite: the log rows the receiver writes for 50-item bodies, 50 per transaction,
// prepared once, WAL and synchronous=FULL as the store has them. Items/s; 0 on failure.
double RawSqliteInserts(const std::string& path, int per_transaction, bool smoke) {
  {
    // The store's schema, so the rows land in the same table with the same indexes.
    auto store = store::Store::Open(path, SystemClock::Default());
    if (!store.ok()) return 0;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 0;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, store::ConnectionPragmas(), nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR IGNORE INTO notification_log (dedupe_key, received_at, "
                     "subscription_id, user_id, collection, change_type, resource, item_id, "
                     "notification_id) VALUES (?1, ?2, ?3, ?4, 'messages', 'created', ?5, ?6, ?7)",
                     -1, &insert, nullptr);
  const double seconds = smoke ? 0.5 : 10;
  Stopwatch clock;
  int64_t items = 0;
  while (clock.Seconds() < seconds) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < per_transaction; ++i, ++items) {
      std::string n = std::to_string(items);
      std::string id = "AAMkAD-" + n;
      std::string key = "n:n-" + n;
      std::string resource = std::string("Users/") + kUserId + "/Messages/" + id;
      sqlite3_reset(insert);
      sqlite3_bind_text(insert, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 2, "2026-12-02T10:00:00.000Z", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, kSubscriptionId, -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, kUserId, -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 5, resource.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 6, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 7, key.c_str() + 2, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        std::cerr << "ingest: raw insert failed: " << sqlite3_errmsg(db) << "\n";
        sqlite3_finalize(insert);
        sqlite3_close(db);
        return 0;
      }
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double rate = static_cast<double>(items) / clock.Seconds();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return rate;
}

int ConnectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

size_t ThreadsOfThisProcess() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

struct IdleResult {
  bool ok = false;
  int idle = 0;               // connections opened and left idle
  int closed = 0;             // of them, closed by the receiver before the deliveries ended
  double worst_ms = 0;        // the slowest of the deliveries' 202s
  size_t threads = 0;         // of this process while they were open
  size_t threads_before = 0;  // of this process before they were opened
  uint64_t evicted = 0;       // connections the receiver closed to make room
  uint64_t refused = 0;       // connections answered 503
};

// A child process that opens `count` connections to `port` which never send a byte, so
// that only the receiver's side of them counts against this process's descriptors. It
// says how many it opened, holds them until told, then says how many the receiver had
// closed meanwhile. Only system calls run after fork().
class IdlePeers {
 public:
  IdlePeers(int port, int count) {
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    std::vector<int> fds(static_cast<size_t>(count), -1);
    pid_ = ::fork();
    if (pid_ == 0) {
      int opened = 0;
      for (; opened < count; ++opened) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
          break;
        }
        fds[static_cast<size_t>(opened)] = fd;
      }
      (void)!::write(up[1], &opened, sizeof(opened));
      char go;
      (void)!::read(down[0], &go, 1);
      int closed = 0;
      for (int i = 0; i < opened; ++i) {
        char byte;
        const ssize_t n = ::recv(fds[static_cast<size_t>(i)], &byte, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++closed;
      }
      (void)!::write(up[1], &closed, sizeof(closed));
      ::_exit(0);
    }
    ::close(up[1]);
    ::close(down[0]);
    up_ = up[0];
    down_ = down[1];
    if (pid_ < 0 || ::read(up_, &opened_, sizeof(opened_)) != sizeof(opened_)) opened_ = -1;
  }
  ~IdlePeers() {
    if (up_ >= 0) ::close(up_);
    if (down_ >= 0) ::close(down_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  int opened() const { return opened_; }
  // How many the receiver closed; -1 if the child did not say. Ends the child.
  int Finish() {
    int closed = -1;
    if (down_ < 0 || ::write(down_, "x", 1) != 1 ||
        ::read(up_, &closed, sizeof(closed)) != sizeof(closed)) {
      return -1;
    }
    return closed;
  }

 private:
  pid_t pid_ = -1;
  int up_ = -1;
  int down_ = -1;
  int opened_ = -1;
};

// Opens `idle` connections that send nothing, then times deliveries on fresh connections
// (connect, POST, 202) while they stay open: keep_alive is long, so that the receiver
// may only close them to make room.
IdleResult IdleConnections(const WorkDir& dir, int idle, int deliveries) {
  IdleResult result;
  notify::ReceiverOptions options;
  options.keep_alive = std::chrono::seconds(600);
  auto durable = StartReceiver(dir.Path("ingest-idle.db"), options);
  if (!durable) return result;
  const int port = durable->receiver->port();
  // The threads of the rows' earlier receivers take a moment to end.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  result.threads_before = ThreadsOfThisProcess();
  IdlePeers peers(port, idle);
  if (peers.opened() != idle) {
    std::cerr << "ingest: opened " << peers.opened() << " of " << idle << " idle connections\n";
    return result;
  }
  // Let the receiver take in every one of them before the deliveries come.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  result.idle = peers.opened();
  result.threads = ThreadsOfThisProcess();
  bool all = true;
  for (int i = 0; i < deliveries && all; ++i) {
    char item[2048];
    std::snprintf(item, sizeof(item), kItemFormat, 9, i, 0, 9, i, 0, 9, i, 0, 9, i, 0);
    const std::string body = std::string(R"({"value":[)") + item + "]}";
    const std::string request =
        "POST /notifications HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    const Stopwatch clock;
    const int fd = ConnectTo(port);
    std::string answer;
    if (fd >= 0 && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(request.size())) {
      pollfd p{fd, POLLIN, 0};
      char buffer[512];
      while (answer.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 10000) > 0) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        answer.append(buffer, static_cast<size_t>(n));
      }
    }
    result.worst_ms = std::max(result.worst_ms, clock.Seconds() * 1000);
    if (fd >= 0) ::close(fd);
    if (answer.rfind("HTTP/1.1 202", 0) != 0) {
      std::cerr << "ingest: with " << result.idle << " idle connections a delivery got \""
                << answer.substr(0, answer.find('\r')) << "\"\n";
      all = false;
    }
  }
  result.evicted = durable->receiver->stats().evicted.load();
  result.refused = durable->receiver->stats().refused.load();
  result.closed = peers.Finish();
  if (result.closed < 0) {
    std::cerr << "ingest: the idle connections' process did not report\n";
    all = false;
  }
  durable->receiver->Stop();
  result.ok = all && LogRows(*durable->store) == deliveries;
  if (all && !result.ok) std::cerr << "ingest: an acknowledged delivery is not in the log\n";
  return result;
}

int ThroughputRow(const Options& options, const WorkDir& dir, int row, int items_per_post) {
  const int connections = options.smoke ? 4 : 64;
  const int seconds = options.smoke ? 1 : 30;
  std::string script = dir.Path("post" + std::to_string(items_per_post) + ".lua");
  WriteFile(script, WrkScript(items_per_post, 0));

  auto durable = StartReceiver(dir.Path("ingest" + std::to_string(row) + ".db"));
  if (!durable) return 1;
  std::string url = "http://127.0.0.1:" + std::to_string(durable->receiver->port());
  int64_t before = LogRows(*durable->store);
  WrkResult run = RunWrk(url, script, connections, seconds);
  durable->receiver->Stop();
  int64_t after = LogRows(*durable->store);
  if (!run.ok) {
    std::cerr << "ingest: wrk did not run (is it installed?)\n" << run.text;
    return 1;
  }
  double acked = 0;
  if (!CheckDurable(run, items_per_post, before, after, &acked)) return 1;
  const double posts_per_s = acked / run.seconds;
  const double unavailable = static_cast<double>(durable->receiver->stats().unavailable.load());

  Row r;
  r.number = row;
  r.reproduce = "bench/run --only " + std::to_string(row);
  if (items_per_post == 1) {
    NullServer null_server;
    WrkResult base = RunWrk("http://127.0.0.1:" + std::to_string(null_server.port()), script,
                            connections, seconds);
    if (!base.ok) return 1;
    const double base_rate = (base.requests - base.non_2xx) / base.seconds;

    // The ack's latency at a set rate: each connection waits delay() before each request.
    const int target_rate = options.smoke ? 200 : 2000;
    std::string paced = dir.Path("paced.lua");
    // wrk waits delay() and then the answer, so the period is a little over the delay.
    WriteFile(paced, WrkScript(1, connections * 1000 / target_rate - 2));
    auto durable2 = StartReceiver(dir.Path("ingest-paced.db"));
    if (!durable2) return 1;
    int64_t before2 = LogRows(*durable2->store);
    WrkResult at_rate = RunWrk("http://127.0.0.1:" + std::to_string(durable2->receiver->port()),
                               paced, connections, seconds);
    durable2->receiver->Stop();
    double acked2 = 0;
    if (!at_rate.ok || !CheckDurable(at_rate, 1, before2, LogRows(*durable2->store), &acked2)) {
      return 1;
    }
    const double paced_rate = acked2 / at_rate.seconds;
    const int idle_count = options.smoke ? 300 : 10000;
    const IdleResult idle = IdleConnections(dir, idle_count, options.smoke ? 3 : 20);
    if (!idle.ok) return 1;

    r.what = "durable ingest, 1 item per POST";
    r.value = posts_per_s;
    r.unit = "POST/s";
    r.baseline = base_rate;
    r.baseline_what = "httplib answering 202 without storing";
    r.target =
        ">= 10,000 acked POST/s and >= 0.5 of baseline; p99 ack <= 5 ms at 2,000 POST/s; with "
        "10,000 idle connections open, a delivery answered 202 within 100 ms";
    r.met = !options.smoke && posts_per_s >= 10000 && posts_per_s >= 0.5 * base_rate &&
            at_rate.p99_ms <= 5 && paced_rate >= 0.9 * target_rate && idle.worst_ms <= 100 &&
            idle.closed == 0 && idle.threads <= idle.threads_before + 8;
    r.detail = Format(
        "ratio %.2f; %d connections, %d s; p50 %.2f ms, p99 %.2f ms at full load; at "
        "%.0f POST/s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms; 503s %.0f, socket errors "
        "%.0f; every acked item found in the log; with %d idle connections open (held by "
        "another process): %d deliveries on new connections, slowest 202 after %.1f ms, %d "
        "idle ones closed meanwhile (%llu to make room), %llu refused, %zu threads in the "
        "process (%zu before the idle connections)",
        posts_per_s / base_rate, connections, seconds, run.p50_ms, run.p99_ms, paced_rate,
        at_rate.p50_ms, at_rate.p90_ms, at_rate.p99_ms, unavailable, run.errors, idle.idle,
        options.smoke ? 3 : 20, idle.worst_ms, idle.closed,
        static_cast<unsigned long long>(idle.evicted),
        static_cast<unsigned long long>(idle.refused), idle.threads, idle.threads_before);
  } else {
    const double items_per_s = posts_per_s * items_per_post;
    double base_rate = RawSqliteInserts(dir.Path("raw.db"), items_per_post, options.smoke);
    if (base_rate <= 0) return 1;
    r.what = "durable ingest, 50 items per POST";
    r.value = items_per_s;
    r.unit = "items/s";
    r.baseline = base_rate;
    r.baseline_what = "raw SQLite inserts, 50 per transaction, synchronous=FULL";
    r.target = ">= 60,000 items/s and >= 0.6 of baseline";
    r.met = !options.smoke && items_per_s >= 60000 && items_per_s >= 0.6 * base_rate;
    r.detail = Format(
        "ratio %.2f; %.0f POST/s, %d connections, %d s; p50 %.2f ms, p99 %.2f ms; 503s "
        "%.0f, socket errors %.0f; every acked item found in the log",
        items_per_s / base_rate, posts_per_s, connections, seconds, run.p50_ms, run.p99_ms,
        unavailable, run.errors);
  }
  PrintRow(r);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "ingest", "Durable ingest at the receiver (rows 1 and 2)",
                   [](const Options& options) {
                     WorkDir dir(options, "ingest");
                     int rc = 0;
                     if (Wanted(options, 1)) rc |= ThroughputRow(options, dir, 1, 1);
                     if (Wanted(options, 2)) rc |= ThroughputRow(options, dir, 2, 50);
                     return rc;
                   });
}
