// Graph's Azure Event Hubs delivery channel: `EventHub:` notification URLs ("Receive change
// notifications through Azure Event Hubs") and the Kafka producer graphsim writes each
// notification collection with, one record per collection, to the topic named by the hub.
// graphsim stands in for every Event Hubs namespace with the one Kafka cluster given by
// Options::kafka_brokers (`--kafka-brokers`).
//
// Thread-safety: ParseEventHubUrl and IsEventHubUrl are pure. EventHubProducer is safe to
// use from many threads (librdkafka's producer is thread-safe; each Publish waits for its
// own delivery report); its destructor must not race with Publish.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_EVENT_HUB_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_EVENT_HUB_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

struct rd_kafka_s;

namespace graphsim {

// True if `url` starts with "EventHub:" (in any case, as a URI scheme is read): Graph's
// Event Hubs channel, never POSTed to.
bool IsEventHubUrl(std::string_view url);

// The documented role-based access control form,
// `EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<domain>`.
struct EventHubAddress {
  std::string namespace_name;  // "contoso-ns"
  std::string hub;             // the event hub: the Kafka topic
  std::string tenant;          // tenantId, as given (a domain name or the tenant's GUID)
};

enum class EventHubUrlForm {
  kHub,        // the RBAC form: *out filled
  kKeyVault,   // `EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<domain>`
  kMalformed,  // an `EventHub:` URL of neither form (or not one at all)
};

// Reads an `EventHub:` URL. Namespace and hub names follow Azure's naming rules
// (namespace 6-50 letters, digits and hyphens, starting with a letter and ending with a
// letter or digit; hub 1-50 letters, digits, periods, hyphens and underscores, starting and
// ending with a letter or digit); tenantId must be present and non-empty; nothing else may
// be in the query. Key Vault URLs are recognised (vault name 3-24 letters, digits and
// hyphens; a secret name) but name no hub graphsim can reach.
EventHubUrlForm ParseEventHubUrl(std::string_view url, EventHubAddress* out);

// The body Graph writes to a hub when a subscription is created on it ("Handling validation
// notifications"): every field "NA" but changeType, which carries the validation text.
std::string EventHubValidationBody(const std::string& validation_text);

// A Kafka producer (librdkafka) with acks=all on `brokers` ("host:port,..."). A record
// counts as written only once the cluster acknowledged it from all in-sync replicas.
class EventHubProducer {
 public:
  // `max_wait`: the longest any Publish waits (librdkafka's message.timeout.ms); a record
  // still unacknowledged then has failed. Never fails: a cluster that cannot be reached
  // shows as Publish errors.
  EventHubProducer(const std::string& brokers, std::chrono::milliseconds max_wait);
  ~EventHubProducer();  // waits briefly for records in flight, then drops them
  EventHubProducer(const EventHubProducer&) = delete;
  EventHubProducer& operator=(const EventHubProducer&) = delete;

  // Writes one record (no key, no headers, `value` as its value) to `topic` and waits up
  // to `timeout` (real time) for its delivery report. nullopt once acknowledged, else what
  // went wrong (a record that times out here may still be written later: at least once).
  std::optional<std::string> Publish(const std::string& topic, const std::string& value,
                                     std::chrono::milliseconds timeout);

 private:
  rd_kafka_s* rk_ = nullptr;  // null if librdkafka refused the configuration
  std::string config_error_;  // why rk_ is null
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports (rd_kafka_poll) until stop_
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_EVENT_HUB_H_
