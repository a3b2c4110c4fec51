#include "engine/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

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

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<Job> queue;
  bool stopping = false;
  std::thread writer;

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
    for (size_t i = 0; i < group.size(); ++i) {
      db.exec("SAVEPOINT job");
      try {
        group[i].fn(*write_ctx);
        db.exec("RELEASE job");
      } catch (const std::exception& e) {
        results[i] = Status::IOError(e.what());
        db.exec("ROLLBACK TO job");
        db.exec("RELEASE job");
      }
    }
    txn.commit();
  } catch (const std::exception& e) {
    // The transaction rolled back as a whole: nothing of this group is durable.
    Status failed = Status::IOError(std::string("commit failed: ") + e.what());
    for (Status& s : results) s = failed;
  }
  for (size_t i = 0; i < group.size(); ++i) group[i].done.set_value(results[i]);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
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

Status Store::ApplyPage(PageWrite page) {
  return Write([page = std::move(page)](WriteContext& ctx) { WritePage(ctx, page); });
}

Result<Watermark> Store::GetWatermark(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    SQLite::Statement q(*impl_->read_db,
                        "SELECT coalesce(created_after, ''), coalesce(modified_after, ''), "
                        "coalesce(delta_link, '') FROM watermarks "
                        "WHERE user_id = ? AND collection = ?");
    q.bind(1, user_id);
    q.bind(2, std::string(CollectionName(collection)));
    Watermark w;
    if (q.executeStep()) {
      w.created_after = q.getColumn(0).getString();
      w.modified_after = q.getColumn(1).getString();
      w.delta_link = q.getColumn(2).getString();
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
        coalesce(w.created_after, '')
      FROM keys k LEFT JOIN watermarks w USING (user_id, collection)
      ORDER BY k.user_id, CASE k.collection WHEN 'messages' THEN 0 WHEN 'events' THEN 1 ELSE 2 END)sql");
    std::vector<CollectionCount> out;
    while (q.executeStep()) {
      CollectionCount c;
      c.user_id = q.getColumn(0).getString();
      c.collection = ParseCollection(q.getColumn(1).getString()).value_or(Collection::kMessages);
      c.items = q.getColumn(2).getInt64();
      c.created_after = q.getColumn(3).getString();
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("counting items: ") + e.what());
  }
}

const std::string& Store::path() const { return impl_->path; }

}  // namespace graphmirror::store
