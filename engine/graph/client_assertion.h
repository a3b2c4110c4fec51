// Certificate credentials for the client-credentials grant: the signed JWT an application
// sends as `client_assertion` instead of a client secret ("Microsoft identity platform
// application authentication certificate credentials").
//
// The assertion follows that page: header `alg` RS256 (RSASSA-PKCS1-v1_5, SHA-256) with
// `x5t`, the base64url SHA-1 thumbprint of the certificate's DER, as the page long
// documented it, or PS256 (RSASSA-PSS, SHA-256, salt of 32 bytes) with `x5t#S256`, the
// SHA-256 thumbprint, as it documents it now; the header carries both thumbprints either
// way, so that a verifier reading either finds the certificate. `typ` JWT; claims `aud`
// the token endpoint, `iss` = `sub` = the client id, a random `jti`, `nbf` = `iat` = now
// and `exp` 10 minutes later (the page asks for 5 to 10 minutes at most).
//
// Thread-safety: ClientCertificate is immutable once loaded; MakeClientAssertion may be
// called from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_CLIENT_ASSERTION_H_
#define GRAPHMIRROR_ENGINE_GRAPH_CLIENT_ASSERTION_H_

#include <memory>
#include <string>

#include "graphmirror/clock.h"
#include "graphmirror/status.h"

namespace graphmirror::graph {

inline constexpr const char* kClientAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

enum class AssertionSignature { kRs256, kPs256 };

// How long an assertion is valid after its `nbf`.
inline constexpr std::chrono::minutes kClientAssertionLifetime{10};

// A certificate registered with the app and its private key.
class ClientCertificate {
 public:
  // Reads both PEM files. InvalidArgument, in one line naming the file: a key file readable
  // by group or others (it must be mode 0600 or stricter), an unreadable or malformed file,
  // a key that is not RSA of 2048 bits or more, or a key that does not belong to the
  // certificate.
  static Result<std::shared_ptr<const ClientCertificate>> Load(const std::string& certificate_path,
                                                               const std::string& key_path);
  // The same from PEM text (no file mode to check).
  static Result<std::shared_ptr<const ClientCertificate>> FromPem(
      const std::string& certificate_pem, const std::string& key_pem);

  ~ClientCertificate();
  ClientCertificate(const ClientCertificate&) = delete;
  ClientCertificate& operator=(const ClientCertificate&) = delete;

  const std::string& x5t() const { return x5t_; }            // base64url SHA-1 of the DER
  const std::string& x5t_s256() const { return x5t_s256_; }  // base64url SHA-256 of the DER
  // Hex SHA-1 of the DER, upper case: the thumbprint the Entra admin center shows.
  const std::string& thumbprint_hex() const { return thumbprint_hex_; }

  // A signed assertion for `client_id` at the token endpoint `audience`, valid from `now`.
  Result<std::string> MakeAssertion(
      const std::string& client_id, const std::string& audience, TimePoint now,
      AssertionSignature signature = AssertionSignature::kRs256) const;

 private:
  struct Keys;
  explicit ClientCertificate(std::unique_ptr<Keys> keys);

  std::unique_ptr<Keys> keys_;
  std::string x5t_;
  std::string x5t_s256_;
  std::string thumbprint_hex_;
};

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_CLIENT_ASSERTION_H_
