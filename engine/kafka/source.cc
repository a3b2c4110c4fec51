#include "engine/kafka/source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>

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

bool Cooperative(rd_kafka_t* rk) {
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
}

std::string Describe(const rd_kafka_topic_partition_list_t* partitions) {
  std::string out;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (!out.empty()) out += ",";
    out += std::to_string(partitions->elems[i].partition);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

KafkaSource::KafkaSource(KafkaSettings settings, Handler handler, SourceOptions options)
    : settings_(std::move(settings)), handler_(std::move(handler)), options_(std::move(options)) {}

KafkaSource::~KafkaSource() { Stop(); }

Status KafkaSource::Start() {
  if (started_) return Status::InvalidArgument("the Kafka source is already started");
  auto conf = MakeConsumerConf(settings_, options_.client_id, settings_.group);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaSource::RebalanceCallback);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &KafkaSource::CommitCallback);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaSource::ErrorCallback);
  auto consumer = NewClient(ClientKind::kConsumer, std::move(conf).value());
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  // Errors and logs come through rd_kafka_consumer_poll, on the source's thread.
  rd_kafka_poll_set_consumer(consumer_.get());
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), settings_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
    consumer_.reset();
    return ErrorStatus(err, "kafka: subscribing to " + settings_.topic);
  }
  started_ = true;
  spdlog::info("kafka: reading {} on {} as group {}", settings_.topic, settings_.brokers,
               settings_.group);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void KafkaSource::Stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(wait_mu_);
    stopping_.store(true);
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  consumer_.reset();
}

KafkaSource::LastError KafkaSource::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::vector<PartitionProgress> KafkaSource::Partitions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PartitionProgress> out;
  for (const auto& [partition, progress] : partitions_) out.push_back(progress);
  return out;
}

void KafkaSource::NoteError(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = {text, UtcNow()};
}

void KafkaSource::Loop() {
  rd_kafka_t* rk = consumer_.get();
  auto last_commit = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    Message message(rd_kafka_consumer_poll(rk, 100));
    const auto now = std::chrono::steady_clock::now();
    if (!message) {
      // Drained (or nothing yet): what is stored goes out, once the interval allows.
      if (dirty_ && now - last_commit >= options_.commit_interval) {
        Commit(/*async=*/true);
        last_commit = now;
      }
      continue;
    }
    std::chrono::milliseconds wait{0};
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      wait = HandleRecord(*message);
    } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      stats_.errors.fetch_add(1);
      const std::string text =
          ErrorStatus(message->err, "kafka: reading " + settings_.topic).message() + " (" +
          rd_kafka_message_errstr(message.get()) + ")";
      spdlog::warn("{}", text);
      NoteError(text);
    }
    message.reset();
    if (dirty_ && now - last_commit >= options_.commit_interval) {
      Commit(/*async=*/true);
      last_commit = now;
    }
    if (wait.count() > 0) {
      std::unique_lock<std::mutex> lock(wait_mu_);
      wait_cv_.wait_for(lock, wait, [this] { return stopping_.load(); });
    }
  }
  // What is durable is committed before the group hands the partitions to another member
  // (the revoke in rd_kafka_consumer_close commits too).
  if (dirty_) Commit(/*async=*/false);
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk); err) {
    spdlog::warn("{}", ErrorStatus(err, "kafka: leaving group " + settings_.group).message());
  }
  spdlog::info("kafka: stopped reading {}", settings_.topic);
}

std::chrono::milliseconds KafkaSource::HandleRecord(const rd_kafka_message_t& message) {
  stats_.records.fetch_add(1);
  const std::string where = settings_.topic + "[" + std::to_string(message.partition) + "]@" +
                            std::to_string(message.offset);
  int status = 413;
  if (options_.max_record_bytes == 0 || message.len <= options_.max_record_bytes) {
    const std::string_view body(
        message.payload != nullptr ? static_cast<const char*>(message.payload) : "",
        message.payload != nullptr ? message.len : 0);
    status = handler_(body);
  }
  if (status >= 200 && status < 300) {
    stats_.accepted.fetch_add(1);
    StoreOffset(message);
    backoff_ = std::chrono::milliseconds(0);
    return backoff_;
  }
  if (status >= 400 && status < 500) {
    // Graph will not send it again and no retry can make it right: never let it hold the
    // partition.
    stats_.rejected.fetch_add(1);
    spdlog::warn("kafka: record {} refused (HTTP {}): skipped", where, status);
    StoreOffset(message);
    return std::chrono::milliseconds(0);
  }
  stats_.retries.fetch_add(1);
  backoff_ =
      backoff_.count() == 0 ? options_.retry_initial : std::min(backoff_ * 2, options_.retry_max);
  const std::string text = "kafka: record " + where + " was not made durable (HTTP " +
                           std::to_string(status) + "): read again in " +
                           std::to_string(backoff_.count()) + " ms";
  spdlog::warn("{}", text);
  NoteError(text);
  SeekBack(message);
  return backoff_;
}

void KafkaSource::StoreOffset(const rd_kafka_message_t& message) {
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), rd_kafka_topic_name(message.rkt), message.partition)
      ->offset = message.offset + 1;
  if (rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), list.get()); err) {
    // The partition was revoked meanwhile: its new owner reads the record again.
    spdlog::info("{}",
                 ErrorStatus(err, "kafka: storing the offset of " + settings_.topic).message());
    return;
  }
  dirty_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(message.partition);
  if (it != partitions_.end()) it->second.stored = message.offset + 1;
}

void KafkaSource::SeekBack(const rd_kafka_message_t& message) {
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), rd_kafka_topic_name(message.rkt), message.partition)
      ->offset = message.offset;
  // Records of the partition fetched after this one are dropped with the seek: the
  // partition goes on from this record, in order.
  Error error(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
  if (error) {
    const std::string text =
        "kafka: seeking back to " + settings_.topic + "[" + std::to_string(message.partition) +
        "]@" + std::to_string(message.offset) + ": " + rd_kafka_error_string(error.get());
    spdlog::warn("{}", text);
    NoteError(text);
  }
}

void KafkaSource::Commit(bool async) {
  dirty_ = false;
  const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), nullptr, async ? 1 : 0);
  // The outcome reaches CommitCallback (the next poll, or the close), which counts it.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    const std::string text = ErrorStatus(err, "kafka: committing offsets").message();
    spdlog::warn("{}", text);
    NoteError(text);
    if (async) dirty_ = true;  // try again at the next occasion
  }
}

void KafkaSource::OnCommit(rd_kafka_resp_err_t err,
                           const rd_kafka_topic_partition_list_t* offsets) {
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing was stored since the last one
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    stats_.commit_errors.fetch_add(1);
    const std::string text = ErrorStatus(err, "kafka: committing offsets").message();
    spdlog::warn("{}", text);
    NoteError(text);
    dirty_ = true;  // the stored offsets go out again with the next commit
    return;
  }
  stats_.commits.fetch_add(1);
  if (offsets == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = offsets->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) continue;
    auto it = partitions_.find(p.partition);
    if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, p.offset);
  }
}

void KafkaSource::OnRebalance(rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  const bool cooperative = Cooperative(rk);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    stats_.rebalances.fetch_add(1);
    spdlog::info("kafka: assigned {} partitions {}", settings_.topic, Describe(partitions));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        const int32_t p = partitions->elems[i].partition;
        partitions_.try_emplace(p, PartitionProgress{p, -1, -1});
      }
    }
    if (cooperative) {
      Error error(rd_kafka_incremental_assign(rk, partitions));
      if (error) NoteError(std::string("kafka: assign: ") + rd_kafka_error_string(error.get()));
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, partitions); e) {
      NoteError(ErrorStatus(e, "kafka: assign").message());
    }
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    spdlog::info("kafka: revoked {} partitions {}", settings_.topic, Describe(partitions));
    // Another member takes them over from the committed offsets: commit what is durable.
    if (dirty_) Commit(/*async=*/false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) partitions_.erase(partitions->elems[i].partition);
    }
    if (cooperative) {
      Error error(rd_kafka_incremental_unassign(rk, partitions));
      (void)error;
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    return;
  }
  NoteError(ErrorStatus(err, "kafka: rebalance").message());
  rd_kafka_assign(rk, nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  partitions_.clear();
}

void KafkaSource::RebalanceCallback(rd_kafka_t*, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnRebalance(err, partitions);
}

void KafkaSource::CommitCallback(rd_kafka_t*, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  static_cast<KafkaSource*>(opaque)->OnCommit(err, offsets);
}

void KafkaSource::ErrorCallback(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  self->stats_.errors.fetch_add(1);
  const std::string text =
      "kafka: " + std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " +
      (reason != nullptr ? reason : "");
  spdlog::warn("{}", text);
  self->NoteError(text);
}

}  // namespace graphmirror::kafka
