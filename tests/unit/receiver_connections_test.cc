// Receiver: how it holds up against slow and numerous connections (slowloris, floods,
// overload), over real loopback TCP.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/notify/receiver.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"
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

// Start() returns once the receiver listens, a moment before its workers and its parking
// thread exist: waits for them (at least `workers` + 2 threads more than `before`, the
// count before the receiver was made) and returns the count then.
size_t ThreadsOnceStarted(size_t before, int workers) {
  const auto give_up = SteadyClock::now() + std::chrono::seconds(60);
  while (ThreadsOfThisProcess() < before + static_cast<size_t>(workers) + 2 &&
         SteadyClock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ThreadsOfThisProcess();
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

// Waits (for a generous while, so that a loaded machine or a sanitizer does not decide
// the outcome) until `done()`; false if it never was.
template <typename Predicate>
bool Eventually(Predicate done, std::chrono::seconds patience = 120s) {
  const auto give_up = SteadyClock::now() + patience;
  while (!done()) {
    if (SteadyClock::now() > give_up) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The assertions below are about order, not speed: each compares the moment of an answer
// or a cut with a moment the test controls, so a slow machine cannot fail them and a
// receiver that queued deliveries behind slow connections cannot pass them.
// A connection inside a request's body: its head came whole, so it holds a worker.
int HoldWorker(int port) {
  const int fd = ConnectRaw(port);
  const std::string partial =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{";
  if (fd >= 0) ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
  return fd;
}

// A connection inside a request's head: parked, it holds no worker.
int TrickleHead(int port) {
  const int fd = ConnectRaw(port);
  const std::string partial = "POST /notifications HTTP/1.1\r\n";
  if (fd >= 0) ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
  return fd;
}

// The assertions below are about order, not speed: each compares the moment of an answer
// or a cut with a moment the test controls, so a slow machine cannot fail them and a
// receiver that queued deliveries behind slow connections cannot pass them.
TEST_CASE("receiver: slowloris connections neither starve deliveries nor stay open", "[notify]") {
  constexpr size_t kSlow = 70;
  {
    // Slow connections that are never cut while the deliveries run: a delivery is only
    // answered if it does not wait for any of them.
    ReceiverOptions options;
    options.threads = 8;
    options.max_connections = 128;
    options.request_timeout = 10min;
    const size_t threads_at_start = ThreadsOfThisProcess();
    Fixture f(options);
    const size_t threads_before = ThreadsOnceStarted(threads_at_start, options.threads);
    // Far more slow connections than workers at start. Those trickling a body hold a
    // worker each; those trickling their head wait parked and hold none.
    Slowloris slow(f.receiver->port(), kSlow, 200ms);
    REQUIRE(Eventually([&] { return ThreadsOfThisProcess() >= threads_before + kSlow / 2 - 8; }));

    // Deliveries from Graph meanwhile: each answered while every slow connection is open.
    for (int i = 0; i < 10; ++i) {
      auto cli = f.Client();
      cli.set_read_timeout(300, 0);  // far below request_timeout: an answer that waited fails
      auto res = cli.Post("/notifications",
                          Body({Item("sub-1", "cs-1", "m" + std::to_string(i), "e1")}), kJson);
      REQUIRE(res);
      CHECK(res->status == 202);
    }
    // Not one thread per slow head (35 more): the body tricklers' workers, and a few for
    // the deliveries (each new connection's worker lingers a moment after its answer).
    CHECK(ThreadsOfThisProcess() <= threads_before + kSlow / 2 - 8 + 5);
    CHECK(slow.closed == 0);
    CHECK(f.receiver->stats().timed_out == 0);
    CHECK(f.Rows() == 10);
    CHECK(f.receiver->stats().accepted == 10);
  }
  {
    // Every slow connection is cut once its request took longer than request_timeout,
    // though it never stops sending, and nothing of it reaches the log: parked heads by
    // the parking thread, bodies by their worker.
    ReceiverOptions options;
    options.threads = 8;
    options.max_connections = 128;
    options.request_timeout = 1500ms;
    Fixture f(options);
    const auto started = SteadyClock::now();
    Slowloris slow(f.receiver->port(), kSlow, 200ms);
    CHECK(Eventually([&] { return slow.closed == kSlow; }));
    slow.Join();
    CHECK(slow.closed == kSlow);
    for (size_t i = 0; i < kSlow; ++i) {
      // Not before its deadline (1.5 s from its first byte, sent after `started`).
      CHECK(slow.closed_at[i] - started >= 1400ms);
    }
    CHECK(f.receiver->stats().timed_out == kSlow);
    CHECK(f.Rows() == 0);
    CHECK(f.receiver->stats().accepted == 0);
  }
}

TEST_CASE("receiver: a request beyond max_connections gets 503 at once", "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 4;
  options.request_timeout = 10min;  // the holders are never cut while the test runs
  Fixture f(options);
  std::vector<int> heads;
  std::vector<int> holders;
  // Closed before the receiver stops, which waits for the holders' requests to end (a
  // failed REQUIRE would otherwise leave it waiting out request_timeout).
  struct CloseAtEnd {
    std::vector<int>& a;
    std::vector<int>& b;
    ~CloseAtEnd() {
      for (int fd : a) ::close(fd);
      for (int fd : b) ::close(fd);
    }
  } close_at_end{heads, holders};
  const std::string request =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}";
  // Connections inside a head are parked: however many, they leave every worker free.
  for (int i = 0; i < 8; ++i) {
    heads.push_back(TrickleHead(f.receiver->port()));
    REQUIRE(heads.back() >= 0);
  }
  int extra = ConnectRaw(f.receiver->port());
  REQUIRE(extra >= 0);
  ::send(extra, request.data(), request.size(), MSG_NOSIGNAL);
  CHECK(ReadAnswer(extra, 60000ms).rfind("HTTP/1.1 400", 0) == 0);  // "{}" has no value
  ::close(extra);

  // Four connections inside a body hold every worker the receiver may have. Each holder's
  // head read (its request counted) means a worker is inside its body. On a loaded machine
  // the 400's worker may not have let go yet when a holder comes: every worker is then
  // busy with a fresh request, the holder is refused (503), and it tries again.
  uint64_t holders_refused = 0;
  while (holders.size() < 4) {
    const uint64_t refused = f.receiver->stats().refused;
    const int fd = HoldWorker(f.receiver->port());
    REQUIRE(fd >= 0);
    const uint64_t served = 2 + holders.size();
    for (int i = 0; i < 6000 && f.receiver->stats().requests < served &&
                    f.receiver->stats().refused == refused;
         ++i) {
      std::this_thread::sleep_for(10ms);
    }
    if (f.receiver->stats().refused == refused) {
      REQUIRE(f.receiver->stats().requests == served);
      holders.push_back(fd);
      continue;
    }
    ::close(fd);
    REQUIRE(++holders_refused < 100);
  }
  REQUIRE(f.receiver->stats().requests == 5);
  std::this_thread::sleep_for(50ms);

  extra = ConnectRaw(f.receiver->port());
  REQUIRE(extra >= 0);
  ::send(extra, request.data(), request.size(), MSG_NOSIGNAL);
  // "At once": while every holder still holds its worker. A connection queued for a
  // worker would get no answer before a holder's request_timeout.
  const std::string answer = ReadAnswer(extra, 60000ms);
  ::close(extra);
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find("Retry-After: 1\r\n") != std::string::npos);
  for (int fd : holders) CHECK_FALSE(ClosedByServer(fd));
  for (int fd : heads) CHECK_FALSE(ClosedByServer(fd));
  CHECK(f.receiver->stats().timed_out == 0);
  CHECK(f.receiver->stats().refused == 1 + holders_refused);
  CHECK(f.receiver->stats().evicted == 0);
  CHECK(f.receiver->stats().requests == 5);  // the 400 and the holders' (in their bodies)

  // Once the holders go, deliveries are served again.
  for (int fd : holders) ::close(fd);
  for (int fd : heads) ::close(fd);
  holders.clear();
  heads.clear();
  std::this_thread::sleep_for(100ms);
  auto res = f.Client().Post("/notifications", Body({Item("sub-1", "cs-1", "m1", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
}

// Sends one delivery on `fd` and reads its answer.
std::string Post(int fd, const std::string& id) {
  const std::string body = Body({Item("sub-1", "cs-1", id, "e1")});
  const std::string request =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  return ReadAnswer(fd, 5000ms);
}

TEST_CASE("receiver: idle connections hold no worker and close after keep_alive", "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 4;
  options.keep_alive = std::chrono::seconds(3);
  const size_t threads_at_start = ThreadsOfThisProcess();
  Fixture f(options);
  const size_t threads_before = ThreadsOnceStarted(threads_at_start, options.threads);
  const auto opened = SteadyClock::now();
  // Eight keep-alive connections that delivered once, and 200 that never sent a byte:
  // fifty times the workers the receiver may have.
  std::vector<int> kept, silent;
  for (int i = 0; i < 8; ++i) {
    kept.push_back(ConnectRaw(f.receiver->port()));
    REQUIRE(Post(kept.back(), "k" + std::to_string(i)).rfind("HTTP/1.1 202", 0) == 0);
  }
  for (int i = 0; i < 200; ++i) {
    silent.push_back(ConnectRaw(f.receiver->port()));
    REQUIRE(silent.back() >= 0);
  }
  // A delivery on a new connection, and one on a kept one, are served; none is closed.
  const int fresh = ConnectRaw(f.receiver->port());
  CHECK(Post(fresh, "fresh").rfind("HTTP/1.1 202", 0) == 0);
  CHECK(Post(kept[0], "again").rfind("HTTP/1.1 202", 0) == 0);
  ::close(fresh);
  const bool before_keep_alive = SteadyClock::now() - opened < 2500ms;
  if (before_keep_alive) {  // else a loaded machine outlasted keep_alive: nothing to say
    for (int fd : silent) CHECK_FALSE(ClosedByServer(fd));
    for (int fd : kept) CHECK_FALSE(ClosedByServer(fd));
  }
  CHECK(f.receiver->stats().evicted == 0);
  CHECK(f.receiver->stats().refused == 0);
  // At most the workers max_connections allows (and the quarter more let in while
  // lingering ones are parked), not one per connection: 4 + 1 + 1 - the 2 at start.
  CHECK(ThreadsOfThisProcess() <= threads_before + 4);
  // After keep_alive (3 s) every one is closed, without counting as slow.
  CHECK(Eventually([&] { return std::all_of(silent.begin(), silent.end(), ClosedByServer); }));
  CHECK(Eventually([&] { return std::all_of(kept.begin(), kept.end(), ClosedByServer); }));
  CHECK(SteadyClock::now() - opened >= 2900ms);
  CHECK(f.receiver->stats().timed_out == 0);
  for (int fd : silent) ::close(fd);
  for (int fd : kept) ::close(fd);
  CHECK(f.Rows() == 10);
}

TEST_CASE("receiver: past max_idle_connections the longest idle connection is closed", "[notify]") {
  ReceiverOptions options;
  options.max_idle_connections = 4;
  options.keep_alive = std::chrono::seconds(600);
  Fixture f(options);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(ConnectRaw(f.receiver->port()));
    REQUIRE(idle.back() >= 0);
  }
  CHECK(Eventually([&] { return f.receiver->stats().evicted == 0; }));
  std::this_thread::sleep_for(100ms);
  CHECK(f.receiver->stats().evicted == 0);
  // Two more: the two opened first make room.
  for (int i = 0; i < 2; ++i) {
    idle.push_back(ConnectRaw(f.receiver->port()));
    REQUIRE(idle.back() >= 0);
  }
  CHECK(Eventually([&] { return f.receiver->stats().evicted == 2; }));
  CHECK(Eventually([&] { return ClosedByServer(idle[0]) && ClosedByServer(idle[1]); }));
  for (size_t i = 2; i < idle.size(); ++i) CHECK_FALSE(ClosedByServer(idle[i]));
  // The newest still serves a delivery.
  CHECK(Post(idle.back(), "m1").rfind("HTTP/1.1 202", 0) == 0);
  for (int fd : idle) ::close(fd);
  CHECK(f.Rows() == 1);
}

TEST_CASE("receiver: at max_connections, stalled requests make room for a delivery", "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 4;
  options.request_timeout = 10min;  // nothing is cut for slowness while the test runs
  Fixture f(options);
  std::vector<int> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(HoldWorker(f.receiver->port()));
    REQUIRE(stalled.back() >= 0);
  }
  // Fresh (under a second): the new connection is refused, none is cut.
  std::this_thread::sleep_for(200ms);
  int extra = ConnectRaw(f.receiver->port());
  CHECK(Post(extra, "early").rfind("HTTP/1.1 503", 0) == 0);
  ::close(extra);
  CHECK(f.receiver->stats().evicted == 0);
  // Past a second: the delivery takes the place of one of them.
  std::this_thread::sleep_for(1000ms);
  extra = ConnectRaw(f.receiver->port());
  CHECK(Post(extra, "m1").rfind("HTTP/1.1 202", 0) == 0);
  ::close(extra);
  CHECK(f.receiver->stats().evicted == 1);
  CHECK(Eventually(
      [&] { return std::count_if(stalled.begin(), stalled.end(), ClosedByServer) == 1; }));
  for (int fd : stalled) ::close(fd);
  CHECK(f.Rows() == 1);
}

TEST_CASE("receiver: overload is refused fast, bounded, and loses nothing acknowledged",
          "[notify]") {
  ReceiverOptions options;
  options.threads = 2;
  options.max_connections = 6;
  options.commit_timeout = 10min;  // a 503 here can only come from the door
  const size_t threads_at_start = ThreadsOfThisProcess();
  Fixture f(options);
  const size_t threads_before = ThreadsOnceStarted(threads_at_start, options.threads);
  // A stalled disk: the store's writer is held, deliveries wait for their commit, the
  // connections fill up, and the ones beyond must be refused rather than queued. The
  // stall lasts until the senders saw refusals, however long that takes here: a receiver
  // that queued them instead would never be let go (and fails below).
  constexpr int kSenders = 32;
  constexpr int kPerSender = 10;
  std::atomic<int> acked{0}, refused{0};
  std::promise<void> holding;
  bool refused_during_stall = false;
  Status held;
  std::thread stall([&] {
    held = f.store->Write([&](store::WriteContext&) {
      holding.set_value();
      refused_during_stall = Eventually([&] { return refused >= kSenders; });
    });
  });
  holding.get_future().wait();
  std::atomic<int64_t> slowest_refusal_ms{0};
  std::atomic<size_t> most_threads{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i) {
        const std::string id = "m-" + std::to_string(s) + "-" + std::to_string(i);
        // Graph's way: retry what was not acknowledged (here at once, to keep the load on).
        for (const auto give_up = SteadyClock::now() + 300s; SteadyClock::now() < give_up;) {
          httplib::Client cli("127.0.0.1", f.receiver->port());
          cli.set_keep_alive(false);
          cli.set_read_timeout(600, 0);
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
  stall.join();
  CHECK(held.ok());
  CHECK(acked == kSenders * kPerSender);
  INFO("refused " << refused << ", slowest refusal " << slowest_refusal_ms << " ms");
  // Refused while every worker waited for the held writer: without waiting for one.
  CHECK(refused_during_stall);
  CHECK(f.receiver->stats().refused >= static_cast<uint64_t>(refused.load()));
  CHECK(f.receiver->stats().unavailable == 0);
  // The receiver grew to at most max_connections workers (and the quarter more it lets in
  // while evicted connections wind down), not one per waiting sender; besides them, the
  // senders and the stall.
  const size_t most_workers = 6 + 6 / 4 + 1;
  CHECK(most_threads <= threads_before + kSenders + 1 + (most_workers - 2));
  // Every acknowledged item is in the log, once.
  CHECK(f.Rows() == kSenders * kPerSender);
  // And with the load gone, a delivery is served at once.
  auto res = f.Client().Post("/notifications", Body({Item("sub-1", "cs-1", "after", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
}

// The connection reads ahead of the request parser: bytes of the next request that arrive
// with this one must be kept for it, and a request split across packets still parses.
TEST_CASE("receiver: pipelined requests and requests split across packets", "[notify]") {
  Fixture f;
  const int fd = ConnectRaw(f.receiver->port());
  REQUIRE(fd >= 0);
  auto request = [](const std::string& id) {
    const std::string body = Body({Item("sub-1", "cs-1", id, "e1")});
    return "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  // Three requests in one send: a handshake between two deliveries.
  const std::string three = request("p1") +
                            "POST /notifications?validationToken=tok-2 HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 0\r\n\r\n" +
                            request("p3");
  REQUIRE(::send(fd, three.data(), three.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(three.size()));
  std::string answers;
  const auto deadline = SteadyClock::now() + 10s;
  auto count_answers = [&answers] {
    size_t n = 0;
    for (size_t at = answers.find("HTTP/1.1 "); at != std::string::npos;
         at = answers.find("HTTP/1.1 ", at + 1)) {
      ++n;
    }
    return n;
  };
  while (SteadyClock::now() < deadline && count_answers() < 3) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answers.append(buffer, static_cast<size_t>(n));
  }
  const size_t first = answers.find("HTTP/1.1 202");
  const size_t second = answers.find("HTTP/1.1 200", first);
  const size_t token = answers.find("tok-2", second);
  const size_t third = answers.find("HTTP/1.1 202", second);
  CHECK(first == 0);
  CHECK(second != std::string::npos);
  CHECK(token != std::string::npos);
  CHECK(third != std::string::npos);
  // One request sent a few bytes at a time, with pauses that outlast each packet.
  const std::string split = request("p4");
  for (size_t at = 0; at < split.size(); at += 7) {
    const std::string piece = split.substr(at, 7);
    REQUIRE(::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(piece.size()));
    if (at % 70 == 0) std::this_thread::sleep_for(2ms);
  }
  CHECK(ReadAnswer(fd, 10000ms).rfind("HTTP/1.1 202", 0) == 0);
  ::close(fd);
  CHECK(f.Rows() == 3);
}

// Answers are sent whole once a request is handled; an interim 100 Continue must still
// go out before the body is read (curl asks for one before a body over 1 KiB).
TEST_CASE("receiver: Expect: 100-continue is answered before the body is sent", "[notify]") {
  Fixture f;
  const int fd = ConnectRaw(f.receiver->port());
  REQUIRE(fd >= 0);
  const std::string body = Body({Item("sub-1", "cs-1", "c1", "e1")});
  const std::string head =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  CHECK(ReadAnswer(fd, 10000ms).rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  REQUIRE(::send(fd, body.data(), body.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(body.size()));
  CHECK(ReadAnswer(fd, 10000ms).rfind("HTTP/1.1 202", 0) == 0);
  ::close(fd);
  CHECK(f.Rows() == 1);
}

TEST_CASE("receiver: Stop() closes idle keep-alive connections at once", "[notify]") {
  ReceiverOptions options;
  options.keep_alive = 10min;
  Fixture f(options);
  auto cli = f.Client();
  cli.set_keep_alive(true);
  auto res = cli.Post("/notifications?validationToken=k", "", "text/plain");
  REQUIRE(res);
  CHECK(res->body == "k");
  const auto stopping = SteadyClock::now();
  f.receiver->Stop();
  // Waiting out the keep-alive would take 10 minutes; anything near that is a failure,
  // however loaded the machine.
  CHECK(SteadyClock::now() - stopping < 60s);
}

}  // namespace
}  // namespace graphmirror::notify
