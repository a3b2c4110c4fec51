#include "engine/graph/token_provider.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "tests/unit/graph_test_server.h"

namespace graphmirror::graph {
namespace {

using std::chrono::seconds;
using testing::FakeGraph;

TimePoint Start() { return TimePoint{} + std::chrono::hours(24 * 365 * 56); }

TEST_CASE("token: client credentials are posted as a form", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  ClientOptions options = graph.Options();
  TokenProvider tokens(options, &clock);
  auto token = tokens.GetToken();
  REQUIRE(token.ok());
  CHECK(token.value() == "tok-1");
  auto form = graph.last_token_form();
  CHECK(form["client_id"] == "app-id");
  CHECK(form["client_secret"] == "s3cret-value");
  CHECK(form["scope"] == "https://graph.microsoft.com/.default");
  CHECK(form["grant_type"] == "client_credentials");
  CHECK(graph.last_token_content_type().rfind("application/x-www-form-urlencoded", 0) == 0);
}

TEST_CASE("token: cached, then renewed ahead of expiry by the clock", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.expires_in = 3600;
  ClientOptions options = graph.Options();
  options.token_renew_ahead = seconds(300);
  std::atomic<uint64_t> counter{0};
  TokenProvider tokens(options, &clock, &counter);

  CHECK(tokens.GetToken().value() == "tok-1");
  CHECK(tokens.GetToken().value() == "tok-1");
  clock.Advance(seconds(3299));  // 1 s before the renewal point
  CHECK(tokens.GetToken().value() == "tok-1");
  CHECK(graph.token_posts == 1);
  clock.Advance(seconds(1));
  CHECK(tokens.GetToken().value() == "tok-2");
  CHECK(tokens.GetToken().value() == "tok-2");
  CHECK(graph.token_posts == 2);
  CHECK(counter == 2);
}

TEST_CASE("token: a short-lived token is renewed at half its life", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.expires_in = 60;  // shorter than token_renew_ahead
  TokenProvider tokens(graph.Options(), &clock);
  CHECK(tokens.GetToken().value() == "tok-1");
  CHECK(tokens.GetToken().value() == "tok-1");  // not renewed on every call
  clock.Advance(seconds(30));
  CHECK(tokens.GetToken().value() == "tok-2");
}

TEST_CASE("token: invalidation renews once for concurrent callers", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  TokenProvider tokens(graph.Options(), &clock);
  const std::string first = tokens.GetToken().value();
  std::vector<std::thread> threads;
  std::atomic<int> got_second{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      tokens.Invalidate(first);
      auto t = tokens.GetToken();
      if (t.ok() && t.value() == "tok-2") ++got_second;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(graph.token_posts == 2);
  CHECK(got_second == 8);
  tokens.Invalidate("tok-1");  // stale: no effect
  CHECK(tokens.GetToken().value() == "tok-2");
  CHECK(graph.token_posts == 2);
}

TEST_CASE("token: a wrong secret is Unauthenticated, naming the AADSTS error", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  ClientOptions options = graph.Options();
  options.client_secret = "wrong-secret-value";
  TokenProvider tokens(options, &clock);
  auto token = tokens.GetToken();
  REQUIRE_FALSE(token.ok());
  const Status& s = token.status();
  CHECK(s.code() == Status::Code::kUnauthenticated);
  INFO(s.message());
  CHECK(s.message().find("AADSTS7000215: Invalid client secret provided.") != std::string::npos);
  CHECK(s.message().find("invalid_client") != std::string::npos);
  CHECK(s.message().find(graph.token_url()) != std::string::npos);
  CHECK(s.message().find("Trace ID") == std::string::npos);  // first line only
  CHECK(s.message().find('\n') == std::string::npos);
  CHECK(s.message().find('\r') == std::string::npos);
  CHECK(s.message().find("wrong-secret-value") == std::string::npos);
}

TEST_CASE("token: an unreachable endpoint is Unavailable, naming the URL", "[token]") {
  ManualClock clock(Start());
  ClientOptions options;
  options.token_url = "http://127.0.0.1:1/tenant/oauth2/v2.0/token";
  options.client_id = "app";
  options.client_secret = "secret";
  options.connect_timeout = std::chrono::milliseconds(1000);
  TokenProvider tokens(options, &clock);
  auto token = tokens.GetToken();
  REQUIRE_FALSE(token.ok());
  CHECK(token.status().code() == Status::Code::kUnavailable);
  CHECK(token.status().message().find(options.token_url) != std::string::npos);
}

TEST_CASE("token: a malformed token_url is InvalidArgument", "[token]") {
  ManualClock clock(Start());
  ClientOptions options;
  options.token_url = "login.microsoftonline.com/tenant";
  TokenProvider tokens(options, &clock);
  CHECK(tokens.GetToken().status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("token: endpoint failures are Unavailable; the current token outlives them", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  TokenProvider tokens(graph.Options(), &clock);
  REQUIRE(tokens.GetToken().value() == "tok-1");

  graph.SetTokenHandler([](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content(R"({"error":"temporarily_unavailable"})", "application/json");
  });
  clock.Advance(seconds(3400));  // in the renewal window, not expired
  CHECK(tokens.GetToken().value() == "tok-1");
  clock.Advance(seconds(300));  // expired
  auto token = tokens.GetToken();
  REQUIRE_FALSE(token.ok());
  CHECK(token.status().code() == Status::Code::kUnavailable);
  CHECK(token.status().message().find("HTTP 503") != std::string::npos);
}

TEST_CASE("token: expires_in as a string, and answers without a token", "[token]") {
  ManualClock clock(Start());
  FakeGraph graph(&clock);
  graph.SetTokenHandler([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"token_type":"Bearer","expires_in":"600","access_token":"abc"})",
                    "application/json");
  });
  ClientOptions options = graph.Options();
  options.token_renew_ahead = seconds(100);
  TokenProvider tokens(options, &clock);
  CHECK(tokens.GetToken().value() == "abc");
  clock.Advance(seconds(499));
  CHECK(tokens.GetToken().ok());
  CHECK(graph.token_posts == 1);
  clock.Advance(seconds(1));
  CHECK(tokens.GetToken().ok());
  CHECK(graph.token_posts == 2);

  graph.SetTokenHandler([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"token_type":"Bearer","expires_in":3599})", "application/json");
  });
  TokenProvider empty(options, &clock);
  CHECK(empty.GetToken().status().code() == Status::Code::kUnavailable);
}

}  // namespace
}  // namespace graphmirror::graph
