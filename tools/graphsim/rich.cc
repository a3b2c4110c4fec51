#include "tools/graphsim/rich.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"

namespace graphsim {
namespace {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Freer<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Freer<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX, EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>>;

constexpr const char* kFaultNames[kRichFaultCount] = {
    "flip_data_bit",   "bad_signature",    "truncated_data_key",  "wrong_certificate_id",
    "bad_padding",     "malformed_base64", "token_bad_signature", "token_wrong_audience",
    "token_wrong_app", "token_expired",    "token_not_yet_valid", "token_unknown_kid",
    "token_alg_none",  "token_missing"};

// What Graph answers for a certificate it cannot read (.NET's X509Certificate2 text).
constexpr char kUnreadableCertificate[] =
    "Certificate validation error: Cannot find the requested object.";

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }
uint8_t* MutableBytes(std::string* s) { return reinterpret_cast<uint8_t*>(s->data()); }
std::string B64(std::string_view bytes) { return Base64(Bytes(bytes), bytes.size()); }
std::string B64Url(std::string_view bytes) { return Base64Url(Bytes(bytes), bytes.size()); }

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(MutableBytes(&out), static_cast<int>(n)) != 1) return "";
  return out;
}

std::string Sha1(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) return "";
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string UpperHex(std::string_view bytes) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// AES-256-CBC with IV = key[0..16), as Graph uses the key. Without `pkcs7` the input must
// be whole blocks already and is encrypted as it is.
bool AesCbc(std::string_view key, std::string_view input, bool pkcs7, std::string* out) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, Bytes(key), Bytes(key)) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pkcs7 ? 1 : 0) != 1) {
    return false;
  }
  out->assign(input.size() + 16, '\0');
  int written = 0, final_written = 0;
  if (EVP_EncryptUpdate(ctx.get(), MutableBytes(out), &written, Bytes(input),
                        static_cast<int>(input.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), MutableBytes(out) + written, &final_written) != 1) {
    return false;
  }
  out->resize(static_cast<size_t>(written + final_written));
  return true;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), Bytes(data), data.size(), mac,
            &len)) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// RSA-OAEP with SHA-1 and MGF1-SHA-1 and no label: .NET's RSA "OAEP" (fOAEP: true), which
// Graph documents as RSA/ECB/OAEPWithSHA1AndMGF1Padding.
bool OaepWrap(EVP_PKEY* key, std::string_view plain, std::string* out) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len, Bytes(plain), plain.size()) != 1) {
    return false;
  }
  out->assign(len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), MutableBytes(out), &len, Bytes(plain), plain.size()) != 1) {
    return false;
  }
  out->resize(len);
  return true;
}

bool SignRs256(EVP_PKEY* key, std::string_view input, std::string* signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(input), input.size()) != 1) {
    return false;
  }
  signature->assign(len, '\0');
  if (EVP_DigestSign(ctx.get(), MutableBytes(signature), &len, Bytes(input), input.size()) != 1) {
    return false;
  }
  signature->resize(len);
  return true;
}

// An RSA parameter, big-endian and base64url, as a JWK carries it.
std::string JwkParameter(const EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return "";
  BnPtr bn(raw);
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), MutableBytes(&bytes));
  return B64Url(bytes);
}

}  // namespace

const char* RichFaultName(RichFault fault) { return kFaultNames[static_cast<int>(fault)]; }

std::optional<RichFault> ParseRichFault(std::string_view name) {
  for (int i = 0; i < kRichFaultCount; ++i) {
    if (name == kFaultNames[i]) return static_cast<RichFault>(i);
  }
  return std::nullopt;
}

std::optional<std::string> ParseEncryptionCertificate(std::string_view base64,
                                                      EncryptionCertificate* out) {
  std::string der;
  if (!Base64Decode(base64, &der) || der.empty()) return kUnreadableCertificate;
  const unsigned char* p = Bytes(der);
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != Bytes(der) + der.size()) return kUnreadableCertificate;
  PkeyPtr key(X509_get_pubkey(cert.get()));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return std::string("Certificate validation error: the certificate's key must be an RSA key.");
  }
  int bits = EVP_PKEY_get_bits(key.get());
  if (bits < 2048 || bits > 4096) {
    return "Certificate validation error: the key size must be between 2048 and 4096 bits; "
           "this key has " +
           std::to_string(bits) + ".";
  }
  out->thumbprint = UpperHex(Sha1(der));
  out->der = std::move(der);
  out->public_key = std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
  return std::nullopt;
}

bool EncryptContent(std::string_view plaintext, const EncryptionCertificate& certificate,
                    const std::string& certificate_id, RichFaults faults, Json* out) {
  std::string key = RandomBytes(32);
  if (key.empty()) return false;
  std::string ciphertext;
  if (HasFault(faults, RichFault::kBadPadding)) {
    // Zeros up to the block boundary, at least one: a last byte of 0 is never PKCS7.
    std::string padded(plaintext);
    padded.append(16 - padded.size() % 16, '\0');
    if (!AesCbc(key, padded, /*pkcs7=*/false, &ciphertext)) return false;
  } else if (!AesCbc(key, plaintext, /*pkcs7=*/true, &ciphertext)) {
    return false;
  }
  std::string signature = HmacSha256(
      key, HasFault(faults, RichFault::kBadSignature) ? ciphertext + "graphsim" : ciphertext);
  if (HasFault(faults, RichFault::kFlipDataBit)) ciphertext[ciphertext.size() / 2] ^= 0x01;
  std::string wrapped;
  if (signature.empty() || !OaepWrap(certificate.public_key.get(), key, &wrapped)) return false;
  if (HasFault(faults, RichFault::kTruncatedDataKey)) wrapped.resize(wrapped.size() / 2);
  std::string data = B64(ciphertext);
  if (HasFault(faults, RichFault::kMalformedBase64)) data.insert(data.size() / 2, "*%*");
  std::string id = certificate_id;
  if (HasFault(faults, RichFault::kWrongCertificateId)) {
    id = "graphsim-unknown-certificate-" + UpperHex(RandomBytes(4));
  }
  *out = Json{{"data", data},
              {"dataSignature", B64(signature)},
              {"dataKey", B64(wrapped)},
              {"encryptionCertificateId", id},
              {"encryptionCertificateThumbprint", certificate.thumbprint}};
  return true;
}

// --- TokenSigner ---------------------------------------------------------------------

struct TokenSigner::Key {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string kid;  // also the x5t
  std::string certificate_der;
  std::string n, e;  // base64url
};

TokenSigner::TokenSigner(std::string app_id, std::string tenant_id, int version)
    : app_id_(std::move(app_id)), tenant_id_(std::move(tenant_id)), version_(version) {}

TokenSigner::~TokenSigner() = default;

std::shared_ptr<const TokenSigner::Key> TokenSigner::MakeKey() {
  PkeyPtr pkey(EVP_RSA_gen(2048));
  X509Ptr cert(X509_new());
  if (!pkey || !cert) return nullptr;
  // A self-signed certificate like the ones Entra ID publishes in x5c. Its validity uses
  // the real clock: nobody checks it, a JWKS consumer only needs the key.
  std::string serial = RandomBytes(16);
  BnPtr serial_bn(BN_bin2bn(Bytes(serial), static_cast<int>(serial.size()), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!serial_bn || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      !BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 5L * 365 * 24 * 3600) ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 Bytes("accounts.accesscontrol.windows.net"), -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), pkey.get()) != 1 ||
      X509_sign(cert.get(), pkey.get(), EVP_sha256()) <= 0) {
    return nullptr;
  }
  int der_len = i2d_X509(cert.get(), nullptr);
  if (der_len <= 0) return nullptr;
  auto key = std::make_shared<Key>();
  key->certificate_der.assign(static_cast<size_t>(der_len), '\0');
  unsigned char* p = MutableBytes(&key->certificate_der);
  i2d_X509(cert.get(), &p);
  key->kid = B64Url(Sha1(key->certificate_der));
  key->n = JwkParameter(pkey.get(), OSSL_PKEY_PARAM_RSA_N);
  key->e = JwkParameter(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
  key->pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  return key;
}

std::shared_ptr<const TokenSigner::Key> TokenSigner::CurrentLocked() {
  if (published_.empty()) {
    std::shared_ptr<const Key> key = MakeKey();
    if (!key) return nullptr;
    published_.push_back(std::move(key));
  }
  return published_.back();
}

Json TokenSigner::Jwks() {
  std::lock_guard<std::mutex> lock(mu_);
  CurrentLocked();
  Json keys = Json::array();
  for (auto it = published_.rbegin(); it != published_.rend(); ++it) {
    const Key& k = **it;
    keys.push_back(Json{{"kty", "RSA"},
                        {"use", "sig"},
                        {"kid", k.kid},
                        {"x5t", k.kid},
                        {"n", k.n},
                        {"e", k.e},
                        {"x5c", Json::array({B64(k.certificate_der)})}});
  }
  return Json{{"keys", keys}};
}

void TokenSigner::Prepare() {
  std::lock_guard<std::mutex> lock(mu_);
  CurrentLocked();
}

void TokenSigner::Rotate() {
  std::lock_guard<std::mutex> lock(mu_);
  CurrentLocked();
  if (std::shared_ptr<const Key> key = MakeKey()) published_.push_back(std::move(key));
}

std::string TokenSigner::ValidationToken(TimePoint now, RichFaults faults) {
  std::shared_ptr<const Key> key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (HasFault(faults, RichFault::kTokenUnknownKid)) {
      if (!unpublished_) unpublished_ = MakeKey();
      key = unpublished_;
    } else {
      key = CurrentLocked();
    }
  }
  if (!key) return "";
  // Entra ID dates iat and nbf five minutes back, for clock skew.
  const int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  int64_t issued = t - 300, not_before = t - 300, expires = t + 3600;
  if (HasFault(faults, RichFault::kTokenExpired)) {
    issued = not_before = t - 3 * 3600;
    expires = t - 2 * 3600;
  }
  if (HasFault(faults, RichFault::kTokenNotYetValid)) {
    not_before = t + 2 * 3600;
    expires = t + 3 * 3600;
  }
  auto other_guid = [] {
    std::string r = RandomBytes(16);
    uint64_t hi = 0, lo = 0;
    for (size_t i = 0; i < 8 && r.size() == 16; ++i) {
      hi = hi << 8 | static_cast<uint8_t>(r[i]);
      lo = lo << 8 | static_cast<uint8_t>(r[8 + i]);
    }
    return FormatGuid(hi, lo);
  };
  std::string audience = HasFault(faults, RichFault::kTokenWrongAudience) ? other_guid() : app_id_;
  std::string caller =
      HasFault(faults, RichFault::kTokenWrongApp) ? other_guid() : kChangeTrackingAppId;
  bool v1 = version_ == 1;
  std::string issuer = v1 ? "https://sts.windows.net/" + tenant_id_ + "/"
                          : "https://login.microsoftonline.com/" + tenant_id_ + "/v2.0";
  Json claims{
      {"aud", audience}, {"iss", issuer}, {"iat", issued}, {"nbf", not_before}, {"exp", expires}};
  claims[v1 ? "appid" : "azp"] = caller;
  claims[v1 ? "appidacr" : "azpacr"] = "2";
  if (v1) claims["idp"] = issuer;
  claims["tid"] = tenant_id_;
  claims["uti"] = B64Url(RandomBytes(16));
  claims["ver"] = v1 ? "1.0" : "2.0";

  bool alg_none = HasFault(faults, RichFault::kTokenAlgNone);
  Json header{{"alg", alg_none ? "none" : "RS256"}, {"typ", "JWT"}, {"kid", key->kid}};
  std::string input = B64Url(DumpJson(header)) + "." + B64Url(DumpJson(claims));
  if (alg_none) return input + ".";
  std::string signature;
  if (!SignRs256(key->pkey.get(), input, &signature)) return "";
  if (HasFault(faults, RichFault::kTokenBadSignature)) signature[signature.size() / 2] ^= 0x01;
  return input + "." + B64Url(signature);
}

}  // namespace graphsim
