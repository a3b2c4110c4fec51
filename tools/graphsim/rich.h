// Rich notifications (GRAPH.md section 5) from Graph's side: the subscriber's encryption
// certificate, the encryptedContent of one notification item, and the identity platform's
// signing keys with their JWKS and the validationTokens they sign. All of it is graphsim's
// own OpenSSL code, sharing nothing with the engine's decryptor and token validator, so
// that one misreading of the protocol cannot hide in both.
//
// Thread-safety: an EncryptionCertificate is immutable once parsed; EncryptContent is a
// free function; TokenSigner is safe to use from many threads (its lock is a leaf, held
// while a key is generated, never while another lock is taken).

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_RICH_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_RICH_H_

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/schema.h"

namespace graphsim {

// Graph's change-tracking application: the caller (appid / azp) of every validationToken.
inline constexpr char kChangeTrackingAppId[] = "0bf30f3b-4a52-48df-9a82-234910c4a086";

// A set of RichFault values.
using RichFaults = unsigned;
inline RichFaults FaultBit(RichFault fault) { return 1u << static_cast<unsigned>(fault); }
inline bool HasFault(RichFaults faults, RichFault fault) { return faults & FaultBit(fault); }
// Faults of an item's encryptedContent (the others spoil a POST's validationTokens).
inline bool IsContentFault(RichFault fault) {
  return static_cast<int>(fault) <= static_cast<int>(RichFault::kMalformedBase64);
}

// "flip_data_bit" for kFlipDataBit, ...; ParseRichFault is its inverse.
const char* RichFaultName(RichFault fault);
std::optional<RichFault> ParseRichFault(std::string_view name);

// The public half of a subscriber's key pair, from the subscription's encryptionCertificate.
struct EncryptionCertificate {
  std::string der;         // the X.509 certificate as sent (decoded)
  std::string thumbprint;  // SHA-1 of `der`, upper-case hex, as Graph prints it
  std::shared_ptr<EVP_PKEY> public_key;
};

// Decodes and checks a subscription's encryptionCertificate: base64 of an X.509 DER
// certificate with an RSA key of 2048 to 4096 bits. nullopt and *out filled, or the message
// of Graph's 400.
std::optional<std::string> ParseEncryptionCertificate(std::string_view base64,
                                                      EncryptionCertificate* out);

// encryptedContent {"data","dataSignature","dataKey","encryptionCertificateId",
// "encryptionCertificateThumbprint"} of `plaintext`: a fresh random 32-byte key,
// AES-256-CBC with IV = key[0..16) and PKCS7 padding, HMAC-SHA256 of the ciphertext with
// that key, the key wrapped by RSA-OAEP (SHA-1, MGF1-SHA-1, no label) for `certificate`.
// The content faults among `faults` spoil it as each says. False only if OpenSSL fails.
bool EncryptContent(std::string_view plaintext, const EncryptionCertificate& certificate,
                    const std::string& certificate_id, RichFaults faults, Json* out);

// The simulated identity platform's token-signing keys (RSA 2048, each with a self-signed
// certificate; kid = x5t = base64url of the certificate's SHA-1, as Entra ID names them).
// Keys are made on first use, not at construction, since a Simulator that never sees a
// rich subscription should not pay for RSA key generation.
class TokenSigner {
 public:
  // `app_id` is the audience of every token (the subscribing app), `tenant_id` its tenant.
  TokenSigner(std::string app_id, std::string tenant_id, int version);
  ~TokenSigner();
  TokenSigner(const TokenSigner&) = delete;
  TokenSigner& operator=(const TokenSigner&) = delete;

  // {"keys":[...]}: every published key, the current one first.
  Json Jwks();
  // One validationToken (compact JWS, RS256) issued at `now`; a token fault among `faults`
  // spoils it. "" only if OpenSSL fails.
  std::string ValidationToken(TimePoint now, RichFaults faults);
  // A new current key; the earlier ones stay published.
  void Rotate();
  // Makes the first key now if there is none, so that the first rich delivery does not
  // wait for RSA key generation.
  void Prepare();

 private:
  struct Key;
  static std::shared_ptr<const Key> MakeKey();  // nullptr if OpenSSL fails
  std::shared_ptr<const Key> CurrentLocked();   // requires mu_; makes the first key if none

  const std::string app_id_;
  const std::string tenant_id_;
  const int version_;
  std::mutex mu_;
  std::vector<std::shared_ptr<const Key>> published_;  // oldest first; guarded by mu_
  std::shared_ptr<const Key> unpublished_;             // kTokenUnknownKid's; guarded by mu_
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_RICH_H_
