// A Kafka cluster for graphsim's Event Hubs tests: librdkafka's in-process mock cluster
// (loopback TCP listeners, so another process can use it too), and a reader that consumes
// one partition of a topic from its beginning, as the hub's subscriber would.

#ifndef GRAPHMIRROR_TESTS_GRAPHSIM_KAFKA_MOCK_H_
#define GRAPHMIRROR_TESTS_GRAPHSIM_KAFKA_MOCK_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace graphsim_test {

// librdkafka prints its logs to stderr by default; the tests only want errors.
inline void QuietKafkaLog(const rd_kafka_t*, int level, const char* facility, const char* text) {
  if (level <= 3) std::fprintf(stderr, "kafka %s: %s\n", facility, text);
}

class KafkaMock {
 public:
  explicit KafkaMock(int brokers = 1) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, QuietKafkaLog);
    // The mock cluster belongs to a client handle; a producer that never produces will do.
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (!handle_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("kafka mock: ") + error);
    }
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    if (!cluster_) throw std::runtime_error("kafka mock: no cluster");
  }
  ~KafkaMock() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  // "127.0.0.1:P1,..."
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  // One partition: a reader sees the records in the order they were written.
  void CreateTopic(const std::string& topic) {
    if (rd_kafka_mock_topic_create(cluster_, topic.c_str(), 1, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("kafka mock: cannot create " + topic);
    }
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// One record as read: its key (null or text) and value.
struct KafkaRecord {
  bool has_key = false;
  std::string key;
  std::string value;
  size_t headers = 0;
};

// Reads partition 0 of `topic` from the beginning (no consumer group: an assignment).
class TopicReader {
 public:
  TopicReader(const std::string& bootstraps, const std::string& topic) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, QuietKafkaLog);
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", bootstraps},
        {"group.id", "graphsim-test-reader"},
        {"enable.auto.commit", "false"},
        {"fetch.wait.max.ms", "10"},
    };
    for (const auto& [name, value] : settings) {
      if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(std::string("reader: ") + error);
      }
    }
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("reader: ") + error);
    }
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("reader: ") + rd_kafka_err2str(err));
    }
  }
  ~TopicReader() {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // Every record read so far, after waiting (real time) until there are at least `n`.
  const std::vector<KafkaRecord>& WaitFor(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (records_.size() < n && std::chrono::steady_clock::now() < deadline) Poll(50);
    return records_;
  }
  // Whatever arrives within `quiet` more (to check that nothing more was written).
  const std::vector<KafkaRecord>& Drain(std::chrono::milliseconds quiet) {
    auto deadline = std::chrono::steady_clock::now() + quiet;
    while (std::chrono::steady_clock::now() < deadline) Poll(20);
    return records_;
  }

 private:
  void Poll(int timeout_ms) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout_ms);
    if (!m) return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaRecord r;
      r.has_key = m->key != nullptr;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers) {
        r.headers = rd_kafka_header_cnt(headers);
      }
      records_.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }

  rd_kafka_t* rk_ = nullptr;
  std::vector<KafkaRecord> records_;
};

}  // namespace graphsim_test

#endif  // GRAPHMIRROR_TESTS_GRAPHSIM_KAFKA_MOCK_H_
