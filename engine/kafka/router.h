// Router: the first half of the partitioned mode ([kafka] mode = "partitioned",
// docs/scale-out.md). It reads Graph's notification collections from the source topic
// ([kafka] topic: the event hub) as the consumer group "<group>-router", splits each
// collection by the routing key its items carry in their clientState (notify/routing.h),
// and writes one record per key to the topic graphmirror.mailbox-changes: key = the
// routing key, partition = PartitionOf(key, partitions), chosen here and not by
// librdkafka's partitioner, so that every daemon and the shard assignment agree. Items
// without a key (Event Hubs' validation message, whose clientState is "NA"; anything not
// made by a partitioned keeper) are counted and dropped; a record that is not a
// collection is counted and skipped.
//
// Delivery: an idempotent producer (enable.idempotence, acks=all). A source record's
// offset is stored only once every record made from it was acknowledged by its delivery
// report (those that failed are produced again after a backoff), in order per source
// partition, and the stored offsets are committed at most every `commit_interval`, before
// partitions are revoked and at Stop. So a crash re-routes at most what was not
// committed, and the shards' notification logs collapse the duplicates.
//
// Before it joins the group, the router checks that graphmirror.mailbox-changes exists
// with exactly `partitions` partitions (creating it is the operator's job: an event hub
// is made with its partition count), and waits, saying why, until it does.
//
// Thread-safety: Start and Stop from one controlling thread; everything else runs on the
// router's own thread; stats() and last_error() from any thread.

#ifndef GRAPHMIRROR_ENGINE_KAFKA_ROUTER_H_
#define GRAPHMIRROR_ENGINE_KAFKA_ROUTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/config/config.h"
#include "engine/kafka/kafka_client.h"
#include "graphmirror/status.h"

namespace graphmirror::kafka {

// The topic the router writes and the shards read (a contract between daemons).
inline constexpr const char* kMailboxTopic = "graphmirror.mailbox-changes";

struct RouterOptions {
  std::string client_id = "graphmirror-router";
  // Event Hubs throttles offset commits to 4 a second per partition: at most 2 here.
  std::chrono::milliseconds commit_interval{500};
  // Source records routed whose records are not all acknowledged yet: beyond this the
  // router waits for acknowledgements before reading more.
  size_t max_in_flight = 1000;
  // A record whose delivery failed is produced again after this, doubling up to retry_max.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5000};
};

// Counters since Start; each read on its own.
struct RouterStats {
  std::atomic<uint64_t> records{0};            // source records read (again, after a crash)
  std::atomic<uint64_t> items{0};              // notification items in them
  std::atomic<uint64_t> unrouted_items{0};     // items without a routing key: dropped
  std::atomic<uint64_t> rejected_records{0};   // not a collection: skipped
  std::atomic<uint64_t> produced{0};           // keyed records acknowledged by the cluster
  std::atomic<uint64_t> produce_retries{0};    // keyed records produced again after a failure
  std::atomic<uint64_t> committed_records{0};  // source records whose offsets were stored
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> commit_errors{0};
  std::atomic<uint64_t> errors{0};  // client errors: brokers unreachable, ...
};

class Router {
 public:
  // `settings` must be partitioned ([kafka] mode, partitions).
  explicit Router(KafkaSettings settings, RouterOptions options = {});
  ~Router();  // Stop()s
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Makes the producer and the consumer and starts the router's thread. Fails only on a
  // configuration librdkafka refuses; unreachable brokers are retried without end.
  Status Start();
  // Waits (up to 10 s) for what was produced to be acknowledged, commits what is routed,
  // leaves the group and joins the thread. Safe to call more than once.
  void Stop();

  const RouterStats& stats() const { return stats_; }
  // The last error and when (UTC); empty if none since Start.
  std::string last_error() const;

 private:
  struct Pending;
  struct Piece {
    Pending* owner = nullptr;
    std::string key;
    std::string body;
    int32_t partition = 0;
  };
  // One source record and the keyed records made from it.
  struct Pending {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::vector<std::unique_ptr<Piece>> pieces;
    int outstanding = 0;         // produced, not yet reported
    std::vector<Piece*> failed;  // reported failed: produced again when retry_at is due
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };

  Result<Handle> MakeProducer();
  // A producer with a fatal error (idempotence broken) is replaced; its records are
  // produced again.
  void ReplaceFatalProducer();
  void Loop();
  bool TopicReady();
  void Route(const rd_kafka_message_t& message);
  bool Produce(Piece* piece);
  // Serves delivery reports, produces failed pieces again when due, and stores the
  // offsets of the finished records at the front, in order.
  void Drain(int timeout_ms);
  // Waits for every pending record to finish (or `timeout`); what does not is dropped
  // (its offset is not stored: it is routed again by the next owner).
  void Flush(std::chrono::milliseconds timeout);
  void Commit(bool async);
  void NoteError(const std::string& text);
  void OnDelivery(const rd_kafka_message_t& message);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void CommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const KafkaSettings settings_;
  const RouterOptions options_;
  RouterStats stats_;
  Handle producer_;
  Handle consumer_;
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  // The router's thread only:
  std::deque<std::unique_ptr<Pending>> pending_;
  bool subscribed_ = false;
  bool dirty_ = false;  // offsets stored since the last commit
  mutable std::mutex mu_;
  std::string last_error_;
};

}  // namespace graphmirror::kafka

#endif  // GRAPHMIRROR_ENGINE_KAFKA_ROUTER_H_
