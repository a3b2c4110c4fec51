// Schema migrations: numbered .sql files from schema/, embedded at build time and applied
// in order through PRAGMA user_version, each in its own transaction.
//
// Thread-safety: call on the write connection before any other use.

#ifndef GRAPHMIRROR_ENGINE_STORE_MIGRATIONS_H_
#define GRAPHMIRROR_ENGINE_STORE_MIGRATIONS_H_

#include <vector>

#include "graphmirror/status.h"

namespace SQLite {
class Database;
}

namespace graphmirror::store {

struct Migration {
  int version;       // the file's number: 1 for 001_initial.sql
  const char* name;  // the file name
  const char* sql;
};

// The migrations compiled into the library, in version order (generated source).
const std::vector<Migration>& EmbeddedMigrations();

// Brings the database to the newest version. Refuses a database newer than the
// library (a downgrade would silently misread it).
Status ApplyMigrations(SQLite::Database& db, const std::vector<Migration>& migrations);

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_MIGRATIONS_H_
