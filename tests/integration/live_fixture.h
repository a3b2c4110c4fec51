// LiveSync on graphsim in one process on a ManualClock, driven step by step: the
// keeper's passes, graphsim's deliveries and the worker's runs happen when the test says.

#ifndef GRAPHMIRROR_TESTS_INTEGRATION_LIVE_FIXTURE_H_
#define GRAPHMIRROR_TESTS_INTEGRATION_LIVE_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>

#include "engine/sync/live_sync.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"

namespace graphmirror::test {

inline std::string Subject(const std::string& s) { return "{\"subject\":\"" + s + "\"}"; }

class LiveFixture : public SimFixture {
 public:
  // `before_start` prepares the simulator before the engine first meets it; `configure`
  // changes the engine's config before it starts.
  explicit LiveFixture(graphsim::Options options,
                       const std::function<void(graphsim::Simulator&)>& before_start = nullptr,
                       const std::function<void(config::Config&)>& configure = nullptr)
      : SimFixture(options), port_(FreePort()) {
    if (before_start) before_start(sim());
    config_ = Config(/*page_size=*/500);
    config_.webhook.listen = "127.0.0.1:" + std::to_string(port_);
    config_.webhook.notification_url = "http://127.0.0.1:" + std::to_string(port_) + "/notify";
    config_.webhook.lifecycle_url = "http://127.0.0.1:" + std::to_string(port_) + "/lifecycle";
    if (configure) configure(config_);
    StartLive();
  }

  // A restart with a changed config (the user edited the file).
  void RestartWith(const std::function<void(config::Config&)>& configure) {
    StopLive();
    configure(config_);
    StartLive();
  }

  // As a daemon's start: the receiver listens, subscriptions are reconciled and made, the
  // initial sync runs. Nothing runs in the background.
  void StartLive() {
    live_ = std::make_unique<sync::LiveSync>(config_, &client(), &store(), &clock());
    sync::LiveSyncOptions options_live;
    options_live.background = false;
    REQUIRE(live_->Start(options_live).ok());
  }
  // As a daemon's stop: the webhook is gone until StartLive.
  void StopLive() { live_.reset(); }

  // Graph delivers what is due, the worker applies the log; repeated until quiet.
  void Deliver() {
    for (int i = 0; i < 10; ++i) {
      size_t posts = sim().PumpDeliveries();
      auto ended = live_->worker().RunOnce();
      REQUIRE(ended.ok());
      if (posts == 0 && *ended == 0) return;
    }
  }

  int64_t PendingLog() {
    return QueryInt("SELECT count(*) FROM notification_log WHERE state IN ('received', 'failed')");
  }

  sync::LiveSync& live() { return *live_; }
  int port() const { return port_; }
  const config::Config& config() const { return config_; }

 private:
  int port_;
  config::Config config_;
  std::unique_ptr<sync::LiveSync> live_;
};

inline graphsim::Options Small(uint64_t seed = 3) {
  graphsim::Options o;
  o.seed = seed;
  o.users = 2;
  o.messages = 60;
  o.events = 20;
  o.contacts = 20;
  return o;
}

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_INTEGRATION_LIVE_FIXTURE_H_
