// graphsim: serves a simulated Microsoft Graph tenant over HTTP until SIGINT/SIGTERM.
//
// Prints the base URL as the first stdout line, then "user <id> <upn>" per user, so a
// script can start it with --listen 127.0.0.1:0 and read where it went.

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
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
  app.add_flag("-v,--verbose", verbose, "log every request");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }
  std::string host;
  int port = 0;
  if (!ParseListen(listen, &host, &port)) {
    return Fail("--listen must be host:port (e.g. 127.0.0.1:8080), got '" + listen + "'");
  }
  options.token_lifetime = std::chrono::seconds(token_lifetime);
  options.window = std::chrono::seconds(window);
  options.stale_mailbox_for_upn = stale_upn;
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
  std::cout << server.base_url() << "\n";
  for (const graphsim::UserInfo& user : sim.Users()) {
    std::cout << "user " << user.id << " " << user.user_principal_name << "\n";
  }
  std::cout.flush();

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("graphsim: signal {}, stopping", signal_number);
  server.Stop();
  spdlog::shutdown();
  return 0;
}
