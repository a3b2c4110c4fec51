// Server: a Simulator over HTTP with cpp-httplib, configured against the pitfalls in
// TOOLCHAIN.md (explicit pool, SO_REUSEADDR only, payload limit, no leaked exceptions,
// stop() only once running).

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/url_encoded.h"

namespace graphsim {
namespace {

// Parses the query of the raw request target ourselves: httplib would mix form-encoded
// body fields into its params.
std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& target) {
  size_t q = target.find('?');
  if (q == std::string::npos) return {};
  return ParseUrlEncoded(std::string_view(target).substr(q + 1));
}

int PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return -1;
}

// httplib does not expose a request's socket, so find it: the server side of the
// connection is the socket whose local port is the server's and whose peer port is the
// client's (a client socket in this same process has them the other way round). Then
// abort it: linger 0 and shutdown make httplib's write fail and the close send a RST,
// so the client sees a dropped connection and no response. (Only getsockname/getpeername
// touch other descriptors: both are read-only and fail harmlessly on non-sockets.)
void ResetConnection(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      continue;
    }
    if (PortOf(local) != req.local_port || PortOf(peer) != req.remote_port) continue;
    linger abort_on_close{1, 0};
    setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &abort_on_close,
               sizeof(abort_on_close));
    shutdown(static_cast<int>(fd), SHUT_RDWR);
    break;
  }
  closedir(dir);
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(Simulator* sim) : sim_(sim) {}
  ~Impl() { Stop(); }

  graphmirror::Status Start(const std::string& host, int port) {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return graphmirror::Status::InvalidArgument("graphsim server already started");
    // A reset connection makes httplib write to a shut-down socket; that must be an error
    // return, not a process-killing SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    const Options& options = sim_->options();
    int threads = std::max(1, options.http_threads);
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Headers and body go out in separate writes: without this, Nagle holds the body
    // until the client's delayed ACK (40 ms per response on loopback).
    http_.set_tcp_nodelay(true);
    http_.set_keep_alive_timeout(std::max(1, options.keep_alive_seconds));
    http_.set_keep_alive_max_count(1000);
    http_.set_read_timeout(10, 0);
    http_.set_write_timeout(10, 0);
    http_.set_payload_max_length(options.max_payload_bytes);
    http_.set_exception_handler([this](const httplib::Request&, httplib::Response& res,
                                       std::exception_ptr) {
      Fill(res,
           ErrorResponse(500, "generalException", "An unexpected error occurred.", sim_->Now()));
      res.set_header("Date", FormatHttpDate(sim_->Now()));
    });
    // httplib's own errors (413 payload too large, 400 unparsable request) come without a
    // body; give them Graph's.
    http_.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.has_header("Date")) res.set_header("Date", FormatHttpDate(sim_->Now()));
      if (!res.body.empty()) return;
      Fill(res,
           ErrorResponse(res.status, res.status == 413 ? "RequestEntityTooLarge" : "BadRequest",
                         res.status == 413 ? "The request body is too large."
                                           : "The request could not be read.",
                         sim_->Now()));
    });
    auto handler = [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); };
    http_.Get(".*", handler);
    http_.Post(".*", handler);
    http_.Patch(".*", handler);
    http_.Put(".*", handler);
    http_.Delete(".*", handler);
    http_.Options(".*", handler);

    if (port == 0) {
      port = http_.bind_to_any_port(host);
      if (port <= 0) return graphmirror::Status::Unavailable("graphsim: cannot bind " + host);
    } else if (!http_.bind_to_port(host, port)) {
      return graphmirror::Status::Unavailable("graphsim: cannot bind " + host + ":" +
                                              std::to_string(port));
    }
    host_ = host;
    port_ = port;
    started_ = true;
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    // stop() before the server runs would leave listen blocked forever: wait for it.
    for (int i = 0; i < 5000 && !http_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!http_.is_running()) return graphmirror::Status::Internal("graphsim: server did not start");
    return graphmirror::Status::Ok();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    http_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string base_url() const {
    std::string host = host_ == "0.0.0.0" || host_.empty() ? "127.0.0.1" : host_;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(port_);
  }

 private:
  static void Fill(httplib::Response& res, const HttpResponse& response) {
    res.status = response.status;
    for (const auto& [name, value] : response.headers) res.set_header(name, value);
    if (!response.content_type.empty()) res.set_content(response.body, response.content_type);
  }

  void Serve(const httplib::Request& req, httplib::Response& res) {
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    request.params = ParseQuery(req.target);
    for (const auto& [name, value] : req.headers) request.headers.emplace_back(name, value);
    request.body = req.body;
    std::string host = req.get_header_value("Host");
    request.base_url = host.empty() ? base_url() : "http://" + host;
    HttpResponse response = sim_->Handle(request);
    spdlog::debug(
        "graphsim: {} {} -> {} ({} bytes)", req.method, req.target,
        response.reset_connection ? std::string("reset") : std::to_string(response.status),
        response.body.size());
    if (response.reset_connection) {
      ResetConnection(req);
      res.status = 500;
      res.set_header("Connection", "close");
      return;
    }
    Fill(res, response);
  }

  Simulator* const sim_;
  httplib::Server http_;
  std::mutex mu_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
  std::string host_;
  int port_ = 0;
};

Server::Server(Simulator* sim) : impl_(std::make_unique<Impl>(sim)) {}
Server::~Server() { Stop(); }
graphmirror::Status Server::Start(const std::string& host, int port) {
  return impl_->Start(host, port);
}
int Server::port() const { return impl_->port(); }
std::string Server::base_url() const { return impl_->base_url(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace graphsim
