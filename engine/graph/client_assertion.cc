#include "engine/graph/client_assertion.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/base/text.h"
#include "engine/rich/openssl_ptr.h"

namespace graphmirror::graph {

using rich::OpenSslPtr;

struct ClientCertificate::Keys {
  OpenSslPtr<EVP_PKEY, EVP_PKEY_free> key;
};

namespace {

std::string Base64Url(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string Base64Url(std::string_view text) {
  return Base64Url(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read the " + std::string(what) + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A random version 4 UUID, as the page's `jti` example.
Result<std::string> NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return Status::Internal("no random bytes for a jti");
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out);
}

}  // namespace

ClientCertificate::ClientCertificate(std::unique_ptr<Keys> keys) : keys_(std::move(keys)) {}
ClientCertificate::~ClientCertificate() = default;

Result<std::shared_ptr<const ClientCertificate>> ClientCertificate::Load(
    const std::string& certificate_path, const std::string& key_path) {
  struct stat st;
  if (::stat(key_path.c_str(), &st) != 0) {
    return Status::InvalidArgument("cannot read the private key " + key_path + ": " +
                                   std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument("private key " + key_path +
                                   " is readable by group or others (mode " + mode +
                                   "); run chmod 600 on it");
  }
  auto cert = ReadFile(certificate_path, "certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_path, "private key");
  if (!key.ok()) return key.status();
  auto loaded = FromPem(*cert, *key);
  if (!loaded.ok()) {
    return Status::InvalidArgument(certificate_path + ", " + key_path + ": " +
                                   loaded.status().message());
  }
  return loaded;
}

Result<std::shared_ptr<const ClientCertificate>> ClientCertificate::FromPem(
    const std::string& certificate_pem, const std::string& key_pem) {
  OpenSslPtr<BIO, BIO_free> cert_bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  OpenSslPtr<X509, X509_free> cert(
      cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::InvalidArgument("not a PEM certificate");
  OpenSslPtr<BIO, BIO_free> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  auto keys = std::make_unique<Keys>();
  // A null passphrase callback: an encrypted key fails here instead of prompting.
  keys->key.reset(
      key_bio ? PEM_read_bio_PrivateKey(
                    key_bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr)
              : nullptr);
  if (!keys->key) return Status::InvalidArgument("not an unencrypted PEM private key");
  if (EVP_PKEY_get_base_id(keys->key.get()) != EVP_PKEY_RSA ||
      EVP_PKEY_get_bits(keys->key.get()) < 2048) {
    return Status::InvalidArgument("the key must be RSA of 2048 bits or more");
  }
  if (X509_check_private_key(cert.get(), keys->key.get()) != 1) {
    return Status::InvalidArgument("the private key does not belong to the certificate");
  }
  unsigned char sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
  unsigned int sha1_len = 0, sha256_len = 0;
  if (X509_digest(cert.get(), EVP_sha1(), sha1, &sha1_len) != 1 ||
      X509_digest(cert.get(), EVP_sha256(), sha256, &sha256_len) != 1) {
    return Status::Internal("computing the certificate's thumbprints failed");
  }
  std::shared_ptr<ClientCertificate> out(new ClientCertificate(std::move(keys)));
  out->x5t_ = Base64Url(sha1, sha1_len);
  out->x5t_s256_ = Base64Url(sha256, sha256_len);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned int i = 0; i < sha1_len; ++i) {
    out->thumbprint_hex_ += kHex[sha1[i] >> 4];
    out->thumbprint_hex_ += kHex[sha1[i] & 0xF];
  }
  return std::shared_ptr<const ClientCertificate>(std::move(out));
}

Result<std::string> ClientCertificate::MakeAssertion(const std::string& client_id,
                                                     const std::string& audience, TimePoint now,
                                                     AssertionSignature algorithm) const {
  const bool pss = algorithm == AssertionSignature::kPs256;
  auto jti = NewUuid();
  if (!jti.ok()) return jti.status();
  const long long nbf =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const long long exp =
      nbf + std::chrono::duration_cast<std::chrono::seconds>(kClientAssertionLifetime).count();
  const std::string header = std::string("{\"alg\":") + (pss ? "\"PS256\"" : "\"RS256\"") +
                             ",\"typ\":\"JWT\",\"x5t\":" + JsonString(x5t_) +
                             ",\"x5t#S256\":" + JsonString(x5t_s256_) + "}";
  const std::string claims = "{\"aud\":" + JsonString(audience) +
                             ",\"iss\":" + JsonString(client_id) +
                             ",\"sub\":" + JsonString(client_id) + ",\"jti\":" + JsonString(*jti) +
                             ",\"nbf\":" + std::to_string(nbf) + ",\"iat\":" + std::to_string(nbf) +
                             ",\"exp\":" + std::to_string(exp) + "}";
  const std::string signing_input = Base64Url(header) + "." + Base64Url(claims);

  // RS256 (RFC 7518 section 3.3): RSASSA-PKCS1-v1_5 with SHA-256, OpenSSL's default for an
  // RSA key. PS256 (section 3.5): RSASSA-PSS with SHA-256, MGF1 with SHA-256, and a salt as
  // long as the hash.
  OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, keys_->key.get()) != 1 ||
      (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Status::Internal("signing the client assertion failed");
  }
  std::string signature(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Status::Internal("signing the client assertion failed");
  }
  signature.resize(sig_len);
  return signing_input + "." + Base64Url(signature);
}

}  // namespace graphmirror::graph
