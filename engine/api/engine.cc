#include "graphmirror/engine.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <mutex>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/store/store.h"
#include "engine/sync/live_sync.h"
#include "engine/sync/sync_once.h"

namespace graphmirror {

Result<Config> LoadConfig(const std::string& path) { return config::LoadConfigFile(path); }

struct Engine::Impl {
  Config config;
  Clock* clock = nullptr;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<graph::GraphClient> client;
  std::mutex mu;  // guards live and idle_sync against Start/Stop
  // Shared so that a request in flight keeps it alive without holding `mu` (notifications
  // must not queue behind one another: the store commits them in groups).
  std::shared_ptr<sync::LiveSync> live;
  std::unique_ptr<sync::CollectionSync> idle_sync;  // Resync while not started
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Open(const Config& config, Clock* clock) {
  if (config.database.empty()) return Status::InvalidArgument("config: 'database' is empty");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = clock != nullptr ? clock : SystemClock::Default();
  auto store = store::Store::Open(config.database, impl->clock);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  impl->client = std::make_unique<graph::GraphClient>(sync::ClientOptionsFrom(config), impl->clock);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Status Engine::SyncOnce() {
  Status first;
  for (const auto& report : sync::SyncAllOnce(impl_->config, impl_->client.get(),
                                              impl_->store.get(), nullptr, impl_->clock)) {
    if (!report.status.ok() && first.ok()) first = report.status;
  }
  return first;
}

Status Engine::Start(StartOptions options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->live) return Status::InvalidArgument("the engine is already started");
  auto live = std::make_shared<sync::LiveSync>(impl_->config, impl_->client.get(),
                                               impl_->store.get(), impl_->clock);
  sync::LiveSyncOptions live_options;
  live_options.serve_http = options.serve_http;
  if (Status s = live->Start(live_options); !s.ok()) return s;
  impl_->live = std::move(live);
  return Status::Ok();
}

void Engine::Stop() {
  std::shared_ptr<sync::LiveSync> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = std::move(impl_->live);
  }
  if (live) live->Stop();
}

HttpAnswer Engine::HandleNotification(std::string_view content_type, std::string_view body) {
  std::shared_ptr<sync::LiveSync> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    live = impl_->live;
  }
  if (!live || !live->ready()) return {503, "text/plain; charset=utf-8", "not started\n"};
  notify::NotificationAnswer answer = live->receiver().Accept(content_type, body);
  return {answer.status, answer.body.empty() ? "" : "text/plain; charset=utf-8",
          std::move(answer.body)};
}

HttpAnswer Engine::HandleValidation(std::string_view token) {
  if (!notify::IsWellFormedValidationToken(token)) {
    return {400, "text/plain; charset=utf-8", "malformed validationToken\n"};
  }
  return {200, "text/plain; charset=utf-8", std::string(token)};
}

Status Engine::Resync(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->live) return impl_->live->collections().Full(user_id, collection);
  if (!impl_->idle_sync) {
    impl_->idle_sync = std::make_unique<sync::CollectionSync>(impl_->config, impl_->client.get(),
                                                              impl_->store.get(), impl_->clock);
  }
  return impl_->idle_sync->Full(user_id, collection);
}

Result<EngineStatus> Engine::GetStatus() {
  EngineStatus status;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    status.running = impl_->live != nullptr;
    status.ready = impl_->live != nullptr && impl_->live->ready();
  }
  auto counts = impl_->store->Counts();
  if (!counts.ok()) return counts.status();
  auto syncs = impl_->store->SyncStatuses();
  if (!syncs.ok()) return syncs.status();
  for (const auto& mailbox : impl_->config.mailboxes) {
    for (Collection c : mailbox.resources) {
      CollectionState state{mailbox.user, c, 0, "", ""};
      for (const auto& count : *counts) {
        if (count.user_id == mailbox.user && count.collection == c) state.items = count.items;
      }
      for (const auto& s : *syncs) {
        if (s.user_id != mailbox.user || s.collection != c) continue;
        state.last_sync_at = s.last_sync_at;
        state.stopped_reason = s.stopped_reason;
      }
      status.collections.push_back(std::move(state));
    }
    auto log = impl_->store->NotificationStats(mailbox.user);
    if (!log.ok()) return log.status();
    status.log_backlog += log->pending;
  }
  return status;
}

Result<std::vector<Message>> Engine::Messages(const MessageQuery& query) {
  return impl_->store->Messages(query);
}

Result<std::vector<Event>> Engine::Events(const EventQuery& query) {
  return impl_->store->Events(query);
}

Result<std::vector<Contact>> Engine::Contacts(const ContactQuery& query) {
  return impl_->store->Contacts(query);
}

Result<std::vector<Message>> Engine::Search(const std::string& text, const std::string& user_id,
                                            int limit) {
  return impl_->store->SearchMessages(text, user_id, limit);
}

void Engine::SetObserver(std::function<void(const std::vector<Change>&)> observer) {
  if (!observer) {
    impl_->store->SetChangeObserver(nullptr);
    return;
  }
  impl_->store->SetChangeObserver(
      [observer = std::move(observer)](const std::vector<store::MirrorChange>& changes) {
        std::vector<Change> out;
        out.reserve(changes.size());
        for (const auto& c : changes) out.push_back({c.user_id, c.collection, c.id, c.deleted});
        try {
          observer(out);
        } catch (const std::exception& e) {
          spdlog::warn("engine: the change observer threw: {}", e.what());
        }
      });
}

}  // namespace graphmirror
