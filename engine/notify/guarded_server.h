// GuardedServer: cpp-httplib's Server with the connection handling a public endpoint
// needs. Internal to engine/notify: only receiver.cc includes it.
//
// httplib 0.11 gives each connection a pool worker for as long as the peer keeps it open,
// and its read timeout applies to each read: a client that sends a byte every few seconds
// holds a worker forever, and connections beyond the pool wait unanswered in its queue.
// GuardedServer serves each connection with its own loop (the one httplib's SSLServer
// also replaces) around httplib's request parser:
//   - a request must arrive whole within `request_timeout` of its first byte (TLS
//     handshake included), and its answer must leave within `request_timeout`; a peer
//     slower than that is disconnected and counted;
//   - workers grow from `threads` up to `max_connections` as connections arrive; past that
//     a new connection first makes room by closing an idle keep-alive connection, or else
//     the connection longest inside a request that has taken over `stalled_after` (a
//     slowloris peer): a valid delivery is never turned away by connections that send
//     nothing useful. Only when every connection is busy with a fresh request is the new
//     one answered 503 with Retry-After at once and closed, so a flood is refused quickly
//     instead of queued;
//   - TLS, when given a context, is done here with OpenSSL on non-blocking sockets.
//
// Thread-safety: configure before listen_after_bind(); CloseConnections() may be called
// from any thread.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_GUARDED_SERVER_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_GUARDED_SERVER_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace graphmirror::notify {

struct GuardedServerOptions {
  int threads = 64;           // workers started at once and kept
  int max_connections = 512;  // open connections served at once; 503 beyond
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds keep_alive{2000};  // idle wait for a connection's next request
  size_t keep_alive_max_count = 1000;          // requests per connection
  // At max_connections, a request in progress this long may be cut to make room.
  std::chrono::milliseconds stalled_after{1000};
};

struct GuardedServerCounters {
  std::atomic<uint64_t>* refused = nullptr;    // connections answered 503 at the door
  std::atomic<uint64_t>* timed_out = nullptr;  // connections cut for slowness
  std::atomic<uint64_t>* evicted = nullptr;    // closed to make room at max_connections
};

class GuardedServer : public httplib::Server {
 public:
  // `tls`: serve HTTPS with this context (the server keeps a reference); null: HTTP.
  GuardedServer(GuardedServerOptions options, GuardedServerCounters counters, SSL_CTX* tls);
  ~GuardedServer() override;

  // Ends idle keep-alive connections now and every other one after its current request,
  // so stop() need not wait out their timeouts. Connections accepted later close at once.
  void CloseConnections();

 private:
  class Pool;
  class Connection;

  bool process_and_close_socket(socket_t sock) override;
  void Refuse(socket_t sock);
  // Records `sock` as open; false if the server is closing.
  bool Register(socket_t sock);
  void Unregister(socket_t sock);
  // Marks `sock` waiting for its next request (`idle`) or in one; false if it must close.
  bool SetIdle(socket_t sock, bool idle);
  // At max_connections: shuts down an idle connection, or else the one longest in a
  // request older than stalled_after; false if there is none (every one is busy).
  bool MakeRoom();

  struct OpenConnection {
    bool idle = false;
    std::chrono::steady_clock::time_point since;  // of its idle wait or current request
    bool evicted = false;
  };

  const GuardedServerOptions options_;
  const GuardedServerCounters counters_;
  SSL_CTX* const tls_;

  std::mutex mu_;
  bool closing_ = false;
  std::unordered_map<socket_t, OpenConnection> open_;
};

// A TLS server context from PEM files: TLS 1.2 at least, no renegotiation. Null on
// failure (unreadable files, a key that does not match the certificate).
SSL_CTX* NewServerTlsContext(const std::string& certificate_file,
                             const std::string& private_key_file);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_GUARDED_SERVER_H_
