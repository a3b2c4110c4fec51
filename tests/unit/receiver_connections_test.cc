// Receiver: how it holds up against slow and numerous connections (slowloris, floods,
// overload), over real loopback TCP.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/notify/receiver.h"
#include "tests/unit/receiver_fixture.h"

namespace graphmirror::notify {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Reads what the server sends within `wait`; "" if nothing (or only its close) came.
std::string ReadAnswer(int fd, std::chrono::milliseconds wait) {
  std::string answer;
  const auto deadline = SteadyClock::now() + wait;
  while (SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) break;
    char buffer[1024];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos) break;
  }
  return answer;
}

// True once the server has closed `fd` (EOF or reset on a read that does not block).
bool ClosedByServer(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

size_t ThreadsOfThisProcess() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

template <typename T>
void RaiseTo(std::atomic<T>& most, T value) {
  T seen = most.load();
  while (value > seen && !most.compare_exchange_weak(seen, value)) {
  }
}

// Slow clients: each sends its request a byte at a time, `interval` apart, well inside
// any per-read timeout. Half trickle their headers, half a declared body.
struct Slowloris {
  Slowloris(int port, int connections, std::chrono::milliseconds interval) : interval(interval) {
    for (int i = 0; i < connections; ++i) {
      const int fd = ConnectRaw(port);
      REQUIRE(fd >= 0);
      fds.push_back(fd);
      const std::string head =
          i % 2 == 0 ? std::string("POST /notifications HTTP/1.1\r\nHost: x\r\n")
                     : std::string(
                           "POST /notifications HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
      REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(head.size()));
    }
    trickler = std::thread([this] {
      while (!stop.load()) {
        size_t open = 0;
        for (size_t i = 0; i < fds.size(); ++i) {
          if (closed_at[i] != SteadyClock::time_point{}) continue;
          const char byte = i % 2 == 0 ? 'X' : ' ';
          if (ClosedByServer(fds[i]) || ::send(fds[i], &byte, 1, MSG_NOSIGNAL) != 1) {
            closed_at[i] = SteadyClock::now();
            ++closed;
          } else {
            ++open;
          }
        }
        if (open == 0) return;
        std::this_thread::sleep_for(this->interval);
      }
    });
  }
  ~Slowloris() {
    Join();
    for (int fd : fds) ::close(fd);
  }
  // Stops trickling; closed_at may be read after.
  void Join() {
    stop = true;
    if (trickler.joinable()) trickler.join();
  }

  const std::chrono::milliseconds interval;
  std::vector<int> fds;
  std::vector<SteadyClock::time_point> closed_at = std::vector<SteadyClock::time_point>(256);
  std::atomic<size_t> closed{0};
  std::atomic<bool> stop{false};
  std::thread trickler;
};

TEST_CASE("receiver: slowloris connections neither starve deliveries nor stay open", "[notify]") {
  ReceiverOptions options;
  options.threads = 8;
  options.max_connections = 128;
  options.request_timeout = 1500ms;
  Fixture f(options);
  const auto started = SteadyClock::now();
  // Far more slow connections than workers at start.
  Slowloris slow(f.receiver->port(), 70, 200ms);
  std::this_thread::sleep_for(300ms);

  // Deliveries from Graph meanwhile: each answered well within Graph's 3 s.
  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < 10; ++i) {
    auto cli = f.Client();
    const auto sent = SteadyClock::now();
    auto res = cli.Post("/notifications",
                        Body({Item("sub-1", "cs-1", "m" + std::to_string(i), "e1")}), kJson);
    slowest = std::max(
        slowest, std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - sent));
    REQUIRE(res);
    CHECK(res->status == 202);
  }
  INFO("slowest delivery: " << slowest.count() << " ms");
  CHECK(slowest < 3s);

  // Every slow connection is cut once its request took longer than request_timeout.
  while (slow.closed < 70 && SteadyClock::now() - started < 8s) {
    std::this_thread::sleep_for(50ms);
  }
  slow.Join();
  CHECK(slow.closed == 70);
  for (size_t i = 0; i < 70; ++i) {
    const auto held = slow.closed_at[i] - started;
    CHECK(held >= 1400ms);
    CHECK(held < 5s);
  }
  CHECK(f.receiver->stats().timed_out == 70);
  // Only the real deliveries reached the log; nothing of the slow ones.
  CHECK(f.Rows() == 10);
  CHECK(f.receiver->stats().accepted == 10);
}

TEST_CASE("receiver: a connection beyond max_connections gets 503 at once", "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 4;
  options.request_timeout = 5s;
  Fixture f(options);
  // Four connections inside a request hold every worker the receiver may have.
  std::vector<int> holders;
  for (int i = 0; i < 4; ++i) {
    holders.push_back(ConnectRaw(f.receiver->port()));
    REQUIRE(holders.back() >= 0);
    const std::string partial = "POST /notifications HTTP/1.1\r\n";
    ::send(holders.back(), partial.data(), partial.size(), MSG_NOSIGNAL);
  }
  std::this_thread::sleep_for(200ms);

  const int extra = ConnectRaw(f.receiver->port());
  REQUIRE(extra >= 0);
  const std::string request =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}";
  const auto sent = SteadyClock::now();
  ::send(extra, request.data(), request.size(), MSG_NOSIGNAL);
  const std::string answer = ReadAnswer(extra, 2000ms);
  const auto took = SteadyClock::now() - sent;
  ::close(extra);
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(took < 500ms);
  CHECK(f.receiver->stats().refused == 1);
  CHECK(f.receiver->stats().requests == 0);

  // Once the holders go, deliveries are served again.
  for (int fd : holders) ::close(fd);
  std::this_thread::sleep_for(100ms);
  auto res = f.Client().Post("/notifications", Body({Item("sub-1", "cs-1", "m1", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
}

TEST_CASE("receiver: overload is refused fast, bounded, and loses nothing acknowledged",
          "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 6;
  Fixture f(options);
  const size_t threads_before = ThreadsOfThisProcess();
  // A stalled disk for the first moments: deliveries wait for their commit, the
  // connections fill up, and the ones beyond must be refused rather than queued.
  SQLite::Database blocker(f.dir.Path("mirror.db"), SQLite::OPEN_READWRITE);
  blocker.exec("BEGIN EXCLUSIVE");
  std::thread release([&] {
    std::this_thread::sleep_for(500ms);
    blocker.exec("ROLLBACK");
  });
  constexpr int kSenders = 32;
  constexpr int kPerSender = 10;
  std::atomic<int> acked{0}, refused{0};
  std::atomic<int64_t> slowest_refusal_ms{0};
  std::atomic<size_t> most_threads{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i) {
        const std::string id = "m-" + std::to_string(s) + "-" + std::to_string(i);
        // Graph's way: retry what was not acknowledged (here at once, to keep the load on).
        for (int attempt = 0; attempt < 2000; ++attempt) {
          httplib::Client cli("127.0.0.1", f.receiver->port());
          cli.set_keep_alive(false);
          const auto sent = SteadyClock::now();
          auto res = cli.Post("/notifications", Body({Item("sub-1", "cs-1", id, "e1")}), kJson);
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - sent)
                  .count();
          if (res && res->status == 202) {
            ++acked;
            break;
          }
          if (res && res->status == 503) {
            ++refused;
            RaiseTo(slowest_refusal_ms, ms);
          }
          RaiseTo(most_threads, ThreadsOfThisProcess());
        }
      }
    });
  }
  for (std::thread& t : senders) t.join();
  release.join();
  CHECK(acked == kSenders * kPerSender);
  INFO("refused " << refused << ", slowest refusal " << slowest_refusal_ms << " ms");
  CHECK(refused > 0);
  CHECK(f.receiver->stats().refused >= static_cast<uint64_t>(refused.load()));
  CHECK(slowest_refusal_ms < 1000);
  // The receiver grew to max_connections workers, not one per waiting sender.
  CHECK(most_threads <= threads_before + kSenders + 6);
  // Every acknowledged item is in the log, once.
  CHECK(f.Rows() == kSenders * kPerSender);
  // And with the load gone, a delivery is served at once.
  auto res = f.Client().Post("/notifications", Body({Item("sub-1", "cs-1", "after", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
}

TEST_CASE("receiver: Stop() closes idle keep-alive connections at once", "[notify]") {
  ReceiverOptions options;
  options.keep_alive = 30s;
  Fixture f(options);
  auto cli = f.Client();
  cli.set_keep_alive(true);
  auto res = cli.Post("/notifications?validationToken=k", "", "text/plain");
  REQUIRE(res);
  CHECK(res->body == "k");
  const auto stopping = SteadyClock::now();
  f.receiver->Stop();
  CHECK(SteadyClock::now() - stopping < 1s);
}

}  // namespace
}  // namespace graphmirror::notify
