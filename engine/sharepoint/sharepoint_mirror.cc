#include "engine/sharepoint/sharepoint_mirror.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "engine/base/backoff.h"
#include "engine/base/text.h"
#include "engine/graph/url.h"

namespace graphmirror::sharepoint {

namespace {

// SharePoint allows 180 days; a day less leaves room for clock skew.
constexpr auto kLifetime = std::chrono::hours(24 * 179);
constexpr auto kRenewMargin = std::chrono::hours(24 * 30);
constexpr auto kMaintainEvery = std::chrono::hours(1);
constexpr auto kMaxRetryDelay = std::chrono::minutes(5);

// What the receiver needs to accept the subscription's notifications.
notify::KnownSubscription Known(const store::ListSubscriptionRecord& r) {
  return {r.id, "", Collection::kMessages, r.client_state, r.site, r.list_id, false};
}

}  // namespace

graph::ClientOptions SiteClientOptions(const graph::ClientOptions& app, const std::string& site) {
  graph::ClientOptions options = app;
  options.base_url = site;
  auto url = graph::ParseUrl(site);
  options.scope = (url.ok() ? url->ResourceOrigin() : site) + "/.default";
  return options;
}

SharePointMirror::SharePointMirror(const config::Config& config,
                                   const graph::ClientOptions& client_options, store::Store* store,
                                   notify::SubscriptionTable* table, Clock* clock)
    : config_(config), store_(store), table_(table), clock_(clock) {
  for (const SharePointConfig& site : config.sharepoint) {
    auto client =
        std::make_unique<graph::GraphClient>(SiteClientOptions(client_options, site.site), clock);
    for (const std::string& list : site.lists) {
      lists_.push_back(std::make_unique<ListSync>(client.get(), store, site.site, list));
    }
    clients_[site.site] = std::move(client);
  }
}

SharePointMirror::~SharePointMirror() { Stop(); }

graph::GraphClient* SharePointMirror::ClientFor(const std::string& site) {
  auto it = clients_.find(site);
  return it == clients_.end() ? nullptr : it->second.get();
}

Status SharePointMirror::LoadStored() {
  auto stored = store_->lists().Subscriptions();
  if (!stored.ok()) return stored.status();
  for (const store::ListSubscriptionRecord& r : *stored) {
    table_->Put(Known(r));
  }
  return Status::Ok();
}

Status SharePointMirror::Maintain() {
  auto stored = store_->lists().Subscriptions();
  if (!stored.ok()) return stored.status();
  Status first = Status::Ok();
  for (const auto& list : lists_) {
    Status s = MaintainList(list->site_url(), list->list_id(), *stored);
    // Shown in `status` until a subscription call for the list succeeds.
    Status noted = store_->lists().NoteError(list->site_url(), list->list_id(),
                                             s.ok() ? "" : OneLine(s.message()),
                                             /*subscription=*/true);
    if (!s.ok()) {
      spdlog::warn("sharepoint: {} list {}: {}", list->site_url(), list->list_id(), s.message());
      if (first.ok()) first = s;
    }
    if (!noted.ok() && first.ok()) first = noted;
  }
  return first;
}

Status SharePointMirror::MaintainList(const std::string& site, const std::string& list_id,
                                      const std::vector<store::ListSubscriptionRecord>& stored) {
  graph::GraphClient* client = ClientFor(site);
  const TimePoint now = clock_->Now();
  const std::string now_text = store::FormatUtc(now);
  const std::string expires = store::FormatUtc(now + kLifetime);
  for (const store::ListSubscriptionRecord& r : stored) {
    if (r.site != site || r.list_id != list_id) continue;
    if (r.expires_at <= now_text) {
      // Ended: SharePoint dropped it. Forget it; a new one follows.
      table_->Remove(r.id);
      if (Status s = store_->lists().DeleteSubscription(r.id); !s.ok()) return s;
      continue;
    }
    table_->Put(Known(r));
    if (r.expires_at > store::FormatUtc(now + kRenewMargin)) return Status::Ok();
    graph::Request renew;
    renew.mailbox = site;
    renew.method = "PATCH";
    renew.path_or_url = ListApiPath(list_id) + "/subscriptions('" + r.id + "')";
    renew.body = "{\"expirationDateTime\":" + JsonString(expires) + "}";
    renew.return_client_errors = true;
    auto answer = client->Send(renew);
    if (!answer.ok()) return answer.status();
    if (answer->status < 300) {
      store::ListSubscriptionRecord renewed = r;
      renewed.expires_at = expires;
      spdlog::info("sharepoint: renewed the subscription of list {} until {}", list_id, expires);
      return store_->lists().PutSubscription(renewed);
    }
    if (answer->status != 404) {
      return graph::ClientErrorStatus(*answer, "renewing the subscription of list " + list_id);
    }
    // SharePoint no longer knows it: make a new one.
    table_->Remove(r.id);
    if (Status s = store_->lists().DeleteSubscription(r.id); !s.ok()) return s;
  }

  store::ListSubscriptionRecord record;
  record.site = site;
  record.list_id = list_id;
  record.client_state = notify::NewClientState();
  record.notification_url = config_.webhook.notification_url;
  record.expires_at = expires;
  graph::Request create;
  create.mailbox = site;
  create.method = "POST";
  create.path_or_url = ListApiPath(list_id) + "/subscriptions";
  create.body = "{\"resource\":" + JsonString(site + ListApiPath(list_id)) +
                ",\"notificationUrl\":" + JsonString(record.notification_url) +
                ",\"expirationDateTime\":" + JsonString(expires) +
                ",\"clientState\":" + JsonString(record.client_state) + "}";
  auto answer = client->Send(create);
  if (!answer.ok()) return answer.status();
  simdjson::dom::parser parser;
  simdjson::dom::element body;
  std::string_view id;
  if (parser.parse(answer->body).get(body) != simdjson::SUCCESS ||
      body["id"].get(id) != simdjson::SUCCESS || id.empty()) {
    return Status::Unavailable("sharepoint: creating the subscription of list " + list_id +
                               ": no id in the answer (" + OneLine(answer->body) + ")");
  }
  record.id = std::string(id);
  // In the table first: SharePoint may notify at once.
  table_->Put(Known(record));
  spdlog::info("sharepoint: subscribed to list {} of {} ({}), expires {}", list_id, site, record.id,
               expires);
  return store_->lists().PutSubscription(record);
}

Result<int> SharePointMirror::RunOnce(bool all) {
  int synced = 0;
  const TimePoint now = clock_->Now();
  for (const auto& list : lists_) {
    Retry& retry = retries_[list.get()];
    auto state = store_->lists().State(list->site_url(), list->list_id());
    if (!state.ok()) return state.status();
    const bool waiting = retry.failures > 0;
    if (!all && !state->due() && !waiting) continue;
    if (waiting && now < retry.next && !all) continue;
    Status s = list->Sync();
    if (s.ok()) {
      retry = Retry{};
      ++synced;
      continue;
    }
    ++retry.failures;
    retry.next = now + Backoff{std::chrono::seconds(2), kMaxRetryDelay}.Delay(retry.failures);
    spdlog::warn("sharepoint: {} list {}: sync failed, retrying: {}", list->site_url(),
                 list->list_id(), s.message());
    // Shown in `status` and counted in /metrics until a sync succeeds.
    if (Status noted =
            store_->lists().NoteError(list->site_url(), list->list_id(), OneLine(s.message()));
        !noted.ok()) {
      return noted;
    }
  }
  return synced;
}

void SharePointMirror::Run() {
  TimePoint next_maintain = clock_->Now() + kMaintainEvery;
  TimePoint next_sweep = clock_->Now() + config_.sync.delta_interval;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    const TimePoint now = clock_->Now();
    if (now >= next_maintain) {
      (void)Maintain();
      next_maintain = now + kMaintainEvery;
    }
    const bool sweep = config_.sync.delta_interval.count() > 0 && now >= next_sweep;
    if (sweep) next_sweep = now + config_.sync.delta_interval;
    if (auto ran = RunOnce(sweep); !ran.ok()) {
      spdlog::warn("sharepoint: {}", ran.status().message());
    }
  }
}

void SharePointMirror::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void SharePointMirror::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
}

}  // namespace graphmirror::sharepoint
