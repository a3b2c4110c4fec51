// TokenProvider: app-only access tokens for Graph (OAuth2 client credentials).
//
// Holds one token and hands it to every request. It renews the token ahead of its expiry
// (by the injected Clock, so tests can cross an hour in no time) and after a 401, and
// it renews once for all callers: the one that finds the token stale fetches while the
// others wait, then all use the new token.
//
// Thread-safety: safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_TOKEN_PROVIDER_H_
#define GRAPHMIRROR_ENGINE_GRAPH_TOKEN_PROVIDER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/graph/graph_client.h"
#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::graph {

class TokenProvider {
 public:
  // Uses token_url, client_id, the credential (client_certificate and client_private_key
  // if set, else client_secret), scope, token_renew_ahead and the timeouts of `options`.
  // `request_counter`, if given, counts POSTs to the token endpoint.
  TokenProvider(const ClientOptions& options, Clock* clock,
                std::atomic<uint64_t>* request_counter = nullptr);
  ~TokenProvider();
  TokenProvider(const TokenProvider&) = delete;
  TokenProvider& operator=(const TokenProvider&) = delete;

  // The cached token, or a new one when there is none or the cached one is within
  // token_renew_ahead of its expiry (at most half its lifetime ahead, so that a short-lived
  // token is not renewed on every call).
  //
  // Errors: the endpoint refused the credentials (400/401/403) -> Unauthenticated naming
  // the AADSTS code and description; the endpoint is unreachable, throttles or fails
  // (429/5xx), or answers without a token -> Unavailable naming the URL; a malformed
  // token_url, or a certificate or key file that cannot be used (ClientCertificate::Load)
  // -> InvalidArgument. Never puts the secret or a token in a message or a log.
  Result<std::string> GetToken();

  // Graph refused `bad_token` (401): drop it so the next GetToken() fetches a new one.
  // If the cached token is already another one (a concurrent caller renewed), nothing
  // happens, so a burst of 401s costs one renewal.
  void Invalidate(std::string_view bad_token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_TOKEN_PROVIDER_H_
