#include "engine/graph/graph_client.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <thread>
#include <vector>

#include "tests/unit/graph_test_server.h"

namespace graphmirror::graph {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Arrival;
using testing::FakeGraph;
using testing::GraphError;

TimePoint Start() { return TimePoint{} + std::chrono::hours(24 * 365 * 56); }

// A clock whose SleepUntil blocks until the test moves time past the deadline, so a test
// can look at the world while requests wait on a fence.
class GateClock final : public Clock {
 public:
  explicit GateClock(TimePoint start) : now_(start) {}
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void SleepUntil(TimePoint deadline) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++sleepers_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return now_ >= deadline; });
    --sleepers_;
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += std::chrono::duration_cast<TimePoint::duration>(d);
    cv_.notify_all();
  }
  // Waits (really) until `n` callers sleep; false after 5 s.
  bool WaitForSleepers(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(5), [&] { return sleepers_ == n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  TimePoint now_;
  int sleepers_ = 0;
};

// Answers each request from a list of (status, Retry-After) in order, then 200.
struct Script {
  struct Step {
    int status;
    std::string retry_after;  // empty: no header
  };
  std::vector<Step> steps;
  std::atomic<size_t> next{0};

  FakeGraph::Handler Handler() {
    return [this](const httplib::Request&, httplib::Response& res) {
      const size_t i = next++;
      if (i >= steps.size()) {
        res.set_content(R"({"value":[]})", "application/json");
        return;
      }
      GraphError(res, steps[i].status,
                 steps[i].status == 429 ? "TooManyRequests" : "ServiceUnavailable", "try later");
      if (!steps[i].retry_after.empty()) res.set_header("Retry-After", steps[i].retry_after);
    };
  }
};

TEST_CASE("client: every request carries the token, Prefer and Accept headers", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Custom-Header", "yes");
    res.set_content(R"({"value":[],"@odata.nextLink":"x"})", "application/json");
  });
  GraphClient client(graph.Options(), &clock);

  auto r = client.Get(
      "a", "/users/a/messages?$top=5&$filter=createdDateTime%20ge%202026-01-01T00:00:00Z");
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == R"({"value":[],"@odata.nextLink":"x"})");
  CHECK(r->headers.count("x-custom-header") == 1);
  CHECK(r->headers.find("x-custom-header")->second == "yes");
  CHECK(r->headers.count("content-type") == 1);

  // A nextLink on the same origin (any case of scheme and host) is followed.
  auto next = client.Get("a", "HTTP://127.0.0.1:" + std::to_string(graph.port()) +
                                  "/v1.0/users/a/messages?$skiptoken=abc%3D%3D");
  REQUIRE(next.ok());
  // A relative path without its leading slash works too.
  REQUIRE(client.Get("a", "users/a/contacts").ok());

  auto arrivals = graph.arrivals();
  REQUIRE(arrivals.size() == 3);
  CHECK(arrivals[0].target ==
        "/v1.0/users/a/messages?$top=5&$filter=createdDateTime%20ge%202026-01-01T00:00:00Z");
  CHECK(arrivals[1].target == "/v1.0/users/a/messages?$skiptoken=abc%3D%3D");
  CHECK(arrivals[2].target == "/v1.0/users/a/contacts");
  for (const Arrival& a : arrivals) {
    CHECK(a.authorization == "Bearer tok-1");
    // Bodies as HTML, the default of ClientOptions: the form delta rounds serve.
    CHECK(a.prefer == "IdType=\"ImmutableId\", outlook.body-content-type=\"html\"");
    CHECK(a.accept == "application/json");
  }
  ClientOptions none = graph.Options();
  none.body_content_type = "";
  GraphClient plain(none, &clock);
  REQUIRE(plain.Get("a", "/users/a/contacts").ok());
  CHECK(graph.arrivals().back().prefer == "IdType=\"ImmutableId\"");
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().token_requests == 1);
  CHECK(client.stats().retries == 0);
  CHECK(client.stats().throttled == 0);
}

TEST_CASE("client: the token is cached and renewed by the clock", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  GraphClient client(graph.Options(), &clock);  // renew 300 s ahead of 3600 s
  REQUIRE(client.Get("a", "/users/a/messages").ok());
  REQUIRE(client.Get("a", "/users/a/messages").ok());
  clock.Advance(seconds(3301));
  REQUIRE(client.Get("a", "/users/a/messages").ok());
  auto arrivals = graph.arrivals();
  REQUIRE(arrivals.size() == 3);
  CHECK(arrivals[1].authorization == "Bearer tok-1");
  CHECK(arrivals[2].authorization == "Bearer tok-2");
  CHECK(client.stats().token_requests == 2);
}

TEST_CASE("client: a 401 renews the token once and retries", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") == "Bearer tok-1") {
      GraphError(res, 401, "InvalidAuthenticationToken", "Access token has expired.");
      return;
    }
    res.set_content(R"({"value":[]})", "application/json");
  });
  GraphClient client(graph.Options(), &clock);
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE(r.ok());
  CHECK(graph.token_posts == 2);
  CHECK(graph.arrivals().size() == 2);
  CHECK(client.stats().retries == 0);
}

TEST_CASE("client: a second 401 gives up with Unauthenticated naming the cause", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    GraphError(res, 401, "InvalidAuthenticationToken", "Access token validation failure.");
    res.set_header("WWW-Authenticate",
                   R"(Bearer realm="", authorization_uri="https://login.microsoftonline.com/)"
                   R"(common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000",)"
                   R"( error="invalid_token", error_description="Invalid audience.")");
  });
  GraphClient client(graph.Options(), &clock);
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE_FALSE(r.ok());
  const Status& s = r.status();
  INFO(s.message());
  CHECK(s.code() == Status::Code::kUnauthenticated);
  CHECK(s.message().find("InvalidAuthenticationToken") != std::string::npos);
  CHECK(s.message().find("invalid_token: Invalid audience.") != std::string::npos);
  CHECK(s.message().find("/v1.0/users/a/messages") != std::string::npos);
  CHECK(s.message().find("tok-") == std::string::npos);
  CHECK(graph.token_posts == 2);
  CHECK(graph.arrivals().size() == 2);
}

TEST_CASE("client: a wrong secret fails clearly and sends nothing to Graph", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  ClientOptions options = graph.Options();
  options.client_secret = "not-the-secret";
  GraphClient client(options, &clock);

  Status check = client.CheckCredentials();
  CHECK(check.code() == Status::Code::kUnauthenticated);
  CHECK(check.message().find("AADSTS7000215") != std::string::npos);
  CHECK(check.message().find('\n') == std::string::npos);

  auto r = client.Get("a", "/users/a/messages");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnauthenticated);
  CHECK(r.status().message().find("AADSTS7000215") != std::string::npos);
  CHECK(r.status().message().find("not-the-secret") == std::string::npos);
  CHECK(graph.arrivals().empty());
  CHECK(graph.token_posts == 2);  // not retried as if transient

  ClientOptions good = graph.Options();
  GraphClient ok_client(good, &clock);
  CHECK(ok_client.CheckCredentials().ok());
}

TEST_CASE("client: a fractional Retry-After is honoured before the retry", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  Script script{{{429, "2.128"}}};
  graph.SetGraphHandler(script.Handler());
  GraphClient client(graph.Options(), &clock);
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE(r.ok());
  auto arrivals = graph.arrivals();
  REQUIRE(arrivals.size() == 2);
  CHECK(arrivals[1].at - arrivals[0].at >= milliseconds(2128));
  CHECK(arrivals[1].at - arrivals[0].at < milliseconds(2200));  // no backoff on top
  CHECK(client.stats().throttled == 1);
  CHECK(client.stats().retries == 1);
  CHECK(client.stats().requests == 2);
}

TEST_CASE("client: Retry-After as an HTTP date", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  // Start() + 7 s, as an IMF-fixdate. Start() is 2025-12-18T00:00:00Z (56 * 365 days).
  const auto start_days = std::chrono::floor<std::chrono::days>(Start());
  const std::chrono::year_month_day ymd{start_days};
  REQUIRE(ymd == std::chrono::year_month_day{std::chrono::year{2025}, std::chrono::December,
                                             std::chrono::day{18}});
  Script script{{{503, "Thu, 18 Dec 2025 00:00:07 GMT"}}};
  graph.SetGraphHandler(script.Handler());
  GraphClient client(graph.Options(), &clock);
  REQUIRE(client.Get("a", "/users/a/messages").ok());
  auto arrivals = graph.arrivals();
  REQUIRE(arrivals.size() == 2);
  CHECK(arrivals[1].at - arrivals[0].at == seconds(7));
}

TEST_CASE("client: one mailbox's Retry-After fence holds its other requests, not others'",
          "[client]") {
  GateClock clock(Start());
  FakeGraph graph(&clock);
  std::atomic<int> first_calls{0};
  graph.SetGraphHandler([&](const httplib::Request& req, httplib::Response& res) {
    if (req.target.find("first") != std::string::npos && first_calls++ == 0) {
      GraphError(res, 429, "ApplicationThrottled",
                 "Application is over its MailboxConcurrency limit.");
      res.set_header("Retry-After", "30");
      return;
    }
    res.set_content(R"({"value":[]})", "application/json");
  });
  GraphClient client(graph.Options(), &clock);
  REQUIRE(client.CheckCredentials().ok());

  std::thread first([&] { CHECK(client.Get("a", "/users/a/messages?first").ok()); });
  REQUIRE(clock.WaitForSleepers(1));  // the throttled request waits for its fence
  std::thread second([&] { CHECK(client.Get("a", "/users/a/messages?second").ok()); });
  REQUIRE(clock.WaitForSleepers(2));  // so does a new request of the same mailbox
  CHECK(graph.arrivals_of("a").size() == 1);

  // Another mailbox is not throttled.
  REQUIRE(client.Get("b", "/users/b/messages").ok());
  REQUIRE(graph.arrivals_of("b").size() == 1);
  CHECK(graph.arrivals_of("b")[0].at == Start());

  clock.Advance(seconds(30));
  first.join();
  second.join();
  auto a = graph.arrivals_of("a");
  REQUIRE(a.size() == 3);
  CHECK(a[0].at == Start());
  CHECK(a[1].at >= Start() + seconds(30));
  CHECK(a[2].at >= Start() + seconds(30));
  CHECK(client.stats().throttled == 1);
}

TEST_CASE("client: at most 4 requests in flight per mailbox", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.hold = milliseconds(50);
  GraphClient client(graph.Options(), &clock);
  REQUIRE(client.CheckCredentials().ok());

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      if (client.Get("a", "/users/a/messages?i=" + std::to_string(i)).ok()) ++ok;
    });
    threads.emplace_back([&, i] {
      if (client.Get("b", "/users/b/messages?i=" + std::to_string(i)).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 32);
  CHECK(graph.peak_in_flight("a") <= 4);
  CHECK(graph.peak_in_flight("b") <= 4);
  // The limit is a budget, not a lock: four do run at once.
  CHECK(graph.peak_in_flight("a") == 4);
  CHECK(graph.peak_in_flight("b") == 4);
}

TEST_CASE("client: exponential backoff with jitter when no Retry-After comes", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  Script script{{{503, ""}, {504, ""}, {429, ""}, {503, ""}, {503, ""}}};
  graph.SetGraphHandler(script.Handler());
  ClientOptions options = graph.Options();
  options.initial_backoff = milliseconds(500);
  options.max_backoff = milliseconds(3000);
  GraphClient client(options, &clock);
  REQUIRE(client.Get("a", "/users/a/messages").ok());
  auto arrivals = graph.arrivals();
  REQUIRE(arrivals.size() == 6);
  // Retry n waits between half and all of min(initial * 2^(n-1), max).
  const milliseconds full[] = {milliseconds(500), milliseconds(1000), milliseconds(2000),
                               milliseconds(3000), milliseconds(3000)};
  for (size_t i = 0; i < 5; ++i) {
    auto gap = arrivals[i + 1].at - arrivals[i].at;
    INFO("retry " << i + 1 << " after " << std::chrono::duration_cast<milliseconds>(gap).count()
                  << " ms");
    CHECK(gap >= full[i] / 2);
    CHECK(gap <= full[i]);
  }
  CHECK(client.stats().retries == 5);
  CHECK(client.stats().throttled == 1);
}

TEST_CASE("client: gives up after max_attempts with Unavailable", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    GraphError(res, 503, "ServiceUnavailable", "Mailbox info is stale.");
  });
  ClientOptions options = graph.Options();
  options.max_attempts = 3;
  GraphClient client(options, &clock);
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE_FALSE(r.ok());
  INFO(r.status().message());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK(r.status().message().find("gave up after 3 attempts") != std::string::npos);
  CHECK(r.status().message().find("ServiceUnavailable") != std::string::npos);
  CHECK(r.status().message().find("/v1.0/users/a/messages") != std::string::npos);
  CHECK(graph.arrivals().size() == 3);
  CHECK(client.stats().retries == 2);
}

TEST_CASE("client: connection failures are retried, then Unavailable", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  ClientOptions options = graph.Options();
  options.base_url = "http://127.0.0.1:1/v1.0";  // nothing listens there
  options.max_attempts = 3;
  GraphClient client(options, &clock);
  const TimePoint before = clock.Now();
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK(r.status().message().find("connection failed") != std::string::npos);
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().retries == 2);
  CHECK(clock.Now() - before >= milliseconds(250 + 500));  // backed off in between
}

TEST_CASE("client: links off the Graph origin are refused before anything is sent", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  GraphClient client(graph.Options(), &clock);
  const std::string port = std::to_string(graph.port());
  const std::string refused[] = {
      "https://evil.example.com/v1.0/users/a/messages?$skiptoken=1",
      "http://evil.example.com/v1.0/users/a/messages",
      "https://127.0.0.1:" + port + "/v1.0/users/a/messages",  // other scheme
      "http://127.0.0.1:" + std::to_string(graph.port() == 65535 ? 1 : graph.port() + 1) +
          "/v1.0/users/a/messages",                             // other port
      "http://localhost:" + port + "/v1.0/users/a/messages",    // other host name
      "http://127.0.0.1:" + port + "@evil.example.com/v1.0/x",  // user info trick
      "http://127.0.0.1:" + port + "/beta/users/a/messages",    // outside the base path
      "http://127.0.0.1:" + port + "/v1.0evil/users",
      "http://127.0.0.1:" + port + "/v1.0/../beta/users",
      "//evil.example.com/v1.0/users",
      "/users/a/messages HTTP/1.1\r\nHost: evil",
      "ftp://127.0.0.1:" + port + "/v1.0/users",
  };
  for (const std::string& link : refused) {
    INFO(link);
    auto r = client.Get("a", link);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().find('\n') == std::string::npos);
  }
  CHECK(graph.arrivals().empty());
  CHECK(graph.token_posts == 0);
  CHECK(client.stats().requests == 0);
}

TEST_CASE("client: error answers map to Status codes with Graph's error code", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request& req, httplib::Response& res) {
    const std::string& t = req.target;
    if (t.find("bad") != std::string::npos) {
      GraphError(res, 400, "InefficientFilter",
                 "The restriction or sort order is too complex for this operation.");
    } else if (t.find("forbidden") != std::string::npos) {
      GraphError(res, 403, "ErrorAccessDenied", "Access is denied. Check credentials.");
    } else if (t.find("missing") != std::string::npos) {
      GraphError(res, 404, "ErrorItemNotFound", "The specified object was not found.");
    } else if (t.find("broken") != std::string::npos) {
      GraphError(res, 500, "generalException", "Line one\\nline two");
    } else {
      res.status = 400;
      res.set_content("<html>Bad Request</html>", "text/html");
    }
  });
  GraphClient client(graph.Options(), &clock);

  auto bad = client.Get("a", "/users/a/messages?bad");
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK(bad.status().message().rfind("InefficientFilter: The restriction", 0) == 0);
  CHECK(bad.status().message().find("GET ") != std::string::npos);
  CHECK(bad.status().message().find("/v1.0/users/a/messages?bad") != std::string::npos);

  auto forbidden = client.Get("a", "/users/a/forbidden");
  CHECK(forbidden.status().code() == Status::Code::kPermissionDenied);
  CHECK(forbidden.status().message().find("ErrorAccessDenied") != std::string::npos);

  auto missing = client.Get("a", "/users/a/missing");
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find("ErrorItemNotFound") != std::string::npos);

  auto broken = client.Get("a", "/users/a/broken");
  CHECK(broken.status().code() == Status::Code::kUnavailable);
  CHECK(broken.status().message().find("generalException") != std::string::npos);
  CHECK(broken.status().message().find('\n') == std::string::npos);

  auto html = client.Get("a", "/users/a/html");
  CHECK(html.status().code() == Status::Code::kInvalidArgument);
  CHECK(html.status().message().find("HTTP 400") != std::string::npos);

  CHECK(graph.arrivals().size() == 5);  // none of these is retried
  CHECK(client.stats().retries == 0);
}

TEST_CASE("client: a malformed base_url fails every request", "[client]") {
  ManualClock clock(Start());
  ClientOptions options;
  options.base_url = "graph.microsoft.com/v1.0";
  GraphClient client(options, &clock);
  CHECK(client.Get("a", "/users/a/messages").status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("client: an answer whose nextLink or deltaLink leaves the Graph origin is refused",
          "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  const std::string own = "http:\\/\\/127.0.0.1:" + std::to_string(graph.port());
  graph.SetGraphHandler([&](const httplib::Request& req, httplib::Response& res) {
    std::string link;
    if (req.target.find("escaped") != std::string::npos) {
      link = R"("@odata.nextLink" : "https:\/\/evil.example.com\/v1.0\/users\/a\/x")";
    } else if (req.target.find("delta") != std::string::npos) {
      link = R"("@odata.deltaLink":"http://127.0.0.1:1/v1.0/users/a/messages/delta")";
    } else if (req.target.find("quoted") != std::string::npos) {
      // The key's text inside a string value is no member.
      link = R"("subject":"\"@odata.nextLink\": \"https://evil.example.com\"")";
    } else {
      link = "\"@odata.nextLink\":\"" + own + "\\/v1.0\\/users\\/a\\/messages?$skiptoken=1\"";
    }
    res.set_content("{\"value\":[]," + link + "}", "application/json");
  });
  GraphClient client(graph.Options(), &clock);
  auto escaped = client.Get("a", "/users/a/escaped");
  REQUIRE_FALSE(escaped.ok());
  CHECK(escaped.status().code() == Status::Code::kInvalidArgument);
  CHECK(escaped.status().message().find("https://evil.example.com:443") != std::string::npos);
  auto delta = client.Get("a", "/users/a/delta");
  REQUIRE_FALSE(delta.ok());
  CHECK(delta.status().message().find("http://127.0.0.1:1") != std::string::npos);
  CHECK(client.Get("a", "/users/a/quoted").ok());
  CHECK(client.Get("a", "/users/a/own").ok());
  CHECK(client.stats().foreign_links_refused == 2);
}

TEST_CASE("client: a 429 is retried even for callers that take client errors", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  Script script{{{429, "1.5"}, {429, "1.5"}}};
  graph.SetGraphHandler(script.Handler());
  GraphClient client(graph.Options(), &clock);
  Request request;
  request.mailbox = "a";
  request.path_or_url = "/users/a/messages/delta";
  request.return_client_errors = true;
  auto r = client.Send(request);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(client.stats().throttled == 2);
  CHECK(client.Waiting().requests == 0);
}

TEST_CASE("client: a caller that reads server errors gets a non-retried 5xx with its body",
          "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content(
        R"({"odata.error":{"code":"-2130575172, Microsoft.SharePoint.)"
        R"(SPInvalidChangeTokenException","message":{"lang":"en-US","value":"expired"}}})",
        "application/json");
  });
  GraphClient client(graph.Options(), &clock);
  Request request;
  request.mailbox = "a";
  request.path_or_url = "/users/a/list";
  auto plain = client.Send(request);
  CHECK(plain.status().code() == Status::Code::kUnavailable);
  request.return_server_errors = true;
  auto answered = client.Send(request);
  REQUIRE(answered.ok());
  CHECK(answered->status == 500);
  CHECK(answered->body.find("SPInvalidChangeTokenException") != std::string::npos);
  CHECK(client.stats().retries == 0);  // a 500 is not retried either way
}

TEST_CASE("client: retries stop when the next wait would pass max_retry_wait", "[client]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    GraphError(res, 429, "TooManyRequests", "try later");
    res.set_header("Retry-After", "1.5");
  });
  ClientOptions options = graph.Options();
  options.max_retry_wait = milliseconds(4000);
  GraphClient client(options, &clock);
  const TimePoint before = clock.Now();
  auto r = client.Get("a", "/users/a/messages");
  REQUIRE_FALSE(r.ok());
  INFO(r.status().message());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK(graph.arrivals().size() == 3);  // at 0, 1.5 and 3 s; a 4th would be at 4.5 s
  CHECK(clock.Now() - before == milliseconds(3000));
  CHECK(r.status().message().find("retry bound of 4 s") != std::string::npos);
  CHECK(r.status().message().find("TooManyRequests") != std::string::npos);
}

}  // namespace
}  // namespace graphmirror::graph

namespace graphmirror::graph {
namespace {

TEST_CASE("client: SetCancelled ends a Retry-After wait soon, Cancelled", "[client]") {
  // Real time: the wait would be 60 s; a stopping daemon must not sit it out.
  FakeGraph graph(SystemClock::Default());
  graph.SetGraphHandler([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "60");
    res.set_content(R"({"error":{"code":"TooManyRequests","message":"slow down"}})",
                    "application/json");
  });
  GraphClient client(graph.Options(), SystemClock::Default());
  Result<Response> got = Status::Internal("not run");
  std::thread request([&] { got = client.Get("a", "/users/a/messages"); });
  while (client.Waiting().requests == 0) std::this_thread::sleep_for(milliseconds(5));
  const auto cancelled_at = std::chrono::steady_clock::now();
  client.SetCancelled(true);
  request.join();
  CHECK(std::chrono::steady_clock::now() - cancelled_at < seconds(2));
  CHECK(got.status().code() == Status::Code::kCancelled);
  CHECK(client.Waiting().requests == 0);
  client.SetCancelled(false);  // and it goes on as before
}

}  // namespace
}  // namespace graphmirror::graph
