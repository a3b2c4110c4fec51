#include "engine/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace graphmirror::kafka {
namespace {

// librdkafka's log lines (from its own threads) as ours. Its levels are syslog's.
void LogLine(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const char* name = rk != nullptr ? rd_kafka_name(rk) : "rdkafka";
  if (level <= 3) {
    spdlog::error("kafka: {} {}: {}", name, facility, text);
  } else if (level == 4) {
    spdlog::warn("kafka: {} {}: {}", name, facility, text);
  } else if (level <= 6) {
    spdlog::info("kafka: {} {}: {}", name, facility, text);
  } else {
    spdlog::debug("kafka: {} {}: {}", name, facility, text);
  }
}

bool Retriable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__NO_OFFSET:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string message = std::string(what) + ": " + rd_kafka_err2str(err);
  return Retriable(err) ? Status::Unavailable(std::move(message))
                        : Status::InvalidArgument(std::move(message));
}

Result<std::string> ConnectionString(const KafkaSettings& settings) {
  if (!settings.connection_string.empty()) return settings.connection_string;
  if (settings.connection_string_file.empty()) return std::string();
  std::ifstream in(settings.connection_string_file);
  if (!in) {
    return Status::InvalidArgument("kafka.connection_string_file: cannot read " +
                                   settings.connection_string_file);
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) {
    return Status::InvalidArgument(
        "kafka.connection_string_file: " + settings.connection_string_file + " is empty");
  }
  return line;
}

Result<Conf> MakeConf(const KafkaSettings& settings, const std::string& client_id,
                      const std::vector<std::pair<std::string, std::string>>& extra) {
  Conf conf(rd_kafka_conf_new());
  Status failed;
  auto set = [&](const std::string& key, const std::string& value) {
    if (!failed.ok()) return;
    char error[512];
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      // The property's name only: its value may be the connection string.
      failed = Status::InvalidArgument("kafka: librdkafka refused " + key + ": " + error);
    }
  };
  set("bootstrap.servers", settings.brokers);
  set("client.id", client_id);
  // Event Hubs' recommendations for Kafka clients ("Recommended configurations for Apache
  // Kafka clients", librdkafka): keep-alives, and metadata younger than the 240 s after
  // which Azure drops idle connections. (librdkafka recognizes Azure's brokers by name
  // and lowers connections.max.idle.ms by itself.)
  set("socket.keepalive.enable", "true");
  set("metadata.max.age.ms", "180000");
  if (settings.security == "sasl_ssl") {
    auto password = ConnectionString(settings);
    if (!password.ok()) return password.status();
    set("security.protocol", "sasl_ssl");
    set("sasl.mechanisms", "PLAIN");
    set("sasl.username", settings.sasl_username);
    set("sasl.password", *password);
    if (!settings.ca_file.empty()) set("ssl.ca.location", settings.ca_file);
  } else {
    set("security.protocol", "plaintext");
  }
  for (const auto& [key, value] : extra) set(key, value);
  if (!failed.ok()) return failed;
  rd_kafka_conf_set_log_cb(conf.get(), LogLine);
  return conf;
}

Result<Conf> MakeConsumerConf(const KafkaSettings& settings, const std::string& client_id,
                              const std::string& group,
                              std::vector<std::pair<std::string, std::string>> extra) {
  const int64_t session_ms = std::chrono::milliseconds(settings.session_timeout).count();
  std::vector<std::pair<std::string, std::string>> properties = {
      {"group.id", group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", std::to_string(session_ms)},
      {"heartbeat.interval.ms", std::to_string(std::min<int64_t>(3000, session_ms / 3))}};
  properties.insert(properties.end(), extra.begin(), extra.end());
  return MakeConf(settings, client_id, properties);
}

Result<Handle> NewClient(ClientKind kind, Conf conf) {
  char error[512];
  rd_kafka_t* rk =
      rd_kafka_new(kind == ClientKind::kConsumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER,
                   conf.get(), error, sizeof error);
  if (rk == nullptr) return Status::InvalidArgument(std::string("kafka: ") + error);
  (void)conf.release();  // rd_kafka_new took it
  return Handle(rk);
}

Result<std::vector<PartitionOffsets>> GroupOffsets(const KafkaSettings& settings,
                                                   std::chrono::milliseconds timeout) {
  auto conf = MakeConf(settings, "graphmirror-status",
                       {{"group.id", settings.group}, {"enable.auto.commit", "false"}});
  if (!conf.ok()) return conf.status();
  auto rk = NewClient(ClientKind::kConsumer, std::move(conf).value());
  if (!rk.ok()) return rk.status();
  const int timeout_ms = static_cast<int>(timeout.count());

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk->get(), settings.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk->get(), 0, rkt, &raw, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrorStatus(err, "kafka: reading the metadata of " + settings.topic);
  }
  Metadata metadata(raw);
  const rd_kafka_metadata_topic_t* topic = nullptr;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (settings.topic == metadata->topics[i].topic) topic = &metadata->topics[i];
  }
  if (topic == nullptr || topic->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return Status::NotFound("kafka: topic " + settings.topic + " does not exist");
  }
  if (topic->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrorStatus(topic->err, "kafka: topic " + settings.topic);
  }
  PartitionList list(rd_kafka_topic_partition_list_new(topic->partition_cnt));
  for (int i = 0; i < topic->partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(list.get(), settings.topic.c_str(), topic->partitions[i].id);
  }
  if (rd_kafka_resp_err_t e = rd_kafka_committed(rk->get(), list.get(), timeout_ms); e) {
    return ErrorStatus(e, "kafka: reading the offsets group " + settings.group + " committed");
  }
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    PartitionOffsets offsets;
    offsets.partition = p.partition;
    offsets.committed = p.err == RD_KAFKA_RESP_ERR_NO_ERROR && p.offset >= 0 ? p.offset : -1;
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(rk->get(), settings.topic.c_str(), p.partition, &low,
                                         &high, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      offsets.end = high;
    }
    out.push_back(offsets);
  }
  std::sort(out.begin(), out.end(), [](const PartitionOffsets& a, const PartitionOffsets& b) {
    return a.partition < b.partition;
  });
  return out;
}

}  // namespace graphmirror::kafka
