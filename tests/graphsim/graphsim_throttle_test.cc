// graphsim's per-mailbox throttling: concurrency limit, request budget, Retry-After
// fence and early retries, forced throttling; over HTTP with real concurrent requests.

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

TEST_CASE("over max concurrent requests on a mailbox: 429 with Retry-After",
          "[graphsim][throttle]") {
  graphsim::Options options = SmallOptions();
  options.handler_latency = std::chrono::milliseconds(400);  // make requests overlap
  SimFixture f(options);
  std::string token = f.Token();
  std::string path = "/v1.0/users/" + f.user(0) + "/messages?$top=1";

  constexpr int kRequests = 6;
  std::vector<Reply> replies(kRequests);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      auto client = f.NewClient();
      ++ready;
      while (ready < kRequests) std::this_thread::yield();
      replies[i] =
          SimFixture::ToReply(client->Get(path.c_str(), {{"Authorization", "Bearer " + token}}));
    });
  }
  for (std::thread& t : threads) t.join();

  int ok = 0, throttled = 0;
  for (const Reply& r : replies) {
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++throttled;
      CHECK(r.Header("Retry-After") == "2.128");
      CHECK(r.body["error"]["code"] == "ApplicationThrottled");
      CHECK(r.body["error"]["message"] == "Application is over its MailboxConcurrency limit.");
    }
  }
  CHECK(ok == 4);
  CHECK(throttled == 2);
  CHECK(f.sim().MaxConcurrentObserved(f.user(0)) >= 5);
  CHECK(f.sim().ThrottledCount(f.user(0)) == 2);
  CHECK(f.sim().EarlyRetries(f.user(0)) == 0);

  // The other mailbox is not affected by this one's fence.
  f.sim().SetHandlerLatency(std::chrono::milliseconds(0));
  CHECK(f.Get("/v1.0/users/" + f.user(1) + "/messages?$top=1").status == 200);

  // Retrying before Retry-After elapsed (by the clock) is an early retry: 429 again.
  Reply early = f.Get(path);
  CHECK(early.status == 429);
  CHECK(early.Header("Retry-After") == "2.128");
  CHECK(f.sim().EarlyRetries(f.user(0)) == 1);
  f.clock().Advance(std::chrono::milliseconds(2127));
  CHECK(f.Get(path).status == 429);
  CHECK(f.sim().EarlyRetries(f.user(0)) == 2);
  f.clock().Advance(std::chrono::milliseconds(1));
  CHECK(f.Get(path).status == 200);
  CHECK(f.sim().ThrottledCount(f.user(0)) == 4);
}

TEST_CASE("a client that keeps to the limit is never throttled", "[graphsim][throttle]") {
  graphsim::Options options = SmallOptions();
  options.handler_latency = std::chrono::milliseconds(50);
  SimFixture f(options);
  std::string token = f.Token();
  std::string path = "/v1.0/users/" + f.user(1) + "/events?$top=1";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto client = f.NewClient();
      for (int j = 0; j < 5; ++j) {
        auto r = client->Get(path.c_str(), {{"Authorization", "Bearer " + token}});
        if (!r || r->status != 200) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(f.sim().MaxConcurrentObserved(f.user(1)) <= 4);
  CHECK(f.sim().Stats(f.user(1)).requests == 20);
}

TEST_CASE("request budget per window", "[graphsim][throttle]") {
  graphsim::Options options = SmallOptions();
  options.requests_per_window = 5;
  options.window = std::chrono::seconds(60);
  options.throttle_retry_after_seconds = 1.5;
  SimFixture f(options);
  std::string path = "/v1.0/users/" + f.user(0) + "/contacts?$top=1";
  for (int i = 0; i < 5; ++i) CHECK(f.Get(path).status == 200);
  Reply over = f.Get(path);
  CHECK(over.status == 429);
  CHECK(over.Header("Retry-After") == "1.5");
  CHECK(over.body["error"]["code"] == "ApplicationThrottled");
  f.clock().Advance(std::chrono::seconds(2));
  CHECK(f.Get(path).status == 429);  // budget still spent; not early (fence passed)
  CHECK(f.sim().EarlyRetries(f.user(0)) == 0);
  f.clock().Advance(std::chrono::seconds(60));
  CHECK(f.Get(path).status == 200);
}

TEST_CASE("ForceThrottle and /_sim/faults throttle_user", "[graphsim][throttle]") {
  SimFixture f;
  std::string path = "/v1.0/users/" + f.user(0) + "/messages?$top=1";
  f.sim().ForceThrottle(f.user(0), 2);
  Reply first = f.Get(path);
  CHECK(first.status == 429);
  CHECK(first.Header("Retry-After") == "2.128");
  f.clock().Advance(std::chrono::milliseconds(2128));
  CHECK(f.Get(path).status == 429);  // the second forced one, on time
  f.clock().Advance(std::chrono::milliseconds(2128));
  CHECK(f.Get(path).status == 200);
  CHECK(f.sim().EarlyRetries(f.user(0)) == 0);

  std::string body =
      R"({"throttle_user":")" + f.sim().Users()[1].user_principal_name + R"(","count":1})";
  CHECK(SimFixture::ToReply(f.client().Post("/_sim/faults", body, "application/json")).status ==
        204);
  CHECK(f.Get("/v1.0/users/" + f.user(1) + "/messages").status == 429);
  CHECK(f.sim().ThrottledCount(f.user(1)) == 1);
}

TEST_CASE("random faults: seeded ratios of 429, 503, 504 and resets on mailbox requests",
          "[graphsim][throttle]") {
  SimFixture f;
  const std::string path = "/v1.0/users/" + f.user(0) + "/messages?$top=1";
  const std::string body =
      R"({"random":{"throttle":0.3,"unavailable":0.1,"gateway_timeout":0.1,"reset":0.1,"seed":5}})";
  REQUIRE(SimFixture::ToReply(f.client().Post("/_sim/faults", body, "application/json")).status ==
          204);
  constexpr int kRequests = 400;
  int ok = 0, throttled = 0, unavailable = 0, gateway = 0, resets = 0;
  for (int i = 0; i < kRequests; ++i) {
    Reply r = f.Get(path);
    switch (r.status) {
      case 200:
        ++ok;
        break;
      case 429:
        ++throttled;
        CHECK(r.Header("Retry-After") == "2.128");
        CHECK(r.body["error"]["code"] == "TooManyRequests");
        break;
      case 503:
        ++unavailable;
        CHECK(r.body["error"]["code"] == "serviceNotAvailable");
        CHECK(r.Header("Retry-After").empty());
        break;
      case 504:
        ++gateway;
        break;
      case 0:
        ++resets;
        break;
      default:
        FAIL("unexpected status " << r.status);
    }
    f.clock().Advance(std::chrono::milliseconds(2128));  // past any Retry-After
  }
  INFO("200 " << ok << ", 429 " << throttled << ", 503 " << unavailable << ", 504 " << gateway
              << ", resets " << resets);
  // Binomial(400, p): within about 4 standard deviations.
  CHECK(throttled > 80);
  CHECK(throttled < 160);
  for (int n : {unavailable, gateway, resets}) {
    CHECK(n > 16);
    CHECK(n < 64);
  }
  const graphsim::RandomFaultCounts served = f.sim().RandomFaultsServed();
  CHECK(served.throttled == static_cast<uint64_t>(throttled));
  CHECK(served.unavailable == static_cast<uint64_t>(unavailable));
  CHECK(served.gateway_timeout == static_cast<uint64_t>(gateway));
  CHECK(served.resets == static_cast<uint64_t>(resets));
  CHECK(f.sim().EarlyRetries(f.user(0)) == 0);

  // A random 429 fences the mailbox like any other: a request before Retry-After is refused.
  f.sim().SetRandomFaults(graphsim::RandomFaults{1.0, 0, 0, 0, 1});
  CHECK(f.Get(path).status == 429);
  f.sim().ClearFaults();
  // (Past the grace for requests that crossed the 429 in flight, so it counts as early.)
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(f.Get(path).status == 429);
  CHECK(f.sim().EarlyRetries(f.user(0)) == 1);
  f.clock().Advance(std::chrono::milliseconds(2128));
  CHECK(f.Get(path).status == 200);  // cleared: no more random faults
  // The other mailbox was never fenced by the first one's 429s.
  CHECK(f.sim().ThrottledCount(f.user(1)) == 0);

  // Bad controls are refused with a reason.
  for (const char* bad : {R"({"random":{"throttle":1.5}})",
                          R"({"random":{"throttle":0.6,"reset":0.6}})", R"({"random":3})"}) {
    INFO(bad);
    CHECK(SimFixture::ToReply(f.client().Post("/_sim/faults", bad, "application/json")).status ==
          400);
  }
}

TEST_CASE("foreign links: the next N nextLinks or deltaLinks point at another host",
          "[graphsim][throttle]") {
  SimFixture f;
  const std::string path = "/v1.0/users/" + f.user(0) + "/messages?$top=2";
  const std::string body =
      R"({"foreign_links":1,"base":"https://elsewhere.example","link":"next"})";
  REQUIRE(SimFixture::ToReply(f.client().Post("/_sim/faults", body, "application/json")).status ==
          204);
  Reply first = f.Get(path);
  REQUIRE(first.status == 200);
  const std::string link = first.body["@odata.nextLink"];
  CHECK(link.rfind("https://elsewhere.example/v1.0/users/" + f.user(0) + "/messages?", 0) == 0);
  // Only the host is another: path and query are the ones this server would have sent.
  Reply again = f.Get(path);
  const std::string own = again.body["@odata.nextLink"];
  CHECK(own.rfind(f.server().base_url(), 0) == 0);
  CHECK(link.substr(std::string("https://elsewhere.example").size()) ==
        own.substr(f.server().base_url().size()));

  // deltaLinks only: a nextLink page passes untouched, the round's deltaLink does not.
  f.sim().InjectForeignLinks("http://other.example:8080", 1, "delta");
  Reply listed = f.Get(path);
  CHECK(std::string(listed.body["@odata.nextLink"]).rfind(f.server().base_url(), 0) == 0);
  Reply folders = f.Get("/v1.0/users/" + f.user(0) + "/mailFolders/inbox/messages/delta");
  REQUIRE(folders.status == 200);
  std::string delta_link;
  for (Reply page = folders;;) {
    if (page.body.contains("@odata.deltaLink")) {
      delta_link = page.body["@odata.deltaLink"];
      break;
    }
    page = f.GetLink(page.body["@odata.nextLink"]);
    REQUIRE(page.status == 200);
  }
  CHECK(delta_link.rfind("http://other.example:8080/v1.0/users/", 0) == 0);

  CHECK(SimFixture::ToReply(f.client().Post("/_sim/faults", R"({"foreign_links":1,"base":"x"})",
                                            "application/json"))
            .status == 400);
}

}  // namespace
}  // namespace graphsim_test
