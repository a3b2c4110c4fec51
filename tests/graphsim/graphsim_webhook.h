// A subscriber's webhook endpoint for graphsim's subscription and delivery tests: a small
// httplib server on 127.0.0.1 that answers the validation handshake (echoing the token, or
// misbehaving on request) and records notification POSTs, answering them with a chosen
// status or not at all (hang).

#ifndef GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_WEBHOOK_H_
#define GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_WEBHOOK_H_

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "graphmirror/clock.h"

namespace graphsim_test {

// "2026-01-01T12:45:00Z"
inline std::string IsoTime(graphmirror::TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class Webhook {
 public:
  enum class Validation { kEcho, kWrongBody, kHtml, kStatus500, kHang };

  struct Request {
    std::string path;
    std::string target;  // raw, as sent
    std::string content_type;
    std::string body;
    std::string token;  // validationToken, decoded (validation requests)
    nlohmann::json json;
  };

  Webhook() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    server_.set_keep_alive_timeout(1);
    server_.Post(".*",
                 [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("webhook: cannot bind");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~Webhook() { Stop(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      released_ = true;
    }
    cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/notify") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  void set_validation(Validation v) {
    std::lock_guard<std::mutex> lock(mu_);
    validation_ = v;
  }
  // Status answered to notification POSTs (202 by default); 0 = hang until released.
  void set_notification_status(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    notification_status_ = status;
  }
  // Called (outside the webhook's lock) for every notification POST, before answering.
  void set_on_notification(std::function<void(const nlohmann::json&)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_notification_ = std::move(fn);
  }

  std::vector<Request> validations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return validations_;
  }
  std::vector<Request> notifications() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notifications_;
  }
  // Every item of every notification POST, in arrival order.
  std::vector<nlohmann::json> items() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<nlohmann::json> out;
    for (const Request& r : notifications_) {
      if (r.json.is_object() && r.json.contains("value")) {
        for (const auto& item : r.json["value"]) out.push_back(item);
      }
    }
    return out;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    validations_.clear();
    notifications_.clear();
  }
  // Waits (real time) until at least n items arrived.
  bool WaitForItems(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (items().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return items().size() >= n;
  }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    Request r;
    r.path = req.path;
    r.target = req.target;
    r.content_type = req.get_header_value("Content-Type");
    r.body = req.body;
    std::unique_lock<std::mutex> lock(mu_);
    // Graph spells it validationToken, SharePoint validationtoken.
    const char* param = req.has_param("validationtoken") ? "validationtoken" : "validationToken";
    if (req.has_param(param)) {
      r.token = req.get_param_value(param);
      validations_.push_back(r);
      switch (validation_) {
        case Validation::kEcho:
          res.set_content(r.token, "text/plain; charset=utf-8");
          return;
        case Validation::kWrongBody:
          res.set_content(r.token + "x", "text/plain");
          return;
        case Validation::kHtml:
          res.set_content(r.token, "text/html");
          return;
        case Validation::kStatus500:
          res.status = 500;
          res.set_content(r.token, "text/plain");
          return;
        case Validation::kHang:
          cv_.wait_for(lock, std::chrono::seconds(5), [this] { return released_; });
          res.set_content(r.token, "text/plain");
          return;
      }
    }
    r.json = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    notifications_.push_back(r);
    int status = notification_status_;
    auto hook = on_notification_;
    if (status == 0) {
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return released_; });
      status = 202;
    }
    lock.unlock();
    if (hook) hook(r.json);
    res.status = status;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  bool stopped_ = false;
  Validation validation_ = Validation::kEcho;
  int notification_status_ = 202;
  std::function<void(const nlohmann::json&)> on_notification_;
  std::vector<Request> validations_;
  std::vector<Request> notifications_;
};

}  // namespace graphsim_test

#endif  // GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_WEBHOOK_H_
