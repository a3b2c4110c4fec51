// librdkafka's mock cluster for the Kafka tests and the scale-out benchmark: real brokers
// speaking Kafka's protocol over loopback, inside this process (rdkafka_mock.h). A setup
// the cluster refuses throws std::runtime_error (a test reports it as a failure).
//
// Thread-safety: construct and configure from one thread; clients connect from anywhere.

#ifndef GRAPHMIRROR_TESTS_SUPPORT_MOCK_KAFKA_H_
#define GRAPHMIRROR_TESTS_SUPPORT_MOCK_KAFKA_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace graphmirror::test {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 1) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    // A throwaway handle owns the cluster; real clients connect to its bootstraps.
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (handle_ == nullptr) throw std::runtime_error(error);
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    if (cluster_ == nullptr) {
      rd_kafka_destroy(handle_);
      throw std::runtime_error("rd_kafka_mock_cluster_new failed");
    }
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~MockKafka() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& brokers() const { return bootstraps_; }
  void CreateTopic(const std::string& topic, int partitions) {
    Check(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1),
          "creating topic " + topic);
  }
  // Broker ids are 1..brokers.
  void SetDown(int32_t broker) {
    Check(rd_kafka_mock_broker_set_down(cluster_, broker), "taking a broker down");
  }
  void SetUp(int32_t broker) {
    Check(rd_kafka_mock_broker_set_up(cluster_, broker), "bringing a broker up");
  }

 private:
  static void Check(rd_kafka_resp_err_t err, const std::string& what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("mock cluster: " + what + ": " + rd_kafka_err2str(err));
    }
  }

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_SUPPORT_MOCK_KAFKA_H_
