// Partitioned mirrors ([kafka] mode = "partitioned"; docs/scale-out.md): the mailboxes of
// one config spread over `partitions` shards, each a mirror database of its own
// (`shard_directory`/mirror-p{n}.db), kept by any number of daemons that share the work
// through Kafka consumer groups. Graph's collections arrive on the source topic ([kafka]
// topic: the event hub); every daemon routes them by mailbox to the topic
// graphmirror.mailbox-changes (partition = the mailbox's shard), and mirrors the shards
// whose partitions the group gives it, each with an Engine of its own.
//
//   auto config = graphmirror::LoadConfig("graphmirror.toml");   // [kafka] partitioned
//   auto daemon = graphmirror::PartitionedMirror::Open(*config);
//   (*daemon)->Start();          // route, and mirror whatever shards the group assigns
//   ...
//   (*daemon)->Stop();
//
// Reading: each shard is an ordinary mirror database; SearchShards and ShardMailboxes
// read a set of them at once (ATTACH), as the SQL recipe in docs/scale-out.md does.
//
// Thread-safety: Open, Start and Stop from one controlling thread; GetStatus from any
// thread. The free functions may be called from any thread.

#ifndef GRAPHMIRROR_PARTITIONED_H_
#define GRAPHMIRROR_PARTITIONED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graphmirror/config.h"
#include "graphmirror/engine.h"
#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

namespace graphmirror {

// The topic the routers write and the shards read.
inline constexpr const char* kMailboxChangesTopic = "graphmirror.mailbox-changes";

// The routing key of a mailbox as configured: 16 lowercase hex digits of SHA-256 of it,
// ASCII lower-cased. Subscriptions of a partitioned daemon carry it at the start of their
// clientState ("<key>.<random>").
std::string MailboxRoutingKey(const std::string& mailbox);
// The shard of a mailbox among `partitions`: the routing key's value modulo the count.
int MailboxPartition(const std::string& mailbox, int partitions);
// `directory`/mirror-p{n}.db.
std::string ShardFile(const std::string& directory, int partition);
// The config of shard n's engine: `config` with database = ShardFile(shard_directory, n),
// the mailboxes of partition n only, and kafka.shard = n.
Config ShardConfig(const Config& config, int partition);

struct ShardFileInfo {
  int partition = 0;
  std::string path;
};
// The mirror-p{n}.db files of `directory`, by partition. NotFound if there is none.
Result<std::vector<ShardFileInfo>> FindShards(const std::string& directory);

// Full-text search (as Engine::Search) over every shard at once; best matches first.
Result<std::vector<Message>> SearchShards(const std::vector<ShardFileInfo>& shards,
                                          const std::string& text, const std::string& user_id = "",
                                          int limit = 20);

// What each shard holds of each mailbox (rows, or a subscription). In a healthy
// partitioned mirror each mailbox is in exactly one shard, MailboxPartition's.
struct ShardMailbox {
  int partition = 0;
  std::string user_id;
  int64_t messages = 0;
  int64_t events = 0;
  int64_t contacts = 0;
};
Result<std::vector<ShardMailbox>> ShardMailboxes(const std::vector<ShardFileInfo>& shards);

// What a running partitioned daemon does (counters since Start).
struct PartitionedStatus {
  // Router: Graph's collections read from the source topic and routed.
  int64_t source_records = 0;
  int64_t items = 0;
  int64_t unrouted_items = 0;    // without a routing key (Event Hubs' validation message)
  int64_t rejected_records = 0;  // not a collection
  int64_t routed = 0;            // keyed records acknowledged
  int64_t produce_retries = 0;
  std::string router_error;  // the last one, and when; empty if none
  // Shards: keyed records handed to the shards' engines.
  int64_t shard_records = 0;
  int64_t accepted = 0;  // logged durably (202); committed
  int64_t rejected = 0;  // 4xx: skipped, committed
  int64_t retries = 0;   // 503: handed over again
  int64_t shards_opened = 0;
  int64_t shards_closed = 0;
  std::string shard_error;
  struct Shard {
    int partition = 0;
    bool open = false;
    bool ready = false;  // its engine's initial sync is done
    int mailboxes = 0;   // configured mailboxes of this partition
  };
  std::vector<Shard> shards;  // assigned to this daemon now, by partition
};

class PartitionedMirror {
 public:
  // InvalidArgument unless the config validates and has [kafka] mode = "partitioned".
  static Result<std::unique_ptr<PartitionedMirror>> Open(const Config& config);
  ~PartitionedMirror();  // Stop()s
  PartitionedMirror(const PartitionedMirror&) = delete;
  PartitionedMirror& operator=(const PartitionedMirror&) = delete;

  struct StartOptions {
    // A shard opened ("open"), done with its initial sync ("ready"), closed ("closed"),
    // or failed to open ("failed: <why>"): from the daemon's threads, one call at a time.
    std::function<void(int partition, const std::string& event)> on_shard = nullptr;
  };
  // Starts the router and the shards' consumer; returns at once. Errors are a
  // configuration librdkafka refuses; brokers that cannot be reached are retried.
  Status Start(StartOptions options);
  Status Start() { return Start(StartOptions{}); }
  // Stops routing (what was acknowledged is committed), closes every shard after
  // committing what it made durable, and leaves both groups.
  void Stop();

  PartitionedStatus GetStatus() const;
  // True once started and every shard assigned to this daemon is open with its initial
  // sync done (what GET /healthz answers: 200 then, else 503).
  bool Healthy() const;
  // The router's and the shards' counters in Prometheus text format (GET /metrics). With
  // config.metrics.listen set, Start serves both on that address (port 0: any free one).
  std::string Metrics() const;
  int MetricsPort() const;  // 0 without a metrics listener

 private:
  struct Impl;
  explicit PartitionedMirror(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_PARTITIONED_H_
