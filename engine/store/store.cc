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
#include "engine/store/bulk_load.h"
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
  std::atomic<bool> keep_bodies{true};

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
  try {
    // A process that died between a bulk load's end and the indexes it had dropped.
    RestoreDroppedIndexes(*impl->write_db);
  } catch (const std::exception& e) {
    return Status::IOError(std::string("restoring indexes dropped for a bulk load: ") + e.what());
  }
  auto read_db = OpenConnection(path, Access::kReadOnly);
  if (!read_db.ok()) return read_db.status();
  impl->read_db = std::move(read_db).value();
  impl->write_ctx = std::make_unique<WriteContext>(impl->write_db.get(), clock);
  impl->write_ctx->set_keep_bodies_flag(&impl->keep_bodies);
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

Status Store::Read(const char* what, const std::function<void(SQLite::Database&)>& fn) {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  try {
    fn(*impl_->read_db);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IOError(std::string(what) + ": " + e.what());
  }
}

void Store::SetKeepBodies(bool keep) { impl_->keep_bodies.store(keep); }
bool Store::KeepBodies() const { return impl_->keep_bodies.load(); }

void Store::SetChangeObserver(ChangeObserver observer) {
  auto shared = std::make_shared<const ChangeObserver>(std::move(observer));
  std::lock_guard<std::mutex> lock(impl_->observer_mu);
  impl_->observer = std::move(shared);
}

std::mutex& Store::read_mu() { return impl_->read_mu; }

SQLite::Database& Store::read_db() { return *impl_->read_db; }

const std::string& Store::path() const { return impl_->path; }

const StoreStats& Store::stats() const { return impl_->stats; }

}  // namespace graphmirror::store
