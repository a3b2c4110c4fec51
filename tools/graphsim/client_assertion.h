// The token endpoint's check of a certificate credential: the signed JWT a client sends as
// `client_assertion` ("Microsoft identity platform application authentication certificate
// credentials"), verified against the certificate registered for the app.
//
// Thread-safety: free function, no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_CLIENT_ASSERTION_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_CLIENT_ASSERTION_H_

#include <chrono>
#include <optional>
#include <string>

#include "tools/graphsim/time_format.h"

namespace graphsim {

// Why the identity platform refuses an assertion: the AADSTS code and its text.
struct AssertionRefusal {
  int code = 0;
  std::string text;
};

struct AssertionExpectations {
  std::string client_id;        // the form's client_id: iss and sub
  std::string audience;         // the token endpoint's URL: aud
  std::string certificate_pem;  // the app's registered certificate; empty: none registered
  std::chrono::seconds leeway{300};
};

// Nothing if the assertion is good: RS256 or PS256 (the page documented RS256 with `x5t`
// first, PS256 with `x5t#S256` now; Entra ID accepts both), a thumbprint of the registered
// certificate in `x5t#S256` or `x5t`, a signature that verifies with its public key,
// `iss` = `sub` = client id, `aud` the endpoint, `jti` present and `nbf` <= now < `exp`
// (with leeway). Otherwise the refusal: 50027 malformed or outside its valid time range,
// 90014 a required claim missing, 700027 an unknown thumbprint, another algorithm or a bad
// signature, 700021 iss or sub not the client id, 700023 another audience.
std::optional<AssertionRefusal> CheckClientAssertion(const std::string& assertion,
                                                     const AssertionExpectations& expect,
                                                     TimePoint now);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_CLIENT_ASSERTION_H_
