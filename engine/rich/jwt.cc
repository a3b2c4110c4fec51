#include "engine/rich/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <simdjson.h>

#include <vector>

#include "engine/rich/base64.h"
#include "engine/rich/openssl_ptr.h"

namespace graphmirror::rich {
namespace {

// Signing keys rotate daily and a new key signs tokens as soon as it is published: a
// refetch on an unknown kid must come soon enough for a rich notification to be applied
// within seconds, and seldom enough that forged kids cannot make us hammer the endpoint.
constexpr std::chrono::seconds kMinRefetchInterval{10};

struct Claims {
  std::string aud_single;
  std::vector<std::string> aud_list;
  std::string iss, appid, azp, tid, ver;
  std::optional<double> exp, nbf;
};

// Reads the claims the checks need; false if the payload is not a JSON object.
bool ReadClaims(const std::string& json, Claims* c) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json).get_object().get(object)) return false;
  for (auto [key, value] : object) {
    std::string_view text;
    if (key == "aud") {
      if (value.is_array()) {
        for (auto item : value.get_array()) {
          if (item.get_string().get(text) == simdjson::SUCCESS) c->aud_list.emplace_back(text);
        }
      } else if (value.get_string().get(text) == simdjson::SUCCESS) {
        c->aud_single = text;
      }
    } else if (key == "exp" || key == "nbf") {
      double number;
      if (value.get_double().get(number) != simdjson::SUCCESS) {
        int64_t whole;
        if (value.get_int64().get(whole) != simdjson::SUCCESS) return false;
        number = static_cast<double>(whole);
      }
      (key == "exp" ? c->exp : c->nbf) = number;
    } else if (value.get_string().get(text) == simdjson::SUCCESS) {
      if (key == "iss") c->iss = text;
      if (key == "appid") c->appid = text;
      if (key == "azp") c->azp = text;
      if (key == "tid") c->tid = text;
      if (key == "ver") c->ver = text;
    }
  }
  return true;
}

EVP_PKEY* RsaKey(const std::string& n, const std::string& e) {
  OpenSslPtr<BIGNUM, BN_free> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                             static_cast<int>(n.size()), nullptr));
  OpenSslPtr<BIGNUM, BN_free> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                             static_cast<int>(e.size()), nullptr));
  OpenSslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> build(OSSL_PARAM_BLD_new());
  OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!bn_n || !bn_e || !build || !ctx ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return nullptr;
  }
  OpenSslPtr<OSSL_PARAM, OSSL_PARAM_free> params(OSSL_PARAM_BLD_to_param(build.get()));
  EVP_PKEY* key = nullptr;
  if (!params || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return key;
}

}  // namespace

struct TokenValidator::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

const char* TokenProblemName(TokenProblem problem) {
  switch (problem) {
    case TokenProblem::kNone:
      return "none";
    case TokenProblem::kMalformed:
      return "malformed";
    case TokenProblem::kAlgorithm:
      return "algorithm";
    case TokenProblem::kUnknownKey:
      return "unknown_key";
    case TokenProblem::kSignature:
      return "signature";
    case TokenProblem::kExpired:
      return "expired";
    case TokenProblem::kNotYetValid:
      return "not_yet_valid";
    case TokenProblem::kAudience:
      return "audience";
    case TokenProblem::kCaller:
      return "caller";
    case TokenProblem::kIssuer:
      return "issuer";
    case TokenProblem::kKeysUnavailable:
      return "keys_unavailable";
  }
  return "?";
}

TokenValidator::TokenValidator(TokenExpectations expectations,
                               std::function<Result<std::string>()> fetch_jwks)
    : expectations_(std::move(expectations)), fetch_jwks_(std::move(fetch_jwks)) {}

TokenValidator::~TokenValidator() = default;

int TokenValidator::jwks_fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Status TokenValidator::Refresh() {
  ++fetches_;
  auto document = fetch_jwks_();
  if (!document.ok()) return document.status();
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  if (parser.parse(*document)["keys"].get_array().get(list)) {
    return Status::Corruption("the JWKS document has no \"keys\" array");
  }
  std::map<std::string, std::shared_ptr<Key>> keys;
  for (simdjson::dom::element entry : list) {
    std::string_view kty, kid, n, e;
    if (entry["kty"].get(kty) || kty != "RSA" || entry["kid"].get(kid) || entry["n"].get(n) ||
        entry["e"].get(e)) {
      continue;  // not a key we can use
    }
    auto n_bytes = DecodeBase64Url(n), e_bytes = DecodeBase64Url(e);
    if (!n_bytes || !e_bytes) continue;
    auto key = std::make_shared<Key>();
    key->pkey = RsaKey(*n_bytes, *e_bytes);
    if (key->pkey != nullptr) keys[std::string(kid)] = std::move(key);
  }
  keys_ = std::move(keys);
  return Status::Ok();
}

std::shared_ptr<TokenValidator::Key> TokenValidator::KeyFor(const std::string& kid,
                                                            TimePoint arrived, TimePoint now,
                                                            TokenProblem* problem) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(kid);
  if (it != keys_.end()) return it->second;
  *problem = TokenProblem::kUnknownKey;
  // A set fetched after the token came would have had its key.
  if (fetched_ && last_fetch_ >= arrived) return nullptr;
  // Keys rotate: an unknown kid may be a new key. Refetch, but not more often than
  // kMinRefetchInterval.
  if (attempted_ && now - last_attempt_ < kMinRefetchInterval) {
    *problem = TokenProblem::kKeysUnavailable;
    return nullptr;
  }
  attempted_ = true;
  last_attempt_ = now;
  if (!Refresh().ok()) {
    *problem = TokenProblem::kKeysUnavailable;
    return nullptr;
  }
  fetched_ = true;
  last_fetch_ = now;
  it = keys_.find(kid);
  return it == keys_.end() ? nullptr : it->second;
}

TokenProblem TokenValidator::Validate(std::string_view token, TimePoint arrived, TimePoint now) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return TokenProblem::kMalformed;
  }
  auto header = DecodeBase64Url(token.substr(0, dot1));
  if (!header) return TokenProblem::kMalformed;
  simdjson::dom::parser parser;
  simdjson::dom::object header_object;
  if (parser.parse(*header).get_object().get(header_object)) return TokenProblem::kMalformed;
  std::string_view alg, kid_view;
  if (header_object["alg"].get(alg) || alg != "RS256") return TokenProblem::kAlgorithm;
  if (header_object["kid"].get(kid_view)) return TokenProblem::kUnknownKey;
  const std::string kid(kid_view);

  auto payload = DecodeBase64Url(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = DecodeBase64Url(token.substr(dot2 + 1));
  if (!payload || !signature) return TokenProblem::kMalformed;

  TokenProblem key_problem = TokenProblem::kNone;
  std::shared_ptr<Key> key = KeyFor(kid, arrived, now, &key_problem);
  if (!key) return key_problem;
  OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free> md(EVP_MD_CTX_new());
  const std::string_view signed_part = token.substr(0, dot2);
  bool verified =
      md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key->pkey) == 1 &&
      EVP_DigestVerify(
          md.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
          reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  if (!verified) return TokenProblem::kSignature;

  Claims claims;
  if (!ReadClaims(*payload, &claims) || !claims.exp) return TokenProblem::kMalformed;
  const double t = std::chrono::duration<double>(arrived.time_since_epoch()).count();
  const double leeway = static_cast<double>(expectations_.leeway.count());
  if (t >= *claims.exp + leeway) return TokenProblem::kExpired;
  if (claims.nbf && t + leeway < *claims.nbf) return TokenProblem::kNotYetValid;
  bool audience = claims.aud_single == expectations_.client_id;
  for (const std::string& a : claims.aud_list) audience = audience || a == expectations_.client_id;
  if (expectations_.client_id.empty() || !audience) return TokenProblem::kAudience;
  const std::string& caller = claims.ver == "2.0"   ? claims.azp
                              : claims.ver == "1.0" ? claims.appid
                              : !claims.azp.empty() ? claims.azp
                                                    : claims.appid;
  if (caller != kGraphChangeTrackingAppId) return TokenProblem::kCaller;
  const std::string tenant = expectations_.tenant_id.empty() ? claims.tid : expectations_.tenant_id;
  if (tenant.empty() || (claims.iss != "https://sts.windows.net/" + tenant + "/" &&
                         claims.iss != "https://login.microsoftonline.com/" + tenant + "/v2.0")) {
    return TokenProblem::kIssuer;
  }
  return TokenProblem::kNone;
}

}  // namespace graphmirror::rich
