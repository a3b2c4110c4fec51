// graphsim: a faithful, in-process Microsoft Graph simulator.
//
// Simulator holds the data model (users, their messages, events and contacts) and all of
// Graph's behaviour: OAuth2 client-credentials tokens, OData queries and paging,
// per-mailbox throttling, injected faults. It is transport-agnostic: Handle() takes a
// parsed HTTP request and returns the response. Server serves a Simulator over real HTTP
// (cpp-httplib), which is how the engine's tests and the `graphsim` binary use it.
//
// graphsim shares no Graph-protocol code with the engine on purpose: if both sides shared
// one misunderstanding of Graph, the tests would pass and the real service would fail.
//
// Thread-safety: Simulator and Server are safe to use from many threads.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphsim {

class SimulatorCore;  // internal: simulator_core.h

struct Options {
  uint64_t seed = 1;
  // Seeded data: `users` users, each with this many messages, events and contacts.
  int users = 3;
  int messages = 50;
  int events = 20;
  int contacts = 20;

  // The one application that may ask for tokens.
  std::string client_id = "graphsim";
  std::string client_secret = "graphsim-secret";
  std::chrono::seconds token_lifetime{3599};

  // Outlook's per app and mailbox limits (GRAPH.md section 7). Over either: 429.
  int max_concurrent_per_mailbox = 4;
  int requests_per_window = 10000;
  std::chrono::seconds window{600};
  // The Retry-After sent with every 429 (Graph sends fractional values like this one).
  double throttle_retry_after_seconds = 2.128;

  // If true, a UPN in the path answers 503 MailboxInfoStale on the 1st, 4th, 7th, ...
  // UPN-addressed request (GRAPH.md: prefer the object id).
  bool stale_mailbox_for_upn = false;

  // A request refused by a Retry-After fence counts in EarlyRetries only if it arrives
  // this long (real time) after the 429 that raised the fence: requests a client sent
  // concurrently, before it could see that 429, are refused but not blamed on it.
  std::chrono::milliseconds early_retry_grace{100};

  // Real time each mailbox request spends in flight before it is answered, so that tests
  // can make requests overlap. Zero in normal use.
  std::chrono::milliseconds handler_latency{0};

  // HTTP serving (Server only).
  int http_threads = 32;
  int keep_alive_seconds = 2;
  size_t max_payload_bytes = 4 << 20;
};

// One user (and mailbox) of the simulated tenant.
struct UserInfo {
  std::string id;  // object id, GUID text
  std::string user_principal_name;
  std::string display_name;
};

// A request as the transport parsed it. Path and query values are already URL-decoded.
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // "/v1.0/users/{id}/messages"
  std::vector<std::pair<std::string, std::string>> params;   // query, in request order
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  // Scheme and authority the client used ("http://127.0.0.1:8080"); links (nextLink,
  // @odata.context) are built on it so that they point back at this server.
  std::string base_url;

  // First value of a header, matched case-insensitively; "" if absent.
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // empty when there is no body
  std::string body;
  // Fault injection: the transport must drop the connection without answering.
  bool reset_connection = false;

  std::string Header(std::string_view name) const;
};

// Per-mailbox observations, for tests and GET /_sim/stats.
struct MailboxStats {
  int in_flight = 0;
  int max_concurrent_observed = 0;
  int early_retries = 0;
  int throttled = 0;
  uint64_t requests = 0;  // requests that reached the mailbox (admitted or not)
};

class Simulator {
 public:
  // `clock` is borrowed and must outlive the Simulator; nullptr means the system clock.
  Simulator(Options options, graphmirror::Clock* clock);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  const Options& options() const;
  std::vector<std::string> UserIds() const;  // object ids, deterministic for the seed
  std::vector<UserInfo> Users() const;
  std::string TenantId() const;

  // Direct manipulation, with the same effects as the HTTP API. `user` is an object id or
  // a UPN; `collection` is "messages", "events" or "contacts"; `fields_json` is Graph JSON
  // of the item (e.g. {"subject":"x"}). Messages land in `folder` (a well-known name or a
  // folder id) and are not drafts unless the folder is drafts. Failures return ""/false.
  std::string CreateItem(const std::string& user, const std::string& collection,
                         const std::string& fields_json, const std::string& folder = "inbox");
  bool UpdateItem(const std::string& user, const std::string& collection, const std::string& id,
                  const std::string& fields_json);
  bool DeleteItem(const std::string& user, const std::string& collection, const std::string& id);
  // Returns the message's id after the move ("" on failure): a new one unless
  // `immutable_ids`, as Graph does without / with Prefer: IdType="ImmutableId".
  std::string MoveMessage(const std::string& user, const std::string& id,
                          const std::string& destination_folder, bool immutable_ids);

  size_t Count(const std::string& user, const std::string& collection) const;
  // Current ids, sorted (for exact-mirror checks).
  std::vector<std::string> ItemIds(const std::string& user, const std::string& collection) const;
  // Full Graph JSON of the item, "" if there is none.
  std::string ItemJson(const std::string& user, const std::string& collection,
                       const std::string& id) const;

  // Fault injection.
  // The next N requests on that mailbox answer 429 with Retry-After.
  void ForceThrottle(const std::string& user, int next_n_requests);
  // The next N Graph requests (any mailbox) answer `status` with a Graph error body. A 429
  // always carries Retry-After (the throttle value unless `retry_after_seconds` >= 0);
  // other statuses carry it only if `retry_after_seconds` >= 0.
  void InjectStatus(int status, int next_n_requests, double retry_after_seconds = -1);
  // The next N Graph requests get their connection closed without an answer.
  void InjectConnectionResets(int next_n_requests);
  void ExpireAllTokens();
  void ClearFaults();
  void SetHandlerLatency(std::chrono::milliseconds latency);

  // Observations for tests.
  int MaxConcurrentObserved(const std::string& user) const;  // peak in-flight on the mailbox
  // Requests that arrived while the mailbox's Retry-After had not elapsed (by the clock),
  // beyond Options::early_retry_grace after the 429 that set it.
  int EarlyRetries(const std::string& user) const;
  int ThrottledCount(const std::string& user) const;  // 429s sent on that mailbox
  MailboxStats Stats(const std::string& user) const;
  uint64_t RequestCount() const;  // Graph requests (/v1.0/...) received

  // Time. Now() is the clock plus any offset AdvanceClock kept for a non-manual clock.
  graphmirror::Clock* clock() const;
  graphmirror::TimePoint Now() const;
  // Moves simulated time forward: a ManualClock is advanced (everyone sharing it sees the
  // jump); any other clock gets a simulator-private offset.
  void AdvanceClock(std::chrono::nanoseconds d);

  // Serves one request (Graph API, token endpoint and /_sim/ control). Never throws.
  HttpResponse Handle(const HttpRequest& request);

 private:
  std::unique_ptr<SimulatorCore> impl_;
};

class Server {
 public:
  explicit Server(Simulator* sim);  // `sim` is borrowed and must outlive the Server
  ~Server();                        // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a background thread; returns once requests are accepted.
  graphmirror::Status Start(const std::string& host = "127.0.0.1", int port = 0 /*any*/);
  int port() const;
  // "http://127.0.0.1:PORT". Graph base: base_url() + "/v1.0"; token endpoint:
  // base_url() + "/common/oauth2/v2.0/token".
  std::string base_url() const;
  void Stop();  // idempotent

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_GRAPHSIM_H_
