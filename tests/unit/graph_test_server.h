// FakeGraph: a loopback HTTP server that plays the token endpoint and Graph with answers
// scripted by each test, for the unit tests of engine/graph's HTTP side. It records what
// arrived (with the test clock's time) and how many requests of a mailbox overlapped.
//
// Not a simulator (that is tools/graphsim): it knows only what a test tells it.

#ifndef GRAPHMIRROR_TESTS_UNIT_GRAPH_TEST_SERVER_H_
#define GRAPHMIRROR_TESTS_UNIT_GRAPH_TEST_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/graph/graph_client.h"
#include "graphmirror/clock.h"

namespace graphmirror::graph::testing {

struct Arrival {
  std::string target;   // as sent: path and query
  std::string mailbox;  // the segment after /users/, if any
  TimePoint at;
  std::string authorization;
  std::string prefer;
  std::string accept;
};

class FakeGraph {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit FakeGraph(Clock* clock) : clock_(clock) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(48); };
    // httplib closes a connection after 5 requests by default, and its listen backlog is
    // 5: a burst of new connections then waits a second for a SYN retransmit, which would
    // blur concurrency measurements. Keep connections, and widen the backlog below.
    server_.set_keep_alive_max_count(100'000);
    server_.set_keep_alive_timeout(5);
    server_.set_socket_options([this](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));  // not SO_REUSEPORT
      socket_ = sock;
    });
    server_.Post("/tenant/oauth2/v2.0/token",
                 [this](const httplib::Request& req, httplib::Response& res) { Token(req, res); });
    server_.Get(R"(/v1\.0/.*)",
                [this](const httplib::Request& req, httplib::Response& res) { Graph(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (socket_ >= 0) ::listen(socket_, 128);  // Linux: a second listen() sets the backlog
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeGraph() {
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string base_url() const { return origin() + "/v1.0"; }
  std::string token_url() const { return origin() + "/tenant/oauth2/v2.0/token"; }

  ClientOptions Options() const {
    ClientOptions o;
    o.base_url = base_url();
    o.token_url = token_url();
    o.client_id = "app-id";
    o.client_secret = secret;
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.read_timeout = std::chrono::milliseconds(5000);
    return o;
  }

  void SetGraphHandler(Handler h) {
    std::lock_guard<std::mutex> lock(mu_);
    graph_handler_ = std::move(h);
  }
  // Replaces the default token endpoint (checks the secret, mints "tok-N").
  void SetTokenHandler(Handler h) {
    std::lock_guard<std::mutex> lock(mu_);
    token_handler_ = std::move(h);
  }

  std::vector<Arrival> arrivals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }
  std::vector<Arrival> arrivals_of(const std::string& mailbox) const {
    std::vector<Arrival> out;
    for (auto& a : arrivals()) {
      if (a.mailbox == mailbox) out.push_back(a);
    }
    return out;
  }
  int peak_in_flight(const std::string& mailbox) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peak_.find(mailbox);
    return it == peak_.end() ? 0 : it->second;
  }
  void ResetPeaks() {
    std::lock_guard<std::mutex> lock(mu_);
    peak_.clear();
  }
  std::map<std::string, std::string> last_token_form() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_form_;
  }
  std::string last_token_content_type() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_content_type_;
  }

  // Token endpoint behaviour (the default handler).
  std::string secret = "s3cret-value";
  int expires_in = 3600;
  std::atomic<int> token_posts{0};
  // Real time each Graph request is held, so that concurrent requests overlap.
  std::chrono::milliseconds hold{0};

 private:
  void Token(const httplib::Request& req, httplib::Response& res) {
    const int n = ++token_posts;
    Handler custom;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_form_.clear();
      for (const auto& [k, v] : req.params) last_form_[k] = v;
      last_content_type_ = req.get_header_value("Content-Type");
      custom = token_handler_;
    }
    if (custom) return custom(req, res);
    if (req.get_param_value("client_secret") != secret) {
      res.status = 401;
      res.set_content(
          R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client )"
          R"(secret provided. Ensure the secret being sent in the request is the client )"
          R"(secret value, not the client secret ID.\r\nTrace ID: 0a1b\r\nCorrelation ID: )"
          R"(2c3d\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[7000215],)"
          R"("trace_id":"0a1b","correlation_id":"2c3d"})",
          "application/json");
      return;
    }
    res.set_content(R"({"token_type":"Bearer","expires_in":)" + std::to_string(expires_in) +
                        R"(,"ext_expires_in":3599,"access_token":"tok-)" + std::to_string(n) +
                        R"("})",
                    "application/json");
  }

  void Graph(const httplib::Request& req, httplib::Response& res) {
    Arrival a;
    a.target = req.target;
    a.at = clock_->Now();
    a.authorization = req.get_header_value("Authorization");
    a.prefer = req.get_header_value("Prefer");
    a.accept = req.get_header_value("Accept");
    const std::string users = "/v1.0/users/";
    if (req.path.rfind(users, 0) == 0) {
      a.mailbox = req.path.substr(users.size(), req.path.find('/', users.size()) - users.size());
    }
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      arrivals_.push_back(a);
      int& n = in_flight_[a.mailbox];
      ++n;
      peak_[a.mailbox] = std::max(peak_[a.mailbox], n);
      handler = graph_handler_;
    }
    if (hold.count() > 0) std::this_thread::sleep_for(hold);
    if (handler) {
      handler(req, res);
    } else {
      res.set_content(R"({"value":[]})", "application/json");
    }
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_[a.mailbox];
  }

  Clock* clock_;
  httplib::Server server_;
  int port_ = 0;
  socket_t socket_ = -1;
  std::thread thread_;

  mutable std::mutex mu_;
  Handler graph_handler_;
  Handler token_handler_;
  std::vector<Arrival> arrivals_;
  std::map<std::string, int> in_flight_;
  std::map<std::string, int> peak_;
  std::map<std::string, std::string> last_form_;
  std::string last_content_type_;
};

inline void GraphError(httplib::Response& res, int status, const std::string& code,
                       const std::string& message) {
  res.status = status;
  res.set_content(R"({"error":{"code":")" + code + R"(","message":")" + message +
                      R"(","innerError":{"request-id":"r-1","date":"2026-01-01T00:00:00"}}})",
                  "application/json");
}

}  // namespace graphmirror::graph::testing

#endif  // GRAPHMIRROR_TESTS_UNIT_GRAPH_TEST_SERVER_H_
