#include "engine/kafka/shards.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>

#include "engine/kafka/router.h"
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

PartitionList One(int32_t partition, int64_t offset = RD_KAFKA_OFFSET_INVALID) {
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), kMailboxTopic, partition)->offset = offset;
  return list;
}

std::string_view Payload(const rd_kafka_message_t& message) {
  return message.payload != nullptr
             ? std::string_view(static_cast<const char*>(message.payload), message.len)
             : std::string_view();
}

}  // namespace

Shards::Shards(KafkaSettings settings, ShardHooks hooks, ShardOptions options)
    : settings_(std::move(settings)), hooks_(std::move(hooks)), options_(std::move(options)) {}

Shards::~Shards() { Stop(); }

std::string Shards::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::map<int32_t, bool> Shards::Assigned() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<int32_t, bool> out;
  for (const auto& [n, p] : partitions_) out[n] = p.open;
  return out;
}

void Shards::NoteError(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = text + " (at " + UtcNow() + ")";
}

Status Shards::Start() {
  if (started_) return Status::InvalidArgument("the shards are already started");
  // Incremental rebalancing: a daemon joining or leaving moves only the shards that
  // change hands; the others stay open (reopening a shard resyncs its mailboxes).
  auto conf = MakeConsumerConf(settings_, options_.client_id, settings_.group + "-shards",
                               {{"partition.assignment.strategy", "cooperative-sticky"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Shards::RebalanceCallback);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &Shards::CommitCallback);
  rd_kafka_conf_set_error_cb(conf->get(), &Shards::ErrorCallback);
  auto consumer = NewClient(ClientKind::kConsumer, std::move(conf).value());
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  rd_kafka_poll_set_consumer(consumer_.get());
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), kMailboxTopic, RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
    consumer_.reset();
    return ErrorStatus(err, std::string("kafka shards: subscribing to ") + kMailboxTopic);
  }
  started_ = true;
  spdlog::info("kafka shards: reading {} as group {}-shards", kMailboxTopic, settings_.group);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Shards::Stop() {
  if (!started_) return;
  started_ = false;
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  consumer_.reset();
}

void Shards::Loop() {
  rd_kafka_t* rk = consumer_.get();
  auto last_commit = std::chrono::steady_clock::now();
  std::vector<Message> batch;
  while (!stopping_.load()) {
    ResumeDue();
    // The first poll waits; what the client has fetched already comes with it.
    batch.clear();
    for (int wait_ms = 100; batch.size() < options_.batch_records; wait_ms = 0) {
      Message message(rd_kafka_consumer_poll(rk, wait_ms));
      if (!message) break;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        batch.push_back(std::move(message));
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++stats_.errors;
        const std::string text =
            ErrorStatus(message->err, std::string("kafka shards: reading ") + kMailboxTopic)
                .message();
        spdlog::warn("{}", text);
        NoteError(text);
      }
    }
    if (!batch.empty()) HandleBatch(batch);
    const auto now = std::chrono::steady_clock::now();
    if (dirty_ && now - last_commit >= options_.commit_interval) {
      Commit(/*async=*/true);
      last_commit = now;
    }
  }
  if (dirty_) Commit(/*async=*/false);
  // Leaving the group revokes the partitions (OnRebalance closes their shards).
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk); err) {
    spdlog::warn("{}", ErrorStatus(err, "kafka shards: leaving the group").message());
  }
  CloseAll();
  spdlog::info("kafka shards: stopped");
}

void Shards::HandleBatch(const std::vector<Message>& batch) {
  std::map<int32_t, std::vector<const rd_kafka_message_t*>> by_partition;  // offset order
  for (const Message& m : batch) by_partition[m->partition].push_back(m.get());
  for (const auto& [n, records] : by_partition) {
    // Runs of consecutive plain collections, merged; any other record alone.
    std::vector<Record> run;
    size_t bytes = 0;
    auto flush = [&, n = n]() -> bool {
      const bool durable = run.empty() || HandOver(n, run);
      run.clear();
      bytes = 0;
      return durable;
    };
    bool held = false;
    for (const rd_kafka_message_t* message : records) {
      if (held || !Admit(*message)) continue;
      Record record{message, notify::PlainCollectionItems(Payload(*message))};
      const size_t size = record.items ? record.items->size() : 0;
      if (!record.items || bytes + size > options_.merged_bytes) held = !flush();
      if (held) continue;
      run.push_back(std::move(record));
      bytes += size;
      if (!run.back().items) held = !flush();
    }
    if (!held) flush();
  }
}

bool Shards::Admit(const rd_kafka_message_t& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(message.partition);
  if (it == partitions_.end()) return false;  // revoked: its new owner reads it
  if (!it->second.open || it->second.paused) {
    // Fetched before the pause took effect: the partition goes on from here (at the
    // latest) when it resumes, so nothing is skipped.
    if (it->second.seek_to < 0 || message.offset < it->second.seek_to) {
      it->second.seek_to = message.offset;
    }
    return false;
  }
  if (it->second.seek_to >= 0) {
    // After a seek back, records fetched before it are stale: the seek's record first.
    if (message.offset != it->second.seek_to) return false;
    it->second.seek_to = -1;
  }
  return true;
}

bool Shards::HandOver(int32_t n, const std::vector<Record>& records) {
  std::string merged;
  if (records.size() > 1) {
    merged = "{\"value\":[";
    bool first_item = true;
    for (const Record& r : records) {
      if (r.items->empty()) continue;
      if (!first_item) merged += ',';
      merged += *r.items;
      first_item = false;
    }
    merged += "]}";
  }
  const int status =
      hooks_.handle(n, records.size() > 1 ? std::string_view(merged) : Payload(*records[0].message));
  const int64_t first = records.front().message->offset, last = records.back().message->offset;
  const std::string where = std::string(kMailboxTopic) + "[" + std::to_string(n) + "]@" +
                            std::to_string(first) +
                            (records.size() > 1 ? ".." + std::to_string(last) : "");
  if (status >= 300 && status < 500 && records.size() > 1) {
    // Refused as one: each half again, down to the bad record alone, which is skipped.
    const auto middle = records.begin() + static_cast<std::ptrdiff_t>(records.size() / 2);
    return HandOver(n, std::vector<Record>(records.begin(), middle)) &&
           HandOver(n, std::vector<Record>(middle, records.end()));
  }
  stats_.records += records.size();
  if (status >= 200 && status < 500) {
    if (status >= 300) {
      ++stats_.rejected;
      spdlog::warn("kafka shards: record {} refused (HTTP {}): skipped", where, status);
    } else {
      stats_.accepted += records.size();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      partitions_[n].backoff = std::chrono::milliseconds(0);
    }
    PartitionList list = One(n, last + 1);
    if (rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), list.get()); err) {
      spdlog::info("{}",
                   ErrorStatus(err, "kafka shards: storing the offset of " + where).message());
      return true;
    }
    dirty_ = true;
    return true;
  }
  stats_.retries += records.size();
  std::chrono::milliseconds wait;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Partition& p = partitions_[n];
    p.backoff = p.backoff.count() == 0 ? options_.retry_initial
                                       : std::min(p.backoff * 2, options_.retry_max);
    wait = p.backoff;
  }
  const std::string text = "kafka shards: record " + where + " was not made durable (HTTP " +
                           std::to_string(status) + "): handed over again in " +
                           std::to_string(wait.count()) + " ms";
  spdlog::warn("{}", text);
  NoteError(text);
  Pause(n, wait, first);
  return false;
}

void Shards::Pause(int32_t partition, std::chrono::milliseconds wait, int64_t seek_to) {
  PartitionList list = One(partition);
  if (rd_kafka_resp_err_t err = rd_kafka_pause_partitions(consumer_.get(), list.get()); err) {
    NoteError(ErrorStatus(err, "kafka shards: pausing a partition").message());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    Partition& p = partitions_[partition];
    p.paused = true;
    p.resume_at = std::chrono::steady_clock::now() + wait;
    if (seek_to >= 0) p.seek_to = seek_to;
  }
}

void Shards::ResumeDue() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<int32_t> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, p] : partitions_) {
      if (p.paused && p.resume_at <= now) due.push_back(n);
    }
  }
  for (int32_t n : due) {
    bool open = false;
    int64_t seek_to = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open = partitions_[n].open;
    }
    if (!open) TryOpen(n);
    std::lock_guard<std::mutex> lock(mu_);
    Partition& p = partitions_[n];
    if (!p.open) continue;  // TryOpen paused it again
    seek_to = p.seek_to;
    if (seek_to >= 0) {
      // Back to the record that was not made durable (again: a seek that failed before
      // would otherwise skip it).
      PartitionList at = One(n, seek_to);
      Error error(rd_kafka_seek_partitions(consumer_.get(), at.get(), 5000));
      if (error) {
        p.resume_at = now + options_.retry_initial;
        continue;
      }
    }
    PartitionList list = One(n);
    rd_kafka_resume_partitions(consumer_.get(), list.get());
    p.paused = false;
  }
}

void Shards::TryOpen(int32_t partition) {
  Status s = hooks_.open(partition);
  if (s.ok()) {
    ++stats_.opened;
    std::lock_guard<std::mutex> lock(mu_);
    partitions_[partition].open = true;
    spdlog::info("kafka shards: shard {} open", partition);
    return;
  }
  ++stats_.open_failures;
  const std::string text =
      "kafka shards: opening shard " + std::to_string(partition) + ": " + s.message();
  spdlog::warn("{} (tried again in {} ms)", text, options_.open_retry.count());
  NoteError(text);
  Pause(partition, options_.open_retry, -1);
}

void Shards::CloseAll() {
  std::vector<int32_t> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, p] : partitions_) {
      if (p.open) open.push_back(n);
    }
    partitions_.clear();
  }
  for (int32_t n : open) {
    hooks_.close(n);
    ++stats_.closed;
  }
}

void Shards::Commit(bool async) {
  dirty_ = false;
  const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), nullptr, async ? 1 : 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    ++stats_.commit_errors;
    const std::string text = ErrorStatus(err, "kafka shards: committing offsets").message();
    spdlog::warn("{}", text);
    NoteError(text);
    dirty_ = true;
  }
}

void Shards::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  const bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Cooperative: `partitions` are the ones added; eager: the whole new assignment.
    std::vector<int32_t> assigned;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        const int32_t n = partitions->elems[i].partition;
        partitions_[n] = Partition{};
        assigned.push_back(n);
      }
    }
    if (cooperative) {
      Error error(rd_kafka_incremental_assign(rk, partitions));
      if (error)
        NoteError(std::string("kafka shards: assign: ") + rd_kafka_error_string(error.get()));
    } else {
      rd_kafka_assign(rk, partitions);
    }
    for (int32_t n : assigned) TryOpen(n);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // What the shards made durable is committed before another member takes them (unless
    // the assignment was lost: then the group has moved on, and the next owner reads
    // again from the last commit).
    if (dirty_ && !rd_kafka_assignment_lost(rk)) Commit(/*async=*/false);
    std::vector<int32_t> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        auto it = partitions_.find(partitions->elems[i].partition);
        if (it == partitions_.end()) continue;
        if (it->second.open) open.push_back(it->first);
        partitions_.erase(it);
      }
    }
    for (int32_t n : open) {
      hooks_.close(n);
      ++stats_.closed;
      spdlog::info("kafka shards: shard {} closed", n);
    }
    if (cooperative) {
      Error error(rd_kafka_incremental_unassign(rk, partitions));
      if (error)
        NoteError(std::string("kafka shards: unassign: ") + rd_kafka_error_string(error.get()));
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    return;
  }
  NoteError(ErrorStatus(err, "kafka shards: rebalance").message());
  if (cooperative) {
    rd_kafka_topic_partition_list_t* current = nullptr;
    if (rd_kafka_assignment(rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR && current != nullptr) {
      PartitionList owned(current);
      Error error(rd_kafka_incremental_unassign(rk, owned.get()));
    }
  } else {
    rd_kafka_assign(rk, nullptr);
  }
  CloseAll();
}

void Shards::RebalanceCallback(rd_kafka_t*, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<Shards*>(opaque)->OnRebalance(err, partitions);
}

void Shards::CommitCallback(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*,
                            void* opaque) {
  auto* self = static_cast<Shards*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->stats_.commit_errors;
    self->NoteError(ErrorStatus(err, "kafka shards: committing offsets").message());
    self->dirty_ = true;
    return;
  }
  ++self->stats_.commits;
}

void Shards::ErrorCallback(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Shards*>(opaque);
  ++self->stats_.errors;
  const std::string text =
      "kafka shards: " + std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) +
      ": " + (reason != nullptr ? reason : "");
  spdlog::warn("{}", text);
  self->NoteError(text);
}

}  // namespace graphmirror::kafka
