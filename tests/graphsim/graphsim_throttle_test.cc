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

}  // namespace
}  // namespace graphsim_test
