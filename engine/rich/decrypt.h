// ContentDecryptor: the encryptedContent of a rich notification item, decrypted as
// GRAPH.md section 5 describes:
//   key = RSA-OAEP-decrypt(private key chosen by encryptionCertificateId, dataKey),
//         OAEP with SHA-1 and MGF1-SHA-1, empty label; it must be 32 bytes;
//   HMAC-SHA256(key, ciphertext) must equal dataSignature (constant-time comparison),
//         and nothing is decrypted otherwise;
//   plaintext = AES-256-CBC-decrypt(key, iv = key[0..16), ciphertext), PKCS7 padding.
// A refusal names its reason and never includes key material or plaintext.
//
// Thread-safety: a ContentDecryptor is immutable after Create; Decrypt may be called from
// many threads at once.

#ifndef GRAPHMIRROR_ENGINE_RICH_DECRYPT_H_
#define GRAPHMIRROR_ENGINE_RICH_DECRYPT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graphmirror/status.h"

namespace graphmirror::rich {

// The fields of `encryptedContent`, as Graph sends them (base64 text).
struct EncryptedContent {
  std::string data;
  std::string data_key;
  std::string data_signature;
  std::string certificate_id;          // encryptionCertificateId
  std::string certificate_thumbprint;  // encryptionCertificateThumbprint (informational)
};

// Why an item was refused; each is counted separately.
enum class Refusal { kNone, kMalformedBase64, kUnknownCertificate, kKey, kSignature, kPadding };
const char* RefusalName(Refusal refusal);  // "base64", "certificate", "key", ...

struct Decrypted {
  Refusal refusal = Refusal::kNone;
  std::string plaintext;  // the item's JSON when refusal is kNone
  std::string detail;     // one line, without secrets, when refused
  bool ok() const { return refusal == Refusal::kNone; }
};

struct KeyPair {
  std::string certificate_id;   // the encryptionCertificateId given at subscription
  std::string private_key_pem;  // PKCS#8 or traditional RSA PEM, unencrypted
};

class ContentDecryptor {
 public:
  // InvalidArgument naming the certificate id if a key cannot be read or is not RSA.
  static Result<std::shared_ptr<const ContentDecryptor>> Create(const std::vector<KeyPair>& keys);
  ~ContentDecryptor();

  Decrypted Decrypt(const EncryptedContent& content) const;

 private:
  struct Key;
  ContentDecryptor() = default;
  std::map<std::string, std::unique_ptr<Key>> keys_;
};

}  // namespace graphmirror::rich

#endif  // GRAPHMIRROR_ENGINE_RICH_DECRYPT_H_
