// The daemon's metrics in Prometheus text format (exposition format 0.0.4), rendered at
// scrape time from counters the engine keeps anyway: nothing is counted twice.
//
// Thread-safety: RenderMetrics may run on any thread while the engine runs (it reads
// atomics and the store's read connection).

#ifndef GRAPHMIRROR_ENGINE_OPS_METRICS_H_
#define GRAPHMIRROR_ENGINE_OPS_METRICS_H_

#include <string>
#include <vector>

#include "engine/graph/graph_client.h"
#include "engine/kafka/source.h"
#include "engine/notify/receiver.h"
#include "engine/store/store.h"
#include "engine/sync/collection_sync.h"
#include "engine/sync/keeper.h"
#include "engine/sync/rich_content.h"
#include "engine/sync/worker.h"
#include "graphmirror/status.h"

namespace graphmirror::ops {

// What the metrics are read from; all borrowed. `rich` may be null.
struct MetricsSources {
  const notify::ReceiverStats* receiver = nullptr;
  const sync::WorkerStats* worker = nullptr;
  const sync::KeeperStats* keeper = nullptr;
  const graph::ClientStats* client = nullptr;
  const sync::RichStats* rich = nullptr;
  const sync::RoundTimings* rounds = nullptr;
  store::Store* store = nullptr;
  const kafka::KafkaSource* kafka = nullptr;  // null: no Kafka source runs
  std::vector<std::string> users;             // the configured mailboxes, for the log backlog
};

// The text to answer GET /metrics with, or why the store could not be read.
Result<std::string> RenderMetrics(const MetricsSources& sources);

// Content-Type of that text.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace graphmirror::ops

#endif  // GRAPHMIRROR_ENGINE_OPS_METRICS_H_
