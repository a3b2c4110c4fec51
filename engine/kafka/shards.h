// Shards: the second half of the partitioned mode ([kafka] mode = "partitioned",
// docs/scale-out.md). A consumer of the topic graphmirror.mailbox-changes in the group
// "<group>-shards": Kafka's group protocol spreads the topic's partitions over the live
// daemons (incrementally: cooperative-sticky, so a daemon joining or leaving moves only
// the shards that change hands), and each partition n is one shard, a mirror of the
// mailboxes whose routing key falls in n. The hooks say what a shard is (the partitioned daemon
// opens an Engine on mirror-p{n}.db); this class owns the group, the offsets and the order of
// things:
//
//   assign of n:  open(n) (open or create the shard and Start it); if that fails (the
//                 file still held by a member that was just revoked, say), the partition
//                 is paused and open(n) tried again every second;
//   a record of n: handle(n, body) answers as the webhook would: 2xx durable (logged):
//                 the offset is stored; 4xx bad input: counted, stored (never holding the
//                 partition back); else (503: not durable) the partition is sought back to
//                 the record and paused for a backoff (100 ms doubling to 5 s), so the
//                 record is handed over again and nothing after it overtakes it.
//                 Consecutive records of n already fetched that are plain collections
//                 ({"value":[...]}, as the router writes them) go to handle() as one
//                 collection; if that is refused (4xx), it is handed over again in
//                 halves, so a bad record is skipped by itself;
//   revoke of n:  the stored offsets are committed (synchronously), then close(n).
//
// Stored offsets are committed at most every `commit_interval`, at revoke and at Stop. A daemon
// killed at any moment leaves its partitions to the others from the last commit; the notification
// log of the shard collapses what it already holds.
//
// Thread-safety: Start and Stop from one controlling thread; the hooks are called on the
// shards' own thread, one at a time; stats(), Assigned() and last_error() from any thread.

#ifndef GRAPHMIRROR_ENGINE_KAFKA_SHARDS_H_
#define GRAPHMIRROR_ENGINE_KAFKA_SHARDS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/config/config.h"
#include "engine/kafka/kafka_client.h"
#include "graphmirror/status.h"

namespace graphmirror::kafka {

struct ShardHooks {
  // Opens (creating if needed) and starts the shard of partition n; quick (the shard's
  // initial sync runs in its background).
  std::function<Status(int32_t partition)> open;
  // The HTTP status the shard's receiver answers a record's value with.
  std::function<int(int32_t partition, std::string_view body)> handle;
  // Stops and closes the shard (its offsets are committed before).
  std::function<void(int32_t partition)> close;
};

struct ShardOptions {
  std::string client_id = "graphmirror-shards";
  // Event Hubs throttles offset commits to 4 a second per partition: at most 2 here.
  std::chrono::milliseconds commit_interval{500};
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5000};
  std::chrono::milliseconds open_retry{1000};
  // Records already fetched are handed to a shard together, up to this many and
  // merged_bytes: consecutive collections of a partition as one body, so one durable
  // commit of the shard's log takes them all (a record is a mailbox's part of one Graph
  // collection, often a single notification).
  size_t batch_records = 500;
  size_t merged_bytes = 512 * 1024;
};

struct ShardStats {
  std::atomic<uint64_t> records{0};   // handed to a shard (again, after a 503 or a crash)
  std::atomic<uint64_t> accepted{0};  // durable (2xx)
  std::atomic<uint64_t> rejected{0};  // bad input (4xx): skipped
  std::atomic<uint64_t> retries{0};   // not durable: handed over again after a backoff
  std::atomic<uint64_t> opened{0};    // shards opened (assignments)
  std::atomic<uint64_t> open_failures{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> commit_errors{0};
  std::atomic<uint64_t> errors{0};
};

class Shards {
 public:
  Shards(KafkaSettings settings, ShardHooks hooks, ShardOptions options = {});
  ~Shards();  // Stop()s
  Shards(const Shards&) = delete;
  Shards& operator=(const Shards&) = delete;

  Status Start();
  // Ends the record in hand, commits, closes every open shard, leaves the group (its
  // partitions go to the other members at once) and joins the thread.
  void Stop();

  const ShardStats& stats() const { return stats_; }
  // The partitions assigned to this member and whether each shard is open.
  std::map<int32_t, bool> Assigned() const;
  std::string last_error() const;

 private:
  struct Partition {
    bool open = false;
    bool paused = false;
    std::chrono::steady_clock::time_point resume_at{};
    std::chrono::milliseconds backoff{0};
    int64_t seek_to = -1;  // after a seek back: records before this one are stale
  };

  void Loop();
  // The records one poll brought, at most ShardOptions::batch_records: each partition's in
  // offset order, its consecutive collections merged into one body where they can be.
  void HandleBatch(const std::vector<Message>& batch);
  // Whether a record of its partition is to be handed over now (not revoked, not paused,
  // not stale after a seek back); notes where a paused partition goes on.
  bool Admit(const rd_kafka_message_t& message);
  // A record and, if it is a plain collection, its items (notify::PlainCollectionItems).
  struct Record {
    const rd_kafka_message_t* message;
    std::optional<std::string> items;
  };
  // Hands `records` (consecutive, of one partition; more than one only if all are plain
  // collections) over as one body; false if they were not made durable (the partition is
  // then sought back to the first and paused). A merged body refused as bad input is
  // handed over again in halves, so only a bad record itself is skipped.
  bool HandOver(int32_t partition, const std::vector<Record>& records);
  void Pause(int32_t partition, std::chrono::milliseconds wait, int64_t seek_to);
  void ResumeDue();
  void TryOpen(int32_t partition);
  void CloseAll();
  void Commit(bool async);
  void NoteError(const std::string& text);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void CommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const KafkaSettings settings_;
  const ShardHooks hooks_;
  const ShardOptions options_;
  ShardStats stats_;
  Handle consumer_;
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  bool dirty_ = false;     // the shards' thread only
  mutable std::mutex mu_;  // guards partitions_ and last_error_
  std::map<int32_t, Partition> partitions_;
  std::string last_error_;
};

}  // namespace graphmirror::kafka

#endif  // GRAPHMIRROR_ENGINE_KAFKA_SHARDS_H_
