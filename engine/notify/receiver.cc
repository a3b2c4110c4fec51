#include "engine/notify/receiver.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "engine/base/text.h"
#include "engine/notify/guarded_server.h"
#include "engine/notify/notification.h"
#include "engine/notify/text.h"
#include "engine/store/store.h"

namespace graphmirror::notify {

namespace {

constexpr size_t kMaxValidationToken = 1024;
// httplib listens with a backlog of 5: a burst of Graph connections beyond that waits for
// a SYN retransmit (1 s, then 3 s: past Graph's deadline). Linux lets a second listen()
// widen it.
constexpr int kListenBacklog = 512;
// Graph reuses connections; httplib's default closes one after 5 requests.
constexpr size_t kKeepAliveMaxCount = 1000;

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

void SetText(httplib::Response& res, int status, std::string body) {
  res.status = status;
  // The body may echo request text (the validation token, a parse error): plain text that
  // a browser must not sniff into HTML.
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(body), kTextPlain);
}

// The query string of the raw request target, split and decoded here rather than taken
// from httplib's params, which also hold form fields parsed from the body.
struct QueryParam {
  std::string name;
  std::optional<std::string> value;  // nullopt: malformed percent-encoding
};

std::vector<QueryParam> ParseQuery(std::string_view target) {
  std::vector<QueryParam> params;
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return params;
  std::string_view query = target.substr(question + 1);
  if (size_t hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    QueryParam param;
    // Graph encodes spaces in the token as '+' ("Validation%3a+Testing+client...").
    auto name = PercentDecode(raw_name, /*plus_is_space=*/true);
    if (!name) continue;  // a name we cannot read is not "validationToken"
    param.name = std::move(*name);
    param.value = PercentDecode(raw_value, /*plus_is_space=*/true);
    params.push_back(std::move(param));
  }
  return params;
}

bool HasControlCharacters(std::string_view text) {
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// application/json or application/<anything>+json, parameters allowed.
bool IsJsonContentType(std::string_view header) {
  std::string_view type = header.substr(0, header.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  const std::string lower = AsciiLower(type);
  if (lower == "application/json") return true;
  return lower.starts_with("application/") && lower.ends_with("+json");
}

// The log's dedupe key (see DESIGN.md: duplicates collapse on it).
std::string DedupeKey(const Notification& n, std::string_view delivery_nonce) {
  if (!n.id.empty()) return "n:" + n.id;
  std::string key = "s:" + n.subscription_id + "|" +
                    (n.change_type.empty() ? n.lifecycle_event : n.change_type) + "|" +
                    n.resource_id + "|" + n.etag;
  // Without an etag the key names no version of anything: every later `missed` or
  // `reauthorizationRequired` of the subscription, or every later etag-less `updated` of
  // an item, would collapse into the first one forever and never reach the sync worker.
  // Such items are unique to their delivery instead: a redelivery costs an idempotent
  // resync, a collapse would cost a change.
  if (n.etag.empty()) key.append("|d:").append(delivery_nonce);
  return key;
}

}  // namespace

bool IsWellFormedValidationToken(std::string_view token) {
  return !token.empty() && token.size() <= kMaxValidationToken && !HasControlCharacters(token);
}

struct Receiver::Impl {
  Impl(ReceiverOptions options, SubscriptionTable* subscriptions, store::Store* store, Clock* clock,
       ReceiverStats* stats)
      : options(std::move(options)),
        subscriptions(subscriptions),
        store(store),
        clock(clock),
        stats(stats) {}

  // `reader` is null for methods without a body (GET, HEAD, OPTIONS).
  void Handle(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader* reader);
  void HandleValidation(const httplib::Request& req, httplib::Response& res,
                        const std::optional<std::string>& token);
  void HandleNotifications(const httplib::Request& req, httplib::Response& res,
                           const std::string& body);
  // `client_state_header`: Outlook REST v2.0 sends clientState as a header, not per item.
  NotificationAnswer Accept(std::string_view content_type, std::string_view body,
                            std::string_view path, std::string_view client_state_header = {},
                            Delivery delivery = Delivery::kWebhook);
  // A log row saying the subscription lost notifications: v2.0's SequenceNumber skipped
  // past `expected` to `received`.
  static store::LogEntry SequenceGapEntry(const std::string& subscription_id,
                                          const KnownSubscription& known, int64_t expected,
                                          int64_t received);
  // For responses httplib made itself (413 by Content-Length, 400 for a malformed
  // request): count them and give them a plain-text body.
  httplib::Server::HandlerResponse HandleLibraryError(const httplib::Request& req,
                                                      httplib::Response& res);
  std::string NextDeliveryNonce();

  const ReceiverOptions options;
  SubscriptionTable* const subscriptions;
  store::Store* const store;
  Clock* const clock;
  ReceiverStats* const stats;

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls_context{nullptr, SSL_CTX_free};
  std::unique_ptr<GuardedServer> server;  // made by Start()
  std::thread thread;
  std::atomic<int> listen_fd{-1};
  std::atomic<bool> listen_returned{false};
  bool started = false;

  AdminHandler admin_handler;  // set before Start, read-only after
  std::mutex on_accepted_mu;
  std::shared_ptr<const std::function<void()>> on_accepted;

  std::atomic<uint64_t> deliveries{0};

  // Outlook REST v2.0: the highest SequenceNumber committed per subscription, since start
  // (a restart's catch-up sync covers what came before).
  std::mutex sequence_mu;
  std::map<std::string, int64_t> last_sequence;
};

std::string Receiver::Impl::NextDeliveryNonce() {
  // Unique across requests of this process (counter) and across restarts (start time).
  static const auto kProcessStart = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  return std::to_string(kProcessStart) + "." + std::to_string(deliveries.fetch_add(1) + 1);
}

void Receiver::Impl::Handle(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader* reader) {
  stats->requests.fetch_add(1);
  try {
    // The body is read here, not by httplib: httplib 0.11 enforces its payload limit only
    // on a Content-Length, and would read a chunked body of any size into memory.
    std::string body;
    if (reader != nullptr) {
      bool too_large = false;
      const bool read = (*reader)([&](const char* data, size_t length) {
        if (length > options.max_body_bytes - body.size()) {
          too_large = true;
          return false;
        }
        body.append(data, length);
        return true;
      });
      // httplib set 413 itself for a Content-Length over the limit (and skipped the body).
      if (too_large || res.status == 413) {
        // The rest of a chunked body stays unread: the connection is out of step and
        // httplib answers what follows as malformed requests until it closes.
        stats->too_large.fetch_add(1);
        SetText(res, 413, "payload too large\n");
        return;
      }
      if (!read) {
        stats->bad_requests.fetch_add(1);
        SetText(res, 400, "could not read the request body\n");
        return;
      }
    }
    if (req.path != options.notification_path && req.path != options.lifecycle_path) {
      std::optional<AdminResponse> admin;
      if (admin_handler && (req.method == "GET" || req.method == "HEAD")) {
        admin = admin_handler(req.path);
      }
      if (!admin) {
        stats->not_found.fetch_add(1);
        SetText(res, 404, "not found\n");
        return;
      }
      res.status = admin->status;
      res.set_header("Cache-Control", "no-store");
      res.set_content(std::move(admin->body), admin->content_type);
      return;
    }
    const bool is_get = req.method == "GET" || req.method == "HEAD";
    const bool is_post = req.method == "POST";
    if (!is_get && !is_post) {
      res.set_header("Allow", "GET, POST");
      stats->method_not_allowed.fetch_add(1);
      SetText(res, 405, "method not allowed\n");
      return;
    }
    for (const QueryParam& param : ParseQuery(req.target)) {
      // SharePoint and Outlook REST v2 spell it "validationtoken".
      if (AsciiLower(param.name) == "validationtoken") {
        HandleValidation(req, res, param.value);
        return;
      }
    }
    if (is_get) {
      // GET exists only for the handshake.
      res.set_header("Allow", "POST");
      stats->method_not_allowed.fetch_add(1);
      SetText(res, 405, "method not allowed without validationToken\n");
      return;
    }
    HandleNotifications(req, res, body);
  } catch (const std::exception& e) {
    spdlog::error("notify: {} {} failed: {}", req.method, OneLine(req.path), e.what());
    res.headers.clear();
    SetText(res, 500, "internal error\n");
  } catch (...) {
    spdlog::error("notify: {} {} failed with an unknown exception", req.method, OneLine(req.path));
    res.headers.clear();
    SetText(res, 500, "internal error\n");
  }
}

void Receiver::Impl::HandleValidation(const httplib::Request& req, httplib::Response& res,
                                      const std::optional<std::string>& token) {
  if (!token || !IsWellFormedValidationToken(*token)) {
    stats->bad_requests.fetch_add(1);
    spdlog::warn("notify: refused a validation request on {}: malformed token", OneLine(req.path));
    SetText(res, 400, "malformed validationToken\n");
    return;
  }
  stats->validations.fetch_add(1);
  spdlog::info("notify: answered a validation request on {}", OneLine(req.path));
  // Exactly the decoded token: Graph compares the whole body.
  SetText(res, 200, *token);
}

void Receiver::Impl::HandleNotifications(const httplib::Request& req, httplib::Response& res,
                                         const std::string& body) {
  NotificationAnswer answer = Accept(req.get_header_value("Content-Type"), body, req.path,
                                     req.get_header_value("ClientState"));
  if (answer.status == 503) res.set_header("Retry-After", "1");
  if (answer.body.empty()) {
    res.status = answer.status;
  } else {
    SetText(res, answer.status, std::move(answer.body));
  }
}

store::LogEntry Receiver::Impl::SequenceGapEntry(const std::string& subscription_id,
                                                 const KnownSubscription& known, int64_t expected,
                                                 int64_t received) {
  store::LogEntry entry;
  // The same gap seen again (a redelivered body) collapses into one row.
  entry.dedupe_key =
      "gap:" + subscription_id + "|" + std::to_string(expected) + "-" + std::to_string(received);
  entry.subscription_id = subscription_id;
  entry.user_id = known.user_id;
  entry.collection = known.collection;
  entry.lifecycle_event = "missed";
  return entry;
}

NotificationAnswer Receiver::Impl::Accept(std::string_view content_type, std::string_view body,
                                          std::string_view path,
                                          std::string_view client_state_header, Delivery delivery) {
  if (!IsJsonContentType(content_type)) {
    stats->unsupported_media_type.fetch_add(1);
    return {415, "expected Content-Type: application/json\n"};
  }
  auto parsed = ParseNotificationBody(body);
  if (!parsed.ok()) {
    stats->bad_requests.fetch_add(1);
    spdlog::warn("notify: refused a notification body on {}: {}", OneLine(path),
                 parsed.status().message());
    return {400, parsed.status().message() + "\n"};
  }
  std::vector<Notification>& items = parsed->items;
  std::vector<std::string>& tokens = parsed->validation_tokens;
  if (delivery == Delivery::kWebhook &&
      std::find(tokens.begin(), tokens.end(), kEventHubTokens) != tokens.end()) {
    // Only what was read from the event hub may skip the tokens' check.
    stats->bad_requests.fetch_add(1);
    spdlog::warn("notify: refused a notification body on {}: a reserved validation token",
                 OneLine(path));
    return {400, "validationTokens holds a reserved value\n"};
  }
  stats->notifications_received.fetch_add(items.size());

  std::vector<store::LogEntry> entries;
  entries.reserve(items.size());
  // One warning per reason and subscription per request: a forged batch of thousands
  // would otherwise flood the log.
  std::set<std::pair<std::string_view, std::string>> warned;
  const std::string nonce = NextDeliveryNonce();
  // v2.0 sequence numbers of this body per subscription: the highest, for the gap check.
  std::map<std::string, int64_t> sequences;
  std::set<std::pair<std::string, std::string>> lists;  // SharePoint (site, list) notified
  size_t list_items = 0;
  size_t gap_rows = 0;
  size_t hub_validations = 0;
  bool has_rich = false;
  for (Notification& item : items) {
    if (item.client_state.empty()) item.client_state = std::string(client_state_header);
    if (item.subscription_id == "NA" && item.change_type.rfind("Validation:", 0) == 0) {
      // What Graph writes to an event hub when a subscription is created: nothing to keep,
      // nothing to refuse.
      stats->hub_validations.fetch_add(1);
      ++hub_validations;
      continue;
    }
    std::optional<KnownSubscription> known = subscriptions->Find(item.subscription_id);
    std::string_view reason;
    if (!known) {
      stats->rejected_unknown_subscription.fetch_add(1);
      reason = "unknown_subscription";
    } else if (known->client_state.empty() ||
               !ConstantTimeEquals(item.client_state, known->client_state)) {
      // An entry without a secret cannot tell Graph from a forger, and a forged `deleted`
      // would remove mirrored items: refused like a wrong one.
      stats->rejected_bad_client_state.fetch_add(1);
      reason = "bad_client_state";
    }
    if (!reason.empty()) {
      // The subscription id only: never clientState or tokens.
      if (warned.emplace(reason, item.subscription_id).second) {
        spdlog::warn("notify: rejected a notification ({}) for subscription \"{}\"", reason,
                     OneLine(item.subscription_id));
      }
      continue;
    }
    if (!known->list_id.empty()) {
      // SharePoint: "this list changed", nothing more. Counted durably; the list worker
      // asks GetChanges.
      lists.insert({known->list_site, known->list_id});
      ++list_items;
      continue;
    }
    if (item.change_type.empty() && item.lifecycle_event.empty()) {
      // A SharePoint-shaped item for a Graph subscription: not from SharePoint.
      stats->rejected_unknown_subscription.fetch_add(1);
      continue;
    }
    if (item.sequence_number) {
      const int64_t received = *item.sequence_number;
      std::optional<int64_t> last;
      if (auto in_body = sequences.find(item.subscription_id); in_body != sequences.end()) {
        last = in_body->second;
      } else {
        std::lock_guard lock(sequence_mu);
        if (auto seen = last_sequence.find(item.subscription_id); seen != last_sequence.end()) {
          last = seen->second;
        }
      }
      if (last && received > *last + 1) {
        spdlog::warn(
            "notify: subscription \"{}\" skipped sequence numbers {} to {}: "
            "resyncing it",
            OneLine(item.subscription_id), *last + 1, received - 1);
        entries.push_back(SequenceGapEntry(item.subscription_id, *known, *last + 1, received));
        ++gap_rows;
      }
      int64_t& highest = sequences.try_emplace(item.subscription_id, received).first->second;
      highest = std::max(highest, received);
    }
    store::LogEntry entry;
    entry.dedupe_key = DedupeKey(item, nonce);
    entry.subscription_id = std::move(item.subscription_id);
    // Whose and which collection come from our own record of the subscription, never from
    // the resource path the sender wrote.
    entry.user_id = std::move(known->user_id);
    entry.collection = known->collection;
    entry.change_type = std::move(item.change_type);
    entry.lifecycle_event = std::move(item.lifecycle_event);
    entry.resource = std::move(item.resource);
    entry.item_id = std::move(item.resource_id);
    entry.notification_id = std::move(item.id);
    entry.etag = item.etag;
    entry.scoped = known->scoped;
    if (item.has_encrypted_content) {
      has_rich = true;
      // Kept encrypted: the worker checks the body's tokens and decrypts (answer first,
      // validate after, as Graph asks).
      stats->rich_items.fetch_add(1);
      entry.rich.data = std::move(item.encrypted.data);
      entry.rich.data_key = std::move(item.encrypted.data_key);
      entry.rich.signature = std::move(item.encrypted.data_signature);
      entry.rich.certificate_id = std::move(item.encrypted.certificate_id);
    }
    entries.push_back(std::move(entry));
  }

  if (entries.empty() && lists.empty()) {
    // Nothing to keep. Still 202: a forged or stale batch must not be retried for hours.
    if (items.size() > hub_validations) stats->rejected_batches.fetch_add(1);
    return {202, ""};
  }

  const size_t count = entries.size() + list_items;
  // The store compares deadlines with the system clock: a real-time deadline, whatever
  // clock the engine runs on (a test's ManualClock does not move while a commit waits).
  const TimePoint deadline = std::chrono::system_clock::now() + options.commit_timeout;
  Status status = Status::Ok();
  if (!lists.empty()) {
    status = store->lists().NoteNotified(
        std::vector<std::pair<std::string, std::string>>(lists.begin(), lists.end()), deadline);
  }
  if (delivery == Delivery::kEventHub && has_rich && tokens.empty()) {
    tokens.emplace_back(kEventHubTokens);
  }
  if (status.ok() && !entries.empty()) {
    status = store->log().Append(std::move(entries), deadline, std::move(tokens));
  }
  if (!status.ok()) {
    stats->unavailable.fetch_add(1);
    spdlog::warn("notify: answering 503 to {} notification(s): {}", count, status.ToString());
    return {503, "not stored, retry\n"};
  }
  stats->accepted.fetch_add(count - gap_rows);
  stats->sequence_gaps.fetch_add(gap_rows);
  if (!sequences.empty()) {
    // Only now: a body answered 503 comes again, and its gap must be seen again.
    std::lock_guard lock(sequence_mu);
    for (const auto& [subscription, highest] : sequences) {
      int64_t& last = last_sequence.try_emplace(subscription, highest).first->second;
      last = std::max(last, highest);
    }
  }
  std::shared_ptr<const std::function<void()>> on_accepted;
  {
    std::lock_guard lock(on_accepted_mu);
    on_accepted = this->on_accepted;
  }
  if (on_accepted && *on_accepted) {
    try {
      (*on_accepted)();
    } catch (const std::exception& e) {
      // The items are durable: the answer is 202 whatever the callback did.
      spdlog::error("notify: the on-accepted callback failed: {}", e.what());
    }
  }
  return {202, ""};
}

httplib::Server::HandlerResponse Receiver::Impl::HandleLibraryError(const httplib::Request&,
                                                                    httplib::Response& res) {
  // Our own handler always sets a body; an empty one means httplib answered by itself
  // (the handler never ran, so the request was not counted yet).
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  stats->requests.fetch_add(1);
  std::string text;
  switch (res.status) {
    case 413:
      stats->too_large.fetch_add(1);
      text = "payload too large\n";
      break;
    case 400:
      stats->bad_requests.fetch_add(1);
      text = "bad request\n";
      break;
    case 404:
      stats->not_found.fetch_add(1);
      text = "not found\n";
      break;
    default:
      text = "error\n";
      break;
  }
  SetText(res, res.status, std::move(text));
  return httplib::Server::HandlerResponse::Handled;
}

Receiver::Receiver(ReceiverOptions options, SubscriptionTable* subscriptions, store::Store* store,
                   Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(options), subscriptions, store, clock, &stats_)) {}

Receiver::~Receiver() { Stop(); }

void Receiver::SetOnAccepted(std::function<void()> on_accepted) {
  auto shared = std::make_shared<const std::function<void()>>(std::move(on_accepted));
  std::lock_guard lock(impl_->on_accepted_mu);
  impl_->on_accepted = std::move(shared);
}

NotificationAnswer Receiver::Accept(std::string_view content_type, std::string_view body,
                                    Delivery delivery) {
  stats_.requests.fetch_add(1);
  try {
    return impl_->Accept(content_type, body, impl_->options.notification_path, {}, delivery);
  } catch (const std::exception& e) {
    spdlog::error("notify: accepting a notification body failed: {}", e.what());
    return {500, "internal error\n"};
  }
}

void Receiver::SetAdminHandler(AdminHandler handler) { impl_->admin_handler = std::move(handler); }

Status Receiver::Start() {
  Impl& impl = *impl_;
  const ReceiverOptions& o = impl.options;
  if (impl.started) return Status::Internal("receiver: Start() called twice");
  if (o.port < 0 || o.port > 65535) {
    return Status::InvalidArgument("receiver: port " + std::to_string(o.port) + " out of range");
  }
  if (o.notification_path.empty() || o.notification_path.front() != '/' ||
      o.lifecycle_path.empty() || o.lifecycle_path.front() != '/') {
    return Status::InvalidArgument("receiver: paths must start with '/'");
  }
  if (o.threads < 1 || o.max_connections < o.threads || o.max_body_bytes == 0 ||
      o.commit_timeout.count() <= 0 || o.request_timeout.count() <= 0 || o.keep_alive.count() < 0) {
    return Status::InvalidArgument(
        "receiver: threads, max_body_bytes, commit_timeout and request_timeout must be "
        "positive, and max_connections at least threads");
  }
  impl.started = true;

  if (o.tls_certificate.empty() != o.tls_private_key.empty()) {
    return Status::InvalidArgument("receiver: TLS needs both a certificate and a private key");
  }
  if (!o.tls_certificate.empty()) {
    impl.tls_context.reset(NewServerTlsContext(o.tls_certificate, o.tls_private_key));
    if (impl.tls_context == nullptr) {
      return Status::InvalidArgument("receiver: cannot use the TLS certificate " +
                                     o.tls_certificate + " with its key " + o.tls_private_key);
    }
  }
  GuardedServerOptions connections;
  connections.threads = o.threads;
  connections.max_connections = o.max_connections;
  connections.max_idle_connections = o.max_idle_connections;
  connections.request_timeout = o.request_timeout;
  connections.keep_alive = o.keep_alive;
  connections.keep_alive_max_count = kKeepAliveMaxCount;
  impl.server = std::make_unique<GuardedServer>(
      connections,
      GuardedServerCounters{&impl.stats->refused, &impl.stats->timed_out, &impl.stats->evicted},
      impl.tls_context.get());
  httplib::Server& server = *impl.server;
  server.set_payload_max_length(o.max_body_bytes);
  server.set_socket_options([&impl](socket_t sock) {
    // SO_REUSEADDR (restart while old connections sit in TIME_WAIT) but not httplib's
    // default SO_REUSEPORT, with which a second daemon on this port would bind silently
    // and take half of Graph's deliveries.
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    impl.listen_fd.store(sock);
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        // Handle() catches everything; this is the last line. No e.what() in the answer.
        res.headers.clear();
        SetText(res, 500, "internal error\n");
      });
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [&impl](const httplib::Request& req, httplib::Response& res) {
        return impl.HandleLibraryError(req, res);
      }));
  // Every method on every path comes to Handle(), which answers 404 and 405 itself.
  const std::string any = R"([\s\S]*)";
  auto handler = [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.Handle(req, res, nullptr);
  };
  const httplib::Server::HandlerWithContentReader with_body =
      [&impl](const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader) { impl.Handle(req, res, &reader); };
  server.Get(any, handler);
  server.Options(any, handler);
  // httplib dispatches to a reader handler only when it expects a body; a bodiless PUT or
  // DELETE goes to the plain one.
  server.Post(any, with_body);
  server.Put(any, with_body);
  server.Patch(any, with_body);
  server.Delete(any, with_body);
  server.Post(any, httplib::Server::Handler(handler));
  server.Put(any, httplib::Server::Handler(handler));
  server.Patch(any, httplib::Server::Handler(handler));
  server.Delete(any, httplib::Server::Handler(handler));

  errno = 0;
  int port = o.port;
  bool bound = false;
  if (port == 0) {
    port = server.bind_to_any_port(o.host);
    bound = port > 0;
  } else {
    bound = server.bind_to_port(o.host, port);
  }
  const int bind_errno = errno;
  if (!bound) {
    std::string why = bind_errno != 0 ? std::strerror(bind_errno) : "cannot bind";
    if (bind_errno == EADDRINUSE) why += " (is another graphmirror listening on it?)";
    return Status::Unavailable("receiver: cannot listen on " + o.host + ":" +
                               std::to_string(o.port) + ": " + why);
  }
  if (int fd = impl.listen_fd.load(); fd >= 0) ::listen(fd, kListenBacklog);

  impl.thread = std::thread([&impl] {
    if (!impl.server->listen_after_bind()) spdlog::error("notify: the receiver stopped listening");
    impl.listen_returned.store(true);
  });
  while (!impl.server->is_running() && !impl.listen_returned.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!impl.server->is_running()) {
    impl.thread.join();
    return Status::Unavailable("receiver: could not start serving on " + o.host + ":" +
                               std::to_string(port));
  }
  port_.store(port);
  spdlog::info("notify: receiving on {}://{}:{} ({}, {})",
               o.tls_certificate.empty() ? "http" : "https", o.host, port, o.notification_path,
               o.lifecycle_path);
  return Status::Ok();
}

void Receiver::Stop() {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) return;
  // stop() on a server that is not running would leave a later listen() blocked: only a
  // running one is stopped; one whose listen loop already ended is just joined.
  if (impl.server->is_running()) impl.server->stop();
  impl.server->CloseConnections();
  impl.thread.join();
}

}  // namespace graphmirror::notify
