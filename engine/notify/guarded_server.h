// GuardedServer: cpp-httplib's Server with the connection handling a public endpoint
// needs. Internal to engine/notify: only receiver.cc includes it.
//
// httplib 0.11 gives each connection a pool worker for as long as the peer keeps it open,
// and its read timeout applies to each read: a client that sends a byte every few seconds
// holds a worker forever, and connections beyond the pool wait unanswered in its queue.
// GuardedServer serves each connection with its own loop (the one httplib's SSLServer
// also replaces) around httplib's request parser:
//   - a connection holds a worker only while a request is served. One waiting for its
//     request is parked on one epoll thread: a fresh connection at once unless its
//     request is already there, a keep-alive one after `linger`. On plain HTTP it stays
//     parked until its request's head has arrived whole, so idle connections and
//     slowloris heads cost no thread. At most `max_idle_connections` are parked
//     (bounded by the file-descriptor limit); past that the longest-parked one is closed;
//   - a request must arrive whole within `request_timeout` of its first byte (TLS
//     handshake included), and its answer must leave within `request_timeout`; a peer
//     slower than that is disconnected and counted;
//   - workers grow from `threads` up to `max_connections` as requests arrive; past that
//     a request first makes room by parking a lingering connection at once, or else by
//     closing the one longest inside a request that has taken over `stalled_after` (a
//     peer trickling its body): a valid delivery is never turned away by connections
//     that send nothing useful. Only when every worker is busy with a fresh request is
//     the new one answered 503 with Retry-After at once and closed, so a flood is
//     refused quickly instead of queued;
//   - TLS, when given a context, is done here with OpenSSL on non-blocking sockets.
//
// Thread-safety: configure before listen_after_bind(), which may be called once;
// CloseConnections() may be called from any thread.

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
  int threads = 64;                     // workers started at once and kept
  int max_connections = 512;            // requests served at once (a worker each); 503 beyond
  size_t max_idle_connections = 20000;  // parked at once; the longest parked closes beyond
  // A connection that served a request waits this long for its next one on its worker
  // before it is parked: busy keep-alive connections skip the hand-over.
  std::chrono::milliseconds linger{50};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds keep_alive{2000};  // idle wait for a connection's next request
  size_t keep_alive_max_count = 1000;          // requests per connection
  // At max_connections, a request in progress this long may be cut to make room.
  std::chrono::milliseconds stalled_after{1000};
};

struct GuardedServerCounters {
  std::atomic<uint64_t>* refused = nullptr;    // connections answered 503 at the door
  std::atomic<uint64_t>* timed_out = nullptr;  // connections cut for slowness
  std::atomic<uint64_t>* evicted = nullptr;    // closed to make room (either limit)
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
  struct Session;
  class Parking;

  // Where a connection is: in a request (on a worker), waiting for one on its worker
  // (lingering), or parked without a worker.
  enum class Place { kRequest, kLingering, kParked };

  bool process_and_close_socket(socket_t sock) override;
  // Serves `session`'s requests on this worker until it closes or is parked.
  void Serve(std::unique_ptr<Session> session);
  // True once `session`'s next request can be served without waiting for its peer (on
  // plain HTTP: its head is whole), waiting at most `linger`.
  bool RequestArrived(Session& session);
  // Hands `session` to the parking thread until its next request comes.
  void Park(std::unique_ptr<Session> session);
  // Hands a parked session whose request has come to a worker.
  void Resume(std::unique_ptr<Session> session);
  void Close(std::unique_ptr<Session> session);
  // Counts a refusal and answers 503 on plain HTTP; the caller closes the socket.
  void Refuse(socket_t sock);
  // Records `sock` as open; false if the server is closing.
  bool Register(socket_t sock);
  void Unregister(socket_t sock);
  // Records where `sock` is (lingering: with its worker's `nudge` eventfd); false if it
  // must close (evicted, or the server closing).
  bool MoveTo(socket_t sock, Place place, int nudge = -1);
  // At max_connections: has the longest-lingering connection parked at once, or else
  // shuts down the one longest in a request older than stalled_after; false if there is
  // none (every worker is busy with a fresh request).
  bool MakeRoom();

  struct OpenConnection {
    Place place = Place::kRequest;
    std::chrono::steady_clock::time_point since;  // of its current place
    bool evicted = false;
    int nudge = -1;  // lingering: its worker's eventfd
    bool nudged = false;
  };

  const GuardedServerOptions options_;
  const GuardedServerCounters counters_;
  SSL_CTX* const tls_;
  Pool* pool_ = nullptr;  // made when listening starts (new_task_queue)

  std::mutex mu_;
  bool closing_ = false;
  std::unordered_map<socket_t, OpenConnection> open_;

  // Last: its thread uses the members above, from construction until it is stopped (for
  // good, with the pool).
  const std::unique_ptr<Parking> parking_;
};

// A TLS server context from PEM files: TLS 1.2 at least, no renegotiation. Null on
// failure (unreadable files, a key that does not match the certificate).
SSL_CTX* NewServerTlsContext(const std::string& certificate_file,
                             const std::string& private_key_file);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_GUARDED_SERVER_H_
