#include "engine/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "engine/base/resource.h"
#include "engine/store/connection.h"
#include "engine/store/migrations.h"
#include "engine/store/mirror_writes.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {
namespace {

// Jobs taken into one group commit at most; bounds the latency of the first of them.
constexpr size_t kMaxJobsPerCommit = 512;

struct Job {
  std::function<void(WriteContext&)> fn;
  std::promise<Status> done;
};

}  // namespace

struct Store::Impl {
  std::string path;
  Clock* clock = nullptr;
  // Declared before the context whose statements refer to it.
  std::unique_ptr<SQLite::Database> write_db;
  std::unique_ptr<WriteContext> write_ctx;

  std::mutex read_mu;
  std::unique_ptr<SQLite::Database> read_db;

  std::mutex observer_mu;
  std::shared_ptr<const ChangeObserver> observer;  // guarded by observer_mu

  std::mutex live_lock_mu;
  int live_lock_fd = -1;  // guarded by live_lock_mu

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Job> queue;
  bool stopping = false;
  std::thread writer;
  StoreStats stats;

  void WriterLoop();
  void CommitGroup(std::vector<Job>& group);
};

void Store::Impl::WriterLoop() {
  std::vector<Job> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu);
      queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and nothing left to write
      while (!queue.empty() && group.size() < kMaxJobsPerCommit) {
        group.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    CommitGroup(group);
    group.clear();
  }
}

void Store::Impl::CommitGroup(std::vector<Job>& group) {
  std::vector<Status> results(group.size());
  SQLite::Database& db = *write_db;
  try {
    SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
    std::vector<MirrorChange>& changes = write_ctx->changes();
    changes.clear();
    auto run = [&](Job& job) -> Status {
      try {
        job.fn(*write_ctx);
        return Status::Ok();
      } catch (const std::exception& e) {
        return Status::IOError(e.what());
      } catch (...) {
        return Status::Internal("a write job threw a non-standard exception");
      }
    };
    if (group.size() == 1) {
      // Alone in its transaction, a job needs no savepoint: if it fails, the transaction
      // rolls back, which is all of it. (A savepoint journals the original of every page
      // the job changes: megabytes for a page of items.)
      results[0] = run(group[0]);
      if (!results[0].ok()) {
        changes.clear();
        group[0].done.set_value(results[0]);
        return;  // txn rolls back as it goes out of scope
      }
    } else {
      // Prepared once: parsing them for every job was a measurable part of the writer's
      // time per notification POST.
      for (size_t i = 0; i < group.size(); ++i) {
        const size_t changes_before = changes.size();
        write_ctx->Prepare("SAVEPOINT job").exec();
        results[i] = run(group[i]);
        if (!results[i].ok()) {
          write_ctx->Prepare("ROLLBACK TO job").exec();
          changes.resize(changes_before);
        }
        write_ctx->Prepare("RELEASE job").exec();
      }
    }
    txn.commit();
    stats.commits.fetch_add(1, std::memory_order_relaxed);
    if (!changes.empty()) {
      std::shared_ptr<const ChangeObserver> notify;
      {
        std::lock_guard<std::mutex> lock(observer_mu);
        notify = observer;
      }
      if (notify && *notify) {
        try {
          (*notify)(changes);
        } catch (...) {
          // The commit stands whatever the observer does.
        }
      }
      changes.clear();
    }
  } catch (const std::exception& e) {
    // The transaction rolled back as a whole: nothing of this group is durable.
    Status failed = Status::IOError(std::string("commit failed: ") + e.what());
    for (Status& s : results) s = failed;
    write_ctx->changes().clear();
  }
  for (size_t i = 0; i < group.size(); ++i) group[i].done.set_value(results[i]);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  ReleaseLiveLock();
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

Status Store::HoldLiveLock() {
  std::lock_guard<std::mutex> lock(impl_->live_lock_mu);
  if (impl_->live_lock_fd >= 0 || impl_->path == ":memory:") return Status::Ok();
  // flock, not SQLite's fcntl locks: independent of them, and per open file, so a second
  // live user in this same process is refused too.
  int fd = ::open(impl_->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + impl_->path + " to lock it");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Unavailable("another graphmirror is running live on " + impl_->path +
                               " (a daemon, or an embedding program's started engine)");
  }
  impl_->live_lock_fd = fd;
  return Status::Ok();
}

void Store::ReleaseLiveLock() {
  std::lock_guard<std::mutex> lock(impl_->live_lock_mu);
  if (impl_->live_lock_fd < 0) return;
  ::close(impl_->live_lock_fd);  // releases the flock
  impl_->live_lock_fd = -1;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->clock = clock;
  auto write_db = OpenConnection(path, Access::kReadWrite);
  if (!write_db.ok()) return write_db.status();
  impl->write_db = std::move(write_db).value();
  Status migrated = ApplyMigrations(*impl->write_db, EmbeddedMigrations());
  if (!migrated.ok()) return migrated;
  auto read_db = OpenConnection(path, Access::kReadOnly);
  if (!read_db.ok()) return read_db.status();
  impl->read_db = std::move(read_db).value();
  impl->write_ctx = std::make_unique<WriteContext>(impl->write_db.get(), clock);
  impl->writer = std::thread([raw = impl.get()] { raw->WriterLoop(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::Write(std::function<void(WriteContext&)> job) {
  std::future<Status> done;
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    if (impl_->stopping) return Status::Cancelled("store is closing");
    impl_->queue.push_back(Job{std::move(job), {}});
    done = impl_->queue.back().done.get_future();
  }
  impl_->queue_cv.notify_one();
  return done.get();
}

Status Store::WriteBefore(std::function<void(WriteContext&)> job, TimePoint deadline) {
  // 0: queued, 1: running, 2: withdrawn by the caller.
  auto phase = std::make_shared<std::atomic<int>>(0);
  std::future<Status> done;
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    if (impl_->stopping) return Status::Cancelled("store is closing");
    impl_->queue.push_back(Job{[phase, job = std::move(job)](WriteContext& ctx) {
                                 int queued = 0;
                                 if (phase->compare_exchange_strong(queued, 1)) job(ctx);
                               },
                               {}});
    done = impl_->queue.back().done.get_future();
  }
  impl_->queue_cv.notify_one();
  if (done.wait_until(deadline) == std::future_status::ready) return done.get();
  int queued = 0;
  phase->compare_exchange_strong(queued, 2);
  return Status::Unavailable("the database did not commit in time");
}

Status Store::AppendNotifications(std::vector<LogEntry> entries, TimePoint deadline,
                                  std::vector<std::string> validation_tokens) {
  if (entries.empty()) return Status::Ok();
  return WriteBefore(
      [entries = std::move(entries), tokens = std::move(validation_tokens)](WriteContext& ctx) {
        AppendLogEntries(ctx, entries, tokens.empty() ? 0 : InsertTokenBatch(ctx, tokens));
      },
      deadline);
}

Result<std::vector<std::string>> Store::NotificationTokens(int64_t token_batch) {
  std::vector<std::string> out;
  Status s = Read("reading validation tokens", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT tokens FROM notification_tokens WHERE id = ?1");
    q.bind(1, token_batch);
    if (!q.executeStep()) return;
    const std::string tokens = q.getColumn(0).getString();
    for (size_t start = 0; start < tokens.size();) {
      size_t end = tokens.find('\n', start);
      if (end == std::string::npos) end = tokens.size();
      if (end > start) out.push_back(tokens.substr(start, end - start));
      start = end + 1;
    }
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<PendingNotification>> Store::PendingNotifications(TimePoint now, int limit) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(
        *impl_->read_db,
        "SELECT seq, user_id, collection, coalesce(change_type, ''), "
        "coalesce(lifecycle_event, ''), subscription_id, coalesce(item_id, ''), "
        "attempts, received_at, coalesce(rich_data, ''), "
        "coalesce(rich_data_key, ''), coalesce(rich_signature, ''), "
        "coalesce(rich_certificate_id, ''), coalesce(token_batch, 0), "
        "coalesce(etag, '') FROM notification_log WHERE state IN ('received', 'failed') AND "
        "(state = 'received' OR next_attempt_at <= ?1) ORDER BY seq LIMIT ?2");
    q.bind(1, FormatUtc(now));
    q.bind(2, limit);
    std::vector<PendingNotification> out;
    while (q.executeStep()) {
      PendingNotification p;
      p.seq = q.getColumn(0).getInt64();
      p.user_id = q.getColumn(1).getString();
      p.collection = ParseCollection(q.getColumn(2).getString()).value_or(Collection::kMessages);
      p.change_type = q.getColumn(3).getString();
      p.lifecycle_event = q.getColumn(4).getString();
      p.subscription_id = q.getColumn(5).getString();
      p.item_id = q.getColumn(6).getString();
      p.attempts = q.getColumn(7).getInt();
      p.received_at = q.getColumn(8).getString();
      p.rich.data = q.getColumn(9).getString();
      p.rich.data_key = q.getColumn(10).getString();
      p.rich.signature = q.getColumn(11).getString();
      p.rich.certificate_id = q.getColumn(12).getString();
      p.token_batch = q.getColumn(13).getInt64();
      p.etag = q.getColumn(14).getString();
      out.push_back(std::move(p));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the notification log: ") + e.what());
  }
}

Status Store::MarkNotifications(const std::vector<int64_t>& seqs, LogState state,
                                const std::string& reason, TimePoint retry_at) {
  if (seqs.empty()) return Status::Ok();
  return Write([&](WriteContext& ctx) { MarkLogRows(ctx, seqs, state, reason, retry_at); });
}

Result<std::vector<std::string>> Store::TiedVersions(const std::string& user_id,
                                                     Collection collection,
                                                     const std::vector<MirrorItem>& items) {
  std::vector<std::string> tied;
  if (items.empty()) return tied;
  Status s = Read("reading item versions", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT coalesce(modified_at, ''), coalesce(change_key, '') FROM " +
                                std::string(CollectionName(collection)) +
                                " WHERE user_id = ?1 AND id = ?2");
    for (const MirrorItem& item : items) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, item.id);
      if (!q.executeStep()) continue;
      if (!item.modified_at.empty() && q.getColumn(0).getString() == item.modified_at &&
          q.getColumn(1).getString() != item.change_key) {
        tied.push_back(item.id);
      }
    }
  });
  if (!s.ok()) return s;
  return tied;
}

Result<std::vector<std::string>> Store::PassedOver(const std::string& user_id,
                                                   Collection collection,
                                                   const std::vector<MirrorItem>& items) {
  std::vector<std::string> passed;
  if (items.empty()) return passed;
  Status s = Read("reading the last delta pass", [&](SQLite::Database& db) {
    const std::string name(CollectionName(collection));
    // When the last complete delta pass began (Graph's clock). Empty while a round is in
    // progress or none ever completed: no such evidence.
    SQLite::Statement pass(db,
                           "SELECT CASE WHEN count(*) = count(round_started_at) AND "
                           "count(next_link) = 0 THEN min(round_started_at) END FROM delta_links "
                           "WHERE user_id = ?1 AND collection = ?2");
    pass.bind(1, user_id);
    pass.bind(2, name);
    if (!pass.executeStep() || pass.getColumn(0).isNull()) return;
    const std::string pass_start = pass.getColumn(0).getString();
    SQLite::Statement present(db, "SELECT 1 FROM " + name + " WHERE user_id = ?1 AND id = ?2");
    // An event's pass is a calendarView delta round: compared a day inside the window's
    // edges, as an event in a named zone keeps its wall-clock text (up to 14 hours off
    // UTC); an event without times is not covered.
    SQLite::Statement in_window(
        db,
        "SELECT 1 FROM delta_links WHERE user_id = ?1 AND collection = ?2 AND "
        "julianday(substr(?3, 1, 19)) < julianday(substr(scope, instr(scope, '/') + 1, 19)) - 1 "
        "AND julianday(substr(?4, 1, 19)) > julianday(substr(scope, 1, 19)) + 1 LIMIT 1");
    for (const MirrorItem& item : items) {
      const std::string& version = item.modified_at.empty() ? item.created_at : item.modified_at;
      if (version >= pass_start) continue;
      if (!Describe(collection).scoped_by_folder()) {
        in_window.reset();
        in_window.bind(1, user_id);
        in_window.bind(2, name);
        in_window.bind(3, item.start_at);
        in_window.bind(4, item.end_at);
        if (!in_window.executeStep()) continue;
      }
      present.reset();
      present.bind(1, user_id);
      present.bind(2, item.id);
      if (!present.executeStep()) passed.push_back(item.id);
    }
  });
  if (!s.ok()) return s;
  return passed;
}

Status Store::ApplyNotificationChanges(const std::string& user_id, Collection collection,
                                       const std::vector<MirrorItem>& upserts,
                                       const std::vector<std::string>& deleted_ids,
                                       const std::vector<int64_t>& seqs) {
  return Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    for (const MirrorItem& item : upserts) UpsertItem(ctx, user_id, collection, item, now);
    for (const std::string& id : deleted_ids) DeleteItem(ctx, user_id, collection, id);
    MarkLogRows(ctx, seqs, LogState::kApplied, "", TimePoint{});
  });
}

Result<LogStats> Store::NotificationStats(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db,
                        "SELECT (SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state IN ('received', 'failed')), "
                        "(SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state = 'failed'), "
                        "coalesce((SELECT max(received_at) FROM notification_log WHERE "
                        "user_id = ?1), ''), "
                        "(SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state = 'ignored' AND reason LIKE 'suspicious:%')");
    q.bind(1, user_id);
    q.executeStep();
    LogStats stats;
    stats.pending = q.getColumn(0).getInt64();
    stats.failed = q.getColumn(1).getInt64();
    stats.last_received_at = q.getColumn(2).getString();
    stats.suspicious = q.getColumn(3).getInt64();
    return stats;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the notification log: ") + e.what());
  }
}

Result<int64_t> Store::PruneNotificationLog(TimePoint cutoff) {
  int64_t deleted = 0;
  Status s = Write([&](WriteContext& ctx) {
    SQLite::Statement& q = ctx.Prepare(
        "DELETE FROM notification_log WHERE state IN ('applied', 'ignored') AND done_at < ?1");
    q.bind(1, FormatUtc(cutoff));
    deleted = q.exec();
    ctx.Prepare(
           "DELETE FROM notification_tokens WHERE id NOT IN (SELECT token_batch FROM "
           "notification_log WHERE token_batch IS NOT NULL)")
        .exec();
  });
  if (!s.ok()) return s;
  return deleted;
}

Status Store::PutSubscription(const SubscriptionRecord& r, const std::vector<LogEntry>& also_log) {
  return Write([&](WriteContext& ctx) {
    AppendLogEntries(ctx, also_log);
    SQLite::Statement& s = ctx.Prepare(
        "INSERT INTO subscriptions (id, user_id, collection, resource, change_type, "
        "client_state, expires_at, created_at, renewed_at, encryption_certificate_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, ''), NULLIF(?10, '')) "
        "ON CONFLICT (user_id, collection) DO UPDATE SET id = excluded.id, "
        "resource = excluded.resource, change_type = excluded.change_type, "
        "client_state = excluded.client_state, expires_at = excluded.expires_at, "
        "created_at = excluded.created_at, renewed_at = excluded.renewed_at, "
        "encryption_certificate_id = excluded.encryption_certificate_id");
    s.bind(1, r.id);
    s.bind(2, r.user_id);
    s.bind(3, std::string(CollectionName(r.collection)));
    s.bind(4, r.resource);
    s.bind(5, r.change_type);
    s.bind(6, r.client_state);
    s.bind(7, r.expires_at);
    s.bind(8, r.created_at);
    s.bind(9, r.renewed_at);
    s.bind(10, r.encryption_certificate_id);
    s.exec();
  });
}

Status Store::DeleteSubscription(const std::string& id) {
  return Write([&](WriteContext& ctx) {
    SQLite::Statement& s = ctx.Prepare("DELETE FROM subscriptions WHERE id = ?1");
    s.bind(1, id);
    s.exec();
  });
}

Result<std::vector<SubscriptionRecord>> Store::Subscriptions() {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db,
                        "SELECT id, user_id, collection, resource, change_type, client_state, "
                        "expires_at, created_at, coalesce(renewed_at, ''), "
                        "coalesce(encryption_certificate_id, '') FROM subscriptions "
                        "ORDER BY user_id, collection");
    std::vector<SubscriptionRecord> out;
    while (q.executeStep()) {
      SubscriptionRecord r;
      r.id = q.getColumn(0).getString();
      r.user_id = q.getColumn(1).getString();
      r.collection = ParseCollection(q.getColumn(2).getString()).value_or(Collection::kMessages);
      r.resource = q.getColumn(3).getString();
      r.change_type = q.getColumn(4).getString();
      r.client_state = q.getColumn(5).getString();
      r.expires_at = q.getColumn(6).getString();
      r.created_at = q.getColumn(7).getString();
      r.renewed_at = q.getColumn(8).getString();
      r.encryption_certificate_id = q.getColumn(9).getString();
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading subscriptions: ") + e.what());
  }
}

Status Store::ApplyPage(PageWrite page) {
  return Write([page = std::move(page)](WriteContext& ctx) { WritePage(ctx, page); });
}

Result<Watermark> Store::GetWatermark(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db,
                        "SELECT coalesce(created_after, ''), coalesce(modified_after, '') "
                        "FROM watermarks "
                        "WHERE user_id = ? AND collection = ?");
    q.bind(1, user_id);
    q.bind(2, std::string(CollectionName(collection)));
    Watermark w;
    if (q.executeStep()) {
      w.created_after = q.getColumn(0).getString();
      w.modified_after = q.getColumn(1).getString();
    }
    return w;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading watermark: ") + e.what());
  }
}

Result<int64_t> Store::CountItems(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(
        *impl_->read_db,
        "SELECT count(*) FROM " + std::string(CollectionName(collection)) + " WHERE user_id = ?");
    q.bind(1, user_id);
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("counting items: ") + e.what());
  }
}

Result<std::string> Store::CreatedAt(const std::string& user_id, Collection collection,
                                     const std::string& id) {
  std::string created;
  Status s = Read("looking up an item", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT created_at FROM " + std::string(CollectionName(collection)) +
                                " WHERE user_id = ?1 AND id = ?2");
    q.bind(1, user_id);
    q.bind(2, id);
    if (q.executeStep()) created = q.getColumn(0).getString();
  });
  if (!s.ok()) return s;
  return created;
}

Result<std::vector<std::string>> Store::MissingItems(const std::string& user_id,
                                                     Collection collection,
                                                     const std::vector<std::string>& ids) {
  std::vector<std::string> missing;
  if (ids.empty()) return missing;
  Status s = Read("looking up items", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT 1 FROM " + std::string(CollectionName(collection)) +
                                " WHERE user_id = ?1 AND id = ?2");
    for (const std::string& id : ids) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, id);
      if (!q.executeStep()) missing.push_back(id);
    }
  });
  if (!s.ok()) return s;
  return missing;
}

Result<std::vector<std::string>> Store::NotHeldAt(
    const std::string& user_id, Collection collection,
    const std::vector<std::pair<std::string, std::string>>& notified) {
  std::vector<std::string> stale;
  if (notified.empty()) return stale;
  Status s = Read("looking up item versions", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT coalesce(change_key, '') FROM " +
                                std::string(CollectionName(collection)) +
                                " WHERE user_id = ?1 AND id = ?2");
    for (const auto& [id, change_key] : notified) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, id);
      if (!q.executeStep() || (!change_key.empty() && q.getColumn(0).getString() != change_key)) {
        stale.push_back(id);
      }
    }
  });
  if (!s.ok()) return s;
  return stale;
}

Result<std::vector<std::string>> Store::ItemIds(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db, "SELECT id FROM " +
                                             std::string(CollectionName(collection)) +
                                             " WHERE user_id = ? ORDER BY id");
    q.bind(1, user_id);
    std::vector<std::string> ids;
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    return ids;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("listing items: ") + e.what());
  }
}

Result<std::vector<CollectionCount>> Store::Counts() {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db, R"sql(
      WITH keys AS (
        SELECT user_id, 'messages' AS collection FROM messages
        UNION SELECT user_id, 'events' FROM events
        UNION SELECT user_id, 'contacts' FROM contacts
        UNION SELECT user_id, collection FROM watermarks)
      SELECT k.user_id, k.collection,
        CASE k.collection
          WHEN 'messages' THEN (SELECT count(*) FROM messages m WHERE m.user_id = k.user_id)
          WHEN 'events' THEN (SELECT count(*) FROM events e WHERE e.user_id = k.user_id)
          ELSE (SELECT count(*) FROM contacts c WHERE c.user_id = k.user_id) END,
        coalesce(w.created_after, ''), coalesce(w.modified_after, '')
      FROM keys k LEFT JOIN watermarks w USING (user_id, collection)
      ORDER BY k.user_id, CASE k.collection WHEN 'messages' THEN 0 WHEN 'events' THEN 1 ELSE 2 END)sql");
    std::vector<CollectionCount> out;
    while (q.executeStep()) {
      CollectionCount c;
      c.user_id = q.getColumn(0).getString();
      c.collection = ParseCollection(q.getColumn(1).getString()).value_or(Collection::kMessages);
      c.items = q.getColumn(2).getInt64();
      c.created_after = q.getColumn(3).getString();
      c.modified_after = q.getColumn(4).getString();
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("counting items: ") + e.what());
  }
}

Status Store::Read(const char* what, const std::function<void(SQLite::Database&)>& fn) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    fn(*impl_->read_db);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IOError(std::string(what) + ": " + e.what());
  }
}

std::string FullTextQuery(const std::string& text) {
  std::string query;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) break;
    std::string word = text.substr(i, end - i);
    i = end;
    const bool prefix = word.size() > 1 && word.back() == '*';
    if (prefix) word.pop_back();
    // A quoted string is a phrase of its tokens: FTS5 syntax inside it is plain text.
    std::string quoted = "\"";
    for (char c : word) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    quoted += '"';
    if (prefix) quoted += '*';
    if (!query.empty()) query += ' ';
    query += quoted;
  }
  return query;
}

Result<std::vector<Message>> Store::SearchMessages(const std::string& text,
                                                   const std::string& user_id, int limit) {
  const std::string query = FullTextQuery(text);
  if (query.empty()) return Status::InvalidArgument("nothing to search for");
  std::vector<Message> hits;
  Status s = Read("searching messages", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT m.user_id, m.id, coalesce(m.received_at, ''), "
                        "coalesce(m.from_name, ''), coalesce(m.from_address, ''), "
                        "coalesce(m.subject, ''), "
                        "snippet(messages_fts, -1, '[', ']', '...', 12) "
                        "FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid "
                        "WHERE messages_fts MATCH ?1 AND (?2 = '' OR m.user_id = ?2) "
                        "ORDER BY rank LIMIT ?3");
    q.bind(1, query);
    q.bind(2, user_id);
    q.bind(3, limit);
    while (q.executeStep()) {
      Message hit;
      hit.user_id = q.getColumn(0).getString();
      hit.id = q.getColumn(1).getString();
      hit.received_at = q.getColumn(2).getString();
      hit.from_name = q.getColumn(3).getString();
      hit.from_address = q.getColumn(4).getString();
      hit.subject = q.getColumn(5).getString();
      hit.body_preview = q.getColumn(6).getString();
      hits.push_back(std::move(hit));
    }
  });
  if (!s.ok()) return s;
  return hits;
}

void Store::SetChangeObserver(ChangeObserver observer) {
  auto shared = std::make_shared<const ChangeObserver>(std::move(observer));
  std::lock_guard<std::mutex> lock(impl_->observer_mu);
  impl_->observer = std::move(shared);
}

const std::string& Store::path() const { return impl_->path; }

const StoreStats& Store::stats() const { return impl_->stats; }

}  // namespace graphmirror::store
