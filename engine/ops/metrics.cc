#include "engine/ops/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <initializer_list>
#include <utility>

#include "engine/graph/timestamp.h"

namespace graphmirror::ops {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

double Read(const std::atomic<uint64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

class Families {
 public:
  // A family of counters, one per (labels, value).
  void Counter(const std::string& name, const std::string& help,
               std::initializer_list<std::pair<Labels, double>> samples) {
    MetricFamily& f = Add(name, help, MetricType::Counter);
    for (const auto& [labels, value] : samples) {
      ClientMetric m;
      m.label = labels;
      m.counter.value = value;
      f.metric.push_back(std::move(m));
    }
  }
  MetricFamily& Counters(const std::string& name, const std::string& help) {
    return Add(name, help, MetricType::Counter);
  }
  MetricFamily& Gauges(const std::string& name, const std::string& help) {
    return Add(name, help, MetricType::Gauge);
  }
  MetricFamily& Summaries(const std::string& name, const std::string& help) {
    return Add(name, help, MetricType::Summary);
  }
  std::string Text() const {
    return prometheus::TextSerializer().Serialize({families_.begin(), families_.end()});
  }

 private:
  MetricFamily& Add(const std::string& name, const std::string& help, MetricType type) {
    families_.push_back(MetricFamily{"graphmirror_" + name, help, type, {}});
    return families_.back();
  }
  // A deque: the references Add hands out stay valid as more families are added.
  std::deque<MetricFamily> families_;
};

ClientMetric GaugeSample(Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

ClientMetric CounterSample(Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

double UnixSeconds(const std::string& utc) {
  auto t = graph::ParseTimestamp(utc);
  return t ? std::chrono::duration<double>(t->time_since_epoch()).count() : 0;
}

// Per SharePoint list, from list_state (counters kept there since the list was first
// mirrored, so they survive restarts).
Status RenderLists(store::Store* store, Families& out) {
  auto lists = store->lists().Statuses();
  if (!lists.ok()) return lists.status();
  MetricFamily& items = out.Gauges("list_items", "Items mirrored, per SharePoint list.");
  MetricFamily& syncs =
      out.Counters("list_syncs_total", "List syncs, per SharePoint list and outcome.");
  MetricFamily& whole =
      out.Counters("list_whole_reads_total",
                   "Whole-list reads (first sync, expired change token), per SharePoint list.");
  MetricFamily& changes =
      out.Counters("list_changes_read_total", "GetChanges records read, per SharePoint list.");
  MetricFamily& written =
      out.Counters("list_items_written_total", "Item rows written (added or changed), per list.");
  MetricFamily& removed =
      out.Counters("list_items_removed_total", "Item rows removed, per SharePoint list.");
  MetricFamily& requests = out.Counters(
      "list_requests_total", "SharePoint REST calls made by list syncs, per SharePoint list.");
  MetricFamily& notified =
      out.Counters("list_notifications_total", "Notifications received, per SharePoint list.");
  MetricFamily& pending =
      out.Gauges("list_notifications_waiting", "Notifications received since the last sync began.");
  MetricFamily& token = out.Gauges(
      "list_change_token_timestamp_seconds",
      "When the list's change token was stored (Unix time; 0: none, a whole read is due).");
  MetricFamily& expiry = out.Gauges("list_subscription_expiry_timestamp_seconds",
                                    "When the list's subscription expires (Unix time; 0: none).");
  MetricFamily& failing =
      out.Gauges("list_failing",
                 "1 while the list's last sync (reason=sync) or subscription call "
                 "(reason=subscription) failed.");
  for (const store::ListStatusRow& l : *lists) {
    const Labels labels = {{"site", l.site}, {"list", l.list_id}};
    auto with = [&](const char* name, const char* value) {
      Labels more = labels;
      more.push_back({name, value});
      return more;
    };
    items.metric.push_back(GaugeSample(labels, static_cast<double>(l.items)));
    syncs.metric.push_back(CounterSample(with("outcome", "ok"), static_cast<double>(l.syncs)));
    syncs.metric.push_back(
        CounterSample(with("outcome", "failed"), static_cast<double>(l.sync_failures)));
    whole.metric.push_back(CounterSample(labels, static_cast<double>(l.full_reads)));
    changes.metric.push_back(CounterSample(labels, static_cast<double>(l.changes_read)));
    written.metric.push_back(CounterSample(labels, static_cast<double>(l.items_written)));
    removed.metric.push_back(CounterSample(labels, static_cast<double>(l.items_removed)));
    requests.metric.push_back(CounterSample(labels, static_cast<double>(l.requests)));
    notified.metric.push_back(CounterSample(labels, static_cast<double>(l.notified)));
    pending.metric.push_back(GaugeSample(labels, static_cast<double>(l.pending)));
    token.metric.push_back(GaugeSample(labels, l.has_token ? UnixSeconds(l.token_at) : 0));
    expiry.metric.push_back(GaugeSample(labels, UnixSeconds(l.subscription_expires)));
    failing.metric.push_back(GaugeSample(with("reason", "sync"), l.last_error.empty() ? 0 : 1));
    failing.metric.push_back(
        GaugeSample(with("reason", "subscription"), l.subscription_error.empty() ? 0 : 1));
  }
  return Status::Ok();
}

// The last verify of each scope (schema/019_verify.sql), as `graphmirror verify` or
// Engine::Verify left it: kept in the database, so it survives restarts and is the same
// whichever process ran the verify.
Status RenderVerify(store::Store* store, Families& out) {
  auto records = store->sync_state().VerifyRecords();
  if (!records.ok()) return records.status();
  MetricFamily& drift = out.Gauges(
      "verify_last_drift_items",
      "Items that differed between the mirror and Graph at the last verify of the scope, "
      "after its repair if it repaired (missing + extra + stale).");
  MetricFamily& found = out.Gauges(
      "verify_last_found_items",
      "Items the last verify of the scope found differing, by kind (missing, extra, stale).");
  MetricFamily& when =
      out.Gauges("verify_last_timestamp_seconds", "When the scope was last verified (Unix time).");
  for (const store::VerifyRecord& r : *records) {
    const Labels labels = {{"user", r.user_id}, {"resource", r.resource}};
    auto with = [&](const char* kind) {
      Labels more = labels;
      more.push_back({"kind", kind});
      return more;
    };
    drift.metric.push_back(GaugeSample(labels, static_cast<double>(r.remaining)));
    found.metric.push_back(GaugeSample(with("missing"), static_cast<double>(r.missing)));
    found.metric.push_back(GaugeSample(with("extra"), static_cast<double>(r.extra)));
    found.metric.push_back(GaugeSample(with("stale"), static_cast<double>(r.stale)));
    when.metric.push_back(GaugeSample(labels, UnixSeconds(r.verified_at)));
  }
  return Status::Ok();
}

void RenderKafka(const kafka::KafkaSource& source, Families& out) {
  const kafka::SourceStats& k = source.stats();
  out.Counter("kafka_records_total",
              "Records read from the Kafka topic ([kafka]), records read again included.",
              {{{}, Read(k.records)}});
  out.Counter("kafka_records_handled_total",
              "Kafka records by outcome: accepted (durable; offset committed), rejected (bad "
              "input; skipped, offset committed), retried (not durable; read again).",
              {{{{"outcome", "accepted"}}, Read(k.accepted)},
               {{{"outcome", "rejected"}}, Read(k.rejected)},
               {{{"outcome", "retried"}}, Read(k.retries)}});
  out.Counter("kafka_commits_total", "Offset commits the group coordinator confirmed.",
              {{{}, Read(k.commits)}});
  out.Counter("kafka_commit_errors_total", "Offset commits that failed (committed again later).",
              {{{}, Read(k.commit_errors)}});
  out.Counter("kafka_errors_total", "Kafka consumer errors: brokers unreachable, ...",
              {{{}, Read(k.errors)}});
  out.Counter("kafka_rebalances_total", "Partition assignments the consumer received.",
              {{{}, Read(k.rebalances)}});
  MetricFamily& committed = out.Gauges(
      "kafka_committed_offset",
      "Per partition assigned to this daemon: the next offset it committed (-1: none yet).");
  MetricFamily& stored = out.Gauges(
      "kafka_stored_offset",
      "Per partition assigned to this daemon: the next offset made durable (-1: none yet).");
  for (const kafka::PartitionProgress& p : source.Partitions()) {
    Labels labels{{"topic", source.settings().topic}, {"partition", std::to_string(p.partition)}};
    committed.metric.push_back(GaugeSample(labels, static_cast<double>(p.committed)));
    stored.metric.push_back(GaugeSample(labels, static_cast<double>(p.stored)));
  }
}

}  // namespace

Result<std::string> RenderMetrics(const MetricsSources& src) {
  Families out;
  if (src.kafka != nullptr) RenderKafka(*src.kafka, out);
  const notify::ReceiverStats& r = *src.receiver;
  out.Counter("http_requests_total", "HTTP requests the webhook receiver answered.",
              {{{}, Read(r.requests)}});
  out.Counter("validations_total", "Validation handshakes answered with their token.",
              {{{}, Read(r.validations)}});
  out.Counter("notifications_received_total", "Notification items in well-formed bodies.",
              {{{}, Read(r.notifications_received)}});
  out.Counter("notifications_accepted_total",
              "Notification items committed to the log before the 202.", {{{}, Read(r.accepted)}});
  out.Counter("notifications_rich_total", "Accepted items that carried encrypted content.",
              {{{}, Read(r.rich_items)}});
  out.Counter("notifications_rejected_total", "Notification items refused, by reason.",
              {{{{"reason", "unknown_subscription"}}, Read(r.rejected_unknown_subscription)},
               {{{"reason", "bad_client_state"}}, Read(r.rejected_bad_client_state)},
               {{{"reason", "suspicious_token"}}, Read(src.worker->suspicious_rows)}});
  out.Counter("event_hub_validations_total",
              "Event Hubs' validation messages (subscriptionId \"NA\") read and skipped.",
              {{{}, Read(r.hub_validations)}});
  out.Counter("notification_sequence_gaps_total",
              "Outlook REST v2.0 SequenceNumber gaps, each resynced like a missed event.",
              {{{}, Read(r.sequence_gaps)}});
  out.Counter("http_errors_total", "Requests answered with an error, by status.",
              {{{{"status", "400"}}, Read(r.bad_requests)},
               {{{"status", "404"}}, Read(r.not_found)},
               {{{"status", "405"}}, Read(r.method_not_allowed)},
               {{{"status", "413"}}, Read(r.too_large)},
               {{{"status", "415"}}, Read(r.unsupported_media_type)},
               {{{"status", "503"}}, Read(r.unavailable)}});
  out.Counter("connections_refused_total",
              "Connections answered 503 at once: webhook.max_connections requests were being "
              "served.",
              {{{}, Read(r.refused)}});
  out.Counter("connections_evicted_total",
              "Connections closed to make room: at webhook.max_connections a request stalled "
              "for over a second, past webhook.max_idle_connections the longest idle one.",
              {{{}, Read(r.evicted)}});
  out.Counter("connections_timed_out_total",
              "Connections closed: a request arrived (or its answer left) slower than "
              "webhook.request_timeout_seconds.",
              {{{}, Read(r.timed_out)}});

  const sync::WorkerStats& w = *src.worker;
  out.Counter("notifications_ended_total", "Log rows the sync worker ended, by outcome.",
              {{{{"outcome", "applied"}}, Read(w.applied_rows)},
               {{{"outcome", "ignored"}}, Read(w.ignored_rows)},
               {{{"outcome", "failed"}}, Read(w.failed_rows)}});
  out.Counter("rich_items_applied_total", "Items upserted from decrypted rich notifications.",
              {{{}, Read(w.rich_items)}});
  if (src.rich != nullptr) {
    out.Counter("rich_content_refused_total",
                "Rich items whose content was refused (read back from Graph instead).",
                {{{}, Read(src.rich->refused_content)}});
  }
  out.Counter("resync_rounds_total", "Query rounds run for notifications.", {{{}, Read(w.rounds)}});
  out.Counter("notified_items_fetched_total",
              "Notified items no round showed at the notified version, read one by one by id.",
              {{{}, Read(w.fetched_items)}});

  const sync::KeeperStats& k = *src.keeper;
  out.Counter("subscription_operations_total", "Subscription calls that succeeded, by kind.",
              {{{{"operation", "create"}}, Read(k.created)},
               {{{"operation", "renew"}}, Read(k.renewed)},
               {{{"operation", "recreate"}}, Read(k.recreated)},
               {{{"operation", "delete_orphan"}}, Read(k.deleted_orphans)}});
  out.Counter("subscription_failures_total", "Subscription calls that failed.",
              {{{}, Read(k.failures)}});
  out.Counter("lifecycle_events_total", "Lifecycle notifications handled.",
              {{{}, Read(k.lifecycle_events)}});

  const graph::ClientStats& c = *src.client;
  out.Counter("graph_requests_total", "Requests sent to Graph (retries included), by answer.",
              {{{{"status", "none"}}, Read(c.by_status_class[0])},
               {{{"status", "1xx"}}, Read(c.by_status_class[1])},
               {{{"status", "2xx"}}, Read(c.by_status_class[2])},
               {{{"status", "3xx"}}, Read(c.by_status_class[3])},
               {{{"status", "4xx"}}, Read(c.by_status_class[4])},
               {{{"status", "5xx"}}, Read(c.by_status_class[5])}});
  out.Counter("graph_throttled_total", "429 answers from Graph.", {{{}, Read(c.throttled)}});
  out.Counter("graph_retries_total", "Graph requests repeated after 429, 5xx or a network error.",
              {{{}, Read(c.retries)}});
  out.Counter("graph_retry_wait_seconds_total",
              "Time Graph requests spent waiting out Retry-After, 5xx and network failures.",
              {{{}, Read(c.retry_wait_micros) / 1e6}});
  out.Counter("graph_foreign_links_refused_total",
              "Graph answers or links refused because a link pointed off the Graph host (the "
              "token was not sent there; the collection failed).",
              {{{}, Read(c.foreign_links_refused)}});
  out.Counter("token_requests_total", "Calls to the token endpoint.",
              {{{}, Read(c.token_requests)}});

  out.Counter("store_commits_total",
              "Transactions the store committed (concurrent writes share one).",
              {{{}, Read(src.store->stats().commits)}});

  MetricFamily& rounds =
      out.Summaries("round_duration_seconds", "Real time of resync and delta rounds, by kind.");
  for (int kind = 0; kind < 3; ++kind) {
    ClientMetric m;
    m.label = {{"kind", sync::RoundTimings::kKinds[kind]}};
    m.summary.sample_count = src.rounds->count[kind].load(std::memory_order_relaxed);
    m.summary.sample_sum = Read(src.rounds->micros[kind]) / 1e6;
    rounds.metric.push_back(std::move(m));
  }

  MetricFamily& backlog =
      out.Gauges("log_backlog", "Notification log rows not yet applied, by mailbox and state.");
  for (const std::string& user : src.users) {
    auto stats = src.store->log().Stats(user);
    if (!stats.ok()) return stats.status();
    backlog.metric.push_back(
        GaugeSample({{"user", user}, {"state", "pending"}}, static_cast<double>(stats->pending)));
    backlog.metric.push_back(
        GaugeSample({{"user", user}, {"state", "failed"}}, static_cast<double>(stats->failed)));
  }

  MetricFamily& expiry = out.Gauges("subscription_expiry_timestamp_seconds",
                                    "When each subscription expires (Unix time).");
  auto subscriptions = src.store->subscriptions().All();
  if (!subscriptions.ok()) return subscriptions.status();
  for (const auto& sub : *subscriptions) {
    auto expires = graph::ParseTimestamp(sub.expires_at);
    if (!expires) continue;
    const double seconds = std::chrono::duration<double>(expires->time_since_epoch()).count();
    expiry.metric.push_back(GaugeSample(
        {{"user", sub.user_id}, {"collection", std::string(CollectionName(sub.collection))}},
        seconds));
  }
  if (Status s = RenderLists(src.store, out); !s.ok()) return s;
  if (Status s = RenderVerify(src.store, out); !s.ok()) return s;
  try {
    return out.Text();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("rendering metrics: ") + e.what());
  }
}

}  // namespace graphmirror::ops
