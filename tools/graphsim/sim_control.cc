// The /_sim/ control API: what Graph has no API for (time, faults, observations). No
// authentication: it is a test harness's back door, never exposed beyond loopback.

#include <limits>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

HttpResponse Reply(int status, const Json& body) { return JsonResponse(status, DumpJson(body)); }

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  return response;
}

}  // namespace

HttpResponse SimulatorCore::HandleControl(const HttpRequest& request,
                                          const std::vector<std::string>& segments) {
  TimePoint now = Now();
  auto bad = [&](const std::string& message) {
    return ErrorResponse(400, "BadRequest", message, now);
  };
  std::string route;
  for (size_t i = 1; i < segments.size(); ++i) route += "/" + segments[i];
  const std::string& method = request.method;
  Json body;
  if (method == "POST" && !request.body.empty()) {
    body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) return bad("The body must be a JSON object.");
  }
  auto clock_json = [&]() {
    TimePoint t = Now();
    return Json{
        {"now", FormatTicksZ(t)},
        {"unix_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()},
        {"manual", manual_clock()}};
  };

  if (route == "/clock" && method == "GET") return Reply(200, clock_json());
  if (route == "/clock/advance" && method == "POST") {
    auto seconds = body.find("seconds");
    if (seconds == body.end() || !seconds->is_number() || seconds->get<double>() < 0) {
      return bad("Expected {\"seconds\": N} with N >= 0.");
    }
    Advance(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds->get<double>())));
    return Reply(200, clock_json());
  }
  if (route == "/faults" && method == "POST") {
    auto count_of = [&](const char* key) -> std::optional<int> {
      auto it = body.find(key);
      if (it == body.end() || !it->is_number_integer()) return std::nullopt;
      return it->get<int>();
    };
    bool handled = false;
    if (body.value("clear", false)) {
      ClearFaults();
      handled = true;
    }
    if (auto it = body.find("status"); it != body.end()) {
      if (!it->is_number_integer() || it->get<int>() < 100 || it->get<int>() > 599) {
        return bad("'status' must be an HTTP status code.");
      }
      double retry_after = -1;
      if (auto r = body.find("retry_after"); r != body.end() && r->is_number()) {
        retry_after = r->get<double>();
      }
      InjectStatus(it->get<int>(), count_of("count").value_or(1), retry_after);
      handled = true;
    }
    if (auto n = count_of("reset_connections")) {
      InjectResets(*n);
      handled = true;
    }
    if (auto n = count_of("lose_create_answers")) {
      InjectLostCreateAnswers(*n);
      handled = true;
    }
    if (auto it = body.find("throttle_user"); it != body.end()) {
      const UserRecord* user = it->is_string() ? FindUser(it->get<std::string>()) : nullptr;
      if (!user) return bad("'throttle_user' must name a user (object id or UPN).");
      governor_.Force(user->id, count_of("count").value_or(1));
      handled = true;
    }
    if (auto it = body.find("random"); it != body.end()) {
      // {"random":{"throttle":0.3,"unavailable":0.03,"gateway_timeout":0,"reset":0,"seed":7}}
      if (!it->is_object()) return bad("'random' must be an object of probabilities.");
      RandomFaults faults;
      double total = 0;
      for (auto [key, field] : {std::pair{"throttle", &faults.throttle},
                                {"unavailable", &faults.unavailable},
                                {"gateway_timeout", &faults.gateway_timeout},
                                {"reset", &faults.reset}}) {
        auto p = it->find(key);
        if (p == it->end()) continue;
        if (!p->is_number() || p->get<double>() < 0 || p->get<double>() > 1) {
          return bad(std::string("'random.") + key + "' must be a probability (0..1).");
        }
        *field = p->get<double>();
        total += *field;
      }
      if (total > 1) return bad("The probabilities of 'random' add up to more than 1.");
      if (auto seed = it->find("seed"); seed != it->end() && seed->is_number_unsigned()) {
        faults.seed = seed->get<uint64_t>();
      }
      SetRandomFaults(faults);
      handled = true;
    }
    if (auto n = count_of("foreign_links")) {
      // {"foreign_links":N,"base":"https://elsewhere.example","link":"next"|"delta"|"any"}
      const std::string base = body.value("base", std::string());
      const std::string link = body.value("link", std::string("next"));
      if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
        return bad("'base' must be an http(s) origin for 'foreign_links'.");
      }
      if (link != "next" && link != "delta" && link != "any") {
        return bad("'link' must be \"next\", \"delta\" or \"any\".");
      }
      InjectForeignLinks(base, *n, link);
      handled = true;
    }
    if (!handled) {
      return bad(
          "Expected {\"status\":S,\"count\":N[,\"retry_after\":X]}, {\"reset_connections\":N}, "
          "{\"lose_create_answers\":N}, {\"throttle_user\":U,\"count\":N}, {\"random\":{...}}, "
          "{\"foreign_links\":N,\"base\":B} or {\"clear\":true}.");
    }
    return NoContent();
  }
  // POST /_sim/rich/faults {"fault":"flip_data_bit","count":N} or {"clear":true}.
  if (route == "/rich/faults" && method == "POST") {
    if (body.value("clear", false)) {
      notifier_.ClearRichFaults();
      return NoContent();
    }
    auto fault = body.find("fault");
    std::optional<RichFault> parsed;
    if (fault != body.end() && fault->is_string())
      parsed = ParseRichFault(fault->get<std::string>());
    auto count = body.find("count");
    if (!parsed || (count != body.end() && !count->is_number_integer())) {
      return bad(
          "Expected {\"fault\":\"flip_data_bit\"|\"token_expired\"|...,\"count\":N} or "
          "{\"clear\":true}.");
    }
    notifier_.InjectRichFault(*parsed, count == body.end() ? 1 : count->get<int>());
    return NoContent();
  }
  if (route == "/rich/rotate-signing-key" && method == "POST") {
    signer_.Rotate();
    return NoContent();
  }
  if (route == "/latency" && method == "POST") {
    auto ms = body.find("ms");
    if (ms == body.end() || !ms->is_number_integer() || ms->get<int64_t>() < 0) {
      return bad("Expected {\"ms\": N} with N >= 0.");
    }
    latency_ms_ = ms->get<int64_t>();
    return NoContent();
  }
  if (route == "/tokens/expire" && method == "POST") {
    tokens_.ExpireAll();
    return NoContent();
  }
  if (route == "/delta/expire" && method == "POST") {
    ExpireDeltaTokens();
    return NoContent();
  }
  if (route == "/stats" && method == "GET") {
    Json mailboxes = Json::array();
    for (const UserRecord& user : users()) {
      MailboxStats s = governor_.Stats(user.id);
      mailboxes.push_back(Json{{"user", user.id},
                               {"userPrincipalName", user.upn},
                               {"requests", s.requests},
                               {"in_flight", s.in_flight},
                               {"max_concurrent_observed", s.max_concurrent_observed},
                               {"throttled", s.throttled},
                               {"early_retries", s.early_retries},
                               {"item_gets", s.item_gets},
                               {"messages", Count(user, EntityKind::kMessage)},
                               {"events", Count(user, EntityKind::kEvent)},
                               {"contacts", Count(user, EntityKind::kContact)}});
    }
    uint64_t item_gets = 0;
    for (const Json& m : mailboxes) item_gets += m["item_gets"].get<uint64_t>();
    return Reply(200, Json{{"requests", request_count_.load()},
                           {"item_gets", item_gets},
                           {"jwks_requests", jwks_requests_.load()},
                           {"mailboxes", mailboxes}});
  }
  if (route == "/users" && method == "GET") {
    Json users_json = Json::array();
    for (const UserRecord& user : users()) {
      users_json.push_back(Json{{"id", user.id}, {"userPrincipalName", user.upn}});
    }
    return Reply(200, Json{{"tenantId", tenant_id()}, {"users", users_json}});
  }
  auto deliveries_json = [&]() {
    DeliveryStats d = notifier_.Stats();
    return Json{{"attempts", d.attempts},
                {"delivered_items", d.delivered_items},
                {"failed_attempts", d.failed_attempts},
                {"dropped_items", d.dropped_items},
                {"pending_items", d.pending_items},
                {"duplicate_posts", d.duplicate_posts},
                {"orphaned_items", d.orphaned_items},
                {"rich_items", d.rich_items},
                {"hub_records", d.hub_records}};
  };
  if (route == "/deliveries" && method == "GET") return Reply(200, deliveries_json());
  if (route == "/deliveries/pump" && method == "POST") {
    size_t posts = notifier_.Pump();
    Json out{{"posts", posts}};
    out.update(deliveries_json());
    return Reply(200, out);
  }
  if (route == "/deliveries/acked" && method == "GET") {
    Json ids = Json::array();
    for (const AckedNotification& a : notifier_.Acked()) {
      if (!a.id.empty()) ids.push_back(a.id);
    }
    return Reply(200, Json{{"ids", ids}});
  }
  if (route == "/subscriptions" && method == "GET") {
    bool more = false;
    Json subs = Json::array();
    for (const SubscriptionRecord& s :
         notifier_.List(0, std::numeric_limits<size_t>::max(), &more)) {
      subs.push_back(Json{
          {"id", s.id},
          {"resource", s.resource},
          {"changeType", ChangeTypeText(s.changes)},
          {"notificationUrl", s.notification_url},
          {"lifecycleNotificationUrl", s.lifecycle_url.empty() ? Json() : Json(s.lifecycle_url)},
          {"clientState", s.client_state ? Json(*s.client_state) : Json()},
          {"expirationDateTime", FormatTicksZ(s.expires)},
          {"includeResourceData", IsRich(s)},
          {"encryptionCertificateId", s.certificate_id.empty() ? Json() : Json(s.certificate_id)}});
    }
    return Reply(200, Json{{"value", subs}});
  }
  // POST /_sim/subscriptions/{id}/lifecycle {"event":"missed"}; POST .../remove.
  if (segments.size() == 4 && segments[1] == "subscriptions" && method == "POST") {
    const std::string& id = segments[2];
    if (segments[3] == "lifecycle") {
      auto event = body.find("event");
      if (event == body.end() || !event->is_string() || event->get<std::string>().empty()) {
        return bad("Expected {\"event\": \"missed\"|\"reauthorizationRequired\"|...}.");
      }
      if (!notifier_.EmitLifecycle(id, event->get<std::string>())) {
        return ErrorResponse(404, "ResourceNotFound", "No live subscription " + id + ".", now);
      }
      return NoContent();
    }
    if (segments[3] == "remove") {
      if (!notifier_.Remove(id)) {
        return ErrorResponse(404, "ResourceNotFound", "No live subscription " + id + ".", now);
      }
      return NoContent();
    }
  }
  // POST /_sim/permissions {"permission":"Mail.Read","granted":false}
  if (route == "/permissions" && method == "POST") {
    auto permission = body.find("permission");
    auto granted = body.find("granted");
    if (permission == body.end() || !permission->is_string() ||
        permission->get<std::string>().empty() || granted == body.end() || !granted->is_boolean()) {
      return bad("Expected {\"permission\": \"Mail.Read\", \"granted\": true|false}.");
    }
    access_.SetPermission(permission->get<std::string>(), granted->get<bool>());
    return NoContent();
  }
  // POST /_sim/users/{user}/access {"allowed":false}; POST /_sim/users/{user}/password-reset.
  if (segments.size() == 4 && segments[1] == "users" && method == "POST" &&
      (segments[3] == "access" || segments[3] == "password-reset")) {
    const UserRecord* user = FindUser(segments[2]);
    if (!user) {
      return ErrorResponse(404, "Request_ResourceNotFound", "No user " + segments[2] + ".", now);
    }
    if (segments[3] == "access") {
      auto allowed = body.find("allowed");
      if (allowed == body.end() || !allowed->is_boolean()) {
        return bad("Expected {\"allowed\": true|false}.");
      }
      access_.SetMailboxAllowed(user->index, allowed->get<bool>());
    } else {
      ResetPassword(*user);
    }
    return NoContent();
  }
  // GET /_sim/users/{user}/{collection}/ids: every current id, sorted.
  if (segments.size() == 5 && segments[1] == "users" && segments[4] == "ids" && method == "GET") {
    const UserRecord* user = FindUser(segments[2]);
    auto kind = KindFromCollection(segments[3]);
    if (!user || !kind) return bad("Unknown user or collection.");
    return Reply(200, Json{{"ids", Ids(*user, *kind)}});
  }
  return ErrorResponse(404, "NotFound", "No /_sim/ endpoint " + method + " " + request.path + ".",
                       now);
}

}  // namespace graphsim
