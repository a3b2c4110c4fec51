#include "engine/notify/guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace graphmirror::notify {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Set while a request the pool has no room for is refused, on the thread that handed it
// over (the parking or the accepting one), which only writes a canned answer.
thread_local bool t_refusing = false;

constexpr std::string_view kBusyAnswer =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Retry-After: 1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 8\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too busy";

void AddressOf(socket_t sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t length = sizeof(addr);
  const int got = peer ? ::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &length)
                       : ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length);
  ip.clear();
  port = 0;
  if (got != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

// Each worker's own eventfd: MakeRoom writes it to end the worker's linger early.
int NudgeOfThisThread() {
  struct Nudge {
    Nudge() : fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    ~Nudge() {
      if (fd >= 0) ::close(fd);
    }
    const int fd;
  };
  thread_local Nudge nudge;
  return nudge.fd;
}

int MillisecondsUntil(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

}  // namespace

// httplib's TaskQueue, elastic: a connection gets an idle worker or a new one up to the
// limit, and is never queued behind busy ones; past the limit it is refused on the
// listening thread (which only writes a canned answer without blocking).
class GuardedServer::Pool : public httplib::TaskQueue {
 public:
  // `make_room`, at the limit: closes a connection that holds a worker for nothing (its
  // worker frees itself shortly); true if it did, and the new connection is then served.
  // `before_shutdown`: stops what hands the pool work, before its workers are joined.
  Pool(int threads, int max_threads, std::function<bool()> make_room,
       std::function<void()> before_shutdown)
      : max_threads_(static_cast<size_t>(max_threads)),
        // Connections let in while their evicted ones wind down: a bound on the overshoot.
        hard_limit_(max_threads_ + max_threads_ / 4 + 1),
        make_room_(std::move(make_room)),
        before_shutdown_(std::move(before_shutdown)) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }

  // httplib's accept loop hands each new connection here: it is set up and parked on
  // the accepting thread, which never blocks for it (see process_and_close_socket).
  void enqueue(std::function<void()> fn) override { fn(); }

  // Runs `fn` on a worker, or, with no room, at once on this thread as a refusal.
  void Submit(std::function<void()> fn) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Room while the connections being served and waiting stay under the limit. A
      // worker still starting counts as free: it takes the next job once it runs.
      bool room = !shutdown_ && busy_ + jobs_.size() < max_threads_;
      if (!room && !shutdown_ && busy_ + jobs_.size() < hard_limit_) {
        lock.unlock();
        room = make_room_();  // takes the server's lock, never this one
        lock.lock();
        room = room && !shutdown_ && busy_ + jobs_.size() < hard_limit_;
      }
      if (room) {
        jobs_.push_back(std::move(fn));
        if (threads_.size() < busy_ + jobs_.size()) threads_.emplace_back([this] { Work(); });
        lock.unlock();
        ready_.notify_one();
        return;
      }
    }
    t_refusing = true;
    fn();
    t_refusing = false;
  }

  void shutdown() override {
    before_shutdown_();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
      threads.swap(threads_);
    }
    ready_.notify_all();
    for (std::thread& thread : threads) thread.join();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ready_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
      if (jobs_.empty()) return;
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      ++busy_;
      lock.unlock();
      fn();
      lock.lock();
      --busy_;
    }
  }

  const size_t max_threads_;
  const size_t hard_limit_;
  const std::function<bool()> make_room_;
  const std::function<void()> before_shutdown_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t busy_ = 0;  // workers serving a connection
  bool shutdown_ = false;
};

// One accepted connection as the httplib::Stream its request parser reads and writes,
// on a non-blocking socket, with or without TLS. Every wait is bounded by the current
// request's deadline.
class GuardedServer::Connection : public httplib::Stream {
 public:
  Connection(socket_t sock, SSL* ssl, std::chrono::milliseconds request_timeout,
             std::atomic<uint64_t>* timed_out)
      : sock_(sock), ssl_(ssl), request_timeout_(request_timeout), timed_out_(timed_out) {}

  bool Handshake() {
    StartRequest();
    for (;;) {
      ERR_clear_error();
      const int done = SSL_accept(ssl_);
      if (done == 1) return true;
      if (!WaitFor(SSL_get_error(ssl_, done), read_deadline_)) {
        broken_ = true;
        return false;
      }
    }
  }

  // Waits up to `idle` for the peer's next request; true once bytes (or its close) arrive,
  // false at the end of `idle` or once `nudge` (an eventfd, or -1) is written.
  bool WaitForRequest(std::chrono::milliseconds idle, int nudge) {
    if (Buffered()) return true;
    pollfd fds[2] = {{sock_, POLLIN, 0}, {nudge, POLLIN, 0}};
    for (;;) {
      const int ready = ::poll(fds, nudge >= 0 ? 2 : 1, static_cast<int>(idle.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (nudge >= 0 && fds[1].revents != 0) {
        eventfd_t drained;
        (void)::eventfd_read(nudge, &drained);
      }
      return ready > 0 && fds[0].revents != 0;
    }
  }

  // The request's deadline runs from its first byte: now, or when it came while parked.
  void StartRequest(std::optional<SteadyClock::time_point> first_byte = std::nullopt) {
    read_deadline_ = first_byte.value_or(SteadyClock::now()) + request_timeout_;
    write_deadline_.reset();
  }

  // Bytes received but not yet read: TLS records OpenSSL decrypted, or read-ahead.
  bool Buffered() const {
    return buffer_begin_ < buffer_end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
  }

  enum class Arrival { kNothing, kPartHead, kHead, kClosed };

  // Plain HTTP, on the parking thread: reads what has arrived without waiting. kHead
  // once a whole head is buffered (or the buffer is full: the parser then decides),
  // kClosed at the peer's close or an error with no whole head.
  Arrival ReadAhead() {
    if (buffer_begin_ == buffer_end_) buffer_begin_ = buffer_end_ = 0;
    bool got_any = false;
    for (;;) {
      if (HeadBuffered() || buffer_end_ == sizeof(buffer_)) return Arrival::kHead;
      const ssize_t got = ::recv(sock_, buffer_ + buffer_end_, sizeof(buffer_) - buffer_end_, 0);
      if (got > 0) {
        buffer_end_ += static_cast<size_t>(got);
        got_any = true;
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return got_any || buffer_begin_ < buffer_end_ ? Arrival::kPartHead : Arrival::kNothing;
      }
      return Arrival::kClosed;
    }
  }

  bool broken() const { return broken_; }

  bool is_readable() const override { return Buffered() || Poll(POLLIN, read_deadline_); }

  // Writes are buffered (see write), so there is always room; Flush waits for the socket.
  bool is_writable() const override { return !broken_; }

  ssize_t read(char* data, size_t size) override {
    if (broken_) return -1;
    // An interim answer (100 Continue) must reach the peer before it sends the body.
    if (!out_.empty() && !Flush()) return -1;
    for (;;) {
      if (ssl_ != nullptr) {
        size_t got = 0;
        ERR_clear_error();
        const int done = SSL_read_ex(ssl_, data, size, &got);
        if (done == 1) return static_cast<ssize_t>(got);
        const int error = SSL_get_error(ssl_, done);
        if (error == SSL_ERROR_ZERO_RETURN) return 0;
        if (!WaitFor(error, read_deadline_)) return Fail();
        continue;
      }
      if (buffer_begin_ < buffer_end_) return TakeBuffered(data, size);
      // httplib reads a request's head one byte at a time: read ahead, so that costs one
      // recv per packet, not per byte. Large reads (bodies) go straight to the caller.
      const bool fill = size < sizeof(buffer_);
      const ssize_t got =
          fill ? ::recv(sock_, buffer_, sizeof(buffer_), 0) : ::recv(sock_, data, size, 0);
      if (got > 0 && fill) {
        buffer_begin_ = 0;
        buffer_end_ = static_cast<size_t>(got);
        return TakeBuffered(data, size);
      }
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Fail();
      if (!Poll(POLLIN, read_deadline_)) return Fail();
    }
  }

  // httplib writes an answer's head and its body separately: both are kept until Flush,
  // so an answer leaves in one send (one packet, one wake-up of the peer). A large write
  // goes out at once after what is kept.
  ssize_t write(const char* data, size_t size) override {
    if (broken_) return -1;
    if (size <= kMaxBuffered && out_.size() + size <= kMaxBuffered) {
      out_.append(data, size);
      return static_cast<ssize_t>(size);
    }
    if (!Flush()) return -1;
    return Send(data, size);
  }

  // Sends what write() kept; false if the peer did not take it in time.
  bool Flush() {
    size_t sent = 0;
    while (sent < out_.size()) {
      const ssize_t n = Send(out_.data() + sent, out_.size() - sent);
      if (n < 0) break;
      sent += static_cast<size_t>(n);
    }
    const bool all = sent == out_.size();
    out_.clear();
    return all;
  }

 private:
  static constexpr size_t kMaxBuffered = 64 * 1024;

  ssize_t Send(const char* data, size_t size) {
    if (broken_) return -1;
    if (!write_deadline_) write_deadline_ = SteadyClock::now() + request_timeout_;
    for (;;) {
      if (ssl_ != nullptr) {
        size_t sent = 0;
        ERR_clear_error();
        const int done = SSL_write_ex(ssl_, data, size, &sent);
        if (done == 1) return static_cast<ssize_t>(sent);
        if (!WaitFor(SSL_get_error(ssl_, done), *write_deadline_)) return Fail();
        continue;
      }
      const ssize_t sent = ::send(sock_, data, size, MSG_NOSIGNAL);
      if (sent >= 0) return sent;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Fail();
      if (!Poll(POLLOUT, *write_deadline_)) return Fail();
    }
  }

 public:
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(sock_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(sock_, false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  ssize_t Fail() {
    broken_ = true;
    return -1;
  }

  bool HeadBuffered() const {
    // A blank line ends a head; httplib also takes bare LF line ends.
    const std::string_view kept(buffer_ + buffer_begin_, buffer_end_ - buffer_begin_);
    return kept.find("\n\r\n") != std::string_view::npos ||
           kept.find("\n\n") != std::string_view::npos;
  }

  ssize_t TakeBuffered(char* data, size_t size) {
    const size_t n = std::min(size, buffer_end_ - buffer_begin_);
    std::memcpy(data, buffer_ + buffer_begin_, n);
    buffer_begin_ += n;
    return static_cast<ssize_t>(n);
  }

  // After an SSL call that did not complete: waits for what it asked for.
  bool WaitFor(int ssl_error, SteadyClock::time_point deadline) const {
    if (ssl_error == SSL_ERROR_WANT_READ) return Poll(POLLIN, deadline);
    if (ssl_error == SSL_ERROR_WANT_WRITE) return Poll(POLLOUT, deadline);
    return false;
  }

  // True once the socket is ready for `events` (or failed: the next call will say);
  // false at the deadline, which counts the connection as too slow (once).
  bool Poll(short events, SteadyClock::time_point deadline) const {
    pollfd fd{sock_, events, 0};
    for (;;) {
      const int ready = ::poll(&fd, 1, MillisecondsUntil(deadline));
      if (ready > 0) return true;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0 && !counted_slow_) {
        counted_slow_ = true;
        if (timed_out_ != nullptr) timed_out_->fetch_add(1);
      }
      return false;
    }
  }

  const socket_t sock_;
  SSL* const ssl_;
  const std::chrono::milliseconds request_timeout_;
  std::atomic<uint64_t>* const timed_out_;
  SteadyClock::time_point read_deadline_;
  std::optional<SteadyClock::time_point> write_deadline_;
  bool broken_ = false;
  mutable bool counted_slow_ = false;
  std::string out_;    // written, not yet sent (see write)
  char buffer_[8192];  // read-ahead of the plain-HTTP path, and a head that arrived parked
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
};

// An open connection and what it needs between requests; owned by the worker serving it
// or by the parking thread.
struct GuardedServer::Session {
  Session(socket_t sock, SSL* ssl, size_t requests, const GuardedServerOptions& options,
          std::atomic<uint64_t>* timed_out)
      : sock(sock),
        ssl(ssl),
        connection(sock, ssl, options.request_timeout, timed_out),
        requests_left(requests) {}
  ~Session() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  const socket_t sock;
  SSL* const ssl;  // null on plain HTTP
  Connection connection;
  size_t requests_left;
  bool handshaken = false;
  // While parked: when it is closed, and the first byte of a request arriving.
  SteadyClock::time_point deadline;
  std::optional<SteadyClock::time_point> first_byte;
};

// The epoll thread that holds connections waiting for a request, so that they hold no
// worker: ready ones go back to the pool (on plain HTTP once their head is whole), those
// past their deadline are closed (counted as timed out if a request had begun).
class GuardedServer::Parking {
 public:
  Parking(GuardedServer* server, size_t capacity) : server_(server), capacity_(capacity) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_;
    if (epoll_ < 0 || wake_ < 0 || ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) {
      spdlog::error("notify: cannot park idle connections ({}); they are closed instead",
                    std::strerror(errno));
      stopped_ = true;
      return;
    }
    thread_ = std::thread([this] { Run(); });
  }

  ~Parking() {
    Stop();
    if (epoll_ >= 0) ::close(epoll_);
    if (wake_ >= 0) ::close(wake_);
  }

  // Holds `session` (its deadline set) until its request comes or the deadline passes.
  void Park(std::unique_ptr<Session> session) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) {
      lock.unlock();
      server_->Close(std::move(session));
      return;
    }
    const socket_t sock = session->sock;
    const auto deadline = session->deadline;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    event.data.fd = sock;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, sock, &event) != 0) {
      lock.unlock();
      server_->Close(std::move(session));
      return;
    }
    deadlines_.emplace(deadline, sock);
    parked_.emplace(sock, std::move(session));
    // The thread sleeps until the earliest deadline it knew of: wake it for an earlier
    // one, or to close the longest-parked connection past capacity.
    const bool wake = deadlines_.begin()->second == sock || parked_.size() > capacity_;
    lock.unlock();
    if (wake) Wake();
  }

  // Closes every parked session, and any parked later; returns once the thread ended.
  void Stop() {
    std::vector<std::unique_ptr<Session>> parked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      for (auto& [sock, session] : parked_) parked.push_back(std::move(session));
      parked_.clear();
      deadlines_.clear();
    }
    Wake();
    {
      std::lock_guard<std::mutex> lock(join_mu_);  // Stop() may be called from two threads
      if (thread_.joinable()) thread_.join();
    }
    for (auto& session : parked) server_->Close(std::move(session));
  }

 private:
  void Wake() {
    if (wake_ >= 0) (void)::eventfd_write(wake_, 1);
  }

  // Under mu_.
  std::unique_ptr<Session> Take(socket_t sock) {
    auto it = parked_.find(sock);
    if (it == parked_.end()) return nullptr;
    std::unique_ptr<Session> session = std::move(it->second);
    parked_.erase(it);
    deadlines_.erase({session->deadline, sock});
    (void)::epoll_ctl(epoll_, EPOLL_CTL_DEL, sock, nullptr);
    return session;
  }

  void Run() {
    std::vector<epoll_event> events(256);
    std::vector<std::unique_ptr<Session>> ready, closing;
    for (;;) {
      int timeout = -1;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;
        if (!deadlines_.empty()) timeout = MillisecondsUntil(deadlines_.begin()->first);
      }
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        spdlog::error("notify: parked connections: epoll_wait: {}", std::strerror(errno));
        return;  // Stop() closes what is parked
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;
        for (int i = 0; i < n; ++i) {
          const socket_t sock = events[i].data.fd;
          if (sock == wake_) {
            eventfd_t drained;
            (void)::eventfd_read(wake_, &drained);
            continue;
          }
          auto it = parked_.find(sock);
          if (it == parked_.end()) continue;
          Session& session = *it->second;
          if (session.ssl != nullptr) {  // TLS records are read by the worker
            ready.push_back(Take(sock));
            continue;
          }
          switch (session.connection.ReadAhead()) {
            case Connection::Arrival::kHead:
              ready.push_back(Take(sock));
              break;
            case Connection::Arrival::kClosed:
              closing.push_back(Take(sock));
              break;
            case Connection::Arrival::kPartHead:
              if (!session.first_byte) {
                // From now on the request's own deadline, not the idle wait, applies.
                deadlines_.erase({session.deadline, sock});
                session.first_byte = SteadyClock::now();
                session.deadline = *session.first_byte + server_->options_.request_timeout;
                deadlines_.emplace(session.deadline, sock);
              }
              [[fallthrough]];
            case Connection::Arrival::kNothing: {
              epoll_event event{};
              event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
              event.data.fd = sock;
              if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, sock, &event) != 0) {
                closing.push_back(Take(sock));
              }
              break;
            }
          }
        }
        const auto now = SteadyClock::now();
        while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
          std::unique_ptr<Session> session = Take(deadlines_.begin()->second);
          if (session->first_byte) Count(server_->counters_.timed_out);
          closing.push_back(std::move(session));
        }
        while (parked_.size() > capacity_) {
          // The earliest deadline: the longest idle (or a head trickling in longest).
          closing.push_back(Take(deadlines_.begin()->second));
          Count(server_->counters_.evicted);
        }
      }
      for (auto& session : closing) server_->Close(std::move(session));
      closing.clear();
      for (auto& session : ready) server_->Resume(std::move(session));
      ready.clear();
    }
  }

  static void Count(std::atomic<uint64_t>* counter) {
    if (counter != nullptr) counter->fetch_add(1);
  }

  GuardedServer* const server_;
  const size_t capacity_;
  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::mutex join_mu_;
  std::mutex mu_;
  bool stopped_ = false;
  std::unordered_map<socket_t, std::unique_ptr<Session>> parked_;
  std::set<std::pair<SteadyClock::time_point, socket_t>> deadlines_;
};

namespace {

// Parked connections each hold a descriptor: leave room under the process's limit for the
// connections in a request, the database and the rest, so accept() does not fail.
size_t ParkingCapacity(const GuardedServerOptions& options) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return options.max_idle_connections;
  }
  const auto reserved = static_cast<rlim_t>(options.max_connections) * 5 / 4 + 256;
  const size_t room =
      limit.rlim_cur > reserved ? static_cast<size_t>(limit.rlim_cur - reserved) : size_t{16};
  if (room < options.max_idle_connections) {
    spdlog::warn(
        "notify: at most {} idle connections are held, not {}: the file-descriptor limit is {} "
        "(raise it with ulimit -n or LimitNOFILE)",
        room, options.max_idle_connections, static_cast<uint64_t>(limit.rlim_cur));
  }
  return std::min(options.max_idle_connections, room);
}

}  // namespace

GuardedServer::GuardedServer(GuardedServerOptions options, GuardedServerCounters counters,
                             SSL_CTX* tls)
    : options_(options),
      counters_(counters),
      tls_(tls),
      parking_(std::make_unique<Parking>(this, ParkingCapacity(options_))) {
  if (tls_ != nullptr) SSL_CTX_up_ref(tls_);
  new_task_queue = [this] {
    // Parked connections go back to the pool: parking stops before its workers are joined.
    pool_ = new Pool(
        options_.threads, options_.max_connections, [this] { return MakeRoom(); },
        [this] { parking_->Stop(); });
    return pool_;
  };
}

GuardedServer::~GuardedServer() {
  parking_->Stop();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void GuardedServer::CloseConnections() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    for (const auto& [sock, open] : open_) {
      if (open.place == Place::kLingering) ::shutdown(sock, SHUT_RDWR);
    }
  }
  // Not under mu_: closing a parked session unregisters it.
  parking_->Stop();
}

bool GuardedServer::MakeRoom() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  const auto now = SteadyClock::now();
  auto eligible = [&](const OpenConnection& c) {
    if (c.evicted) return false;
    if (c.place == Place::kLingering) return !c.nudged && c.nudge >= 0;
    return c.place == Place::kRequest && now - c.since >= options_.stalled_after;
  };
  // A lingering one first (the longest), else the longest stalled request. Parked ones
  // hold no worker: closing them would not make room.
  auto rank = [](const OpenConnection& c) {
    return std::make_pair(c.place == Place::kLingering ? 0 : 1, c.since);
  };
  socket_t victim = INVALID_SOCKET;
  OpenConnection* chosen = nullptr;
  for (auto& [sock, open] : open_) {
    if (eligible(open) && (chosen == nullptr || rank(open) < rank(*chosen))) {
      victim = sock;
      chosen = &open;
    }
  }
  if (chosen == nullptr) return false;
  if (chosen->place == Place::kLingering) {
    // Its worker parks it now instead of at the end of its linger: nothing is closed.
    (void)::eventfd_write(chosen->nudge, 1);
    chosen->nudged = true;
    return true;
  }
  // Still registered, so not yet closed: its worker closes it after Unregister, which
  // waits for this lock.
  ::shutdown(victim, SHUT_RDWR);
  chosen->evicted = true;
  if (counters_.evicted != nullptr) counters_.evicted->fetch_add(1);
  return true;
}

bool GuardedServer::Register(socket_t sock) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  open_[sock] = OpenConnection{Place::kRequest, SteadyClock::now(), false};
  return true;
}

void GuardedServer::Unregister(socket_t sock) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(sock);
}

bool GuardedServer::MoveTo(socket_t sock, Place place, int nudge) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  OpenConnection& open = open_[sock];
  if (open.evicted) return false;
  open.place = place;
  open.since = SteadyClock::now();
  open.nudge = nudge;
  open.nudged = false;
  return true;
}

void GuardedServer::Refuse(socket_t sock) {
  if (counters_.refused != nullptr) counters_.refused->fetch_add(1);
  if (tls_ == nullptr) {
    // Read what already arrived, so closing does not reset the connection before the
    // peer reads the answer.
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(sock, sink, sizeof(sink), MSG_DONTWAIT) > 0; ++i) {
    }
    (void)::send(sock, kBusyAnswer.data(), kBusyAnswer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  ::shutdown(sock, SHUT_WR);
}

// On the accepting thread (Pool::enqueue): sets the connection up without blocking and
// parks it, unless its request's head is already there.
bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (!Register(sock)) {
    ::close(sock);
    return false;
  }
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  int yes = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    if (ssl != nullptr && SSL_set_fd(ssl, sock) != 1) {
      SSL_free(ssl);
      ssl = nullptr;
    }
  }
  auto session = std::make_unique<Session>(sock, ssl, options_.keep_alive_max_count, options_,
                                           counters_.timed_out);
  if (tls_ != nullptr && ssl == nullptr) {
    Close(std::move(session));
    return false;
  }
  if (ssl == nullptr) {
    switch (session->connection.ReadAhead()) {
      case Connection::Arrival::kHead:
        Resume(std::move(session));
        return true;
      case Connection::Arrival::kClosed:
        Close(std::move(session));
        return false;
      case Connection::Arrival::kPartHead:
        session->first_byte = SteadyClock::now();
        break;
      case Connection::Arrival::kNothing:
        break;
    }
  }
  Park(std::move(session));
  return true;
}

void GuardedServer::Park(std::unique_ptr<Session> session) {
  if (!MoveTo(session->sock, Place::kParked)) {
    Close(std::move(session));
    return;
  }
  session->deadline = session->first_byte ? *session->first_byte + options_.request_timeout
                                          : SteadyClock::now() + options_.keep_alive;
  parking_->Park(std::move(session));
}

void GuardedServer::Serve(std::unique_ptr<Session> session) {
  if (t_refusing) {  // handed back from parking while every worker is busy
    Refuse(session->sock);
    Close(std::move(session));
    return;
  }
  const socket_t sock = session->sock;
  Connection& connection = session->connection;
  bool usable = true;
  while (usable && session->requests_left > 0 && svr_sock_ != INVALID_SOCKET) {
    if (!RequestArrived(*session)) {
      Park(std::move(session));
      return;
    }
    if (!MoveTo(sock, Place::kRequest)) break;
    if (session->ssl != nullptr && !session->handshaken) {
      connection.StartRequest(session->first_byte);
      if (!connection.Handshake()) break;
      session->handshaken = true;
      continue;  // the request itself may not have come yet
    }
    connection.StartRequest(session->first_byte);
    session->first_byte.reset();
    bool closed_by_peer = false;
    const bool served =
        process_request(connection, session->requests_left == 1, closed_by_peer, nullptr);
    --session->requests_left;
    const bool flushed = connection.Flush();
    usable = served && flushed && !closed_by_peer && !connection.broken();
  }
  Close(std::move(session));
}

bool GuardedServer::RequestArrived(Session& session) {
  Connection& connection = session.connection;
  const auto wait = options_.linger;
  const int nudge = NudgeOfThisThread();
  if (!MoveTo(session.sock, Place::kLingering, nudge)) return false;
  if (session.ssl != nullptr) return connection.WaitForRequest(wait, nudge);
  // With nothing kept, wait first: a read now would mostly find nothing (the peer is
  // still reading the last answer), and cost a system call per request.
  bool waited = false;
  if (!connection.Buffered()) {
    if (!connection.WaitForRequest(wait, nudge)) return false;
    waited = true;
  }
  for (;; waited = true) {
    switch (connection.ReadAhead()) {
      case Connection::Arrival::kHead:
      case Connection::Arrival::kClosed:  // the parser sees the close and ends it
        return true;
      case Connection::Arrival::kPartHead:
        if (!session.first_byte) session.first_byte = SteadyClock::now();
        break;
      case Connection::Arrival::kNothing:
        break;
    }
    if (waited || !connection.WaitForRequest(wait, nudge)) return false;
  }
}

void GuardedServer::Resume(std::unique_ptr<Session> session) {
  Session* handed = session.release();
  pool_->Submit([this, handed] { Serve(std::unique_ptr<Session>(handed)); });
}

void GuardedServer::Close(std::unique_ptr<Session> session) {
  const socket_t sock = session->sock;
  if (session->ssl != nullptr && session->handshaken && !session->connection.broken()) {
    ERR_clear_error();
    SSL_shutdown(session->ssl);
  }
  session.reset();
  ERR_clear_error();
  Unregister(sock);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

SSL_CTX* NewServerTlsContext(const std::string& certificate_file,
                             const std::string& private_key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  const bool ok =
      ctx != nullptr && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
      SSL_CTX_use_certificate_chain_file(ctx, certificate_file.c_str()) == 1 &&
      SSL_CTX_use_PrivateKey_file(ctx, private_key_file.c_str(), SSL_FILETYPE_PEM) == 1 &&
      SSL_CTX_check_private_key(ctx) == 1;
  ERR_clear_error();
  if (!ok) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // Client-initiated renegotiation costs the server a handshake per request.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

}  // namespace graphmirror::notify
