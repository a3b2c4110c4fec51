// Receiver: the HTTP endpoint Microsoft Graph posts change and lifecycle notifications to.
//
// It answers the validation handshake, checks every item against the SubscriptionTable
// (unknown subscription or wrong clientState: not from Graph, dropped), appends accepted
// items (rich ones still encrypted, with the body's validation tokens) to the store's
// notification log and answers 202 only once they are durable; if
// the store cannot commit in time it answers 503 so Graph delivers again. It never calls
// Graph and never applies a change itself: the sync worker, woken by SetOnAccepted's
// callback, does that from the log.
//
// HTTPS when ReceiverOptions names a certificate (TLS 1.2 at least); else plain HTTP, with
// TLS (Graph requires https) terminated in front of it by a reverse proxy or tunnel.
//
// Thread-safety: Start() and Stop() are for the owning thread; stats(), port() and
// SetOnAccepted() may be called from any thread. Handlers run on the receiver's own pool.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_RECEIVER_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/notify/subscription_table.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::store {
class Store;
}

namespace graphmirror::notify {

struct ReceiverOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port (see Receiver::port())
  // Both paths accept both kinds of items: Graph posts lifecycle items to the notification
  // URL when a subscription has no lifecycleNotificationUrl.
  std::string notification_path = "/notifications";
  std::string lifecycle_path = "/lifecycle";
  size_t max_body_bytes = 1 << 20;  // 413 beyond
  // How long a request waits for its items' commit to start before answering 503. Well
  // under Graph's 3 s, so a slow disk makes Graph retry rather than mark us "slow".
  std::chrono::milliseconds commit_timeout{2000};
  // Worker pool. A connection holds a worker only while a request is served: `threads`
  // workers start at once and more start as requests arrive, up to `max_connections`;
  // past that a request takes the place of a request stalled for over a second, and only
  // when there is none is it answered 503 with Retry-After at once (Graph retries), not
  // queued. An idle worker costs only its stack.
  int threads = 64;
  int max_connections = 512;
  // Connections waiting for a request (idle keep-alives, fresh ones, and on plain HTTP
  // ones whose request head is still arriving) are held by one thread, up to this many
  // (and the file-descriptor limit); past that the longest-waiting one is closed.
  size_t max_idle_connections = 20000;
  // A request must arrive whole (headers, body; TLS handshake for a new connection)
  // within this time of its first byte, and its answer leave within it: a slower peer
  // (slowloris) is disconnected, so it cannot hold workers.
  std::chrono::milliseconds request_timeout{10000};
  // An idle keep-alive connection (and a fresh one that sends nothing) is closed after
  // this long.
  std::chrono::seconds keep_alive{2};
  // Both set: HTTPS with this certificate and key (PEM files), TLS 1.2 at least.
  std::string tls_certificate;
  std::string tls_private_key;
};

// What to answer a notification POST with: 202 (durable, or nothing to keep), 400, 415,
// 503 (not stored: Graph must retry; send Retry-After). `body` is plain text, may be empty.
struct NotificationAnswer {
  int status = 202;
  std::string body;
};

// Where a body came from. kEventHub: read from an Azure event hub Graph delivers to (the
// Kafka source with kafka.event_hub_url), where Graph sends no validation tokens with rich
// notifications ("Microsoft Graph doesn't send validation tokens for change notifications
// delivered through Azure Event Hubs"): the hub's own access control (only principals with
// Send rights write to it) vouches for the sender instead, and the body's rich items are
// logged with kEventHubTokens as their token batch, which the sync worker accepts.
enum class Delivery { kWebhook, kEventHub };

// The token batch of rich items read from an event hub. Not a JWT (it has spaces): a
// webhook body whose validationTokens hold it is refused (400).
inline constexpr std::string_view kEventHubTokens = "delivered through an Azure event hub";

// A decoded validationToken the handshake may echo: 1..1024 bytes, no control characters
// (it goes back as the whole body; a CR or LF would be a header-injection attempt).
bool IsWellFormedValidationToken(std::string_view token);

// An answer to a GET on a path other than the notification paths (the daemon serves
// /healthz and /metrics this way); nullopt: 404.
struct AdminResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};
using AdminHandler = std::function<std::optional<AdminResponse>(const std::string& path)>;

// Counters since Start(). Each is read on its own; they are not a consistent snapshot.
struct ReceiverStats {
  std::atomic<uint64_t> requests{0};                // every request on any path
  std::atomic<uint64_t> validations{0};             // handshakes answered with the token
  std::atomic<uint64_t> notifications_received{0};  // items in well-formed bodies
  std::atomic<uint64_t> accepted{0};                // items handed to the store and committed
  std::atomic<uint64_t> rich_items{0};              // accepted items that carried encryptedContent
  // Event Hubs' validation messages (subscriptionId and clientState "NA", changeType
  // "Validation: ..."), which Graph writes to a hub when a subscription is created and
  // which are to be ignored ("Receive change notifications through Azure Event Hubs").
  std::atomic<uint64_t> hub_validations{0};
  std::atomic<uint64_t> rejected_unknown_subscription{0};
  std::atomic<uint64_t> rejected_bad_client_state{0};
  std::atomic<uint64_t> sequence_gaps{0};       // v2.0 SequenceNumber gaps, each logged as `missed`
  std::atomic<uint64_t> rejected_batches{0};    // non-empty bodies whose every item was rejected
  std::atomic<uint64_t> bad_requests{0};        // 400
  std::atomic<uint64_t> not_found{0};           // 404
  std::atomic<uint64_t> method_not_allowed{0};  // 405
  std::atomic<uint64_t> unsupported_media_type{0};  // 415
  std::atomic<uint64_t> too_large{0};               // 413
  std::atomic<uint64_t> unavailable{0};             // 503: the store did not commit in time
  std::atomic<uint64_t> refused{0};    // connections answered 503: max_connections busy
  std::atomic<uint64_t> timed_out{0};  // connections closed: a request slower than request_timeout
  // Connections closed to make room: at max_connections, a request stalled for over a
  // second (or a keep-alive one still on its worker); past max_idle_connections, the
  // longest idle one.
  std::atomic<uint64_t> evicted{0};
};

class Receiver {
 public:
  // `subscriptions`, `store` and `clock` must outlive the Receiver. `clock` serves logs
  // and anything policy-related; commit deadlines are real time (see commit_timeout).
  Receiver(ReceiverOptions options, SubscriptionTable* subscriptions, store::Store* store,
           Clock* clock);
  ~Receiver();  // Stop()s
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Binds and starts serving; returns once requests are being accepted. Fails with a
  // message naming host and port if the port is taken (another daemon) or the address is
  // not local. A Receiver starts at most once.
  Status Start();
  // The bound port (useful with port 0); 0 before Start().
  int port() const { return port_.load(); }
  // Stops accepting, closes idle keep-alive connections, and lets in-flight requests
  // finish (including their commits and answers). Safe to call more than once.
  void Stop();

  const ReceiverStats& stats() const { return stats_; }

  // Called after a commit that appended accepted items (duplicates included: the store
  // does not say which were new), on the request's thread before its 202 is sent. It
  // should only wake the sync worker: it delays the answer to Graph.
  void SetOnAccepted(std::function<void()> on_accepted);
  // The same checks, log append and answer as a POST to the notification URL gets, for a
  // program that runs its own HTTP server (the Receiver need not be started).
  NotificationAnswer Accept(std::string_view content_type, std::string_view body,
                            Delivery delivery = Delivery::kWebhook);

  // Answers GETs on other paths. Set before Start().
  void SetAdminHandler(AdminHandler handler);

 private:
  struct Impl;
  ReceiverStats stats_;
  std::atomic<int> port_{0};
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_RECEIVER_H_
