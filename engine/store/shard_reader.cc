#include "engine/store/shard_reader.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>

#include "engine/store/records.h"

namespace graphmirror::store {
namespace {

// A connection with `shards` attached as p0, p1, ... (by their index in the vector).
std::unique_ptr<SQLite::Database> Attach(const std::vector<ShardPath>& shards) {
  auto db =
      std::make_unique<SQLite::Database>(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->setBusyTimeout(5000);
  for (size_t i = 0; i < shards.size(); ++i) {
    SQLite::Statement attach(*db, "ATTACH DATABASE ? AS s" + std::to_string(i));
    attach.bind(1, shards[i].path);
    attach.exec();
  }
  return db;
}

// SearchMessages' statement over the shard attached as `schema` (?1 the query, ?2 the
// mailbox or '').
std::string SearchArm(const std::string& schema, int partition) {
  return "SELECT " + std::to_string(partition) +
         " AS shard, m.user_id AS user_id, m.id AS id, coalesce(m.received_at, '') AS received,"
         " coalesce(m.from_name, '') AS from_name, coalesce(m.from_address, '') AS from_address,"
         " coalesce(m.subject, '') AS subject, best.snip AS snip, best.r AS r"
         " FROM (SELECT seq, min(r) AS r, snip FROM ("
         "  SELECT messages_fts.rowid AS seq, rank AS r,"
         "   snippet(messages_fts, -1, '[', ']', '...', 12) AS snip"
         "  FROM " +
         schema +
         ".messages_fts WHERE messages_fts MATCH ?1"
         "  UNION ALL"
         "  SELECT m.seq, rank, snippet(message_bodies_fts, 0, '[', ']', '...', 12)"
         "  FROM " +
         schema + ".message_bodies_fts JOIN " + schema +
         ".message_bodies b ON b.rowid = message_bodies_fts.rowid"
         "  JOIN " +
         schema +
         ".messages m ON m.user_id = b.user_id AND m.id = b.id"
         "  WHERE message_bodies_fts MATCH ?1) GROUP BY seq) best"
         " JOIN " +
         schema +
         ".messages m ON m.seq = best.seq"
         " WHERE ?2 = '' OR m.user_id = ?2";
}

template <typename F>
Status ForGroups(const std::vector<ShardPath>& shards, const char* what, F&& fn) {
  for (size_t start = 0; start < shards.size(); start += kShardsPerConnection) {
    const std::vector<ShardPath> group(
        shards.begin() + static_cast<std::ptrdiff_t>(start),
        shards.begin() +
            static_cast<std::ptrdiff_t>(std::min(shards.size(), start + kShardsPerConnection)));
    try {
      auto db = Attach(group);
      fn(*db, group);
    } catch (const std::exception& e) {
      return Status::IOError(std::string(what) + ": " + e.what());
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Message>> SearchShardFiles(const std::vector<ShardPath>& shards,
                                              const std::string& text, const std::string& user_id,
                                              int limit) {
  const std::string query = FullTextQuery(text);
  if (query.empty()) return Status::InvalidArgument("nothing to search for");
  struct Hit {
    double rank = 0;
    Message message;
  };
  std::vector<Hit> hits;
  Status s = ForGroups(shards, "searching the shards",
                       [&](SQLite::Database& db, const std::vector<ShardPath>& group) {
                         std::string sql;
                         for (size_t i = 0; i < group.size(); ++i) {
                           if (i > 0) sql += " UNION ALL ";
                           sql += SearchArm("s" + std::to_string(i), group[i].partition);
                         }
                         sql += " ORDER BY r LIMIT ?3";
                         SQLite::Statement q(db, sql);
                         q.bind(1, query);
                         q.bind(2, user_id);
                         q.bind(3, limit);
                         while (q.executeStep()) {
                           Hit hit;
                           hit.message.user_id = q.getColumn(1).getString();
                           hit.message.id = q.getColumn(2).getString();
                           hit.message.received_at = q.getColumn(3).getString();
                           hit.message.from_name = q.getColumn(4).getString();
                           hit.message.from_address = q.getColumn(5).getString();
                           hit.message.subject = q.getColumn(6).getString();
                           hit.message.body_preview = q.getColumn(7).getString();
                           hit.rank = q.getColumn(8).getDouble();
                           hits.push_back(std::move(hit));
                         }
                       });
  if (!s.ok()) return s;
  std::stable_sort(hits.begin(), hits.end(),
                   [](const Hit& a, const Hit& b) { return a.rank < b.rank; });
  std::vector<Message> out;
  for (size_t i = 0; i < hits.size() && static_cast<int>(i) < limit; ++i) {
    out.push_back(std::move(hits[i].message));
  }
  return out;
}

Result<std::vector<ShardMailboxRow>> ShardMailboxRows(const std::vector<ShardPath>& shards) {
  std::vector<ShardMailboxRow> out;
  Status s = ForGroups(shards, "reading the shards",
                       [&](SQLite::Database& db, const std::vector<ShardPath>& group) {
                         std::string sql;
                         for (size_t i = 0; i < group.size(); ++i) {
                           const std::string schema = "s" + std::to_string(i);
                           if (i > 0) sql += " UNION ALL ";
                           sql += "SELECT " + std::to_string(group[i].partition) +
                                  ", u.user_id,"
                                  " (SELECT count(*) FROM " +
                                  schema +
                                  ".messages WHERE user_id = u.user_id),"
                                  " (SELECT count(*) FROM " +
                                  schema +
                                  ".events WHERE user_id = u.user_id),"
                                  " (SELECT count(*) FROM " +
                                  schema +
                                  ".contacts WHERE user_id = u.user_id)"
                                  " FROM (SELECT DISTINCT user_id FROM " +
                                  schema +
                                  ".messages"
                                  " UNION SELECT user_id FROM " +
                                  schema +
                                  ".events"
                                  " UNION SELECT user_id FROM " +
                                  schema +
                                  ".contacts"
                                  " UNION SELECT user_id FROM " +
                                  schema + ".subscriptions) u";
                         }
                         SQLite::Statement q(db, sql);
                         while (q.executeStep()) {
                           ShardMailboxRow row;
                           row.partition = q.getColumn(0).getInt();
                           row.user_id = q.getColumn(1).getString();
                           row.messages = q.getColumn(2).getInt64();
                           row.events = q.getColumn(3).getInt64();
                           row.contacts = q.getColumn(4).getInt64();
                           out.push_back(std::move(row));
                         }
                       });
  if (!s.ok()) return s;
  std::sort(out.begin(), out.end(), [](const ShardMailboxRow& a, const ShardMailboxRow& b) {
    return a.user_id != b.user_id ? a.user_id < b.user_id : a.partition < b.partition;
  });
  return out;
}

}  // namespace graphmirror::store
