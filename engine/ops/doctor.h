// Doctor: the checks behind `graphmirror doctor`, for what users trip over when they
// connect graphmirror to their tenant: the app's credentials and its token (audience,
// roles, expiry: the claims are decoded, not verified), the application permission each
// configured collection needs, the clock against Graph's, whether the public
// notification URL answers the validation handshake, and what a 401 means, read from its
// WWW-Authenticate header (a token minted for another API is named as such).
//
// Thread-safety: free functions without shared state.

#ifndef GRAPHMIRROR_ENGINE_OPS_DOCTOR_H_
#define GRAPHMIRROR_ENGINE_OPS_DOCTOR_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.h"
#include "graphmirror/clock.h"

namespace graphmirror::ops {

struct Finding {
  enum class Level { kOk, kWarn, kFail };
  Level level = Level::kOk;
  std::string check;  // "credential", "token", "permissions", "mailbox", "clock", "webhook"
  std::string text;   // one line, never a secret or a token
};

std::vector<Finding> RunDoctor(const config::Config& config, Clock* clock);

// The claims of an access token that explain most failures.
struct TokenClaims {
  std::string audience;
  std::vector<std::string> roles;
  std::string tenant;
  std::string app_id;
  std::optional<int64_t> expires;  // Unix seconds
};
// nullopt if `token` is not a readable JWT (Graph tokens are; others may be opaque).
std::optional<TokenClaims> DecodeTokenClaims(std::string_view token);

// A plain-words explanation of a 401, from its WWW-Authenticate header and the audience
// of the token that was sent.
std::string ExplainUnauthorized(std::string_view www_authenticate,
                                const std::string& token_audience);

}  // namespace graphmirror::ops

#endif  // GRAPHMIRROR_ENGINE_OPS_DOCTOR_H_
