#include "engine/notify/guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
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
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace graphmirror::notify {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Set on the listening thread while it refuses a connection the pool has no room for.
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
  Pool(int threads, int max_threads, std::function<bool()> make_room)
      : max_threads_(static_cast<size_t>(max_threads)),
        // Connections let in while their evicted ones wind down: a bound on the overshoot.
        hard_limit_(max_threads_ + max_threads_ / 4 + 1),
        make_room_(std::move(make_room)) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }

  void enqueue(std::function<void()> fn) override {
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

  // Waits up to `idle` for the peer's next request; true once bytes (or its close) arrive.
  bool WaitForRequest(std::chrono::milliseconds idle) {
    if (Buffered()) return true;
    pollfd fd{sock_, POLLIN, 0};
    for (;;) {
      const int ready = ::poll(&fd, 1, static_cast<int>(idle.count()));
      if (ready >= 0) return ready > 0;
      if (errno != EINTR) return false;
    }
  }

  void StartRequest() {
    read_deadline_ = SteadyClock::now() + request_timeout_;
    write_deadline_.reset();
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

  // Bytes received but not yet read: TLS records OpenSSL decrypted, or read-ahead.
  bool Buffered() const {
    return buffer_begin_ < buffer_end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
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
  char buffer_[4096];  // read-ahead of the plain-HTTP path
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
};

GuardedServer::GuardedServer(GuardedServerOptions options, GuardedServerCounters counters,
                             SSL_CTX* tls)
    : options_(options), counters_(counters), tls_(tls) {
  if (tls_ != nullptr) SSL_CTX_up_ref(tls_);
  new_task_queue = [this] {
    return new Pool(options_.threads, options_.max_connections, [this] { return MakeRoom(); });
  };
}

GuardedServer::~GuardedServer() {
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void GuardedServer::CloseConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  closing_ = true;
  for (const auto& [sock, open] : open_) {
    if (open.idle) ::shutdown(sock, SHUT_RDWR);
  }
}

bool GuardedServer::MakeRoom() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  const auto now = SteadyClock::now();
  auto eligible = [&](const OpenConnection& c) {
    return !c.evicted && (c.idle || now - c.since >= options_.stalled_after);
  };
  // An idle one first (the longest idle), else the longest stalled request.
  auto rank = [](const OpenConnection& c) { return std::make_pair(c.idle ? 0 : 1, c.since); };
  socket_t victim = INVALID_SOCKET;
  OpenConnection* chosen = nullptr;
  for (auto& [sock, open] : open_) {
    if (eligible(open) && (chosen == nullptr || rank(open) < rank(*chosen))) {
      victim = sock;
      chosen = &open;
    }
  }
  if (chosen == nullptr) return false;
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
  open_[sock] = OpenConnection{false, SteadyClock::now(), false};
  return true;
}

void GuardedServer::Unregister(socket_t sock) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(sock);
}

bool GuardedServer::SetIdle(socket_t sock, bool idle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  OpenConnection& open = open_[sock];
  if (open.evicted) return false;
  open.idle = idle;
  open.since = SteadyClock::now();
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
  ::close(sock);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (t_refusing) {
    Refuse(sock);
    return false;
  }
  bool served = false;
  if (Register(sock)) {
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
    Connection connection(sock, ssl, options_.request_timeout, counters_.timed_out);
    bool usable = tls_ == nullptr || (ssl != nullptr && connection.Handshake());
    for (size_t left = options_.keep_alive_max_count; usable && left > 0; --left) {
      if (svr_sock_ == INVALID_SOCKET || !SetIdle(sock, true)) break;
      const bool request = connection.WaitForRequest(options_.keep_alive);
      if (!SetIdle(sock, false) || !request) break;
      connection.StartRequest();
      bool closed_by_peer = false;
      served = process_request(connection, left == 1, closed_by_peer, nullptr);
      const bool flushed = connection.Flush();
      usable = served && flushed && !closed_by_peer && !connection.broken();
    }
    if (ssl != nullptr) {
      if (!connection.broken()) {
        ERR_clear_error();
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
    }
    ERR_clear_error();
    Unregister(sock);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return served;
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
