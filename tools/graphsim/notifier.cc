#include "tools/graphsim/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/webhook_client.h"

namespace graphsim {
namespace {

// "2026-01-01T12:00:00.0000000+00:00": notifications print the subscription's expiry with
// an offset, as Graph's samples do (a receiver must parse any offset).
std::string FormatOffsetTime(TimePoint t) {
  std::string text = FormatTicksZ(t);
  if (!text.empty() && text.back() == 'Z') text.replace(text.size() - 1, 1, "+00:00");
  return text;
}

const char* ODataType(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMessage:
      return "#Microsoft.Graph.Message";
    case EntityKind::kEvent:
      return "#Microsoft.Graph.Event";
    case EntityKind::kContact:
      break;
  }
  return "#Microsoft.Graph.Contact";
}

const char* ChangeName(unsigned change) {
  return change == kChangeCreated ? "created" : change == kChangeUpdated ? "updated" : "deleted";
}

ApiError Conflict() {
  return ApiError{409, "ExtensionError",
                  "Operation: Create; Exception: [Status Code: Conflict; Reason: A subscription "
                  "with the same changeType, resource and notificationUrl already exists.]"};
}

ApiError QuotaExceeded() {
  return ApiError{403, "ExtensionError",
                  "Operation: Create; Exception: [Status Code: Forbidden; Reason: Maximum number "
                  "of subscriptions has been reached]"};
}

ApiError NotFound() { return ApiError{404, "ResourceNotFound", "The object was not found."}; }

// "Receive change notifications through Azure Event Hubs": a request for a hub that has "the
// same values for changeType and resource that an existing subscription contains" fails
// with 409 Conflict, "Subscription Id <> already exists for the requested combination".
ApiError HubConflict(const std::string& existing_id) {
  return ApiError{
      409, "ExtensionError",
      "Subscription Id " + existing_id + " already exists for the requested combination"};
}

// Same change types of the same items (target and $filter).
bool SameWatch(const SubscriptionRecord& a, const SubscriptionRecord& b) {
  return a.target == b.target && a.filter_text == b.filter_text && a.changes == b.changes;
}

}  // namespace

std::string ChangeTypeText(unsigned changes) {
  std::string text;
  for (unsigned bit : {kChangeCreated, kChangeUpdated, kChangeDeleted}) {
    if (changes & bit) text += std::string(text.empty() ? "" : ",") + ChangeName(bit);
  }
  return text;
}

Notifier::Notifier(const Options& options, std::string tenant_id, std::function<TimePoint()> now,
                   TokenSigner* signer)
    : options_(options),
      tenant_id_(std::move(tenant_id)),
      now_(std::move(now)),
      signer_(signer),
      ids_(HashCombine(options.seed, 0x5ab5)),
      shuffle_(HashCombine(options.seed, 0x5b0f)) {}

Notifier::~Notifier() { StopThread(); }

// --- subscriptions --------------------------------------------------------------------

void Notifier::PurgeExpiredLocked(TimePoint now) {
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->second.expires <= now) {
      seq_of_.erase(it->second.id);
      it = subs_.erase(it);
    } else {
      ++it;
    }
  }
}

SubscriptionRecord* Notifier::FindLocked(const std::string& id) {
  auto it = seq_of_.find(id);
  return it == seq_of_.end() ? nullptr : &subs_.at(it->second);
}

std::string Notifier::NewIdLocked() { return FormatGuid(ids_.Next(), ids_.Next()); }

std::optional<ApiError> Notifier::CheckLocked(const SubscriptionRecord& candidate) {
  int on_mailbox = 0;
  const bool hub = IsEventHubUrl(candidate.notification_url);
  for (const auto& [seq, sub] : subs_) {
    if (sub.id == candidate.id) continue;
    if (SameWatch(sub, candidate)) {
      // A hub subscription conflicts with any other on the same changeType and resource
      // (Event Hubs page); a webhook one only with the same notificationUrl (field).
      if (hub) return HubConflict(sub.id);
      if (sub.notification_url == candidate.notification_url) return Conflict();
    }
    if (sub.target.user == candidate.target.user) ++on_mailbox;
  }
  if (on_mailbox >= options_.max_subscriptions_per_mailbox) return QuotaExceeded();
  return std::nullopt;
}

std::optional<ApiError> Notifier::CheckCreate(const SubscriptionRecord& candidate) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  return CheckLocked(candidate);
}

std::optional<ApiError> Notifier::Insert(SubscriptionRecord* record) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  record->id.clear();
  if (auto err = CheckLocked(*record)) return err;
  record->id = NewIdLocked();
  record->seq = ++next_seq_;
  seq_of_[record->id] = record->seq;
  subs_[record->seq] = *record;
  if (IsRich(*record) || record->filter) any_rich_ = true;
  return std::nullopt;
}

std::optional<SubscriptionRecord> Notifier::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  const SubscriptionRecord* sub = FindLocked(id);
  if (!sub) return std::nullopt;
  return *sub;
}

bool Notifier::Exists(const std::string& id) { return Find(id).has_value(); }

std::vector<SubscriptionRecord> Notifier::List(uint64_t after, size_t limit, bool* more) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  std::vector<SubscriptionRecord> out;
  *more = false;
  for (auto it = subs_.upper_bound(after); it != subs_.end(); ++it) {
    if (out.size() >= limit) {
      *more = true;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

std::optional<ApiError> Notifier::Update(const std::string& id, const Change& change,
                                         SubscriptionRecord* out) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  SubscriptionRecord* sub = FindLocked(id);
  if (!sub) return NotFound();
  if (change.notification_url) {
    SubscriptionRecord candidate = *sub;
    candidate.notification_url = *change.notification_url;
    const bool hub = IsEventHubUrl(candidate.notification_url);
    for (const auto& [seq, other] : subs_) {
      if (other.id == id || !SameWatch(other, candidate)) continue;
      if (hub) return HubConflict(other.id);
      if (other.notification_url == candidate.notification_url) {
        ApiError err = Conflict();
        err.message.replace(err.message.find("Create"), 6, "Update");
        return err;
      }
    }
    sub->notification_url = *change.notification_url;
  }
  if (change.expires) sub->expires = *change.expires;
  if (change.certificate) {
    sub->certificate = change.certificate;
    sub->certificate_id = change.certificate_id;
  }
  *out = *sub;
  return std::nullopt;
}

bool Notifier::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(now_());
  auto it = seq_of_.find(id);
  if (it == seq_of_.end()) return false;
  subs_.erase(it->second);
  seq_of_.erase(it);
  return true;
}

bool Notifier::EmitLifecycle(const std::string& id, const std::string& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = now_();
    PurgeExpiredLocked(now);
    const SubscriptionRecord* sub = FindLocked(id);
    if (!sub || !QueueLifecycleLocked(*sub, event, now)) return false;
  }
  wake_cv_.notify_all();
  return true;
}

bool Notifier::Remove(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = now_();
    PurgeExpiredLocked(now);
    auto it = seq_of_.find(id);
    if (it == seq_of_.end()) return false;
    QueueLifecycleLocked(subs_.at(it->second), "subscriptionRemoved", now);
    subs_.erase(it->second);
    seq_of_.erase(it);
  }
  wake_cv_.notify_all();
  return true;
}

size_t Notifier::RemoveForUser(int user) {
  size_t removed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = now_();
    PurgeExpiredLocked(now);
    for (auto it = subs_.begin(); it != subs_.end();) {
      if (it->second.target.user != user) {
        ++it;
        continue;
      }
      QueueLifecycleLocked(it->second, "subscriptionRemoved", now);
      seq_of_.erase(it->second.id);
      it = subs_.erase(it);
      ++removed;
    }
  }
  if (removed > 0) wake_cv_.notify_all();
  return removed;
}

// --- queueing ---------------------------------------------------------------------------

std::string Notifier::ResourcePathLocked(const std::string& user_id, EntityKind kind,
                                         const std::string& item_id) {
  ResourcePathStyle style = options_.resource_path_style;
  if (style == ResourcePathStyle::kMixed) {
    style = notifications_ % 2 == 1 ? ResourcePathStyle::kSlash : ResourcePathStyle::kParen;
  }
  std::string collection = CollectionName(kind);  // "messages"
  switch (style) {
    case ResourcePathStyle::kParen:
      return "Users('" + user_id + "')/" + collection + "('" + item_id + "')";
    case ResourcePathStyle::kTenant:
      return "users/" + user_id + "@" + tenant_id_ + "/" + collection + "/" + item_id;
    case ResourcePathStyle::kSlash:
    case ResourcePathStyle::kMixed:
      break;
  }
  collection[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(collection[0])));
  return "Users/" + user_id + "/" + collection + "/" + item_id;
}

void Notifier::QueueLocked(const std::string& url, Pending pending) {
  fresh_[url].push_back(std::move(pending));
  ++stats_.pending_items;
  wake_ = true;
}

Notifier::Pending Notifier::NewPendingLocked(const SubscriptionRecord& sub, TimePoint due) {
  ++notifications_;
  Pending pending;
  pending.subscription_id = sub.id;
  pending.due = due;
  Json& j = pending.item;
  if (options_.include_notification_id) {
    pending.notification_id = NewIdLocked();
    j["id"] = pending.notification_id;
  }
  j["subscriptionId"] = sub.id;
  j["subscriptionExpirationDateTime"] = FormatOffsetTime(sub.expires);
  return pending;
}

bool Notifier::QueueChangeLocked(const SubscriptionRecord& sub, unsigned change,
                                 const ItemChange& item, const std::string& item_id,
                                 TimePoint now) {
  bool rich = IsRich(sub) && change != kChangeDeleted && sub.certificate;
  // Without content the change was made before the subscription existed (WantsContent()
  // was still false): it is not the subscription's to hear about.
  if (rich && !item.content) return false;
  Pending pending = NewPendingLocked(
      sub, now + std::chrono::duration_cast<TimePoint::duration>(options_.delivery_delay));
  std::string path = ResourcePathLocked(item.user_id, item.kind, item_id);
  Json& j = pending.item;
  j["changeType"] = ChangeName(change);
  j["resource"] = path;
  j["resourceData"] = Json{{"@odata.type", ODataType(item.kind)},
                           {"@odata.id", path},
                           {"@odata.etag", item.etag},
                           {"id", item_id}};
  j["clientState"] = sub.client_state ? Json(*sub.client_state) : Json();
  j["tenantId"] = tenant_id_;
  if (rich) {
    Json encrypted;
    if (EncryptContent(DumpJson(RichContent(item.kind, *item.content, sub.select)),
                       *sub.certificate, sub.certificate_id, TakeRichFaultsLocked(true),
                       &encrypted)) {
      j["encryptedContent"] = std::move(encrypted);
      pending.rich = true;
    } else {
      spdlog::error("graphsim: could not encrypt a rich notification for subscription {}", sub.id);
    }
  }
  QueueLocked(sub.notification_url, std::move(pending));
  return true;
}

bool Notifier::QueueLifecycleLocked(const SubscriptionRecord& sub, const std::string& event,
                                    TimePoint now) {
  // Graph sends lifecycle notifications only to a lifecycleNotificationUrl given at create.
  if (sub.lifecycle_url.empty()) return false;
  Pending pending = NewPendingLocked(sub, now);
  pending.change = false;  // delivered even after the subscription is gone
  Json& j = pending.item;
  if (options_.lifecycle_field_report_shape) {
    j["changeType"] = nullptr;
    j["resource"] = "Subscriptions/" + sub.id;
    j["resourceData"] = nullptr;
    j["clientState"] = sub.client_state ? Json(*sub.client_state) : Json();
    j["organizationId"] = tenant_id_;
  } else {
    j["tenantId"] = tenant_id_;
    j["clientState"] = sub.client_state ? Json(*sub.client_state) : Json();
  }
  j["lifecycleEvent"] = event;
  QueueLocked(sub.lifecycle_url, std::move(pending));
  return true;
}

void Notifier::QueueReauthorizationsLocked(TimePoint now) {
  auto window = std::chrono::duration_cast<TimePoint::duration>(options_.reauthorize_before_expiry);
  if (window <= TimePoint::duration::zero()) return;
  for (auto& [seq, sub] : subs_) {
    if (sub.reauthorization_for == sub.expires || sub.expires - now > window) continue;
    sub.reauthorization_for = sub.expires;
    QueueLifecycleLocked(sub, "reauthorizationRequired", now);
  }
}

void Notifier::OnChange(const ItemChange& change) {
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = now_();
    PurgeExpiredLocked(now);
    const bool existed = change.op != ItemChange::Op::kCreate;
    const bool exists = change.op != ItemChange::Op::kDelete;
    const bool moved = change.op == ItemChange::Op::kMove;
    const std::string& old_id = moved ? change.old_id : change.id;
    const int old_folder = moved ? change.old_folder : change.folder;
    for (const auto& [seq, sub] : subs_) {
      if (sub.target.user != change.user || sub.target.kind != change.kind) continue;
      // Without the item's states the change was made before the subscription existed
      // (WantsContent() was still false): it is not the subscription's to hear about.
      if (sub.filter && ((existed && !change.before) || (exists && !change.content))) continue;
      auto matches = [&](const std::shared_ptr<const Json>& state) {
        return !sub.filter || sub.filter->Matches(RenderedFilterSubject(*state));
      };
      const int f = sub.target.folder;
      const bool was_in = existed && (f < 0 || f == old_folder) && matches(change.before);
      const bool is_in = exists && (f < 0 || f == change.folder) && matches(change.content);
      auto emit = [&, &sub = sub](unsigned bit, const std::string& id) {
        if (!(sub.changes & bit)) return;
        if (QueueChangeLocked(sub, bit, change, id, now)) queued = true;
      };
      if (was_in && is_in && old_id == change.id) {
        emit(kChangeUpdated, change.id);
      } else {
        if (was_in) emit(kChangeDeleted, old_id);
        if (is_in) emit(kChangeCreated, change.id);
      }
    }
  }
  if (queued) wake_cv_.notify_all();
}

template <typename T>
void Notifier::ShuffleLocked(std::vector<T>* items) {
  for (size_t i = items->size(); i > 1; --i) {
    size_t j = static_cast<size_t>(shuffle_.Below(i));
    std::swap((*items)[i - 1], (*items)[j]);
  }
}

void Notifier::FormBatchesLocked(TimePoint now) {
  size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch));
  for (auto it = fresh_.begin(); it != fresh_.end();) {
    std::vector<Pending> ready, later;
    for (Pending& p : it->second) (p.due <= now ? ready : later).push_back(std::move(p));
    it->second = std::move(later);
    if (options_.reorder_deliveries) ShuffleLocked(&ready);
    for (size_t start = 0; start < ready.size(); start += max_batch) {
      Batch batch;
      batch.seq = ++batches_formed_;
      batch.url = it->first;
      size_t end = std::min(ready.size(), start + max_batch);
      batch.items.assign(std::make_move_iterator(ready.begin() + static_cast<ptrdiff_t>(start)),
                         std::make_move_iterator(ready.begin() + static_cast<ptrdiff_t>(end)));
      batch.first_attempt = now;
      batch.next_due = now;
      batch.backoff = options_.delivery_retry_initial;
      batch.duplicate = options_.duplicate_every > 0 &&
                        batch.seq % static_cast<uint64_t>(options_.duplicate_every) == 0;
      batches_.push_back(std::move(batch));
    }
    it = it->second.empty() ? fresh_.erase(it) : std::next(it);
  }
}

// --- delivery ---------------------------------------------------------------------------

std::optional<std::string> Notifier::PublishToHub(const std::string& url, const std::string& body,
                                                  std::chrono::milliseconds timeout) {
  EventHubAddress address;
  if (ParseEventHubUrl(url, &address) != EventHubUrlForm::kHub) {
    return "'" + url + "' names no event hub";
  }
  if (options_.kafka_brokers.empty()) {
    return "no Event Hubs namespace is reachable (graphsim runs without --kafka-brokers)";
  }
  EventHubProducer* producer = nullptr;
  {
    std::lock_guard<std::mutex> lock(hub_mu_);
    if (!hub_producer_) {
      hub_producer_ = std::make_unique<EventHubProducer>(
          options_.kafka_brokers, std::max(options_.delivery_timeout, options_.validation_timeout));
    }
    producer = hub_producer_.get();
  }
  return producer->Publish(address.hub, body, timeout);
}

bool Notifier::Send(const std::string& url, const std::string& body) {
  if (IsEventHubUrl(url)) {
    std::optional<std::string> error = PublishToHub(url, body, options_.delivery_timeout);
    if (error) spdlog::debug("graphsim: notification record for {} failed: {}", url, *error);
    return !error;
  }
  std::optional<WebhookUrl> parsed = ParseWebhookUrl(url);
  if (!parsed) return false;
  WebhookResult result =
      PostWebhook(*parsed, parsed->target, "application/json; charset=utf-8", body,
                  options_.delivery_timeout, options_.verify_webhook_certificates);
  bool ok = result.outcome == WebhookResult::Outcome::kAnswered && result.status >= 200 &&
            result.status < 300;
  if (!ok) {
    spdlog::debug("graphsim: notification POST to {} failed: {}", url,
                  result.outcome == WebhookResult::Outcome::kAnswered
                      ? "status " + std::to_string(result.status)
                      : result.error);
  }
  return ok;
}

size_t Notifier::Pump() {
  std::lock_guard<std::mutex> pump_lock(pump_mu_);
  std::vector<Batch> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TimePoint now = now_();
    PurgeExpiredLocked(now);
    QueueReauthorizationsLocked(now);
    FormBatchesLocked(now);
    for (auto it = batches_.begin(); it != batches_.end();) {
      if (it->next_due <= now) {
        due.push_back(std::move(*it));
        it = batches_.erase(it);
      } else {
        ++it;
      }
    }
    if (options_.reorder_deliveries) {
      ShuffleLocked(&due);
    } else {
      std::stable_sort(due.begin(), due.end(), [](const Batch& a, const Batch& b) {
        return a.next_due != b.next_due ? a.next_due < b.next_due : a.seq < b.seq;
      });
    }
    // Change notifications of a subscription deleted or expired meanwhile are not sent.
    for (Batch& batch : due) {
      auto gone = [&](const Pending& p) { return p.change && !seq_of_.count(p.subscription_id); };
      size_t before = batch.items.size();
      batch.items.erase(std::remove_if(batch.items.begin(), batch.items.end(), gone),
                        batch.items.end());
      stats_.orphaned_items += before - batch.items.size();
      stats_.pending_items -= before - batch.items.size();
    }
    due.erase(
        std::remove_if(due.begin(), due.end(), [](const Batch& b) { return b.items.empty(); }),
        due.end());
  }

  size_t workers =
      std::min(due.size(), static_cast<size_t>(std::max(1, options_.delivery_concurrency)));
  if (workers <= 1) {
    size_t attempts = 0;
    for (Batch& batch : due) attempts += Deliver(std::move(batch));
    return attempts;
  }
  // Several POSTs in flight at once, as Graph sends them.
  std::atomic<size_t> next{0}, attempts{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < due.size(); i = next++) attempts += Deliver(std::move(due[i]));
    });
  }
  for (std::thread& t : threads) t.join();
  return attempts.load();
}

void Notifier::AckLocked(const Batch& batch) {
  auto text = [](const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (const Pending& p : batch.items) {
    AckedNotification a;
    a.id = p.notification_id;
    a.subscription_id = p.subscription_id;
    a.change_type = text(p.item, "changeType");
    a.lifecycle_event = text(p.item, "lifecycleEvent");
    if (auto data = p.item.find("resourceData"); data != p.item.end() && data->is_object()) {
      a.resource_id = text(*data, "id");
    }
    a.url = batch.url;
    acked_.push_back(std::move(a));
  }
}

RichFaults Notifier::TakeRichFaultsLocked(bool content) {
  RichFaults faults = 0;
  for (int i = 0; i < kRichFaultCount; ++i) {
    auto fault = static_cast<RichFault>(i);
    if (IsContentFault(fault) != content || rich_faults_[i] <= 0) continue;
    --rich_faults_[i];
    faults |= FaultBit(fault);
  }
  return faults;
}

void Notifier::InjectRichFault(RichFault fault, int count) {
  auto index = static_cast<int>(fault);
  if (index < 0 || index >= kRichFaultCount) return;
  std::lock_guard<std::mutex> lock(mu_);
  rich_faults_[index] = std::max(0, count);
}

void Notifier::ClearRichFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  std::fill(std::begin(rich_faults_), std::end(rich_faults_), 0);
}

size_t Notifier::Deliver(Batch batch) {
  Json body{{"value", Json::array()}};
  size_t rich = 0;
  for (const Pending& p : batch.items) {
    body["value"].push_back(p.item);
    if (p.rich) ++rich;
  }
  // "Microsoft Graph doesn't send validation tokens for change notifications delivered
  // through Azure Event Hubs" (rich notifications page).
  const bool hub = IsEventHubUrl(batch.url);
  if (rich > 0 && !hub) {
    RichFaults faults;
    {
      std::lock_guard<std::mutex> lock(mu_);
      faults = TakeRichFaultsLocked(/*content=*/false);
    }
    // One token per (app, tenant) with items in the batch: graphsim has one of each. Made
    // per POST, so a retry carries a fresh one.
    if (!HasFault(faults, RichFault::kTokenMissing)) {
      body["validationTokens"] = Json::array({signer_->ValidationToken(now_(), faults)});
    }
  }
  std::string text = DumpJson(body);
  bool ok = Send(batch.url, text);
  std::optional<bool> duplicate_ok;
  if (ok && batch.duplicate) duplicate_ok = Send(batch.url, text);
  TimePoint after = now_();
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.attempts;
  if (ok) {
    stats_.delivered_items += batch.items.size();
    stats_.rich_items += rich;
    stats_.pending_items -= batch.items.size();
    if (hub) ++stats_.hub_records;
    AckLocked(batch);
    if (!duplicate_ok) return 1;
    ++stats_.attempts;
    ++stats_.duplicate_posts;
    if (*duplicate_ok) {
      if (hub) ++stats_.hub_records;
      AckLocked(batch);
    } else {
      ++stats_.failed_attempts;
    }
    return 2;
  }
  ++stats_.failed_attempts;
  TimePoint next = after + std::chrono::duration_cast<TimePoint::duration>(batch.backoff);
  batch.backoff =
      std::min<std::chrono::nanoseconds>(batch.backoff * 2, options_.delivery_retry_cap);
  if (batch.backoff <= std::chrono::nanoseconds::zero()) batch.backoff = std::chrono::seconds(1);
  if (next - batch.first_attempt <= options_.delivery_retry_window) {
    batch.next_due = next;
    batches_.push_back(std::move(batch));
    return 1;
  }
  stats_.dropped_items += batch.items.size();
  stats_.pending_items -= batch.items.size();
  spdlog::debug("graphsim: dropped a batch of {} notifications for {}", batch.items.size(),
                batch.url);
  if (options_.missed_on_drop) {
    std::set<std::string> lost;
    for (const Pending& p : batch.items) {
      if (p.change) lost.insert(p.subscription_id);
    }
    for (const std::string& id : lost) {
      if (const SubscriptionRecord* sub = FindLocked(id)) {
        QueueLifecycleLocked(*sub, "missed", after);
      }
    }
  }
  return 1;
}

void Notifier::StartThread(std::chrono::milliseconds poll, std::function<void()> also) {
  std::lock_guard<std::mutex> thread_lock(thread_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  if (poll <= std::chrono::milliseconds::zero()) poll = std::chrono::milliseconds(1);
  thread_ = std::thread([this, poll, also = std::move(also)] {
    while (true) {
      try {
        Pump();
        if (also) also();
      } catch (const std::exception& e) {
        spdlog::error("graphsim: delivery pump failed: {}", e.what());
      }
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait_for(lock, poll, [this] { return stop_ || wake_; });
      wake_ = false;
      if (stop_) break;
    }
  });
}

void Notifier::StopThread() {
  std::lock_guard<std::mutex> thread_lock(thread_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  thread_.join();
}

DeliveryStats Notifier::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<AckedNotification> Notifier::Acked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

}  // namespace graphsim
