#include "engine/graph/subscriptions.h"

#include <simdjson.h>

#include "engine/base/text.h"
#include "engine/graph/query.h"
#include "engine/graph/timestamp.h"

namespace graphmirror::graph {
namespace {

// The subscription calls are per application, not per mailbox: they share one key for
// the client's concurrency limit and Retry-After fence.
constexpr const char* kAppKey = "(subscriptions)";

std::string StringField(simdjson::dom::object& object, std::string_view key) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

Result<SubscriptionInfo> FromObject(simdjson::dom::object& object) {
  SubscriptionInfo info;
  info.id = StringField(object, "id");
  if (info.id.empty()) return Status::Corruption("subscription without an id");
  info.resource = StringField(object, "resource");
  info.change_type = StringField(object, "changeType");
  info.notification_url = StringField(object, "notificationUrl");
  info.lifecycle_url = StringField(object, "lifecycleNotificationUrl");
  auto expiration = NormalizeTimestamp(StringField(object, "expirationDateTime"));
  if (!expiration) return Status::Corruption("subscription " + info.id + " without a valid expiry");
  info.expiration = *expiration;
  return info;
}

}  // namespace

Result<SubscriptionInfo> ParseSubscription(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json.data(), json.size()).get_object().get(object) != simdjson::SUCCESS) {
    return Status::Corruption("subscription answer is not a JSON object");
  }
  return FromObject(object);
}

Result<SubscriptionOutcome> SubscriptionApi::Call(const std::string& method,
                                                  const std::string& path,
                                                  const std::string& body) {
  Request request;
  request.mailbox = kAppKey;
  request.method = method;
  request.path_or_url = path;
  request.body = body;
  request.return_client_errors = true;
  auto response = client_->Send(request);
  if (!response.ok()) return response.status();
  SubscriptionOutcome outcome;
  outcome.http_status = response->status;
  outcome.error_code = response->error_code;
  outcome.error_message = response->error_message;
  if (outcome.ok() && !response->body.empty()) {
    auto info = ParseSubscription(response->body);
    if (!info.ok()) return info.status();
    outcome.info = std::move(info).value();
  }
  return outcome;
}

Result<SubscriptionOutcome> SubscriptionApi::Create(const SubscriptionSpec& spec) {
  std::string body = "{\"changeType\":" + JsonString(spec.change_type) +
                     ",\"notificationUrl\":" + JsonString(spec.notification_url) +
                     ",\"resource\":" + JsonString(spec.resource) +
                     ",\"expirationDateTime\":" + JsonString(spec.expiration) +
                     ",\"clientState\":" + JsonString(spec.client_state) +
                     ",\"latestSupportedTlsVersion\":\"v1_2\"";
  if (!spec.lifecycle_url.empty()) {
    body += ",\"lifecycleNotificationUrl\":" + JsonString(spec.lifecycle_url);
  }
  if (spec.include_resource_data) {
    body += ",\"includeResourceData\":true,\"encryptionCertificate\":" +
            JsonString(spec.encryption_certificate) +
            ",\"encryptionCertificateId\":" + JsonString(spec.encryption_certificate_id);
  }
  body += "}";
  return Call("POST", "/subscriptions", body);
}

Result<SubscriptionOutcome> SubscriptionApi::Renew(const std::string& id, const RenewSpec& spec) {
  std::string body = "{\"expirationDateTime\":" + JsonString(spec.expiration);
  if (!spec.encryption_certificate.empty()) {
    body += ",\"encryptionCertificate\":" + JsonString(spec.encryption_certificate) +
            ",\"encryptionCertificateId\":" + JsonString(spec.encryption_certificate_id);
  }
  body += "}";
  return Call("PATCH", "/subscriptions/" + PercentEncode(id), body);
}

Result<SubscriptionOutcome> SubscriptionApi::Delete(const std::string& id) {
  return Call("DELETE", "/subscriptions/" + PercentEncode(id), "");
}

Result<std::vector<SubscriptionInfo>> SubscriptionApi::List() {
  std::vector<SubscriptionInfo> out;
  std::string url = "/subscriptions";
  simdjson::dom::parser parser;
  while (!url.empty()) {
    auto response = client_->Get(kAppKey, url);
    if (!response.ok()) return response.status();
    simdjson::dom::object root;
    if (parser.parse(response->body).get_object().get(root) != simdjson::SUCCESS) {
      return Status::Corruption("subscription list is not a JSON object");
    }
    simdjson::dom::array value;
    if (root["value"].get_array().get(value) != simdjson::SUCCESS) {
      return Status::Corruption("subscription list without a value array");
    }
    for (simdjson::dom::element element : value) {
      simdjson::dom::object object;
      if (element.get_object().get(object) != simdjson::SUCCESS) continue;
      auto info = FromObject(object);
      if (info.ok()) out.push_back(std::move(info).value());
    }
    url = StringField(root, "@odata.nextLink");
  }
  return out;
}

}  // namespace graphmirror::graph
