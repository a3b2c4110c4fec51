#include "engine/store/bulk_load.h"

#include <mutex>
#include <set>
#include <vector>

#include "engine/store/mirror_tables.h"
#include "engine/store/store.h"

namespace graphmirror::store {
namespace {

std::string Name(Collection collection) { return std::string(CollectionName(collection)); }

// Steps `q` (bound, cached) to its first row and returns column 0 as an integer (0 if no
// row), leaving the statement reset: a cached statement left on a row would keep the
// writer's connection reading an old snapshot, and the next BEGIN IMMEDIATE after another
// connection's write would fail (SQLITE_BUSY_SNAPSHOT).
int64_t FirstInt(SQLite::Statement& q) {
  const int64_t value = q.executeStep() ? q.getColumn(0).getInt64() : 0;
  q.tryReset();
  return value;
}

// Whether the mailbox's collection holds any row: for messages, any body too (a body
// indexed before the load would be 'deleted' from the index unindexed otherwise).
bool HoldsRows(WriteContext& ctx, const std::string& user_id, Collection collection) {
  std::string sql = "SELECT EXISTS (SELECT 1 FROM " + Name(collection) + " WHERE user_id = ?1)";
  if (collection == Collection::kMessages) {
    sql += " OR EXISTS (SELECT 1 FROM message_bodies WHERE user_id = ?1)";
  } else if (collection == Collection::kEvents) {
    sql += " OR EXISTS (SELECT 1 FROM event_occurrences WHERE user_id = ?1)";
  }
  SQLite::Statement& q = ctx.Prepare(sql);
  q.bind(1, user_id);
  return FirstInt(q) != 0;
}

// Gives the writer's connection kLoadWalAutocheckpoint and kLoadCacheKiB while any load is
// open or any index dropped for one waits, and its own settings again once none is. The
// pragmas are not transactional: a job that fails after this leaves them as they were set,
// until the next load job decides again.
void TuneForLoads(WriteContext& ctx) {
  SQLite::Statement& q = ctx.Prepare(
      "SELECT EXISTS (SELECT 1 FROM bulk_loads) OR EXISTS (SELECT 1 FROM bulk_dropped_indexes)");
  const bool loading = FirstInt(q) != 0;
  auto& saved = ctx.load_pragmas();
  if (loading == saved.has_value()) return;
  SQLite::Database& db = ctx.db();
  if (loading) {
    saved = WriteContext::LoadPragmas{db.execAndGet("PRAGMA wal_autocheckpoint").getInt64(),
                                      db.execAndGet("PRAGMA cache_size").getInt64()};
    db.exec("PRAGMA wal_autocheckpoint = " + std::to_string(kLoadWalAutocheckpoint));
    db.exec("PRAGMA cache_size = " + std::to_string(-kLoadCacheKiB));
  } else {
    db.exec("PRAGMA wal_autocheckpoint = " + std::to_string(saved->wal_autocheckpoint));
    db.exec("PRAGMA cache_size = " + std::to_string(saved->cache_size));
    saved.reset();
  }
}

// Drops the secondary indexes of the collection's table, keeping the statements that make
// them in bulk_dropped_indexes. Only for a table that holds no rows at all.
void DropIndexes(WriteContext& ctx, Collection collection) {
  const std::string table = Name(collection);
  ctx.ResetStatements();
  std::vector<std::pair<std::string, std::string>> indexes;  // name, sql
  {
    // Automatic indexes (of PRIMARY KEY and UNIQUE) have no sql and stay.
    SQLite::Statement q(ctx.db(),
                        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND "
                        "tbl_name = ?1 AND sql IS NOT NULL ORDER BY name");
    q.bind(1, table);
    while (q.executeStep())
      indexes.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  }
  for (const auto& [name, sql] : indexes) {
    SQLite::Statement keep(ctx.db(),
                           "INSERT OR IGNORE INTO bulk_dropped_indexes (name, table_name, "
                           "collection, sql) VALUES (?1, ?2, ?2, ?3)");
    keep.bind(1, name);
    keep.bind(2, table);
    keep.bind(3, sql);
    keep.exec();
    ctx.db().exec("DROP INDEX \"" + name + "\"");
  }
}

bool IndexExists(SQLite::Database& db, const std::string& name) {
  SQLite::Statement q(db, "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1");
  q.bind(1, name);
  return q.executeStep();
}

// Makes the dropped index `name` again with its kept statement and forgets it.
void RestoreIndex(SQLite::Database& db, const std::string& name, const std::string& sql) {
  if (!IndexExists(db, name)) db.exec(sql);
  SQLite::Statement forget(db, "DELETE FROM bulk_dropped_indexes WHERE name = ?1");
  forget.bind(1, name);
  forget.exec();
}

// Whether the mailbox's rows past `mark` are few among all rows past it, as when a pass
// loads many mailboxes in turn (their pages interleave): judged on the next 1,000 rows.
bool Sparse(WriteContext& ctx, const std::string& user_id, bool bodies, int64_t mark) {
  SQLite::Statement& q = ctx.Prepare(
      bodies ? "SELECT count(*), coalesce(sum(user_id = ?1), 0) FROM (SELECT user_id FROM "
               "message_bodies WHERE rowid > ?2 ORDER BY rowid LIMIT 1000)"
             : "SELECT count(*), coalesce(sum(user_id = ?1), 0) FROM (SELECT user_id FROM "
               "messages WHERE seq > ?2 ORDER BY seq LIMIT 1000)");
  q.bind(1, user_id);
  q.bind(2, mark);
  if (!q.executeStep()) return false;
  const int64_t rows = q.getColumn(0).getInt64();
  const int64_t mine = q.getColumn(1).getInt64();
  q.tryReset();
  return mine * 4 < rows;
}

// Indexes up to kLoadIndexChunk rows of `table` (messages or message_bodies) of the mailbox
// past `mark` (rowid order), moving the mark to the last one indexed. Returns how many.
// The load's rows were all written after the mark was first set. When they are most of
// the rows there, they are found by scanning rowids from the mark (`+user_id` keeps SQLite
// off the (user_id, id) index, which would sort the mailbox's every row for each chunk);
// when they are few (Sparse), through that index (`+seq`, `+rowid` keep SQLite off the
// rowid range): scanning would read every other mailbox's rows once per mailbox.
int64_t IndexChunk(WriteContext& ctx, const std::string& user_id, bool bodies, int64_t* mark) {
  const bool sparse = Sparse(ctx, user_id, bodies, *mark);
  const char* by_rowid[2][2] = {
      {"SELECT count(*), max(seq) FROM (SELECT seq FROM messages WHERE +user_id = ?1 "
       "AND seq > ?2 ORDER BY seq LIMIT ?3)",
       "SELECT count(*), max(seq) FROM (SELECT seq FROM messages WHERE user_id = ?1 "
       "AND +seq > ?2 ORDER BY seq LIMIT ?3)"},
      {"SELECT count(*), max(rowid) FROM (SELECT rowid FROM message_bodies WHERE "
       "+user_id = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3)",
       "SELECT count(*), max(rowid) FROM (SELECT rowid FROM message_bodies WHERE "
       "user_id = ?1 AND +rowid > ?2 ORDER BY rowid LIMIT ?3)"}};
  SQLite::Statement& last = ctx.Prepare(by_rowid[bodies][sparse]);
  last.bind(1, user_id);
  last.bind(2, *mark);
  last.bind(3, kLoadIndexChunk);
  if (!last.executeStep()) return 0;
  const int64_t count = last.getColumn(0).getInt64();
  const int64_t through = count == 0 ? 0 : last.getColumn(1).getInt64();
  last.tryReset();
  if (count == 0) return 0;
  const char* index_sql[2][2] = {
      {"INSERT INTO messages_fts (rowid, subject, body_preview, sender) SELECT seq, "
       "subject, body_preview, trim(coalesce(from_name, '') || ' ' || "
       "coalesce(from_address, '')) FROM messages WHERE +user_id = ?1 AND seq > ?2 AND "
       "seq <= ?3",
       "INSERT INTO messages_fts (rowid, subject, body_preview, sender) SELECT seq, "
       "subject, body_preview, trim(coalesce(from_name, '') || ' ' || "
       "coalesce(from_address, '')) FROM messages WHERE user_id = ?1 AND +seq > ?2 AND "
       "+seq <= ?3"},
      {"INSERT INTO message_bodies_fts (rowid, content) SELECT rowid, content FROM "
       "message_bodies WHERE +user_id = ?1 AND rowid > ?2 AND rowid <= ?3",
       "INSERT INTO message_bodies_fts (rowid, content) SELECT rowid, content FROM "
       "message_bodies WHERE user_id = ?1 AND +rowid > ?2 AND +rowid <= ?3"}};
  SQLite::Statement& index = ctx.Prepare(index_sql[bodies][sparse]);
  index.bind(1, user_id);
  index.bind(2, *mark);
  index.bind(3, through);
  index.exec();
  *mark = through;
  return count;
}

}  // namespace

bool LoadOpen(WriteContext& ctx, const std::string& user_id, Collection collection) {
  SQLite::Statement& q =
      ctx.Prepare("SELECT 1 FROM bulk_loads WHERE user_id = ?1 AND collection = ?2");
  q.bind(1, user_id);
  q.bind(2, Name(collection));
  return FirstInt(q) != 0;
}

bool BeginLoadJob(WriteContext& ctx, const std::string& user_id, Collection collection) {
  if (LoadOpen(ctx, user_id, collection)) {
    TuneForLoads(ctx);  // a load resumed by a new process
    return true;
  }
  if (HoldsRows(ctx, user_id, collection)) return false;
  // The marks start at the newest row of any mailbox: every row of this load comes after
  // them (a rowid is the largest plus one), and a row that somehow does not is indexed by
  // its trigger, as the marks say it should be.
  SQLite::Statement& begin = ctx.Prepare(
      "INSERT INTO bulk_loads (user_id, collection, started_at, indexed_seq, "
      "indexed_body_rowid) VALUES (?1, ?2, ?3, "
      "CASE WHEN ?2 = 'messages' THEN (SELECT coalesce(max(seq), 0) FROM messages) ELSE 0 END, "
      "CASE WHEN ?2 = 'messages' THEN (SELECT coalesce(max(rowid), 0) FROM message_bodies) "
      "ELSE 0 END)");
  begin.bind(1, user_id);
  begin.bind(2, Name(collection));
  begin.bind(3, FormatUtc(ctx.clock()->Now()));
  begin.exec();
  SQLite::Statement& empty =
      ctx.Prepare("SELECT NOT EXISTS (SELECT 1 FROM " + Name(collection) + ")");
  if (FirstInt(empty) != 0) DropIndexes(ctx, collection);
  TuneForLoads(ctx);
  return true;
}

bool FinishLoadStep(WriteContext& ctx, const std::string& user_id, Collection collection) {
  SQLite::Statement& load = ctx.Prepare(
      "SELECT indexed_seq, indexed_body_rowid FROM bulk_loads WHERE user_id = ?1 AND "
      "collection = ?2");
  load.bind(1, user_id);
  load.bind(2, Name(collection));
  if (!load.executeStep()) return true;
  int64_t seq = load.getColumn(0).getInt64();
  int64_t body_rowid = load.getColumn(1).getInt64();
  load.tryReset();
  bool more = false;
  if (collection == Collection::kMessages) {
    more |= IndexChunk(ctx, user_id, /*bodies=*/false, &seq) == kLoadIndexChunk;
    more |= IndexChunk(ctx, user_id, /*bodies=*/true, &body_rowid) == kLoadIndexChunk;
  }
  if (!more) {
    // Every row is indexed: the triggers take over from here, in this same transaction.
    SQLite::Statement& end =
        ctx.Prepare("DELETE FROM bulk_loads WHERE user_id = ?1 AND collection = ?2");
    end.bind(1, user_id);
    end.bind(2, Name(collection));
    end.exec();
    TuneForLoads(ctx);
    return true;
  }
  SQLite::Statement& marks = ctx.Prepare(
      "UPDATE bulk_loads SET indexed_seq = ?3, indexed_body_rowid = ?4 WHERE user_id = ?1 AND "
      "collection = ?2");
  marks.bind(1, user_id);
  marks.bind(2, Name(collection));
  marks.bind(3, seq);
  marks.bind(4, body_rowid);
  marks.exec();
  return false;
}

bool RestoreOneIndex(WriteContext& ctx, Collection collection) {
  SQLite::Statement& q = ctx.Prepare(
      "SELECT name, sql FROM bulk_dropped_indexes WHERE collection = ?1 AND NOT EXISTS "
      "(SELECT 1 FROM bulk_loads WHERE collection = ?1) ORDER BY name LIMIT 1");
  q.bind(1, Name(collection));
  if (!q.executeStep()) return false;
  const std::string name = q.getColumn(0).getString();
  const std::string sql = q.getColumn(1).getString();
  ctx.ResetStatements();
  // SQLite's sorter takes up to cache_size for its runs on top of the page cache: made with
  // the smaller cache, the index holds less memory than the load did.
  SQLite::Database& db = ctx.db();
  const int64_t cache_size = db.execAndGet("PRAGMA cache_size").getInt64();
  db.exec("PRAGMA cache_size = " + std::to_string(-kIndexBuildCacheKiB));
  try {
    RestoreIndex(db, name, sql);
  } catch (...) {
    db.exec("PRAGMA cache_size = " + std::to_string(cache_size));
    throw;
  }
  db.exec("PRAGMA cache_size = " + std::to_string(cache_size));
  TuneForLoads(ctx);
  return true;
}

void RestoreDroppedIndexes(SQLite::Database& db) {
  std::vector<std::pair<std::string, std::string>> waiting;
  {
    SQLite::Statement q(db,
                        "SELECT name, sql FROM bulk_dropped_indexes d WHERE NOT EXISTS "
                        "(SELECT 1 FROM bulk_loads l WHERE l.collection = d.collection) "
                        "ORDER BY name");
    while (q.executeStep())
      waiting.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  }
  if (waiting.empty()) return;
  SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
  for (const auto& [name, sql] : waiting) RestoreIndex(db, name, sql);
  txn.commit();
}

// --- MirrorTables ---------------------------------------------------------------------------

Result<bool> MirrorTables::BeginLoad(const std::string& user_id, Collection collection) {
  bool loading = false;
  Status s =
      store_->Write([&](WriteContext& ctx) { loading = BeginLoadJob(ctx, user_id, collection); });
  if (!s.ok()) return s;
  return loading;
}

Status MirrorTables::FinishLoad(const std::string& user_id, Collection collection) {
  for (bool done = false; !done;) {
    Status s =
        store_->Write([&](WriteContext& ctx) { done = FinishLoadStep(ctx, user_id, collection); });
    if (!s.ok()) return s;
  }
  // One index per transaction, so that other writers wait for one build at most.
  for (bool made = true; made;) {
    Status s = store_->Write([&](WriteContext& ctx) { made = RestoreOneIndex(ctx, collection); });
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status MirrorTables::FinishLoadsExcept(const std::set<std::pair<std::string, Collection>>& keep) {
  auto loads = Loads();
  if (!loads.ok()) return loads.status();
  for (const LoadState& load : *loads) {
    if (keep.count({load.user_id, load.collection})) continue;
    if (Status s = FinishLoad(load.user_id, load.collection); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<LoadState>> MirrorTables::Loads() {
  std::vector<LoadState> loads;
  Status s = store_->Read("reading bulk loads", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, collection, started_at FROM bulk_loads "
                        "ORDER BY user_id, collection");
    while (q.executeStep()) {
      LoadState load;
      load.user_id = q.getColumn(0).getString();
      load.collection = ParseCollection(q.getColumn(1).getString()).value_or(Collection::kMessages);
      load.started_at = q.getColumn(2).getString();
      loads.push_back(std::move(load));
    }
  });
  if (!s.ok()) return s;
  return loads;
}

Result<bool> MirrorTables::Loading(const std::string& user_id, Collection collection) {
  bool loading = false;
  Status s = store_->Read("reading bulk loads", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT 1 FROM bulk_loads WHERE user_id = ?1 AND collection = ?2");
    q.bind(1, user_id);
    q.bind(2, Name(collection));
    loading = q.executeStep();
  });
  if (!s.ok()) return s;
  return loading;
}

}  // namespace graphmirror::store
