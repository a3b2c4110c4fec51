// The Store's bookkeeping of recovery: delta rounds (links, the sweep of fresh rounds,
// queued removals) and the per-collection sync status. Tables: schema/003_recovery.sql.

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>

#include "engine/base/resource.h"
#include "engine/store/bulk_load.h"
#include "engine/store/mirror_writes.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {
namespace {

std::string Name(Collection c) { return std::string(CollectionName(c)); }

}  // namespace

namespace {

// Rows no delta round lists: calendarView never lists series masters.
constexpr char kNotSeriesMaster[] = " AND t.type IS NOT 'seriesMaster'";

}  // namespace

std::string_view DeltaScopeCondition(DeltaScopeKind kind) {
  switch (kind) {
    case DeltaScopeKind::kMailFolders:
      return " AND t.folder_id = ?3";
    case DeltaScopeKind::kContactFolders:
      // A row without a folder (stored before contacts had folders) is in the first folder
      // whose fresh round does not list it.
      return " AND (t.folder_id = ?3 OR t.folder_id IS NULL)";
    case DeltaScopeKind::kCalendarWindow:
      // The rows overlapping the window "{start}/{end}" (rows without times too), but for
      // series masters, which calendarView never lists.
      static const std::string kWindow =
          std::string(
              " AND (t.start_at IS NULL OR t.start_at < substr(?3, instr(?3, '/') + 1))"
              " AND (t.end_at IS NULL OR t.end_at > substr(?3, 1, instr(?3, '/') - 1))") +
          kNotSeriesMaster;
      return kWindow;
  }
  return " AND 0";
}

namespace {

// Queues for removal every row of the scope that the fresh round ending now did not list.
void QueueUnlisted(WriteContext& ctx, const std::string& user_id, Collection collection,
                   const std::string& scope) {
  const std::string table = Name(collection);
  const std::string in_scope(DeltaScopeCondition(Describe(collection).delta_scope));
  SQLite::Statement& q = ctx.Prepare(
      "INSERT OR IGNORE INTO delta_removals (user_id, collection, item_id, scope) "
      "SELECT ?1, ?2, t.id, ?3 FROM " +
      table + " t WHERE t.user_id = ?1" + in_scope +
      " AND NOT EXISTS (SELECT 1 FROM delta_seen s WHERE s.user_id = ?1 AND s.collection = ?2 "
      "AND s.scope = ?3 AND s.item_id = t.id)");
  q.bind(1, user_id);
  q.bind(2, table);
  q.bind(3, scope);
  q.exec();
}

void ForgetSeen(WriteContext& ctx, const std::string& user_id, Collection collection,
                const std::string& scope) {
  SQLite::Statement& q =
      ctx.Prepare("DELETE FROM delta_seen WHERE user_id = ?1 AND collection = ?2 AND scope = ?3");
  q.bind(1, user_id);
  q.bind(2, Name(collection));
  q.bind(3, scope);
  q.exec();
}

// Deletes the occurrence `id` if the mirror holds one and returns its series' master;
// nullopt if it holds none.
std::optional<std::string> DropOccurrence(WriteContext& ctx, const std::string& user_id,
                                          const std::string& id) {
  SQLite::Statement& q = ctx.Prepare(
      "DELETE FROM event_occurrences WHERE user_id = ?1 AND id = ?2 RETURNING series_master_id");
  q.bind(1, user_id);
  q.bind(2, id);
  std::optional<std::string> master;
  while (q.executeStep()) master = q.getColumn(0).getString();
  if (master) ctx.changes().push_back({user_id, Collection::kEvents, id, true, {}, {}});
  return master;
}

// A fresh calendar round lists every occurrence in its window: the ones it did not list
// are cancelled or outside the window, and leave the mirror.
void DropUnlistedOccurrences(WriteContext& ctx, const DeltaPageWrite& page) {
  SQLite::Statement& q = ctx.Prepare(
      "DELETE FROM event_occurrences AS t WHERE t.user_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
      "delta_seen s WHERE s.user_id = ?1 AND s.collection = 'events' AND s.scope = ?2 AND "
      "s.item_id = t.id) RETURNING id");
  q.bind(1, page.user_id);
  q.bind(2, page.scope);
  while (q.executeStep()) {
    ctx.changes().push_back(
        {page.user_id, Collection::kEvents, q.getColumn(0).getString(), true, {}, {}});
  }
}

void WriteDeltaPage(WriteContext& ctx, const DeltaPageWrite& page) {
  const std::string now = FormatUtc(ctx.clock()->Now());
  const std::string collection = Name(page.collection);
  if (page.first_page && page.fresh) ForgetSeen(ctx, page.user_id, page.collection, page.scope);
  // A fresh round sweeps at its end the rows of its scope it did not list, by the ids it
  // saw. A load's round (messages, contacts) does not: the mailbox held none of their rows
  // when it began, the round writes each one it lists, and what else writes rows meanwhile
  // queues them for a check (QueueIfLoading). The sweep scanned every row of the mailbox
  // per folder while the load's indexes were dropped: a tenth of a first sync's writer time.
  const bool sweeps = page.fresh && !(Describe(page.collection).scoped_by_folder() &&
                                      LoadOpen(ctx, page.user_id, page.collection));

  SQLite::Statement& unqueue = ctx.Prepare(
      "DELETE FROM delta_removals WHERE user_id = ?1 AND collection = ?2 AND item_id = ?3");
  SQLite::Statement& seen = ctx.Prepare(
      "INSERT OR IGNORE INTO delta_seen (user_id, collection, scope, item_id) "
      "VALUES (?1, ?2, ?3, ?4)");
  for (const MirrorItem& item : page.upserts) {
    UpsertItem(ctx, page.user_id, page.collection, item, now);
    // Present now, wherever it was reported gone from before (a move back, a replay).
    unqueue.reset();
    unqueue.bind(1, page.user_id);
    unqueue.bind(2, collection);
    unqueue.bind(3, item.id);
    unqueue.exec();
    if (sweeps) {
      seen.reset();
      seen.bind(1, page.user_id);
      seen.bind(2, collection);
      seen.bind(3, page.scope);
      seen.bind(4, item.id);
      seen.exec();
    }
  }
  // Only rows the mirror holds are queued: there is nothing else to remove (calendarView
  // delta reports every event changed outside its window as removed, the occurrences of a
  // new series included).
  SQLite::Statement& queue = ctx.Prepare(
      "INSERT OR IGNORE INTO delta_removals (user_id, collection, item_id, scope) "
      "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM " +
      collection + " WHERE user_id = ?1 AND id = ?3)");
  auto enqueue = [&](const std::string& id) {
    queue.reset();
    queue.bind(1, page.user_id);
    queue.bind(2, collection);
    queue.bind(3, id);
    queue.bind(4, page.scope);
    queue.exec();
  };
  for (const std::string& id : page.removed_ids) {
    // An occurrence reported removed is cancelled, or out of the window: either way it goes
    // at once (occurrences are not checked by id). Its master is checked instead: a series
    // deleted while its notification was lost has no other word (calendarView never lists
    // masters).
    if (page.collection == Collection::kEvents) {
      if (auto master = DropOccurrence(ctx, page.user_id, id)) {
        enqueue(*master);
        continue;
      }
    }
    enqueue(id);
  }

  const bool ended = !page.delta_link.empty();
  if (ended && sweeps) {
    QueueUnlisted(ctx, page.user_id, page.collection, page.scope);
    if (page.collection == Collection::kEvents) DropUnlistedOccurrences(ctx, page);
    ForgetSeen(ctx, page.user_id, page.collection, page.scope);
  }
  SQLite::Statement& link = ctx.Prepare(
      "INSERT INTO delta_links (user_id, collection, scope, delta_link, next_link, fresh, "
      "round_started_at, updated_at) VALUES (?1, ?2, ?3, NULLIF(?4, ''), NULLIF(?5, ''), ?6, "
      "NULLIF(?7, ''), ?8) "
      "ON CONFLICT (user_id, collection, scope) DO UPDATE SET "
      "delta_link = coalesce(excluded.delta_link, delta_link), next_link = excluded.next_link, "
      "fresh = excluded.fresh, "
      "round_started_at = coalesce(excluded.round_started_at, round_started_at), "
      "updated_at = excluded.updated_at");
  link.bind(1, page.user_id);
  link.bind(2, collection);
  link.bind(3, page.scope);
  link.bind(4, page.delta_link);
  link.bind(5, ended ? std::string() : page.next_link);
  link.bind(6, !ended && page.fresh ? 1 : 0);
  link.bind(7, page.first_page ? page.round_started_at : std::string());
  link.bind(8, now);
  link.exec();
  if (page.first_page && page.fresh && !ended) {
    // A fresh round replaces whatever link the scope had: until it ends there is none.
    // (A round of one page ends with its own link, written above.)
    SQLite::Statement& clear = ctx.Prepare(
        "UPDATE delta_links SET delta_link = NULL WHERE user_id = ?1 AND collection = ?2 AND "
        "scope = ?3");
    clear.bind(1, page.user_id);
    clear.bind(2, collection);
    clear.bind(3, page.scope);
    clear.exec();
  }
}

// SQL condition on row `t` and queued removal `r`: a message or contact is still in the
// folder the removal names (events have one scope). Rows queued for a check (scope '')
// are always "still there" for this purpose.
std::string StillInScope(Collection collection) {
  return Describe(collection).scoped_by_folder()
             ? " AND (r.scope = '' OR t.folder_id IS NULL OR t.folder_id = r.scope)"
             : "";
}

// The queued removals that may be done now (see Store::EndDeltaPass). A row changed in
// the hour before its round began may be unlisted only because Graph's lists did not show
// it yet (they can lag its notification, which may have written the row): it is left for
// the caller to check by id.
std::vector<std::string> DueRemovals(WriteContext& ctx, const std::string& user_id,
                                     Collection collection) {
  const std::string table = Name(collection);
  const std::string same_folder = StillInScope(collection);
  SQLite::Statement& q = ctx.Prepare(
      "SELECT DISTINCT r.item_id FROM delta_removals r JOIN " + table +
      " t ON t.user_id = r.user_id AND t.id = r.item_id "
      "LEFT JOIN delta_links l ON l.user_id = r.user_id AND l.collection = r.collection AND "
      "l.scope = r.scope WHERE r.user_id = ?1 AND r.collection = ?2 AND r.scope <> ''" +
      same_folder +
      " AND (t.modified_at IS NULL OR l.round_started_at IS NULL OR "
      "julianday(substr(t.modified_at, 1, 19)) < "
      "julianday(substr(l.round_started_at, 1, 19)) - 1.0 / 24)");
  q.bind(1, user_id);
  q.bind(2, table);
  std::vector<std::string> ids;
  while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  return ids;
}

// Sets columns of the (user, collection) row of sync_status, creating the row if needed.
// `set` is the SET clause with the values as ?3, ?4, ...
void UpdateStatus(WriteContext& ctx, const std::string& user_id, Collection collection,
                  const std::string& set, const std::vector<std::string>& values) {
  SQLite::Statement& insert =
      ctx.Prepare("INSERT OR IGNORE INTO sync_status (user_id, collection) VALUES (?1, ?2)");
  insert.bind(1, user_id);
  insert.bind(2, Name(collection));
  insert.exec();
  SQLite::Statement& update =
      ctx.Prepare("UPDATE sync_status SET " + set + " WHERE user_id = ?1 AND collection = ?2");
  update.bind(1, user_id);
  update.bind(2, Name(collection));
  for (size_t i = 0; i < values.size(); ++i) update.bind(static_cast<int>(i) + 3, values[i]);
  update.exec();
}

std::string Text(SQLite::Statement& q, int column) {
  return q.getColumn(column).isNull() ? std::string() : q.getColumn(column).getString();
}

}  // namespace

Result<std::vector<DeltaScope>> SyncState::DeltaScopes(const std::string& user_id,
                                                       Collection collection) {
  std::vector<DeltaScope> out;
  Status s = store_->Read("reading delta links", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT scope, coalesce(delta_link, ''), coalesce(next_link, ''), fresh, "
                        "coalesce(round_started_at, '') FROM delta_links "
                        "WHERE user_id = ?1 AND collection = ?2 ORDER BY scope");
    q.bind(1, user_id);
    q.bind(2, Name(collection));
    while (q.executeStep()) {
      DeltaScope d;
      d.scope = q.getColumn(0).getString();
      d.delta_link = q.getColumn(1).getString();
      d.next_link = q.getColumn(2).getString();
      d.fresh = q.getColumn(3).getInt() != 0;
      d.round_started_at = q.getColumn(4).getString();
      out.push_back(std::move(d));
    }
  });
  if (!s.ok()) return s;
  return out;
}

Status SyncState::ApplyDeltaPage(DeltaPageWrite page) {
  return store_->Write([page = std::move(page)](WriteContext& ctx) { WriteDeltaPage(ctx, page); });
}

Status SyncState::ForgetDeltaScope(const std::string& user_id, Collection collection,
                                   const std::string& scope, bool sweep_rows) {
  return store_->Write([&](WriteContext& ctx) {
    if (sweep_rows) {
      // Nothing of the scope was seen: every row in it is queued.
      ForgetSeen(ctx, user_id, collection, scope);
      QueueUnlisted(ctx, user_id, collection, scope);
    }
    ForgetSeen(ctx, user_id, collection, scope);
    SQLite::Statement& q = ctx.Prepare(
        "DELETE FROM delta_links WHERE user_id = ?1 AND collection = ?2 AND scope = ?3");
    q.bind(1, user_id);
    q.bind(2, Name(collection));
    q.bind(3, scope);
    q.exec();
  });
}

Result<std::vector<DeltaRemoval>> SyncState::DeltaRemovals(const std::string& user_id,
                                                           Collection collection) {
  std::vector<DeltaRemoval> out;
  Status s = store_->Read("reading delta removals", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT item_id, scope FROM delta_removals WHERE user_id = ?1 AND "
                        "collection = ?2 ORDER BY item_id, scope");
    q.bind(1, user_id);
    q.bind(2, Name(collection));
    while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getString()});
  });
  if (!s.ok()) return s;
  return out;
}

Status SyncState::QueueForCheck(const std::string& user_id, Collection collection,
                                const std::vector<std::string>& item_ids) {
  if (item_ids.empty()) return Status::Ok();
  return store_->Write([&](WriteContext& ctx) {
    for (const std::string& id : item_ids) QueueCheck(ctx, user_id, collection, id);
  });
}

Result<std::vector<std::string>> MirrorTables::IdsSince(const std::string& user_id,
                                                        Collection collection, const char* column,
                                                        const std::string& folder_id,
                                                        const std::string& since,
                                                        const char* condition) {
  std::vector<std::string> ids;
  Status s = store_->Read("reading recent rows", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT id FROM " + Name(collection) + " t WHERE user_id = ?1 AND " +
                                column + " >= ?2" +
                                (folder_id.empty() ? "" : " AND folder_id = ?3") + condition);
    q.bind(1, user_id);
    q.bind(2, since);
    if (!folder_id.empty()) q.bind(3, folder_id);
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  });
  if (!s.ok()) return s;
  return ids;
}

Result<std::vector<std::string>> MirrorTables::CreatedSince(const std::string& user_id,
                                                            Collection collection,
                                                            const std::string& folder_id,
                                                            const std::string& since) {
  return IdsSince(user_id, collection, "created_at", folder_id, since,
                  collection == Collection::kEvents ? kNotSeriesMaster : "");
}

Result<std::vector<std::string>> MirrorTables::ModifiedSince(const std::string& user_id,
                                                             Collection collection,
                                                             const std::string& since) {
  return IdsSince(user_id, collection, "modified_at", "", since, "");
}

Result<std::vector<std::string>> MirrorTables::MessagesWithoutBody(const std::string& user_id) {
  std::vector<std::string> ids;
  if (!store_->KeepBodies()) return ids;
  Status s = store_->Read("reading messages without a body", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT m.id FROM messages m LEFT JOIN message_bodies b "
                        "ON b.user_id = m.user_id AND b.id = m.id WHERE m.user_id = ?1 AND "
                        "(b.id IS NULL OR b.modified_at IS NOT m.modified_at)");
    q.bind(1, user_id);
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  });
  if (!s.ok()) return s;
  return ids;
}

Result<bool> SyncState::ApplyScope(const std::string& user_id, Collection collection,
                                   const std::string& signature) {
  bool reset = false;
  Status s = store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& stored =
        ctx.Prepare("SELECT scope FROM mirror_scopes WHERE user_id = ?1 AND collection = ?2");
    stored.bind(1, user_id);
    stored.bind(2, Name(collection));
    const bool had = stored.executeStep();
    const std::string previous = had ? stored.getColumn(0).getString() : "";
    stored.reset();
    if (previous == signature) return;
    // Bodies and contact addresses go with their rows (triggers, foreign keys).
    int dropped_rows = 0;
    for (const char* table : {"", "watermarks", "delta_links", "delta_seen", "delta_removals"}) {
      const bool items = *table == '\0';
      SQLite::Statement& drop =
          ctx.Prepare("DELETE FROM " + (items ? Name(collection) : std::string(table)) +
                      " WHERE user_id = ?1" + (items ? "" : " AND collection = ?2"));
      drop.bind(1, user_id);
      if (!items) drop.bind(2, Name(collection));
      const int changed = drop.exec();
      if (items) dropped_rows = changed;
      drop.reset();
    }
    if (collection == Collection::kEvents) {
      SQLite::Statement& drop = ctx.Prepare("DELETE FROM event_occurrences WHERE user_id = ?1");
      drop.bind(1, user_id);
      dropped_rows += drop.exec();
    }
    // A first scoped start of a new mirror drops nothing and is no change of scope.
    reset = had || dropped_rows > 0;
    SQLite::Statement& put = ctx.Prepare(
        "INSERT INTO mirror_scopes (user_id, collection, scope) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (user_id, collection) DO UPDATE SET scope = excluded.scope");
    put.bind(1, user_id);
    put.bind(2, Name(collection));
    put.bind(3, signature);
    put.exec();
  });
  if (!s.ok()) return s;
  return reset;
}

Result<int64_t> SyncState::EndDeltaPass(const std::string& user_id, Collection collection,
                                        const std::vector<DeltaPageWrite>& pages,
                                        const PageWrite* verified) {
  int64_t removed = 0;
  Status s = store_->Write([&](WriteContext& ctx) {
    for (const DeltaPageWrite& page : pages) WriteDeltaPage(ctx, page);
    const std::string table = Name(collection);
    if (verified != nullptr) {
      WritePage(ctx, *verified);
      removed = static_cast<int64_t>(verified->deletes.size());
      SQLite::Statement& all =
          ctx.Prepare("DELETE FROM delta_removals WHERE user_id = ?1 AND collection = ?2");
      all.bind(1, user_id);
      all.bind(2, table);
      all.exec();
      return;
    }
    for (const std::string& id : DueRemovals(ctx, user_id, collection)) {
      DeleteItem(ctx, user_id, collection, id);
      ++removed;
    }
    // What is left: rows gone already, messages now in another folder (moved, not
    // removed: dropped), rows changed since their round began and rows to check (both
    // kept, for the caller to check with Graph).
    const std::string same_folder = StillInScope(collection);
    SQLite::Statement& settle = ctx.Prepare(
        "DELETE FROM delta_removals AS r WHERE r.user_id = ?1 AND r.collection = ?2 AND "
        "NOT EXISTS (SELECT 1 FROM " +
        table + " t WHERE t.user_id = r.user_id AND t.id = r.item_id" + same_folder + ")");
    settle.bind(1, user_id);
    settle.bind(2, table);
    settle.exec();
  });
  if (!s.ok()) return s;
  return removed;
}

Status SyncState::RecordSync(const std::string& user_id, Collection collection,
                             const std::string& kind, const Status& result) {
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    if (result.ok()) {
      UpdateStatus(ctx, user_id, collection, "last_sync_at = ?3, last_sync_kind = ?4", {now, kind});
    } else {
      UpdateStatus(ctx, user_id, collection, "last_error = ?3, last_error_at = ?4",
                   {kind + ": " + result.message(), now});
    }
  });
}

Status SyncState::RecordLifecycle(const std::string& user_id, Collection collection,
                                  const std::string& event) {
  return store_->Write([&](WriteContext& ctx) {
    UpdateStatus(ctx, user_id, collection, "last_lifecycle_event = ?3, last_lifecycle_at = ?4",
                 {event, FormatUtc(ctx.clock()->Now())});
  });
}

Status SyncState::SetStopped(const std::string& user_id, Collection collection,
                             const std::string& reason, TimePoint retry_at) {
  return store_->Write([&](WriteContext& ctx) {
    if (reason.empty()) {
      UpdateStatus(ctx, user_id, collection,
                   "stopped_reason = NULL, stopped_at = NULL, retry_at = NULL", {});
    } else {
      // stopped_at keeps the start of the stop across retries that fail again.
      UpdateStatus(ctx, user_id, collection,
                   "stopped_reason = ?3, stopped_at = coalesce(stopped_at, ?4), retry_at = ?5",
                   {reason, FormatUtc(ctx.clock()->Now()), FormatUtc(retry_at)});
    }
  });
}

Result<std::vector<SyncStatus>> SyncState::SyncStatuses() {
  std::vector<SyncStatus> out;
  Status s = store_->Read("reading sync status", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, collection, last_sync_at, last_sync_kind, last_error, "
                        "last_error_at, last_lifecycle_event, last_lifecycle_at, "
                        "stopped_reason, stopped_at, retry_at FROM sync_status "
                        "ORDER BY user_id, CASE collection WHEN 'messages' THEN 0 "
                        "WHEN 'events' THEN 1 ELSE 2 END");
    while (q.executeStep()) {
      SyncStatus st;
      st.user_id = Text(q, 0);
      st.collection = ParseCollection(Text(q, 1)).value_or(Collection::kMessages);
      st.last_sync_at = Text(q, 2);
      st.last_sync_kind = Text(q, 3);
      st.last_error = Text(q, 4);
      st.last_error_at = Text(q, 5);
      st.last_lifecycle_event = Text(q, 6);
      st.last_lifecycle_at = Text(q, 7);
      st.stopped_reason = Text(q, 8);
      st.stopped_at = Text(q, 9);
      st.retry_at = Text(q, 10);
      out.push_back(std::move(st));
    }
  });
  if (!s.ok()) return s;
  return out;
}

Status SyncState::RecordVerify(const VerifyRecord& record) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& q = ctx.Prepare(
        "INSERT OR REPLACE INTO verify_results (user_id, resource, verified_at, graph_items, "
        "mirror_items, missing, extra, stale, repaired, remaining) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    q.bind(1, record.user_id);
    q.bind(2, record.resource);
    q.bind(3, FormatUtc(ctx.clock()->Now()));
    q.bind(4, record.graph_items);
    q.bind(5, record.mirror_items);
    q.bind(6, record.missing);
    q.bind(7, record.extra);
    q.bind(8, record.stale);
    q.bind(9, record.repaired);
    q.bind(10, record.remaining);
    q.exec();
  });
}

Result<std::vector<VerifyRecord>> SyncState::VerifyRecords() {
  std::vector<VerifyRecord> out;
  Status s = store_->Read("reading verify results", [&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "SELECT user_id, resource, verified_at, graph_items, mirror_items, "
                        "missing, extra, stale, repaired, remaining FROM verify_results "
                        "ORDER BY user_id, CASE resource WHEN 'messages' THEN 0 "
                        "WHEN 'events' THEN 1 WHEN 'event_occurrences' THEN 2 ELSE 3 END");
    while (q.executeStep()) {
      VerifyRecord r;
      r.user_id = Text(q, 0);
      r.resource = Text(q, 1);
      r.verified_at = Text(q, 2);
      r.graph_items = q.getColumn(3).getInt64();
      r.mirror_items = q.getColumn(4).getInt64();
      r.missing = q.getColumn(5).getInt64();
      r.extra = q.getColumn(6).getInt64();
      r.stale = q.getColumn(7).getInt64();
      r.repaired = q.getColumn(8).getInt64();
      r.remaining = q.getColumn(9).getInt64();
      out.push_back(std::move(r));
    }
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace graphmirror::store
