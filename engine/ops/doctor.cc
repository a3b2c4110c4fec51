#include "engine/ops/doctor.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <set>

#include "engine/base/resource.h"
#include "engine/base/text.h"
#include "engine/graph/client_assertion.h"
#include "engine/graph/graph_client.h"
#include "engine/graph/public_fetch.h"
#include "engine/graph/query.h"
#include "engine/graph/timestamp.h"
#include "engine/graph/url.h"
#include "engine/kafka/kafka_client.h"
#include "engine/rich/base64.h"
#include "engine/sharepoint/list_sync.h"
#include "engine/sharepoint/sharepoint_mirror.h"
#include "engine/sync/collection_sync.h"
#include "engine/sync/live_sync.h"

namespace graphmirror::ops {
namespace {

using Level = Finding::Level;

// The application ids of Microsoft's APIs that a 401 names in WWW-Authenticate.
struct KnownApi {
  const char* app_id;
  const char* name;
  const char* audience;
};
constexpr KnownApi kApis[] = {
    {"00000003-0000-0000-c000-000000000000", "Microsoft Graph", "https://graph.microsoft.com"},
    {"00000002-0000-0ff1-ce00-000000000000", "Exchange Online (Outlook REST, outlook.office.com)",
     "https://outlook.office.com"},
    {"00000003-0000-0ff1-ce00-000000000000", "SharePoint Online",
     "https://<tenant>.sharepoint.com"},
};

// One parameter of a WWW-Authenticate header: name="value".
std::string AuthParam(std::string_view header, std::string_view name) {
  const std::string lower = AsciiLower(header);
  const std::string key = AsciiLower(name) + "=\"";
  size_t at = lower.find(key);
  while (at != std::string::npos && at > 0 && lower[at - 1] != ' ' && lower[at - 1] != ',') {
    at = lower.find(key, at + 1);
  }
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  const size_t end = header.find('"', start);
  return std::string(header.substr(start, end == std::string::npos ? end : end - start));
}

bool IsGraphAudience(const std::string& aud) {
  return aud == "https://graph.microsoft.com" || aud == "https://graph.microsoft.com/" ||
         aud == "00000003-0000-0000-c000-000000000000";
}

}  // namespace

std::optional<TokenClaims> DecodeTokenClaims(std::string_view token) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  auto payload = rich::DecodeBase64Url(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::object claims;
  if (parser.parse(*payload).get_object().get(claims)) return std::nullopt;
  TokenClaims out;
  std::string_view text;
  if (claims["aud"].get_string().get(text) == simdjson::SUCCESS) out.audience = text;
  if (claims["tid"].get_string().get(text) == simdjson::SUCCESS) out.tenant = text;
  if (claims["appid"].get_string().get(text) == simdjson::SUCCESS) out.app_id = text;
  if (claims["azp"].get_string().get(text) == simdjson::SUCCESS) out.app_id = text;
  int64_t exp = 0;
  if (claims["exp"].get_int64().get(exp) == simdjson::SUCCESS) out.expires = exp;
  simdjson::dom::array roles;
  if (claims["roles"].get_array().get(roles) == simdjson::SUCCESS) {
    for (auto role : roles) {
      if (role.get_string().get(text) == simdjson::SUCCESS) out.roles.emplace_back(text);
    }
  }
  return out;
}

std::string ExplainUnauthorized(std::string_view www_authenticate,
                                const std::string& token_audience) {
  const std::string error = AuthParam(www_authenticate, "error");
  const std::string description = AuthParam(www_authenticate, "error_description");
  const std::string api_id = AuthParam(www_authenticate, "client_id");
  const KnownApi* api = nullptr;
  for (const KnownApi& known : kApis) {
    if (api_id == known.app_id) api = &known;
  }
  const bool graph_token = IsGraphAudience(token_audience);
  if (api != nullptr && std::string(api->app_id) != kApis[0].app_id && graph_token) {
    return std::string("a token for the wrong API: the server that refused it is ") + api->name +
           " (app " + api->app_id + "), but the token was minted for Microsoft Graph (aud " +
           token_audience +
           "). graphmirror speaks Graph: set graph.base_url to "
           "https://graph.microsoft.com/v1.0 (Outlook REST v2.0 was retired in March 2024)";
  }
  if (!token_audience.empty() && !graph_token && (api == nullptr || api == &kApis[0])) {
    return "a token for the wrong API: Graph refused a token minted for " + token_audience +
           "; ask the token endpoint for scope https://graph.microsoft.com/.default";
  }
  if (error == "insufficient_claims") {
    return "Graph wants more claims (conditional access or continuous access evaluation): " +
           OneLine(description, 200);
  }
  if (error == "invalid_token") {
    return "the token was refused (expired, revoked or signed for another tenant)" +
           (description.empty() ? std::string() : ": " + OneLine(description, 200));
  }
  return "401 without an explanation" +
         (www_authenticate.empty() ? std::string() : ": " + OneLine(www_authenticate, 200));
}

// Each configured SharePoint site (a token for its host, the SharePoint permissions in it)
// and list (readable with that token).
template <typename Add>
void CheckSharePoint(const config::Config& config, Clock* clock, Add& add) {
  for (const SharePointConfig& site : config.sharepoint) {
    graph::ClientOptions options =
        sharepoint::SiteClientOptions(sync::ClientOptionsFrom(config), site.site);
    options.max_attempts = 2;
    options.max_retry_wait = std::chrono::seconds(30);
    graph::GraphClient client(options, clock);
    auto token = client.AccessToken();
    if (!token.ok()) {
      add(Level::kFail, "sharepoint", site.site + ": no token: " + token.status().message());
      continue;
    }
    // SharePoint API application permissions ("Office 365 SharePoint Online" in the portal):
    // list subscriptions need "Read and write items and lists in all site collections"
    // (Sites.Manage.All) or full control; Sites.Selected needs a grant per site.
    std::optional<TokenClaims> claims = DecodeTokenClaims(*token);
    const std::set<std::string> roles =
        claims ? std::set<std::string>(claims->roles.begin(), claims->roles.end())
               : std::set<std::string>();
    if (roles.count("Sites.Manage.All") || roles.count("Sites.FullControl.All")) {
      add(Level::kOk, "sharepoint",
          site.site + ": " +
              (roles.count("Sites.Manage.All") ? "Sites.Manage.All" : "Sites.FullControl.All") +
              " granted (reads and list subscriptions)");
    } else if (roles.count("Sites.Selected")) {
      add(Level::kWarn, "sharepoint",
          site.site +
              ": Sites.Selected: the app needs the manage role on this site (POST "
              "/v1.0/sites/{site-id}/permissions on Graph), or its list subscriptions are "
              "refused");
    } else if (roles.count("Sites.Read.All") || roles.count("Sites.ReadWrite.All")) {
      add(Level::kFail, "sharepoint",
          site.site +
              ": list subscriptions need the SharePoint application permission "
              "Sites.Manage.All (admin consent); with reads only, changes arrive only by the "
              "periodic sweep (sync.delta_interval)");
    } else {
      add(Level::kFail, "sharepoint",
          site.site +
              ": the token has no SharePoint Sites permission: add Sites.Manage.All "
              "(SharePoint, application permission) and grant admin consent");
    }
    for (const std::string& list : site.lists) {
      graph::Request request;
      request.mailbox = site.site;
      request.path_or_url = sharepoint::ListApiPath(list) + "?$select=Title,ItemCount";
      request.return_client_errors = true;
      request.return_unauthorized = true;
      const std::string what = site.site + " list " + list;
      auto res = client.Send(request);
      if (!res.ok()) {
        add(Level::kFail, "sharepoint", what + ": " + res.status().message());
      } else if (res->status == 200) {
        simdjson::dom::parser parser;
        simdjson::dom::element body;
        std::string_view title;
        int64_t count = -1;
        if (parser.parse(res->body).get(body) == simdjson::SUCCESS) {
          if (body["Title"].get(title) != simdjson::SUCCESS) title = "";
          if (body["ItemCount"].get(count) != simdjson::SUCCESS) count = -1;
        }
        add(Level::kOk, "sharepoint",
            what + ": readable (\"" + std::string(title) + "\", " +
                (count >= 0 ? std::to_string(count) : std::string("?")) + " items)");
      } else if (res->status == 401) {
        add(Level::kFail, "sharepoint",
            what + ": 401: " +
                (res->error_message.empty() ? std::string("refused") : res->error_message) +
                (res->error_message.find("app only") != std::string::npos
                     ? " (SharePoint takes app-only tokens obtained with a certificate only)"
                     : ""));
      } else if (res->status == 403) {
        add(Level::kFail, "sharepoint",
            what + ": 403: the app lacks a SharePoint Sites permission for this site");
      } else if (res->status == 404) {
        add(Level::kFail, "sharepoint", what + ": 404: no such list at this site");
      } else {
        add(Level::kWarn, "sharepoint", what + ": HTTP " + std::to_string(res->status));
      }
    }
  }
}

std::vector<Finding> RunDoctor(const config::Config& config, Clock* clock) {
  std::vector<Finding> out;
  auto add = [&](Level level, const char* check, std::string text) {
    out.push_back({level, check, std::move(text)});
  };

  // Which credential the token is asked for with.
  if (!config.graph.certificate.empty()) {
    auto certificate =
        graph::ClientCertificate::Load(config.graph.certificate, config.graph.private_key);
    if (!certificate.ok()) {
      add(Level::kFail, "credential", certificate.status().message());
      return out;
    }
    add(Level::kOk, "credential",
        "certificate " + config.graph.certificate + " (thumbprint " +
            (*certificate)->thumbprint_hex() + "), signed client assertion");
  } else {
    add(Level::kWarn, "credential",
        "client secret: for trying out; in production use a certificate (graphmirror keygen "
        "--app, then graph.certificate and graph.private_key)");
  }

  if (std::string problem = config::SharePointCredentialProblem(config); !problem.empty()) {
    add(Level::kFail, "sharepoint", problem);
  }

  // The token and what it says about the app.
  graph::ClientOptions options = sync::ClientOptionsFrom(config);
  options.max_attempts = 2;  // a diagnosis, not a sync: say what is wrong soon
  options.max_retry_wait = std::chrono::seconds(30);
  graph::GraphClient client(options, clock);
  auto token = client.AccessToken();
  if (!token.ok()) {
    add(Level::kFail, "token", token.status().message());
    return out;
  }
  std::optional<TokenClaims> claims = DecodeTokenClaims(*token);
  std::string audience;
  if (!claims) {
    add(Level::kWarn, "token", "got a token, but it is not a JWT: its claims cannot be checked");
  } else {
    audience = claims->audience;
    add(IsGraphAudience(audience) ? Level::kOk : Level::kFail, "token",
        "audience " + (audience.empty() ? std::string("(none)") : audience) +
            (IsGraphAudience(audience) ? "" : ": not Microsoft Graph") + ", tenant " +
            (claims->tenant.empty() ? "?" : claims->tenant) + ", app " +
            (claims->app_id.empty() ? "?" : claims->app_id));
    if (claims->expires) {
      const int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(clock->Now().time_since_epoch()).count();
      const int64_t left = *claims->expires - now;
      add(left > 0 ? Level::kOk : Level::kFail, "token",
          "expires " +
              graph::FormatTimestamp(std::chrono::time_point_cast<graph::Ticks>(
                  TimePoint(std::chrono::seconds(*claims->expires)))) +
              " (in " + std::to_string(left / 60) + " min)");
    }
    const std::set<std::string> roles(claims->roles.begin(), claims->roles.end());
    std::set<std::string> needed;
    for (const auto& mailbox : config.mailboxes) {
      for (Collection c : mailbox.resources) needed.emplace(Describe(c).permission);
    }
    for (const std::string& permission : needed) {
      const std::string write = permission.substr(0, permission.size() - 4) + "ReadWrite";
      const bool granted = roles.count(permission) || roles.count(write);
      add(granted ? Level::kOk : Level::kFail, "permissions",
          permission + (granted ? " granted"
                                : " missing: add it as an application permission "
                                  "of the app and grant admin consent"));
    }
  }

  // Each mailbox and collection, as the engine will read it.
  bool clock_checked = false;
  for (const auto& mailbox : config.mailboxes) {
    for (Collection c : mailbox.resources) {
      const std::string what = mailbox.user + " " + std::string(CollectionName(c));
      graph::Request request;
      request.mailbox = mailbox.user;
      request.path_or_url = "/users/" + graph::PercentEncode(mailbox.user) + "/" +
                            std::string(CollectionName(c)) + "?$top=1&$select=id";
      request.return_client_errors = true;
      request.return_unauthorized = true;
      auto res = client.Send(request);
      if (!res.ok()) {
        add(Level::kFail, "mailbox", what + ": " + res.status().message());
        continue;
      }
      if (auto server = graph::ServerDate(*res); server && !clock_checked) {
        clock_checked = true;
        const auto skew =
            std::chrono::duration_cast<std::chrono::seconds>(clock->Now() - *server).count();
        add(std::abs(skew) <= 300 ? Level::kOk : Level::kWarn, "clock",
            "this machine is " + std::to_string(std::abs(skew)) + " s " +
                (skew >= 0 ? "ahead of" : "behind") + " Graph" +
                (std::abs(skew) <= 300 ? ""
                                       : ": fix the clock (tokens and expiries depend on it)"));
      }
      auto header = [&](const char* name) {
        auto it = res->headers.find(name);
        return it == res->headers.end() ? std::string() : it->second;
      };
      if (res->status == 200) {
        add(Level::kOk, "mailbox", what + ": readable");
      } else if (res->status == 401) {
        add(Level::kFail, "mailbox",
            what + ": 401, " + ExplainUnauthorized(header("www-authenticate"), audience));
      } else if (res->status == 403) {
        add(Level::kFail, "mailbox",
            what + ": 403: the app needs " + std::string(Describe(c).permission) +
                " (application permission, admin consent), or an application access policy "
                "excludes this mailbox");
      } else if (res->status == 404) {
        add(Level::kFail, "mailbox", what + ": 404: no such user or mailbox in this tenant");
      } else {
        add(Level::kWarn, "mailbox", what + ": HTTP " + std::to_string(res->status));
      }
    }
  }

  CheckSharePoint(config, clock, add);

  // [kafka]: the brokers answer for the topic, and where subscriptions deliver.
  if (config.kafka) {
    const KafkaSettings& k = *config.kafka;
    auto offsets = kafka::GroupOffsets(k, std::chrono::seconds(10));
    if (offsets.ok()) {
      int64_t behind = 0;
      for (const auto& p : *offsets) {
        if (p.end >= 0) behind += p.end - std::max<int64_t>(p.committed, 0);
      }
      add(Level::kOk, "kafka",
          "topic " + k.topic + " on " + k.brokers + ": " + std::to_string(offsets->size()) +
              " partition(s), group " + k.group + " has " + std::to_string(behind) +
              " record(s) to read");
    } else {
      add(Level::kFail, "kafka", offsets.status().message());
    }
    if (!k.event_hub_url.empty()) {
      add(Level::kOk, "kafka",
          "subscriptions deliver to " + k.event_hub_url +
              " (Graph writes as the 'Microsoft Graph Change Tracking' service principal: it "
              "needs the Azure Event Hubs Data Sender role on the hub, or Get on the Key Vault "
              "secret)");
      if (config.webhook.notification_url.empty()) return out;  // no webhook to probe
    }
  }

  // The public notification URL: Graph must get the handshake answered through it.
  if (config.webhook.notification_url.empty()) {
    add(Level::kWarn, "webhook", "no webhook.notification_url: `graphmirror run` needs one");
    return out;
  }
  auto hook = graph::ParseUrl(config.webhook.notification_url);
  if (!hook.ok()) {
    add(Level::kFail, "webhook", hook.status().message());
    return out;
  }
  if (hook->scheme != "https") {
    add(Level::kWarn, "webhook",
        config.webhook.notification_url + " is not https: Graph posts only to https URLs");
  }
  const std::string probe =
      "graphmirror-doctor-" + std::to_string(clock->Now().time_since_epoch().count());
  const std::string url = config.webhook.notification_url +
                          (hook->target.find('?') == std::string::npos ? "?" : "&") +
                          "validationToken=" + graph::PercentEncode(probe);
  auto res = graph::PublicRequest("POST", url, "", "text/plain");
  if (!res.ok()) {
    add(Level::kWarn, "webhook",
        config.webhook.notification_url + " is not reachable from here (" + res.status().message() +
            "): Graph must reach it from the internet while `graphmirror run` runs");
  } else if (res->status == 200 && res->body == probe) {
    add(Level::kOk, "webhook", config.webhook.notification_url + " answers the handshake");
  } else {
    add(Level::kFail, "webhook",
        config.webhook.notification_url + " answered the handshake with HTTP " +
            std::to_string(res->status) + ", not the token: is it routed to graphmirror?");
  }
  return out;
}

}  // namespace graphmirror::ops
