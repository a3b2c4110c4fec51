// The Microsoft identity platform's client-credentials token endpoint, and the bearer
// check every Graph request passes first.
//
// Thread-safety: TokenIssuer is safe to use from many threads.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

class TokenIssuer {
 public:
  TokenIssuer(const Options& options, std::string tenant_id);

  // POST /{tenant}/oauth2/v2.0/token (form fields already in request.params).
  HttpResponse HandleTokenRequest(const HttpRequest& request, TimePoint now);

  enum class Verdict { kValid, kMissing, kMalformed, kUnknown, kExpired };
  // Checks the Authorization header of a Graph request.
  Verdict Check(const std::string& authorization, TimePoint now) const;
  // Makes every token issued so far expired (tokens issued later are fine).
  void ExpireAll();

 private:
  struct Grant {
    TimePoint expires;
    bool revoked = false;
  };
  std::string MintToken(TimePoint now, TimePoint expires);

  const Options options_;
  const std::string tenant_id_;
  mutable std::mutex mu_;
  uint64_t issued_ = 0;                            // guarded by mu_
  std::unordered_map<std::string, Grant> tokens_;  // guarded by mu_
};

// Graph's 401: error body plus the WWW-Authenticate challenge. `error_description` empty:
// no error="invalid_token" part (a request without a token).
HttpResponse Unauthorized(const std::string& message, const std::string& error_description,
                          TimePoint now);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_AUTH_H_
