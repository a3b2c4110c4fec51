// Kafka for the tests: librdkafka's in-process mock cluster (tests/support/mock_kafka.h),
// a producer that waits for each record's acknowledgement, and a bridge that stands where Event Hubs stands: an HTTP
// endpoint graphsim delivers to (it answers the validation handshake) that writes each
// notification collection as one record to the topic and answers 202 only once the
// brokers acknowledged it (503 otherwise, so graphsim delivers again), as Graph's
// delivery to a hub does.

#ifndef GRAPHMIRROR_TESTS_KAFKA_KAFKA_FIXTURE_H_
#define GRAPHMIRROR_TESTS_KAFKA_KAFKA_FIXTURE_H_

#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/mock_kafka.h"

namespace graphmirror::test {

// Produces records and waits for each one's delivery report. Any thread.
class Producer {
 public:
  // A record not acknowledged within `message_timeout` fails (the brokers are down).
  explicit Producer(const std::string& brokers,
                    std::chrono::milliseconds message_timeout = std::chrono::seconds(3)) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const char* key, const std::string& value) {
      if (rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
        throw std::runtime_error(error);
      }
    };
    set("bootstrap.servers", brokers);
    set("acks", "all");
    set("linger.ms", "0");
    set("log_level", "3");
    set("message.timeout.ms", std::to_string(message_timeout.count()));
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
      auto* report = static_cast<Report*>(m->_private);
      report->err.store(m->err);
      report->done.store(true);
    });
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (handle_ == nullptr) throw std::runtime_error(error);
  }
  ~Producer() {
    rd_kafka_flush(handle_, 5000);
    rd_kafka_destroy(handle_);
  }

  // Writes `value` to `topic` (partition -1: librdkafka's partitioner) and waits for the
  // brokers' answer (at most message_timeout and a little): NO_ERROR once acknowledged.
  rd_kafka_resp_err_t Produce(const std::string& topic, const std::string& value,
                              int32_t partition = RD_KAFKA_PARTITION_UA) {
    Report report;
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        handle_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&report), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
    // Every record gets its report within message.timeout.ms: `report` outlives it.
    while (!report.done.load()) rd_kafka_poll(handle_, 10);
    return report.err.load();
  }

  // Writes every one of `values`, in order, without waiting between them (so the client
  // batches them as a busy producer's would be), then waits for all the answers: NO_ERROR
  // once all were acknowledged, else the first error.
  rd_kafka_resp_err_t ProduceAll(const std::string& topic, const std::vector<std::string>& values,
                                 int32_t partition) {
    std::vector<Report> reports(values.size());
    rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
    size_t sent = 0;
    for (; sent < values.size(); ++sent) {
      first = rd_kafka_producev(
          handle_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(const_cast<char*>(values[sent].data()), values[sent].size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&reports[sent]),
          RD_KAFKA_V_END);
      if (first != RD_KAFKA_RESP_ERR_NO_ERROR) break;
    }
    for (size_t i = 0; i < sent; ++i) {
      while (!reports[i].done.load()) rd_kafka_poll(handle_, 10);
      if (first == RD_KAFKA_RESP_ERR_NO_ERROR) first = reports[i].err.load();
    }
    return first;
  }

 private:
  struct Report {
    std::atomic<bool> done{false};
    std::atomic<rd_kafka_resp_err_t> err{RD_KAFKA_RESP_ERR_NO_ERROR};
  };
  rd_kafka_t* handle_ = nullptr;
};

// Where graphsim delivers instead of the daemon's webhook: each POSTed body becomes one
// record of `topic` (202 once acknowledged, 503 if not), or with forward(false) is only
// acknowledged (a delivery that never reaches the daemon: the test produces instead).
class HubBridge {
 public:
  HubBridge(const std::string& brokers, std::string topic)
      : producer_(brokers), topic_(std::move(topic)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));  // not SO_REUSEPORT
    });
    server_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_param("validationToken")) {
        res.set_content(req.get_param_value("validationToken"), "text/plain");
        return;
      }
      if (!forward_.load()) {
        res.status = 202;
        return;
      }
      const rd_kafka_resp_err_t err = producer_.Produce(topic_, req.body);
      res.status = err == RD_KAFKA_RESP_ERR_NO_ERROR ? 202 : 503;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        forwarded_.fetch_add(1);
      } else {
        refused_.fetch_add(1);
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~HubBridge() {
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void forward(bool on) { forward_.store(on); }
  uint64_t forwarded() const { return forwarded_.load(); }
  uint64_t refused() const { return refused_.load(); }
  Producer& producer() { return producer_; }

 private:
  Producer producer_;
  std::string topic_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> forward_{true};
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_KAFKA_KAFKA_FIXTURE_H_
