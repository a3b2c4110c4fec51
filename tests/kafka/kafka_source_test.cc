// KafkaSource against librdkafka's mock cluster: records reach the handler in order, an
// offset is committed only after the handler said durable (or bad input, skipped), a 503
// is read again after a backoff without letting later records pass it, and a source
// started again (a restart) goes on from the committed offset.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/source.h"
#include "tests/kafka/kafka_fixture.h"

namespace graphmirror::test {
namespace {

using namespace std::chrono_literals;

KafkaSettings Settings(const MockKafka& kafka, const std::string& topic) {
  KafkaSettings s;
  s.brokers = kafka.brokers();
  s.topic = topic;
  s.group = "source-test";
  s.security = "plaintext";
  s.session_timeout = std::chrono::seconds(6);
  return s;
}

// What a handler saw, for checks from the test's thread.
class Seen {
 public:
  void Add(std::string_view body) {
    std::lock_guard<std::mutex> lock(mu_);
    bodies_.emplace_back(body);
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  size_t count(const std::string& body) const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<size_t>(std::count(bodies_.begin(), bodies_.end(), body));
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
};

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The offset the group committed on partition 0 (-1: none), asked of the brokers.
int64_t Committed(const KafkaSettings& settings) {
  auto offsets = kafka::GroupOffsets(settings, 5s);
  if (!offsets.ok() || offsets->empty()) return -2;
  return (*offsets)[0].committed;
}

TEST_CASE("The Kafka source commits only what the handler made durable, in order", "[kafka]") {
  MockKafka cluster;
  cluster.CreateTopic("hub", 1);
  Producer producer(cluster.brokers());
  const KafkaSettings settings = Settings(cluster, "hub");
  for (const char* body : {"r0", "r1", "r2", "r3", "r4"}) {
    REQUIRE(producer.Produce("hub", body, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  Seen seen;
  int r1_failures = 0;
  kafka::SourceOptions options;
  options.retry_initial = 50ms;
  options.max_record_bytes = 64;
  kafka::KafkaSource source(
      settings,
      [&](std::string_view body) {
        seen.Add(body);
        if (body == "r1" && r1_failures < 2) {
          ++r1_failures;
          return 503;  // not durable: read again, and nothing after it passes it
        }
        if (body == "r2") return 400;  // poison: skipped, never blocks the partition
        return 202;
      },
      options);
  REQUIRE(source.Start().ok());
  REQUIRE(WaitFor([&] { return seen.count("r4") == 1; }));
  REQUIRE(WaitFor([&] { return Committed(settings) == 5; }));
  CHECK(seen.bodies() == std::vector<std::string>{"r0", "r1", "r1", "r1", "r2", "r3", "r4"});
  CHECK(source.stats().records.load() == 7u);
  CHECK(source.stats().accepted.load() == 4u);
  CHECK(source.stats().rejected.load() == 1u);
  CHECK(source.stats().retries.load() == 2u);
  CHECK(source.stats().commit_errors.load() == 0u);
  CHECK(source.stats().commits.load() >= 1u);
  CHECK(source.last_error().text.find("not made durable (HTTP 503)") != std::string::npos);
  const auto partitions = source.Partitions();
  REQUIRE(partitions.size() == 1);
  CHECK(partitions[0].stored == 5);
  CHECK(partitions[0].committed == 5);

  // A record larger than max_record_bytes is refused as the webhook refuses such a body,
  // without reaching the handler.
  REQUIRE(producer.Produce("hub", std::string(65, 'x'), 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(WaitFor([&] { return Committed(settings) == 6; }));
  CHECK(source.stats().rejected.load() == 2u);
  CHECK(seen.bodies().size() == 7);
  source.Stop();

  // Started again (a restart), the group goes on from the committed offset.
  REQUIRE(producer.Produce("hub", "r6", 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  Seen again;
  kafka::KafkaSource restarted(settings, [&](std::string_view body) {
    again.Add(body);
    return 202;
  });
  REQUIRE(restarted.Start().ok());
  REQUIRE(WaitFor([&] { return Committed(settings) == 7; }));
  CHECK(again.bodies() == std::vector<std::string>{"r6"});
}

TEST_CASE("Records never made durable are read again after a restart", "[kafka]") {
  MockKafka cluster;
  cluster.CreateTopic("hub", 2);
  Producer producer(cluster.brokers());
  const KafkaSettings settings = Settings(cluster, "hub");
  for (int i = 0; i < 4; ++i) {
    REQUIRE(producer.Produce("hub", "p0-" + std::to_string(i), 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(producer.Produce("hub", "p1-" + std::to_string(i), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  {
    // The log cannot commit: every record is 503 and nothing is committed.
    Seen seen;
    kafka::SourceOptions options;
    options.retry_initial = 20ms;
    options.retry_max = 40ms;
    kafka::KafkaSource failing(
        settings,
        [&](std::string_view body) {
          seen.Add(body);
          return 503;
        },
        options);
    REQUIRE(failing.Start().ok());
    REQUIRE(WaitFor([&] { return failing.stats().retries >= 6; }));
    failing.Stop();
    // Only the first record of each partition was ever tried: a 503 holds its partition.
    for (const std::string& body : seen.bodies()) {
      CHECK((body == "p0-0" || body == "p1-0"));
    }
    CHECK(failing.stats().accepted.load() == 0u);
  }
  auto offsets = kafka::GroupOffsets(settings, 5s);
  REQUIRE(offsets.ok());
  REQUIRE(offsets->size() == 2);
  for (const auto& p : *offsets) {
    CHECK(p.committed == -1);
    CHECK(p.end == 4);
  }

  Seen seen;
  kafka::KafkaSource source(settings, [&](std::string_view body) {
    seen.Add(body);
    return 202;
  });
  REQUIRE(source.Start().ok());
  REQUIRE(WaitFor([&] {
    auto o = kafka::GroupOffsets(settings, 5s);
    return o.ok() && o->size() == 2 && (*o)[0].committed == 4 && (*o)[1].committed == 4;
  }));
  CHECK(seen.bodies().size() == 8);
  CHECK(source.stats().accepted.load() == 8u);
}

TEST_CASE("The Kafka source rides out its broker going down and coming back", "[kafka]") {
  MockKafka cluster;
  cluster.CreateTopic("hub", 1);
  const KafkaSettings settings = Settings(cluster, "hub");
  Seen seen;
  kafka::KafkaSource source(settings, [&](std::string_view body) {
    seen.Add(body);
    return 202;
  });
  REQUIRE(source.Start().ok());
  {
    Producer producer(cluster.brokers());
    REQUIRE(producer.Produce("hub", "before", 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(WaitFor([&] { return seen.count("before") == 1; }));
  REQUIRE(WaitFor([&] { return Committed(settings) == 1; }));

  cluster.SetDown(1);
  // The consumer notices (its connections drop, reconnects fail) and counts it.
  CHECK(WaitFor([&] { return source.stats().errors > 0; }, 20s));
  std::thread produce([&] {
    Producer producer(cluster.brokers(), 30s);
    CHECK(producer.Produce("hub", "after", 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  });
  std::this_thread::sleep_for(1500ms);
  cluster.SetUp(1);
  produce.join();
  REQUIRE(WaitFor([&] { return seen.count("after") == 1; }, 60s));
  REQUIRE(WaitFor([&] { return Committed(settings) == 2; }, 30s));
  CHECK(seen.count("before") == 1);
}

}  // namespace
}  // namespace graphmirror::test
