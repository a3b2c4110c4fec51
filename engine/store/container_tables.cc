#include "engine/store/container_tables.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/store/records.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

namespace {

// The description's columns as SQL: they come from static descriptions, never from input.
std::string UpsertSql(const ContainerDescription& d) {
  std::string columns = "user_id, id", values = "?1, ?2", updates;
  int n = 2;
  for (const ColumnDescription& c : d.columns) {
    if (c.property.empty()) continue;  // set apart (well-known names), kept on update
    columns += ", " + std::string(c.column);
    values += ", ?" + std::to_string(++n);
    updates += std::string(c.column) + " = excluded." + std::string(c.column) + ", ";
  }
  columns += ", json, synced_at";
  values += ", ?" + std::to_string(n + 1) + ", ?" + std::to_string(n + 2);
  return "INSERT INTO " + std::string(d.name) + " (" + columns + ") VALUES (" + values +
         ") ON CONFLICT (user_id, id) DO UPDATE SET " + updates +
         "json = excluded.json, synced_at = excluded.synced_at";
}

void BindValue(SQLite::Statement& s, int index, const ColumnDescription& c,
               const std::optional<std::string>& value) {
  if (!value) {
    s.bind(index);  // NULL
  } else if (c.type == ColumnType::kText && c.equals.empty()) {
    s.bind(index, *value);
  } else {
    s.bind(index, static_cast<int64_t>(std::stoll(*value)));
  }
}

}  // namespace

Result<ContainerRoundResult> ContainerTables::ApplyRound(const ContainerRound& round) {
  const ContainerDescription* d = round.container;
  if (d == nullptr) return Status::InvalidArgument("store: a container round names no container");
  if (d->delta && round.delta_link.empty()) {
    return Status::InvalidArgument("store: a delta round of " + std::string(d->name) +
                                   " must end at a deltaLink");
  }
  const std::string table(d->name);
  ContainerRoundResult result;
  Status written = store_->Write([&](WriteContext& ctx) {
    result = {};
    const std::string now = FormatUtc(ctx.clock()->Now());
    auto exec_for_user = [&](const std::string& sql) {
      SQLite::Statement& s = ctx.Prepare(sql);
      s.bind(1, round.user_id);
      return s.exec();
    };
    // A whole round: rows it does not list are gone; marked first, swept after upserts.
    if (round.whole) exec_for_user("UPDATE " + table + " SET synced_at = '' WHERE user_id = ?1");
    SQLite::Statement& upsert = ctx.Prepare(UpsertSql(*d));
    for (const ContainerRow& row : round.rows) {
      upsert.bind(1, round.user_id);
      upsert.bind(2, row.id);
      int n = 2;
      for (size_t i = 0; i < d->columns.size(); ++i) {
        if (d->columns[i].property.empty()) continue;
        BindValue(upsert, ++n, d->columns[i], row.values[i]);
      }
      upsert.bind(n + 1, row.json);
      upsert.bind(n + 2, now);
      upsert.exec();
      upsert.reset();
      ++result.upserted;
    }
    SQLite::Statement& remove =
        ctx.Prepare("DELETE FROM " + table + " WHERE user_id = ?1 AND id = ?2");
    for (const std::string& id : round.removed_ids) {
      remove.bind(1, round.user_id);
      remove.bind(2, id);
      result.removed += remove.exec();
      remove.reset();
    }
    if (round.whole) {
      result.removed +=
          exec_for_user("DELETE FROM " + table + " WHERE user_id = ?1 AND synced_at = ''");
      if (!d->well_known_column.empty()) {
        const std::string column(d->well_known_column);
        exec_for_user("UPDATE " + table + " SET " + column + " = NULL WHERE user_id = ?1");
        SQLite::Statement& name = ctx.Prepare("UPDATE " + table + " SET " + column +
                                              " = ?3 WHERE user_id = ?1 AND id = ?2");
        for (const auto& [id, well_known] : round.well_known) {
          name.bind(1, round.user_id);
          name.bind(2, id);
          name.bind(3, well_known);
          name.exec();
          name.reset();
        }
      }
    }
    SQLite::Statement& link = ctx.Prepare(
        "INSERT INTO container_links (user_id, container, delta_link, synced_at) "
        "VALUES (?1, ?2, NULLIF(?3, ''), ?4) ON CONFLICT (user_id, container) DO UPDATE SET "
        "delta_link = excluded.delta_link, synced_at = excluded.synced_at");
    link.bind(1, round.user_id);
    link.bind(2, table);
    link.bind(3, round.delta_link);
    link.bind(4, now);
    link.exec();
  });
  if (!written.ok()) return written;
  return result;
}

Result<std::string> ContainerTables::DeltaLink(const std::string& user_id,
                                               std::string_view container) {
  std::string link;
  Status read = store_->Read("container link", [&](SQLite::Database& db) {
    SQLite::Statement s(db,
                        "SELECT COALESCE(delta_link, '') FROM container_links "
                        "WHERE user_id = ?1 AND container = ?2");
    s.bind(1, user_id);
    s.bind(2, std::string(container));
    if (s.executeStep()) link = s.getColumn(0).getString();
  });
  if (!read.ok()) return read;
  return link;
}

Status ContainerTables::ForgetDeltaLink(const std::string& user_id, std::string_view container) {
  return store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& s = ctx.Prepare(
        "UPDATE container_links SET delta_link = NULL WHERE user_id = ?1 AND container = ?2");
    s.bind(1, user_id);
    s.bind(2, std::string(container));
    s.exec();
  });
}

Result<int64_t> ContainerTables::Count(const std::string& user_id,
                                       const ContainerDescription& container) {
  int64_t count = 0;
  Status read = store_->Read("container count", [&](SQLite::Database& db) {
    SQLite::Statement s(
        db, "SELECT count(*) FROM " + std::string(container.name) + " WHERE user_id = ?1");
    s.bind(1, user_id);
    if (s.executeStep()) count = s.getColumn(0).getInt64();
  });
  if (!read.ok()) return read;
  return count;
}

Result<std::vector<ContainerTableState>> ContainerTables::States() {
  std::vector<ContainerTableState> states;
  Status read = store_->Read("container states", [&](SQLite::Database& db) {
    for (const ContainerDescription& d : AllContainers()) {
      const std::string table(d.name);
      SQLite::Statement s(
          db, "SELECT u.user_id, (SELECT count(*) FROM " + table +
                  " t WHERE t.user_id = u.user_id), COALESCE(l.synced_at, '') FROM "
                  "(SELECT user_id FROM " +
                  table +
                  " UNION "
                  "SELECT user_id FROM container_links WHERE container = ?1) u "
                  "LEFT JOIN container_links l ON l.user_id = u.user_id AND l.container = ?1 "
                  "ORDER BY u.user_id");
      s.bind(1, table);
      while (s.executeStep()) {
        states.push_back({s.getColumn(0).getString(), table, s.getColumn(1).getInt64(),
                          s.getColumn(2).getString()});
      }
    }
  });
  if (!read.ok()) return read;
  return states;
}

}  // namespace graphmirror::store
