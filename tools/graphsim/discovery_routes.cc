// The Microsoft identity platform's discovery documents, which a receiver of rich
// notifications reads to check validationTokens: the JWKS (v1 {tenant}/discovery/keys and v2
// {tenant}/discovery/v2.0/keys, the same keys) and the OpenID configurations that point at
// them. No authentication, as on login.microsoftonline.com; any tenant segment ("common").

#include "tools/graphsim/errors.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

HttpResponse Document(const Json& body) {
  HttpResponse response;
  response.content_type = "application/json; charset=utf-8";
  response.body = DumpJson(body);
  return response;
}

}  // namespace

std::optional<HttpResponse> SimulatorCore::HandleDiscovery(const HttpRequest& request,
                                                           const std::vector<std::string>& segments,
                                                           TimePoint now) {
  std::vector<std::string> rest;
  for (size_t i = 1; i < segments.size(); ++i) rest.push_back(ToLower(segments[i]));
  using Path = std::vector<std::string>;
  bool jwks = rest == Path{"discovery", "keys"} || rest == Path{"discovery", "v2.0", "keys"};
  bool config_v1 = rest == Path{".well-known", "openid-configuration"};
  bool config_v2 = rest == Path{"v2.0", ".well-known", "openid-configuration"};
  if (segments.empty() || (!jwks && !config_v1 && !config_v2)) return std::nullopt;
  if (request.method != "GET") {
    return ErrorResponse(405, "BadRequest", "Discovery documents only answer GET.", now);
  }
  if (jwks) {
    ++jwks_requests_;
    return Document(signer_.Jwks());
  }
  // Tenant-independent documents name the issuer with Entra ID's placeholder.
  const std::string& tenant = segments[0];
  std::string tid = tenant == tenant_id() ? tenant : "{tenantid}";
  std::string base = request.base_url + "/" + tenant;
  Json config;
  if (config_v1) {
    config = Json{{"token_endpoint", base + "/oauth2/token"},
                  {"jwks_uri", base + "/discovery/keys"},
                  {"issuer", "https://sts.windows.net/" + tid + "/"}};
  } else {
    config = Json{{"token_endpoint", base + "/oauth2/v2.0/token"},
                  {"jwks_uri", base + "/discovery/v2.0/keys"},
                  {"issuer", "https://login.microsoftonline.com/" + tid + "/v2.0"}};
  }
  config["id_token_signing_alg_values_supported"] = Json::array({"RS256"});
  config["tenant_region_scope"] = "NA";
  return Document(config);
}

}  // namespace graphsim
