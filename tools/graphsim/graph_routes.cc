// The Graph REST API under /v1.0: authentication, fault injection, throttling, then the
// users, mail folder, message, event and contact resources.

#include <algorithm>
#include <set>
#include <thread>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

using Impl = SimulatorCore;

// The preferences of every Prefer header, as (lower-case name, unquoted value). A header
// may carry several comma-separated preferences, and several Prefer headers may come.
std::vector<std::pair<std::string, std::string>> Preferences(const HttpRequest& request) {
  auto trim = [](const std::string& s) {
    size_t a = s.find_first_not_of(" \t\"");
    size_t b = s.find_last_not_of(" \t\"");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  std::vector<std::pair<std::string, std::string>> preferences;
  for (const auto& [name, value] : request.headers) {
    if (ToLower(name) != "prefer") continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = start;  // the next comma outside quotes
      bool quoted = false;
      while (end < value.size() && (quoted || value[end] != ',')) {
        if (value[end] == '"') quoted = !quoted;
        ++end;
      }
      std::string pref = value.substr(start, end - start);
      size_t eq = pref.find('=');
      preferences.emplace_back(ToLower(trim(pref.substr(0, eq))),
                               eq == std::string::npos ? "" : trim(pref.substr(eq + 1)));
      if (end >= value.size()) break;
      start = end + 1;
    }
  }
  return preferences;
}

bool WantsImmutableIds(const HttpRequest& request) {
  for (const auto& [name, value] : Preferences(request)) {
    if (name == "idtype" && ToLower(value) == "immutableid") return true;
  }
  return false;
}

// Prefer: outlook.body-content-type="text" or "html" ("Get message", "List messages",
// "Request headers"); nullopt if absent or another value.
std::optional<BodyType> BodyContentType(const HttpRequest& request) {
  for (const auto& [name, value] : Preferences(request)) {
    if (name != "outlook.body-content-type") continue;
    const std::string type = ToLower(value);
    if (type == "text") return BodyType::kText;
    if (type == "html") return BodyType::kHtml;
  }
  return std::nullopt;
}

// Prefer: odata.maxpagesize=N (used when there is no $top); 0 if absent or invalid.
int MaxPageSize(const HttpRequest& request) {
  for (const auto& [name, value] : Preferences(request)) {
    if (name != "odata.maxpagesize" || value.empty() || value.size() > 9 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    return std::clamp(std::stoi(value), 1, 1000);
  }
  return 0;
}

bool IdLooksValid(const std::string& id) {
  if (id.empty() || id.size() > 512) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '=' && c != '+' && c != '/') {
      return false;
    }
  }
  return true;
}

HttpResponse BadSegment(const std::string& segment, TimePoint now) {
  return ErrorResponse(400, "BadRequest", "Resource not found for the segment '" + segment + "'.",
                       now);
}

// Graph's answer to a delta function on a collection that has none in v1.0: message delta
// is per mail folder ("message: delta"), event delta per calendarView ("event: delta").
// Text as Graph answers it (msgraph-metadata issues 607 and 608).
HttpResponse ChangeTrackingNotSupported(const std::string& type, TimePoint now) {
  return ErrorResponse(400, "BadRequest",
                       "Unsupported request: Change tracking is not supported against "
                       "'microsoft.graph." +
                           type + "'.",
                       now);
}

// Relationships and actions Graph documents on one message, event or contact (their
// resource type pages, "Methods" and "Relationships") that graphsim does not serve: a
// request for one is valid, so it is answered 501, not 400.
bool DocumentedItemSegment(EntityKind kind, const std::string& segment) {
  static const std::set<std::string> kMessage = {
      "attachments", "extensions",  "copy",           "send",          "reply",          "replyall",
      "forward",     "createreply", "createreplyall", "createforward", "permanentdelete"};
  static const std::set<std::string> kEvent = {
      "attachments", "extensions", "accept",          "decline",        "tentativelyaccept",
      "cancel",      "forward",    "dismissreminder", "snoozereminder", "permanentdelete"};
  static const std::set<std::string> kContact = {"photo", "extensions", "permanentdelete"};
  switch (kind) {
    case EntityKind::kMessage:
      return kMessage.count(segment) > 0;
    case EntityKind::kEvent:
      return kEvent.count(segment) > 0;
    case EntityKind::kContact:
      break;
  }
  return kContact.count(segment) > 0;
}

HttpResponse MethodNotAllowed(const HttpRequest& request, TimePoint now) {
  return ErrorResponse(
      405, "BadRequest",
      "The HTTP method '" + request.method + "' is not supported for the requested resource.", now);
}

HttpResponse WithJson(int status, const Json& body) { return JsonResponse(status, DumpJson(body)); }

HttpResponse RetryAfter(HttpResponse response, double seconds) {
  response.headers.emplace_back("Retry-After", FormatRetryAfter(seconds));
  return response;
}

HttpResponse Throttled(MailboxGovernor::Verdict verdict, double retry_after, TimePoint now) {
  std::string code = "ApplicationThrottled";
  std::string message;
  switch (verdict) {
    case MailboxGovernor::Verdict::kConcurrency:
      message = "Application is over its MailboxConcurrency limit.";
      break;
    case MailboxGovernor::Verdict::kBudget:
      message = "Application is over its MailboxRequests limit.";
      break;
    case MailboxGovernor::Verdict::kForced:
    case MailboxGovernor::Verdict::kEarlyRetry:
    case MailboxGovernor::Verdict::kAdmit:
      code = "TooManyRequests";
      message = "Too many requests. Retry after the number of seconds given in Retry-After.";
      break;
  }
  return RetryAfter(ErrorResponse(429, code, message, now), retry_after);
}

HttpResponse Injected(const Impl::InjectedStatus& injected, double throttle_retry_after,
                      TimePoint now) {
  std::string code = "UnknownError", message = "Injected failure.";
  switch (injected.status) {
    case 400:
      code = "BadRequest";
      break;
    case 403:
      code = "ErrorAccessDenied";
      message = "Access is denied. Check credentials and try again.";
      break;
    case 404:
      code = "ErrorItemNotFound";
      message = "The specified object was not found in the store.";
      break;
    case 409:
      code = "ErrorIrresolvableConflict";
      break;
    case 429:
      code = "TooManyRequests";
      message = "Too many requests. Retry after the number of seconds given in Retry-After.";
      break;
    case 500:
      code = "generalException";
      message = "An unexpected error occurred.";
      break;
    case 503:
      code = "serviceNotAvailable";
      message = "Service Unavailable";
      break;
    case 504:
      code = "UnknownError";
      message = "Gateway Timeout";
      break;
    default:
      break;
  }
  HttpResponse response = ErrorResponse(injected.status, code, message, now);
  if (injected.retry_after >= 0) return RetryAfter(std::move(response), injected.retry_after);
  if (injected.status == 429) return RetryAfter(std::move(response), throttle_retry_after);
  return response;
}

// Everything a mailbox request needs to know about where it points.
struct Target {
  EntityKind kind = EntityKind::kMessage;
  int folder = -1;                // list/create restricted to this mail folder
  std::string context_path;       // "messages", "mailFolders('inbox')/messages", ...
  std::vector<std::string> rest;  // segments after the collection: {} or {id} or {id, action}
};

Json ParseBody(const HttpRequest& request) {
  return Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
}

HttpResponse BadPayload(TimePoint now) {
  return ErrorResponse(400, "BadRequest",
                       "Unable to read JSON request payload. Please ensure Content-Type header is "
                       "set and payload is of valid JSON format.",
                       now);
}

class MailboxRequest {
 public:
  MailboxRequest(Impl& sim, const HttpRequest& request, const UserRecord& user,
                 const std::string& user_segment, std::vector<std::string> path, TimePoint now)
      : sim_(sim),
        request_(request),
        user_(user),
        user_segment_(user_segment),
        path_(std::move(path)),
        now_(now) {}

  HttpResponse Serve() {
    HttpResponse response = Route();
    if (WantsImmutableIds(request_)) {
      response.headers.emplace_back("Preference-Applied", "IdType=\"ImmutableId\"");
    }
    return response;
  }

 private:
  std::string Name(size_t i) const { return ToLower(path_[i]); }
  std::string ContextBase() const {
    return request_.base_url + "/v1.0/$metadata#users('" + user_segment_ + "')/";
  }

  HttpResponse Route() {
    size_t n = path_.size();
    Target t;
    size_t base = 1;
    std::string root = Name(0);
    if (root == "mailfolders") {
      if (n == 1) {
        if (request_.method == "GET") return ListMailFolders(-1);
        if (request_.method == "POST") return NotImplemented("creating mail folders");
        return Disallowed();
      }
      if (n == 2 && Name(1) == "delta") {  // "mailFolder: delta"
        if (request_.method != "GET") return Disallowed();
        Impl::DeltaTarget d;
        d.folders = Impl::kMailFolderRounds;
        return Delta(&d);
      }
      t.folder = sim_.FindMailFolder(user_, path_[1]);
      if (t.folder < 0) return NotFound();
      if (n == 2) {
        if (request_.method == "GET") return GetMailFolder(t.folder);
        if (request_.method == "PATCH" || request_.method == "DELETE") {
          return NotImplemented("changing mail folders");
        }
        return Disallowed();
      }
      if (Name(2) == "childfolders" && n == 3) {
        if (request_.method == "GET") return ListMailFolders(t.folder);
        if (request_.method == "POST") return NotImplemented("creating mail folders");
        return Disallowed();
      }
      if (Name(2) != "messages") return BadSegment(path_[2], now_);
      t.kind = EntityKind::kMessage;
      t.context_path = "mailFolders('" + path_[1] + "')/messages";
      base = 3;
    } else if (root == "messages") {
      t.kind = EntityKind::kMessage;
      t.context_path = "messages";
    } else if (root == "events") {
      t.kind = EntityKind::kEvent;
      t.context_path = "events";
    } else if (root == "calendars") {
      // "List calendars", "Get calendar". No delta function is documented for calendars:
      // `calendars/delta` is an unknown segment.
      if (n == 1) {
        if (request_.method == "GET") return ListCalendars();
        if (request_.method == "POST") return NotImplemented("creating calendars");
        return Disallowed();
      }
      if (Name(1) == "delta") return BadSegment(path_[1], now_);
      if (!IdLooksValid(path_[1])) {
        return ErrorResponse(400, "ErrorInvalidIdMalformed", "Id is malformed.", now_);
      }
      const int calendar = sim_.FindCalendar(user_, path_[1]);
      if (calendar < 0) return NotFound();
      if (n == 2) {
        if (request_.method == "GET") return GetCalendar(calendar);
        if (request_.method == "PATCH" || request_.method == "DELETE") {
          return NotImplemented("changing calendars");
        }
        return Disallowed();
      }
      if (n == 3 && (Name(2) == "events" || Name(2) == "calendarview")) {
        return NotImplemented("/" + path_[2] + " of a calendar");
      }
      return BadSegment(path_[2], now_);
    } else if (root == "calendar") {
      if (n == 1) return request_.method == "GET" ? GetCalendar(0) : Disallowed();
      if (Name(1) != "events") return BadSegment(path_[1], now_);
      t.kind = EntityKind::kEvent;
      t.context_path = "calendar/events";
      base = 2;
    } else if (root == "contacts") {
      t.kind = EntityKind::kContact;
      t.context_path = "contacts";
      t.folder = 0;  // lists and creates in the default Contacts folder ("List contacts")
    } else if (root == "contactfolders") {
      if (n == 1) {
        if (request_.method == "GET") return ListContactFolders(0);
        if (request_.method == "POST") return NotImplemented("creating contact folders");
        return Disallowed();
      }
      if (n == 2 && Name(1) == "delta") {  // "contactFolder: delta"
        if (request_.method != "GET") return Disallowed();
        Impl::DeltaTarget d;
        d.folders = Impl::kContactFolderRounds;
        return Delta(&d);
      }
      t.folder = sim_.FindContactFolder(user_, path_[1]);
      if (t.folder < 0) return NotFound();
      if (n == 2) {
        if (request_.method == "GET") return GetContactFolder(t.folder);
        if (request_.method == "PATCH" || request_.method == "DELETE") {
          return NotImplemented("changing contact folders");
        }
        return Disallowed();
      }
      if (Name(2) == "childfolders" && n == 3) {
        if (request_.method == "GET") return ListContactFolders(t.folder);
        if (request_.method == "POST") return NotImplemented("creating contact folders");
        return Disallowed();
      }
      if (Name(2) != "contacts") return BadSegment(path_[2], now_);
      t.kind = EntityKind::kContact;
      t.context_path = "contactFolders('" + path_[1] + "')/contacts";
      base = 3;
    } else if (root == "calendarview") {
      if (n == 2 && Name(1) == "delta") {
        if (request_.method != "GET") return Disallowed();
        Impl::DeltaTarget d;
        d.kind = EntityKind::kEvent;
        d.calendar_view = true;
        return Delta(&d);
      }
      if (n == 1) return request_.method == "GET" ? View("") : Disallowed();
      return BadSegment(path_[1], now_);
    } else {
      return BadSegment(path_[0], now_);
    }
    t.rest.assign(path_.begin() + static_cast<std::ptrdiff_t>(base), path_.end());

    if (t.rest.empty()) {
      if (request_.method == "GET") return List(t);
      if (request_.method == "POST") return Create(t);
      return Disallowed();
    }
    if (t.rest.size() == 1 && ToLower(t.rest[0]) == "delta") {
      if (request_.method != "GET") return Disallowed();
      if (t.kind == EntityKind::kEvent) return ChangeTrackingNotSupported("event", now_);
      if (t.kind == EntityKind::kMessage && t.folder < 0) {
        return ChangeTrackingNotSupported("message", now_);
      }
      // Contact delta is per contact folder ("contact: delta"); /contacts/delta is not.
      if (t.kind == EntityKind::kContact && path_.size() == 2) {
        return ChangeTrackingNotSupported("contact", now_);
      }
      if (t.kind == EntityKind::kMessage && IsSearchFolder(t.folder)) {
        return ErrorResponse(400, "ErrorInvalidOperation",
                             "Change tracking is not supported against a search folder.", now_);
      }
      Impl::DeltaTarget d;
      d.kind = t.kind;
      d.folder = t.folder;
      return Delta(&d);
    }
    const std::string& id = t.rest[0];
    if (!IdLooksValid(id)) {
      return ErrorResponse(400, "ErrorInvalidIdMalformed", "Id is malformed.", now_);
    }
    if (t.rest.size() == 1) {
      if (request_.method == "GET") return Get(t, id);
      if (request_.method == "PATCH") return Update(t, id);
      if (request_.method == "DELETE") return Delete(t, id);
      return Disallowed();
    }
    if (t.rest.size() == 2 && t.kind == EntityKind::kEvent && ToLower(t.rest[1]) == "instances") {
      return request_.method == "GET" ? View(id) : Disallowed();
    }
    if (t.rest.size() == 2 && t.kind == EntityKind::kMessage && ToLower(t.rest[1]) == "move") {
      return request_.method == "POST" ? Move(id) : Disallowed();
    }
    if (t.rest.size() == 2 && DocumentedItemSegment(t.kind, ToLower(t.rest[1]))) {
      return NotImplemented("/" + t.rest[1] + " of an item");
    }
    return BadSegment(t.rest.back(), now_);
  }

  HttpResponse Disallowed() const { return MethodNotAllowed(request_, now_); }

  // GET /calendarView ("List calendarView": single instances, occurrences and exceptions
  // in the window) and, with `master_id`, GET /events/{id}/instances ("List instances":
  // the series' occurrences and exceptions in the window). Both require startDateTime and
  // endDateTime; ordered by start, then id (neither page documents an order); paged like
  // lists ($top 1-1000, default 10, Prefer: odata.maxpagesize, a $skiptoken cursor);
  // $select. The other documented OData options are 501.
  HttpResponse View(const std::string& master_id) {
    static const std::set<std::string> kDocumented = {"$filter", "$orderby", "$count",
                                                      "$skip",   "$search",  "$expand"};
    std::optional<std::string> start_text, end_text, select_text;
    std::optional<int> top;
    std::optional<Cursor> after;
    std::set<std::string> seen;
    for (const auto& [name, value] : request_.params) {
      const std::string lower = ToLower(name);
      if (lower == "startdatetime") {
        start_text = value;
        continue;
      }
      if (lower == "enddatetime") {
        end_text = value;
        continue;
      }
      if (lower.empty() || lower[0] != '$') continue;
      if (!seen.insert(lower).second) {
        return ErrorResponse(400, "BadRequest",
                             "Query option '" + name +
                                 "' was specified more than once, but it must be specified at "
                                 "most once.",
                             now_);
      }
      if (lower == "$select") {
        select_text = value;
      } else if (lower == "$top") {
        if (value.empty() || value.size() > 4 ||
            value.find_first_not_of("0123456789") != std::string::npos || std::stoi(value) < 1 ||
            std::stoi(value) > 1000) {
          return ErrorResponse(400, "BadRequest",
                               "Invalid value '" + value + "' for query option '$top'.", now_);
        }
        top = std::stoi(value);
      } else if (lower == "$skiptoken") {
        after = DecodeSkipToken(value, 1);
        if (!after || after->keys.size() != 1) {
          return ErrorResponse(400, "BadRequest", "The $skiptoken value is not valid.", now_);
        }
      } else if (kDocumented.count(lower)) {
        return NotImplemented("the query option '" + name + "' on calendarView and instances");
      } else {
        return ErrorResponse(400, "BadRequest",
                             "The query parameter '" + name + "' is not supported.", now_);
      }
    }
    if (!start_text || !end_text) {
      return ErrorResponse(400, "ErrorInvalidParameter",
                           "This request requires a time window specified by the query string "
                           "parameters StartDateTime and EndDateTime.",
                           now_);
    }
    // "If no timezone offset is included in the value, it is interpreted as UTC."
    auto parse = [](const std::string& text) {
      std::optional<TimePoint> t = ParseDateTimeOffset(text);
      return t ? t : ParseLocalDateTime(text);
    };
    std::optional<TimePoint> window_start = parse(*start_text), window_end = parse(*end_text);
    if (!window_start || !window_end) {
      return ErrorResponse(400, "ErrorInvalidParameter",
                           "The value of StartDateTime or EndDateTime is not a valid date.", now_);
    }
    if (*window_end <= *window_start) {
      return ErrorResponse(400, "ErrorInvalidParameter",
                           "EndDateTime must be later than StartDateTime.", now_);
    }
    QueryOptions q;
    if (select_text) {
      std::vector<std::pair<std::string, std::string>> params{{"$select", *select_text}};
      if (auto err = ParseQueryOptions(params, graphsim::Entity(EntityKind::kEvent),
                                       QueryKind::kSingle, &q)) {
        return ErrorResponse(*err, now_);
      }
    }
    int page_size = top.value_or(10);
    int preferred = top ? 0 : MaxPageSize(request_);
    if (preferred > 0) page_size = preferred;
    if (sim_.options_.max_page_size > 0) {
      page_size = std::min(page_size, sim_.options_.max_page_size);
      if (preferred > 0) preferred = page_size;
    }
    sim_.CatchUpListing(user_, now_);
    Impl::ListResult result;
    if (auto err = sim_.View(user_, *window_start, *window_end, master_id, q.select,
                             static_cast<size_t>(page_size), after, &result)) {
      return ErrorResponse(*err, now_);
    }
    sim_.served_listed_ += result.items.size();
    std::string context =
        ContextBase() +
        (master_id.empty() ? "calendarView" : "events('" + master_id + "')/instances");
    if (!q.select.empty()) {
      context += "(";
      for (size_t i = 0; i < q.select.size(); ++i) context += (i ? "," : "") + q.select[i];
      context += ")";
    }
    Json body{{"@odata.context", context}, {"value", Json::array()}};
    for (Json& item : result.items) body["value"].push_back(std::move(item));
    if (result.more && result.next) {
      std::string link = request_.base_url + "/v1.0/users/" + PercentEncode(user_segment_, false);
      for (const std::string& segment : path_) link += "/" + PercentEncode(segment, false);
      link += "?startDateTime=" + PercentEncode(*start_text, false) +
              "&endDateTime=" + PercentEncode(*end_text, false);
      if (select_text) link += "&$select=" + PercentEncode(*select_text, false);
      if (top) link += "&$top=" + std::to_string(*top);
      link += "&$skiptoken=" + PercentEncode(EncodeSkipToken(*result.next), false);
      body["@odata.nextLink"] = link;
    }
    HttpResponse response = WithJson(200, body);
    return WithPageSizeApplied(std::move(response), preferred);
  }

  HttpResponse Delta(Impl::DeltaTarget* d) {
    d->link_path = "/v1.0/users/" + PercentEncode(user_segment_, false);
    for (const std::string& segment : path_) d->link_path += "/" + PercentEncode(segment, false);
    const int requested = MaxPageSize(request_);
    d->max_page_size = requested;
    if (sim_.options_.max_page_size > 0) {
      d->max_page_size = d->max_page_size > 0
                             ? std::min(d->max_page_size, sim_.options_.max_page_size)
                             : sim_.options_.max_page_size;
    }
    sim_.CatchUpListing(user_, now_);
    HttpResponse response = sim_.Delta(request_, user_, *d, now_);
    if (requested > 0 && response.status == 200) {
      response.headers.emplace_back("Preference-Applied",
                                    "odata.maxpagesize=" + std::to_string(d->max_page_size));
    }
    return response;
  }
  HttpResponse NotFound() const {
    return ErrorResponse(404, "ErrorItemNotFound",
                         "The specified object was not found in the store.", now_);
  }
  HttpResponse NotImplemented(const std::string& what) const {
    return ErrorResponse(501, "NotImplemented", "graphsim does not implement " + what + ".", now_);
  }

  Json Entity(const std::string& context, const Json& rendered) const {
    Json out;
    out["@odata.context"] = ContextBase() + context + "/$entity";
    out.update(rendered);
    return out;
  }

  HttpResponse List(const Target& t) {
    QueryOptions q;
    if (auto err = ParseQueryOptions(request_.params, graphsim::Entity(t.kind),
                                     QueryKind::kCollection, &q)) {
      return ErrorResponse(*err, now_);
    }
    if (t.kind == EntityKind::kMessage && IsInefficientFilter(q)) {
      return ErrorResponse(400, "InefficientFilter",
                           "The restriction or sort order is too complex for this operation.",
                           now_);
    }
    Collection::Query query;
    query.filter = q.filter.get();
    query.order = q.orderby;
    query.folder = t.folder;
    // "List events": "The list contains single instance meetings and series masters."
    query.skip_series_members = t.kind == EntityKind::kEvent;
    int page_size = q.top.value_or(10);
    int preferred = q.top ? 0 : MaxPageSize(request_);
    if (preferred > 0) page_size = preferred;
    if (sim_.options_.max_page_size > 0) {
      page_size = std::min(page_size, sim_.options_.max_page_size);
      if (preferred > 0) preferred = page_size;
    }
    query.top = static_cast<size_t>(page_size);
    query.skip = q.skip.value_or(0);
    query.count = q.count;
    if (q.skiptoken) {
      size_t keys = sim_.EffectiveOrder(t.kind, q.orderby).size();
      query.after = DecodeSkipToken(*q.skiptoken, keys);
      if (!query.after) {
        return ErrorResponse(400, "BadRequest", "The $skiptoken value is not valid.", now_);
      }
    }
    sim_.CatchUpListing(user_, now_);
    const std::optional<BodyType> body_type = MessageBodyType(t);
    Impl::ListResult result =
        sim_.List(user_, t.kind, query, q.select, body_type.value_or(BodyType::kHtml));
    sim_.served_listed_ += result.items.size();

    Json body;
    std::string context = ContextBase() + t.context_path;
    if (!q.select.empty()) {
      context += "(";
      for (size_t i = 0; i < q.select.size(); ++i) context += (i ? "," : "") + q.select[i];
      context += ")";
    }
    body["@odata.context"] = context;
    if (q.count) body["@odata.count"] = result.total;
    body["value"] = Json::array();
    for (Json& item : result.items) body["value"].push_back(std::move(item));
    if (result.more) {
      std::string link = request_.base_url;
      for (size_t i = 0; i < 2; ++i) link += "/" + PercentEncode(i == 0 ? "v1.0" : "users", false);
      link += "/" + PercentEncode(user_segment_, false);
      for (const std::string& segment : path_) link += "/" + PercentEncode(segment, false);
      std::string query_text;
      for (const auto& [name, value] : q.carried) {
        query_text += (query_text.empty() ? "" : "&") + PercentEncode(name, false) + "=" +
                      PercentEncode(value, false);
      }
      query_text += query_text.empty() ? "" : "&";
      if (q.skip) {
        // The client chose offsets; keep them (Graph's own message paging uses $skip).
        query_text += "$skip=" + std::to_string(query.skip + result.items.size());
      } else {
        query_text += "$skiptoken=" + PercentEncode(EncodeSkipToken(*result.next), false);
      }
      body["@odata.nextLink"] = link + "?" + query_text;
    }
    HttpResponse response = WithBodyPreference(WithJson(200, body), body_type);
    return WithPageSizeApplied(std::move(response), preferred);
  }

  // Prefer: odata.maxpagesize honoured (`page_size` > 0) is confirmed by Preference-Applied
  // ("Paging Microsoft Graph data in your app").
  static HttpResponse WithPageSizeApplied(HttpResponse response, int page_size) {
    if (page_size > 0) {
      response.headers.emplace_back("Preference-Applied",
                                    "odata.maxpagesize=" + std::to_string(page_size));
    }
    return response;
  }

  // The body format a GET of messages asked for with Prefer: outlook.body-content-type
  // ("Get message", "List messages": "Request headers"); nullopt for other kinds and
  // without the preference (HTML, the documented default).
  std::optional<BodyType> MessageBodyType(const Target& t) const {
    if (t.kind != EntityKind::kMessage) return std::nullopt;
    return BodyContentType(request_);
  }

  // "A Preference-Applied header is returned as confirmation if this Prefer header is
  // specified" ("Get message", "Request headers").
  static HttpResponse WithBodyPreference(HttpResponse response, std::optional<BodyType> type) {
    if (type) {
      response.headers.emplace_back("Preference-Applied",
                                    std::string("outlook.body-content-type=\"") +
                                        (*type == BodyType::kText ? "text" : "html") + "\"");
    }
    return response;
  }

  HttpResponse Get(const Target& t, const std::string& id) {
    sim_.governor_.CountItemGet(user_.id);
    QueryOptions q;
    if (auto err =
            ParseQueryOptions(request_.params, graphsim::Entity(t.kind), QueryKind::kSingle, &q)) {
      return ErrorResponse(*err, now_);
    }
    Json rendered;
    const std::optional<BodyType> body_type = MessageBodyType(t);
    if (auto err = sim_.GetItem(user_, t.kind, id, q.select, &rendered,
                                body_type.value_or(BodyType::kHtml))) {
      return ErrorResponse(*err, now_);
    }
    ++sim_.served_by_id_;
    return WithBodyPreference(WithJson(200, Entity(CollectionName(t.kind), rendered)), body_type);
  }

  HttpResponse Create(const Target& t) {
    Json fields = ParseBody(request_);
    if (fields.is_discarded()) return BadPayload(now_);
    int folder = 0;
    if (t.kind == EntityKind::kMessage) folder = t.folder >= 0 ? t.folder : kDrafts;
    if (t.kind == EntityKind::kContact) folder = t.folder;
    Impl::Created created;
    // Graph creates every message as a draft, whichever folder it is created in.
    if (auto err = sim_.CreateItem(user_, t.kind, fields, folder, /*draft=*/true, &created)) {
      return ErrorResponse(*err, now_);
    }
    return WithJson(201, Entity(CollectionName(t.kind), created.rendered));
  }

  HttpResponse Update(const Target& t, const std::string& id) {
    Json fields = ParseBody(request_);
    if (fields.is_discarded()) return BadPayload(now_);
    Json rendered;
    if (auto err = sim_.UpdateItem(user_, t.kind, id, fields, &rendered)) {
      return ErrorResponse(*err, now_);
    }
    return WithJson(200, Entity(CollectionName(t.kind), rendered));
  }

  HttpResponse Delete(const Target& t, const std::string& id) {
    if (auto err = sim_.DeleteItem(user_, t.kind, id)) return ErrorResponse(*err, now_);
    HttpResponse response;
    response.status = 204;
    return response;
  }

  HttpResponse Move(const std::string& id) {
    Json body = ParseBody(request_);
    if (body.is_discarded() || !body.is_object()) return BadPayload(now_);
    auto destination = body.find("destinationId");
    if (destination == body.end() || !destination->is_string()) {
      return ErrorResponse(400, "ErrorInvalidParameter",
                           "The value of the parameter 'destinationId' is missing or invalid.",
                           now_);
    }
    std::string name = destination->get<std::string>();
    int folder = sim_.FindMailFolder(user_, name);
    if (folder < 0) {
      if (!IdLooksValid(name)) {
        return ErrorResponse(400, "ErrorInvalidIdMalformed", "Id is malformed.", now_);
      }
      return NotFound();
    }
    Impl::Created moved;
    if (auto err = sim_.MoveMessage(user_, id, folder, WantsImmutableIds(request_), &moved)) {
      return ErrorResponse(*err, now_);
    }
    return WithJson(201, Entity("messages", moved.rendered));
  }

  bool IsSearchFolder(int folder) const {
    auto info = sim_.MailFolderInfo(user_, folder);
    return info && info->is_search_folder;
  }

  // includeHiddenFolders=true lists hidden folders too ("List mailFolders", "List
  // childFolders"); without it they are left out.
  bool IncludeHidden() const {
    for (const auto& [name, value] : request_.params) {
      if (name == "includeHiddenFolders" && ToLower(value) == "true") return true;
    }
    return false;
  }

  // The folders directly under `parent` (-1: the root, GET /mailFolders).
  HttpResponse ListMailFolders(int parent) {
    const bool hidden = IncludeHidden();
    std::string context = ContextBase() + "mailFolders";
    if (parent >= 0) context += "('" + path_[1] + "')/childFolders";
    Json body{{"@odata.context", context}, {"value", Json::array()}};
    for (const Impl::MailFolderView& folder : sim_.MailFolderViews(user_)) {
      if (folder.parent != parent || (folder.is_hidden && !hidden)) continue;
      body["value"].push_back(MailFolderJson(folder, user_));
    }
    return WithJson(200, body);
  }

  HttpResponse GetMailFolder(int folder) {
    auto info = sim_.MailFolderInfo(user_, folder);
    if (!info) return NotFound();
    Json body{{"@odata.context", ContextBase() + "mailFolders/$entity"}};
    body.update(MailFolderJson(*info, user_));
    return WithJson(200, body);
  }

  static Json ContactFolderJson(const Impl::ContactFolderView& f) {
    return Json{{"id", f.id}, {"displayName", f.display_name}, {"parentFolderId", f.parent_id}};
  }

  // GET /contactFolders lists the folders in the default Contacts folder ("List
  // contactFolders"); .../childFolders the folders under another one.
  HttpResponse ListContactFolders(int parent) {
    std::string context = ContextBase() + "contactFolders";
    if (parent != 0 || path_.size() > 1) context += "('" + path_[1] + "')/childFolders";
    Json body{{"@odata.context", context}, {"value", Json::array()}};
    for (const auto& f : sim_.ContactFolderChildren(user_, parent)) {
      body["value"].push_back(ContactFolderJson(f));
    }
    return WithJson(200, body);
  }

  HttpResponse GetContactFolder(int folder) {
    auto info = sim_.ContactFolderInfo(user_, folder);
    if (!info) return NotFound();
    Json body{{"@odata.context", ContextBase() + "contactFolders/$entity"}};
    body.update(ContactFolderJson(*info));
    return WithJson(200, body);
  }

  // GET /calendar (index 0) and GET /calendars/{id} ("Get calendar").
  HttpResponse GetCalendar(int index) {
    std::string select;
    if (auto err = CalendarOptions(/*collection=*/false, &select, nullptr, nullptr)) {
      return ErrorResponse(*err, now_);
    }
    for (const Impl::CalendarView& c : sim_.CalendarViews(user_)) {
      if (c.index != index) continue;
      Json body{{"@odata.context",
                 ContextBase() + (index == 0 && Name(0) == "calendar" ? "calendar" : "calendars") +
                     "/$entity"}};
      body.update(SelectCalendar(CalendarJson(c), select));
      return WithJson(200, body);
    }
    return NotFound();
  }

  // The query options of calendar requests: $select (and on the list $top and $skiptoken,
  // graphsim's paging cursor); the other options [Query] documents are 501, unknown ones
  // 400.
  std::optional<ApiError> CalendarOptions(bool collection, std::string* select, int* top,
                                          std::optional<int>* after) const {
    static const std::set<std::string> kDocumented = {"$filter", "$orderby", "$count",
                                                      "$skip",   "$search",  "$expand"};
    std::set<std::string> seen;
    for (const auto& [name, value] : request_.params) {
      const std::string option = ToLower(name);
      if (option.empty() || option[0] != '$') continue;
      if (!seen.insert(option).second) {
        return ApiError{400, "BadRequest",
                        "Query option '" + name +
                            "' was specified more than once, but it must be specified at most "
                            "once."};
      }
      if (option == "$select") {
        *select = value;
        for (const std::string& part : SplitList(value)) {
          static const std::set<std::string> kModelled = {
              "id",       "name",    "color", "isdefaultcalendar",   "changekey",
              "canshare", "canedit", "owner", "canviewprivateitems", "isremovable"};
          static const std::set<std::string> kUnmodelled = {"allowedonlinemeetingproviders",
                                                            "defaultonlinemeetingprovider",
                                                            "hexcolor", "istallyingresponses"};
          const std::string lower = ToLower(part);
          if (kModelled.count(lower)) continue;
          if (kUnmodelled.count(lower)) {
            return ApiError{
                501, "NotImplemented",
                "graphsim does not model the property '" + part + "' of microsoft.graph.calendar."};
          }
          return ApiError{
              400, "BadRequest",
              "Could not find a property named '" + part + "' on type 'microsoft.graph.calendar'."};
        }
      } else if (collection && option == "$top") {
        if (value.empty() || value.size() > 4 ||
            value.find_first_not_of("0123456789") != std::string::npos || std::stoi(value) < 1 ||
            std::stoi(value) > 1000) {
          return ApiError{400, "BadRequest",
                          "Invalid value '" + value + "' for query option '$top'."};
        }
        *top = std::stoi(value);
      } else if (collection && option == "$skiptoken") {
        std::optional<Cursor> cursor = DecodeSkipToken(value, 1);
        if (!cursor || cursor->keys.empty()) {
          return ApiError{400, "BadRequest", "The $skiptoken value is not valid."};
        }
        *after = static_cast<int>(cursor->keys[0]);
      } else if (kDocumented.count(option) || (!collection && option == "$top")) {
        return ApiError{
            501, "NotImplemented",
            "graphsim does not implement the query option '" + name + "' on calendars."};
      } else {
        return ApiError{400, "BadRequest", "The query parameter '" + name + "' is not supported."};
      }
    }
    return std::nullopt;
  }

  // $select on a calendar: the named properties (case-insensitively) and id.
  static Json SelectCalendar(const Json& calendar, const std::string& select) {
    if (select.empty()) return calendar;
    std::set<std::string> wanted;
    for (const std::string& part : SplitList(select)) wanted.insert(ToLower(part));
    Json out;
    for (auto it = calendar.begin(); it != calendar.end(); ++it) {
      if (it.key() == "id" || wanted.count(ToLower(it.key()))) out[it.key()] = it.value();
    }
    return out;
  }

  // GET /calendars ("List calendars"): the default calendar first, then by creation. The
  // page names no default page size: 10, as the other lists (choice); $top 1-1000 or
  // Prefer: odata.maxpagesize sets it; `@odata.nextLink` carries a $skiptoken cursor.
  HttpResponse ListCalendars() {
    std::string select;
    int top = 0;
    std::optional<int> after;
    if (auto err = CalendarOptions(/*collection=*/true, &select, &top, &after)) {
      return ErrorResponse(*err, now_);
    }
    int page_size = top > 0 ? top : 10;
    int preferred = top > 0 ? 0 : MaxPageSize(request_);
    if (preferred > 0) page_size = preferred;
    if (sim_.options_.max_page_size > 0) {
      page_size = std::min(page_size, sim_.options_.max_page_size);
      if (preferred > 0) preferred = page_size;
    }
    std::string context = ContextBase() + "calendars";
    if (!select.empty()) context += "(" + select + ")";
    Json body{{"@odata.context", context}, {"value", Json::array()}};
    int last = -1;
    std::string last_id;
    bool more = false;
    for (const Impl::CalendarView& c : sim_.CalendarViews(user_)) {
      if (after && c.index <= *after) continue;
      if (static_cast<int>(body["value"].size()) >= page_size) {
        more = true;
        break;
      }
      body["value"].push_back(SelectCalendar(CalendarJson(c), select));
      last = c.index;
      last_id = c.id;
    }
    sim_.served_listed_ += body["value"].size();
    if (more) {
      std::string link = request_.base_url + "/v1.0/users/" + PercentEncode(user_segment_, false) +
                         "/" + PercentEncode(path_[0], false) + "?";
      if (!select.empty()) link += "$select=" + PercentEncode(select, false) + "&";
      if (top > 0) link += "$top=" + std::to_string(top) + "&";
      link += "$skiptoken=" + PercentEncode(EncodeSkipToken(Cursor{{last}, last_id}), false);
      body["@odata.nextLink"] = link;
    }
    HttpResponse response = WithJson(200, body);
    return WithPageSizeApplied(std::move(response), preferred);
  }

  Impl& sim_;
  const HttpRequest& request_;
  const UserRecord& user_;
  const std::string& user_segment_;
  std::vector<std::string> path_;
  TimePoint now_;
};

Json UserJson(const UserRecord& u) {
  return Json{{"businessPhones", Json::array()},
              {"displayName", u.display_name},
              {"givenName", u.given_name},
              {"jobTitle", nullptr},
              {"mail", u.upn},
              {"mobilePhone", nullptr},
              {"officeLocation", nullptr},
              {"preferredLanguage", nullptr},
              {"surname", u.surname},
              {"userPrincipalName", u.upn},
              {"id", u.id}};
}

// The query options of GET /users and GET /users/{id}: graphsim serves $select; the others
// Graph documents for users ("List users", "Get user") are 501, not silently ignored, and
// an option Graph does not know is 400.
std::optional<ApiError> DirectoryOptions(const HttpRequest& request, std::string* select) {
  static const std::set<std::string> kDocumented = {"$top",    "$filter", "$count",    "$orderby",
                                                    "$search", "$expand", "$skiptoken"};
  for (const auto& [name, value] : request.params) {
    std::string option = ToLower(name);
    if (option.empty() || option[0] != '$') continue;
    if (option == "$select") {
      *select = value;
    } else if (kDocumented.count(option)) {
      return ApiError{501, "NotImplemented",
                      "graphsim does not implement the query option '" + name + "' on users."};
    } else {
      return ApiError{400, "BadRequest", "The query parameter '" + name + "' is not supported."};
    }
  }
  return std::nullopt;
}

// $select on a directory object: only the named properties (the directory does not add
// id by itself). Unknown names are 400, as Graph answers.
std::optional<ApiError> SelectUser(const std::string& select, Json* user) {
  if (select.empty()) return std::nullopt;
  Json out;
  for (const std::string& name : SplitList(select)) {
    bool found = false;
    for (auto it = user->begin(); it != user->end(); ++it) {
      if (ToLower(it.key()) == ToLower(name)) {
        out[it.key()] = it.value();
        found = true;
      }
    }
    if (!found) {
      return ApiError{
          400, "Request_BadRequest",
          "Could not find a property named '" + name + "' on type 'microsoft.graph.user'."};
    }
  }
  *user = std::move(out);
  return std::nullopt;
}

}  // namespace

std::optional<HttpResponse> Impl::CheckBearer(const HttpRequest& request, TimePoint now,
                                              TokenIssuer::Facts* facts) const {
  TokenIssuer::Facts issued;
  switch (tokens_.Check(request.Header("Authorization"), now, &issued)) {
    case TokenIssuer::Verdict::kValid:
      if (facts) {
        *facts = std::move(issued);
        return std::nullopt;
      }
      // A token for another resource (a SharePoint site's) is not one for Graph. graphsim
      // stands in for Graph at its own origin too: a client pointed at it asks for
      // "{its origin}/.default", as for a national cloud's Graph host.
      if (issued.resource != kGraphAudience &&
          issued.resource != NormalizeOrigin(request.base_url)) {
        return Unauthorized("Access token validation failure. Invalid audience.",
                            "Invalid audience.", now);
      }
      return std::nullopt;
    case TokenIssuer::Verdict::kMissing:
      return Unauthorized("Access token is empty.", "", now);
    case TokenIssuer::Verdict::kMalformed:
      return Unauthorized("Access token validation failure. Invalid token.",
                          "The access token is malformed.", now);
    case TokenIssuer::Verdict::kUnknown:
      return Unauthorized("Access token validation failure. Invalid signature.",
                          "The token signature is not valid.", now);
    case TokenIssuer::Verdict::kExpired:
      return Unauthorized("Lifetime validation failed, the token is expired.",
                          "Lifetime validation failed, the token is expired.", now);
  }
  return std::nullopt;
}

HttpResponse Impl::HandleGraph(const HttpRequest& request, const std::vector<std::string>& segments,
                               TimePoint now) {
  ++request_count_;
  if (TakeReset()) {
    HttpResponse response;
    response.reset_connection = true;
    return response;
  }
  if (std::optional<HttpResponse> refused = CheckBearer(request, now)) return std::move(*refused);
  if (auto injected = TakeInjectedStatus()) {
    return Injected(*injected, options_.throttle_retry_after_seconds, now);
  }

  std::vector<std::string> rest(segments.begin() + 1, segments.end());
  if (rest.empty()) return BadSegment("v1.0", now);
  std::string root = ToLower(rest[0]);
  if (root == "me") {
    return ErrorResponse(400, "BadRequest",
                         "/me request is only valid with delegated authentication flow.", now);
  }
  if (root == "subscriptions") return HandleSubscriptions(request, rest, now);
  if (root != "users") return BadSegment(rest[0], now);

  if (rest.size() == 1) {
    if (request.method != "GET") return MethodNotAllowed(request, now);
    Json body{{"@odata.context", request.base_url + "/v1.0/$metadata#users"},
              {"value", Json::array()}};
    std::string select;
    if (auto err = DirectoryOptions(request, &select)) return ErrorResponse(*err, now);
    for (const UserRecord& u : users()) {
      Json user = UserJson(u);
      if (auto err = SelectUser(select, &user)) return ErrorResponse(*err, now);
      body["value"].push_back(std::move(user));
    }
    return WithJson(200, body);
  }

  const std::string& user_segment = rest[1];
  const UserRecord* user = FindUser(user_segment);
  if (!user) {
    if (rest.size() == 2) {
      return ErrorResponse(404, "Request_ResourceNotFound",
                           "Resource '" + user_segment +
                               "' does not exist or one of its queried reference-property "
                               "objects are not present.",
                           now);
    }
    return ErrorResponse(404, "ErrorInvalidUser",
                         "The requested user '" + user_segment + "' is invalid.", now);
  }
  if (rest.size() == 2) {
    if (request.method != "GET") return MethodNotAllowed(request, now);
    Json body{{"@odata.context", request.base_url + "/v1.0/$metadata#users/$entity"}};
    Json user_json = UserJson(*user);
    std::string select;
    if (auto err = DirectoryOptions(request, &select)) return ErrorResponse(*err, now);
    if (auto err = SelectUser(select, &user_json)) return ErrorResponse(*err, now);
    body.update(user_json);
    return WithJson(200, body);
  }

  // The app's permission for the collection, then the mailbox's access policy; an unknown
  // segment falls through to the routing's 400.
  std::string collection = ToLower(rest[2]);
  if (collection == "calendars") {
    // "List calendars", "Permissions": Calendars.ReadBasic least privileged, then
    // Calendars.Read (and ReadWrite).
    if (auto denied = AccessDenied(*user, {"Calendars.ReadBasic", "Calendars.Read"})) {
      return ErrorResponse(*denied, now);
    }
  }
  std::optional<EntityKind> kind;
  if (collection == "messages" || collection == "mailfolders") {
    kind = EntityKind::kMessage;
  } else if (collection == "events" || collection == "calendar" || collection == "calendarview") {
    kind = EntityKind::kEvent;
  } else if (collection == "contacts" || collection == "contactfolders") {
    kind = EntityKind::kContact;
  }
  if (kind) {
    if (auto denied = AccessDenied(*user, *kind)) return ErrorResponse(*denied, now);
  }
  if (options_.stale_mailbox_for_upn && user_segment != user->id && TakeStaleUpn()) {
    return ErrorResponse(503, "MailboxInfoStale", "Mailbox info is stale.", now);
  }
  // Random faults (a test control) strike before the mailbox serves the request.
  const RandomFault fault = DrawRandomFault();
  switch (fault) {
    case RandomFault::kUnavailable:
      return ErrorResponse(503, "serviceNotAvailable", "Service Unavailable", now);
    case RandomFault::kGatewayTimeout:
      return ErrorResponse(504, "UnknownError", "Gateway Timeout", now);
    case RandomFault::kReset: {
      HttpResponse response;
      response.reset_connection = true;
      return response;
    }
    case RandomFault::kThrottle:
    case RandomFault::kNone:
      break;
  }
  MailboxGovernor::Decision decision =
      governor_.Admit(user->id, now, fault == RandomFault::kThrottle);
  if (decision.verdict != MailboxGovernor::Verdict::kAdmit) {
    return Throttled(decision.cause, options_.throttle_retry_after_seconds, now);
  }
  struct InFlight {
    MailboxGovernor& governor;
    const std::string& mailbox;
    ~InFlight() { governor.Release(mailbox); }
  } in_flight{governor_, user->id};
  if (int64_t latency = latency_ms_.load(); latency > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency));
  }
  MailboxRequest mailbox_request(*this, request, *user, user_segment,
                                 std::vector<std::string>(rest.begin() + 2, rest.end()), now);
  HttpResponse response = mailbox_request.Serve();
  RewriteForeignLinks(request, &response);
  return response;
}

}  // namespace graphsim
