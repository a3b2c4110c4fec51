#include "engine/kafka/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "engine/notify/routing.h"

namespace graphmirror::kafka {
namespace {

std::string UtcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string Where(const std::string& topic, int32_t partition, int64_t offset) {
  return topic + "[" + std::to_string(partition) + "]@" + std::to_string(offset);
}

}  // namespace

Router::Router(KafkaSettings settings, RouterOptions options)
    : settings_(std::move(settings)), options_(std::move(options)) {}

Router::~Router() { Stop(); }

std::string Router::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void Router::NoteError(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = text + " (at " + UtcNow() + ")";
}

Result<Handle> Router::MakeProducer() {
  // Idempotent (no duplicates or reordering from its own retries), every in-sync replica
  // acknowledging; a record is given a minute before it counts as failed and is produced
  // again by us. The topic is never created by accident, with the broker's partitions.
  auto conf = MakeConf(settings_, options_.client_id,
                       {{"enable.idempotence", "true"},
                        {"acks", "all"},
                        {"linger.ms", "5"},
                        {"message.timeout.ms", "60000"},
                        {"allow.auto.create.topics", "false"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Router::DeliveryCallback);
  rd_kafka_conf_set_error_cb(conf->get(), &Router::ErrorCallback);
  return NewClient(ClientKind::kProducer, std::move(conf).value());
}

void Router::ReplaceFatalProducer() {
  char reason[512];
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(producer_.get(), reason, sizeof reason);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  // An idempotent producer that lost track of its sequence can produce no more: its
  // records fail (and are produced again by a new one; duplicates collapse downstream).
  const std::string text = std::string("kafka router: the producer failed (") +
                           rd_kafka_err2name(err) + ": " + reason + "); making a new one";
  spdlog::error("{}", text);
  NoteError(text);
  ++stats_.errors;
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(producer_.get(), 0);
  auto fresh = MakeProducer();
  if (!fresh.ok()) {
    NoteError(fresh.status().message());
    return;
  }
  producer_ = std::move(fresh).value();
}

Status Router::Start() {
  if (started_) return Status::InvalidArgument("the router is already started");
  if (settings_.mode != "partitioned" || settings_.partitions < 1) {
    return Status::InvalidArgument("the router needs kafka.mode = \"partitioned\" and partitions");
  }
  auto producer = MakeProducer();
  if (!producer.ok()) return producer.status();

  auto consumer_conf = MakeConsumerConf(settings_, options_.client_id, settings_.group + "-router");
  if (!consumer_conf.ok()) return consumer_conf.status();
  rd_kafka_conf_set_opaque(consumer_conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(consumer_conf->get(), &Router::RebalanceCallback);
  rd_kafka_conf_set_offset_commit_cb(consumer_conf->get(), &Router::CommitCallback);
  rd_kafka_conf_set_error_cb(consumer_conf->get(), &Router::ErrorCallback);
  auto consumer = NewClient(ClientKind::kConsumer, std::move(consumer_conf).value());
  if (!consumer.ok()) return consumer.status();
  producer_ = std::move(producer).value();
  consumer_ = std::move(consumer).value();
  rd_kafka_poll_set_consumer(consumer_.get());
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Router::Stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever is still unacknowledged is dropped; its source offsets were not stored.
  if (producer_) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_.get(), 0);
  }
  consumer_.reset();
  producer_.reset();
  pending_.clear();
}

bool Router::TopicReady() {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer_.get(), kMailboxTopic, nullptr);
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, rkt, &raw, 5000);
  rd_kafka_topic_destroy(rkt);
  std::string problem;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    problem =
        ErrorStatus(err, std::string("kafka router: reading the metadata of ") + kMailboxTopic)
            .message();
  } else {
    Metadata metadata(raw);
    int count = -1;
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      if (std::string(kMailboxTopic) == metadata->topics[i].topic) {
        topic_err = metadata->topics[i].err;
        count = metadata->topics[i].partition_cnt;
      }
    }
    if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = std::string("kafka router: the topic ") + kMailboxTopic +
                " does not exist: create it (an event hub) with " +
                std::to_string(settings_.partitions) + " partitions";
    } else if (count != settings_.partitions) {
      problem = std::string("kafka router: the topic ") + kMailboxTopic + " has " +
                std::to_string(count) + " partitions, kafka.partitions says " +
                std::to_string(settings_.partitions);
    }
  }
  if (problem.empty()) return true;
  ++stats_.errors;
  spdlog::error("{}; waiting", problem);
  NoteError(problem);
  return false;
}

void Router::Loop() {
  auto last_commit = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (!subscribed_) {
      if (!TopicReady()) {
        std::unique_lock<std::mutex> lock(wait_mu_);
        wait_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_.load(); });
        continue;
      }
      PartitionList topics(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(topics.get(), settings_.topic.c_str(),
                                        RD_KAFKA_PARTITION_UA);
      if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
        NoteError(ErrorStatus(err, "kafka router: subscribing to " + settings_.topic).message());
        std::unique_lock<std::mutex> lock(wait_mu_);
        wait_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_.load(); });
        continue;
      }
      subscribed_ = true;
      spdlog::info("kafka router: reading {} as group {}-router, writing {} ({} partitions)",
                   settings_.topic, settings_.group, kMailboxTopic, settings_.partitions);
    }
    ReplaceFatalProducer();
    Drain(0);
    if (pending_.size() >= options_.max_in_flight) {
      Drain(50);
      // The group must still hear from us (max.poll.interval.ms): a poll that returns
      // nothing when the queue is empty is harmless; a record is routed like any other.
    }
    Message message(rd_kafka_consumer_poll(consumer_.get(), pending_.empty() ? 100 : 5));
    if (message) {
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Route(*message);
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++stats_.errors;
        const std::string text =
            ErrorStatus(message->err, "kafka router: reading " + settings_.topic).message();
        spdlog::warn("{}", text);
        NoteError(text);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (dirty_ && now - last_commit >= options_.commit_interval) {
      Commit(/*async=*/true);
      last_commit = now;
    }
  }
  if (subscribed_) {
    Flush(std::chrono::seconds(10));
    if (dirty_) Commit(/*async=*/false);
    // The revoke that follows commits again (nothing new) and unassigns.
    if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get()); err) {
      spdlog::warn("{}", ErrorStatus(err, "kafka router: leaving the group").message());
    }
  }
  spdlog::info("kafka router: stopped");
}

void Router::Route(const rd_kafka_message_t& message) {
  ++stats_.records;
  auto pending = std::make_unique<Pending>();
  pending->topic = rd_kafka_topic_name(message.rkt);
  pending->partition = message.partition;
  pending->offset = message.offset;
  const std::string_view body(
      message.payload != nullptr ? static_cast<const char*>(message.payload) : "",
      message.payload != nullptr ? message.len : 0);
  auto split = notify::SplitByRoutingKey(body);
  if (!split.ok()) {
    // Graph will not send it again and no retry can make it right: skipped, never holding
    // the partition back.
    ++stats_.rejected_records;
    spdlog::warn("kafka router: record {} skipped: {}",
                 Where(pending->topic, pending->partition, pending->offset),
                 split.status().message());
  } else {
    stats_.items += split->items;
    stats_.unrouted_items += split->unrouted;
    if (split->unrouted > 0) {
      spdlog::info("kafka router: {} item(s) of {} without a routing key dropped", split->unrouted,
                   Where(pending->topic, pending->partition, pending->offset));
    }
    for (auto& [key, routed] : split->bodies) {
      auto piece = std::make_unique<Piece>();
      piece->owner = pending.get();
      piece->key = key;
      piece->body = std::move(routed);
      piece->partition = notify::PartitionOf(key, settings_.partitions);
      pending->pieces.push_back(std::move(piece));
    }
  }
  Pending* p = pending.get();
  pending_.push_back(std::move(pending));
  for (auto& piece : p->pieces) {
    if (Produce(piece.get())) {
      ++p->outstanding;
    } else {
      p->failed.push_back(piece.get());
      p->retry_at = std::chrono::steady_clock::now() + options_.retry_initial;
    }
  }
}

bool Router::Produce(Piece* piece) {
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(kMailboxTopic), RD_KAFKA_V_PARTITION(piece->partition),
        RD_KAFKA_V_KEY(piece->key.data(), piece->key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(piece->body.data()), piece->body.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(piece), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stopping_.load()) {
      rd_kafka_poll(producer_.get(), 100);  // room is made as reports come back
      continue;
    }
    ++stats_.errors;
    NoteError(
        ErrorStatus(err, std::string("kafka router: producing to ") + kMailboxTopic).message());
    return false;
  }
}

void Router::OnDelivery(const rd_kafka_message_t& message) {
  auto* piece = static_cast<Piece*>(message._private);
  if (piece == nullptr) return;
  Pending* owner = piece->owner;
  --owner->outstanding;
  if (message.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++stats_.produced;
    return;
  }
  ++stats_.errors;
  const std::string text =
      ErrorStatus(message.err, std::string("kafka router: delivering to ") + kMailboxTopic + "[" +
                                   std::to_string(piece->partition) + "]")
          .message();
  spdlog::warn("{}; producing it again", text);
  NoteError(text);
  owner->failed.push_back(piece);
  owner->backoff = owner->backoff.count() == 0 ? options_.retry_initial
                                               : std::min(owner->backoff * 2, options_.retry_max);
  owner->retry_at = std::chrono::steady_clock::now() + owner->backoff;
}

void Router::Drain(int timeout_ms) {
  rd_kafka_poll(producer_.get(), timeout_ms);  // delivery reports: OnDelivery
  const auto now = std::chrono::steady_clock::now();
  for (auto& p : pending_) {
    if (p->failed.empty() || p->outstanding > 0 || p->retry_at > now || stopping_.load()) continue;
    std::vector<Piece*> again;
    again.swap(p->failed);
    for (Piece* piece : again) {
      ++stats_.produce_retries;
      if (Produce(piece)) {
        ++p->outstanding;
      } else {
        p->failed.push_back(piece);
        p->retry_at = now + options_.retry_max;
      }
    }
  }
  while (!pending_.empty() && pending_.front()->outstanding == 0 &&
         pending_.front()->failed.empty()) {
    const Pending& done = *pending_.front();
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), done.topic.c_str(), done.partition)->offset =
        done.offset + 1;
    if (rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), list.get()); err) {
      // Revoked meanwhile: the next owner routes it again (the shards dedupe).
      spdlog::debug("{}", ErrorStatus(err, "kafka router: storing an offset").message());
    } else {
      ++stats_.committed_records;
      dirty_ = true;
    }
    pending_.pop_front();
  }
}

void Router::Flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pending_.empty() && std::chrono::steady_clock::now() < deadline) Drain(50);
  if (!pending_.empty()) {
    spdlog::warn("kafka router: {} source record(s) not acknowledged in time: routed again later",
                 pending_.size());
  }
}

void Router::Commit(bool async) {
  dirty_ = false;
  const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), nullptr, async ? 1 : 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    ++stats_.commit_errors;
    const std::string text = ErrorStatus(err, "kafka router: committing offsets").message();
    spdlog::warn("{}", text);
    NoteError(text);
    dirty_ = true;
  }
  // The outcome reaches CommitCallback, which counts it.
}

void Router::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("kafka router: assigned {} partition(s) of {}", partitions->cnt, settings_.topic);
    rd_kafka_assign(rk, partitions);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    spdlog::info("kafka router: {} partition(s) of {} revoked", partitions->cnt, settings_.topic);
    // What is routed is committed before another member takes the partitions over.
    Flush(std::chrono::seconds(10));
    if (dirty_) Commit(/*async=*/false);
    rd_kafka_assign(rk, nullptr);
    // Records of the revoked partitions still in flight store no offset (offsets_store
    // fails for a partition not assigned): their new owner routes them again.
    return;
  }
  NoteError(ErrorStatus(err, "kafka router: rebalance").message());
  rd_kafka_assign(rk, nullptr);
}

void Router::DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  static_cast<Router*>(opaque)->OnDelivery(*message);
}

void Router::RebalanceCallback(rd_kafka_t*, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<Router*>(opaque)->OnRebalance(err, partitions);
}

void Router::CommitCallback(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*,
                            void* opaque) {
  auto* self = static_cast<Router*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->stats_.commit_errors;
    self->NoteError(ErrorStatus(err, "kafka router: committing offsets").message());
    self->dirty_ = true;  // the stored offsets go out with the next commit
    return;
  }
  ++self->stats_.commits;
}

void Router::ErrorCallback(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Router*>(opaque);
  ++self->stats_.errors;
  const std::string text =
      "kafka router: " + std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) +
      ": " + (reason != nullptr ? reason : "");
  spdlog::warn("{}", text);
  self->NoteError(text);
}

}  // namespace graphmirror::kafka
