// graphsim's outgoing HTTP: the validation handshake and notification POSTs to a
// subscriber's endpoint, with cpp-httplib. One connection per request (Connection: close),
// so a subscriber's worker is never held by an idle keep-alive.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_WEBHOOK_CLIENT_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_WEBHOOK_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace graphsim {

// An absolute http(s) URL split for httplib.
struct WebhookUrl {
  std::string scheme;            // "http" or "https" (lower-case)
  std::string scheme_host_port;  // "http://127.0.0.1:8080" (what httplib::Client takes)
  std::string target;            // "/path?query" ("/" if empty); no fragment
  bool has_query = false;
};

// nullopt unless `url` is an absolute http:// or https:// URL with a host.
std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url);

struct WebhookResult {
  enum class Outcome { kAnswered, kTimeout, kConnectFailed, kError };
  Outcome outcome = Outcome::kError;
  int status = 0;            // when kAnswered
  std::string content_type;  // when kAnswered
  std::string body;          // when kAnswered
  std::string error;         // otherwise: what went wrong
};

// POSTs `body` to `url` (whose target may carry a query) and waits at most `timeout`
// (real time) to connect and for each read.
WebhookResult PostWebhook(const WebhookUrl& url, const std::string& target,
                          const std::string& content_type, const std::string& body,
                          std::chrono::milliseconds timeout, bool verify_certificates);

// application/x-www-form-urlencoded as .NET's HttpUtility.UrlEncode writes it (and so
// Graph's validationToken): space as '+', lower-case %xx, and A-Z a-z 0-9 - _ . ! * ( )
// kept.
std::string FormEncode(std::string_view text);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_WEBHOOK_CLIENT_H_
