#include "engine/graph/graph_client.h"

#include <httplib.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "engine/base/backoff.h"
#include "engine/base/text.h"
#include "engine/base/turns.h"
#include "engine/graph/token_provider.h"
#include "engine/graph/url.h"

namespace graphmirror::graph {

namespace {

// Idle keep-alive connections kept for reuse. More than the in-flight limit of a few
// mailboxes is wasted: each one also holds a server worker until its keep-alive ends.
constexpr size_t kMaxIdleConnections = 16;
// A Retry-After beyond a day is taken as a day: a typo on the server must not park a
// mailbox for a year.
constexpr double kMaxRetryAfterSeconds = 86'400;

// The error body of the answer: Graph's {"error":{"code":"...","message":"...",
// "innerError":{...}}}; SharePoint REST's {"odata.error":{...}} (JSON light) or
// {"error":{...}} (verbose), whose "message" is an object {"lang","value"}; or
// SharePoint's authentication refusal {"error_description":"..."} (with an OAuth "error"
// string at times).
struct GraphError {
  std::string code;
  std::string message;
};

std::optional<GraphError> ParseGraphError(std::string_view body) {
  if (body.empty()) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return std::nullopt;
  }
  GraphError out;
  std::string_view text;
  simdjson::dom::element error;
  if (root["error"].get(error) == simdjson::SUCCESS && error.is_object()) {
    // Graph, or SharePoint verbose.
  } else if (root["odata.error"].get(error) != simdjson::SUCCESS || !error.is_object()) {
    if (root["error"].get(text) == simdjson::SUCCESS) out.code.assign(text);
    if (root["error_description"].get(text) == simdjson::SUCCESS) out.message.assign(text);
    if (out.code.empty() && out.message.empty()) return std::nullopt;
    return out;
  }
  if (error["code"].get(text) == simdjson::SUCCESS) out.code.assign(text);
  if (error["message"].get(text) == simdjson::SUCCESS ||
      error["message"]["value"].get(text) == simdjson::SUCCESS) {
    out.message.assign(text);
  }
  if (out.code.empty() && out.message.empty()) return std::nullopt;
  return out;
}

// The value of `name="..."` in a WWW-Authenticate header, or "".
std::string AuthParam(std::string_view header, std::string_view name) {
  const std::string needle = std::string(name) + "=\"";
  size_t pos = 0;
  while ((pos = header.find(needle, pos)) != std::string_view::npos) {
    // A whole parameter name, not the tail of another ("error" inside "error_uri").
    if (pos == 0 || header[pos - 1] == ' ' || header[pos - 1] == ',') {
      const size_t start = pos + needle.size();
      const size_t end = header.find('"', start);
      return std::string(header.substr(start, end - start));
    }
    pos += needle.size();
  }
  return "";
}

// IMF-fixdate, the HTTP date form: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<TimePoint> ParseHttpDate(std::string_view s) {
  const size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return std::nullopt;
  s = s.substr(comma + 2);
  if (s.size() != 24 || s.substr(20) != " GMT" || s[2] != ' ' || s[6] != ' ' || s[11] != ' ' ||
      s[14] != ':' || s[17] != ':') {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t n, int* out) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto month_it = std::find(std::begin(kMonths), std::end(kMonths), s.substr(3, 3));
  int day, year, hour, minute, second;
  if (month_it == std::end(kMonths) || !num(0, 2, &day) || !num(7, 4, &year) ||
      !num(12, 2, &hour) || !num(15, 2, &minute) || !num(18, 2, &second) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{
      std::chrono::year{year},
      std::chrono::month{static_cast<unsigned>(month_it - std::begin(kMonths) + 1)},
      std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{hour} +
         std::chrono::minutes{minute} + std::chrono::seconds{second};
}

// Retry-After: delta-seconds (Graph writes fractions, "2.128") or an HTTP date.
std::optional<TimePoint::duration> ParseRetryAfter(std::string_view value, TimePoint now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if ((value.front() >= '0' && value.front() <= '9') || value.front() == '.') {
    const std::string text(value);
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(seconds >= 0)) return std::nullopt;
    return std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::duration<double>(std::min(seconds, kMaxRetryAfterSeconds)));
  }
  auto date = ParseHttpDate(value);
  if (!date) return std::nullopt;
  auto wait = std::max<TimePoint::duration>(*date - now, TimePoint::duration::zero());
  return std::min<TimePoint::duration>(wait,
                                       std::chrono::duration_cast<TimePoint::duration>(
                                           std::chrono::duration<double>(kMaxRetryAfterSeconds)));
}

bool IsRetryable(int status) { return status == 429 || status == 503 || status == 504; }

// What a request waiting after `status` (0: no answer) waits for, as progress lines show it.
const char* WaitReason(int status) {
  switch (status) {
    case 429:
      return "throttled";
    case 503:
      return "service unavailable";
    case 504:
      return "gateway timeout";
    default:
      return "connection failed";
  }
}

// The decoded string value of each `"@odata.nextLink"` / `"@odata.deltaLink"` member in a
// JSON body, passed to `f` until it returns false. A JSON text cannot hold either key
// inside a string value (the closing quote would be escaped), so a match is a member. Only
// the escapes a URL can carry are decoded; others leave a character that fails the check.
template <typename F>
void ForEachLink(std::string_view body, F&& f) {
  // One memchr pass over the '@'s (a few per item: addresses, @odata.etag) is cheaper than
  // a substring search per key on pages of hundreds of KiB.
  static constexpr std::string_view kNext = "@odata.nextLink\"", kDelta = "@odata.deltaLink\"";
  const char* const begin = body.data();
  const char* const end = begin + body.size();
  for (const char* at = begin; (at = static_cast<const char*>(std::memchr(at, '@', end - at)));
       ++at) {
    const std::string_view rest(at, end - at);
    if (at == begin || at[-1] != '"' || !(rest.starts_with(kNext) || rest.starts_with(kDelta))) {
      continue;
    }
    const size_t from = (at - begin) + (rest.starts_with(kNext) ? kNext.size() : kDelta.size());
    size_t i = from;
    auto skip_space = [&] {
      while (i < body.size() &&
             (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) {
        ++i;
      }
    };
    skip_space();
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    skip_space();
    if (i >= body.size() || body[i] != '"') continue;
    std::string value;
    for (++i; i < body.size() && body[i] != '"'; ++i) {
      if (body[i] != '\\') {
        value += body[i];
        continue;
      }
      if (++i >= body.size()) break;
      const char c = body[i];
      if (c == 'u' && i + 4 < body.size()) {
        const unsigned code = std::strtoul(std::string(body.substr(i + 1, 4)).c_str(), nullptr, 16);
        value += code > 0 && code < 0x80 ? static_cast<char>(code) : '\x01';
        i += 4;
      } else {
        value += c == '/' || c == '\\' || c == '"' ? c : '\x01';
      }
    }
    if (!f(value)) return;
  }
}

// The Status of a final error answer other than 401; `detail` names code, message and request.
Status StatusForHttp(int status, std::string detail) {
  switch (status) {
    case 400:
      return Status::InvalidArgument(std::move(detail));
    case 403:
      return Status::PermissionDenied(std::move(detail));
    case 404:
      return Status::NotFound(std::move(detail));
    default:
      return Status::Unavailable(std::move(detail));
  }
}

}  // namespace

// Per-mailbox request budget: a counting semaphore for the in-flight limit and the
// Retry-After fence every request of the mailbox honours before it is sent.
struct Mailbox {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  TimePoint fence{};
  int fence_status = 0;  // the answer that put the fence up
};

struct GraphClient::Impl {
  std::atomic<bool> cancelled{false};  // SetCancelled
  Impl(ClientOptions opts, Clock* clk)
      : options(std::move(opts)),
        clock(clk),
        tokens(options, clock, &stats.token_requests),
        rng(std::random_device{}()) {
    options.max_in_flight_per_mailbox = std::max(1, options.max_in_flight_per_mailbox);
    options.max_attempts = std::max(0, options.max_attempts);
    options.max_retry_wait = std::max(std::chrono::milliseconds(0), options.max_retry_wait);
    auto url = ParseUrl(options.base_url);
    if (!url.ok()) {
      config_error = Status::InvalidArgument("base_url: " + url.status().message());
      return;
    }
    base = std::move(url.value());
    base_path = std::string(base.Path());
    while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
    origin = base.Origin();
    // What messages show: the configured spelling, not the normalized origin.
    shown_prefix =
        options.base_url.substr(0, options.base_url.find('/', options.base_url.find("://") + 3));
  }

  Result<std::string> ResolveTarget(std::string_view path_or_url) const;
  Mailbox& MailboxFor(std::string_view mailbox);
  void AcquireSlot(Mailbox& mb);
  void ReleaseSlot(Mailbox& mb);
  // Waits until the mailbox's fence has passed. False (without waiting) if the fence lies
  // beyond `deadline`.
  bool WaitForFence(Mailbox& mb, TimePoint deadline);
  std::chrono::milliseconds BackoffDelay(int retry);
  // Sleeps until `until`, shown by Waiting() with `reason` meanwhile.
  void WaitUntil(TimePoint until, const char* reason);
  // Counts and logs a link off the Graph origin that was refused.
  Status RefuseLink(const std::string& link_origin, const std::string& where);
  std::unique_ptr<httplib::Client> TakeConnection();
  void ReturnConnection(std::unique_ptr<httplib::Client> client);
  Result<Response> Send(const Request& request);

  ClientOptions options;
  Clock* const clock;
  ClientStats stats;  // before `tokens`, which counts into it
  TokenProvider tokens;
  Status config_error;
  Url base;
  std::string base_path;  // "/v1.0", no trailing slash
  std::string origin;     // "https://graph.microsoft.com:443"
  std::string shown_prefix;

  std::mutex mailboxes_mu;
  std::map<std::string, std::unique_ptr<Mailbox>, std::less<>> mailboxes;

  // httplib::Client sends one request at a time: each request takes a client (and its
  // keep-alive connection) from here and gives it back when done.
  std::mutex pool_mu;
  std::vector<std::unique_ptr<httplib::Client>> idle;

  std::mutex rng_mu;
  std::mt19937_64 rng;

  struct Wait {
    TimePoint until;
    const char* reason;
  };
  mutable std::mutex waits_mu;
  std::map<uint64_t, Wait> waits;  // guarded by waits_mu
  uint64_t next_wait = 0;          // guarded by waits_mu
};

Result<std::string> GraphClient::Impl::ResolveTarget(std::string_view path_or_url) const {
  std::string target;
  // Anything with a scheme ("ftp:", "mailto:") is a URL, and only http(s) ones can pass.
  const size_t colon = path_or_url.find(':');
  const bool has_scheme =
      colon != std::string_view::npos && colon > 0 && colon < path_or_url.find_first_of("/?#");
  if (has_scheme || IsAbsoluteUrl(path_or_url)) {
    auto url = ParseUrl(path_or_url);
    if (!url.ok()) return url.status();
    // The token goes wherever this request goes: only to the configured Graph origin.
    if (url->scheme != base.scheme || url->host != base.host || url->port != base.port) {
      return Status::InvalidArgument("refusing to send the token to " + url->Origin() +
                                     ", not the Graph host " + origin);
    }
    target = std::move(url->target);
  } else {
    if (path_or_url.substr(0, 2) == "//") {
      return Status::InvalidArgument("protocol-relative link \"" + OneLine(path_or_url, 100) +
                                     "\" refused");
    }
    if (!IsSafeTarget(path_or_url)) {
      return Status::InvalidArgument("request path \"" + OneLine(path_or_url, 100) +
                                     "\" has whitespace or control characters");
    }
    target = base_path;
    if (path_or_url.empty() || path_or_url.front() != '/') target += '/';
    target += path_or_url;
  }
  // The path must stay under the base path, segment by segment: "/v1.0evil" and
  // "/v1.0/../beta" are not "/v1.0".
  std::string_view path = std::string_view(target).substr(0, target.find('?'));
  if (path.substr(0, base_path.size()) != base_path ||
      (path.size() > base_path.size() && path[base_path.size()] != '/')) {
    return Status::InvalidArgument("link path " + OneLine(path, 100) + " is outside " +
                                   (base_path.empty() ? "/" : base_path));
  }
  if (path.find("/../") != std::string_view::npos || path.ends_with("/..") ||
      path.find("/./") != std::string_view::npos || path.ends_with("/.")) {
    return Status::InvalidArgument("link path " + OneLine(path, 100) + " has dot segments");
  }
  return target;
}

Mailbox& GraphClient::Impl::MailboxFor(std::string_view mailbox) {
  std::lock_guard<std::mutex> lock(mailboxes_mu);
  auto it = mailboxes.find(mailbox);
  if (it == mailboxes.end()) {
    it = mailboxes.emplace(std::string(mailbox), std::make_unique<Mailbox>()).first;
  }
  return *it->second;  // never erased: the address stays valid
}

void GraphClient::Impl::AcquireSlot(Mailbox& mb) {
  std::unique_lock<std::mutex> lock(mb.mu);
  mb.cv.wait(lock, [&] { return mb.in_flight < options.max_in_flight_per_mailbox; });
  ++mb.in_flight;
}

void GraphClient::Impl::ReleaseSlot(Mailbox& mb) {
  {
    std::lock_guard<std::mutex> lock(mb.mu);
    --mb.in_flight;
  }
  mb.cv.notify_one();
}

bool GraphClient::Impl::WaitForFence(Mailbox& mb, TimePoint deadline) {
  for (;;) {
    TimePoint fence;
    int status;
    {
      std::lock_guard<std::mutex> lock(mb.mu);
      fence = mb.fence;
      status = mb.fence_status;
    }
    if (clock->Now() >= fence) return true;
    if (fence > deadline) return false;
    // Another request may push the fence further while this one sleeps: check again.
    WaitUntil(fence, WaitReason(status));
    if (cancelled.load()) return false;
  }
}

std::chrono::milliseconds GraphClient::Impl::BackoffDelay(int retry) {
  double unit;
  {
    std::lock_guard<std::mutex> lock(rng_mu);
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
  return Backoff{options.initial_backoff, options.max_backoff}.Jittered(retry, unit);
}

void GraphClient::Impl::WaitUntil(TimePoint until, const char* reason) {
  const TimePoint from = clock->Now();
  if (until <= from) return;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(waits_mu);
    id = next_wait++;
    waits.emplace(id, Wait{until, reason});
  }
  // In slices, so that SetCancelled(true) ends a long wait soon.
  constexpr auto kSlice = std::chrono::milliseconds(250);
  for (TimePoint now = from; now < until && !cancelled.load(); now = clock->Now()) {
    clock->SleepUntil(std::min<TimePoint>(until, now + kSlice));
  }
  {
    std::lock_guard<std::mutex> lock(waits_mu);
    waits.erase(id);
  }
  stats.retry_wait_micros.fetch_add(
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(until - from).count()),
      std::memory_order_relaxed);
}

Status GraphClient::Impl::RefuseLink(const std::string& link_origin, const std::string& where) {
  stats.foreign_links_refused.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("graph: refused a link to {} ({}): the token goes only to the Graph host {}",
                OneLine(link_origin, 200), where, shown_prefix);
  return Status::InvalidArgument("refusing to send the token to " + OneLine(link_origin, 200) +
                                 ", not the Graph host " + origin + " (" + where + ")");
}

std::unique_ptr<httplib::Client> GraphClient::Impl::TakeConnection() {
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (!idle.empty()) {
      auto client = std::move(idle.back());
      idle.pop_back();
      return client;
    }
  }
  auto client = std::make_unique<httplib::Client>(origin);
  client->set_connection_timeout(options.connect_timeout);
  client->set_read_timeout(options.read_timeout);
  client->set_write_timeout(options.read_timeout);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);       // a request's headers and body are separate writes
  client->set_follow_location(false);  // a redirect would carry the token elsewhere
  client->set_url_encode(false);       // paths and nextLinks come encoded already
  client->enable_server_certificate_verification(true);
  return client;
}

void GraphClient::Impl::ReturnConnection(std::unique_ptr<httplib::Client> client) {
  std::lock_guard<std::mutex> lock(pool_mu);
  if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(client));
}

Result<Response> GraphClient::Impl::Send(const Request& call) {
  if (!config_error.ok()) return config_error;
  auto resolved = ResolveTarget(call.path_or_url);
  if (!resolved.ok()) {
    if (auto url = ParseUrl(call.path_or_url);
        url.ok() &&
        (url->scheme != base.scheme || url->host != base.host || url->port != base.port)) {
      return RefuseLink(url->Origin(), "a link to follow, for " + std::string(call.mailbox));
    }
    return resolved.status();
  }
  const std::string& target = resolved.value();
  const std::string request = call.method + " " + OneLine(shown_prefix + target, 200);
  const std::string_view mailbox = call.mailbox;
  Mailbox& mb = MailboxFor(mailbox);

  std::string prefer = "IdType=\"ImmutableId\"";
  if (call.max_page_size > 0) prefer += ", odata.maxpagesize=" + std::to_string(call.max_page_size);
  if (!options.body_content_type.empty()) {
    prefer += ", outlook.body-content-type=\"" + options.body_content_type + "\"";
  }
  bool token_renewed = false;
  int attempts = 0;  // sends and token fetches that failed transiently count
  std::string last_problem;
  // The retry bound runs from the request's first transient failure; until then, a fence
  // another request put up may be waited out as long as it is within the bound from now.
  std::optional<TimePoint> first_failure;
  auto deadline = [&] {
    return (first_failure ? *first_failure : clock->Now()) + options.max_retry_wait;
  };
  bool out_of_time = false;
  // After a transient failure: false if the request must give up now, else waits
  // (`resume`: when the next attempt may go; the fence also holds it back).
  auto may_retry = [&](std::optional<TimePoint> resume, int status) {
    if (!first_failure) first_failure = clock->Now();
    if (options.max_attempts > 0 && attempts >= options.max_attempts) return false;
    if (resume && *resume > deadline()) {
      out_of_time = true;
      return false;
    }
    if (cancelled.load()) return false;
    stats.retries.fetch_add(1, std::memory_order_relaxed);
    if (resume) WaitUntil(*resume, WaitReason(status));
    return !cancelled.load();
  };
  for (;;) {
    ++attempts;
    Result<std::string> token = tokens.GetToken();
    if (!token.ok()) {
      if (token.status().code() != Status::Code::kUnavailable) return token.status();
      last_problem = token.status().message();
      if (!may_retry(clock->Now() + BackoffDelay(attempts), 0)) break;
      continue;
    }

    httplib::Headers headers{{"Authorization", "Bearer " + token.value()},
                             {"Prefer", prefer},
                             {"Accept", "application/json"},
                             {"User-Agent", "graphmirror/0.1"}};
    std::string exception_text;
    std::optional<TimePoint::duration> retry_after;
    AcquireSlot(mb);
    if (!WaitForFence(mb, deadline())) {
      ReleaseSlot(mb);
      out_of_time = true;
      if (last_problem.empty()) {
        std::lock_guard<std::mutex> lock(mb.mu);
        last_problem = "the mailbox waits out a Retry-After of an HTTP " +
                       std::to_string(mb.fence_status) + " (" + WaitReason(mb.fence_status) + ")";
      }
      break;
    }
    auto connection = TakeConnection();
    stats.requests.fetch_add(1, std::memory_order_relaxed);
    httplib::Result result = [&] {
      try {
        if (call.method == "GET") return connection->Get(target, headers);
        if (call.method == "DELETE") return connection->Delete(target, headers);
        const char* type = "application/json";
        if (call.method == "POST") return connection->Post(target, headers, call.body, type);
        if (call.method == "PATCH") return connection->Patch(target, headers, call.body, type);
        throw std::invalid_argument("unsupported method " + call.method);
      } catch (const std::exception& e) {
        exception_text = OneLine(e.what());
        return httplib::Result(nullptr, httplib::Error::Unknown);
      }
    }();
    if (result && IsRetryable(result->status) && result->has_header("Retry-After")) {
      retry_after = ParseRetryAfter(result->get_header_value("Retry-After"), clock->Now());
      if (retry_after) {
        // Set before the slot is given back, so that no request of this mailbox slips
        // out between this answer and the fence.
        std::lock_guard<std::mutex> lock(mb.mu);
        const TimePoint fence = clock->Now() + *retry_after;
        if (fence > mb.fence) {
          mb.fence = fence;
          mb.fence_status = result->status;
        }
      }
    }
    ReleaseSlot(mb);
    if (result) ReturnConnection(std::move(connection));  // else: a broken connection

    stats.by_status_class[result ? std::clamp(result->status / 100, 1, 5) : 0].fetch_add(
        1, std::memory_order_relaxed);
    if (!result) {
      last_problem = exception_text.empty()
                         ? "connection failed: " + httplib::to_string(result.error())
                         : "request failed: " + exception_text;
      spdlog::debug("graph: {} ({}): {}", request, mailbox, last_problem);
      if (result.error() == httplib::Error::SSLServerVerification) {
        return Status::Unavailable("TLS certificate of " + base.host + " not trusted (" + request +
                                   ")");
      }
      if (!may_retry(clock->Now() + BackoffDelay(attempts), 0)) break;
      continue;
    }

    const int status = result->status;
    spdlog::debug("graph: {} ({}) -> {}", request, mailbox, status);
    auto as_response = [&] {
      Response response;
      response.status = status;
      response.body = std::move(result->body);
      for (const auto& [name, value] : result->headers) {
        response.headers.emplace(AsciiLower(name), value);
      }
      return response;
    };
    if (status >= 200 && status < 300) {
      // A page whose links lead off the Graph host is refused whole: following them would
      // hand the token over, and a page that cannot be followed is no complete answer.
      std::string foreign;
      ForEachLink(result->body, [&](const std::string& link) {
        // A relative link stays on this origin (following it resolves it against base_url).
        const size_t colon = link.find(':');
        const bool has_scheme =
            colon != std::string::npos && colon > 0 && colon < link.find_first_of("/?#");
        if (!has_scheme && link.substr(0, 2) != "//") return true;
        auto url = ParseUrl(link);
        if (url.ok() && url->scheme == base.scheme && url->host == base.host &&
            url->port == base.port) {
          return true;
        }
        foreign = url.ok() ? url->Origin() : "\"" + OneLine(link, 100) + "\"";
        return false;
      });
      if (!foreign.empty()) return RefuseLink(foreign, "in the answer to " + request);
      return as_response();
    }

    const std::optional<GraphError> error = ParseGraphError(result->body);
    const bool unauthorized_for_good = status == 401 && token_renewed;
    if ((call.return_client_errors && status >= 400 && status < 500 && status != 401 &&
         !IsRetryable(status)) ||
        (call.return_server_errors && status >= 500 && !IsRetryable(status)) ||
        (call.return_unauthorized && unauthorized_for_good)) {
      Response response = as_response();
      if (error) {
        response.error_code = error->code;
        response.error_message = OneLine(error->message);
      }
      return response;
    }
    std::string detail =
        error ? OneLine(error->code, 80) + ": " + OneLine(error->message) : "no error body";

    if (status == 401 && !token_renewed) {
      // Expired or revoked early: renew once (shared with concurrent callers) and retry.
      tokens.Invalidate(token.value());
      token_renewed = true;
      --attempts;
      continue;
    }
    if (IsRetryable(status)) {
      if (status == 429) stats.throttled.fetch_add(1, std::memory_order_relaxed);
      last_problem = "HTTP " + std::to_string(status) + " " + detail;
      // With Retry-After the fence set above holds the next attempt back.
      if (!may_retry(
              retry_after ? clock->Now() + *retry_after : clock->Now() + BackoffDelay(attempts),
              status)) {
        break;
      }
      continue;
    }

    if (status != 401) {
      return StatusForHttp(status,
                           detail + " (HTTP " + std::to_string(status) + ", " + request + ")");
    }
    // 401 again after a renewal: name the cause Graph gives in WWW-Authenticate (expired,
    // wrong audience, ...).
    std::string challenge;
    if (result->has_header("WWW-Authenticate")) {
      const std::string header = result->get_header_value("WWW-Authenticate");
      const std::string code = AuthParam(header, "error");
      const std::string description = AuthParam(header, "error_description");
      if (!code.empty() || !description.empty()) {
        challenge = " [" + OneLine(code, 60) +
                    (description.empty() ? "" : ": " + OneLine(description, 200)) + "]";
      }
    }
    return Status::Unauthenticated(detail + challenge + " (HTTP 401 after a token renewal, " +
                                   request + ")");
  }
  if (cancelled.load()) {
    return Status::Cancelled("stopped while retrying, last: " + last_problem + " (" + request +
                             ")");
  }
  std::string why;
  if (out_of_time) {
    const double waited =
        first_failure ? std::chrono::duration<double>(clock->Now() - *first_failure).count() : 0;
    char text[160];
    std::snprintf(text, sizeof text, " over %.1f s (no answer within the retry bound of %.0f s)",
                  waited, std::chrono::duration<double>(options.max_retry_wait).count());
    why = text;
  }
  return Status::Unavailable("gave up after " + std::to_string(attempts) + " attempts" + why +
                             ", last: " + last_problem + " (" + request + ")");
}

bool IsExpiredDeltaToken(const Response& r) {
  if (r.status == 410) return true;
  if (r.status != 400) return false;
  const std::string code = AsciiLower(r.error_code);
  return code == "syncstatenotfound" || code == "resyncrequired" || code == "syncstateinvalid";
}

Status ClientErrorStatus(const Response& response, std::string_view what) {
  std::string detail = response.error_code.empty()
                           ? std::string("no error body")
                           : response.error_code + ": " + response.error_message;
  return StatusForHttp(response.status, detail + " (HTTP " + std::to_string(response.status) +
                                            ", " + std::string(what) + ")");
}

std::optional<TimePoint> ServerDate(const Response& response) {
  auto it = response.headers.find("date");
  if (it == response.headers.end()) return std::nullopt;
  return ParseHttpDate(it->second);
}

GraphClient::GraphClient(ClientOptions options, Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}

GraphClient::~GraphClient() = default;

Result<Response> GraphClient::Get(std::string_view mailbox, std::string_view path_or_url) {
  Request request;
  request.mailbox = std::string(mailbox);
  request.path_or_url = std::string(path_or_url);
  return Send(request);
}

Result<Response> GraphClient::Send(const Request& request) {
  Turns::NextTurn();  // a pass's collections take turns (engine/base/turns.h)
  try {
    return impl_->Send(request);
  } catch (const std::exception& e) {
    return Status::Internal("graph client: " + OneLine(e.what()));
  }
}

void GraphClient::SetCancelled(bool cancelled) { impl_->cancelled.store(cancelled); }

Status GraphClient::CheckCredentials() { return AccessToken().status(); }

Result<std::string> GraphClient::AccessToken() {
  try {
    return impl_->tokens.GetToken();
  } catch (const std::exception& e) {
    return Status::Internal("graph client: " + OneLine(e.what()));
  }
}

const ClientStats& GraphClient::stats() const { return impl_->stats; }

WaitState GraphClient::Waiting() const {
  WaitState state;
  const TimePoint now = impl_->clock->Now();
  std::lock_guard<std::mutex> lock(impl_->waits_mu);
  for (const auto& [id, wait] : impl_->waits) {
    ++state.requests;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wait.until - now);
    if (state.reason.empty() || left > state.longest_left) {
      state.longest_left = std::max(left, std::chrono::milliseconds(0));
      state.reason = wait.reason;
    }
  }
  return state;
}

}  // namespace graphmirror::graph
