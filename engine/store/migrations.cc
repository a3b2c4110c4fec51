#include "engine/store/migrations.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>

namespace graphmirror::store {

Status ApplyMigrations(SQLite::Database& db, const std::vector<Migration>& migrations) {
  try {
    int current = db.execAndGet("PRAGMA user_version").getInt();
    int newest = migrations.empty() ? 0 : migrations.back().version;
    if (current > newest) {
      return Status::InvalidArgument("database schema version " + std::to_string(current) +
                                     " is newer than this graphmirror understands (" +
                                     std::to_string(newest) + ")");
    }
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
      db.exec(m.sql);
      db.exec("PRAGMA user_version = " + std::to_string(m.version));
      txn.commit();
      current = m.version;
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("schema migration failed: ") + e.what());
  }
}

}  // namespace graphmirror::store
