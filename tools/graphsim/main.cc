// graphsim: serves a simulated Microsoft Graph tenant over HTTP until SIGINT/SIGTERM.
//
// Prints the base URL as the first stdout line, then "user <id> <upn>" per user, so a
// script can start it with --listen 127.0.0.1:0 and read where it went.

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tools/graphsim/graphsim.h"

namespace {

// "host:port" with a numeric port in 0..65535.
bool ParseListen(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return false;
  std::string port_text = text.substr(colon + 1);
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::stoi(port_text);
  if (*port > 65535) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

int Fail(const std::string& message) {
  std::cerr << "graphsim: " << message << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  graphsim::Options options;
  std::string listen = "127.0.0.1:0";
  int64_t token_lifetime = options.token_lifetime.count();
  int64_t window = options.window.count();
  bool stale_upn = false;
  bool verbose = false;
  std::string resource_style = "slash";
  bool reorder = false;
  int64_t retry_initial_ms = options.delivery_retry_initial.count();
  int64_t delivery_timeout_ms = options.delivery_timeout.count();
  int64_t validation_timeout_ms = options.validation_timeout.count();
  bool https_only = false;

  CLI::App app{"graphsim: a simulated Microsoft Graph tenant for tests and benchmarks"};
  app.add_option("--listen", listen, "host:port to serve on (port 0: any free port)");
  app.add_option("--users", options.users, "number of users")->check(CLI::Range(0, 100000));
  app.add_option("--messages", options.messages, "seeded messages per user")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--events", options.events, "seeded events per user")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--contacts", options.contacts, "seeded contacts per user")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--seed", options.seed, "seed of the generated data");
  app.add_option("--client-id", options.client_id, "the application allowed to get tokens");
  app.add_option("--client-secret", options.client_secret, "its client secret");
  std::string client_certificate;
  app.add_option("--client-certificate", client_certificate,
                 "PEM certificate registered for it: client assertions signed with its key are "
                 "accepted")
      ->check(CLI::ExistingFile);
  app.add_option("--token-lifetime", token_lifetime, "token lifetime in seconds")
      ->check(CLI::Range(int64_t{1}, int64_t{86400 * 365}));
  app.add_option("--max-concurrent", options.max_concurrent_per_mailbox,
                 "concurrent requests per mailbox before 429")
      ->check(CLI::Range(1, 100000));
  app.add_option("--requests-per-window", options.requests_per_window,
                 "requests per mailbox per window before 429")
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--window", window, "throttling window in seconds")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--retry-after", options.throttle_retry_after_seconds,
                 "Retry-After seconds sent with 429s (fractional allowed)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_flag("--stale-upn", stale_upn, "answer some UPN-addressed requests 503 MailboxInfoStale");
  app.add_option("--threads", options.http_threads, "HTTP worker threads")
      ->check(CLI::Range(1, 1024));
  app.add_option("--resource-style", resource_style,
                 "how notifications spell resource paths: slash, paren, mixed or tenant")
      ->check(CLI::IsMember({"slash", "paren", "mixed", "tenant"}));
  app.add_option("--duplicate-every", options.duplicate_every,
                 "deliver every Nth notification batch twice (0: never)")
      ->check(CLI::Range(0, 1000000));
  app.add_flag("--reorder", reorder, "shuffle notifications within and across batches");
  app.add_option("--subscription-max-minutes", options.subscription_max_minutes,
                 "longest subscription lifetime in minutes")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--expiry-error-code", options.expiry_too_far_code,
                 "error code for an expiry too far ahead (ExtensionError, ErrorInvalidParameter)");
  app.add_option("--delivery-retry-initial-ms", retry_initial_ms,
                 "first retry delay of a failed notification POST (clock time, ms)")
      ->check(CLI::Range(int64_t{1}, int64_t{86400000}));
  app.add_option("--delivery-timeout-ms", delivery_timeout_ms,
                 "real time a notification POST may take before it failed")
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  app.add_option("--validation-timeout-ms", validation_timeout_ms,
                 "real time the validation handshake waits")
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  app.add_option("--max-batch", options.max_batch, "notifications per POST")
      ->check(CLI::Range(1, 100000));
  app.add_option("--delivery-concurrency", options.delivery_concurrency,
                 "notification POSTs in flight at once")
      ->check(CLI::Range(1, 256));
  int64_t delta_lifetime = 7 * 24 * 3600;
  std::string delta_expired = "gone";
  app.add_option("--delta-token-lifetime", delta_lifetime, "seconds a delta token stays valid")
      ->check(CLI::Range(int64_t{1}, int64_t{100LL * 365 * 24 * 3600}));
  app.add_option("--delta-expired-style", delta_expired,
                 "answer to an expired delta token: gone (410), syncstate (400), resync (400)")
      ->check(CLI::IsMember({"gone", "syncstate", "resync"}));
  app.add_option("--delta-replay-every", options.delta_replay_every,
                 "every Nth delta continuation page repeats the previous page (0: never)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--delta-empty-page-every", options.delta_empty_page_every,
                 "every Nth delta page with a nextLink is preceded by an empty page (0: never)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--max-page-size", options.max_page_size,
                 "server-side cap on items per page of lists and delta rounds (0: none)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--recurrence-horizon-days", options.recurrence_horizon_days,
                 "days past the later of its start and now that a recurring series without an "
                 "end is expanded into occurrences")
      ->check(CLI::Range(1, 36500));
  int64_t listing_lag = 0;
  app.add_option("--listing-lag", listing_lag,
                 "seconds before a change is visible to list and delta queries (GET by id and "
                 "notifications see it at once)")
      ->check(CLI::Range(int64_t{0}, int64_t{24 * 3600}));
  int64_t reauthorize_minutes = options.reauthorize_before_expiry.count();
  app.add_option("--reauthorize-before-expiry", reauthorize_minutes,
                 "minutes before a subscription's expiry at which it gets one "
                 "reauthorizationRequired (0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  app.add_option("--rich-subscription-max-minutes", options.rich_subscription_max_minutes,
                 "longest lifetime in minutes of a subscription with resource data")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--validation-token-version", options.validation_token_version,
                 "form of the validationTokens of rich notifications: 1 (sts.windows.net, appid) "
                 "or 2 (login.microsoftonline.com/.../v2.0, azp)")
      ->check(CLI::IsMember({1, 2}));
  app.add_flag("--missed-on-drop", options.missed_on_drop,
               "queue a missed lifecycle notification when a notification batch is dropped");
  app.add_flag("--https-only", https_only, "refuse http notification URLs, as Graph does");
  app.add_option("--kafka-brokers", options.kafka_brokers,
                 "host:port,... of the Kafka cluster that stands in for Azure Event Hubs: "
                 "notifications for EventHub: URLs are written there, one record per "
                 "collection, to the topic named by the hub");
  app.add_flag("-v,--verbose", verbose, "log every request");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }
  if (!client_certificate.empty()) {
    std::ifstream in(client_certificate);
    std::stringstream pem;
    pem << in.rdbuf();
    options.client_certificate_pem = pem.str();
    if (!in ||
        options.client_certificate_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Fail("--client-certificate: " + client_certificate + " is not a PEM certificate");
    }
  }
  std::string host;
  int port = 0;
  if (!ParseListen(listen, &host, &port)) {
    return Fail("--listen must be host:port (e.g. 127.0.0.1:8080), got '" + listen + "'");
  }
  if (!options.kafka_brokers.empty()) {
    bool ok = options.kafka_brokers.back() != ',';
    std::stringstream brokers(options.kafka_brokers);
    std::string broker, broker_host;
    int broker_port = 0;
    while (ok && std::getline(brokers, broker, ',')) {
      ok = ParseListen(broker, &broker_host, &broker_port) && broker_port != 0;
    }
    if (!ok) {
      return Fail("--kafka-brokers must be host:port,... (e.g. 127.0.0.1:9092), got '" +
                  options.kafka_brokers + "'");
    }
  }
  options.token_lifetime = std::chrono::seconds(token_lifetime);
  options.window = std::chrono::seconds(window);
  options.listing_lag = std::chrono::seconds(listing_lag);
  options.stale_mailbox_for_upn = stale_upn;
  options.resource_path_style = resource_style == "paren"    ? graphsim::ResourcePathStyle::kParen
                                : resource_style == "mixed"  ? graphsim::ResourcePathStyle::kMixed
                                : resource_style == "tenant" ? graphsim::ResourcePathStyle::kTenant
                                                             : graphsim::ResourcePathStyle::kSlash;
  options.reorder_deliveries = reorder;
  options.delivery_retry_initial = std::chrono::milliseconds(retry_initial_ms);
  options.delivery_timeout = std::chrono::milliseconds(delivery_timeout_ms);
  options.validation_timeout = std::chrono::milliseconds(validation_timeout_ms);
  options.allow_http_notification_url = !https_only;
  options.reauthorize_before_expiry = std::chrono::minutes(reauthorize_minutes);
  options.delta_token_lifetime = std::chrono::seconds(delta_lifetime);
  options.delta_expired_style =
      delta_expired == "syncstate" ? graphsim::DeltaExpiredStyle::kSyncStateNotFound400
      : delta_expired == "resync"  ? graphsim::DeltaExpiredStyle::kResyncRequired
                                   : graphsim::DeltaExpiredStyle::kGone410;
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);

  // Block the stop signals before any thread starts, so that only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  graphsim::Simulator sim(options, graphmirror::SystemClock::Default());
  graphsim::Server server(&sim);
  graphmirror::Status status = server.Start(host, port);
  if (!status.ok()) {
    std::cerr << status.message() << std::endl;  // already "graphsim: ..."
    return 1;
  }
  sim.StartDeliveryThread();
  std::cout << server.base_url() << "\n";
  for (const graphsim::UserInfo& user : sim.Users()) {
    std::cout << "user " << user.id << " " << user.user_principal_name << "\n";
  }
  std::cout.flush();

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("graphsim: signal {}, stopping", signal_number);
  server.Stop();
  sim.StopDeliveryThread();
  spdlog::shutdown();
  return 0;
}
