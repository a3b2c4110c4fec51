// The daemon's admin endpoints on the receiver's port: /healthz flips to ready once the
// engine has started, /metrics is valid Prometheus text whose counters follow the traffic.

#include <httplib.h>

#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "engine/ops/admin.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

httplib::Result Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  return client.Get(path);
}

bool IsMetricName(std::string_view name, bool label = false) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// The end of a `{name="value",...}` label set starting at text[0], or npos if malformed.
// (No std::regex: GCC 12 warns falsely inside it under the sanitizer build.)
size_t LabelSetEnd(std::string_view text) {
  size_t i = 1;
  while (i < text.size() && text[i] != '}') {
    const size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || !IsMetricName(text.substr(i, eq - i), true)) {
      return std::string_view::npos;
    }
    if (eq + 1 >= text.size() || text[eq + 1] != '"') return std::string_view::npos;
    size_t j = eq + 2;
    while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
    if (j >= text.size()) return std::string_view::npos;
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return i < text.size() ? i + 1 : std::string_view::npos;
}

// Parses Prometheus text exposition (0.0.4) strictly: every line a HELP, a TYPE or a
// sample of a declared family; returns the samples by "name{labels}".
std::map<std::string, double> ParsePrometheus(const std::string& text) {
  static const std::set<std::string> kTypes = {"counter", "gauge", "summary", "histogram",
                                               "untyped"};
  std::map<std::string, double> samples;
  std::set<std::string> declared;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO("line: " << line);
    if (line.empty()) continue;
    std::istringstream words(line);
    if (line.rfind("# HELP ", 0) == 0) {
      std::string hash, help, name;
      words >> hash >> help >> name;
      CHECK(IsMetricName(name));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string hash, type_word, name, type, rest;
      words >> hash >> type_word >> name >> type;
      CHECK(IsMetricName(name));
      CHECK(kTypes.count(type) == 1);
      CHECK_FALSE(words >> rest);
      declared.insert(name);
      continue;
    }
    const size_t name_end = line.find_first_of("{ ");
    REQUIRE(name_end != std::string::npos);
    std::string family = line.substr(0, name_end);
    REQUIRE(IsMetricName(family));
    size_t value_at = name_end;
    if (line[name_end] == '{') {
      const size_t labels_end = LabelSetEnd(std::string_view(line).substr(name_end));
      REQUIRE(labels_end != std::string_view::npos);
      value_at = name_end + labels_end;
    }
    REQUIRE(value_at < line.size());
    REQUIRE(line[value_at] == ' ');
    const std::string key = line.substr(0, value_at);
    const std::string value = line.substr(value_at + 1);
    for (const char* suffix : {"_sum", "_count", "_bucket"}) {
      if (!declared.count(family) && family.size() > std::strlen(suffix) &&
          family.ends_with(suffix)) {
        family.resize(family.size() - std::strlen(suffix));
      }
    }
    CHECK(declared.count(family) == 1);
    size_t used = 0;
    const double v = std::stod(value, &used);
    CHECK(used == value.size());
    samples[key] = v;
  }
  return samples;
}

TEST_CASE("healthz is ready only once started; metrics are Prometheus text that follows traffic",
          "[live][ops]") {
  SimFixture f(Small());
  config::Config config = f.Config(500);
  const int port = FreePort();
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://" + config.webhook.listen + "/notify";
  sync::LiveSync live(config, &f.client(), &f.store(), &f.clock());
  sync::LiveSyncOptions options;
  options.background = false;
  options.admin_handler = ops::MakeAdminHandler(&live);
  int probes = 0;
  options.on_initial_sync = [&](const sync::CollectionReport&) {
    // The receiver is up (Graph validated it) but the first sync is still running.
    auto starting = Get(port, "/healthz");
    REQUIRE(starting);
    CHECK(starting->status == 503);
    CHECK(starting->body.find("starting") != std::string::npos);
    ++probes;
  };
  REQUIRE(live.Start(options).ok());
  CHECK(probes == 6);
  auto ready = Get(port, "/healthz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(ready->body == "{\"status\":\"ready\"}\n");

  const std::string user = f.sim().UserIds()[0];
  for (int i = 0; i < 5; ++i)
    f.sim().CreateItem(user, "messages", Subject("m" + std::to_string(i)));
  f.sim().PumpDeliveries();
  auto before = Get(port, "/metrics");
  REQUIRE(before);
  CHECK(before->status == 200);
  CHECK(before->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  auto m = ParsePrometheus(before->body);
  CHECK(m["graphmirror_notifications_accepted_total"] == 5);
  CHECK(m["graphmirror_notifications_received_total"] == 5);
  // The 5 notifications and the catch-up rows queued with the mailbox's 3 subscriptions.
  CHECK(m["graphmirror_log_backlog{user=\"" + user + "\",state=\"pending\"}"] == 5 + 3);
  CHECK(m["graphmirror_subscription_operations_total{operation=\"create\"}"] == 6);
  CHECK(m["graphmirror_graph_requests_total{status=\"2xx\"}"] > 0);
  // Events of both mailboxes; messages and contacts are loaded by their delta rounds.
  CHECK(m["graphmirror_round_duration_seconds_count{kind=\"created\"}"] == 2);
  CHECK(m.count("graphmirror_subscription_expiry_timestamp_seconds{user=\"" + user +
                "\",collection=\"messages\"}") == 1);

  // A forged item is counted by reason; applied rows show up once the worker ran.
  httplib::Client hook("127.0.0.1", port);
  auto forged = hook.Post("/notify",
                          R"({"value":[{"subscriptionId":"nope","changeType":"created",)"
                          R"("clientState":"x","resource":"Users/u/Messages/m"}]})",
                          "application/json");
  REQUIRE(forged);
  CHECK(forged->status == 202);
  REQUIRE(live.worker().RunOnce().ok());
  auto after = ParsePrometheus(Get(port, "/metrics")->body);
  CHECK(after["graphmirror_notifications_rejected_total{reason=\"unknown_subscription\"}"] == 1);
  CHECK(after["graphmirror_notifications_ended_total{outcome=\"applied\"}"] == 5);
  CHECK(after["graphmirror_log_backlog{user=\"" + user + "\",state=\"pending\"}"] == 0);
  CHECK(after["graphmirror_http_requests_total"] > m["graphmirror_http_requests_total"]);
  CHECK(Get(port, "/nothing-here")->status == 404);

  live.Stop();
}

}  // namespace
}  // namespace graphmirror::test
