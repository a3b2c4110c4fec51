// WriteContext: what a job running on the writer thread sees: the write connection and a
// cache of prepared statements that lives as long as the connection.
//
// Thread-safety: only ever touched by the writer thread.

#ifndef GRAPHMIRROR_ENGINE_STORE_WRITE_CONTEXT_H_
#define GRAPHMIRROR_ENGINE_STORE_WRITE_CONTEXT_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/store/store.h"
#include "graphmirror/clock.h"

namespace graphmirror::store {

class WriteContext {
 public:
  WriteContext(SQLite::Database* db, Clock* clock) : db_(db), clock_(clock) {}

  SQLite::Database& db() { return *db_; }
  Clock* clock() { return clock_; }

  // Whether message bodies are written (Store::SetKeepBodies); read by the writer only.
  bool keep_bodies() const { return keep_bodies_->load(std::memory_order_relaxed); }
  void set_keep_bodies_flag(const std::atomic<bool>* flag) { keep_bodies_ = flag; }

  // Mirror rows written by the jobs of the group being committed, for the change observer;
  // the writer drops a failed job's share and hands the rest out after the commit.
  std::vector<MirrorChange>& changes() { return changes_; }

  // The connection's own settings while bulk loads have changed them (bulk_load.cc), to
  // be restored once none is open; empty otherwise.
  struct LoadPragmas {
    int64_t wal_autocheckpoint = 0;
    int64_t cache_size = 0;
  };
  std::optional<LoadPragmas>& load_pragmas() { return load_pragmas_; }

  // A prepared statement for `sql`, reset and with bindings cleared, ready to bind.
  SQLite::Statement& Prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      it = statements_.emplace(sql, std::make_unique<SQLite::Statement>(*db_, sql)).first;
    }
    // tryReset, not reset: reset() rethrows the error of the statement's last failed step,
    // which belongs to an earlier job.
    it->second->tryReset();
    it->second->clearBindings();
    return *it->second;
  }

  // Resets every cached statement: a statement left on a row keeps its table busy, and
  // schema changes (DROP INDEX, CREATE INDEX) are refused while one is.
  void ResetStatements() {
    for (auto& [sql, statement] : statements_) statement->tryReset();
  }

 private:
  SQLite::Database* db_;  // declared before the statements it outlives
  Clock* clock_;
  const std::atomic<bool>* keep_bodies_ = &kKeep;
  static constexpr std::atomic<bool> kKeep{true};
  std::vector<MirrorChange> changes_;
  std::optional<LoadPragmas> load_pragmas_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_WRITE_CONTEXT_H_
