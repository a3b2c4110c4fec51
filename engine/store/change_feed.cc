// Store: the change feed and its consumers (schema/018_changes.sql).

#include "engine/store/change_feed.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {
namespace {

// The newest seq AUTOINCREMENT ever gave out: sqlite_sequence keeps it when rows go.
constexpr const char* kLastSeqSql =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)";

}  // namespace

Result<std::vector<ChangeRow>> ChangeFeed::Read(int64_t after_seq, int64_t limit) {
  std::vector<ChangeRow> out;
  Status read = store_->Read("reading the change feed", [&](SQLite::Database& db) {
    // One row per changed field (json_each), or one with NULL for a change without.
    SQLite::Statement q(db,
                        "WITH page AS (SELECT * FROM changes WHERE seq > ?1 ORDER BY seq "
                        "LIMIT ?2) "
                        "SELECT p.seq, p.resource, coalesce(p.user_id, ''), coalesce(p.site, ''), "
                        "coalesce(p.list_id, ''), p.item_id, p.kind, p.changed_at, f.value "
                        "FROM page p LEFT JOIN json_each(p.fields) f ORDER BY p.seq, f.id");
    q.bind(1, after_seq);
    q.bind(2, limit);
    while (q.executeStep()) {
      const int64_t seq = q.getColumn(0).getInt64();
      if (out.empty() || out.back().seq != seq) {
        ChangeRow row;
        row.seq = seq;
        row.resource = q.getColumn(1).getString();
        row.user_id = q.getColumn(2).getString();
        row.site = q.getColumn(3).getString();
        row.list_id = q.getColumn(4).getString();
        row.item_id = q.getColumn(5).getString();
        row.kind = q.getColumn(6).getString();
        row.changed_at = q.getColumn(7).getString();
        out.push_back(std::move(row));
      }
      if (!q.getColumn(8).isNull()) out.back().fields.push_back(q.getColumn(8).getString());
    }
  });
  if (!read.ok()) return read;
  return out;
}

Result<int64_t> ChangeFeed::Cursor(const std::string& consumer) {
  int64_t cursor = -1;
  Status read = store_->Read("reading a change feed consumer", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT last_seq FROM consumers WHERE name = ?1");
    q.bind(1, consumer);
    if (q.executeStep()) cursor = q.getColumn(0).getInt64();
  });
  if (!read.ok()) return read;
  if (cursor >= 0) return cursor;
  Status written = store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    SQLite::Statement& put = ctx.Prepare(
        "INSERT INTO consumers (name, last_seq, created_at, updated_at) VALUES (?1, 0, ?2, ?2) "
        "ON CONFLICT (name) DO NOTHING");
    put.bind(1, consumer);
    put.bind(2, now);
    put.exec();
    // Another process may have registered it meanwhile, and moved it.
    SQLite::Statement& get = ctx.Prepare("SELECT last_seq FROM consumers WHERE name = ?1");
    get.bind(1, consumer);
    cursor = get.executeStep() ? get.getColumn(0).getInt64() : 0;
    get.tryReset();
  });
  if (!written.ok()) return written;
  return cursor;
}

Status ChangeFeed::Commit(const std::string& consumer, int64_t up_to_seq) {
  if (up_to_seq < 0) return Status::InvalidArgument("a change feed seq is never negative");
  Status refused;
  Status written = store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& last = ctx.Prepare(kLastSeqSql);
    const int64_t newest = last.executeStep() ? last.getColumn(0).getInt64() : 0;
    last.tryReset();
    if (up_to_seq > newest) {
      refused = Status::InvalidArgument("cannot commit change " + std::to_string(up_to_seq) +
                                        ": the newest change is " + std::to_string(newest));
      return;
    }
    SQLite::Statement& put = ctx.Prepare(
        "INSERT INTO consumers (name, last_seq, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
        "ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, "
        "updated_at = excluded.updated_at WHERE excluded.last_seq > consumers.last_seq");
    put.bind(1, consumer);
    put.bind(2, up_to_seq);
    put.bind(3, FormatUtc(ctx.clock()->Now()));
    put.exec();
  });
  if (!written.ok()) return written;
  return refused;
}

Status ChangeFeed::Drop(const std::string& consumer) {
  int dropped = 0;
  Status written = store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& q = ctx.Prepare("DELETE FROM consumers WHERE name = ?1");
    q.bind(1, consumer);
    dropped = q.exec();
  });
  if (!written.ok()) return written;
  if (dropped == 0) return Status::NotFound("no change feed consumer named '" + consumer + "'");
  return Status::Ok();
}

Result<std::vector<ConsumerRow>> ChangeFeed::Consumers() {
  std::vector<ConsumerRow> out;
  Status read = store_->Read("reading change feed consumers", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT name, last_seq, updated_at FROM consumers ORDER BY name");
    while (q.executeStep()) {
      out.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getString()});
    }
  });
  if (!read.ok()) return read;
  return out;
}

Result<int64_t> ChangeFeed::LastSeq() {
  int64_t seq = 0;
  Status read = store_->Read("reading the change feed", [&](SQLite::Database& db) {
    seq = db.execAndGet(kLastSeqSql).getInt64();
  });
  if (!read.ok()) return read;
  return seq;
}

Result<int64_t> ChangeFeed::PruneBatch(TimePoint cutoff, bool drop_unread, int batch) {
  int64_t deleted = 0;
  Status written = store_->Write([&](WriteContext& ctx) {
    // The bound is the change before the first one too young to go (the scan stops there:
    // the feed is in seq order, and what is older was pruned already), and the least read
    // cursor unless drop_unread.
    SQLite::Statement& q = ctx.Prepare(
        "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq <= min("
        "coalesce((SELECT seq - 1 FROM changes WHERE changed_at >= ?1 ORDER BY seq LIMIT 1), "
        "9223372036854775807), "
        "CASE WHEN ?2 THEN 9223372036854775807 ELSE "
        "coalesce((SELECT min(last_seq) FROM consumers), 9223372036854775807) END) "
        "ORDER BY seq LIMIT ?3)");
    q.bind(1, FormatUtc(cutoff));
    q.bind(2, drop_unread ? 1 : 0);
    q.bind(3, batch);
    deleted = q.exec();
  });
  if (!written.ok()) return written;
  return deleted;
}

Result<int64_t> ChangeFeed::Prune(TimePoint cutoff, bool drop_unread, int batch) {
  int64_t total = 0;
  for (;;) {
    auto deleted = PruneBatch(cutoff, drop_unread, batch);
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < batch) return total;
  }
}

}  // namespace graphmirror::store
