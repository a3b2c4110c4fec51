#include "engine/store/mirror_tables.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cctype>
#include <mutex>
#include <set>

#include "engine/base/resource.h"
#include "engine/store/mirror_writes.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {
namespace {

// Where a lookup by id finds the collection's rows: events are in two tables (series
// masters and single instances; occurrences and exceptions), seen together by the view
// event_rows.
std::string RowsOf(Collection collection) {
  return collection == Collection::kEvents ? "event_rows" : std::string(CollectionName(collection));
}

}  // namespace

std::string FullTextQuery(const std::string& text) {
  std::string query;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) break;
    std::string word = text.substr(i, end - i);
    i = end;
    const bool prefix = word.size() > 1 && word.back() == '*';
    if (prefix) word.pop_back();
    // A quoted string is a phrase of its tokens: FTS5 syntax inside it is plain text.
    std::string quoted = "\"";
    for (char c : word) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    quoted += '"';
    if (prefix) quoted += '*';
    if (!query.empty()) query += ' ';
    query += quoted;
  }
  return query;
}

Result<std::vector<std::string>> MirrorTables::TiedVersions(const std::string& user_id,
                                                            Collection collection,
                                                            const std::vector<MirrorItem>& items) {
  std::vector<std::string> tied;
  if (items.empty()) return tied;
  Status s = store_->Read("reading item versions", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT coalesce(modified_at, ''), coalesce(change_key, '') FROM " +
                                RowsOf(collection) + " WHERE user_id = ?1 AND id = ?2");
    for (const MirrorItem& item : items) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, item.id);
      if (!q.executeStep()) continue;
      if (!item.modified_at.empty() && q.getColumn(0).getString() == item.modified_at &&
          q.getColumn(1).getString() != item.change_key) {
        tied.push_back(item.id);
      }
    }
  });
  if (!s.ok()) return s;
  return tied;
}

Result<std::vector<std::string>> MirrorTables::PassedOver(const std::string& user_id,
                                                          Collection collection,
                                                          const std::vector<MirrorItem>& items) {
  std::vector<std::string> passed;
  if (items.empty()) return passed;
  Status s = store_->Read("reading the last delta pass", [&](SQLite::Database& db) {
    const std::string name(CollectionName(collection));
    // When the last complete delta pass began (Graph's clock). Empty while a round is in
    // progress or none ever completed: no such evidence.
    SQLite::Statement pass(db,
                           "SELECT CASE WHEN count(*) = count(round_started_at) AND "
                           "count(next_link) = 0 THEN min(round_started_at) END FROM delta_links "
                           "WHERE user_id = ?1 AND collection = ?2");
    pass.bind(1, user_id);
    pass.bind(2, name);
    if (!pass.executeStep() || pass.getColumn(0).isNull()) return;
    const std::string pass_start = pass.getColumn(0).getString();
    SQLite::Statement present(
        db, "SELECT 1 FROM " + RowsOf(collection) + " WHERE user_id = ?1 AND id = ?2");
    // An event's pass is a calendarView delta round: compared a day inside the window's
    // edges, as an event in a named zone keeps its wall-clock text (up to 14 hours off
    // UTC); an event without times is not covered.
    SQLite::Statement in_window(
        db,
        "SELECT 1 FROM delta_links WHERE user_id = ?1 AND collection = ?2 AND "
        "julianday(substr(?3, 1, 19)) < julianday(substr(scope, instr(scope, '/') + 1, 19)) - 1 "
        "AND julianday(substr(?4, 1, 19)) > julianday(substr(scope, 1, 19)) + 1 LIMIT 1");
    for (const MirrorItem& item : items) {
      const std::string& version = item.modified_at.empty() ? item.created_at : item.modified_at;
      if (version >= pass_start) continue;
      if (!Describe(collection).scoped_by_folder()) {
        in_window.reset();
        in_window.bind(1, user_id);
        in_window.bind(2, name);
        in_window.bind(3, item.start_at);
        in_window.bind(4, item.end_at);
        if (!in_window.executeStep()) continue;
      }
      present.reset();
      present.bind(1, user_id);
      present.bind(2, item.id);
      if (!present.executeStep()) passed.push_back(item.id);
    }
  });
  if (!s.ok()) return s;
  return passed;
}

Status MirrorTables::ApplyPage(PageWrite page) {
  return store_->Write([page = std::move(page)](WriteContext& ctx) { WritePage(ctx, page); });
}

Status MirrorTables::StartWatermarksFromRows(const std::string& user_id, Collection collection,
                                             const std::string& modified_after) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& newest = ctx.Prepare("SELECT coalesce(max(created_at), '') FROM " +
                                            RowsOf(collection) + " WHERE user_id = ?1");
    newest.bind(1, user_id);
    const std::string created = newest.executeStep() ? newest.getColumn(0).getString() : "";
    newest.reset();
    AdvanceWatermarks(ctx, user_id, collection, created, modified_after,
                      FormatUtc(ctx.clock()->Now()));
  });
}

Result<Watermark> MirrorTables::GetWatermark(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(),
                        "SELECT coalesce(created_after, ''), coalesce(modified_after, '') "
                        "FROM watermarks "
                        "WHERE user_id = ? AND collection = ?");
    q.bind(1, user_id);
    q.bind(2, std::string(CollectionName(collection)));
    Watermark w;
    if (q.executeStep()) {
      w.created_after = q.getColumn(0).getString();
      w.modified_after = q.getColumn(1).getString();
    }
    return w;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading watermark: ") + e.what());
  }
}

Result<int64_t> MirrorTables::CountItems(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(
        store_->read_db(),
        "SELECT count(*) FROM " + std::string(CollectionName(collection)) + " WHERE user_id = ?");
    q.bind(1, user_id);
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("counting items: ") + e.what());
  }
}

Result<std::string> MirrorTables::CreatedAt(const std::string& user_id, Collection collection,
                                            const std::string& id) {
  std::string created;
  Status s = store_->Read("looking up an item", [&](SQLite::Database& db) {
    SQLite::Statement q(
        db, "SELECT created_at FROM " + RowsOf(collection) + " WHERE user_id = ?1 AND id = ?2");
    q.bind(1, user_id);
    q.bind(2, id);
    if (q.executeStep()) created = q.getColumn(0).getString();
  });
  if (!s.ok()) return s;
  return created;
}

Result<std::vector<std::string>> MirrorTables::MissingItems(const std::string& user_id,
                                                            Collection collection,
                                                            const std::vector<std::string>& ids) {
  std::vector<std::string> missing;
  if (ids.empty()) return missing;
  Status s = store_->Read("looking up items", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT 1 FROM " + RowsOf(collection) + " WHERE user_id = ?1 AND id = ?2");
    for (const std::string& id : ids) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, id);
      if (!q.executeStep()) missing.push_back(id);
    }
  });
  if (!s.ok()) return s;
  return missing;
}

Status MirrorTables::ReplaceSeries(const std::string& user_id, const std::string& master_id,
                                   std::vector<MirrorItem> instances) {
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    std::set<std::string> listed;
    for (const MirrorItem& item : instances) {
      UpsertItem(ctx, user_id, Collection::kEvents, item, now);
      listed.insert(item.id);
    }
    SQLite::Statement& held = ctx.Prepare(
        "SELECT id FROM event_occurrences WHERE user_id = ?1 AND series_master_id = ?2");
    held.bind(1, user_id);
    held.bind(2, master_id);
    std::vector<std::string> gone;
    while (held.executeStep()) {
      std::string id = held.getColumn(0).getString();
      if (!listed.count(id)) gone.push_back(std::move(id));
    }
    held.reset();
    for (const std::string& id : gone) DeleteItem(ctx, user_id, Collection::kEvents, id);
  });
}

Result<MirrorTables::SeriesTouched> MirrorTables::TouchedSeries(
    const std::string& user_id, const std::vector<std::string>& ids) {
  SeriesTouched touched;
  if (ids.empty()) return touched;
  Status s = store_->Read("looking up events", [&](SQLite::Database& db) {
    // 'master', 'single' (a row of events that is no master: its type NULL if unsaid), or
    // NULL: an occurrence held, or an id neither table holds.
    SQLite::Statement q(db,
                        "SELECT CASE WHEN type = 'seriesMaster' THEN 'master' ELSE 'single' END "
                        "FROM events WHERE user_id = ?1 AND id = ?2");
    for (const std::string& id : std::set<std::string>(ids.begin(), ids.end())) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, id);
      if (!q.executeStep()) {
        touched.occurrences = true;
      } else if (q.getColumn(0).getString() == "master") {
        touched.masters.push_back(id);
      }
    }
  });
  if (!s.ok()) return s;
  return touched;
}

Result<std::vector<std::string>> MirrorTables::NotHeldAt(
    const std::string& user_id, Collection collection,
    const std::vector<std::pair<std::string, std::string>>& notified) {
  std::vector<std::string> stale;
  if (notified.empty()) return stale;
  Status s = store_->Read("looking up item versions", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT coalesce(change_key, '') FROM " + RowsOf(collection) +
                                " WHERE user_id = ?1 AND id = ?2");
    for (const auto& [id, change_key] : notified) {
      q.reset();
      q.bind(1, user_id);
      q.bind(2, id);
      if (!q.executeStep() || (!change_key.empty() && q.getColumn(0).getString() != change_key)) {
        stale.push_back(id);
      }
    }
  });
  if (!s.ok()) return s;
  return stale;
}

Result<std::vector<std::string>> MirrorTables::ItemIds(const std::string& user_id,
                                                       Collection collection) {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(), "SELECT id FROM " +
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

Result<std::vector<RowVersion>> MirrorTables::Versions(const std::string& user_id,
                                                       const std::string& table) {
  if (table != "messages" && table != "events" && table != "event_occurrences" &&
      table != "contacts") {
    return Status::InvalidArgument("no mirror table '" + table + "'");
  }
  std::vector<RowVersion> versions;
  Status s = store_->Read("listing item versions", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT id, coalesce(change_key, ''), coalesce(modified_at, '') FROM " +
                                table + " WHERE user_id = ? ORDER BY id");
    q.bind(1, user_id);
    while (q.executeStep()) {
      versions.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
    }
  });
  if (!s.ok()) return s;
  return versions;
}

Result<std::vector<CollectionCount>> MirrorTables::Counts() {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(), R"sql(
      WITH keys AS (
        SELECT user_id, 'messages' AS collection FROM messages
        UNION SELECT user_id, 'events' FROM events
        UNION SELECT user_id, 'contacts' FROM contacts
        UNION SELECT user_id, collection FROM watermarks
        UNION SELECT user_id, collection FROM bulk_loads)
      SELECT k.user_id, k.collection,
        CASE k.collection
          WHEN 'messages' THEN (SELECT count(*) FROM messages m WHERE m.user_id = k.user_id)
          WHEN 'events' THEN (SELECT count(*) FROM events e WHERE e.user_id = k.user_id)
          ELSE (SELECT count(*) FROM contacts c WHERE c.user_id = k.user_id) END,
        coalesce(w.created_after, ''), coalesce(w.modified_after, ''),
        coalesce(l.started_at, '')
      FROM keys k LEFT JOIN watermarks w USING (user_id, collection)
        LEFT JOIN bulk_loads l USING (user_id, collection)
      ORDER BY k.user_id, CASE k.collection WHEN 'messages' THEN 0 WHEN 'events' THEN 1 ELSE 2 END)sql");
    std::vector<CollectionCount> out;
    while (q.executeStep()) {
      CollectionCount c;
      c.user_id = q.getColumn(0).getString();
      c.collection = ParseCollection(q.getColumn(1).getString()).value_or(Collection::kMessages);
      c.items = q.getColumn(2).getInt64();
      c.created_after = q.getColumn(3).getString();
      c.modified_after = q.getColumn(4).getString();
      c.loading_since = q.getColumn(5).getString();
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("counting items: ") + e.what());
  }
}

Result<std::vector<BodyCount>> MirrorTables::BodyCounts() {
  std::vector<BodyCount> counts;
  Status s = store_->Read("counting bodies", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, count(*), coalesce(sum(length(CAST(content AS BLOB))), 0) "
                        "FROM message_bodies GROUP BY user_id ORDER BY user_id");
    while (q.executeStep()) {
      counts.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64()});
    }
  });
  if (!s.ok()) return s;
  return counts;
}

Result<std::vector<Message>> MirrorTables::SearchMessages(const std::string& text,
                                                          const std::string& user_id, int limit) {
  const std::string query = FullTextQuery(text);
  if (query.empty()) return Status::InvalidArgument("nothing to search for");
  std::vector<Message> hits;
  Status s = store_->Read("searching messages", [&](SQLite::Database& db) {
    // Matches in the subject, sender and preview, or in the body; a message matched both
    // ways shows its better one (SQLite takes the bare column from the min() row).
    SQLite::Statement q(
        db,
        "WITH hits AS ("
        " SELECT messages_fts.rowid AS seq, rank AS r,"
        "  snippet(messages_fts, -1, '[', ']', '...', 12) AS snip"
        " FROM messages_fts WHERE messages_fts MATCH ?1"
        " UNION ALL"
        " SELECT m.seq, rank, snippet(message_bodies_fts, 0, '[', ']', '...', 12)"
        " FROM message_bodies_fts JOIN message_bodies b ON b.rowid = message_bodies_fts.rowid"
        " JOIN messages m ON m.user_id = b.user_id AND m.id = b.id"
        " WHERE message_bodies_fts MATCH ?1),"
        " best AS (SELECT seq, min(r) AS r, snip FROM hits GROUP BY seq)"
        "SELECT m.user_id, m.id, coalesce(m.received_at, ''), coalesce(m.from_name, ''),"
        " coalesce(m.from_address, ''), coalesce(m.subject, ''), best.snip "
        "FROM best JOIN messages m ON m.seq = best.seq "
        "WHERE ?2 = '' OR m.user_id = ?2 ORDER BY best.r LIMIT ?3");
    q.bind(1, query);
    q.bind(2, user_id);
    q.bind(3, limit);
    while (q.executeStep()) {
      Message hit;
      hit.user_id = q.getColumn(0).getString();
      hit.id = q.getColumn(1).getString();
      hit.received_at = q.getColumn(2).getString();
      hit.from_name = q.getColumn(3).getString();
      hit.from_address = q.getColumn(4).getString();
      hit.subject = q.getColumn(5).getString();
      hit.body_preview = q.getColumn(6).getString();
      hits.push_back(std::move(hit));
    }
  });
  if (!s.ok()) return s;
  return hits;
}

}  // namespace graphmirror::store
