// Store: SharePoint lists (schema/006_sharepoint.sql).

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>

#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

namespace {

// Runs `sql`, whose ?1 and ?2 are the site and the list, once.
void ExecForList(WriteContext& ctx, const char* sql, const std::string& site,
                 const std::string& list_id) {
  SQLite::Statement& s = ctx.Prepare(sql);
  s.bind(1, site);
  s.bind(2, list_id);
  s.exec();
}

void EnsureListState(WriteContext& ctx, const std::string& site, const std::string& list_id) {
  ExecForList(ctx, "INSERT INTO list_state (site, list_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
              site, list_id);
}

// Upserts `rows` of (site, list) marked with `generation`, or with the list's current read
// generation if none is given (a batch of changes between whole reads).
void UpsertItems(WriteContext& ctx, const std::string& site, const std::string& list_id,
                 const std::vector<ListItemRow>& rows, const std::string& now,
                 std::optional<int64_t> generation) {
  // A row whose JSON is unchanged only gets its stamps (the whole read's sweep needs the
  // generation): it is no change for the observer, as it is none for the change feed.
  SQLite::Statement& same = ctx.Prepare(
      "UPDATE list_items SET synced_at = ?4, read_generation = coalesce(?5, (SELECT "
      "read_generation FROM list_state WHERE site = ?1 AND list_id = ?2), 0) WHERE site = ?1 "
      "AND list_id = ?2 AND item_id = ?3 AND json = ?6");
  SQLite::Statement& upsert = ctx.Prepare(
      "INSERT INTO list_items (site, list_id, item_id, json, created_at, modified_at, "
      "synced_at, read_generation) VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), NULLIF(?6, ''), ?7, "
      "coalesce(?8, (SELECT read_generation FROM list_state WHERE site = ?1 AND list_id = ?2), "
      "0)) ON CONFLICT (site, list_id, item_id) DO UPDATE SET json = excluded.json, "
      "created_at = excluded.created_at, modified_at = excluded.modified_at, "
      "synced_at = excluded.synced_at, read_generation = excluded.read_generation");
  for (const ListItemRow& row : rows) {
    same.bind(1, site);
    same.bind(2, list_id);
    same.bind(3, row.item_id);
    same.bind(4, now);
    if (generation) {
      same.bind(5, *generation);
    } else {
      same.bind(5);
    }
    same.bind(6, row.json);
    const int unchanged = same.exec();
    same.reset();
    if (unchanged > 0) continue;
    upsert.bind(1, site);
    upsert.bind(2, list_id);
    upsert.bind(3, row.item_id);
    upsert.bind(4, row.json);
    upsert.bind(5, row.created_at);
    upsert.bind(6, row.modified_at);
    upsert.bind(7, now);
    if (generation) {
      upsert.bind(8, *generation);
    } else {
      upsert.bind(8);
    }
    upsert.exec();
    upsert.reset();
    ctx.changes().push_back(
        {"", Collection::kMessages, std::to_string(row.item_id), false, site, list_id});
  }
}

// Adds to the list's counters; rows written or removed also stamp last_change_at.
void Count(WriteContext& ctx, const std::string& site, const std::string& list_id,
           const std::string& now, int64_t changes_read, int64_t written, int64_t removed,
           int64_t requests) {
  SQLite::Statement& count = ctx.Prepare(
      "UPDATE list_state SET changes_read = changes_read + ?3, items_written = items_written + "
      "?4, items_removed = items_removed + ?5, requests = requests + ?6, last_change_at = "
      "CASE WHEN ?4 + ?5 > 0 THEN ?7 ELSE last_change_at END WHERE site = ?1 AND list_id = ?2");
  count.bind(1, site);
  count.bind(2, list_id);
  count.bind(3, changes_read);
  count.bind(4, written);
  count.bind(5, removed);
  count.bind(6, requests);
  count.bind(7, now);
  count.exec();
}

// The sync ended at `token`: stored with its time, the notifications it covers, a
// successful sync counted and the last error cleared.
void EndSync(WriteContext& ctx, const std::string& site, const std::string& list_id,
             const std::string& now, const std::string& token, int64_t notified_before,
             bool whole_read) {
  SQLite::Statement& state = ctx.Prepare(
      "UPDATE list_state SET change_token = ?3, token_at = CASE WHEN change_token IS ?3 THEN "
      "token_at ELSE ?5 END, synced = max(synced, ?4), synced_at = ?5, full_reads = "
      "full_reads + ?6, syncs = syncs + 1, last_error = NULL, last_error_at = NULL "
      "WHERE site = ?1 AND list_id = ?2");
  state.bind(1, site);
  state.bind(2, list_id);
  state.bind(3, token);
  state.bind(4, notified_before);
  state.bind(5, now);
  state.bind(6, whole_read ? 1 : 0);
  state.exec();
}

}  // namespace

Status ListStore::ApplyChanges(const ListChanges& c) {
  if (c.change_token.empty()) {
    return Status::InvalidArgument("store: a list sync must end at a change token");
  }
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    EnsureListState(ctx, c.site, c.list_id);
    UpsertItems(ctx, c.site, c.list_id, c.upserts, now, std::nullopt);
    SQLite::Statement& remove =
        ctx.Prepare("DELETE FROM list_items WHERE site = ?1 AND list_id = ?2 AND item_id = ?3");
    int64_t removed = 0;
    for (int64_t id : c.deletes) {
      remove.bind(1, c.site);
      remove.bind(2, c.list_id);
      remove.bind(3, id);
      if (remove.exec() > 0) {
        ++removed;
        ctx.changes().push_back(
            {"", Collection::kMessages, std::to_string(id), true, c.site, c.list_id});
      }
      remove.reset();
    }
    Count(ctx, c.site, c.list_id, now, c.changes_read, static_cast<int64_t>(c.upserts.size()),
          removed, c.requests);
    EndSync(ctx, c.site, c.list_id, now, c.change_token, c.notified_before, false);
  });
}

Result<int64_t> ListStore::BeginWholeRead(const std::string& site, const std::string& list_id) {
  int64_t generation = 0;
  Status written = store_->Write([&](WriteContext& ctx) {
    EnsureListState(ctx, site, list_id);
    SQLite::Statement& next = ctx.Prepare(
        "UPDATE list_state SET change_token = NULL, token_at = NULL, read_generation = "
        "read_generation + 1 WHERE site = ?1 AND list_id = ?2 RETURNING read_generation");
    next.bind(1, site);
    next.bind(2, list_id);
    if (next.executeStep()) generation = next.getColumn(0).getInt64();
    next.reset();
  });
  if (!written.ok()) return written;
  return generation;
}

Status ListStore::WriteWholeReadPage(const ListPage& page) {
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    EnsureListState(ctx, page.site, page.list_id);
    UpsertItems(ctx, page.site, page.list_id, page.rows, now, page.generation);
    Count(ctx, page.site, page.list_id, now, 0, static_cast<int64_t>(page.rows.size()), 0,
          page.requests);
  });
}

Status ListStore::FinishWholeRead(const std::string& site, const std::string& list_id,
                                  int64_t generation, const std::string& change_token,
                                  int64_t notified_before, int64_t requests) {
  if (change_token.empty()) {
    return Status::InvalidArgument("store: a list sync must end at a change token");
  }
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    EnsureListState(ctx, site, list_id);
    // Rows the read did not return are gone from the list.
    SQLite::Statement& sweep = ctx.Prepare(
        "DELETE FROM list_items WHERE site = ?1 AND list_id = ?2 AND read_generation < ?3 "
        "RETURNING item_id");
    sweep.bind(1, site);
    sweep.bind(2, list_id);
    sweep.bind(3, generation);
    int64_t removed = 0;
    while (sweep.executeStep()) {
      ++removed;
      ctx.changes().push_back({"", Collection::kMessages,
                               std::to_string(sweep.getColumn(0).getInt64()), true, site, list_id});
    }
    sweep.reset();
    Count(ctx, site, list_id, now, 0, 0, removed, requests);
    EndSync(ctx, site, list_id, now, change_token, notified_before, true);
  });
}

Status ListStore::NoteError(const std::string& site, const std::string& list_id,
                            const std::string& error, bool subscription) {
  return store_->Write([&](WriteContext& ctx) {
    EnsureListState(ctx, site, list_id);
    SQLite::Statement& note = ctx.Prepare(
        subscription
            ? "UPDATE list_state SET subscription_error = NULLIF(?3, '') WHERE site = ?1 AND "
              "list_id = ?2"
            : "UPDATE list_state SET last_error = ?3, last_error_at = ?4, sync_failures = "
              "sync_failures + 1 WHERE site = ?1 AND list_id = ?2");
    note.bind(1, site);
    note.bind(2, list_id);
    note.bind(3, error);
    if (!subscription) note.bind(4, FormatUtc(ctx.clock()->Now()));
    note.exec();
    note.reset();
  });
}

Status ListStore::NoteNotified(const std::vector<std::pair<std::string, std::string>>& lists,
                               TimePoint deadline) {
  return store_->WriteBefore(
      [&](WriteContext& ctx) {
        for (const auto& [site, list_id] : lists) {
          EnsureListState(ctx, site, list_id);
          ExecForList(ctx,
                      "UPDATE list_state SET notified = notified + 1 WHERE site = ?1 AND "
                      "list_id = ?2",
                      site, list_id);
        }
      },
      deadline);
}

Result<ListState> ListStore::State(const std::string& site, const std::string& list_id) {
  ListState state;
  state.site = site;
  state.list_id = list_id;
  Status read = store_->Read("reading list state", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT coalesce(change_token, ''), notified, synced, full_reads "
                        "FROM list_state WHERE site = ?1 AND list_id = ?2");
    q.bind(1, site);
    q.bind(2, list_id);
    if (q.executeStep()) {
      state.change_token = q.getColumn(0).getString();
      state.notified = q.getColumn(1).getInt64();
      state.synced = q.getColumn(2).getInt64();
      state.full_reads = q.getColumn(3).getInt64();
    }
  });
  if (!read.ok()) return read;
  return state;
}

Result<std::vector<ListItemRow>> ListStore::Items(const std::string& site,
                                                  const std::string& list_id) {
  return Items(site, list_id, std::numeric_limits<int64_t>::min(), -1);  // LIMIT -1: all
}

Result<std::vector<ListItemRow>> ListStore::Items(const std::string& site,
                                                  const std::string& list_id, int64_t after_item_id,
                                                  int64_t limit) {
  std::vector<ListItemRow> rows;
  Status read = store_->Read("reading list items", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT item_id, json, coalesce(created_at, ''), coalesce(modified_at, '') "
                        "FROM list_items WHERE site = ?1 AND list_id = ?2 AND item_id > ?3 "
                        "ORDER BY item_id LIMIT ?4");
    q.bind(1, site);
    q.bind(2, list_id);
    q.bind(3, after_item_id);
    q.bind(4, limit);
    while (q.executeStep()) {
      rows.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                      q.getColumn(2).getString(), q.getColumn(3).getString()});
    }
  });
  if (!read.ok()) return read;
  return rows;
}

Status ListStore::PutSubscription(const ListSubscriptionRecord& r) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& s = ctx.Prepare(
        "INSERT INTO list_subscriptions (id, site, list_id, client_state, notification_url, "
        "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET "
        "client_state = excluded.client_state, notification_url = excluded.notification_url, "
        "expires_at = excluded.expires_at");
    s.bind(1, r.id);
    s.bind(2, r.site);
    s.bind(3, r.list_id);
    s.bind(4, r.client_state);
    s.bind(5, r.notification_url);
    s.bind(6, r.expires_at);
    s.exec();
  });
}

Status ListStore::DeleteSubscription(const std::string& id) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& s = ctx.Prepare("DELETE FROM list_subscriptions WHERE id = ?1");
    s.bind(1, id);
    s.exec();
  });
}

Result<std::vector<ListSubscriptionRecord>> ListStore::Subscriptions() {
  std::vector<ListSubscriptionRecord> out;
  Status read = store_->Read("reading list subscriptions", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT id, site, list_id, client_state, notification_url, expires_at "
                        "FROM list_subscriptions ORDER BY site, list_id, expires_at");
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                     q.getColumn(2).getString(), q.getColumn(3).getString(),
                     q.getColumn(4).getString(), q.getColumn(5).getString()});
    }
  });
  if (!read.ok()) return read;
  return out;
}

Result<std::vector<ListStatusRow>> ListStore::Statuses() {
  std::vector<ListStatusRow> out;
  Status read = store_->Read("reading list status", [&](SQLite::Database& db) {
    SQLite::Statement q(db, R"sql(
      WITH lists AS (
        SELECT site, list_id FROM list_state
        UNION SELECT DISTINCT site, list_id FROM list_items
        UNION SELECT site, list_id FROM list_subscriptions)
      SELECT l.site, l.list_id,
             (SELECT count(*) FROM list_items i WHERE i.site = l.site AND i.list_id = l.list_id),
             coalesce(s.synced_at, ''), coalesce(s.full_reads, 0),
             coalesce(s.notified - s.synced, 0), s.change_token IS NOT NULL,
             coalesce((SELECT max(expires_at) FROM list_subscriptions u
                       WHERE u.site = l.site AND u.list_id = l.list_id), ''),
             coalesce(s.token_at, ''), coalesce(s.last_change_at, ''),
             coalesce(s.last_error, ''), coalesce(s.last_error_at, ''),
             coalesce(s.subscription_error, ''), coalesce(s.notified, 0),
             coalesce(s.syncs, 0), coalesce(s.sync_failures, 0), coalesce(s.changes_read, 0),
             coalesce(s.items_written, 0), coalesce(s.items_removed, 0),
             coalesce(s.requests, 0)
      FROM lists l LEFT JOIN list_state s ON s.site = l.site AND s.list_id = l.list_id
      ORDER BY l.site, l.list_id)sql");
    while (q.executeStep()) {
      ListStatusRow row;
      row.site = q.getColumn(0).getString();
      row.list_id = q.getColumn(1).getString();
      row.items = q.getColumn(2).getInt64();
      row.synced_at = q.getColumn(3).getString();
      row.full_reads = q.getColumn(4).getInt64();
      row.pending = q.getColumn(5).getInt64();
      row.has_token = q.getColumn(6).getInt() != 0;
      row.subscription_expires = q.getColumn(7).getString();
      row.token_at = q.getColumn(8).getString();
      row.last_change_at = q.getColumn(9).getString();
      row.last_error = q.getColumn(10).getString();
      row.last_error_at = q.getColumn(11).getString();
      row.subscription_error = q.getColumn(12).getString();
      row.notified = q.getColumn(13).getInt64();
      row.syncs = q.getColumn(14).getInt64();
      row.sync_failures = q.getColumn(15).getInt64();
      row.changes_read = q.getColumn(16).getInt64();
      row.items_written = q.getColumn(17).getInt64();
      row.items_removed = q.getColumn(18).getInt64();
      row.requests = q.getColumn(19).getInt64();
      out.push_back(std::move(row));
    }
  });
  if (!read.ok()) return read;
  return out;
}

}  // namespace graphmirror::store
