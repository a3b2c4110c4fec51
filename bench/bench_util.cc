#include "bench/bench_util.h"

#include <httplib.h>
#include <simdjson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "engine/base/text.h"

namespace graphmirror::bench {
namespace {

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

Options ParseOptions(int argc, char** argv, const std::string& about) {
  Options options;
  CLI::App app(about);
  app.add_flag("--smoke", options.smoke, "tiny sizes, targets not judged (the test suite)");
  app.add_option("--seed", options.seed, "seed of generated data and schedules");
  app.add_option("--work-dir", options.work_dir, "scratch directory (kept)");
  app.add_option("--bin-dir", options.bin_dir, "build directory holding graphsim and graphmirror");
  app.add_option("--only", options.only, "row numbers to run, comma separated");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  std::cerr << argv[0] << ": seed " << options.seed << (options.smoke ? " (smoke)" : "") << "\n";
  return options;
}

bool Wanted(const Options& options, int row) {
  if (options.only.empty()) return true;
  std::stringstream in(options.only);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part == std::to_string(row)) return true;
  }
  return false;
}

int BenchMain(int argc, char** argv, const std::string& name, const std::string& about,
              const std::function<int(const Options&)>& body) {
  Options options = ParseOptions(argc, argv, about);
  spdlog::set_default_logger(spdlog::stderr_color_mt("graphmirror"));
  spdlog::set_level(spdlog::level::warn);
  spdlog::cfg::load_env_levels();
  try {
    return body(options);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
}

std::string Format(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  int size = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(size > 0 ? size : 0, '\0');
  if (size > 0) std::vsnprintf(text.data(), text.size() + 1, format, args);
  va_end(args);
  return text;
}

void PrintRow(const Row& row) {
  std::string line =
      "{\"row\":" + std::to_string(row.number) + ",\"what\":" + JsonString(row.what) +
      ",\"value\":" + JsonNumber(row.value) + ",\"unit\":" + JsonString(row.unit) +
      ",\"baseline\":" + (row.baseline ? JsonNumber(*row.baseline) : "null") +
      ",\"baseline_what\":" + JsonString(row.baseline_what) +
      ",\"target\":" + JsonString(row.target) + ",\"met\":" + (row.met ? "true" : "false") +
      ",\"detail\":" + JsonString(row.detail) + ",\"reproduce\":" + JsonString(row.reproduce) + "}";
  std::cout << line << std::endl;
  std::cerr << "row " << row.number << ": " << row.what << ": " << row.value << " " << row.unit;
  if (row.baseline) std::cerr << " (baseline " << *row.baseline << ")";
  std::cerr << " [" << row.detail << "]\n";
}

double Percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  double rank = p / 100.0 * static_cast<double>(samples.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(samples.size() - 1, lo + 1);
  double frac = rank - static_cast<double>(lo);
  return samples[lo] + (samples[hi] - samples[lo]) * frac;
}

WorkDir::WorkDir(const Options& options, const std::string& name) {
  if (!options.work_dir.empty()) {
    path_ = std::filesystem::path(options.work_dir) / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
    remove_ = false;
    return;
  }
  std::string pattern =
      (std::filesystem::temp_directory_path() / ("graphmirror-bench-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "bench: cannot create a temp dir\n";
    std::exit(1);
  }
  path_ = pattern;
}

WorkDir::~WorkDir() {
  if (!remove_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void Kill(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  WaitExit(pid);
}

std::optional<std::string> Capture(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  if (WaitExit(pid) != 0) return std::nullopt;
  return out;
}

double ParseUtc(const std::string& text) {
  std::tm tm{};
  if (text.size() < 19 || !strptime(text.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    return 0;
  }
  double fraction = 0;
  if (text.size() > 20 && text[19] == '.') {
    size_t end = text.find_first_not_of("0123456789", 20);
    fraction = std::stod("0." + text.substr(20, end == std::string::npos ? end : end - 20));
  }
  return static_cast<double>(timegm(&tm)) + fraction;
}

double EpochSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

uint64_t RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6)) * 1024;  // kB
    }
  }
  return 0;
}

RssSampler::RssSampler(pid_t pid, std::chrono::milliseconds period) : pid_(pid), period_(period) {
  thread_ = std::thread([this] {
    Stopwatch clock;
    while (!stop_.load()) {
      uint64_t rss = RssBytes(pid_);
      if (rss > 0) {
        samples_.emplace_back(clock.Seconds(), rss);
        if (rss > peak_.load()) peak_.store(rss);
      }
      std::this_thread::sleep_for(period_);
    }
  });
}

RssSampler::~RssSampler() { Stop(); }

void RssSampler::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<std::pair<double, uint64_t>> RssSampler::Samples() {
  Stop();
  return samples_;
}

std::string GraphmirrorPath(const Options& options) {
  return options.bin_dir + "/tools/graphmirror/graphmirror";
}

std::optional<SimProcess> StartGraphsim(const Options& options,
                                        const std::vector<std::string>& args,
                                        const std::string& log) {
  std::vector<std::string> argv = {options.bin_dir + "/tools/graphsim/graphsim", "--listen",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::filesystem::remove(log);
  SimProcess sim;
  sim.pid = Spawn(argv, log);
  int users = 3;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--users") users = std::stoi(args[i + 1]);
  }
  // It prints its base URL, then one "user ID UPN" line per user, once it serves.
  auto text = WaitForFile(
      log,
      [&](const std::string& t) {
        size_t n = 0;
        for (size_t pos = t.find("\nuser "); pos != std::string::npos;
             pos = t.find("\nuser ", pos + 1)) {
          ++n;
        }
        return static_cast<int>(n) >= users;
      },
      std::chrono::minutes(10));
  if (!text) {
    std::cerr << "bench: graphsim did not start (see " << log << ")\n";
    Kill(sim.pid);
    return std::nullopt;
  }
  std::stringstream in(*text);
  std::string line;
  std::getline(in, sim.base_url);
  while (std::getline(in, line)) {
    if (line.rfind("user ", 0) != 0) continue;
    std::stringstream fields(line.substr(5));
    std::string id;
    fields >> id;
    sim.users.push_back(id);
  }
  return sim;
}

std::string MirrorConfig(const SimProcess& sim, const std::string& db_path,
                         const std::string& resources, const std::string& extra) {
  std::string text = "database = \"" + db_path + "\"\n[graph]\nbase_url = \"" + sim.base_url +
                     "/v1.0\"\ntoken_url = \"" + sim.base_url +
                     "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\n"
                     "client_secret = \"graphsim-secret\"\n";
  for (const std::string& user : sim.users) {
    text += "[[mailbox]]\nuser = \"" + user + "\"\nresources = " + resources + "\n";
  }
  return text + extra;
}

std::map<std::string, MailboxStats> SimStats(const SimProcess& sim) {
  std::map<std::string, MailboxStats> out;
  httplib::Client client(sim.base_url);
  auto res = client.Get("/_sim/stats");
  if (!res || res->status != 200) return out;
  simdjson::dom::parser parser;
  simdjson::dom::array mailboxes;
  if (parser.parse(res->body)["mailboxes"].get(mailboxes) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element m : mailboxes) {
    std::string_view user;
    if (m["user"].get(user) != simdjson::SUCCESS) return {};
    MailboxStats& s = out[std::string(user)];
    if (m["requests"].get(s.requests) != simdjson::SUCCESS ||
        m["throttled"].get(s.throttled) != simdjson::SUCCESS ||
        m["max_concurrent_observed"].get(s.max_concurrent_observed) != simdjson::SUCCESS ||
        m["messages"].get(s.messages) != simdjson::SUCCESS) {
      return {};
    }
  }
  return out;
}

std::string FetchToken(const std::string& base_url) {
  httplib::Client client(base_url);
  auto res = client.Post("/common/oauth2/v2.0/token",
                         "grant_type=client_credentials&client_id=graphsim&client_secret="
                         "graphsim-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
                         "application/x-www-form-urlencoded");
  if (!res || res->status != 200) return "";
  std::smatch m;
  if (!std::regex_search(res->body, m, std::regex(R"re("access_token"\s*:\s*"([^"]+)")re"))) {
    return "";
  }
  return m[1];
}

std::map<std::string, Served> ServedRequests(const std::string& log, size_t offset) {
  std::map<std::string, Served> by_user;
  std::string text = ReadFile(log);
  std::stringstream in(offset < text.size() ? text.substr(offset) : std::string());
  std::string line;
  // spdlog's default pattern: "[2026-12-07 03:28:30.742] [debug] graphsim: GET ... -> 200"
  const std::regex served(
      R"(^\[(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)\.(\d+)\].*graphsim: GET (/v1\.0/users/([^/?]+)\S*) -> 200(?: \((\d+) bytes\))?)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, m, served)) continue;
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    tm.tm_isdst = -1;
    Served& s = by_user[m[9]];
    s.targets.push_back(m[8]);
    s.at.push_back(static_cast<double>(std::mktime(&tm)) + std::stoi(m[7]) / 1000.0);
    if (m[10].matched) s.bytes += std::stoull(m[10]);
  }
  return by_user;
}

ReplayResult Replay(const SimProcess& sim, const std::map<std::string, Served>& requests,
                    size_t workers) {
  ReplayResult result;
  const std::string token = FetchToken(sim);
  if (token.empty()) {
    std::cerr << "bench: no token from graphsim\n";
    return result;
  }
  std::vector<const std::vector<std::string>*> mailboxes;
  for (const auto& [user, served] : requests) mailboxes.push_back(&served.targets);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> bytes{0}, count{0};
  Stopwatch clock;
  std::vector<std::thread> threads;
  for (size_t w = 0; w < std::max<size_t>(1, std::min(workers, mailboxes.size())); ++w) {
    threads.emplace_back([&] {
      httplib::Client client(sim.base_url);
      client.set_keep_alive(true);
      client.set_read_timeout(60, 0);
      httplib::Headers headers{{"Authorization", "Bearer " + token},
                               {"Prefer", "IdType=\"ImmutableId\", odata.maxpagesize=500"},
                               {"Accept", "application/json"}};
      for (size_t i; !failed && (i = next.fetch_add(1)) < mailboxes.size();) {
        for (const std::string& target : *mailboxes[i]) {
          auto res = client.Get(target, headers);
          if (!res || res->status != 200) {
            std::cerr << "bench: replay of " << target.substr(0, 120) << " answered "
                      << (res ? res->status : 0) << "\n";
            failed = true;
            return;
          }
          bytes += res->body.size();
          ++count;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  result.seconds = clock.Seconds();
  result.requests = count;
  result.bytes = bytes;
  result.ok = !failed;
  return result;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string Thousands(double value) {
  auto n = static_cast<long long>(std::llround(value));
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace graphmirror::bench
