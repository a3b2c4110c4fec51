#include "engine/rich/decrypt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "engine/rich/base64.h"
#include "engine/rich/openssl_ptr.h"

namespace graphmirror::rich {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kIvBytes = 16;
constexpr size_t kSignatureBytes = 32;  // SHA-256

Decrypted Refuse(Refusal refusal, std::string detail) {
  Decrypted d;
  d.refusal = refusal;
  d.detail = std::move(detail);
  return d;
}

}  // namespace

struct ContentDecryptor::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

ContentDecryptor::~ContentDecryptor() = default;

const char* RefusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "none";
    case Refusal::kMalformedBase64:
      return "base64";
    case Refusal::kUnknownCertificate:
      return "certificate";
    case Refusal::kKey:
      return "key";
    case Refusal::kSignature:
      return "signature";
    case Refusal::kPadding:
      return "padding";
  }
  return "?";
}

Result<std::shared_ptr<const ContentDecryptor>> ContentDecryptor::Create(
    const std::vector<KeyPair>& keys) {
  std::shared_ptr<ContentDecryptor> decryptor(new ContentDecryptor());
  for (const KeyPair& pair : keys) {
    OpenSslPtr<BIO, BIO_free> bio(BIO_new_mem_buf(pair.private_key_pem.data(),
                                                  static_cast<int>(pair.private_key_pem.size())));
    auto key = std::make_unique<Key>();
    if (bio) key->pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (key->pkey == nullptr) {
      return Status::InvalidArgument("the private key of certificate '" + pair.certificate_id +
                                     "' is not a readable unencrypted PEM key");
    }
    if (EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA) {
      return Status::InvalidArgument("the private key of certificate '" + pair.certificate_id +
                                     "' is not an RSA key");
    }
    if (!decryptor->keys_.emplace(pair.certificate_id, std::move(key)).second) {
      return Status::InvalidArgument("certificate id '" + pair.certificate_id + "' given twice");
    }
  }
  return std::shared_ptr<const ContentDecryptor>(std::move(decryptor));
}

Decrypted ContentDecryptor::Decrypt(const EncryptedContent& content) const {
  auto it = keys_.find(content.certificate_id);
  if (it == keys_.end()) {
    return Refuse(Refusal::kUnknownCertificate, "no key for encryptionCertificateId '" +
                                                    content.certificate_id.substr(0, 80) + "'");
  }
  auto data = DecodeBase64(content.data);
  auto data_key = DecodeBase64(content.data_key);
  auto signature = DecodeBase64(content.data_signature);
  if (!data || !data_key || !signature) {
    return Refuse(Refusal::kMalformedBase64,
                  std::string("malformed base64 in ") + (!data       ? "data"
                                                         : !data_key ? "dataKey"
                                                                     : "dataSignature"));
  }

  // 1. Unwrap the item's key.
  OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> rsa(EVP_PKEY_CTX_new(it->second->pkey, nullptr));
  std::string key(EVP_PKEY_get_size(it->second->pkey), '\0');
  size_t key_len = key.size();
  if (!rsa || EVP_PKEY_decrypt_init(rsa.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(rsa.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(rsa.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(rsa.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_decrypt(rsa.get(), reinterpret_cast<unsigned char*>(key.data()), &key_len,
                       reinterpret_cast<const unsigned char*>(data_key->data()),
                       data_key->size()) <= 0) {
    return Refuse(Refusal::kKey, "dataKey does not unwrap with the key of certificate '" +
                                     content.certificate_id.substr(0, 80) + "'");
  }
  key.resize(key_len);
  if (key.size() != kKeyBytes) {
    OPENSSL_cleanse(key.data(), key.size());
    return Refuse(Refusal::kKey, "dataKey unwraps to " + std::to_string(key_len) + " bytes, not " +
                                     std::to_string(kKeyBytes));
  }
  auto forget_key = [&key] { OPENSSL_cleanse(key.data(), key.size()); };

  // 2. Check the signature over the ciphertext before decrypting anything.
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data->data()), data->size(), mac,
           &mac_len) == nullptr ||
      mac_len != kSignatureBytes || signature->size() != kSignatureBytes ||
      CRYPTO_memcmp(mac, signature->data(), kSignatureBytes) != 0) {
    forget_key();
    return Refuse(Refusal::kSignature, "dataSignature does not match the data");
  }

  // 3. Decrypt: AES-256-CBC, IV = the key's first 16 bytes, PKCS7 padding.
  OpenSslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free> aes(EVP_CIPHER_CTX_new());
  std::string plaintext(data->size() + kIvBytes, '\0');
  int written = 0, final_written = 0;
  const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
  bool decrypted =
      aes && EVP_DecryptInit_ex(aes.get(), EVP_aes_256_cbc(), nullptr, key_bytes, key_bytes) > 0 &&
      EVP_DecryptUpdate(aes.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &written,
                        reinterpret_cast<const unsigned char*>(data->data()),
                        static_cast<int>(data->size())) > 0 &&
      EVP_DecryptFinal_ex(aes.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + written,
                          &final_written) > 0;
  forget_key();
  if (!decrypted) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Refuse(Refusal::kPadding, "the decrypted data is not validly padded");
  }
  plaintext.resize(static_cast<size_t>(written + final_written));
  Decrypted out;
  out.plaintext = std::move(plaintext);
  return out;
}

}  // namespace graphmirror::rich
