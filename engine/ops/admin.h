// The daemon's admin endpoints on the receiver's port:
//   GET /healthz  200 {"status":"ready"} once LiveSync is started (store open,
//                 subscriptions set, first sync done); 503 {"status":"starting"} before.
//   GET /metrics  the Prometheus text of RenderMetrics; 503 if the store cannot be read.
//
// Thread-safety: the handler may run on many receiver threads at once.

#ifndef GRAPHMIRROR_ENGINE_OPS_ADMIN_H_
#define GRAPHMIRROR_ENGINE_OPS_ADMIN_H_

#include "engine/kafka/source.h"
#include "engine/notify/receiver.h"
#include "engine/sync/live_sync.h"

namespace graphmirror::ops {

// `live` (and `kafka`, the Kafka source's counters; may be null) are borrowed and must
// outlive the handler; give it to LiveSyncOptions.
notify::AdminHandler MakeAdminHandler(sync::LiveSync* live,
                                      const kafka::KafkaSource* kafka = nullptr);

// The /metrics text of a started LiveSync (and Kafka source), or why the store could not
// be read.
Result<std::string> RenderLiveMetrics(sync::LiveSync* live,
                                      const kafka::KafkaSource* kafka = nullptr);

}  // namespace graphmirror::ops

#endif  // GRAPHMIRROR_ENGINE_OPS_ADMIN_H_
