#include "engine/sync/keeper.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <set>

#include "engine/base/text.h"
#include "engine/graph/query.h"
#include "engine/graph/select.h"
#include "engine/graph/timestamp.h"
#include "engine/notify/routing.h"
#include "engine/notify/text.h"
#include "engine/store/mirror_writes.h"

namespace graphmirror::sync {
namespace {

using notify::PercentDecode;

constexpr const char* kChangeTypes = "created,updated,deleted";
// Graph raises anything shorter to 45 minutes; never ask for less.
constexpr std::chrono::minutes kMinLifetime{45};
// Graph's limit for subscriptions with resource data (Outlook resources).
constexpr std::chrono::minutes kRichMaxLifetime{1440};
constexpr int kMaxClampAttempts = 4;

// "Subscription expiration can only be 10070 minutes in the future." -> 10070. Only a
// hint: the decision is made on the error code, and without a number the lifetime halves.
std::optional<int64_t> MinutesIn(const std::string& message) {
  size_t i = message.find_first_of("0123456789");
  if (i == std::string::npos) return std::nullopt;
  int64_t n = 0;
  for (; i < message.size() && std::isdigit(static_cast<unsigned char>(message[i])); ++i) {
    n = n * 10 + (message[i] - '0');
    if (n > 1'000'000) return std::nullopt;
  }
  return n;
}

bool TooFarAhead(const graph::SubscriptionOutcome& o) {
  return o.http_status == 400 &&
         (o.error_code == "ExtensionError" || o.error_code == "ErrorInvalidParameter");
}

// Graph echoes the resource as it was sent, with or without the leading slash.
bool SameResource(std::string_view a, std::string_view b) {
  if (!a.empty() && a.front() == '/') a.remove_prefix(1);
  if (!b.empty() && b.front() == '/') b.remove_prefix(1);
  return AsciiLower(a) == AsciiLower(b);
}

// Graph answers every exceeded subscription limit with 403 and names the limit in the
// message ("Set up notifications for changes in resource data", subscription limits);
// a missing permission is a 403 too, saying access is denied.
bool QuotaReached(const graph::SubscriptionOutcome& o) {
  if (o.http_status != 403) return false;
  const std::string message = AsciiLower(o.error_message);
  return message.find("maximum number") != std::string::npos ||
         message.find("quota") != std::string::npos || message.find("limit") != std::string::npos;
}

// The mailbox a subscription's resource names ("/users/{id}/messages", as the keeper
// writes it and Graph echoes it), percent-decoded; empty if it names none.
std::string ResourceMailbox(std::string_view resource) {
  if (!resource.empty() && resource.front() == '/') resource.remove_prefix(1);
  if (resource.size() < 6 || AsciiLower(resource.substr(0, 6)) != "users/") return "";
  resource.remove_prefix(6);
  const size_t end = resource.find_first_of("/?");
  auto user = PercentDecode(resource.substr(0, end), /*plus_is_space=*/false);
  return user ? *user : "";
}

std::string Describe(const graph::SubscriptionOutcome& o) {
  return "HTTP " + std::to_string(o.http_status) + " " + o.error_code + ": " + o.error_message;
}

}  // namespace

SubscriptionKeeper::SubscriptionKeeper(const config::Config& config, graph::GraphClient* client,
                                       store::Store* store, notify::SubscriptionTable* table,
                                       Clock* clock, CollectionSync* sync)
    : config_(config),
      scopes_(config),
      api_(client),
      store_(store),
      table_(table),
      clock_(clock),
      sync_(sync),
      notification_url_(config::SubscriptionUrls(config).notification),
      lifecycle_url_(config::SubscriptionUrls(config).lifecycle),
      lifetime_(config.subscriptions.lifetime),
      rich_lifetime_(std::min(config.subscriptions.lifetime, kRichMaxLifetime)) {
  for (const auto& mailbox : config.mailboxes) {
    if (mailbox.rich) rich_users_.insert(mailbox.user);
  }
  if (config.kafka && config.kafka->mode == "partitioned") {
    partitions_ = config.kafka->partitions;
    shard_ = config.kafka->shard;
  }
}

bool SubscriptionKeeper::OwnsResource(const std::string& resource) const {
  if (partitions_ == 0) return true;  // one daemon, one notification URL: all of it is ours
  const std::string user = ResourceMailbox(resource);
  if (user.empty()) return false;
  if (shard_ >= 0) return notify::PartitionOf(notify::RoutingKey(user), partitions_) == shard_;
  for (const auto& mailbox : config_.mailboxes) {
    if (AsciiLower(mailbox.user) == AsciiLower(user)) return true;
  }
  return false;
}

void SubscriptionKeeper::SetRichCertificate(std::string der_base64, std::string certificate_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  rich_certificate_ = std::move(der_base64);
  rich_certificate_id_ = std::move(certificate_id);
}

std::chrono::minutes SubscriptionKeeper::Lifetime(const Key& key) const {
  return IsRich(key) ? rich_lifetime_ : lifetime_;
}

void SubscriptionKeeper::LowerLifetime(const Key& key, const graph::SubscriptionOutcome& too_far) {
  std::chrono::minutes& lifetime = IsRich(key) ? rich_lifetime_ : lifetime_;
  auto hint = MinutesIn(too_far.error_message);
  auto lowered = hint && *hint < lifetime.count() ? std::chrono::minutes(*hint) : lifetime / 2;
  lifetime = std::max(kMinLifetime, lowered - std::chrono::minutes(1));
  spdlog::info("keeper: Graph refused the lifetime; asking for {} minutes now{}", lifetime.count(),
               IsRich(key) ? " (rich subscriptions)" : "");
}

std::chrono::minutes SubscriptionKeeper::RenewMargin(const Key& key) const {
  // Never more than half the lifetime: after Graph lowered the lifetime below the
  // configured margin, every renewal would be due again at once.
  return std::min(config_.subscriptions.renew_margin, Lifetime(key) / 2);
}

std::string SubscriptionKeeper::Expiration(const Key& key) const {
  return graph::FormatTimestamp(
      std::chrono::time_point_cast<graph::Ticks>(clock_->Now() + Lifetime(key)));
}

notify::KnownSubscription SubscriptionKeeper::Known(const store::SubscriptionRecord& record) const {
  const bool scoped =
      !record.scope.empty() || !scopes_.Of(record.user_id, record.collection).filter.empty();
  return {record.id, record.user_id, record.collection, record.client_state, {}, {}, scoped};
}

std::vector<SubscriptionKeeper::Key> SubscriptionKeeper::KeysOf(const std::string& user,
                                                                Collection collection) const {
  const config::MirrorScope& scope = scopes_.Of(user, collection);
  if (!scope.by_folder()) return {Key{user, collection, ""}};
  std::vector<Key> keys;
  for (const std::string& folder : scope.folders) keys.push_back(Key{user, collection, folder});
  return keys;
}

std::string SubscriptionKeeper::Resource(const Key& key) const {
  const std::string user = "/users/" + graph::PercentEncode(key.user);
  // "Change notifications for Outlook resources", supported resource paths: a mail folder's
  // messages, by id or well-known name.
  std::string resource =
      key.scope.empty() ? user + "/" + std::string(CollectionName(key.collection))
                        : user + "/mailFolders/" + graph::PercentEncode(key.scope) + "/messages";
  std::vector<std::string> options;
  // Graph requires a $select with resource data; it is what the notification carries.
  if (IsRich(key)) options.push_back("$select=" + graph::RichSelect(key.collection));
  const std::string& filter = scopes_.Of(key.user, key.collection).filter;
  // Written as Graph's own examples write it (spaces and quotes as they are); only what
  // would end the option or the URL is escaped.
  if (!filter.empty()) options.push_back("$filter=" + graph::EscapeQueryValue(filter));
  for (size_t i = 0; i < options.size(); ++i) resource += (i == 0 ? "?" : "&") + options[i];
  return resource;
}

Status SubscriptionKeeper::LoadStored() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto stored = store_->subscriptions().All();
  if (!stored.ok()) return stored.status();
  live_.clear();
  for (const auto& record : *stored) {
    live_[KeyOf(record)] = record;
    table_->Put(Known(record));
  }
  return Status::Ok();
}

Status SubscriptionKeeper::Reconcile() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto listed = api_.List();
  if (!listed.ok()) return listed.status();
  last_reconciled_ = clock_->Now();
  std::set<std::string> at_graph;
  std::vector<Key> outdated;
  for (const auto& info : *listed) {
    bool known = false;
    for (auto& [key, record] : live_) {
      if (record.id != info.id) continue;
      known = true;
      record.expires_at = info.expiration;
      // Graph sends lifecycle events only to a lifecycleNotificationUrl set at create, and
      // the URLs cannot be changed to it: a subscription with other URLs than the
      // configured ones is replaced.
      if (info.notification_url != notification_url_ || info.lifecycle_url != lifecycle_url_) {
        outdated.push_back(key);
      }
    }
    if (known) {
      at_graph.insert(info.id);
      continue;
    }
    if (info.notification_url != notification_url_) continue;  // not ours
    // Partitioned: every shard delivers to the same URL; only its own mailboxes' are ours.
    if (!OwnsResource(info.resource)) continue;
    // Ours by URL, but without its clientState we could not check its notifications.
    auto deleted = api_.Delete(info.id);
    if (deleted.ok() && (deleted->ok() || deleted->http_status == 404)) {
      ++stats_.deleted_orphans;
      spdlog::info("keeper: deleted orphan subscription {} ({})", info.id, info.resource);
    } else {
      spdlog::warn("keeper: could not delete orphan subscription {}", info.id);
    }
  }
  for (auto it = live_.begin(); it != live_.end();) {
    if (at_graph.count(it->second.id)) {
      table_->Put(Known(it->second));
      if (Status s = store_->subscriptions().Put(it->second); !s.ok()) return s;
      ++it;
    } else {
      spdlog::info("keeper: subscription {} is gone at Graph", it->second.id);
      table_->Remove(it->second.id);
      if (Status s = store_->subscriptions().Delete(it->second.id); !s.ok()) return s;
      it = live_.erase(it);
    }
  }
  Status first;
  for (const Key& key : outdated) {
    if (Status s = ReplaceOutdated(key); !s.ok() && first.ok()) first = s;
  }
  return first;
}

Status SubscriptionKeeper::ReplaceOutdated(const Key& key) {
  auto it = live_.find(key);
  if (it == live_.end()) return Status::Ok();
  const store::SubscriptionRecord old = it->second;
  spdlog::info(
      "keeper: replacing subscription {} ({}): its notification or lifecycle URL is "
      "not the configured one",
      old.id, old.resource);
  // The new one first, so that notifications never stop; when only the lifecycle URL
  // differs Graph answers 409 and Create deletes the old one before it retries.
  if (Status s = Create(key); !s.ok()) return s;
  ++stats_.replaced;
  table_->Remove(old.id);
  auto deleted = api_.Delete(old.id);
  if (!deleted.ok()) return deleted.status();
  if (!deleted->ok() && deleted->http_status != 404) {
    return Status::Unavailable("deleting replaced subscription " + old.id +
                               " failed: " + Describe(*deleted));
  }
  return Status::Ok();
}

store::LogEntry SubscriptionKeeper::CatchUpEntry(const store::SubscriptionRecord& record) {
  // A full pass (new, changed and deleted items) covers what happened while no
  // subscription was notifying; as a log row it is durable with the subscription and done
  // by the worker.
  store::LogEntry entry;
  entry.dedupe_key = "catch-up:" + record.id;
  entry.subscription_id = record.id;
  entry.user_id = record.user_id;
  entry.collection = record.collection;
  entry.lifecycle_event = kCatchUpEvent;
  entry.resource = record.resource;
  return entry;
}

Status SubscriptionKeeper::Create(const Key& key) {
  graph::SubscriptionSpec spec;
  spec.change_type = kChangeTypes;
  spec.notification_url = notification_url_;
  spec.lifecycle_url = lifecycle_url_;
  spec.resource = Resource(key);
  // A create whose answer was lost may have made the subscription: asking again with the
  // same clientState lets the 409 that follows adopt it.
  auto unanswered = unanswered_client_state_.find(key);
  // Partitioned: "<routing key>.<random>", so that any router finds the mailbox's shard
  // in every notification Graph sends for it.
  spec.client_state = unanswered != unanswered_client_state_.end() ? unanswered->second
                      : partitions_ > 0 ? notify::RoutedClientState(notify::RoutingKey(key.user))
                                        : notify::NewClientState();
  if (IsRich(key)) {
    if (rich_certificate_.empty()) {
      return Status::InvalidArgument("no certificate for the rich subscription to " +
                                     spec.resource);
    }
    spec.include_resource_data = true;
    spec.encryption_certificate = rich_certificate_;
    spec.encryption_certificate_id = rich_certificate_id_;
  }
  auto store_new = [&](const graph::SubscriptionInfo& info, bool adopted) -> Status {
    store::SubscriptionRecord record;
    record.id = info.id;
    record.user_id = key.user;
    record.collection = key.collection;
    record.scope = key.scope;
    record.resource = spec.resource;
    record.change_type = spec.change_type;
    record.client_state = spec.client_state;
    record.expires_at = info.expiration;
    record.created_at = store::FormatUtc(clock_->Now());
    record.encryption_certificate_id = spec.encryption_certificate_id;
    // Stored with its catch-up in one transaction: a crash between the two would leave
    // a subscription whose gap is never read.
    if (Status s = store_->subscriptions().Put(record, {CatchUpEntry(record)}); !s.ok()) return s;
    unanswered_client_state_.erase(key);
    table_->Put(Known(record));
    live_[key] = record;
    ++(adopted ? stats_.adopted : stats_.created);
    spdlog::info("keeper: {} {} ({}), expires {}",
                 adopted ? "adopted the subscription to" : "subscribed to", spec.resource,
                 record.id, record.expires_at);
    return Status::Ok();
  };
  for (int attempt = 0;; ++attempt) {
    spec.expiration = Expiration(key);
    auto outcome = api_.Create(spec);
    if (!outcome.ok()) {
      // No answer: Graph may have made it all the same.
      unanswered_client_state_[key] = spec.client_state;
      return outcome.status();
    }
    if (outcome->ok()) return store_new(outcome->info, /*adopted=*/false);
    if (TooFarAhead(*outcome) && attempt < kMaxClampAttempts) {
      LowerLifetime(key, *outcome);
      continue;
    }
    if (outcome->http_status == 409 && attempt < kMaxClampAttempts) {
      // Graph already has a subscription with this changeType, resource and URL. Ours
      // whose create answer was lost (the retry of the same request, same clientState)
      // is adopted; any other (older, other lifecycle URL) is deleted and the create
      // asked again.
      auto listed = api_.List();
      if (!listed.ok()) return listed.status();
      const bool ours_unanswered = unanswered != unanswered_client_state_.end() || attempt == 0;
      for (const auto& info : *listed) {
        if (info.notification_url != spec.notification_url ||
            !SameResource(info.resource, spec.resource) || info.change_type != spec.change_type) {
          continue;
        }
        // One we held or gave up (its clientState is not the one just sent) is never
        // adopted: notifications under it would be refused.
        bool known = given_up_.count(info.id) > 0;
        for (const auto& [k, record] : live_) known = known || record.id == info.id;
        if (ours_unanswered && !known && info.lifecycle_url == spec.lifecycle_url) {
          return store_new(info, /*adopted=*/true);
        }
        auto deleted = api_.Delete(info.id);
        if (deleted.ok() && (deleted->ok() || deleted->http_status == 404)) {
          spdlog::info("keeper: deleted conflicting subscription {} ({})", info.id, info.resource);
        }
      }
      continue;
    }
    ++stats_.failures;
    std::string what =
        "creating the subscription to " + spec.resource + " failed: " + Describe(*outcome);
    if (QuotaReached(*outcome)) {
      return Status::Unavailable(what +
                                 " (the subscription quota is reached: Graph allows 1,000 "
                                 "subscriptions per mailbox for all applications together)");
    }
    // 403: the app may not read the resource (permission, access policy).
    if (outcome->http_status == 403) return Status::PermissionDenied(what);
    return Status::Unavailable(what);
  }
}

Status SubscriptionKeeper::Forget(const Key& key) {
  auto it = live_.find(key);
  if (it == live_.end()) return Status::Ok();
  table_->Remove(it->second.id);
  given_up_.insert(it->second.id);
  Status s = store_->subscriptions().Delete(it->second.id);
  live_.erase(it);
  return s;
}

Status SubscriptionKeeper::Replace(const Key& key, const std::string& why) {
  auto it = live_.find(key);
  if (it == live_.end()) return Status::Ok();
  auto deleted = api_.Delete(it->second.id);
  if (!deleted.ok()) return deleted.status();
  if (!deleted->ok() && deleted->http_status != 404) {
    return Status::Unavailable("deleting subscription " + it->second.id +
                               " failed: " + Describe(*deleted));
  }
  spdlog::info("keeper: deleted subscription {} ({}): {}", it->second.id, it->second.resource, why);
  return Forget(key);
}

Status SubscriptionKeeper::Renew(const Key& key) {
  store::SubscriptionRecord& record = live_.at(key);
  graph::RenewSpec spec;
  // After a key rotation the renewal moves the subscription to the new certificate; the
  // old key stays configured for what Graph encrypted before.
  if (IsRich(key) && !rich_certificate_.empty() &&
      record.encryption_certificate_id != rich_certificate_id_) {
    spec.encryption_certificate = rich_certificate_;
    spec.encryption_certificate_id = rich_certificate_id_;
  }
  for (int attempt = 0;; ++attempt) {
    spec.expiration = Expiration(key);
    auto outcome = api_.Renew(record.id, spec);
    if (!outcome.ok()) return outcome.status();
    if (outcome->ok()) {
      record.expires_at =
          outcome->info.expiration.empty() ? spec.expiration : outcome->info.expiration;
      record.renewed_at = store::FormatUtc(clock_->Now());
      if (!spec.encryption_certificate_id.empty()) {
        record.encryption_certificate_id = spec.encryption_certificate_id;
      }
      ++stats_.renewed;
      return store_->subscriptions().Put(record);
    }
    if (TooFarAhead(*outcome) && attempt < kMaxClampAttempts) {
      LowerLifetime(key, *outcome);
      continue;
    }
    if (outcome->http_status == 404) {
      spdlog::info("keeper: subscription {} is gone; creating a new one", record.id);
      if (Status s = Forget(key); !s.ok()) return s;
      ++stats_.recreated;
      return Create(key);
    }
    ++stats_.failures;
    return Status::Unavailable("renewing subscription " + record.id +
                               " failed: " + Describe(*outcome));
  }
}

Status SubscriptionKeeper::Maintain() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Status first;
  const TimePoint now = clock_->Now();
  // Graph may drop a subscription without a word reaching us (its subscriptionRemoved
  // lost while the webhook was down): compare with Graph's list now and then, and at
  // once if the last attempt failed.
  if (last_reconciled_ == TimePoint{} || now - last_reconciled_ >= kReconcileEvery) {
    if (Status s = Reconcile(); !s.ok()) {
      spdlog::warn("keeper: reconciling with Graph: {}", s.message());
      first = s;
    }
  }
  // Subscriptions of a scope no longer configured (folders added or taken away, a filter
  // set or dropped): deleted, then the configured ones made below.
  std::set<Key> wanted;
  for (const auto& mailbox : config_.mailboxes) {
    for (Collection c : mailbox.resources) {
      for (Key& key : KeysOf(mailbox.user, c)) wanted.insert(std::move(key));
    }
  }
  std::vector<Key> retired;
  for (const auto& [key, record] : live_) {
    bool configured_collection = false;
    for (const Key& w : wanted) {
      configured_collection =
          configured_collection || (w.user == key.user && w.collection == key.collection);
    }
    if (configured_collection && !wanted.count(key)) retired.push_back(key);
  }
  for (const Key& key : retired) {
    if (Status s = Replace(key, "its scope is no longer configured"); !s.ok() && first.ok()) {
      first = s;
    }
  }
  for (const Key& key : wanted) {
    {
      const Collection c = key.collection;
      if (sync_->StoppedUntil(key.user, c)) continue;  // tried again when due
      Status s;
      auto it = live_.find(key);
      if (it != live_.end() && !SameResource(it->second.resource, Resource(key))) {
        // Switched to or from rich, or another $filter.
        s = Replace(key, "the configured resource is now " + Resource(key));
        it = live_.find(key);
      }
      if (!s.ok()) {
        // reported below
      } else if (it == live_.end()) {
        s = Create(key);
      } else {
        auto expires = graph::ParseTimestamp(it->second.expires_at);
        const bool rotate = IsRich(key) && !rich_certificate_id_.empty() &&
                            it->second.encryption_certificate_id != rich_certificate_id_;
        if (!expires || *expires - RenewMargin(key) <= now || rotate) s = Renew(key);
      }
      if (!s.ok()) {
        spdlog::warn("keeper: {} {}: {}", key.user, CollectionName(c), s.message());
        sync_->Note(key.user, c, "subscribe", s);
        if (first.ok()) first = s;
      }
    }
  }
  return first;
}

TimePoint SubscriptionKeeper::NextDue() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  TimePoint next =
      last_reconciled_ == TimePoint{} ? clock_->Now() : last_reconciled_ + kReconcileEvery;
  for (const auto& mailbox : config_.mailboxes) {
    for (Collection c : mailbox.resources) {
      if (auto until = sync_->StoppedUntil(mailbox.user, c)) {
        next = std::min(next, *until);
        continue;
      }
      for (const Key& key : KeysOf(mailbox.user, c)) {
        auto it = live_.find(key);
        if (it == live_.end() || !SameResource(it->second.resource, Resource(key))) {
          return clock_->Now();
        }
        auto expires = graph::ParseTimestamp(it->second.expires_at);
        if (!expires) return clock_->Now();
        next = std::min(next, TimePoint(std::chrono::duration_cast<TimePoint::duration>(
                                  expires->time_since_epoch())) -
                                  RenewMargin(key));
      }
    }
  }
  return next;
}

Status SubscriptionKeeper::CatchUp(const Key& key) {
  Status s = sync_->Full(key.user, key.collection);
  if (s.ok()) sync_->Recheck(key.user, key.collection);
  return s;
}

Status SubscriptionKeeper::HandleLifecycle(const store::PendingNotification& row) {
  Key key{row.user_id, row.collection, ""};
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    for (const auto& [k, record] : live_) {
      if (record.id == row.subscription_id) key = k;
    }
  }
  if (row.lifecycle_event == kCatchUpEvent) return CatchUp(key);
  ++stats_.lifecycle_events;
  if (Status s =
          store_->sync_state().RecordLifecycle(row.user_id, row.collection, row.lifecycle_event);
      !s.ok()) {
    return s;
  }
  if (row.lifecycle_event == "reauthorizationRequired") {
    // A PATCH of the expiry reauthorizes too; using it alone never mixes PATCH and
    // /reauthorize on one subscription within 10 minutes, which Graph asks to avoid.
    std::lock_guard<std::recursive_mutex> lock(mu_);
    auto it = live_.find(key);
    if (it == live_.end() || it->second.id != row.subscription_id) return Status::Ok();
    return Renew(key);
  }
  if (row.lifecycle_event == "subscriptionRemoved") {
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      auto it = live_.find(key);
      if (it != live_.end() && it->second.id == row.subscription_id) {
        if (Status s = Forget(key); !s.ok()) return s;
        ++stats_.recreated;
        if (Status s = Create(key); !s.ok()) return s;
      }
    }
    // Whatever happened while no subscription notified: new, changed and deleted items.
    return CatchUp(key);
  }
  if (row.lifecycle_event == "missed") return CatchUp(key);
  ++stats_.unknown_lifecycle;
  spdlog::info("keeper: ignoring unknown lifecycle event '{}' for {}",
               OneLine(row.lifecycle_event, 80), row.subscription_id);
  return Status::Ok();
}

void SubscriptionKeeper::Run(std::chrono::milliseconds max_wait) {
  for (;;) {
    Status s = Maintain();
    auto wait = max_wait;
    if (s.ok()) {
      auto until_due =
          std::chrono::duration_cast<std::chrono::milliseconds>(NextDue() - clock_->Now());
      // At least a second between passes, whatever the arithmetic says.
      wait = std::clamp(until_due, std::chrono::milliseconds(1000), max_wait);
    } else {
      wait = std::min(max_wait, std::chrono::milliseconds(30'000));  // retry failures soon
    }
    std::unique_lock<std::mutex> lock(stop_mu_);
    if (stop_cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
  }
}

void SubscriptionKeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

}  // namespace graphmirror::sync
