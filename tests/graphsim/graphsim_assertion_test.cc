// graphsim's token endpoint and certificate credentials: a client assertion signed with the
// registered certificate's key gets a token; a wrong certificate, a bad signature, another
// audience or issuer, an expired assertion are refused with the identity platform's codes.

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <memory>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/test_certificate.h"
#include "tools/graphsim/ids.h"

namespace graphsim_test {
namespace {

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
