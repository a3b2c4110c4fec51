#include "tools/graphsim/client_assertion.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "tools/graphsim/ids.h"

namespace graphsim {
namespace {

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX, EVP_MD_CTX_free>>;

constexpr char kSignatureText[] = "Client assertion failed signature validation.";

AssertionRefusal Refuse(int code, std::string text) { return {code, std::move(text)}; }

std::string Thumbprint(X509* cert, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, digest, &len) != 1) return {};
  return Base64Url(digest, len);
}

bool VerifySignature(X509* cert, const std::string& alg, const std::string& signing_input,
                     const std::string& signature) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (key == nullptr || !ctx ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) {
    return false;
  }
  if (alg == "PS256") {
    // RFC 7518 section 3.5: MGF1 with SHA-256 and a salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return false;
    }
  } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace

std::optional<AssertionRefusal> CheckClientAssertion(const std::string& assertion,
                                                     const AssertionExpectations& expect,
                                                     TimePoint now) {
  const size_t dot1 = assertion.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : assertion.find('.', dot1 + 1);
  std::string header_text, claims_text, signature;
  if (dot2 == std::string::npos || assertion.find('.', dot2 + 1) != std::string::npos ||
      !Base64UrlDecode(std::string_view(assertion).substr(0, dot1), &header_text) ||
      !Base64UrlDecode(std::string_view(assertion).substr(dot1 + 1, dot2 - dot1 - 1),
                       &claims_text) ||
      !Base64UrlDecode(std::string_view(assertion).substr(dot2 + 1), &signature)) {
    return Refuse(50027, "Invalid JWT token. The token is not in a valid format.");
  }
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  nlohmann::json claims = nlohmann::json::parse(claims_text, nullptr, false);
  if (!header.is_object() || !claims.is_object()) {
    return Refuse(50027, "Invalid JWT token. The token is not in a valid format.");
  }
  auto text = [](const nlohmann::json& object, const char* name) -> std::string {
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };

  // The key: the registered certificate named by a thumbprint.
  X509Ptr cert;
  if (!expect.certificate_pem.empty()) {
    BioPtr bio(BIO_new_mem_buf(expect.certificate_pem.data(),
                               static_cast<int>(expect.certificate_pem.size())));
    if (bio) cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  }
  const std::string x5t_s256 = text(header, "x5t#S256");
  const std::string x5t = text(header, "x5t");
  const bool known =
      cert && ((!x5t_s256.empty() && x5t_s256 == Thumbprint(cert.get(), EVP_sha256())) ||
               (!x5t.empty() && x5t == Thumbprint(cert.get(), EVP_sha1())));
  if (!known) {
    return Refuse(700027, std::string(kSignatureText) +
                              " [Reason - The key was not found., Thumbprint of key used by "
                              "client: '" +
                              (x5t_s256.empty() ? x5t : x5t_s256) + "']");
  }
  const std::string alg = text(header, "alg");
  if (alg != "RS256" && alg != "PS256") {
    return Refuse(700027, std::string(kSignatureText) + " [Reason - The algorithm '" + alg +
                              "' is not supported.]");
  }
  if (!VerifySignature(cert.get(), alg, assertion.substr(0, dot2), signature)) {
    return Refuse(700027, kSignatureText);
  }

  for (const char* claim : {"aud", "iss", "sub", "jti", "nbf", "exp"}) {
    if (!claims.contains(claim)) {
      return Refuse(90014, std::string("The required field '") + claim +
                               "' is missing from the credential. Ensure that you have all the "
                               "necessary parameters for the login request.");
    }
  }
  if (text(claims, "iss") != expect.client_id || text(claims, "sub") != expect.client_id) {
    return Refuse(700021,
                  "Client assertion application identifier doesn't match 'client_id' "
                  "parameter. Review the documentation at "
                  "https://learn.microsoft.com/entra/identity-platform/"
                  "certificate-credentials .");
  }
  if (text(claims, "aud") != expect.audience) {
    return Refuse(700023,
                  "Client assertion audience claim does not match Realm issuer. Review "
                  "the documentation at https://learn.microsoft.com/entra/"
                  "identity-platform/certificate-credentials .");
  }
  if (!claims["nbf"].is_number_integer() || !claims["exp"].is_number_integer()) {
    return Refuse(50027, "Invalid JWT token. The token is not in a valid format.");
  }
  const int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const int64_t nbf = claims["nbf"].get<int64_t>();
  const int64_t exp = claims["exp"].get<int64_t>();
  if (t + expect.leeway.count() < nbf || t - expect.leeway.count() >= exp) {
    return Refuse(50027,
                  "Invalid JWT token. Token is not within its valid time range. Current "
                  "time: " +
                      std::to_string(t) + ", nbf: " + std::to_string(nbf) +
                      ", exp: " + std::to_string(exp) + ".");
  }
  return std::nullopt;
}

}  // namespace graphsim
