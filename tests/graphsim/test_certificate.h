// A client certificate for graphsim's token endpoint, made with OpenSSL alone, and the
// signed client assertions ("certificate credentials") that prove it.

#ifndef GRAPHMIRROR_TESTS_GRAPHSIM_TEST_CERTIFICATE_H_
#define GRAPHMIRROR_TESTS_GRAPHSIM_TEST_CERTIFICATE_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/graphsim/graphsim_test_util.h"
#include "tools/graphsim/ids.h"

namespace graphsim_test {

inline constexpr char kJwtBearer[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// A self-signed RSA 2048 certificate and its key, made here with OpenSSL alone.
struct TestCertificate {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string pem;

  TestCertificate() {
    key.reset(EVP_RSA_gen(2048), EVP_PKEY_free);
    cert.reset(X509_new(), X509_free);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365 * 20);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("app"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    X509_sign(cert.get(), key.get(), EVP_sha256());
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(bio.get(), cert.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    pem.assign(data, static_cast<size_t>(n));
  }

  std::string Thumbprint(const EVP_MD* md) const {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(cert.get(), md, d, &n);
    return graphsim::Base64Url(d, n);
  }
};

inline std::string B64(const std::string& text) {
  return graphsim::Base64Url(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// A compact JWS of `header` and `claims`, signed RS256 or PS256 with `key`.
inline std::string Sign(const nlohmann::json& header, const nlohmann::json& claims, EVP_PKEY* key) {
  const std::string input = B64(header.dump()) + "." + B64(claims.dump());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1);
  if (header.value("alg", "") == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  }
  size_t n = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &n,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  std::string sig(n, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  sig.resize(n);
  return input + "." + graphsim::Base64Url(reinterpret_cast<const uint8_t*>(sig.data()), n);
}

// A token from graphsim's token endpoint for `scope`, the client proving itself with an
// RS256 assertion signed by `registered` (graphsim's Options::client_certificate_pem).
inline std::string CertificateToken(SimFixture& f, const TestCertificate& registered,
                                    const std::string& scope) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(f.clock().Now().time_since_epoch()).count();
  const nlohmann::json header = {
      {"alg", "RS256"}, {"typ", "JWT"}, {"x5t", registered.Thumbprint(EVP_sha1())}};
  const nlohmann::json claims = {{"aud", f.server().base_url() + "/common/oauth2/v2.0/token"},
                                 {"iss", "graphsim"},
                                 {"sub", "graphsim"},
                                 {"jti", "jti-" + std::to_string(now)},
                                 {"nbf", now},
                                 {"exp", now + 600}};
  httplib::Params form{{"client_id", "graphsim"},
                       {"client_assertion_type", kJwtBearer},
                       {"client_assertion", Sign(header, claims, registered.key.get())},
                       {"scope", scope},
                       {"grant_type", "client_credentials"}};
  Reply reply = SimFixture::ToReply(f.client().Post("/common/oauth2/v2.0/token", form));
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  return reply.body.value("access_token", "");
}

}  // namespace graphsim_test

#endif  // GRAPHMIRROR_TESTS_GRAPHSIM_TEST_CERTIFICATE_H_
