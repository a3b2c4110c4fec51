// TokenValidator: the `validationTokens` of a rich notification batch (GRAPH.md section
// 5). A token is valid when it is an RS256 JWT whose signature checks against the
// identity platform's published keys (JWKS, picked by `kid`; fetched at first use and
// again, at most once every 10 seconds, when a token names a `kid` not in the cached set:
// the keys rotate daily and a new key signs as soon as it is published), it is
// within `nbf`..`exp` (with leeway), `aud` is our client id, the caller is Graph's
// change-tracking application (`appid` in v1 tokens, `azp` in v2), and the issuer is
// `https://sts.windows.net/{tid}/` or `https://login.microsoftonline.com/{tid}/v2.0`.
// Only RS256 is accepted: `alg: none` and HS256 (a public key used as an HMAC secret) are
// refused before anything else.
//
// A token is judged as of when it arrived: a batch applied late (after a restart) is not
// refused because its tokens expired while it waited in the log. A `kid` counts as unknown
// only if the key set was fetched after the token arrived; when the set cannot be fetched
// now (the endpoint is down, or the last refetch was less than 10 seconds ago) the answer
// is kKeysUnavailable: try again later.
//
// Thread-safety: Validate may be called from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_RICH_JWT_H_
#define GRAPHMIRROR_ENGINE_RICH_JWT_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::rich {

// Graph's change-tracking application: the only caller whose tokens are accepted.
inline constexpr const char* kGraphChangeTrackingAppId = "0bf30f3b-4a52-48df-9a82-234910c4a086";

enum class TokenProblem {
  kNone,
  kMalformed,
  kAlgorithm,
  kUnknownKey,
  kSignature,
  kExpired,
  kNotYetValid,
  kAudience,
  kCaller,
  kIssuer,
  kKeysUnavailable,  // not judged: the key set could not be (re)fetched now
};
// "none", "malformed", "algorithm", "unknown_key", "signature", "expired", ...
const char* TokenProblemName(TokenProblem problem);

struct TokenExpectations {
  std::string client_id;  // our application id: the tokens' audience
  std::string tenant_id;  // if set, the issuer must be of this tenant; else of the token's tid
  std::chrono::seconds leeway{300};
};

class TokenValidator {
 public:
  // `fetch_jwks` returns the JWKS document ({"keys":[...]}) from the configured URL.
  TokenValidator(TokenExpectations expectations, std::function<Result<std::string>()> fetch_jwks);
  ~TokenValidator();

  TokenProblem Validate(std::string_view token, TimePoint now) { return Validate(token, now, now); }
  // `arrived`: when the token came (validity times are checked against it); `now`: the
  // clock reading that paces refetches of the key set.
  TokenProblem Validate(std::string_view token, TimePoint arrived, TimePoint now);
  int jwks_fetches() const;

 private:
  struct Key;
  // The key for `kid`, refetching the set if it is unknown, no fetch happened since
  // `arrived` and the last one is old enough. Null with *problem set if there is none.
  std::shared_ptr<Key> KeyFor(const std::string& kid, TimePoint arrived, TimePoint now,
                              TokenProblem* problem);
  Status Refresh();

  TokenExpectations expectations_;
  std::function<Result<std::string>()> fetch_jwks_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Key>> keys_;
  TimePoint last_attempt_{};  // the last fetch tried (paces refetches)
  TimePoint last_fetch_{};    // the last fetch that succeeded
  bool attempted_ = false;
  bool fetched_ = false;
  int fetches_ = 0;
};

}  // namespace graphmirror::rich

#endif  // GRAPHMIRROR_ENGINE_RICH_JWT_H_
