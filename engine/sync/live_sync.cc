#include "engine/sync/live_sync.h"

#include <spdlog/spdlog.h>

#include "engine/graph/public_fetch.h"
#include "engine/graph/url.h"
#include "engine/rich/keygen.h"

namespace graphmirror::sync {

Result<notify::ReceiverOptions> ReceiverOptionsFrom(const config::WebhookSettings& webhook) {
  notify::ReceiverOptions options;
  size_t colon = webhook.listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("webhook.listen '" + webhook.listen + "' is not host:port");
  }
  options.host = webhook.listen.substr(0, colon);
  if (options.host.size() > 2 && options.host.front() == '[') {
    options.host = options.host.substr(1, options.host.size() - 2);  // [::1]
  }
  try {
    options.port = std::stoi(webhook.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return Status::InvalidArgument("webhook.listen '" + webhook.listen + "' has no port");
  }
  if (webhook.notification_url.empty()) {
    return Status::InvalidArgument("webhook.notification_url is required to run");
  }
  auto notification = graph::ParseUrl(webhook.notification_url);
  if (!notification.ok()) return notification.status();
  options.notification_path = std::string(notification->Path());
  options.lifecycle_path = options.notification_path;
  if (!webhook.lifecycle_url.empty()) {
    auto lifecycle = graph::ParseUrl(webhook.lifecycle_url);
    if (!lifecycle.ok()) return lifecycle.status();
    options.lifecycle_path = std::string(lifecycle->Path());
  }
  options.max_body_bytes = webhook.max_body_bytes;
  options.max_connections = webhook.max_connections;
  options.max_idle_connections = webhook.max_idle_connections;
  options.request_timeout = webhook.request_timeout;
  options.tls_certificate = webhook.tls_certificate;
  options.tls_private_key = webhook.tls_private_key;
  return options;
}

std::string GraphTokenScope(const std::string& base_url) {
  auto url = graph::ParseUrl(base_url);
  if (!url.ok()) return graph::ClientOptions().scope;
  // The .default scope carries the Graph host of the cloud (graph.microsoft.us,
  // microsoftgraph.chinacloudapi.cn, ...: "Microsoft Graph national cloud deployments"),
  // with no explicit default port.
  return url->ResourceOrigin() + "/.default";
}

graph::ClientOptions ClientOptionsFrom(const config::Config& config) {
  graph::ClientOptions o;
  o.base_url = config.graph.base_url;
  o.token_url = config.graph.token_url;
  o.client_id = config.graph.client_id;
  o.client_secret = config.graph.client_secret;
  o.client_certificate = config.graph.certificate;
  o.client_private_key = config.graph.private_key;
  o.client_assertion_pss = config.graph.assertion_algorithm == "PS256";
  if (!config.graph.base_url.empty()) o.scope = GraphTokenScope(config.graph.base_url);
  o.max_retry_wait = config.sync.max_retry_wait;
  // Bodies are read as HTML whatever sync.bodies says: delta rounds serve no other form,
  // and text is made of it (graph::PutBodiesInForm), so that each message is read once.
  o.body_content_type = config.sync.bodies == "none" ? "" : "html";
  return o;
}

LiveSync::LiveSync(const config::Config& config, graph::GraphClient* client, store::Store* store,
                   Clock* clock)
    : config_(config),
      client_(client),
      store_(store),
      clock_(clock),
      sync_(config, client, store, clock),
      keeper_(config, client, store, &table_, clock, &sync_),
      worker_(config, &sync_, store, clock) {
  worker_.SetLifecycleHandler(
      [this](const store::PendingNotification& row) { return keeper_.HandleLifecycle(row); });
  if (!config.sharepoint.empty()) {
    sharepoint_ = std::make_unique<sharepoint::SharePointMirror>(config, ClientOptionsFrom(config),
                                                                 store, &table_, clock);
  }
}

LiveSync::~LiveSync() { Stop(); }

Status LiveSync::SetUpRich(const LiveSyncOptions& options) {
  if (!config_.rich) return Status::Ok();
  auto pem = ReadRichFile(config_.rich->certificate, "certificate");
  if (!pem.ok()) return pem.status();
  auto certificate = rich::ReadCertificateForGraph(*pem);
  if (!certificate.ok()) {
    return Status::InvalidArgument(config_.rich->certificate + ": " +
                                   certificate.status().message());
  }
  keeper_.SetRichCertificate(certificate->der_base64, config_.rich->current.certificate_id);
  auto fetch = options.fetch_jwks;
  if (!fetch) {
    fetch = [url = config_.rich->jwks_url] { return graph::FetchPublicDocument(url); };
  }
  auto content = RichContent::Create(config_, clock_, store_, std::move(fetch));
  if (!content.ok()) return content.status();
  rich_ = std::move(content).value();
  worker_.SetRichContent(rich_.get());
  return Status::Ok();
}

Status LiveSync::Start(LiveSyncOptions options) {
  // Graph delivering to an event hub ([kafka] event_hub_url) and no webhook configured:
  // the receiver only checks and logs what the Kafka source hands to Accept.
  const bool event_hub_only = config_.kafka && !config_.kafka->event_hub_url.empty() &&
                              config_.webhook.notification_url.empty();
  if (event_hub_only && options.serve_http) {
    return Status::InvalidArgument(
        "webhook.notification_url is required to serve the webhook (subscriptions deliver to "
        "the event hub of kafka.event_hub_url)");
  }
  if (event_hub_only && !config_.sharepoint.empty()) {
    return Status::InvalidArgument(
        "[[sharepoint]] lists need webhook.notification_url: SharePoint posts its "
        "notifications to a webhook, not to an event hub");
  }
  Result<notify::ReceiverOptions> receiver_options =
      event_hub_only ? Result<notify::ReceiverOptions>(notify::ReceiverOptions{})
                     : ReceiverOptionsFrom(config_.webhook);
  if (!receiver_options.ok()) return receiver_options.status();
  if (Status s = store_->HoldLiveLock(); !s.ok()) return s;
  Status prepared = [&] {
    if (Status s = SetUpRich(options); !s.ok()) return s;
    receiver_ = std::make_unique<notify::Receiver>(*receiver_options, &table_, store_, clock_);
    receiver_->SetOnAccepted([this] {
      worker_.Wake();
      if (sharepoint_) sharepoint_->Wake();
    });
    if (options.admin_handler) receiver_->SetAdminHandler(options.admin_handler);
    if (Status s = keeper_.LoadStored(); !s.ok()) return s;
    if (sharepoint_) {
      if (Status s = sharepoint_->LoadStored(); !s.ok()) return s;
    }
    if (Status s = ApplyScopes(config_, store_); !s.ok()) return s;
    if (Status s = sync_.LoadStopped(); !s.ok()) return s;
    if (options.serve_http) return receiver_->Start();
    return Status::Ok();
  }();
  if (!prepared.ok()) {
    store_->ReleaseLiveLock();  // a start that failed leaves the database to others
    return prepared;
  }
  started_ = true;
  initial_running_.store(true);
  if (options.initial_sync_in_background && options.background) {
    start_thread_ = std::thread([this, options = std::move(options)] { StartUp(options); });
  } else {
    StartUp(options);
  }
  return Status::Ok();
}

bool LiveSync::stopping() {
  std::lock_guard<std::mutex> lock(state_mu_);
  return stopping_;
}

bool LiveSync::Launch(std::thread& thread, std::function<void()> body) {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (stopping_) return false;
  thread = std::thread(std::move(body));
  return true;
}

void LiveSync::StartUp(const LiveSyncOptions& options) {
  // Ends the initial sync as running, and wakes WaitForInitialSync, however it ends.
  struct EndInitial {
    LiveSync* live;
    ~EndInitial() {
      std::lock_guard<std::mutex> lock(live->state_mu_);
      live->initial_running_.store(false);
      live->initial_cv_.notify_all();
    }
  } end_initial{this};
  if (stopping()) return;
  if (Status s = keeper_.Reconcile(); !s.ok()) {
    // Graph may be briefly unavailable: keep the stored subscriptions; creating one that
    // already exists answers 409, which the keeper resolves.
    spdlog::warn("subscriptions: reconciling with Graph failed: {}", s.message());
  }
  if (stopping()) return;
  // A mailbox whose subscription cannot be made now is retried by the keeper; the rest
  // goes on.
  if (Status s = keeper_.Maintain(); !s.ok()) spdlog::warn("subscriptions: {}", s.message());

  // Renewals and retries must not wait for a long first sync.
  if (options.background && !Launch(keeper_thread_, [this] { keeper_.Run(); })) return;
  int total = 0;
  for (const auto& mailbox : config_.mailboxes) total += static_cast<int>(mailbox.resources.size());
  initial_total_.store(total);
  auto reports = SyncAllOnce(config_, &sync_, store_, [&](const CollectionReport& r) {
    initial_done_.fetch_add(1);
    if (options.on_initial_sync && !sync_.cancelled()) options.on_initial_sync(r);
  });
  if (stopping()) {
    spdlog::info("sync: stopped during the initial sync; the next start goes on from there");
    return;
  }
  for (const auto& r : reports) {
    if (r.status.ok()) {
      sync_.Recheck(r.user_id, r.collection);  // the catch-up after downtime
    } else {
      spdlog::warn("initial sync of {} {}: {}", r.user_id, CollectionName(r.collection),
                   r.status.message());
    }
  }
  if (sharepoint_) {
    if (std::string problem = config::SharePointCredentialProblem(config_); !problem.empty()) {
      spdlog::warn("sharepoint: {}", problem);
    }
    // After the receiver listens (SharePoint validates the URL while subscribing), and
    // before the first sync, so that no change falls between the two.
    if (Status s = sharepoint_->Maintain(); !s.ok()) spdlog::warn("sharepoint: {}", s.message());
    if (stopping()) return;
    if (auto synced = sharepoint_->RunOnce(/*all=*/true); !synced.ok()) {
      spdlog::warn("sharepoint: initial sync: {}", synced.status().message());
    }
  }
  if (options.background) {
    if (!Launch(worker_thread_, [this] { worker_.Run(); })) return;
    worker_.Wake();
    if (sharepoint_ && !Launch(sharepoint_thread_, [this] { sharepoint_->Run(); })) return;
  }
  ready_.store(true);
  if (options.on_initial_sync_done) options.on_initial_sync_done(reports);
}

bool LiveSync::WaitForInitialSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_mu_);
  initial_cv_.wait_for(lock, timeout, [this] { return !initial_running_.load() || stopping_; });
  return !initial_running_.load() && !stopping_ && ready_.load();
}

void LiveSync::Stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    stopping_ = true;
    initial_cv_.notify_all();
  }
  ready_.store(false);
  // The initial sync (and any round of the worker) ends after its current page, and a
  // request waiting out a throttle stops waiting.
  sync_.Cancel();
  client_->SetCancelled(true);
  receiver_->Stop();
  worker_.Stop();
  keeper_.Stop();
  if (sharepoint_) sharepoint_->Stop();
  if (start_thread_.joinable()) start_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
  if (sharepoint_thread_.joinable()) sharepoint_thread_.join();
  if (keeper_thread_.joinable()) keeper_thread_.join();
  client_->SetCancelled(false);  // the client outlives this engine (Engine::SyncOnce)
  store_->ReleaseLiveLock();
}

}  // namespace graphmirror::sync
