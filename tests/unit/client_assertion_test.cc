// ClientCertificate: the signed JWT sent as client_assertion. Its signature verifies with
// the certificate's public key (RS256, or PS256 when asked), its thumbprints are the certificate's,
// its claims are those the identity platform documents; a key file others can read is refused.

#include "engine/graph/client_assertion.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>

#include "engine/graph/token_provider.h"
#include "engine/rich/base64.h"
#include "engine/rich/keygen.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/graph_test_server.h"

namespace graphmirror::graph {
namespace {

constexpr char kAudience[] =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

struct Parts {
  std::string header, claims, signature, signing_input;
};

Parts Split(const std::string& jwt) {
  const size_t a = jwt.find('.'), b = jwt.find('.', a + 1);
  REQUIRE(b != std::string::npos);
  REQUIRE(jwt.find('.', b + 1) == std::string::npos);
  Parts p;
  auto header = rich::DecodeBase64Url(jwt.substr(0, a));
  auto claims = rich::DecodeBase64Url(jwt.substr(a + 1, b - a - 1));
  auto signature = rich::DecodeBase64Url(jwt.substr(b + 1));
  REQUIRE(header);
  REQUIRE(claims);
  REQUIRE(signature);
  p.header = *header;
  p.claims = *claims;
  p.signature = *signature;
  p.signing_input = jwt.substr(0, b);
  return p;
}

std::string Digest(const std::string& certificate_pem, const EVP_MD* md) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  REQUIRE(cert);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  REQUIRE(X509_digest(cert.get(), md, d, &n) == 1);
  return std::string(reinterpret_cast<char*>(d), n);
}

// RS256 (RFC 7518 section 3.3): RSASSA-PKCS1-v1_5 with SHA-256; PS256 (section 3.5):
// RSASSA-PSS, SHA-256, MGF1 SHA-256, salt of 32 bytes.
enum class Alg { kRs256, kPs256 };
bool Verify(Alg alg, const std::string& certificate_pem, const std::string& input,
            const std::string& signature) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, X509_get0_pubkey(cert.get())) !=
          1 ||
      (alg == Alg::kPs256 && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
                              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

std::string Base64UrlOf(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string Field(simdjson::dom::element e, const char* key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

int64_t Number(simdjson::dom::element e, const char* key) {
  int64_t v = -1;
  return e[key].get(v) == simdjson::SUCCESS ? v : -1;
}

TEST_CASE("client assertion: RS256 (or PS256) over the documented header and claims",
          "[graph][assertion]") {
  auto generated = rich::GenerateCertificate("graphmirror app", 30);
  REQUIRE(generated.ok());
  auto certificate =
      ClientCertificate::FromPem(generated->certificate_pem, generated->private_key_pem);
  REQUIRE(certificate.ok());
  const TimePoint now(std::chrono::seconds(1772323200));
  auto jwt = (*certificate)->MakeAssertion("11111111-2222-3333-4444-555555555555", kAudience, now);
  REQUIRE(jwt.ok());
  Parts p = Split(*jwt);

  // The signature verifies with the certificate's public key, and only over these bytes;
  // RS256 by default, so a PSS verifier refuses it.
  CHECK(Verify(Alg::kRs256, generated->certificate_pem, p.signing_input, p.signature));
  CHECK_FALSE(Verify(Alg::kPs256, generated->certificate_pem, p.signing_input, p.signature));
  std::string tampered = p.signing_input;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(Verify(Alg::kRs256, generated->certificate_pem, tampered, p.signature));

  // PS256 when asked.
  auto pss = (*certificate)
                 ->MakeAssertion("11111111-2222-3333-4444-555555555555", kAudience, now,
                                 AssertionSignature::kPs256);
  REQUIRE(pss.ok());
  Parts q = Split(*pss);
  CHECK(Verify(Alg::kPs256, generated->certificate_pem, q.signing_input, q.signature));
  simdjson::dom::parser qp;
  simdjson::dom::element pss_header;
  REQUIRE(qp.parse(q.header).get(pss_header) == simdjson::SUCCESS);
  CHECK(Field(pss_header, "alg") == "PS256");

  simdjson::dom::parser hp, cp;
  simdjson::dom::element header, claims;
  REQUIRE(hp.parse(p.header).get(header) == simdjson::SUCCESS);
  REQUIRE(cp.parse(p.claims).get(claims) == simdjson::SUCCESS);
  CHECK(Field(header, "alg") == "RS256");
  CHECK(Field(header, "typ") == "JWT");
  // x5t#S256 and x5t: base64url of the SHA-256 and SHA-1 of the DER, the latter the same
  // thumbprint keygen prints (hex) and the admin center shows.
  CHECK(Field(header, "x5t#S256") == Base64UrlOf(Digest(generated->certificate_pem, EVP_sha256())));
  CHECK(Field(header, "x5t") == Base64UrlOf(Digest(generated->certificate_pem, EVP_sha1())));
  CHECK((*certificate)->thumbprint_hex() == generated->thumbprint);

  CHECK(Field(claims, "aud") == kAudience);
  CHECK(Field(claims, "iss") == "11111111-2222-3333-4444-555555555555");
  CHECK(Field(claims, "sub") == "11111111-2222-3333-4444-555555555555");
  CHECK(Number(claims, "nbf") == 1772323200);
  CHECK(Number(claims, "iat") == 1772323200);
  CHECK(Number(claims, "exp") == 1772323200 + 600);
  const std::string jti = Field(claims, "jti");
  CHECK(jti.size() == 36);
  auto again =
      (*certificate)->MakeAssertion("11111111-2222-3333-4444-555555555555", kAudience, now);
  REQUIRE(again.ok());
  simdjson::dom::parser ap;
  simdjson::dom::element again_claims;
  REQUIRE(ap.parse(Split(*again).claims).get(again_claims) == simdjson::SUCCESS);
  CHECK(Field(again_claims, "jti") != jti);  // unique per assertion
}

TEST_CASE("client certificate: a key file others can read is refused in one line",
          "[graph][assertion]") {
  auto generated = rich::GenerateCertificate("graphmirror app", 30);
  REQUIRE(generated.ok());
  test::TempDir dir;
  const std::string cert = dir.Path("app-cert.pem"), key = dir.Path("app-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*generated, cert, key).ok());
  CHECK(ClientCertificate::Load(cert, key).ok());

  for (mode_t mode : {0640, 0604, 0644}) {
    REQUIRE(::chmod(key.c_str(), mode) == 0);
    auto refused = ClientCertificate::Load(cert, key);
    REQUIRE_FALSE(refused.ok());
    INFO(refused.status().message());
    CHECK(refused.status().message().find("private key " + key +
                                          " is readable by group or others") != std::string::npos);
    CHECK(refused.status().message().find('\n') == std::string::npos);
  }
  REQUIRE(::chmod(key.c_str(), 0400) == 0);
  CHECK(ClientCertificate::Load(cert, key).ok());
}

TEST_CASE("client certificate: a key of another certificate is refused", "[graph][assertion]") {
  auto one = rich::GenerateCertificate("one", 30);
  auto two = rich::GenerateCertificate("two", 30);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  auto mixed = ClientCertificate::FromPem(one->certificate_pem, two->private_key_pem);
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.status().message().find("does not belong to the certificate") != std::string::npos);
}

TEST_CASE("token: with a certificate, the form carries a client assertion and no secret",
          "[token][assertion]") {
  ManualClock clock(TimePoint(std::chrono::seconds(1772323200)));
  testing::FakeGraph graph(&clock);
  graph.secret.clear();  // the fake endpoint then takes a form without client_secret
  test::TempDir dir;
  const std::string cert = dir.Path("app-cert.pem"), key = dir.Path("app-key.pem");
  auto first = rich::GenerateCertificate("first", 30);
  REQUIRE(first.ok());
  REQUIRE(rich::WriteCertificateFiles(*first, cert, key).ok());
  ClientOptions options = graph.Options();
  options.client_secret.clear();
  options.client_certificate = cert;
  options.client_private_key = key;
  TokenProvider tokens(options, &clock);
  auto token = tokens.GetToken();
  REQUIRE(token.ok());

  auto form = graph.last_token_form();
  CHECK(form.count("client_secret") == 0);
  CHECK(form["client_id"] == "app-id");
  CHECK(form["grant_type"] == "client_credentials");
  CHECK(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  Parts p = Split(form["client_assertion"]);
  CHECK(Verify(Alg::kRs256, first->certificate_pem, p.signing_input, p.signature));
  simdjson::dom::parser cp;
  simdjson::dom::element claims;
  REQUIRE(cp.parse(p.claims).get(claims) == simdjson::SUCCESS);
  CHECK(Field(claims, "aud") == graph.token_url());
  CHECK(Field(claims, "iss") == "app-id");
  CHECK(Number(claims, "nbf") == 1772323200);

  // The files are read for every token: a replaced pair is used from the next one on.
  auto second = rich::GenerateCertificate("second", 30);
  REQUIRE(second.ok());
  REQUIRE(::unlink(cert.c_str()) == 0);
  REQUIRE(::unlink(key.c_str()) == 0);
  REQUIRE(rich::WriteCertificateFiles(*second, cert, key).ok());
  tokens.Invalidate(*token);
  REQUIRE(tokens.GetToken().ok());
  Parts q = Split(graph.last_token_form()["client_assertion"]);
  CHECK(Verify(Alg::kRs256, second->certificate_pem, q.signing_input, q.signature));
}

}  // namespace
}  // namespace graphmirror::graph
