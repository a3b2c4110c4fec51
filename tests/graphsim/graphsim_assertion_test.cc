// graphsim's token endpoint and certificate credentials: a client assertion signed with the
// registered certificate's key gets a token; a wrong certificate, a bad signature, another
// audience or issuer, an expired assertion are refused with the identity platform's codes.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>

#include "tests/graphsim/graphsim_test_util.h"
#include "tools/graphsim/ids.h"

namespace graphsim_test {
namespace {

constexpr char kJwtBearer[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

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

std::string B64(const std::string& text) {
  return graphsim::Base64Url(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// A compact JWS of `header` and `claims`, signed RS256 or PS256 with `key`.
std::string Sign(const nlohmann::json& header, const nlohmann::json& claims, EVP_PKEY* key) {
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

struct AssertionFixture {
  TestCertificate registered;
  SimFixture f;

  AssertionFixture() : f(OptionsWith(registered.pem)) {}
  static graphsim::Options OptionsWith(const std::string& pem) {
    graphsim::Options o = SmallOptions();
    o.client_certificate_pem = pem;
    return o;
  }

  std::string Audience() {
    return "http://127.0.0.1:" + std::to_string(f.server().port()) + "/common/oauth2/v2.0/token";
  }
  int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(f.clock().Now().time_since_epoch())
        .count();
  }
  nlohmann::json Header(const TestCertificate& c, const std::string& alg = "PS256") {
    return {{"alg", alg}, {"typ", "JWT"}, {"x5t#S256", c.Thumbprint(EVP_sha256())}};
  }
  nlohmann::json Claims() {
    return {{"aud", Audience()},    {"iss", "graphsim"}, {"sub", "graphsim"},
            {"jti", "a-unique-id"}, {"nbf", Now()},      {"exp", Now() + 600}};
  }
  Reply Post(const std::string& assertion, const std::string& type = kJwtBearer) {
    httplib::Params form{{"client_id", "graphsim"},
                         {"client_assertion_type", type},
                         {"client_assertion", assertion},
                         {"scope", "https://graph.microsoft.com/.default"},
                         {"grant_type", "client_credentials"}};
    return SimFixture::ToReply(f.client().Post("/common/oauth2/v2.0/token", form));
  }
};

void CheckRefused(const Reply& r, int code) {
  INFO(r.body.dump());
  CHECK(r.status == 401);
  CHECK(r.body["error"] == "invalid_client");
  CHECK(r.body["error_codes"][0] == code);
  CHECK(r.body["error_description"].get<std::string>().rfind("AADSTS" + std::to_string(code) + ":",
                                                             0) == 0);
}

TEST_CASE("conformance: a client assertion signed with the registered certificate gets a token",
          "[graphsim][auth][conformance]") {
  AssertionFixture a;
  Reply ps256 = a.Post(Sign(a.Header(a.registered), a.Claims(), a.registered.key.get()));
  INFO(ps256.body.dump());
  CHECK(ps256.status == 200);
  CHECK(ps256.body["token_type"] == "Bearer");
  // RS256 with the SHA-1 x5t, as the page documented it before PS256.
  nlohmann::json rs256 = {
      {"alg", "RS256"}, {"typ", "JWT"}, {"x5t", a.registered.Thumbprint(EVP_sha1())}};
  CHECK(a.Post(Sign(rs256, a.Claims(), a.registered.key.get())).status == 200);
}

TEST_CASE("conformance: client assertions the identity platform refuses",
          "[graphsim][auth][conformance]") {
  AssertionFixture a;
  TestCertificate other;
  const std::string good = Sign(a.Header(a.registered), a.Claims(), a.registered.key.get());

  SECTION("a certificate that is not registered: 700027") {
    CheckRefused(a.Post(Sign(a.Header(other), a.Claims(), other.key.get())), 700027);
  }
  SECTION("the registered thumbprint, signed with another key: 700027") {
    CheckRefused(a.Post(Sign(a.Header(a.registered), a.Claims(), other.key.get())), 700027);
  }
  SECTION("a signature that does not verify: 700027") {
    std::string tampered = good;
    const size_t at = tampered.find('.', tampered.find('.') + 1) + 5;  // inside the signature
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    CheckRefused(a.Post(tampered), 700027);
  }
  SECTION("alg none or HS256: 700027") {
    CheckRefused(a.Post(Sign(a.Header(a.registered, "HS256"), a.Claims(), a.registered.key.get())),
                 700027);
  }
  SECTION("iss or sub not the client id: 700021") {
    nlohmann::json claims = a.Claims();
    claims["iss"] = "someone-else";
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 700021);
    claims = a.Claims();
    claims["sub"] = "someone-else";
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 700021);
  }
  SECTION("an audience other than the token endpoint: 700023") {
    nlohmann::json claims = a.Claims();
    claims["aud"] = "https://graph.microsoft.com";
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 700023);
  }
  SECTION("expired or not yet valid: 50027") {
    nlohmann::json claims = a.Claims();
    claims["nbf"] = a.Now() - 3600;
    claims["exp"] = a.Now() - 1200;
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 50027);
    claims["nbf"] = a.Now() + 1200;
    claims["exp"] = a.Now() + 1800;
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 50027);
  }
  SECTION("a claim missing: 90014") {
    nlohmann::json claims = a.Claims();
    claims.erase("jti");
    CheckRefused(a.Post(Sign(a.Header(a.registered), claims, a.registered.key.get())), 90014);
  }
  SECTION("not a JWT: 50027") { CheckRefused(a.Post("not.a-jwt"), 50027); }
  SECTION("another assertion type: 400 invalid_request") {
    Reply r = a.Post(good, "urn:ietf:params:oauth:client-assertion-type:saml2-bearer");
    CHECK(r.status == 400);
    CHECK(r.body["error"] == "invalid_request");
  }
  SECTION("no certificate registered: 700027") {
    SimFixture plain;
    httplib::Params form{{"client_id", "graphsim"},
                         {"client_assertion_type", kJwtBearer},
                         {"client_assertion", good},
                         {"scope", "https://graph.microsoft.com/.default"},
                         {"grant_type", "client_credentials"}};
    CheckRefused(SimFixture::ToReply(plain.client().Post("/common/oauth2/v2.0/token", form)),
                 700027);
  }
}

}  // namespace
}  // namespace graphsim_test
