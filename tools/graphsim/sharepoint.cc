#include "tools/graphsim/sharepoint.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"
#include "tools/graphsim/time_format.h"
#include "tools/graphsim/webhook_client.h"

namespace graphsim {

namespace {

using Json = SharePointSim::Json;

constexpr auto kMaxLifetime = std::chrono::hours(24 * 180);
constexpr auto kRetryInterval = std::chrono::minutes(5);
constexpr int kDeliveryTries = 5;
constexpr auto kValidationTimeout = std::chrono::milliseconds(5000);
constexpr int kDefaultRowLimit = 1000;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 5000;
constexpr char kTooEarly[] =
    "The changeToken refers to a time before the start of the current change log.";
// List.GetChanges: "[Microsoft.SharePoint.SPInvalidChangeTokenException] Change token is not
// valid. Error code: -2130575172."
constexpr char kInvalidChangeToken[] =
    "-2130575172, Microsoft.SharePoint.SPInvalidChangeTokenException";

// SPChangeType values, and the ChangeQuery property that asks for each.
constexpr int kAdd = 1;
constexpr int kUpdate = 2;
constexpr int kDeleteObject = 3;
constexpr int kRestore = 7;
const char* QueryFlag(int type) {
  switch (type) {
    case kAdd:
      return "Add";
    case kUpdate:
      return "Update";
    case kDeleteObject:
      return "DeleteObject";
    case kRestore:
      return "Restore";
  }
  return "";
}

// SharePoint's REST errors (odata=nometadata): {"odata.error":{"code","message":{...}}}.
HttpResponse SpError(int status, const std::string& code, const std::string& message) {
  Json body = {
      {"odata.error", {{"code", code}, {"message", {{"lang", "en-US"}, {"value", message}}}}}};
  return JsonResponse(status, DumpJson(body));
}
HttpResponse SpBadRequest(const std::string& message) {
  return SpError(400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException", message);
}
HttpResponse SpNotFound(const std::string& message) {
  return SpError(404, "-2130575338, Microsoft.SharePoint.SPException", message);
}
HttpResponse SpMethodNotAllowed() {
  return SpError(405, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                 "The HTTP method is not allowed on this resource.");
}
HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  return response;
}

// "lists('id')" / "lists(guid'id')" / "items(5)" / "subscriptions('id')": the key, or
// nullopt if `segment` is not `name(...)`.
std::optional<std::string> KeyOf(const std::string& segment, const std::string& name) {
  const std::string lower = ToLower(segment);
  if (lower.rfind(name + "(", 0) != 0 || lower.back() != ')') return std::nullopt;
  std::string key = segment.substr(name.size() + 1, segment.size() - name.size() - 2);
  if (ToLower(key).rfind("guid'", 0) == 0) key = key.substr(4);
  if (key.size() >= 2 && key.front() == '\'' && key.back() == '\'') {
    key = key.substr(1, key.size() - 2);
  }
  return key;
}

std::optional<int> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoi(text);
}

std::string Param(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.params) {
    if (ToLower(key) == name) return value;
  }
  return "";
}

int64_t DotNetTicks(TimePoint t) {
  // .NET ticks count 100 ns from 0001-01-01.
  constexpr int64_t kUnixEpochTicks = 621355968000000000;
  return kUnixEpochTicks + std::chrono::duration_cast<Ticks>(t.time_since_epoch()).count();
}

}  // namespace

SharePointSim::SharePointSim(std::function<TimePoint()> now, std::string tenant_id, uint64_t seed)
    : now_(std::move(now)),
      tenant_id_(std::move(tenant_id)),
      site_guid_(FormatGuid(Mix64(seed ^ 0x5173), Mix64(seed ^ 0x5174))),
      web_guid_(FormatGuid(Mix64(seed ^ 0x3eb1), Mix64(seed ^ 0x3eb2))),
      guid_counter_(Mix64(seed ^ 0x11575)) {}

std::string SharePointSim::AddList(const std::string& site, const std::string& title) {
  std::lock_guard<std::mutex> lock(mu_);
  ++guid_counter_;
  List list;
  list.id = FormatGuid(Mix64(guid_counter_), Mix64(guid_counter_ ^ 0x1157));
  list.site = site;
  list.title = title;
  const std::string id = list.id;
  lists_.emplace(id, std::move(list));
  return id;
}

SharePointSim::List* SharePointSim::FindLocked(const std::string& list) {
  auto it = lists_.find(ToLower(list));
  return it == lists_.end() ? nullptr : &it->second;
}
const SharePointSim::List* SharePointSim::FindLocked(const std::string& list) const {
  auto it = lists_.find(ToLower(list));
  return it == lists_.end() ? nullptr : &it->second;
}

void SharePointSim::RecordLocked(List& list, int type, int item, TimePoint now) {
  list.changes.push_back(Change{++change_number_, type, item, now});
  // One notification per live subscription for a burst: a subscription that already has
  // one waiting (not yet tried) gets no second.
  for (const auto& [id, subscription] : subscriptions_) {
    if (subscription.list != list.id || subscription.expires <= now) continue;
    const bool waiting = std::any_of(
        pending_.begin(), pending_.end(),
        [&id = id](const Pending& p) { return p.subscription == id && p.attempts == 0; });
    if (!waiting) pending_.push_back(Pending{id, 0, now});
  }
}

int SharePointSim::CreateItem(const std::string& list_id, const Json& fields) {
  if (!fields.is_object()) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  List* list = FindLocked(list_id);
  if (list == nullptr) return 0;
  const TimePoint now = TruncateToSeconds(now_());
  const int id = list->next_item++;
  list->items[id] = ListItem{fields, now, now, 1};
  RecordLocked(*list, kAdd, id, now);
  return id;
}

bool SharePointSim::UpdateItem(const std::string& list_id, int id, const Json& fields) {
  if (!fields.is_object()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  List* list = FindLocked(list_id);
  if (list == nullptr) return false;
  auto it = list->items.find(id);
  if (it == list->items.end()) return false;
  const TimePoint now = TruncateToSeconds(now_());
  for (const auto& [key, value] : fields.items()) it->second.fields[key] = value;
  it->second.modified = now;
  ++it->second.version;
  RecordLocked(*list, kUpdate, id, now);
  return true;
}

bool SharePointSim::DeleteItem(const std::string& list_id, int id) {
  std::lock_guard<std::mutex> lock(mu_);
  List* list = FindLocked(list_id);
  if (list == nullptr) return false;
  auto it = list->items.find(id);
  if (it == list->items.end()) return false;
  RecycleLocked(*list, it, TruncateToSeconds(now_()));
  return true;
}

bool SharePointSim::RestoreItem(const std::string& list_id, int id) {
  std::lock_guard<std::mutex> lock(mu_);
  const List* list = FindLocked(list_id);
  if (list == nullptr) return false;
  std::string guid;
  for (const auto& [key, recycled] : recycle_bin_) {
    if (recycled.list == list->id && recycled.id == id) guid = key;
  }
  return !guid.empty() && RestoreLocked(guid, TruncateToSeconds(now_()));
}

std::string SharePointSim::RecycleLocked(List& list, std::map<int, ListItem>::iterator it,
                                         TimePoint now) {
  ++guid_counter_;
  const std::string guid = FormatGuid(Mix64(guid_counter_ ^ 0x2ecb), Mix64(guid_counter_));
  const int id = it->first;
  recycle_bin_[guid] = Recycled{list.id, id, std::move(it->second)};
  list.items.erase(it);
  RecordLocked(list, kDeleteObject, id, now);
  return guid;
}

bool SharePointSim::RestoreLocked(const std::string& guid, TimePoint now) {
  auto it = recycle_bin_.find(ToLower(guid));
  if (it == recycle_bin_.end()) return false;
  List* list = FindLocked(it->second.list);
  if (list == nullptr) return false;
  // Back where it was, under the same id, as it was when deleted.
  const int id = it->second.id;
  list->items[id] = std::move(it->second.item);
  recycle_bin_.erase(it);
  RecordLocked(*list, kRestore, id, now);
  return true;
}

std::vector<int> SharePointSim::ItemIds(const std::string& list_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> ids;
  if (const List* list = FindLocked(list_id)) {
    for (const auto& [id, item] : list->items) ids.push_back(id);
  }
  return ids;
}

std::optional<Json> SharePointSim::Item(const std::string& list_id, int id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const List* list = FindLocked(list_id);
  if (list == nullptr) return std::nullopt;
  auto it = list->items.find(id);
  if (it == list->items.end()) return std::nullopt;
  return ItemJson(*list, id, it->second);
}

void SharePointSim::ExpireChangeTokens(const std::string& list_id, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (List* list = FindLocked(list_id)) {
    // The log now starts at a fresh number: every token issued so far lies before it.
    list->floor = ++change_number_;
    list->changes.clear();
    list->expired_status = status;
  }
}

void SharePointSim::DropNextNotifications(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_next_ = std::max(0, n);
}

std::vector<SharePointSubscriptionView> SharePointSim::Subscriptions() const {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = now_();
  std::vector<SharePointSubscriptionView> out;
  for (const auto& [id, s] : subscriptions_) {
    if (s.expires > now)
      out.push_back({s.id, s.list, s.notification_url, s.client_state, s.expires});
  }
  return out;
}

void SharePointSim::FailItemPage(int after_pages, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_page_after_ = after_pages;
  fail_page_status_ = status;
}

SharePointRequestStats SharePointSim::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

SharePointDeliveryStats SharePointSim::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SharePointDeliveryStats stats = stats_;
  stats.pending = pending_.size();
  return stats;
}

std::string SharePointSim::Token(const List& list, uint64_t number, TimePoint time) const {
  return "1;3;" + list.id + ";" + std::to_string(DotNetTicks(time)) + ";" + std::to_string(number);
}

Json SharePointSim::ItemJson(const List& list, int id, const ListItem& item) const {
  Json out = {{"Id", id}, {"ID", id}};
  for (const auto& [key, value] : item.fields.items()) {
    if (key != "Id" && key != "ID") out[key] = value;
  }
  out["Created"] = FormatSecondsZ(item.created);
  out["Modified"] = FormatSecondsZ(item.modified);
  out["GUID"] = FormatGuid(HashString(list.id), static_cast<uint64_t>(id));
  out["odata.etag"] = "\"" + std::to_string(item.version) + "\"";
  return out;
}

Json SharePointSim::SubscriptionJson(const Subscription& s) const {
  return Json{{"clientState", s.client_state.empty() ? Json(nullptr) : Json(s.client_state)},
              {"expirationDateTime", FormatSecondsZ(s.expires)},
              {"id", s.id},
              {"notificationUrl", s.notification_url},
              {"resource", s.list},
              {"resourceData", nullptr}};
}

std::optional<HttpResponse> SharePointSim::Handle(const HttpRequest& request, TimePoint now) {
  const size_t api = request.path.find("/_api/");
  if (api == std::string::npos) return std::nullopt;
  const std::string site = request.path.substr(0, api);
  const std::vector<std::string> segments = SplitPath(request.path.substr(api + 5));
  List target;  // id and site only, for a subscription create
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (segments.size() < 2 || ToLower(segments[0]) != "web") {
      return SpBadRequest("The expression \"" + request.path.substr(api + 5) + "\" is not valid.");
    }
    if (auto key = KeyOf(segments[1], "recyclebin")) {
      return HandleRecycleBin(request, site, *key,
                              std::vector<std::string>(segments.begin() + 2, segments.end()), now);
    }
    std::optional<std::string> list_id = KeyOf(segments[1], "lists");
    if (!list_id) return SpBadRequest("Resource not found for the segment '" + segments[1] + "'.");
    List* list = FindLocked(*list_id);
    if (list == nullptr || list->site != site) {
      return SpNotFound("List '" + *list_id + "' does not exist at site with URL '" + site + "'.");
    }
    ++requests_.total;
    std::string rest;
    for (size_t i = 2; i < segments.size(); ++i) rest += "/" + segments[i];
    if (ToLower(rest) != "/subscriptions" || request.method != "POST") {
      return HandleList(request, *list, rest, now);
    }
    target.id = list->id;
    target.site = list->site;
  }
  // The validation handshake is a request to the subscriber: made without the lock.
  return CreateSubscription(request, target, now);
}

HttpResponse SharePointSim::CreateSubscription(const HttpRequest& request, const List& list,
                                               TimePoint now) {
  Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return SpBadRequest("Invalid JSON.");
  auto text = [&](const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string url = text("notificationUrl");
  const std::optional<WebhookUrl> target = ParseWebhookUrl(url);
  if (!target) return SpBadRequest("Parameter NotificationUrl is invalid.");
  const std::optional<TimePoint> expires = ParseDateTimeOffset(text("expirationDateTime"));
  if (!expires || *expires <= now || *expires > now + kMaxLifetime) {
    return SpBadRequest("Parameter ExpirationDateTime is invalid.");
  }
  // SharePoint validates the endpoint before it keeps the subscription.
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++guid_counter_;
    token = FormatGuid(Mix64(guid_counter_ ^ 0x7a11d), Mix64(guid_counter_));
  }
  const std::string query = std::string(target->has_query ? "&" : "?") + "validationtoken=" + token;
  WebhookResult answer = PostWebhook(*target, target->target + query, "text/plain", "",
                                     kValidationTimeout, /*verify_certificates=*/false);
  if (answer.outcome != WebhookResult::Outcome::kAnswered || answer.status != 200 ||
      answer.body != token) {
    return SpBadRequest("Failed to validate the notification URL '" + url + "'.");
  }
  Subscription s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++guid_counter_;
    s.id = FormatGuid(Mix64(guid_counter_ ^ 0x5ab5), Mix64(guid_counter_ ^ 0x5ab6));
    s.list = list.id;
    s.notification_url = url;
    s.client_state = text("clientState");
    s.expires = TruncateToSeconds(*expires);
    subscriptions_[s.id] = s;
  }
  return JsonResponse(201, DumpJson(SubscriptionJson(s)));
}

HttpResponse SharePointSim::HandleList(const HttpRequest& request, List& list,
                                       const std::string& rest, TimePoint now) {
  const std::string& method = request.method;
  const std::vector<std::string> parts = SplitPath(rest);
  auto parse_body = [&]() {
    return Json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  };
  if (parts.empty()) {
    if (method != "GET") return SpMethodNotAllowed();
    const uint64_t last = list.changes.empty() ? list.floor : list.changes.back().number;
    Json out = {{"Id", list.id},
                {"Title", list.title},
                {"ItemCount", list.items.size()},
                {"CurrentChangeToken", {{"StringValue", Token(list, last, now)}}}};
    return JsonResponse(200, DumpJson(out));
  }
  const std::string head = ToLower(parts[0]);
  if (head == "getchanges" && parts.size() == 1) {
    if (method != "POST") return SpMethodNotAllowed();
    ++requests_.get_changes;
    return GetChanges(request, list);
  }
  if (head == "getitems" && parts.size() == 1) {
    if (method != "POST") return SpMethodNotAllowed();
    ++requests_.get_items;
    return GetItems(request, list);
  }
  if (head == "items" && parts.size() == 1) {
    if (method == "POST") {
      Json fields = parse_body();
      if (fields.is_discarded() || !fields.is_object()) return SpBadRequest("Invalid JSON.");
      const TimePoint at = TruncateToSeconds(now);
      const int id = list.next_item++;
      list.items[id] = ListItem{fields, at, at, 1};
      RecordLocked(list, kAdd, id, at);
      return JsonResponse(201, DumpJson(ItemJson(list, id, list.items[id])));
    }
    if (method != "GET") return SpMethodNotAllowed();
    ++requests_.item_pages;
    if (fail_page_after_ >= 0 && fail_page_after_-- == 0) {
      return SpError(fail_page_status_, "-2147024809, System.ArgumentException",
                     "A fault injected by graphsim.");
    }
    // Paged by item id, as SharePoint's $skiptoken=Paged=TRUE&p_ID={last id}.
    int top = kDefaultPageSize;
    if (std::string t = Param(request, "$top"); !t.empty()) {
      auto parsed = ParseInt(t);
      if (!parsed || *parsed < 1) return SpBadRequest("Invalid $top value.");
      top = std::min(*parsed, kMaxPageSize);
    }
    int after = 0;
    if (std::string skip = Param(request, "$skiptoken"); !skip.empty()) {
      const size_t at = skip.find("p_ID=");
      auto parsed = at == std::string::npos ? std::nullopt : ParseInt(skip.substr(at + 5));
      if (skip.rfind("Paged=TRUE", 0) != 0 || !parsed) return SpBadRequest("Invalid $skiptoken.");
      after = *parsed;
    }
    Json values = Json::array();
    int last = 0;
    bool more = false;
    for (auto it = list.items.upper_bound(after); it != list.items.end(); ++it) {
      if (static_cast<int>(values.size()) == top) {
        more = true;
        break;
      }
      values.push_back(ItemJson(list, it->first, it->second));
      last = it->first;
    }
    Json out = {{"value", values}};
    if (more) {
      out["odata.nextLink"] = request.base_url + list.site + "/_api/web/lists('" + list.id +
                              "')/items?%24skiptoken=Paged%3dTRUE%26p_ID%3d" +
                              std::to_string(last) + "&%24top=" + std::to_string(top);
    }
    return JsonResponse(200, DumpJson(out));
  }
  if (auto key = KeyOf(parts[0], "items"); key && (parts.size() == 1 || parts.size() == 2)) {
    auto id = ParseInt(*key);
    auto it = id ? list.items.find(*id) : list.items.end();
    if (it == list.items.end()) {
      return SpError(404, "-2147024809, System.ArgumentException",
                     "Item does not exist. It may have been deleted by another user.");
    }
    if (parts.size() == 2) {
      if (ToLower(parts[1]) != "recycle()") {
        return SpBadRequest("Resource not found for the segment '" + parts[1] + "'.");
      }
      if (method != "POST") return SpMethodNotAllowed();
      // SP.ListItem.recycle returns the new recycle bin item's id (SP.GuidResult).
      const std::string guid = RecycleLocked(list, it, TruncateToSeconds(now));
      return JsonResponse(200, DumpJson(Json{{"value", guid}}));
    }
    // SharePoint clients send MERGE and DELETE as POST with X-HTTP-Method.
    std::string verb = method;
    if (method == "POST" && !request.Header("X-HTTP-Method").empty()) {
      verb = ToLower(request.Header("X-HTTP-Method")) == "delete" ? "DELETE" : "PATCH";
    }
    if (verb == "GET") {
      ++requests_.item_reads;
      return JsonResponse(200, DumpJson(ItemJson(list, it->first, it->second)));
    }
    const TimePoint at = TruncateToSeconds(now);
    if (verb == "DELETE") {
      list.items.erase(it);
      RecordLocked(list, kDeleteObject, *id, at);
      return NoContent();
    }
    if (verb == "PATCH") {
      Json fields = parse_body();
      if (fields.is_discarded() || !fields.is_object()) return SpBadRequest("Invalid JSON.");
      for (const auto& [k, v] : fields.items()) it->second.fields[k] = v;
      it->second.modified = at;
      ++it->second.version;
      RecordLocked(list, kUpdate, *id, at);
      return NoContent();
    }
    return SpMethodNotAllowed();
  }
  if (head == "subscriptions" && parts.size() == 1) {
    if (method != "GET") return SpMethodNotAllowed();
    Json values = Json::array();
    for (const auto& [id, s] : subscriptions_) {
      if (s.list == list.id && s.expires > now) values.push_back(SubscriptionJson(s));
    }
    return JsonResponse(200, DumpJson(Json{{"value", values}}));
  }
  if (auto key = KeyOf(parts[0], "subscriptions"); key && parts.size() == 1) {
    auto it = subscriptions_.find(ToLower(*key));
    if (it == subscriptions_.end() || it->second.list != list.id || it->second.expires <= now) {
      return SpNotFound("The subscription '" + *key + "' does not exist.");
    }
    if (method == "GET") return JsonResponse(200, DumpJson(SubscriptionJson(it->second)));
    if (method == "DELETE") {
      subscriptions_.erase(it);
      return NoContent();
    }
    if (method == "PATCH") {
      Json body = parse_body();
      auto value = body.is_object() ? body.find("expirationDateTime") : body.end();
      std::optional<TimePoint> expires;
      if (!body.is_discarded() && body.is_object() && value != body.end() && value->is_string()) {
        expires = ParseDateTimeOffset(value->get<std::string>());
      }
      if (!expires || *expires <= now || *expires > now + kMaxLifetime) {
        return SpBadRequest("Parameter ExpirationDateTime is invalid.");
      }
      it->second.expires = TruncateToSeconds(*expires);
      return NoContent();
    }
    return SpMethodNotAllowed();
  }
  return SpBadRequest("Resource not found for the segment '" + parts[0] + "'.");
}

HttpResponse SharePointSim::HandleRecycleBin(const HttpRequest& request, const std::string& site,
                                             const std::string& key,
                                             const std::vector<std::string>& rest, TimePoint now) {
  if (rest.size() != 1 || ToLower(rest[0]) != "restore()") {
    return SpBadRequest("Resource not found for the segment '" +
                        (rest.empty() ? std::string("RecycleBin") : rest[0]) + "'.");
  }
  if (request.method != "POST") return SpMethodNotAllowed();
  // RecycleBinItem.Restore: "[System.ArgumentException] Recycle Bin item does not exist.
  // Error code: -2147024809."
  auto it = recycle_bin_.find(ToLower(key));
  const List* list = it == recycle_bin_.end() ? nullptr : FindLocked(it->second.list);
  if (list == nullptr || list->site != site || !RestoreLocked(key, TruncateToSeconds(now))) {
    return SpError(404, "-2147024809, System.ArgumentException",
                   "Recycle Bin item does not exist.");
  }
  return JsonResponse(200, DumpJson(Json{{"odata.null", true}}));
}

namespace {

// The text between `<tag` (with any attributes) and `</tag>` in `xml`, from `from`; the
// position after the close in *end. nullopt if there is none.
std::optional<std::string> Element(const std::string& xml, const std::string& tag, size_t from,
                                   size_t* end = nullptr) {
  size_t open = from;
  for (;;) {
    open = xml.find("<" + tag, open);
    if (open == std::string::npos) return std::nullopt;
    const char next = open + 1 + tag.size() < xml.size() ? xml[open + 1 + tag.size()] : '\0';
    if (next == '>' || next == ' ' || next == '/') break;
    ++open;
  }
  const size_t body = xml.find('>', open);
  if (body == std::string::npos) return std::nullopt;
  if (xml[body - 1] == '/') {  // <tag/>
    if (end) *end = body + 1;
    return std::string();
  }
  const size_t close = xml.find("</" + tag + ">", body);
  if (close == std::string::npos) return std::nullopt;
  if (end) *end = close + tag.size() + 3;
  return xml.substr(body + 1, close - body - 1);
}

// The ids a CAML Where names by `<In>` or `<Eq>` on the ID field; nullopt if the Where is
// anything else.
std::optional<std::set<int>> IdsOfWhere(const std::string& where) {
  std::string condition;
  std::optional<std::string> in = Element(where, "In", 0);
  std::optional<std::string> eq = in ? std::nullopt : Element(where, "Eq", 0);
  if (!in && !eq) return std::nullopt;
  condition = in ? *in : *eq;
  const size_t ref = condition.find("<FieldRef");
  if (ref == std::string::npos) return std::nullopt;
  const size_t ref_end = condition.find('>', ref);
  const std::string field = condition.substr(ref, ref_end - ref);
  if (field.find("Name='ID'") == std::string::npos &&
      field.find("Name=\"ID\"") == std::string::npos) {
    return std::nullopt;
  }
  std::set<int> ids;
  size_t at = 0;
  while (std::optional<std::string> value = Element(condition, "Value", at, &at)) {
    auto id = ParseInt(*value);
    if (!id) return std::nullopt;
    ids.insert(*id);
  }
  if (ids.empty()) return std::nullopt;
  return ids;
}

}  // namespace

// SP.List.getItems(query): the items a CAML query selects, as `/items` renders them.
HttpResponse SharePointSim::GetItems(const HttpRequest& request, const List& list) const {
  Json body = Json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  const Json query = body.is_object() ? body.value("query", Json()) : Json();
  const Json view_xml = query.is_object() ? query.value("ViewXml", Json()) : Json();
  if (!view_xml.is_string()) return SpBadRequest("Parameter query is invalid.");
  const std::string xml = view_xml.get<std::string>();
  std::optional<std::string> view = Element(xml, "View", 0);
  if (!view) {
    return SpError(400, "-2147024809, System.ArgumentException",
                   "Value does not fall within the expected range.");
  }
  int row_limit = kMaxPageSize;
  if (std::optional<std::string> limit = Element(*view, "RowLimit", 0)) {
    auto parsed = ParseInt(*limit);
    if (!parsed || *parsed < 1) return SpBadRequest("Invalid RowLimit.");
    row_limit = std::min(*parsed, kMaxPageSize);
  }
  std::optional<std::set<int>> ids;
  if (std::optional<std::string> where = Element(*view, "Where", 0)) {
    ids = IdsOfWhere(*where);
    if (!ids) {
      return SpError(400, "-2147024809, System.ArgumentException",
                     "graphsim models CAML Where clauses of In or Eq on the ID field only.");
    }
  }
  Json values = Json::array();
  for (const auto& [id, item] : list.items) {
    if (static_cast<int>(values.size()) == row_limit) break;
    if (ids && ids->count(id) == 0) continue;
    values.push_back(ItemJson(list, id, item));
  }
  return JsonResponse(200, DumpJson(Json{{"value", values}}));
}

HttpResponse SharePointSim::GetChanges(const HttpRequest& request, const List& list) const {
  Json body = Json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return SpBadRequest("Invalid JSON.");
  const Json query = body.value("query", Json::object());
  if (!query.is_object()) return SpBadRequest("Parameter query is invalid.");
  auto flag = [&](const char* key) {
    auto it = query.find(key);
    return it != query.end() && it->is_boolean() && it->get<bool>();
  };
  int row_limit = kDefaultRowLimit;
  if (auto it = query.find("RowLimit"); it != query.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      return SpBadRequest("Parameter RowLimit is invalid.");
    }
    row_limit = static_cast<int>(std::min<int64_t>(it->get<int64_t>(), kDefaultRowLimit));
  }
  uint64_t after = 0;
  if (auto start = query.find("ChangeTokenStart"); start != query.end() && !start->is_null()) {
    const Json value = start->is_object() ? start->value("StringValue", Json()) : Json();
    const std::string token = value.is_string() ? value.get<std::string>() : "";
    // "1;3;{list};{ticks};{number}"
    std::vector<std::string> fields;
    for (size_t from = 0;;) {
      const size_t semi = token.find(';', from);
      fields.push_back(token.substr(from, semi == std::string::npos ? semi : semi - from));
      if (semi == std::string::npos) break;
      from = semi + 1;
    }
    if (fields.size() != 5 || fields[0] != "1" || fields[1] != "3" ||
        ToLower(fields[2]) != list.id || fields[4].empty() ||
        !std::all_of(fields[4].begin(), fields[4].end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return SpBadRequest("Parameter ChangeTokenStart is invalid.");
    }
    after = std::stoull(fields[4]);
    if (after < list.floor) return SpError(list.expired_status, kInvalidChangeToken, kTooEarly);
  } else if (list.floor > 0) {
    after = list.floor;
  }
  Json values = Json::array();
  const bool items = flag("Item");
  for (const Change& change : list.changes) {
    if (change.number <= after) continue;
    if (static_cast<int>(values.size()) == row_limit) break;
    // Only the change types the query asks for: a restore stays unseen without Restore.
    if (!items || !flag(QueryFlag(change.type))) continue;
    values.push_back(
        Json{{"ChangeToken", {{"StringValue", Token(list, change.number, change.time)}}},
             {"ChangeType", change.type},
             {"SiteId", site_guid_},
             {"Time", FormatSecondsZ(change.time)},
             {"ItemId", change.item},
             {"ListId", list.id},
             {"WebId", web_guid_}});
  }
  return JsonResponse(200, DumpJson(Json{{"value", values}}));
}

size_t SharePointSim::Pump() {
  std::lock_guard<std::mutex> pump(pump_mu_);
  struct Post {
    std::string subscription;
    std::string url;
    std::string body;
  };
  std::vector<Post> posts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = now_();
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto sub = subscriptions_.find(it->subscription);
      if (sub == subscriptions_.end() || sub->second.expires <= now) {
        it = pending_.erase(it);
        continue;
      }
      if (it->due > now) {
        ++it;
        continue;
      }
      if (drop_next_ > 0) {
        --drop_next_;
        ++stats_.lost;
        it = pending_.erase(it);
        continue;
      }
      const Subscription& s = sub->second;
      const List* list = FindLocked(s.list);
      Json item = {{"subscriptionId", s.id},
                   {"clientState", s.client_state.empty() ? Json(nullptr) : Json(s.client_state)},
                   {"expirationDateTime", FormatSecondsZ(s.expires)},
                   {"resource", s.list},
                   {"tenantId", tenant_id_},
                   {"siteUrl", list != nullptr ? list->site : ""},
                   {"webId", web_guid_}};
      posts.push_back(
          Post{s.id, s.notification_url, DumpJson(Json{{"value", Json::array({item})}})});
      ++it->attempts;
      it->due = now + kRetryInterval;
      ++it;
    }
  }
  for (const Post& post : posts) {
    bool ok = false;
    if (auto url = ParseWebhookUrl(post.url)) {
      WebhookResult result = PostWebhook(*url, url->target, "application/json", post.body,
                                         kValidationTimeout, /*verify_certificates=*/false);
      ok = result.outcome == WebhookResult::Outcome::kAnswered && result.status >= 200 &&
           result.status < 300;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.attempts;
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
      return p.subscription == post.subscription && p.attempts > 0;
    });
    if (ok) {
      ++stats_.delivered;
      if (it != pending_.end()) pending_.erase(it);
    } else {
      ++stats_.failed_attempts;
      if (it != pending_.end() && it->attempts >= kDeliveryTries) {
        ++stats_.dropped;
        pending_.erase(it);
      }
    }
  }
  return posts.size();
}

}  // namespace graphsim
