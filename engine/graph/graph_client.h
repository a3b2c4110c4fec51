// GraphClient: every HTTP call the engine makes to Microsoft Graph goes through here.
//
// It owns the policy a well-behaved Graph client needs: a bearer token from the
// TokenProvider (renewed once on a 401), `Prefer: IdType="ImmutableId"` on every request,
// at most `max_in_flight_per_mailbox` requests in flight per mailbox, a Retry-After fence
// shared by all requests of a mailbox (one 429 pauses the whole mailbox, not just the
// request that got it), exponential backoff with jitter when no Retry-After comes, and a
// refusal to send the token to any host but the configured Graph host.
//
// Throttling is waited out, not counted against the request: Microsoft's guidance
// ("Microsoft Graph throttling guidance", "Best practices to handle throttling") is to
// wait the Retry-After and "retry the request until it succeeds", with exponential
// backoff when no Retry-After comes; 503 and 504 are as transient ("Microsoft Graph error
// responses", "HTTP status codes"). So a request that gets 429, 503, 504 or a broken
// connection is sent again for as long as its waiting stays within `max_retry_wait`
// (counted from its first failure): only a mailbox that makes no progress for that long
// fails the request.
//
// Thread-safety: safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_GRAPH_CLIENT_H_
#define GRAPHMIRROR_ENGINE_GRAPH_GRAPH_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::graph {

struct ClientOptions {
  std::string base_url;   // e.g. "https://graph.microsoft.com/v1.0"
  std::string token_url;  // e.g. "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token"
  std::string client_id;
  std::string client_secret;
  // Certificate credentials (PEM files), used instead of client_secret when set.
  std::string client_certificate;
  std::string client_private_key;
  bool client_assertion_pss = false;  // PS256 rather than RS256 (GraphSettings)
  std::string scope = "https://graph.microsoft.com/.default";
  int max_in_flight_per_mailbox = 4;  // Graph's Outlook limit
  // Sent as Prefer: outlook.body-content-type="..." on every request ("text" or "html";
  // empty: not sent, and Outlook answers HTML). Graph applies it to GETs and lists of
  // messages (and events), not to delta rounds; the engine asks "html" so that every read
  // serves the form delta rounds do (text is made by graph::HtmlToText).
  std::string body_content_type = "html";
  // The longest a request keeps waiting and retrying after its first 429, 503, 504 or
  // connection failure before it fails (a Retry-After beyond it fails at once).
  std::chrono::milliseconds max_retry_wait{600'000};
  int max_attempts = 0;  // > 0: also at most this many sends per request; 0: no limit
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds read_timeout{60'000};
  std::chrono::seconds token_renew_ahead{300};  // renew this long before expiry
};

struct Response {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string error_code;  // Graph's error.code, for client errors returned as responses
  std::string error_message;
};

struct Request {
  std::string mailbox;         // keys the concurrency limit and the Retry-After fence
  std::string method = "GET";  // GET, POST, PATCH, DELETE
  std::string path_or_url;     // as for Get()
  std::string body;            // JSON, for POST and PATCH
  // Return 4xx answers (but 401) as a Response with error_code set, instead of mapping
  // them to a Status: for callers that act on the code (409, ExtensionError, 404).
  bool return_client_errors = false;
  // Also return 5xx answers that are not retried (500, 501, 502, ...) as a Response, body
  // included: for callers that read the service's error in them (SharePoint reports an
  // expired change token as a 500 with its exception type in the body).
  bool return_server_errors = false;
  // Also return a 401 that persists after the one token renewal as a Response (headers
  // included), instead of Unauthenticated: for diagnostics that read WWW-Authenticate.
  bool return_unauthorized = false;
  // > 0: also sends `Prefer: odata.maxpagesize=N` (how delta rounds size their pages).
  int max_page_size = 0;
};

// Counters for tests, status output and (later) metrics. Monotonic.
struct ClientStats {
  std::atomic<uint64_t> requests{0};        // HTTP requests sent, retries included
  std::atomic<uint64_t> throttled{0};       // 429 answers
  std::atomic<uint64_t> retries{0};         // requests repeated after 429/5xx/network
  std::atomic<uint64_t> token_requests{0};  // calls to the token endpoint
  // Answers whose @odata.nextLink or @odata.deltaLink pointed off the Graph host, and
  // absolute links to another host refused before sending: the token never went there.
  std::atomic<uint64_t> foreign_links_refused{0};
  std::atomic<uint64_t> retry_wait_micros{0};  // time requests spent waiting to retry
  // Answers by status class: [2] 2xx, [4] 4xx, [5] 5xx, ...; [0] no answer (network).
  std::atomic<uint64_t> by_status_class[6]{};
};

// What requests are waiting for before they are sent again, now (for progress displays).
struct WaitState {
  int requests = 0;                          // requests waiting out a 429, 5xx or failure
  std::chrono::milliseconds longest_left{};  // the longest remaining wait among them
  std::string reason;  // of that wait: "throttled", "service unavailable", ...
};

// The server's clock reading from the response's Date header, if it sent a valid one.
// Graph's clock, not ours: a safe starting point for watermarks of things not yet seen.
std::optional<TimePoint> ServerDate(const Response& response);

// A client error that a request with `return_client_errors` got back as a Response, as
// the Status Get would have returned for it (400 InvalidArgument, 403 PermissionDenied,
// 404 NotFound, other Unavailable), naming `what` was asked.
Status ClientErrorStatus(const Response& response, std::string_view what);

// Graph's answers to a delta token it no longer honours (GRAPH.md section 6): 410 Gone, or
// 400 syncStateNotFound, resyncRequired or SyncStateInvalid. The round starts over fresh.
bool IsExpiredDeltaToken(const Response& response);

class TokenProvider;

class GraphClient {
 public:
  GraphClient(ClientOptions options, Clock* clock);
  ~GraphClient();
  GraphClient(const GraphClient&) = delete;
  GraphClient& operator=(const GraphClient&) = delete;

  // GETs `path_or_url`: either a path relative to base_url ("/users/u/messages?$top=5",
  // query already URL-encoded) or an absolute URL from @odata.nextLink, which must be on
  // the base_url's scheme, host and port (else InvalidArgument, and nothing is sent).
  // `mailbox` keys the concurrency limit and the Retry-After fence.
  //
  // Retries 429, 503, 504 and connection failures while within max_retry_wait (and
  // max_attempts, if set). Maps the final answer: 2xx -> Response, unless its
  // @odata.nextLink or @odata.deltaLink points off the Graph origin (InvalidArgument naming
  // that origin: nothing of such a page is to be used); 400 ->
  // InvalidArgument("<graph error code>: <message>");
  // 401 (after one token renewal) -> Unauthenticated; 403 -> PermissionDenied;
  // 404 -> NotFound; other -> Unavailable. Messages are one line and name the request.
  //
  // Details of the contract:
  // - A relative path is appended to base_url's path ("users/u" works as "/users/u"). It
  //   is sent as given (no re-encoding), so it must not contain spaces or control
  //   characters (InvalidArgument). Absolute URLs must also stay under base_url's path.
  // - Error messages read "<code>: <message> (HTTP <status>, GET <url>)" from Graph's or
  //   SharePoint's error body, or "no error body" in place of code and message; callers branch on
  //   the Status code, never on the text. Giving up reads "gave up after N attempts, last: ...".
  // - Token failures: Unauthenticated (rejected credentials) is returned at once;
  //   Unavailable (token endpoint down) is retried like a failed request.
  // - A Retry-After on a 429/503/504 fences the whole mailbox for that long, even when
  //   this request has no attempts left.
  // - A 429 is always retried, `return_client_errors` or not.
  // - A refused link (absolute URL or link in an answer off the Graph origin) is logged as
  //   an error naming the origin and counted in stats().foreign_links_refused.
  Result<Response> Get(std::string_view mailbox, std::string_view path_or_url);

  // Any request, with the same policy as Get (retries, fence, token renewal).
  Result<Response> Send(const Request& request);

  // Checks the credentials by fetching a token (used by the CLI to fail early and clearly).
  Status CheckCredentials();
  // The token requests are sent with (fetched if needed), for diagnostics that read its
  // claims (`graphmirror doctor`). Never log it.
  Result<std::string> AccessToken();

  const ClientStats& stats() const;
  WaitState Waiting() const;
  // While set, requests waiting out a Retry-After or a backoff stop waiting (within a
  // quarter second) and end Cancelled instead of being sent again: a daemon stopping does
  // not sit out a long throttle. Any thread; clear it once the stop is over.
  void SetCancelled(bool cancelled);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_GRAPH_CLIENT_H_
