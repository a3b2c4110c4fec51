// Store: SharePoint lists (schema/006_sharepoint.sql).

#include <SQLiteCpp/SQLiteCpp.h>

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

}  // namespace

Status ListStore::ApplyChanges(const ListChanges& c) {
  if (c.change_token.empty()) {
    return Status::InvalidArgument("store: a list sync must end at a change token");
  }
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    if (c.replace_all) {
      // Rows the whole read did not return are gone; marked first, swept after upserts.
      ExecForList(ctx, "UPDATE list_items SET synced_at = '' WHERE site = ?1 AND list_id = ?2",
                  c.site, c.list_id);
    }
    SQLite::Statement& upsert = ctx.Prepare(
        "INSERT INTO list_items (site, list_id, item_id, json, created_at, modified_at, "
        "synced_at) VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), NULLIF(?6, ''), ?7) "
        "ON CONFLICT (site, list_id, item_id) DO UPDATE SET json = excluded.json, "
        "created_at = excluded.created_at, modified_at = excluded.modified_at, "
        "synced_at = excluded.synced_at");
    for (const ListItemRow& row : c.upserts) {
      upsert.bind(1, c.site);
      upsert.bind(2, c.list_id);
      upsert.bind(3, row.item_id);
      upsert.bind(4, row.json);
      upsert.bind(5, row.created_at);
      upsert.bind(6, row.modified_at);
      upsert.bind(7, now);
      upsert.exec();
      upsert.reset();
    }
    if (c.replace_all) {
      ExecForList(ctx, "DELETE FROM list_items WHERE site = ?1 AND list_id = ?2 AND synced_at = ''",
                  c.site, c.list_id);
    }
    SQLite::Statement& remove =
        ctx.Prepare("DELETE FROM list_items WHERE site = ?1 AND list_id = ?2 AND item_id = ?3");
    for (int64_t id : c.deletes) {
      remove.bind(1, c.site);
      remove.bind(2, c.list_id);
      remove.bind(3, id);
      remove.exec();
      remove.reset();
    }
    EnsureListState(ctx, c.site, c.list_id);
    SQLite::Statement& state = ctx.Prepare(
        "UPDATE list_state SET change_token = ?3, synced = max(synced, ?4), synced_at = ?5, "
        "full_reads = full_reads + ?6 WHERE site = ?1 AND list_id = ?2");
    state.bind(1, c.site);
    state.bind(2, c.list_id);
    state.bind(3, c.change_token);
    state.bind(4, c.notified_before);
    state.bind(5, now);
    state.bind(6, c.replace_all ? 1 : 0);
    state.exec();
  });
}

Status ListStore::ClearToken(const std::string& site, const std::string& list_id) {
  return store_->Write([&](WriteContext& ctx) {
    EnsureListState(ctx, site, list_id);
    ExecForList(ctx, "UPDATE list_state SET change_token = NULL WHERE site = ?1 AND list_id = ?2",
                site, list_id);
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
  std::vector<ListItemRow> rows;
  Status read = store_->Read("reading list items", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT item_id, json, coalesce(created_at, ''), coalesce(modified_at, '') "
                        "FROM list_items WHERE site = ?1 AND list_id = ?2 ORDER BY item_id");
    q.bind(1, site);
    q.bind(2, list_id);
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
                       WHERE u.site = l.site AND u.list_id = l.list_id), '')
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
      out.push_back(std::move(row));
    }
  });
  if (!read.ok()) return read;
  return out;
}

}  // namespace graphmirror::store
