#include "engine/ops/admin.h"

#include "engine/ops/metrics.h"

namespace graphmirror::ops {

Result<std::string> RenderLiveMetrics(sync::LiveSync* live, const kafka::KafkaSource* kafka) {
  MetricsSources sources;
  sources.receiver = &live->receiver().stats();
  sources.worker = &live->worker().stats();
  sources.keeper = &live->keeper().stats();
  sources.client = &live->client().stats();
  sources.rich = live->rich() != nullptr ? &live->rich()->stats() : nullptr;
  sources.rounds = &live->collections().timings();
  sources.store = &live->store();
  sources.kafka = kafka;
  for (const auto& mailbox : live->config().mailboxes) sources.users.push_back(mailbox.user);
  return RenderMetrics(sources);
}

notify::AdminHandler MakeAdminHandler(sync::LiveSync* live, const kafka::KafkaSource* kafka) {
  return [live, kafka](const std::string& path) -> std::optional<notify::AdminResponse> {
    if (path == "/healthz") {
      const bool ready = live->ready();
      return notify::AdminResponse{
          ready ? 200 : 503, "application/json",
          ready ? "{\"status\":\"ready\"}\n" : "{\"status\":\"starting\"}\n"};
    }
    if (path == "/metrics") {
      auto text = RenderLiveMetrics(live, kafka);
      if (!text.ok()) {
        return notify::AdminResponse{503, "text/plain; charset=utf-8",
                                     "metrics unavailable: " + text.status().message() + "\n"};
      }
      return notify::AdminResponse{200, kMetricsContentType, std::move(text).value()};
    }
    return std::nullopt;
  };
}

}  // namespace graphmirror::ops
