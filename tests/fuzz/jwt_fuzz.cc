// The validation-token (JWT) parser and checker (rich::TokenValidator). Two kinds of
// input, by the first byte: (even) the rest as a token verbatim; (odd) a real token
// issued by graphsim's identity platform with one byte of its signed part changed where
// the input says. A changed token is never valid, an untouched one always is.

#include <string>

#include "engine/rich/jwt.h"
#include "graphmirror/clock.h"
#include "tests/fuzz/fuzz_target.h"
#include "tools/graphsim/rich.h"

namespace {

constexpr const char* kClientId = "graphsim";
constexpr const char* kTenantId = "00000000-0000-0000-0000-000000000001";

struct Issuer {
  graphsim::TokenSigner signer{kClientId, kTenantId, 2};
  graphmirror::rich::TokenValidator validator{
      graphmirror::rich::TokenExpectations{kClientId, kTenantId, std::chrono::seconds(300)},
      [this]() -> graphmirror::Result<std::string> { return signer.Jwks().dump(); }};
  graphmirror::TimePoint now = graphmirror::SystemClock::Default()->Now();
  std::string token = signer.ValidationToken(now, 0);
};

Issuer& TheIssuer() {
  static Issuer* issuer = new Issuer;
  return *issuer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using graphmirror::fuzz::Require;
  using graphmirror::rich::TokenProblem;
  if (size == 0) return 0;
  Issuer& issuer = TheIssuer();
  Require(!issuer.token.empty(), "graphsim issues a token");
  const std::string_view rest = graphmirror::fuzz::AsText(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    issuer.validator.Validate(rest, issuer.now);
    return 0;
  }
  std::string token = issuer.token;
  if (rest.empty()) {
    Require(issuer.validator.Validate(token, issuer.now) == TokenProblem::kNone,
            "graphsim's own token is valid");
    return 0;
  }
  size_t at = 0;
  for (unsigned char c : rest.substr(0, 4)) at = at * 256 + c;
  // Within the signed part (header.payload): a change in the signature's last base64
  // character can leave its bytes as they were.
  const size_t signed_part = token.rfind('.');
  char& c = token[at % signed_part];
  const char replacement = rest.size() > 4 ? rest[4] : 'x';
  if (replacement == c) return 0;
  c = replacement;
  const TokenProblem problem = issuer.validator.Validate(token, issuer.now);
  Require(problem != TokenProblem::kNone, "a changed token is refused");
  return 0;
}
