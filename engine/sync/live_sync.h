// LiveSync: the running engine behind `graphmirror run`. It wires the rooms together:
// the webhook receiver (notifications into the log), the subscription keeper (Graph
// keeps notifying), and the sync worker (the log into the mirror).
//
// With a [rich] section, the keys are read and the certificate loaded before anything
// starts (a bad file fails Start), and the worker applies rich notifications.
//
// Start order matters for not missing anything: the receiver listens first (Graph
// validates the notification URL while a subscription is created), then subscriptions
// are reconciled and created, then every collection is resynced once (new and changed
// items, what happened before the subscriptions existed), and only then does the worker
// drain the log.
//
// With LiveSyncOptions::initial_sync_in_background (what Engine::Start asks), Start
// returns once the receiver listens and the stored subscriptions are loaded: the same
// sequence (subscriptions, initial sync, then the worker) runs on a start-up thread.
// Notifications that arrive meanwhile are checked, logged and answered 202 as usual; the
// worker applies them once the initial sync has ended (the log is durable, so nothing
// waits in memory). Stop() cancels the initial sync after its current page.
//
// Thread-safety: Start and Stop from one controlling thread; the accessors are safe
// from any thread once started.

#ifndef GRAPHMIRROR_ENGINE_SYNC_LIVE_SYNC_H_
#define GRAPHMIRROR_ENGINE_SYNC_LIVE_SYNC_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/config/config.h"
#include "engine/notify/receiver.h"
#include "engine/notify/subscription_table.h"
#include "engine/sharepoint/sharepoint_mirror.h"
#include "engine/sync/keeper.h"
#include "engine/sync/sync_once.h"
#include "engine/sync/worker.h"

namespace graphmirror::sync {

struct LiveSyncOptions {
  // false: nothing runs in the background after Start; the caller drives
  // keeper().Maintain() and worker().RunOnce() (tests on a ManualClock do).
  bool background = true;
  // Reports of the initial resync, one per collection.
  std::function<void(const CollectionReport&)> on_initial_sync;
  // Where the signing keys of validation tokens come from; unset: GET rich.jwks_url.
  std::function<Result<std::string>()> fetch_jwks;
  // Answers the receiver's other GET paths (engine/ops serves /healthz and /metrics).
  notify::AdminHandler admin_handler;
  // false: no HTTP listener; the embedding program receives Graph's POSTs itself and
  // hands them to receiver().Accept (and answers the validation handshake itself).
  bool serve_http = true;
  // true: Start returns at once and the subscriptions and the initial sync run on a
  // thread of their own (initial_sync_running() meanwhile); needs `background`.
  bool initial_sync_in_background = false;
  // Called once the initial sync has ended (not when Stop cut it short), with every
  // collection's report, after ready() became true; from the start-up thread (or from
  // Start itself when the sync runs inline).
  std::function<void(const std::vector<CollectionReport>&)> on_initial_sync_done;
};

// The Graph client's settings from the config's [graph] table.
graph::ClientOptions ClientOptionsFrom(const config::Config& config);
// The client-credentials scope for the Graph at `base_url`: its origin plus "/.default"
// ("https://graph.microsoft.us/.default" for the US Government cloud).
std::string GraphTokenScope(const std::string& base_url);

class LiveSync {
 public:
  LiveSync(const config::Config& config, graph::GraphClient* client, store::Store* store,
           Clock* clock);
  ~LiveSync();

  Status Start(LiveSyncOptions options = {});
  // Stops taking requests (in-flight ones finish and are answered), then stops the
  // worker and keeper after their current step.
  void Stop();

  int port() const { return receiver_->port(); }
  notify::Receiver& receiver() { return *receiver_; }
  SyncWorker& worker() { return worker_; }
  SubscriptionKeeper& keeper() { return keeper_; }
  notify::SubscriptionTable& subscriptions() { return table_; }
  // Null unless the config has a [rich] section (and Start succeeded).
  RichContent* rich() { return rich_.get(); }
  // Null unless the config has [[sharepoint]] lists.
  sharepoint::SharePointMirror* sharepoint() { return sharepoint_.get(); }
  graph::GraphClient& client() { return *client_; }
  store::Store& store() { return *store_; }
  CollectionSync& collections() { return sync_; }
  const CollectionSync& collections() const { return sync_; }
  const config::Config& config() const { return config_; }
  // True once Start has set the subscriptions and finished the first sync, until Stop.
  bool ready() const { return ready_.load(); }
  // True from Start until the initial sync (subscriptions, collections, lists) has ended
  // or Stop cut it short.
  bool initial_sync_running() const { return initial_running_.load(); }
  // The initial sync's collections: reported so far, and in all (0 before it lists them).
  int initial_sync_done() const { return initial_done_.load(); }
  int initial_sync_total() const { return initial_total_.load(); }
  // Waits until the initial sync has ended (true) or `timeout` passed or Stop began
  // (false). Any thread.
  bool WaitForInitialSync(std::chrono::milliseconds timeout);

 private:
  Status SetUpRich(const LiveSyncOptions& options);
  // What follows the receiver's start: subscriptions, the initial sync, then the
  // background threads. Returns early (without ready()) once Stop began.
  void StartUp(const LiveSyncOptions& options);
  // Starts `thread` running `body` unless Stop began (then false): a thread Stop could
  // miss is never started.
  bool Launch(std::thread& thread, std::function<void()> body);
  bool stopping();

  config::Config config_;
  graph::GraphClient* client_;
  store::Store* store_;
  Clock* clock_;
  notify::SubscriptionTable table_;
  std::unique_ptr<notify::Receiver> receiver_;
  CollectionSync sync_;
  SubscriptionKeeper keeper_;
  SyncWorker worker_;
  std::unique_ptr<RichContent> rich_;
  std::unique_ptr<sharepoint::SharePointMirror> sharepoint_;
  std::thread worker_thread_;
  std::thread sharepoint_thread_;
  std::thread keeper_thread_;
  std::thread start_thread_;  // StartUp, with initial_sync_in_background
  bool started_ = false;
  std::atomic<bool> ready_{false};
  std::atomic<bool> initial_running_{false};
  std::atomic<int> initial_done_{0};
  std::atomic<int> initial_total_{0};
  std::mutex state_mu_;  // guards stopping_ and the launch of threads; initial_cv_ waits on it
  std::condition_variable initial_cv_;
  bool stopping_ = false;
};

// The receiver's listen address and paths from the config's [webhook] table.
Result<notify::ReceiverOptions> ReceiverOptionsFrom(const config::WebhookSettings& webhook);

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_LIVE_SYNC_H_
