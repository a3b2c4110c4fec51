#include "tools/graphsim/event_hub.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/schema.h"
#include "tools/graphsim/url_encoded.h"

namespace graphsim {
namespace {

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// "Naming rules and restrictions for Azure resources", Microsoft.EventHub: namespaces 6-50,
// alphanumerics and hyphens, start with a letter, end with a letter or number.
bool ValidNamespaceName(std::string_view name) {
  if (name.size() < 6 || name.size() > 50) return false;
  if (!IsAlpha(name.front()) || !IsAlnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

// Same page, namespaces / eventhubs: 1-50, alphanumerics, periods, hyphens and underscores,
// start and end with a letter or number. (Each is also a legal Kafka topic name.)
bool ValidHubName(std::string_view name) {
  if (name.empty() || name.size() > 50) return false;
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '.' || c == '-' || c == '_'; });
}

// Same page, Microsoft.KeyVault vaults: 3-24, alphanumerics and hyphens (a secret name is
// alphanumerics and hyphens too).
bool ValidVaultName(std::string_view name) {
  if (name.size() < 3 || name.size() > 24) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

bool ValidSecretName(std::string_view name) {
  if (name.empty() || name.size() > 127) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

// The tenantId of the query: the only parameter, present and non-empty.
bool ReadTenant(std::string_view query, std::string* tenant) {
  std::vector<std::pair<std::string, std::string>> params = ParseUrlEncoded(query);
  if (params.size() != 1 || params[0].first != "tenantId" || params[0].second.empty()) {
    return false;
  }
  *tenant = params[0].second;
  return true;
}

// Per-record state shared by Publish (which waits) and the delivery report callback
// (which completes it); the callback owns one reference through the message's opaque.
struct Delivery {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void OnDeliveryReport(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  auto* owner = static_cast<std::shared_ptr<Delivery>*>(message->_private);
  if (!owner) return;
  {
    std::lock_guard<std::mutex> lock((*owner)->mu);
    (*owner)->done = true;
    (*owner)->err = message->err;
  }
  (*owner)->cv.notify_all();
  delete owner;
}

// librdkafka logs to stderr by default; graphsim's log is spdlog (-v shows it).
void OnLog(const rd_kafka_t*, int level, const char* facility, const char* text) {
  spdlog::debug("graphsim: kafka {} {}: {}", level, facility, text);
}

void OnError(rd_kafka_t*, int err, const char* reason, void*) {
  spdlog::debug("graphsim: kafka: {} ({})", reason,
                rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
}

}  // namespace

bool IsEventHubUrl(std::string_view url) { return StartsWithNoCase(url, "EventHub:"); }

EventHubUrlForm ParseEventHubUrl(std::string_view url, EventHubAddress* out) {
  if (!IsEventHubUrl(url)) return EventHubUrlForm::kMalformed;
  std::string_view rest = url.substr(9);
  // The inner URL: https only, with no user info, port or fragment.
  constexpr std::string_view kHttps = "https://";
  if (!StartsWithNoCase(rest, kHttps)) return EventHubUrlForm::kMalformed;
  rest.remove_prefix(kHttps.size());
  size_t slash = rest.find('/');
  size_t question = rest.find('?');
  if (slash == std::string_view::npos || question == std::string_view::npos || question < slash ||
      rest.find('#') != std::string_view::npos) {
    return EventHubUrlForm::kMalformed;
  }
  std::string host(rest.substr(0, slash));
  std::string_view path = rest.substr(slash, question - slash);
  std::string_view query = rest.substr(question + 1);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  auto label_of = [&](std::string_view suffix) -> std::optional<std::string_view> {
    std::string_view h(host);
    if (h.size() <= suffix.size() || h.substr(h.size() - suffix.size()) != suffix) {
      return std::nullopt;
    }
    return h.substr(0, h.size() - suffix.size());
  };
  std::string tenant;
  if (auto ns = label_of(".servicebus.windows.net")) {
    constexpr std::string_view kSegment = "/eventhubname/";
    if (!ValidNamespaceName(*ns) || path.substr(0, kSegment.size()) != kSegment) {
      return EventHubUrlForm::kMalformed;
    }
    std::string_view hub = path.substr(kSegment.size());
    if (!ValidHubName(hub) || !ReadTenant(query, &tenant)) return EventHubUrlForm::kMalformed;
    out->namespace_name = std::string(*ns);
    out->hub = std::string(hub);
    out->tenant = std::move(tenant);
    return EventHubUrlForm::kHub;
  }
  if (auto vault = label_of(".vault.azure.net")) {
    constexpr std::string_view kSegment = "/secrets/";
    if (!ValidVaultName(*vault) || path.substr(0, kSegment.size()) != kSegment ||
        !ValidSecretName(path.substr(kSegment.size())) || !ReadTenant(query, &tenant)) {
      return EventHubUrlForm::kMalformed;
    }
    return EventHubUrlForm::kKeyVault;
  }
  return EventHubUrlForm::kMalformed;
}

std::string EventHubValidationBody(const std::string& validation_text) {
  Json item;
  item["subscriptionId"] = "NA";
  item["subscriptionExpirationDateTime"] = "NA";
  item["clientState"] = "NA";
  item["changeType"] = validation_text;
  item["resource"] = "NA";
  item["resourceData"] = Json{{"@odata.type", "NA"}, {"@odata.id", "NA"}, {"id", "NA"}};
  return DumpJson(Json{{"value", Json::array({item})}});
}

// --- producer ---------------------------------------------------------------------------

EventHubProducer::EventHubProducer(const std::string& brokers, std::chrono::milliseconds max_wait) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  const std::string timeout_ms = std::to_string(std::max<int64_t>(1, max_wait.count()));
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", brokers},
      {"client.id", "graphsim"},
      // Written once every in-sync replica has it: what a hub's acknowledgement means.
      {"acks", "all"},
      {"message.timeout.ms", timeout_ms},
      // One record per notification collection, sent at once.
      {"linger.ms", "0"},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      config_error_ = std::string(name) + ": " + error;
      rd_kafka_conf_destroy(conf);
      return;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDeliveryReport);
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));  // owns conf if it succeeds
  if (!rk_) {
    config_error_ = error;
    rd_kafka_conf_destroy(conf);
    return;
  }
  poller_ = std::thread([this] {
    while (!stop_.load(std::memory_order_acquire)) rd_kafka_poll(rk_, 50);
  });
}

EventHubProducer::~EventHubProducer() {
  if (!rk_) return;
  stop_.store(true, std::memory_order_release);
  poller_.join();
  // Records a Publish gave up on may still be in flight: give them a moment, then purge
  // them so that their delivery reports (which free their state) are served.
  rd_kafka_flush(rk_, 1000);
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk_, 1000);
  rd_kafka_destroy(rk_);
}

std::optional<std::string> EventHubProducer::Publish(const std::string& topic,
                                                     const std::string& value,
                                                     std::chrono::milliseconds timeout) {
  if (!rk_) return "cannot configure the Kafka producer: " + config_error_;
  auto delivery = std::make_shared<Delivery>();
  auto* owner = new std::shared_ptr<Delivery>(delivery);
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(owner), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    delete owner;  // never queued: no delivery report will come
    return std::string("produce to '") + topic + "' refused: " + rd_kafka_err2str(err);
  }
  std::unique_lock<std::mutex> lock(delivery->mu);
  if (!delivery->cv.wait_for(lock, timeout, [&] { return delivery->done; })) {
    return "no acknowledgement from the cluster within " + std::to_string(timeout.count()) + " ms";
  }
  if (delivery->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::string("record to '") + topic + "' not written: " + rd_kafka_err2str(delivery->err);
  }
  return std::nullopt;
}

}  // namespace graphsim
