#include "tools/graphsim/auth.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "tools/graphsim/client_assertion.h"
#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/url_encoded.h"

namespace graphsim {
namespace {

constexpr const char* kGraphResource = kGraphAudience;
constexpr char kGraphAppId[] = "00000003-0000-0000-c000-000000000000";

std::string AadTimestamp(TimePoint now) {
  std::string t = FormatSecondsZ(now);  // "2026-01-01T10:00:00Z" -> "2026-01-01 10:00:00Z"
  t[10] = ' ';
  return t;
}

// The identity platform's error body (not Graph's: OAuth2 has its own shape).
HttpResponse AadError(int status, const std::string& error, int code, const std::string& text,
                      TimePoint now) {
  std::string trace = NewRequestId();
  std::string correlation = NewRequestId();
  std::string stamp = AadTimestamp(now);
  nlohmann::ordered_json body = {
      {"error", error},
      {"error_description", "AADSTS" + std::to_string(code) + ": " + text +
                                "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + correlation +
                                "\r\nTimestamp: " + stamp},
      {"error_codes", {code}},
      {"timestamp", stamp},
      {"trace_id", trace},
      {"correlation_id", correlation},
      {"error_uri", "https://login.microsoftonline.com/error?code=" + std::to_string(code)}};
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json; charset=utf-8";
  response.body = DumpJson(body);
  response.headers.emplace_back("Cache-Control", "no-store, no-cache");
  response.headers.emplace_back("Pragma", "no-cache");
  return response;
}

std::string B64UrlText(const std::string& text) {
  return Base64Url(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace

HttpResponse Unauthorized(const std::string& message, const std::string& error_description,
                          TimePoint now) {
  HttpResponse response = ErrorResponse(401, "InvalidAuthenticationToken", message, now);
  std::string challenge = std::string("Bearer realm=\"\", authorization_uri=\"https://login.") +
                          "microsoftonline.com/common/oauth2/authorize\", client_id=\"" +
                          kGraphAppId + "\"";
  if (!error_description.empty()) {
    challenge += ", error=\"invalid_token\", error_description=\"" + error_description + "\"";
  }
  response.headers.emplace_back("WWW-Authenticate", challenge);
  return response;
}

AppAccess::AppAccess() {
  // Graph's three, and SharePoint's permission for list webhooks (a SharePoint API
  // permission; graphsim puts every granted role in every token).
  for (const char* role : {"Mail.Read", "Calendars.Read", "Contacts.Read", "Sites.Manage.All"}) {
    SetPermission(role, true);
  }
}

void AppAccess::SetPermission(const std::string& permission, bool granted) {
  std::string key = permission;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::lock_guard<std::mutex> lock(mu_);
  if (granted) {
    granted_.emplace(key, permission);
  } else {
    granted_.erase(key);
  }
}

bool AppAccess::Granted(const std::string& needed) const {
  std::string key = needed;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string write = key;
  if (write.size() > 5 && write.compare(write.size() - 5, 5, ".read") == 0) write += "write";
  std::lock_guard<std::mutex> lock(mu_);
  return granted_.count(key) > 0 || granted_.count(write) > 0;
}

std::vector<std::string> AppAccess::Roles(Api api) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> roles;
  for (const auto& [key, name] : granted_) {
    const bool sharepoint = key.rfind("sites.", 0) == 0;
    if (api == Api::kBoth || sharepoint == (api == Api::kSharePoint)) roles.push_back(name);
  }
  std::sort(roles.begin(), roles.end());
  return roles;
}

void AppAccess::SetMailboxAllowed(int user, bool allowed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (allowed) {
    denied_mailboxes_.erase(user);
  } else {
    denied_mailboxes_.insert(user);
  }
}

bool AppAccess::MailboxAllowed(int user) const {
  std::lock_guard<std::mutex> lock(mu_);
  return denied_mailboxes_.count(user) == 0;
}

TokenIssuer::TokenIssuer(const Options& options, std::string tenant_id, const AppAccess* access)
    : options_(options), tenant_id_(std::move(tenant_id)), access_(access) {}

HttpResponse TokenIssuer::HandleTokenRequest(const HttpRequest& request, TimePoint now) {
  std::string content_type = request.Header("Content-Type");
  for (char& c : content_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::pair<std::string, std::string>> form;
  if (content_type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    form = ParseUrlEncoded(request.body);
  }
  auto field = [&](const char* name) -> const std::string* {
    for (const auto& [k, v] : form) {
      if (k == name) return &v;
    }
    return nullptr;
  };
  for (const char* required : {"grant_type", "client_id"}) {
    if (!field(required)) {
      return AadError(
          400, "invalid_request", 900144,
          std::string("The request body must contain the following parameter: '") + required + "'.",
          now);
    }
  }
  if (*field("grant_type") != "client_credentials") {
    return AadError(400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type '" + *field("grant_type") + "'.",
                    now);
  }
  const std::string& client_id = *field("client_id");
  if (client_id != options_.client_id) {
    return AadError(400, "unauthorized_client", 700016,
                    "Application with identifier '" + client_id +
                        "' was not found in the directory '" + tenant_id_ +
                        "'. This can happen if the application has not been installed by the "
                        "administrator of the tenant or consented to by any user in the tenant. "
                        "You may have sent your authentication request to the wrong tenant.",
                    now);
  }
  if (const std::string* assertion = field("client_assertion")) {
    const std::string* type = field("client_assertion_type");
    if (!type || *type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      return AadError(400, "invalid_request", 900144,
                      "The request body must contain the following parameter: "
                      "'client_assertion_type'.",
                      now);
    }
    AssertionExpectations expect;
    expect.client_id = client_id;
    expect.audience = request.base_url + request.path;
    expect.certificate_pem = options_.client_certificate_pem;
    if (auto refusal = CheckClientAssertion(*assertion, expect, now)) {
      return AadError(401, "invalid_client", refusal->code, refusal->text, now);
    }
    return IssueToken(request, field("scope"), /*certificate=*/true, now);
  }
  const std::string* secret = field("client_secret");
  if (!secret) {
    return AadError(401, "invalid_client", 7000218,
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'.",
                    now);
  }
  if (*secret != options_.client_secret) {
    return AadError(401, "invalid_client", 7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    "app '" +
                        client_id + "'.",
                    now);
  }
  return IssueToken(request, field("scope"), /*certificate=*/false, now);
}

std::string NormalizeOrigin(std::string origin) {
  for (char& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  auto strip = [&](std::string_view scheme, std::string_view port) {
    if (origin.rfind(scheme, 0) == 0 && origin.size() > port.size() &&
        origin.compare(origin.size() - port.size(), port.size(), port) == 0) {
      origin.resize(origin.size() - port.size());
    }
  };
  strip("https://", ":443");
  strip("http://", ":80");
  return origin;
}

HttpResponse TokenIssuer::IssueToken(const HttpRequest& request, const std::string* scope,
                                     bool certificate, TimePoint now) {
  if (!scope) {
    return AadError(400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'scope'.", now);
  }
  const std::string kSuffix = "/.default";
  if (scope->size() <= kSuffix.size() ||
      scope->compare(scope->size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return AadError(400, "invalid_scope", 1002012,
                    "The provided value for scope " + *scope +
                        " is not valid. Client credential flows must have a scope value with "
                        "/.default suffixed to the resource identifier (application ID URI).",
                    now);
  }
  std::string resource = scope->substr(0, scope->size() - kSuffix.size());
  // SharePoint: the site's host is the resource (https://contoso.sharepoint.com), and
  // graphsim itself serves SharePoint sites, so its own origin is one too.
  auto ends_with = [&](std::string_view suffix) {
    return resource.size() >= suffix.size() &&
           resource.compare(resource.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  const bool sharepoint = NormalizeOrigin(resource) == NormalizeOrigin(request.base_url) ||
                          (resource.rfind("https://", 0) == 0 && ends_with(".sharepoint.com"));
  if (!sharepoint && resource != kGraphResource && resource != kGraphResource + std::string("/") &&
      resource != kGraphAppId) {
    // AAD would mint a token for that other resource; Graph would then reject it as having
    // the wrong audience. graphsim refuses at once with the error AAD gives for unknown
    // resources, which names the cause just as clearly.
    return AadError(400, "invalid_resource", 500011,
                    "The resource principal named " + resource +
                        " was not found in the tenant named " + tenant_id_ + ".",
                    now);
  }

  Facts facts;
  facts.resource = sharepoint ? NormalizeOrigin(resource) : kGraphResource;
  facts.certificate = certificate;
  TimePoint expires = now + options_.token_lifetime;
  // Graph's audience for graphsim's own origin too (a client pointed at graphsim asks for
  // "{origin}/.default" as for a national cloud's Graph host).
  const bool graph_host = !sharepoint || facts.resource == NormalizeOrigin(request.base_url);
  std::string token = MintToken(now, expires, graph_host ? kGraphResource : facts.resource, facts);
  nlohmann::ordered_json body = {{"token_type", "Bearer"},
                                 {"expires_in", options_.token_lifetime.count()},
                                 {"ext_expires_in", options_.token_lifetime.count()},
                                 {"access_token", token}};
  HttpResponse response;
  response.status = 200;
  response.content_type = "application/json; charset=utf-8";
  response.body = body.dump();
  response.headers.emplace_back("Cache-Control", "no-store, no-cache");
  response.headers.emplace_back("Pragma", "no-cache");
  return response;
}

std::string TokenIssuer::MintToken(TimePoint now, TimePoint expires, const std::string& audience,
                                   const Facts& facts) {
  // Before mu_: AppAccess's lock is a leaf. graphsim's own origin stands in for Graph and
  // SharePoint at once: its tokens carry both APIs' roles.
  const AppAccess::Api api = facts.resource == kGraphResource ? AppAccess::Api::kGraph
                             : audience == kGraphResource     ? AppAccess::Api::kBoth
                                                              : AppAccess::Api::kSharePoint;
  std::vector<std::string> roles = access_->Roles(api);
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t serial = ++issued_;
  auto seconds = [](TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  };
  // Shaped like Entra ID's v1 app-only tokens for Graph; clients must treat it as opaque.
  nlohmann::ordered_json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"kid", "graphsim"}};
  nlohmann::ordered_json payload = {{"aud", audience},
                                    {"iss", "https://sts.windows.net/" + tenant_id_ + "/"},
                                    {"iat", seconds(now)},
                                    {"nbf", seconds(now)},
                                    {"exp", seconds(expires)},
                                    {"app_displayname", options_.client_id},
                                    {"appid", options_.client_id},
                                    {"appidacr", facts.certificate ? "2" : "1"},
                                    {"idtyp", "app"},
                                    {"roles", roles},
                                    {"tid", tenant_id_},
                                    {"uti", std::to_string(serial)},
                                    {"ver", "1.0"}};
  if (roles.empty()) payload.erase("roles");  // as Entra ID: no roles, no claim
  uint8_t signature[32];
  for (int i = 0; i < 4; ++i) {
    PutUint64(HashCombine(HashCombine(options_.seed, serial), static_cast<uint64_t>(i)),
              signature + 8 * i);
  }
  std::string token = B64UrlText(header.dump()) + "." + B64UrlText(payload.dump()) + "." +
                      Base64Url(signature, sizeof(signature));
  tokens_[token] = Grant{expires, false, facts};
  return token;
}

TokenIssuer::Verdict TokenIssuer::Check(const std::string& authorization, TimePoint now,
                                        Facts* facts) const {
  if (authorization.empty()) return Verdict::kMissing;
  size_t space = authorization.find(' ');
  std::string scheme = authorization.substr(0, space);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer" || space == std::string::npos) return Verdict::kMalformed;
  std::string token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  if (token.empty()) return Verdict::kMissing;
  if (std::count(token.begin(), token.end(), '.') != 2) return Verdict::kMalformed;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return Verdict::kUnknown;
  if (it->second.revoked || now >= it->second.expires) return Verdict::kExpired;
  if (facts) *facts = it->second.facts;
  return Verdict::kValid;
}

void TokenIssuer::ExpireAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [token, grant] : tokens_) grant.revoked = true;
}

}  // namespace graphsim
