// graphsim's rich notifications (includeResourceData), checked by a receiver written here
// with OpenSSL, independent of graphsim's code and of the engine's: the subscription rules,
// encryptedContent that opens (RSA-OAEP unwrap, HMAC, AES-CBC) to the $selected properties,
// validationTokens that verify against the JWKS with the documented claims, every
// RichFault, both key rotations, and the item GET counter.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"

namespace graphsim_test {
namespace {

using graphsim::RichFault;
using std::chrono::minutes;

constexpr char kGraphChangeTrackingApp[] = "0bf30f3b-4a52-48df-9a82-234910c4a086";

template <typename T, void (*F)(T*)>
struct Freer {
  void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Freer<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Freer<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX, EVP_MD_CTX_free>>;

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* W(std::string* s) { return reinterpret_cast<unsigned char*>(s->data()); }

// --- base64, through OpenSSL's own codec ---------------------------------------------

bool B64Decode(const std::string& text, std::string* out) {
  std::unique_ptr<EVP_ENCODE_CTX, Freer<EVP_ENCODE_CTX, EVP_ENCODE_CTX_free>> ctx(
      EVP_ENCODE_CTX_new());
  out->assign(text.size() + 3, '\0');
  int n = 0, m = 0;
  EVP_DecodeInit(ctx.get());
  bool ok = EVP_DecodeUpdate(ctx.get(), W(out), &n, U(text), static_cast<int>(text.size())) >= 0 &&
            EVP_DecodeFinal(ctx.get(), W(out) + n, &m) == 1;
  out->resize(ok ? static_cast<size_t>(n + m) : 0);
  return ok;
}

std::string B64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(W(&out), U(bytes), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool B64UrlDecode(std::string text, std::string* out) {
  for (char& c : text) {
    if (c == '+' || c == '/' || c == '=') return false;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (text.size() % 4 != 0) text += '=';
  return B64Decode(text, out);
}

// --- the subscribing app's key pair and certificate ---------------------------------------

struct Subscriber {
  Pkey key;
  std::string certificate;  // encryptionCertificate: base64 of the DER
  std::string thumbprint;   // SHA-1 of the DER, upper-case hex
};

Subscriber MakeSubscriber(int bits) {
  Subscriber s;
  s.key.reset(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  std::unique_ptr<X509, Freer<X509, X509_free>> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("graphsim rich test"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), s.key.get());
  REQUIRE(X509_sign(cert.get(), s.key.get(), EVP_sha256()) > 0);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  s.certificate = B64Encode(bytes);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &md_len, EVP_sha1(), nullptr);
  for (unsigned int i = 0; i < md_len; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof(hex), "%02X", md[i]);
    s.thumbprint += hex;
  }
  return s;
}

// Made once: RSA key generation is the slow part of these tests.
const Subscriber& Alice() {
  static const Subscriber s = MakeSubscriber(2048);
  return s;
}
const Subscriber& Bob() {
  static const Subscriber s = MakeSubscriber(2048);
  return s;
}

// --- the receiver's side: opening encryptedContent (GRAPH.md section 5) --------------------

struct Opened {
  bool data_is_base64 = false;
  bool key_unwrapped = false;
  bool signature_valid = false;
  bool padding_valid = false;
  Json plaintext;    // set when all the above hold
  std::string text;  // the plaintext as sent
};

Opened Open(const Json& content, EVP_PKEY* private_key) {
  Opened o;
  std::string data, wrapped, signature, key;
  o.data_is_base64 = B64Decode(content.value("data", ""), &data);
  if (!B64Decode(content.value("dataKey", ""), &wrapped) ||
      !B64Decode(content.value("dataSignature", ""), &signature)) {
    return o;
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new(private_key, nullptr));
  key.assign(512, '\0');
  size_t key_len = key.size();
  o.key_unwrapped =
      EVP_PKEY_decrypt_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) == 1 &&
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) == 1 &&
      EVP_PKEY_decrypt(ctx.get(), W(&key), &key_len, U(wrapped), wrapped.size()) == 1 &&
      key_len == 32;
  if (!o.key_unwrapped || !o.data_is_base64) return o;
  key.resize(32);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), 32, U(data), data.size(), mac, &mac_len);
  o.signature_valid =
      signature.size() == mac_len && CRYPTO_memcmp(mac, signature.data(), mac_len) == 0;
  if (!o.signature_valid) return o;
  CipherCtx cipher(EVP_CIPHER_CTX_new());
  std::string plain(data.size() + 16, '\0');
  int n = 0, m = 0;
  o.padding_valid =
      EVP_DecryptInit_ex(cipher.get(), EVP_aes_256_cbc(), nullptr, U(key), U(key)) == 1 &&
      EVP_DecryptUpdate(cipher.get(), W(&plain), &n, U(data), static_cast<int>(data.size())) == 1 &&
      EVP_DecryptFinal_ex(cipher.get(), W(&plain) + n, &m) == 1;
  if (o.padding_valid) {
    plain.resize(static_cast<size_t>(n + m));
    o.plaintext = Json::parse(plain, nullptr, /*allow_exceptions=*/false);
    o.text = plain;
  }
  return o;
}

// --- validationTokens -----------------------------------------------------------------------

struct Token {
  Json header, claims;
  std::string signing_input, signature;
};

Token ParseToken(const std::string& jwt) {
  Token t;
  size_t a = jwt.find('.'), b = jwt.find('.', a + 1);
  REQUIRE(b != std::string::npos);
  std::string header, claims;
  REQUIRE(B64UrlDecode(jwt.substr(0, a), &header));
  REQUIRE(B64UrlDecode(jwt.substr(a + 1, b - a - 1), &claims));
  REQUIRE(B64UrlDecode(jwt.substr(b + 1), &t.signature));
  t.header = Json::parse(header);
  t.claims = Json::parse(claims);
  t.signing_input = jwt.substr(0, b);
  return t;
}

Pkey JwkPublicKey(const Json& jwk) {
  std::string n, e;
  REQUIRE(B64UrlDecode(jwk["n"], &n));
  REQUIRE(B64UrlDecode(jwk["e"], &e));
  std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>> bn_n(
      BN_bin2bn(U(n), static_cast<int>(n.size()), nullptr));
  std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_free>> bn_e(
      BN_bin2bn(U(e), static_cast<int>(e.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, Freer<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>> build(
      OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  std::unique_ptr<OSSL_PARAM, Freer<OSSL_PARAM, OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(build.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  REQUIRE(EVP_PKEY_fromdata_init(ctx.get()) == 1);
  REQUIRE(EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) == 1);
  return Pkey(key);
}

bool VerifyRs256(EVP_PKEY* key, const Token& t) {
  MdCtx ctx(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), U(t.signature), t.signature.size(), U(t.signing_input),
                          t.signing_input.size()) == 1;
}

Json Jwks(SimFixture& f, const std::string& path = "/common/discovery/v2.0/keys") {
  Reply r = SimFixture::ToReply(f.client().Get(path.c_str()));  // no bearer token needed
  INFO(path << " " << r.raw);
  REQUIRE(r.status == 200);
  return r.body;
}

// The JWKS entry named by the token's kid; null if none is published.
Json KeyOf(SimFixture& f, const Token& t) {
  Json jwks = Jwks(f);
  for (const Json& k : jwks["keys"]) {
    if (k["kid"] == t.header.value("kid", "")) return k;
  }
  return Json();
}

bool SignatureVerifies(SimFixture& f, const Token& t) {
  Json jwk = KeyOf(f, t);
  return !jwk.is_null() && t.header["alg"] == "RS256" && VerifyRs256(JwkPublicKey(jwk).get(), t);
}

int64_t Seconds(graphmirror::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Everything a receiver checks (GRAPH.md section 5), for the token form of `version`.
void CheckToken(SimFixture& f, const Token& t, int version) {
  INFO(t.header.dump() << " " << t.claims.dump());
  CHECK(t.header["typ"] == "JWT");
  CHECK(t.header["alg"] == "RS256");
  CHECK(SignatureVerifies(f, t));
  const Json& c = t.claims;
  std::string tid = f.sim().TenantId();
  CHECK(c["aud"] == f.sim().options().client_id);
  CHECK(c["tid"] == tid);
  int64_t now = Seconds(f.sim().Now());
  CHECK(c["iat"] == now - 300);
  CHECK(c["nbf"] == now - 300);
  CHECK(c["exp"] == now + 3600);
  if (version == 1) {
    CHECK(c["iss"] == "https://sts.windows.net/" + tid + "/");
    CHECK(c["appid"] == kGraphChangeTrackingApp);
    CHECK(c["ver"] == "1.0");
    CHECK_FALSE(c.contains("azp"));
  } else {
    CHECK(c["iss"] == "https://login.microsoftonline.com/" + tid + "/v2.0");
    CHECK(c["azp"] == kGraphChangeTrackingApp);
    CHECK(c["ver"] == "2.0");
    CHECK_FALSE(c.contains("appid"));
  }
}

// --- subscriptions ------------------------------------------------------------------------

graphsim::Options RichOptions(int token_version = 2) {
  graphsim::Options options = SmallOptions();
  options.validation_timeout = std::chrono::milliseconds(2000);
  options.delivery_timeout = std::chrono::milliseconds(1000);
  options.validation_token_version = token_version;
  return options;
}

Json RichBody(const std::string& url, const std::string& resource, const Subscriber& s,
              const std::string& certificate_id = "cert-1", int minutes_ahead = 600,
              const std::string& change_type = "created,updated,deleted") {
  return Json{{"changeType", change_type},
              {"notificationUrl", url},
              {"resource", resource},
              {"expirationDateTime", IsoTime(TestStart() + minutes(minutes_ahead))},
              {"clientState", "rich-state"},
              {"includeResourceData", true},
              {"encryptionCertificate", s.certificate},
              {"encryptionCertificateId", certificate_id}};
}

std::string Subscribe(SimFixture& f, const Json& body) {
  Reply r = f.Post("/v1.0/subscriptions", body);
  INFO(r.raw);
  REQUIRE(r.status == 201);
  return r.body["id"];
}

std::string Selected(SimFixture& f, int user, const std::string& select = "subject,from") {
  return "/users/" + f.user(user) + "/messages?$select=" + select;
}

// The one POST a pump made, REQUIREd.
Json OnePost(SimFixture& f, Webhook& hook) {
  hook.clear();
  REQUIRE(f.sim().PumpDeliveries() == 1);
  auto posts = hook.notifications();
  REQUIRE(posts.size() == 1);
  return posts[0].json;
}

// The POST a new message of user 0 makes, for a subscription on it.
Json NextPost(SimFixture& f, Webhook& hook) {
  f.sim().CreateItem(f.user(0), "messages", R"({"subject":"x"})");
  return OnePost(f, hook);
}

Token NextToken(SimFixture& f, Webhook& hook) {
  Json body = NextPost(f, hook);
  REQUIRE(body["validationTokens"].size() == 1);
  return ParseToken(body["validationTokens"][0]);
}

TEST_CASE("rich: a subscription needs a certificate, its id, $select and at most 1440 minutes",
          "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  const Subscriber& alice = Alice();
  Json good = RichBody(hook.url(), Selected(f, 0), alice);
  const std::string too_far = "Subscription expiration can only be 1440 minutes in the future.";

  for (const char* field : {"encryptionCertificate", "encryptionCertificateId"}) {
    Json missing = good;
    missing.erase(field);
    CheckError(f.Post("/v1.0/subscriptions", missing), 400, "ValidationError",
               std::string(field) +
                   " is a required property for subscription creation when includeResourceData "
                   "is true.");
  }
  for (const char* garbage : {"not base64 at all!", "bm90IGEgY2VydGlmaWNhdGU="}) {
    Json bad = good;
    bad["encryptionCertificate"] = garbage;
    CheckError(f.Post("/v1.0/subscriptions", bad), 400, "ValidationError",
               "Certificate validation error: Cannot find the requested object.");
  }
  Json weak = good;
  weak["encryptionCertificate"] = MakeSubscriber(1024).certificate;
  CheckError(f.Post("/v1.0/subscriptions", weak), 400, "ValidationError");
  Json long_id = good;
  long_id["encryptionCertificateId"] = std::string(129, 'i');
  CheckError(f.Post("/v1.0/subscriptions", long_id), 400, "ValidationError");
  CheckError(f.Post("/v1.0/subscriptions",
                    RichBody(hook.url(), "/users/" + f.user(0) + "/messages", alice)),
             400, "ExtensionError",
             "Operation: Create; Exception: [Status Code: BadRequest; Reason: select clause "
             "should be present in query string to support rich notifications]");
  CheckError(
      f.Post("/v1.0/subscriptions", RichBody(hook.url(), Selected(f, 0, "subject,body"), alice)),
      400, "ExtensionError");
  CheckError(
      f.Post("/v1.0/subscriptions", RichBody(hook.url(), Selected(f, 0), alice, "cert-1", 1441)),
      400, "ExtensionError", too_far);
  CHECK(hook.validations().empty());  // nothing invalid reached the handshake

  Json exact = RichBody(hook.url(), Selected(f, 0), alice, "cert-1", 1440);
  Reply created = f.Post("/v1.0/subscriptions", exact);
  INFO(created.raw);
  REQUIRE(created.status == 201);
  CHECK(created.body["includeResourceData"] == true);
  CHECK(created.body["encryptionCertificateId"] == "cert-1");
  CHECK(created.body["encryptionCertificate"] == alice.certificate);  // the create echoes it
  CHECK(created.body["resource"] == Selected(f, 0));
  CHECK(created.body["expirationDateTime"] == "2026-01-02T12:00:00.0000000Z");
  std::string id = created.body["id"];
  Reply got = f.Get("/v1.0/subscriptions/" + id);
  CHECK(got.body["includeResourceData"] == true);
  CHECK(got.body["encryptionCertificateId"] == "cert-1");
  CHECK(got.body["encryptionCertificate"].is_null());
  Reply listed = f.Get("/v1.0/subscriptions");
  REQUIRE(listed.body["value"].size() == 1);
  CHECK(listed.body["value"][0]["encryptionCertificateId"] == "cert-1");
  auto views = f.sim().Subscriptions();
  REQUIRE(views.size() == 1);
  CHECK(views[0].include_resource_data);
  CHECK(views[0].encryption_certificate_id == "cert-1");

  // Renewals obey the same day.
  CheckError(f.Patch("/v1.0/subscriptions/" + id,
                     Json{{"expirationDateTime", IsoTime(TestStart() + minutes(1441))}}),
             400, "ExtensionError", too_far);
  Reply renewed = f.Patch("/v1.0/subscriptions/" + id,
                          Json{{"expirationDateTime", IsoTime(TestStart() + minutes(1400))}});
  CHECK(renewed.status == 200);
  CHECK(renewed.body["encryptionCertificateId"] == "cert-1");

  // Without resource data, the longer lifetime and a $select are still fine.
  Json plain = good;
  plain.erase("includeResourceData");
  plain.erase("encryptionCertificate");
  plain.erase("encryptionCertificateId");
  plain["expirationDateTime"] = IsoTime(TestStart() + minutes(4000));
  plain["notificationUrl"] = hook.url("/plain");
  Reply basic = f.Post("/v1.0/subscriptions", plain);
  CHECK(basic.status == 201);
  CHECK(basic.body["includeResourceData"].is_null());
  CHECK(basic.body["encryptionCertificateId"].is_null());
}

TEST_CASE("rich: created and updated items carry their $selected properties, encrypted",
          "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook, plain_hook;
  const Subscriber& alice = Alice();
  std::string uid = f.user(0);
  std::string sub = Subscribe(f, RichBody(hook.url("/rich"), Selected(f, 0), alice, "alice-1"));
  std::string plain_sub =
      Subscribe(f, Json{{"changeType", "created,updated,deleted"},
                        {"notificationUrl", plain_hook.url("/plain")},
                        {"resource", "/users/" + uid + "/messages"},
                        {"expirationDateTime", IsoTime(TestStart() + minutes(600))}});

  std::string id = f.sim().CreateItem(
      uid, "messages",
      R"({"subject":"Grüße","from":{"emailAddress":{"name":"Ada","address":"ada@example.com"}}})");
  REQUIRE_FALSE(id.empty());
  REQUIRE(f.sim().PumpDeliveries() == 2);  // one POST per URL
  auto posts = hook.notifications();
  REQUIRE(posts.size() == 1);
  const Json& body = posts[0].json;
  REQUIRE(body["value"].size() == 1);
  const Json& item = body["value"][0];
  INFO(item.dump());
  CHECK(item["subscriptionId"] == sub);
  CHECK(item["changeType"] == "created");
  CHECK(item["clientState"] == "rich-state");
  const Json& content = item["encryptedContent"];
  CHECK(content["encryptionCertificateId"] == "alice-1");
  CHECK(content["encryptionCertificateThumbprint"] == alice.thumbprint);
  Opened opened = Open(content, alice.key.get());
  REQUIRE(opened.padding_valid);
  // The selected properties only, annotated as Outlook does; the id is resourceData's.
  CHECK(opened.plaintext ==
        Json::parse(R"({"subject":"Grüße","from":{"@odata.type":"#microsoft.graph.recipient",
            "emailAddress":{"@odata.type":"#microsoft.graph.emailAddress","name":"Ada",
            "address":"ada@example.com"}}})"));
  CHECK(item["resourceData"]["id"] == id);
  // The same values as GET ...?$select=subject,from, less the annotations.
  Reply get = f.Get("/v1.0/users/" + uid + "/messages/" + id + "?$select=subject,from");
  CHECK(get.body["from"] == Json::parse(R"({"emailAddress":{"name":"Ada",
            "address":"ada@example.com"}})"));
  REQUIRE(body["validationTokens"].size() == 1);
  CheckToken(f, ParseToken(body["validationTokens"][0]), 2);

  // Without resource data: no encryptedContent, no validationTokens.
  REQUIRE(plain_hook.notifications().size() == 1);
  Json plain_body = plain_hook.notifications()[0].json;
  CHECK_FALSE(plain_body.contains("validationTokens"));
  CHECK_FALSE(plain_body["value"][0].contains("encryptedContent"));
  REQUIRE(f.Delete("/v1.0/subscriptions/" + plain_sub).status == 204);

  // Content is the state the change left: two updates before a pump show their own subjects.
  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"subject":"first"})"));
  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"subject":"second"})"));
  REQUIRE(f.sim().DeleteItem(uid, "messages", id));
  Json later = OnePost(f, hook);
  REQUIRE(later["value"].size() == 3);
  const char* subjects[] = {"first", "second"};
  for (int i = 0; i < 2; ++i) {
    const Json& updated = later["value"][i];
    CHECK(updated["changeType"] == "updated");
    Opened o = Open(updated["encryptedContent"], alice.key.get());
    REQUIRE(o.padding_valid);
    CHECK(o.plaintext["subject"] == subjects[i]);
    CHECK_FALSE(o.plaintext.contains("@odata.etag"));
    CHECK_FALSE(o.plaintext.contains("id"));
  }
  const Json& deleted = later["value"][2];
  CHECK(deleted["changeType"] == "deleted");
  CHECK_FALSE(deleted.contains("encryptedContent"));
  CHECK(later["validationTokens"].size() == 1);
  // A POST of deletions only has nothing to vouch for.
  f.sim().DeleteItem(uid, "messages", f.sim().ItemIds(uid, "messages").front());
  CHECK_FALSE(OnePost(f, hook).contains("validationTokens"));
  CHECK(f.sim().Deliveries().rich_items == 3);

  // Events select their own properties.
  Subscribe(f, RichBody(hook.url("/events"), "/users/" + uid + "/events?$select=subject,start",
                        alice, "alice-1", 600, "created"));
  std::string event = f.sim().CreateItem(uid, "events", R"({"subject":"standup"})");
  Json events = OnePost(f, hook);
  Opened e = Open(events["value"][0]["encryptedContent"], alice.key.get());
  REQUIRE(e.padding_valid);
  CHECK(events["value"][0]["resourceData"]["id"] == event);
  CHECK(e.plaintext.size() == 2);
  CHECK(e.plaintext["subject"] == "standup");
  CHECK(e.plaintext["start"]["@odata.type"] == "#microsoft.graph.dateTimeTimeZone");
  CHECK(e.plaintext["start"].contains("dateTime"));
  CHECK_FALSE(e.plaintext.contains("end"));
}

// Outlook-CN Example 3: `$select` and `$filter` together (in its spelling, `AND` and
// `'High'`). An item that comes to match carries its content as a created one does.
TEST_CASE("rich: a $filter subscription carries content for items entering the match",
          "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  const Subscriber& alice = Alice();
  const std::string uid = f.user(0);
  Subscribe(f, RichBody(hook.url("/rich"),
                        "/users/" + uid +
                            "/mailFolders('Drafts')/messages?$select=Subject,bodyPreview"
                            "&$filter=hasAttachments eq false AND importance eq 'High'",
                        alice));
  std::string id = f.sim().CreateItem(uid, "messages", R"({"subject":"plan"})", "drafts");
  REQUIRE_FALSE(id.empty());
  CHECK(f.sim().PumpDeliveries() == 0);  // normal importance: not watched
  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"importance":"high"})"));
  Json entered = OnePost(f, hook);
  REQUIRE(entered["value"].size() == 1);
  CHECK(entered["value"][0]["changeType"] == "created");
  CHECK(entered["value"][0]["resourceData"]["id"] == id);
  Opened opened = Open(entered["value"][0]["encryptedContent"], alice.key.get());
  REQUIRE(opened.padding_valid);
  CHECK(opened.plaintext == Json{{"subject", "plan"}, {"bodyPreview", ""}});
  CHECK(entered["validationTokens"].size() == 1);
  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"importance":"low"})"));
  Json left = OnePost(f, hook);
  REQUIRE(left["value"].size() == 1);
  CHECK(left["value"][0]["changeType"] == "deleted");
  CHECK_FALSE(left["value"][0].contains("encryptedContent"));
}

// Microsoft's example: a subscription to
// `messages?$select=Subject,bodyPreview,importance,receivedDateTime,from` and its
// decrypted payload, property by property.
TEST_CASE("rich: the content has Outlook's documented shape, annotations included",
          "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  const Subscriber& alice = Alice();
  const std::string uid = f.user(0);
  Subscribe(f, RichBody(hook.url("/rich"),
                        Selected(f, 0, "Subject,bodyPreview,importance,receivedDateTime,from"),
                        alice, "alice-1"));
  const std::string id = f.sim().CreateItem(uid, "messages", R"({
      "subject":"TEST MESSAGE FOR RICH NOTIFICATIONS",
      "body":{"contentType":"text","content":"Hello, what's up?"},
      "importance":"normal",
      "from":{"emailAddress":{"name":"Megan Brown","address":"Megan.Brown@microsoft.com"}}})");
  REQUIRE_FALSE(id.empty());
  Json body = OnePost(f, hook);
  const Json& item = body["value"][0];
  CHECK(item["resourceData"]["id"] == id);
  CHECK(item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Message");
  Opened opened = Open(item["encryptedContent"], alice.key.get());
  REQUIRE(opened.padding_valid);
  const Json& content = opened.plaintext;
  // In the order of the message schema, as in the example (not in the $select's order).
  const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(opened.text);
  std::vector<std::string> keys;
  for (auto it = ordered.begin(); it != ordered.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"receivedDateTime@odata.type", "receivedDateTime",
                                         "subject", "bodyPreview", "importance@odata.type",
                                         "importance", "from"});
  CHECK(content["receivedDateTime@odata.type"] == "#DateTimeOffset");
  CHECK(content["importance@odata.type"] == "#microsoft.graph.importance");
  CHECK(content["subject"] == "TEST MESSAGE FOR RICH NOTIFICATIONS");
  CHECK(content["bodyPreview"] == "Hello, what's up?");
  CHECK(content["from"] ==
        Json::parse(R"({"@odata.type":"#microsoft.graph.recipient","emailAddress":{
            "@odata.type":"#microsoft.graph.emailAddress","name":"Megan Brown",
            "address":"Megan.Brown@microsoft.com"}})"));
  // Never the item's id, etag, type or address: those are resourceData's.
  for (const char* absent : {"id", "@odata.etag", "@odata.type", "@odata.id"}) {
    CHECK_FALSE(content.contains(absent));
  }
}

TEST_CASE("rich: validationTokens verify against the JWKS, in v1 and v2 form", "[graphsim][rich]") {
  for (int version : {1, 2}) {
    INFO("version " << version);
    SimFixture f(RichOptions(version));
    Webhook hook;
    Subscribe(f, RichBody(hook.url(), Selected(f, 0), Alice()));
    f.clock().Advance(minutes(7));
    Json body = NextPost(f, hook);
    REQUIRE(body["validationTokens"].size() == 1);
    Token token = ParseToken(body["validationTokens"][0]);
    CheckToken(f, token, version);

    // Every discovery path publishes the same keys, without authentication.
    uint64_t before = f.sim().JwksRequests();
    std::string tenant = f.sim().TenantId();
    Json keys = Jwks(f);
    REQUIRE(keys["keys"].size() == 1);
    const Json& jwk = keys["keys"][0];
    CHECK(jwk["kty"] == "RSA");
    CHECK(jwk["use"] == "sig");
    CHECK(jwk["kid"] == token.header["kid"]);
    CHECK(jwk["x5t"] == jwk["kid"]);
    CHECK(jwk["e"] == "AQAB");
    CHECK(Jwks(f, "/common/discovery/keys") == keys);
    CHECK(Jwks(f, "/" + tenant + "/discovery/v2.0/keys") == keys);
    CHECK(Jwks(f, "/" + tenant + "/discovery/keys") == keys);
    CHECK(f.sim().JwksRequests() == before + 4);
    // x5c holds a certificate of the same key.
    std::string der;
    REQUIRE(B64Decode(jwk["x5c"][0], &der));
    const unsigned char* p = U(der);
    std::unique_ptr<X509, Freer<X509, X509_free>> cert(
        d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(cert);
    Pkey from_cert(X509_get_pubkey(cert.get()));
    CHECK(EVP_PKEY_eq(from_cert.get(), JwkPublicKey(jwk).get()) == 1);
    Json config =
        SimFixture::ToReply(f.client().Get("/common/v2.0/.well-known/openid-configuration")).body;
    CHECK(config["jwks_uri"] == f.server().base_url() + "/common/discovery/v2.0/keys");
  }
}

TEST_CASE("rich: each content fault spoils what it says, for the next N items",
          "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  const Subscriber& alice = Alice();
  Subscribe(f, RichBody(hook.url(), Selected(f, 0), alice, "alice-1", 600, "created"));
  auto next_content = [&] {
    f.sim().CreateItem(f.user(0), "messages", R"({"subject":"faulty"})");
    Json body = OnePost(f, hook);
    REQUIRE(body["value"].size() == 1);
    return body["value"][0]["encryptedContent"];
  };

  f.sim().InjectRichFault(RichFault::kFlipDataBit, 2);
  for (int i = 0; i < 2; ++i) {
    Opened o = Open(next_content(), alice.key.get());
    CHECK(o.key_unwrapped);
    CHECK_FALSE(o.signature_valid);
  }
  CHECK(Open(next_content(), alice.key.get()).padding_valid);  // two, then clean again

  f.sim().InjectRichFault(RichFault::kBadSignature, 1);
  Opened bad_signature = Open(next_content(), alice.key.get());
  CHECK(bad_signature.key_unwrapped);
  CHECK_FALSE(bad_signature.signature_valid);

  f.sim().InjectRichFault(RichFault::kTruncatedDataKey, 1);
  Json truncated = next_content();
  std::string wrapped;
  CHECK(B64Decode(truncated["dataKey"], &wrapped));  // still base64
  CHECK(wrapped.size() < 256);
  CHECK_FALSE(Open(truncated, alice.key.get()).key_unwrapped);

  f.sim().InjectRichFault(RichFault::kWrongCertificateId, 1);
  Json wrong_id = next_content();
  CHECK(wrong_id["encryptionCertificateId"] != "alice-1");
  CHECK(wrong_id["encryptionCertificateThumbprint"] == alice.thumbprint);

  f.sim().InjectRichFault(RichFault::kBadPadding, 1);
  Opened bad_padding = Open(next_content(), alice.key.get());
  CHECK(bad_padding.signature_valid);  // the MAC is over the ciphertext sent
  CHECK_FALSE(bad_padding.padding_valid);

  f.sim().InjectRichFault(RichFault::kMalformedBase64, 1);
  CHECK_FALSE(Open(next_content(), alice.key.get()).data_is_base64);

  // Over HTTP, and cleared.
  Reply injected = f.Post("/_sim/rich/faults", Json{{"fault", "malformed_base64"}, {"count", 1}});
  CHECK(injected.status == 204);
  CHECK_FALSE(Open(next_content(), alice.key.get()).data_is_base64);
  CHECK(f.Post("/_sim/rich/faults", Json{{"fault", "no_such_fault"}}).status == 400);
  f.Post("/_sim/rich/faults", Json{{"fault", "flip_data_bit"}, {"count", 5}});
  CHECK(f.Post("/_sim/rich/faults", Json{{"clear", true}}).status == 204);
  CHECK(Open(next_content(), alice.key.get()).padding_valid);
  f.sim().InjectRichFault(RichFault::kBadPadding, 5);
  f.sim().ClearFaults();
  Opened clean = Open(next_content(), alice.key.get());
  REQUIRE(clean.padding_valid);
  CHECK(clean.plaintext["subject"] == "faulty");
}

TEST_CASE("rich: each token fault spoils what it says, for the next N POSTs", "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  Subscribe(f, RichBody(hook.url(), Selected(f, 0), Alice(), "alice-1", 600, "created"));
  auto next_body = [&] { return NextPost(f, hook); };
  auto next_token = [&] { return NextToken(f, hook); };
  int64_t now = Seconds(f.sim().Now());

  f.sim().InjectRichFault(RichFault::kTokenBadSignature, 1);
  Token bad_signature = next_token();
  CHECK_FALSE(KeyOf(f, bad_signature).is_null());    // a published kid ...
  CHECK_FALSE(SignatureVerifies(f, bad_signature));  // ... that does not verify

  f.sim().InjectRichFault(RichFault::kTokenWrongAudience, 1);
  Token wrong_audience = next_token();
  CHECK(SignatureVerifies(f, wrong_audience));
  CHECK(wrong_audience.claims["aud"] != f.sim().options().client_id);

  f.sim().InjectRichFault(RichFault::kTokenWrongApp, 1);
  Token wrong_app = next_token();
  CHECK(SignatureVerifies(f, wrong_app));
  CHECK(wrong_app.claims["azp"] != kGraphChangeTrackingApp);

  f.sim().InjectRichFault(RichFault::kTokenExpired, 1);
  Token expired = next_token();
  CHECK(SignatureVerifies(f, expired));
  CHECK(expired.claims["exp"].get<int64_t>() <= now - 7200);

  f.sim().InjectRichFault(RichFault::kTokenNotYetValid, 1);
  Token early = next_token();
  CHECK(SignatureVerifies(f, early));
  CHECK(early.claims["nbf"].get<int64_t>() >= now + 7200);
  CHECK(early.claims["exp"].get<int64_t>() > early.claims["nbf"].get<int64_t>());

  f.sim().InjectRichFault(RichFault::kTokenUnknownKid, 1);
  Token unknown = next_token();
  CHECK(unknown.header["alg"] == "RS256");
  CHECK(KeyOf(f, unknown).is_null());
  CHECK(Jwks(f)["keys"].size() == 1);  // the other key stays unpublished

  f.sim().InjectRichFault(RichFault::kTokenAlgNone, 1);
  Token none = next_token();
  CHECK(none.header["alg"] == "none");
  CHECK(none.signature.empty());

  f.sim().InjectRichFault(RichFault::kTokenMissing, 2);
  CHECK_FALSE(next_body().contains("validationTokens"));
  CHECK_FALSE(next_body().contains("validationTokens"));
  CHECK(f.Post("/_sim/rich/faults", Json{{"fault", "token_missing"}, {"count", 1}}).status == 204);
  CHECK_FALSE(next_body().contains("validationTokens"));

  CheckToken(f, next_token(), 2);  // clean again
}

TEST_CASE("rich: a rotated signing key is published beside the earlier one", "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  Subscribe(f, RichBody(hook.url(), Selected(f, 0), Alice(), "alice-1", 600, "created"));
  auto next_token = [&] { return NextToken(f, hook); };
  Token first = next_token();
  f.sim().RotateSigningKey();
  Token second = next_token();
  CHECK(second.header["kid"] != first.header["kid"]);
  CHECK(f.Post("/_sim/rich/rotate-signing-key", Json::object()).status == 204);
  Token third = next_token();
  std::set<std::string> kids;
  Json jwks = Jwks(f);
  for (const Json& k : jwks["keys"]) kids.insert(k["kid"]);
  CHECK(kids ==
        std::set<std::string>{first.header["kid"], second.header["kid"], third.header["kid"]});
  CHECK(SignatureVerifies(f, first));  // old tokens still verify while their key is published
  CHECK(SignatureVerifies(f, second));
  CheckToken(f, third, 2);
}

TEST_CASE("rich: PATCH rotates the encryption certificate", "[graphsim][rich]") {
  SimFixture f(RichOptions());
  Webhook hook;
  const Subscriber& alice = Alice();
  const Subscriber& bob = Bob();
  std::string sub =
      Subscribe(f, RichBody(hook.url(), Selected(f, 0), alice, "alice-1", 600, "created"));
  CheckError(
      f.Patch("/v1.0/subscriptions/" + sub, Json{{"encryptionCertificate", bob.certificate}}), 400,
      "ValidationError");
  CheckError(f.Patch("/v1.0/subscriptions/" + sub,
                     Json{{"encryptionCertificate", "junk"}, {"encryptionCertificateId", "bob-1"}}),
             400, "ValidationError");
  Reply rotated = f.Patch(
      "/v1.0/subscriptions/" + sub,
      Json{{"encryptionCertificate", bob.certificate}, {"encryptionCertificateId", "bob-1"}});
  INFO(rotated.raw);
  REQUIRE(rotated.status == 200);
  CHECK(rotated.body["encryptionCertificateId"] == "bob-1");
  f.sim().CreateItem(f.user(0), "messages", R"({"subject":"for bob"})");
  Json content = OnePost(f, hook)["value"][0]["encryptedContent"];
  CHECK(content["encryptionCertificateId"] == "bob-1");
  CHECK(content["encryptionCertificateThumbprint"] == bob.thumbprint);
  CHECK_FALSE(Open(content, alice.key.get()).key_unwrapped);
  Opened o = Open(content, bob.key.get());
  REQUIRE(o.padding_valid);
  CHECK(o.plaintext["subject"] == "for bob");
}

TEST_CASE("rich: GETs of single items are counted per mailbox", "[graphsim][rich]") {
  SimFixture f(RichOptions());
  std::string u0 = f.user(0), u1 = f.user(1);
  std::string message = f.sim().ItemIds(u0, "messages").front();
  std::string event = f.sim().ItemIds(u0, "events").front();
  std::string contact = f.sim().ItemIds(u1, "contacts").front();
  CHECK(f.sim().ItemGets() == 0);
  CHECK(f.Get("/v1.0/users/" + u0 + "/messages/" + message).status == 200);
  CHECK(f.Get("/v1.0/users/" + u0 + "/messages/" + message + "?$select=subject").status == 200);
  CHECK(f.Get("/v1.0/users/" + u0 + "/events/" + event).status == 200);
  CHECK(f.Get("/v1.0/users/" + u1 + "/contacts/" + contact).status == 200);
  CHECK(f.Get("/v1.0/users/" + u1 + "/messages/AAMkADnosuchid").status == 404);
  f.Get("/v1.0/users/" + u0 + "/messages");  // lists and folders are not item GETs
  f.Get("/v1.0/users/" + u0 + "/mailFolders/inbox");
  CHECK(f.sim().Stats(u0).item_gets == 3);
  CHECK(f.sim().Stats(u1).item_gets == 2);
  CHECK(f.sim().ItemGets() == 5);
  Reply stats = f.Get("/_sim/stats");
  CHECK(stats.body["item_gets"] == 5);
  CHECK(stats.body["mailboxes"][0]["item_gets"] == 3);
}

}  // namespace
}  // namespace graphsim_test
