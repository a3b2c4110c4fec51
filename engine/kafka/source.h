// KafkaSource: Graph's notification collections read from a Kafka topic (Azure Event Hubs'
// Kafka endpoint, where Graph delivers to an event hub) and handed, one record at a time,
// to a handler that answers as the webhook would (Engine::HandleNotification):
//
//   2xx  durable (logged): the record's offset is stored and committed;
//   4xx  bad input (not JSON, too large, not a collection): counted, logged in one line
//        and skipped, its offset committed: Graph will not send it again, and a poison
//        record must never hold its partition back;
//   else not durable (503: the log could not commit in time): nothing is committed, the
//        partition is sought back to the record, which is read again after a backoff
//        (100 ms doubling to 5 s).
//
// Offsets are committed only for records the handler made durable (or skipped), in order
// per partition: stored as each record ends, committed asynchronously at most every
// `commit_interval` (each commit's answer is checked and counted), and synchronously
// before partitions are revoked and at Stop. A crash reads again from the last committed offset;
// the notification log collapses what it already holds (dedupe keys), so a record read twice is
// harmless.
//
// The consumer joins the group `settings.group` (enable.auto.commit and
// enable.auto.offset.store off, auto.offset.reset earliest: a new group starts at the
// oldest record the hub keeps). Brokers that are down or unreachable are retried by
// librdkafka without end; each error is counted and kept as last_error.
//
// Thread-safety: Start and Stop from one controlling thread; the handler is called on the
// source's own thread, one record at a time; stats(), LastError() and Partitions() from
// any thread.

#ifndef GRAPHMIRROR_ENGINE_KAFKA_SOURCE_H_
#define GRAPHMIRROR_ENGINE_KAFKA_SOURCE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/config/config.h"
#include "engine/kafka/kafka_client.h"
#include "graphmirror/status.h"

namespace graphmirror::kafka {

struct SourceOptions {
  std::string client_id = "graphmirror";
  // The first wait before a record that was not made durable is read again; it doubles
  // up to retry_max while the handler keeps failing, and starts over after a success.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5000};
  // Stored offsets are committed at most this often (and at revoke and Stop): Event
  // Hubs throttles offset commits to 4 calls a second per partition.
  std::chrono::milliseconds commit_interval{500};
  // A record larger than this is refused as the webhook refuses such a body (413),
  // without calling the handler; 0: no limit.
  size_t max_record_bytes = 0;
};

// Counters since Start. Each is read on its own; they are not a consistent snapshot.
struct SourceStats {
  std::atomic<uint64_t> records{0};   // read from the topic (records read again included)
  std::atomic<uint64_t> accepted{0};  // made durable by the handler (2xx)
  std::atomic<uint64_t> rejected{0};  // bad input (4xx, or too large): skipped
  std::atomic<uint64_t> retries{0};   // not durable (5xx): read again after a backoff
  std::atomic<uint64_t> commits{0};   // offset commits the group coordinator confirmed
  std::atomic<uint64_t> commit_errors{0};
  std::atomic<uint64_t> errors{0};      // consumer errors: brokers unreachable, ...
  std::atomic<uint64_t> rebalances{0};  // partition assignments received
};

// One partition assigned to this consumer: the next offset it stored (-1: none yet) and
// the last one the coordinator confirmed committed (-1: none by this consumer).
struct PartitionProgress {
  int32_t partition = 0;
  int64_t stored = -1;
  int64_t committed = -1;
};

class KafkaSource {
 public:
  // The HTTP status the webhook would answer for a body (see the file comment).
  using Handler = std::function<int(std::string_view body)>;

  KafkaSource(KafkaSettings settings, Handler handler, SourceOptions options = {});
  ~KafkaSource();  // Stop()s
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Makes the consumer and subscribes to the topic; records are read on a thread of the
  // source's own. Fails on a configuration librdkafka refuses (or an unreadable
  // connection string file), not on unreachable brokers (retried, counted). At most once.
  Status Start();
  // Ends the record in hand, commits what is durable, leaves the group (its partitions go
  // to another member at once) and joins the thread. Safe to call more than once.
  void Stop();

  const SourceStats& stats() const { return stats_; }
  // The last error (consumer, commit, or a record not made durable) and when (UTC,
  // "2026-12-07T16:20:00Z"); empty if none since Start.
  struct LastError {
    std::string text;
    std::string at;
  };
  LastError last_error() const;
  std::vector<PartitionProgress> Partitions() const;
  const KafkaSettings& settings() const { return settings_; }

 private:
  void Loop();
  // Handles one record; returns how long to wait before polling again (0: at once).
  std::chrono::milliseconds HandleRecord(const rd_kafka_message_t& message);
  void StoreOffset(const rd_kafka_message_t& message);
  void SeekBack(const rd_kafka_message_t& message);
  void Commit(bool async);
  void NoteError(const std::string& text);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void OnCommit(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets);

  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void CommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const KafkaSettings settings_;
  const Handler handler_;
  const SourceOptions options_;
  SourceStats stats_;
  Handle consumer_;
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mu_;  // with wait_cv_: backoffs that Stop cuts short
  std::condition_variable wait_cv_;
  bool dirty_ = false;  // offsets stored since the last commit (the source's thread only)
  std::chrono::milliseconds backoff_{0};
  mutable std::mutex mu_;  // guards the two below
  LastError last_error_;
  std::map<int32_t, PartitionProgress> partitions_;
};

}  // namespace graphmirror::kafka

#endif  // GRAPHMIRROR_ENGINE_KAFKA_SOURCE_H_
