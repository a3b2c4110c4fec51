// librdkafka (the C API) for the engine: RAII handles, a client configuration built from
// the [kafka] settings (brokers, security: SASL PLAIN over TLS for Event Hubs' Kafka
// endpoint, or plaintext; Event Hubs' recommended client settings; librdkafka's log lines
// into spdlog), and error codes as Status. Shared by the Kafka source and the partitioned
// mode, so that every client of ours connects the same way.
//
// Thread-safety: free functions without shared state; the handles follow librdkafka's
// rules (an rd_kafka_t may be used from any thread; a conf or list by one at a time).

#ifndef GRAPHMIRROR_ENGINE_KAFKA_KAFKA_CLIENT_H_
#define GRAPHMIRROR_ENGINE_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "graphmirror/status.h"

namespace graphmirror::kafka {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const {
    rd_kafka_metadata_destroy(metadata);
  }
};

using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using Error = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// Unavailable for errors a retry may cure (transport, brokers down, timeouts, rebalances),
// InvalidArgument for the rest; "<what>: <librdkafka's text>". Ok for NO_ERROR.
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view what);

// The SASL password: kafka.connection_string, else the first line of
// kafka.connection_string_file (a file of one line, as a secret manager writes it).
Result<std::string> ConnectionString(const KafkaSettings& settings);

// A client configuration: bootstrap.servers, client.id, security (sasl_ssl: SASL PLAIN
// with sasl_username and the connection string, the CA file if any), Event Hubs'
// recommended socket and metadata settings, librdkafka's logs to spdlog; then `extra`
// (librdkafka property names and values: group.id, ...) in order. InvalidArgument naming
// the property librdkafka refused.
Result<Conf> MakeConf(const KafkaSettings& settings, const std::string& client_id,
                      const std::vector<std::pair<std::string, std::string>>& extra = {});

// MakeConf for a member of consumer group `group` that stores and commits its offsets
// itself (auto commit and auto offset store off), starts a new group at the oldest
// record, and uses settings.session_timeout (heartbeats a third of it, at most 3 s);
// then `extra`.
Result<Conf> MakeConsumerConf(const KafkaSettings& settings, const std::string& client_id,
                              const std::string& group,
                              std::vector<std::pair<std::string, std::string>> extra = {});

enum class ClientKind { kConsumer, kProducer };
// A client made from `conf` (taken over, also on failure).
Result<Handle> NewClient(ClientKind kind, Conf conf);

// Per partition of `topic`: the offset `group` committed (-1: none) and the end of the
// partition (the high watermark; -1 if it could not be read), asked of the brokers with a
// client of its own that does not join the group (a running consumer is not disturbed).
struct PartitionOffsets {
  int32_t partition = 0;
  int64_t committed = -1;
  int64_t end = -1;
};
Result<std::vector<PartitionOffsets>> GroupOffsets(const KafkaSettings& settings,
                                                   std::chrono::milliseconds timeout);

}  // namespace graphmirror::kafka

#endif  // GRAPHMIRROR_ENGINE_KAFKA_KAFKA_CLIENT_H_
