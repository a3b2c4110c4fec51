// Store: the SQLite database behind the mirror.
//
// One writer thread owns the write connection. Every write is a job handed to it; the
// writer runs all jobs waiting at that moment in one transaction (group commit, as
// leveldb's DBImpl::Write batches writers), each job inside its own SAVEPOINT so that one
// failing job is rolled back alone. A caller's Write() returns only after the commit that
// holds its job is durable (WAL, synchronous=FULL). Reads use their own connection and
// never wait for the writer (they share one read connection among themselves).
//
// What is stored is reached through one facet per concern, each in its own header:
// log() the notification log, subscriptions() Graph subscriptions, mirror() the mirrored
// items, watermarks, search and typed reads, sync_state() delta rounds and sync status,
// lists() SharePoint lists, containers() mail folders, contact folders and calendars,
// changes() the change feed and its consumers. All of them write through this Store's one
// writer.
//
// Thread-safety: all methods are safe to call from many threads at once.

#ifndef GRAPHMIRROR_ENGINE_STORE_STORE_H_
#define GRAPHMIRROR_ENGINE_STORE_STORE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "engine/store/change_feed.h"
#include "engine/store/container_tables.h"
#include "engine/store/list_store.h"
#include "engine/store/mirror_tables.h"
#include "engine/store/notification_log.h"
#include "engine/store/records.h"
#include "engine/store/subscription_store.h"
#include "engine/store/sync_state.h"

namespace SQLite {
class Database;
}

namespace graphmirror::store {

class WriteContext;

class Store {
 public:
  // Opens (creating if needed, mode 0600) and migrates the database at `path`.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, Clock* clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Marks this process as the database's one live user (a daemon or a started Engine:
  // subscriptions, webhook, worker) with an exclusive lock on the file, held until
  // ReleaseLiveLock or the Store's end (or the process's: a killed daemon leaves none).
  // Unavailable naming the file if another holds it; one-shot commands (sync
  // --once, search, status) do not take it and run beside a daemon.
  Status HoldLiveLock();
  void ReleaseLiveLock();

  // Runs `job` on the writer thread inside a transaction shared with concurrent jobs and
  // returns once that transaction committed. A job signals failure by throwing; its own
  // changes are then rolled back and its Status says why. The facets write through it;
  // also the building block for callers that need writes the facets do not cover.
  Status Write(std::function<void(WriteContext&)> job);
  // Like Write, but gives up at `deadline` (system_clock, real time): a job that has not
  // started by then is withdrawn and Unavailable returned. A job already running may
  // still commit after that, so callers must treat Unavailable as "maybe written" (the
  // notification log dedupes, so a redelivery is harmless).
  Status WriteBefore(std::function<void(WriteContext&)> job, TimePoint deadline);

  // Whether message bodies that pages carry are written to message_bodies (default
  // true; false for sync.bodies = "none"). Bodies written before stay until their message
  // goes.
  void SetKeepBodies(bool keep);
  bool KeepBodies() const;

  // Replaces the observer of committed mirror changes (empty: none).
  void SetChangeObserver(ChangeObserver observer);

  const StoreStats& stats() const;

  const std::string& path() const;

  NotificationLog& log() { return log_; }
  SubscriptionStore& subscriptions() { return subscriptions_; }
  MirrorTables& mirror() { return mirror_; }
  SyncState& sync_state() { return sync_state_; }
  ListStore& lists() { return lists_; }
  ContainerTables& containers() { return containers_; }
  ChangeFeed& changes() { return changes_; }

 private:
  friend class NotificationLog;
  friend class SubscriptionStore;
  friend class MirrorTables;
  friend class SyncState;
  friend class ListStore;
  friend class ContainerTables;
  friend class ChangeFeed;
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  // Runs `fn` on the shared read connection; an exception becomes IOError("<what>: ...").
  Status Read(const char* what, const std::function<void(SQLite::Database&)>& fn);
  // The shared read connection and its lock, for facets that read under their own catch.
  std::mutex& read_mu();
  SQLite::Database& read_db();
  std::unique_ptr<Impl> impl_;
  NotificationLog log_{this};
  SubscriptionStore subscriptions_{this};
  MirrorTables mirror_{this};
  SyncState sync_state_{this};
  ListStore lists_{this};
  ContainerTables containers_{this};
  ChangeFeed changes_{this};
};

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_STORE_H_
