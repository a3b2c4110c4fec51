// The partitioned mode's two consumers against librdkafka's mock cluster, in process:
// the Router writes one keyed record per mailbox at the partition PartitionOf(key, P),
// keeps a rich collection's validation tokens, drops items without a key, skips records
// that are not collections and commits a source record only once its records are
// acknowledged; the Shards open the shard of each assigned partition, hand its records
// over in order, retry a 503 without letting later records pass it, skip a 400, retry a
// shard that cannot be opened yet, and close the shards (after committing) at Stop.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/router.h"
#include "engine/kafka/shards.h"
#include "engine/notify/routing.h"
#include "tests/kafka/kafka_fixture.h"

namespace graphmirror::test {
namespace {

using namespace std::chrono_literals;

KafkaSettings Partitioned(const MockKafka& kafka, const std::string& group, int partitions) {
  KafkaSettings s;
  s.brokers = kafka.brokers();
  s.topic = "hub";
  s.group = group;
  s.security = "plaintext";
  s.session_timeout = std::chrono::seconds(6);
  s.mode = "partitioned";
  s.partitions = partitions;
  s.shard_directory = "/unused";
  return s;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

struct KeyedRecord {
  int32_t partition;
  std::string key;
  std::string value;
};

// Everything in the keyed topic, read with a plain consumer (no group).
std::vector<KeyedRecord> ReadKeyed(const std::string& brokers, int partitions, size_t want) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof error);
  rd_kafka_conf_set(conf, "group.id", "reader", error, sizeof error);
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  kafka::Handle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  REQUIRE(consumer != nullptr);
  kafka::PartitionList all(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(all.get(), kafka::kMailboxTopic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  REQUIRE(rd_kafka_assign(consumer.get(), all.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<KeyedRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    kafka::Message m(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    out.push_back({m->partition, std::string(static_cast<const char*>(m->key), m->key_len),
                   std::string(static_cast<const char*>(m->payload), m->len)});
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

std::string Item(const std::string& mailbox, const std::string& id) {
  return R"({"subscriptionId":"sub-)" + id + R"(","clientState":")" +
         notify::RoutedClientState(notify::RoutingKey(mailbox)) +
         R"(","changeType":"created","resource":"Users/u/Messages/)" + id +
         R"(","resourceData":{"id":")" + id + R"("}})";
}

TEST_CASE("Router: one keyed record per mailbox at its partition, committed once acknowledged",
          "[kafka][router]") {
  MockKafka kafka(1);
  kafka.CreateTopic("hub", 2);
  constexpr int kPartitions = 4;
  kafka.CreateTopic(kafka::kMailboxTopic, kPartitions);
  // Two mailboxes whose keys fall in different partitions.
  const std::string a = "alice@contoso.com";
  std::string b;
  for (int i = 0; b.empty(); ++i) {
    const std::string candidate = "user" + std::to_string(i) + "@contoso.com";
    if (notify::PartitionOf(notify::RoutingKey(candidate), kPartitions) !=
        notify::PartitionOf(notify::RoutingKey(a), kPartitions)) {
      b = candidate;
    }
  }
  const std::string na =
      R"({"subscriptionId":"NA","clientState":"NA","changeType":"Validation: Testing client )"
      R"(application reachability for subscription Request-Id: 1","resource":"NA"})";
  Producer producer(kafka.brokers());
  REQUIRE(producer.Produce("hub",
                           "{\"value\":[" + Item(a, "1") + "," + Item(b, "2") + "," + na + "," +
                               Item(a, "3") + "],\"validationTokens\":[\"jwt\"]}",
                           0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(producer.Produce("hub", "not a collection", 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(producer.Produce("hub", "{\"value\":[" + na + "]}", 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(producer.Produce("hub", "{\"value\":[" + Item(b, "4") + "]}", 1) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);

  const KafkaSettings settings = Partitioned(kafka, "rt", kPartitions);
  kafka::Router router(settings);
  REQUIRE(router.Start().ok());
  const std::vector<KeyedRecord> records = ReadKeyed(kafka.brokers(), kPartitions, 3);
  REQUIRE(records.size() == 3);
  std::map<std::string, std::vector<std::string>> by_key;
  for (const KeyedRecord& r : records) {
    INFO(r.value);
    // The key is the mailbox's routing key, the partition ours, the value a collection of
    // that mailbox's items only, with the source's tokens.
    CHECK(r.partition == notify::PartitionOf(r.key, kPartitions));
    // Every record made from the first source record keeps its tokens.
    const bool has_tokens = r.value.find("validationTokens\":[\"jwt\"]") != std::string::npos;
    const bool from_first = r.value.find("sub-4") == std::string::npos;
    CHECK(has_tokens == from_first);
    by_key[r.key].push_back(r.value);
  }
  REQUIRE(by_key.count(notify::RoutingKey(a)) == 1);
  REQUIRE(by_key.count(notify::RoutingKey(b)) == 1);
  const std::string& alice = by_key[notify::RoutingKey(a)][0];
  CHECK(alice.find("sub-1") != std::string::npos);
  CHECK(alice.find("sub-3") != std::string::npos);
  CHECK(alice.find("sub-2") == std::string::npos);
  CHECK(alice.find("\"NA\"") == std::string::npos);
  CHECK(alice.find("\"validationTokens\":[\"jwt\"]") != std::string::npos);
  CHECK(by_key[notify::RoutingKey(b)].size() == 2);  // from both source records

  // Every source record ends committed: routed, skipped or holding nothing to route.
  KafkaSettings group = settings;
  group.group = "rt-router";
  CHECK(WaitFor([&] {
    auto offsets = kafka::GroupOffsets(group, 5s);
    if (!offsets.ok()) return false;
    for (const auto& p : *offsets) {
      if (p.committed != p.end) return false;
    }
    return offsets->size() == 2;
  }));
  CHECK(router.stats().records.load() == 4);
  CHECK(router.stats().rejected_records.load() == 1);
  CHECK(router.stats().unrouted_items.load() == 2);
  CHECK(router.stats().produced.load() == 3);
  router.Stop();
}

TEST_CASE("Router: waits, saying why, while the keyed topic has another partition count",
          "[kafka][router]") {
  MockKafka kafka(1);
  kafka.CreateTopic("hub", 1);
  kafka.CreateTopic(kafka::kMailboxTopic, 3);
  kafka::Router router(Partitioned(kafka, "mismatch", 4));
  REQUIRE(router.Start().ok());
  CHECK(WaitFor([&] {
    return router.last_error().find("has 3 partitions, kafka.partitions says 4") !=
           std::string::npos;
  }));
  router.Stop();
}

// Hooks that record what the shards did; some answers scripted.
class Recorder {
 public:
  kafka::ShardHooks Hooks() {
    kafka::ShardHooks hooks;
    hooks.open = [this](int32_t n) {
      std::lock_guard<std::mutex> lock(mu_);
      if (fail_opens_[n] > 0) {
        --fail_opens_[n];
        return Status::Unavailable("held by another daemon");
      }
      opened_.insert(n);
      return Status::Ok();
    };
    hooks.handle = [this](int32_t n, std::string_view body) {
      std::lock_guard<std::mutex> lock(mu_);
      const std::string text(body);
      seen_[n].push_back(text);
      int status = 202;
      if (text == "bad" || text.find("poison") != std::string::npos) {
        status = 400;
      } else if (fail_once_.erase(text) > 0) {
        status = 503;
      }
      answers_[n].push_back(status);
      return status;
    };
    hooks.close = [this](int32_t n) {
      std::lock_guard<std::mutex> lock(mu_);
      closed_.insert(n);
    };
    return hooks;
  }
  void FailOpen(int32_t n, int times) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_opens_[n] = times;
  }
  void FailOnce(const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_once_.insert(body);
  }
  std::vector<std::string> Seen(int32_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_[n];
  }
  std::vector<int> Answers(int32_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_[n];
  }
  std::set<int32_t> Opened() {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_;
  }
  std::set<int32_t> Closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  std::mutex mu_;
  std::map<int32_t, int> fail_opens_;
  std::set<std::string> fail_once_;
  std::map<int32_t, std::vector<std::string>> seen_;
  std::map<int32_t, std::vector<int>> answers_;
  std::set<int32_t> opened_, closed_;
};

TEST_CASE("Shards: open, in order, a 503 retried, a 400 skipped, an open retried, closed",
          "[kafka][shards]") {
  MockKafka kafka(1);
  kafka.CreateTopic(kafka::kMailboxTopic, 2);
  Producer producer(kafka.brokers());
  for (const std::string body : {"r1", "r2", "bad", "r3"}) {
    REQUIRE(producer.Produce(kafka::kMailboxTopic, body, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(producer.Produce(kafka::kMailboxTopic, "x1", 1) == RD_KAFKA_RESP_ERR_NO_ERROR);

  Recorder recorder;
  recorder.FailOnce("r2");  // the log could not commit in time
  recorder.FailOpen(1, 2);  // shard 1 is still held by the member that had it
  const KafkaSettings settings = Partitioned(kafka, "sh", 2);
  kafka::Shards shards(settings, recorder.Hooks());
  REQUIRE(shards.Start().ok());
  REQUIRE(WaitFor([&] { return recorder.Seen(0).size() >= 5 && !recorder.Seen(1).empty(); }));
  // r2 again before anything after it; "bad" skipped, not retried.
  CHECK(recorder.Seen(0) == std::vector<std::string>{"r1", "r2", "r2", "bad", "r3"});
  CHECK(recorder.Seen(1) == std::vector<std::string>{"x1"});
  CHECK(recorder.Opened() == std::set<int32_t>{0, 1});
  CHECK(shards.stats().open_failures.load() == 2);
  CHECK(shards.stats().retries.load() == 1);
  CHECK(shards.stats().rejected.load() == 1);
  CHECK(shards.stats().accepted.load() == 4);
  CHECK(shards.Assigned() == std::map<int32_t, bool>{{0, true}, {1, true}});

  shards.Stop();
  CHECK(recorder.Closed() == std::set<int32_t>{0, 1});
  // What was durable (or skipped) is committed: the next owner starts after it.
  KafkaSettings group = settings;
  group.topic = kafka::kMailboxTopic;
  group.group = "sh-shards";
  auto offsets = kafka::GroupOffsets(group, 5s);
  REQUIRE(offsets.ok());
  REQUIRE(offsets->size() == 2);
  CHECK((*offsets)[0].committed == 4);
  CHECK((*offsets)[1].committed == 1);

  // A new member goes on from there: only what came after.
  REQUIRE(producer.Produce(kafka::kMailboxTopic, "r4", 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  Recorder next;
  kafka::Shards again(settings, next.Hooks());
  REQUIRE(again.Start().ok());
  REQUIRE(WaitFor([&] { return !next.Seen(0).empty(); }));
  CHECK(next.Seen(0) == std::vector<std::string>{"r4"});
  CHECK(next.Seen(1).empty());
  again.Stop();
}

TEST_CASE("Shards: collections already fetched go to a shard as one; a bad one alone",
          "[kafka][shards]") {
  MockKafka kafka(1);
  kafka.CreateTopic(kafka::kMailboxTopic, 1);
  Producer producer(kafka.brokers());
  // 200 records of one notification each, as the router writes them; one of them bad, one
  // empty, one with validation tokens (never merged: they vouch for its own items).
  auto item = [](int i) { return "{\"n\":" + std::to_string(i) + "}"; };
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i) {
    std::string body = "{\"value\":[" + item(i) + "]}";
    if (i == 77) body = "{\"value\":[{\"poison\":77}]}";
    if (i == 100) body = "{\"value\":[]}";
    if (i == 150) body = "{\"value\":[" + item(i) + "],\"validationTokens\":[\"t\"]}";
    bodies.push_back(body);
  }
  REQUIRE(producer.ProduceAll(kafka::kMailboxTopic, bodies, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
  Recorder recorder;
  const KafkaSettings settings = Partitioned(kafka, "merge", 1);
  kafka::Shards shards(settings, recorder.Hooks());
  REQUIRE(shards.Start().ok());
  REQUIRE(WaitFor([&] { return shards.stats().records.load() == 200; }));
  shards.Stop();

  // Every item reached the shard in a body it accepted, exactly once and in order; the
  // bad record was refused by itself.
  const std::vector<std::string> seen = recorder.Seen(0);
  const std::vector<int> answers = recorder.Answers(0);
  REQUIRE(seen.size() == answers.size());
  std::vector<int> accepted_items;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (answers[i] != 202) continue;
    for (size_t at = seen[i].find("{\"n\":"); at != std::string::npos;
         at = seen[i].find("{\"n\":", at + 1)) {
      accepted_items.push_back(std::stoi(seen[i].substr(at + 5)));
    }
  }
  std::vector<int> want;
  for (int i = 0; i < 200; ++i) {
    if (i != 77 && i != 100) want.push_back(i);
  }
  CHECK(accepted_items == want);
  CHECK(std::count(seen.begin(), seen.end(), bodies[77]) == 1);  // alone, refused
  CHECK(std::count(seen.begin(), seen.end(), bodies[150]) == 1);  // alone, as produced
  // Merged: far fewer hand-overs than records, the refused merges and their halves
  // included (the first poll may bring one record).
  CHECK(seen.size() < 50);
  CHECK(shards.stats().rejected.load() == 1);
  CHECK(shards.stats().accepted.load() == 199);

  // All committed: a new member has nothing to read.
  KafkaSettings group = settings;
  group.topic = kafka::kMailboxTopic;
  group.group = "merge-shards";
  auto offsets = kafka::GroupOffsets(group, 5s);
  REQUIRE(offsets.ok());
  REQUIRE(offsets->size() == 1);
  CHECK((*offsets)[0].committed == 200);
}

}  // namespace
}  // namespace graphmirror::test
