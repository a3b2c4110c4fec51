// /v1.0/subscriptions: create (with the validation handshake), get, list, renew (PATCH),
// delete and reauthorize, as GRAPH.md sections 1 and 2 describe them, with or without
// resource data (section 5: an encryption certificate, $select in the resource, one day).

#include <algorithm>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/event_hub.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"
#include "tools/graphsim/url_encoded.h"
#include "tools/graphsim/webhook_client.h"

namespace graphsim {
namespace {

using Impl = SimulatorCore;

constexpr size_t kMaxClientState = 128;
constexpr size_t kMaxCertificateId = 128;

ApiError Invalid(const std::string& message) { return ApiError{400, "ValidationError", message}; }

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  return response;
}

// Splits a subscription resource into segments; "mailFolders('Inbox')" becomes
// "mailFolders", "Inbox".
std::vector<std::string> ResourceSegments(const std::string& resource) {
  std::vector<std::string> out;
  for (std::string& segment : SplitPath(resource)) {
    size_t open = segment.find('(');
    if (open != std::string::npos && open > 0 && segment.back() == ')') {
      std::string key = segment.substr(open + 1, segment.size() - open - 2);
      if (key.size() >= 2 && key.front() == '\'' && key.back() == '\'') {
        key = key.substr(1, key.size() - 2);
      }
      out.push_back(segment.substr(0, open));
      out.push_back(key);
    } else {
      out.push_back(std::move(segment));
    }
  }
  return out;
}

// Exchange's answers (wrapped as it wraps them) to a resource query it does not take.
ApiError ExchangeBadRequest(const std::string& reason) {
  return ApiError{
      400, "ExtensionError",
      "Operation: Create; Exception: [Status Code: BadRequest; Reason: " + reason + "]"};
}
ApiError NotInResource() {
  return ExchangeBadRequest(
      "$top, $skip, $orderby, $select=body,uniqueBody and $expand other than "
      "singleValueExtendedProperties,multiValueExtendedProperties are not supported in "
      "subscription resource Url.");
}

// The query of a subscription resource ("$select=subject,from&$filter=isRead eq false"):
// $select is checked as a GET's is, $filter as a list's; what Graph refuses is 400.
std::optional<ApiError> ParseResourceQuery(std::string_view query, EntityKind kind,
                                           SubscriptionRecord* sub) {
  std::vector<std::pair<std::string, std::string>> options;
  for (auto& [name, value] : ParseUrlEncoded(query)) {
    std::string option = ToLower(name);
    if (option == "$filter") {
      if (sub->filter) {
        return ApiError{400, "BadRequest",
                        "Query option '" + name +
                            "' was specified more than once, but it must be specified at most "
                            "once."};
      }
      std::unique_ptr<FilterExpr> filter;
      std::vector<std::string> fields;
      if (auto err = ParseFilter(value, Entity(kind), &filter, &fields)) return err;
      sub->filter = std::move(filter);
      sub->filter_text = value;
      continue;
    }
    if (option == "$top" || option == "$skip" || option == "$orderby") return NotInResource();
    if (option == "$expand") {
      std::string what = ToLower(value);
      if (what.rfind("singlevalueextendedproperties", 0) == 0 ||
          what.rfind("multivalueextendedproperties", 0) == 0) {
        return ApiError{501, "NotImplemented", "graphsim does not implement extended properties."};
      }
      return NotInResource();
    }
    if (option == "$select") {
      for (const std::string& property : SplitList(ToLower(value))) {
        if (property == "body" || property == "uniquebody") return NotInResource();
      }
    }
    options.emplace_back(std::move(name), std::move(value));
  }
  QueryOptions parsed;
  if (auto err = ParseQueryOptions(options, Entity(kind), QueryKind::kSingle, &parsed)) return err;
  sub->select = std::move(parsed.select);
  return std::nullopt;
}

}  // namespace

HttpResponse Impl::HandleSubscriptions(const HttpRequest& request,
                                       const std::vector<std::string>& rest, TimePoint now) {
  const std::string& method = request.method;
  auto error = [&](const ApiError& e) { return ErrorResponse(e, now); };
  auto method_not_allowed = [&] {
    return ErrorResponse(
        405, "BadRequest",
        "The HTTP method '" + method + "' is not supported for the requested resource.", now);
  };
  const std::string base = request.base_url + "/v1.0";
  const std::string creator_id =
      FormatGuid(HashCombine(options_.seed, 0xc4ea), HashCombine(options_.seed, 0xc4eb));

  // Only the create answer echoes clientState and encryptionCertificate; later reads show null.
  auto to_json = [&](const SubscriptionRecord& s, bool create_answer) {
    auto or_null = [](const std::string& text) { return text.empty() ? Json() : Json(text); };
    Json j;
    j["id"] = s.id;
    j["resource"] = s.resource;
    j["applicationId"] = options_.client_id;
    j["changeType"] = ChangeTypeText(s.changes);
    j["clientState"] = create_answer && s.client_state ? Json(*s.client_state) : Json();
    j["notificationUrl"] = s.notification_url;
    j["notificationQueryOptions"] = nullptr;
    j["lifecycleNotificationUrl"] = or_null(s.lifecycle_url);
    j["expirationDateTime"] = FormatTicksZ(s.expires);
    j["creatorId"] = creator_id;
    j["includeResourceData"] = s.include_resource_data ? Json(*s.include_resource_data) : Json();
    j["latestSupportedTlsVersion"] = s.tls_version;
    j["encryptionCertificate"] = create_answer ? or_null(s.certificate_text) : Json();
    j["encryptionCertificateId"] = or_null(s.certificate_id);
    j["notificationUrlAppId"] = nullptr;
    return j;
  };
  auto entity = [&](int status, const SubscriptionRecord& s, bool create_answer) {
    Json body{{"@odata.context", base + "/$metadata#subscriptions/$entity"}};
    body.update(to_json(s, create_answer));
    return JsonResponse(status, DumpJson(body));
  };

  // An absolute http(s) URL (http only if the options allow it), or an Event Hubs URL of
  // the documented role-based access control form.
  auto check_url = [&](const std::string& field,
                       const std::string& url) -> std::optional<ApiError> {
    if (IsEventHubUrl(url)) {
      EventHubAddress address;
      switch (ParseEventHubUrl(url, &address)) {
        case EventHubUrlForm::kHub:
          return std::nullopt;
        case EventHubUrlForm::kKeyVault:
          return ApiError{501, "NotImplemented",
                          "graphsim does not implement Event Hubs delivery through Azure Key "
                          "Vault: use EventHub:https://<namespace>.servicebus.windows.net/"
                          "eventhubname/<hub>?tenantId=<domain>."};
        case EventHubUrlForm::kMalformed:
          break;
      }
      // Graph's answer (field reports): the same text for either URL property.
      return ApiError{400, "InvalidRequest", "Invalid event hub notification url='" + url + "'."};
    }
    std::optional<WebhookUrl> parsed = ParseWebhookUrl(url);
    if (!parsed) return Invalid("Invalid '" + field + "': '" + url + "' is not an absolute URL.");
    if (parsed->scheme != "https" && !options_.allow_http_notification_url) {
      return ApiError{400, "InvalidRequest",
                      "NotificationUrl scheme='" + parsed->scheme + "' is not supported."};
    }
    return std::nullopt;
  };

  // The validation handshake: POST {url}?validationToken=... and expect the token back. An
  // Event Hub gets a validation message instead, which nobody answers: the create fails
  // only if it cannot be written.
  auto handshake = [&](const std::string& url) -> std::optional<ApiError> {
    std::string token = options_.validation_token_override;
    if (token.empty()) {
      token = "Validation: Testing client application reachability for subscription Request-Id: " +
              NewRequestId();
    }
    if (IsEventHubUrl(url)) {
      if (auto why = notifier_.PublishToHub(url, EventHubValidationBody(token),
                                            options_.validation_timeout)) {
        return ApiError{400, "InvalidRequest",
                        "Client EventHubs publishing validation failed " + *why};
      }
      return std::nullopt;
    }
    std::optional<WebhookUrl> parsed = ParseWebhookUrl(url);
    if (!parsed) return Invalid("Invalid notification URL.");
    std::string target =
        parsed->target + (parsed->has_query ? "&" : "?") + "validationToken=" + FormEncode(token);
    WebhookResult result =
        PostWebhook(*parsed, target, "text/plain", "", options_.validation_timeout,
                    options_.verify_webhook_certificates);
    if (result.outcome == WebhookResult::Outcome::kTimeout) {
      return Invalid("Subscription validation request timed out.");
    }
    if (result.outcome != WebhookResult::Outcome::kAnswered || result.status != 200) {
      return Invalid(
          "Subscription validation request failed. Notification endpoint must respond with 200 "
          "OK to validation request.");
    }
    std::string type = ToLower(result.content_type);
    size_t semicolon = type.find(';');
    type = type.substr(0, semicolon);
    type.erase(type.find_last_not_of(" \t") + 1);
    type.erase(0, type.find_first_not_of(" \t"));
    if (type != "text/plain" || result.body != token) {
      return Invalid(
          "Subscription validation request failed. Response must exactly match validationToken "
          "query parameter.");
    }
    return std::nullopt;
  };

  // expirationDateTime: in the future, at most subscription_max_minutes ahead (with resource
  // data: rich_subscription_max_minutes); less than subscription_min_minutes ahead is
  // raised to it.
  auto check_expiry = [&](const Json& value, bool rich, TimePoint* out) -> std::optional<ApiError> {
    std::optional<TimePoint> t;
    if (value.is_string()) t = ParseDateTimeOffset(value.get<std::string>());
    if (!t) {
      return Invalid("The value of 'expirationDateTime' is not a valid DateTimeOffset.");
    }
    if (*t <= now) {
      return Invalid("Subscription expiration date time must be in the future.");
    }
    int max_minutes = std::max(0, options_.subscription_max_minutes);
    if (rich) {
      max_minutes = std::min(max_minutes, std::max(0, options_.rich_subscription_max_minutes));
    }
    if (*t > now + std::chrono::minutes(max_minutes)) {
      return ApiError{400, options_.expiry_too_far_code,
                      "Subscription expiration can only be " + std::to_string(max_minutes) +
                          " minutes in the future."};
    }
    auto min_ahead = std::chrono::minutes(std::max(0, options_.subscription_min_minutes));
    *out = TruncateToTicks(std::max(*t, now + min_ahead));
    return std::nullopt;
  };

  // encryptionCertificate and encryptionCertificateId (create, or a PATCH that rotates the
  // certificate): both or neither, unless `required`; the id 1-128 characters; the
  // certificate base64 of an X.509 DER one with an RSA key of 2048-4096 bits. Stored in *sub.
  auto read_certificate = [&](const Json& body, bool required,
                              SubscriptionRecord* sub) -> std::optional<ApiError> {
    const char* const kFields[] = {"encryptionCertificate", "encryptionCertificateId"};
    std::string values[2];
    for (int i = 0; i < 2; ++i) {
      auto it = body.find(kFields[i]);
      if (it == body.end() || it->is_null()) continue;
      if (!it->is_string()) {
        return Invalid("The value of '" + std::string(kFields[i]) + "' must be a string.");
      }
      values[i] = it->get<std::string>();
    }
    if (values[0].empty() && values[1].empty() && !required) return std::nullopt;
    for (int i = 0; i < 2; ++i) {
      if (!values[i].empty()) continue;
      return Invalid(required ? std::string(kFields[i]) +
                                    " is a required property for subscription creation when "
                                    "includeResourceData is true."
                              : "encryptionCertificate and encryptionCertificateId must be "
                                "given together.");
    }
    if (values[1].size() > kMaxCertificateId) {
      return Invalid("encryptionCertificateId must not be longer than 128 characters.");
    }
    auto certificate = std::make_shared<EncryptionCertificate>();
    if (auto message = ParseEncryptionCertificate(values[0], certificate.get())) {
      return Invalid(*message);
    }
    sub->certificate_text = std::move(values[0]);
    sub->certificate_id = std::move(values[1]);
    sub->certificate = std::move(certificate);
    return std::nullopt;
  };

  auto parse_body = [&](Json* body) -> std::optional<ApiError> {
    *body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body->is_discarded() || !body->is_object()) {
      return ApiError{400, "BadRequest",
                      "Unable to read JSON request payload. Please ensure Content-Type header is "
                      "set and payload is of valid JSON format."};
    }
    return std::nullopt;
  };

  // --- POST /subscriptions --------------------------------------------------------------
  auto create = [&]() -> HttpResponse {
    Json body;
    if (auto err = parse_body(&body)) return error(*err);
    static const char* const kKnown[] = {"changeType",
                                         "notificationUrl",
                                         "resource",
                                         "expirationDateTime",
                                         "clientState",
                                         "lifecycleNotificationUrl",
                                         "includeResourceData",
                                         "encryptionCertificate",
                                         "encryptionCertificateId",
                                         "latestSupportedTlsVersion",
                                         "notificationQueryOptions",
                                         "notificationUrlAppId",
                                         "blobStoreUrl",
                                         "id",
                                         "applicationId",
                                         "creatorId",
                                         "@odata.type"};
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
        return error(ApiError{400, "RequestBodyRead",
                              "The property '" + it.key() +
                                  "' does not exist on type 'microsoft.graph.subscription'. Make "
                                  "sure to only use property names that are defined by the type."});
      }
    }
    // Event Hubs' store for payloads over 1 MB (documented with Event Hubs delivery).
    if (auto it = body.find("blobStoreUrl"); it != body.end() && !it->is_null()) {
      return error(ApiError{501, "NotImplemented",
                            "graphsim does not implement blobStoreUrl (Event Hubs payloads over "
                            "1 MB)."});
    }
    for (const char* field : {"changeType", "notificationUrl", "resource", "expirationDateTime"}) {
      auto it = body.find(field);
      if (it == body.end() || it->is_null() ||
          (it->is_string() && it->get<std::string>().empty())) {
        return error(
            Invalid(std::string(field) + " is a required property for subscription creation."));
      }
      if (!it->is_string()) {
        return error(Invalid("The value of '" + std::string(field) + "' must be a string."));
      }
    }
    SubscriptionRecord sub;
    sub.notification_url = body["notificationUrl"].get<std::string>();
    if (auto err = check_url("notificationUrl", sub.notification_url)) return error(*err);
    if (auto it = body.find("lifecycleNotificationUrl"); it != body.end() && !it->is_null()) {
      if (!it->is_string()) {
        return error(Invalid("The value of 'lifecycleNotificationUrl' must be a string."));
      }
      sub.lifecycle_url = it->get<std::string>();
      if (auto err = check_url("lifecycleNotificationUrl", sub.lifecycle_url)) {
        return error(*err);
      }
    }
    // changeType: a comma-separated set of created, updated, deleted.
    for (const std::string& part : SplitList(body["changeType"].get<std::string>())) {
      if (part == "created") {
        sub.changes |= kChangeCreated;
      } else if (part == "updated") {
        sub.changes |= kChangeUpdated;
      } else if (part == "deleted") {
        sub.changes |= kChangeDeleted;
      } else {
        return error(Invalid("'" + part +
                             "' is not a valid changeType: use created, updated or deleted, "
                             "comma-separated."));
      }
    }
    if (auto it = body.find("includeResourceData"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) {
        return error(Invalid("The value of 'includeResourceData' must be a boolean."));
      }
      sub.include_resource_data = it->get<bool>();
    }
    const bool rich = IsRich(sub);
    // resource: a path, optionally with a query ($select); the path names what is watched.
    sub.resource = body["resource"].get<std::string>();
    size_t query_start = sub.resource.find('?');
    std::vector<std::string> segments = ResourceSegments(sub.resource.substr(0, query_start));
    auto unsupported = [&] {
      return error(ApiError{
          400, "InvalidRequest",
          "The resource '" + sub.resource + "' is not supported for change notifications."});
    };
    if (segments.empty()) return unsupported();
    if (ToLower(segments[0]) == "me") {
      return error(ApiError{400, "BadRequest",
                            "/me request is only valid with delegated authentication flow."});
    }
    if (ToLower(segments[0]) != "users" || segments.size() < 3) return unsupported();
    const UserRecord* user = FindUser(segments[1]);
    if (!user) {
      return error(ApiError{404, "ErrorInvalidUser",
                            "The requested user '" + segments[1] + "' is invalid."});
    }
    sub.target.user = user->index;
    sub.user_id = user->id;
    std::vector<std::string> tail;
    for (size_t i = 2; i < segments.size(); ++i) tail.push_back(ToLower(segments[i]));
    if (tail == std::vector<std::string>{"messages"}) {
      sub.target.kind = EntityKind::kMessage;
    } else if (tail.size() == 3 && tail[0] == "mailfolders" && tail[2] == "messages") {
      sub.target.kind = EntityKind::kMessage;
      sub.target.folder = FindMailFolder(*user, segments[3]);
      if (sub.target.folder < 0) {
        return error(
            ApiError{404, "ErrorItemNotFound", "The specified object was not found in the store."});
      }
    } else if (tail == std::vector<std::string>{"events"} ||
               tail == std::vector<std::string>{"calendar", "events"}) {
      sub.target.kind = EntityKind::kEvent;
    } else if (tail == std::vector<std::string>{"contacts"}) {
      sub.target.kind = EntityKind::kContact;
    } else if (tail.size() == 3 && tail[0] == "contactfolders" && tail[2] == "contacts") {
      sub.target.folder = FindContactFolder(*user, segments[3]);
      if (sub.target.folder < 0) {
        return error(
            ApiError{404, "ErrorItemNotFound", "The specified object was not found in the store."});
      }
      sub.target.kind = EntityKind::kContact;
    } else {
      return unsupported();
    }
    if (query_start != std::string::npos) {
      if (auto err = ParseResourceQuery(std::string_view(sub.resource).substr(query_start + 1),
                                        sub.target.kind, &sub)) {
        return error(*err);
      }
    }
    // Outlook sends resource data only of the properties the resource selects.
    if (rich && sub.select.empty()) {
      return error(ExchangeBadRequest(
          "select clause should be present in query string to support rich notifications"));
    }
    if (auto err = check_expiry(body["expirationDateTime"], rich, &sub.expires)) {
      return error(*err);
    }
    if (auto it = body.find("clientState"); it != body.end() && !it->is_null()) {
      if (!it->is_string()) return error(Invalid("The value of 'clientState' must be a string."));
      if (it->get<std::string>().size() > kMaxClientState) {
        return error(Invalid("clientState must not be longer than 128 characters."));
      }
      sub.client_state = it->get<std::string>();
    }
    if (auto err = read_certificate(body, /*required=*/rich, &sub)) return error(*err);
    if (auto it = body.find("latestSupportedTlsVersion"); it != body.end() && !it->is_null()) {
      static const char* const kVersions[] = {"v1_0", "v1_1", "v1_2", "v1_3"};
      if (!it->is_string() || std::find(std::begin(kVersions), std::end(kVersions),
                                        it->get<std::string>()) == std::end(kVersions)) {
        return error(Invalid("Invalid 'latestSupportedTlsVersion': use v1_0, v1_1, v1_2 or v1_3."));
      }
      sub.tls_version = it->get<std::string>();
    }
    // Without the permission for the collection, or on a mailbox the app may not access,
    // Exchange refuses the subscription (before the 409 and quota checks and the handshake).
    if (AccessDenied(*user, sub.target.kind)) {
      return error(ApiError{403, "ExtensionError",
                            "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access "
                            "is denied. Check credentials and try again.]"});
    }
    if (auto err = notifier_.CheckCreate(sub)) return error(*err);
    if (rich) signer_.Prepare();
    // The handshake runs with no lock held: the endpoint may take its time.
    if (auto err = handshake(sub.notification_url)) return error(*err);
    if (!sub.lifecycle_url.empty()) {
      if (auto err = handshake(sub.lifecycle_url)) return error(*err);
    }
    if (auto err = notifier_.Insert(&sub)) return error(*err);
    if (TakeLostCreateAnswer()) {
      // Fault injection: created, but the answer never reaches the client.
      HttpResponse lost;
      lost.reset_connection = true;
      return lost;
    }
    return entity(201, sub, /*create_answer=*/true);
  };

  // --- GET /subscriptions -----------------------------------------------------------------
  auto list = [&]() -> HttpResponse {
    uint64_t after = 0;
    for (const auto& [name, value] : request.params) {
      if (ToLower(name) != "$skiptoken") continue;
      if (value.empty() || value.size() > 19 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        return ErrorResponse(400, "BadRequest", "The $skiptoken value is not valid.", now);
      }
      after = std::stoull(value);
    }
    bool more = false;
    size_t page = static_cast<size_t>(std::max(1, options_.subscriptions_page_size));
    std::vector<SubscriptionRecord> subs = notifier_.List(after, page, &more);
    Json body{{"@odata.context", base + "/$metadata#subscriptions"}, {"value", Json::array()}};
    for (const SubscriptionRecord& s : subs) body["value"].push_back(to_json(s, false));
    if (more && !subs.empty()) {
      body["@odata.nextLink"] =
          base + "/subscriptions?$skiptoken=" + std::to_string(subs.back().seq);
    }
    return JsonResponse(200, DumpJson(body));
  };

  // --- PATCH /subscriptions/{id} ----------------------------------------------------------
  auto update = [&](const std::string& id) -> HttpResponse {
    Json body;
    if (auto err = parse_body(&body)) return error(*err);
    Notifier::Change change;
    for (auto it = body.begin(); it != body.end(); ++it) {
      const std::string& key = it.key();
      if (key == "expirationDateTime" || key == "notificationUrl" ||
          key == "encryptionCertificate" || key == "encryptionCertificateId" ||
          key == "@odata.type") {
        continue;
      }
      if (key == "lifecycleNotificationUrl") {
        return error(
            Invalid("lifecycleNotificationUrl can only be set when a subscription is created."));
      }
      return error(Invalid("The property '" + key +
                           "' cannot be updated: only expirationDateTime and notificationUrl "
                           "(and an encryption certificate) can."));
    }
    auto expiry = body.find("expirationDateTime");
    auto url = body.find("notificationUrl");
    bool has_expiry = expiry != body.end() && !expiry->is_null();
    bool has_url = url != body.end() && !url->is_null();
    bool has_certificate = false;
    for (const char* field : {"encryptionCertificate", "encryptionCertificateId"}) {
      auto it = body.find(field);
      has_certificate = has_certificate || (it != body.end() && !it->is_null());
    }
    if (!has_expiry && !has_url && !has_certificate) {
      return error(
          Invalid("Subscription must contain either the 'expirationDateTime' or 'notificationUrl' "
                  "property and its value."));
    }
    std::optional<SubscriptionRecord> existing = notifier_.Find(id);
    if (!existing) return error(ApiError{404, "ResourceNotFound", "The object was not found."});
    if (has_expiry) {
      TimePoint expires;
      if (auto err = check_expiry(*expiry, IsRich(*existing), &expires)) return error(*err);
      change.expires = expires;
    }
    if (has_certificate) {
      SubscriptionRecord rotated;
      if (auto err = read_certificate(body, /*required=*/false, &rotated)) return error(*err);
      change.certificate = std::move(rotated.certificate);
      change.certificate_id = std::move(rotated.certificate_id);
    }
    if (has_url) {
      if (!url->is_string())
        return error(Invalid("The value of 'notificationUrl' must be a string."));
      if (auto err = check_url("notificationUrl", url->get<std::string>())) return error(*err);
      if (auto err = handshake(url->get<std::string>())) return error(*err);
      change.notification_url = url->get<std::string>();
    }
    SubscriptionRecord updated;
    if (auto err = notifier_.Update(id, change, &updated)) return error(*err);
    return entity(200, updated, /*create_answer=*/false);
  };

  auto not_found = [&] {
    return error(ApiError{404, "ResourceNotFound", "The object was not found."});
  };

  if (rest.size() == 1) {
    if (method == "POST") return create();
    if (method == "GET") return list();
    return method_not_allowed();
  }
  const std::string& id = rest[1];
  if (rest.size() == 2) {
    if (method == "GET") {
      std::optional<SubscriptionRecord> sub = notifier_.Find(id);
      return sub ? entity(200, *sub, /*create_answer=*/false) : not_found();
    }
    if (method == "PATCH") return update(id);
    if (method == "DELETE") return notifier_.Delete(id) ? NoContent() : not_found();
    return method_not_allowed();
  }
  if (rest.size() == 3 && ToLower(rest[2]) == "reauthorize") {
    if (method != "POST") return method_not_allowed();
    return notifier_.Exists(id) ? NoContent() : not_found();
  }
  return ErrorResponse(400, "BadRequest",
                       "Resource not found for the segment '" + rest.back() + "'.", now);
}

}  // namespace graphsim
