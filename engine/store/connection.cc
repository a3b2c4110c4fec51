#include "engine/store/connection.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace graphmirror::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// SQLite creates files with the process umask; create the file first so it is 0600.
Status CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot create database " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

const char* ConnectionPragmas() {
  // Statement journals and savepoint journals stay SQLite's default: in memory up to a
  // small size, then in a temporary file. In memory without bound (temp_store = MEMORY),
  // the journal of a statement over a whole scope (a sweep, a forgotten folder) grows
  // with the mailbox.
  return "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";
}

Result<std::unique_ptr<SQLite::Database>> OpenConnection(const std::string& path, Access access) {
  if (access == Access::kReadWrite && path != ":memory:") {
    Status created = CreatePrivateFile(path);
    if (!created.ok()) return created;
  }
  try {
    int flags = access == Access::kReadWrite ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                                             : SQLite::OPEN_READONLY;
    // Each connection is used by one thread at a time (the writer's by the writer thread,
    // the read connection under the store's read lock), so SQLite's own per-call mutex
    // would only cost a lock and an unlock on every bind, step and reset.
    flags |= SQLITE_OPEN_NOMUTEX;
    auto db = std::make_unique<SQLite::Database>(path, flags, kBusyTimeoutMs);
    if (access == Access::kReadWrite) {
      std::string mode = db->execAndGet("PRAGMA journal_mode = WAL").getString();
      if (mode != "wal" && path != ":memory:") {
        return Status::IOError("cannot switch " + path + " to WAL (journal_mode is " + mode + ")");
      }
    }
    db->exec(ConnectionPragmas());
    return db;
  } catch (const std::exception& e) {
    return Status::IOError("cannot open database " + path + ": " + e.what());
  }
}

}  // namespace graphmirror::store
