#include "tests/support/mirror_compare.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/graph/html_text.h"
#include "engine/graph/select.h"
#include "tools/graphsim/time_format.h"

namespace graphmirror::convergence {
namespace {

using Json = nlohmann::json;

// A string field of a Graph item; "" when absent or null (the mirror stores NULL).
std::string Text(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

const Json& Member(const Json& j, const char* key) {
  static const Json kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Time(const Json& j, const char* key) { return NormalTime(Text(j, key)); }

// An event's start or end: a zone-less dateTime in the named zone.
std::string EventTime(const Json& j, const char* key) {
  const Json& dt = Member(j, key);
  if (!dt.is_object()) return "";
  std::string zone = Text(dt, "timeZone");
  std::string text = Text(dt, "dateTime");
  return zone.empty() || zone == "UTC" ? NormalTime(text) : text;
}

std::string Emails(const Json& j) {
  std::string out;
  const Json& list = Member(j, "emailAddresses");
  if (!list.is_array()) return out;
  for (const Json& e : list) {
    std::string address = e.is_object() ? Text(e, "address") : "";
    if (address.empty()) continue;
    if (!out.empty()) out += ", ";
    out += address;
  }
  return out;
}

struct Field {
  const char* column;
  std::function<std::string(const Json&)> graph;  // the value Graph's item implies
  bool time = false;                              // normalize the mirror's text too
};

const std::vector<Field>& FieldsOf(const std::string& collection) {
  static const std::vector<Field> kCommon = {
      {"created_at", [](const Json& j) { return Time(j, "createdDateTime"); }, true},
      {"modified_at", [](const Json& j) { return Time(j, "lastModifiedDateTime"); }, true},
      {"change_key", [](const Json& j) { return Text(j, "changeKey"); }},
  };
  auto with = [](std::vector<Field> extra) {
    std::vector<Field> all = kCommon;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  static const std::vector<Field> kMessages = with({
      {"received_at", [](const Json& j) { return Time(j, "receivedDateTime"); }, true},
      {"subject", [](const Json& j) { return Text(j, "subject"); }},
      {"folder_id", [](const Json& j) { return Text(j, "parentFolderId"); }},
      {"is_read",
       [](const Json& j) {
         const Json& r = Member(j, "isRead");
         return std::string(r.is_boolean() && r.get<bool>() ? "1" : "0");
       }},
      {"from_address",
       [](const Json& j) {
         const Json& from = Member(j, "from");
         return from.is_object() && Member(from, "emailAddress").is_object()
                    ? Text(from["emailAddress"], "address")
                    : std::string();
       }},
      {"body_preview", [](const Json& j) { return Text(j, "bodyPreview"); }},
  });
  static const std::vector<Field> kEvents = with({
      {"subject", [](const Json& j) { return Text(j, "subject"); }},
      {"start_at", [](const Json& j) { return EventTime(j, "start"); }, true},
      {"end_at", [](const Json& j) { return EventTime(j, "end"); }, true},
  });
  static const std::vector<Field> kContacts = with({
      {"display_name", [](const Json& j) { return Text(j, "displayName"); }},
      {"emails", [](const Json& j) { return Emails(j); }},
      {"folder_id", [](const Json& j) { return Text(j, "parentFolderId"); }},
  });
  if (collection == "messages") return kMessages;
  if (collection == "events") return kEvents;
  return kContacts;
}

// The item without its top-level annotations (@odata.etag, @odata.type, ...): how a page
// and a delta round annotate an item differs, its content does not.
Json WithoutAnnotations(Json j) {
  if (!j.is_object()) return j;
  for (auto it = j.begin(); it != j.end();) {
    it = it.key().rfind("@", 0) == 0 ? j.erase(it) : std::next(it);
  }
  return j;
}

std::string Clip(std::string s, size_t n = 60) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

std::string Quote(const std::string& s) { return "'" + Clip(s) + "'"; }

// Names (and values) of the top-level keys on which two items differ.
std::string JsonDiff(const Json& mirror, const Json& graph) {
  std::set<std::string> keys;
  for (auto it = mirror.begin(); it != mirror.end(); ++it) keys.insert(it.key());
  for (auto it = graph.begin(); it != graph.end(); ++it) keys.insert(it.key());
  std::string out;
  int shown = 0;
  for (const std::string& k : keys) {
    const Json& a = Member(mirror, k.c_str());
    const Json& b = Member(graph, k.c_str());
    if (a == b) continue;
    if (shown++ == 4) {
      out += ", ...";
      break;
    }
    if (!out.empty()) out += ", ";
    out += k + " mirror=" + Clip(a.dump(), 40) + " graph=" + Clip(b.dump(), 40);
  }
  return out;
}

struct Row {
  std::map<std::string, std::string> columns;  // NULL as ""
  std::string json;
};

std::map<std::string, Row> ReadRows(SQLite::Database& db, const std::string& table,
                                    const std::string& user) {
  const auto& fields = FieldsOf(table);
  std::string sql = "SELECT id, json";
  for (const Field& f : fields) sql += std::string(", ") + f.column;
  sql += " FROM " + table + " WHERE user_id = ?1";
  SQLite::Statement q(db, sql);
  q.bind(1, user);
  std::map<std::string, Row> rows;
  while (q.executeStep()) {
    Row row;
    row.json = q.getColumn(1).getString();
    for (size_t i = 0; i < fields.size(); ++i) {
      SQLite::Column c = q.getColumn(static_cast<int>(i + 2));
      row.columns[fields[i].column] = c.isNull() ? "" : c.getString();
    }
    rows[q.getColumn(0).getString()] = std::move(row);
  }
  return rows;
}

}  // namespace

std::string NormalTime(std::string_view t) {
  auto digits = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      if (i >= t.size() || !std::isdigit(static_cast<unsigned char>(t[i]))) return false;
    }
    return true;
  };
  if (t.size() < 19 || !digits(0, 4) || t[4] != '-' || !digits(5, 2) || t[7] != '-' ||
      !digits(8, 2) || t[10] != 'T' || !digits(11, 2) || t[13] != ':' || !digits(14, 2) ||
      t[16] != ':' || !digits(17, 2)) {
    return std::string(t);
  }
  size_t i = 19;
  std::string fraction;
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) {
      fraction += t[i];
    }
  }
  std::string_view zone = t.substr(i);
  if (fraction.size() > 7 || !(zone.empty() || zone == "Z" || zone == "+00:00")) {
    return std::string(t);
  }
  fraction.resize(7, '0');
  return std::string(t.substr(0, 19)) + "." + fraction + "Z";
}

const char* KindName(Mismatch::Kind kind) {
  switch (kind) {
    case Mismatch::Kind::kMissing:
      return "missing";
    case Mismatch::Kind::kExtra:
      return "extra";
    case Mismatch::Kind::kContent:
      return "content";
    case Mismatch::Kind::kOther:
      break;
  }
  return "other";
}

// What a rich mailbox keeps of Graph's item: the rich properties (a list, not parsing).
Json RichProjection(Json j, Collection c) {
  if (!j.is_object()) return j;
  const auto& keep = graph::RichProperties(c);
  for (auto it = j.begin(); it != j.end();) {
    const bool kept =
        it.key() == "id" || std::find(keep.begin(), keep.end(), it.key()) != keep.end();
    it = kept ? std::next(it) : j.erase(it);
  }
  return j;
}

std::vector<Mismatch> CompareList(const graphsim::Simulator& sim, store::Store& store,
                                  const std::string& site, const std::string& list_id) {
  std::vector<Mismatch> out;
  auto rows = store.lists().Items(site, list_id);
  if (!rows.ok()) {
    out.push_back({Mismatch::Kind::kOther, site, "list_items", "",
                   "Store::ListItems failed: " + rows.status().message()});
    return out;
  }
  std::map<int64_t, std::string> have;
  for (const store::ListItemRow& row : *rows) have[row.item_id] = row.json;
  for (int id : sim.ListItemIds(list_id)) {
    auto it = have.find(id);
    if (it == have.end()) {
      out.push_back({Mismatch::Kind::kMissing, site, "list_items", std::to_string(id),
                     "at SharePoint, not in the mirror"});
      continue;
    }
    // Same rendering on both sides: graphsim's JSON, minified by the engine.
    const nlohmann::json want = nlohmann::json::parse(sim.ListItemJson(list_id, id));
    const nlohmann::json got = nlohmann::json::parse(it->second, nullptr, false);
    if (got != want) {
      out.push_back({Mismatch::Kind::kContent, site, "list_items", std::to_string(id),
                     "mirror " + it->second + " vs SharePoint " + want.dump()});
    }
    have.erase(it);
  }
  for (const auto& [id, json] : have) {
    out.push_back({Mismatch::Kind::kExtra, site, "list_items", std::to_string(id),
                   "in the mirror, gone at SharePoint"});
  }
  return out;
}

namespace {

// (id -> "column=value|column=value...") of the table's rows of `user`, for `columns`.
std::map<std::string, std::map<std::string, std::string>> ReadContainer(
    SQLite::Database& db, const std::string& table, const std::string& user,
    const std::vector<std::string>& columns) {
  std::string sql = "SELECT id";
  for (const std::string& c : columns) sql += ", COALESCE(CAST(" + c + " AS TEXT), 'NULL')";
  sql += " FROM " + table + " WHERE user_id = ?";
  SQLite::Statement s(db, sql);
  s.bind(1, user);
  std::map<std::string, std::map<std::string, std::string>> rows;
  while (s.executeStep()) {
    auto& row = rows[s.getColumn(0).getString()];
    for (size_t i = 0; i < columns.size(); ++i) {
      row[columns[i]] = s.getColumn(static_cast<int>(i) + 1).getString();
    }
  }
  return rows;
}

void CompareRows(const std::string& user, const std::string& table,
                 const std::map<std::string, std::map<std::string, std::string>>& want,
                 const std::map<std::string, std::map<std::string, std::string>>& have,
                 std::vector<Mismatch>* out) {
  for (const auto& [id, columns] : want) {
    auto row = have.find(id);
    if (row == have.end()) {
      out->push_back({Mismatch::Kind::kMissing, user, table, id, "at Graph, not in the mirror"});
      continue;
    }
    std::string detail;
    for (const auto& [column, value] : columns) {
      const std::string& mirror_value = row->second.at(column);
      if (mirror_value == value) continue;
      if (!detail.empty()) detail += "; ";
      detail += column + " mirror=" + Quote(mirror_value) + " graph=" + Quote(value);
    }
    if (!detail.empty()) out->push_back({Mismatch::Kind::kContent, user, table, id, detail});
  }
  for (const auto& [id, columns] : have) {
    if (!want.count(id)) {
      out->push_back({Mismatch::Kind::kExtra, user, table, id, "in the mirror, gone at Graph"});
    }
  }
}

std::string Flag(bool b) { return b ? "1" : "0"; }

}  // namespace

std::vector<Mismatch> CompareContainers(const graphsim::Simulator& sim, const std::string& db_path,
                                        const std::vector<std::string>& users,
                                        const std::vector<std::string>& tables) {
  static const std::set<std::string> kAskedNames = {
      "inbox", "drafts", "sentitems", "deleteditems", "junkemail", "archive", "outbox"};
  std::vector<Mismatch> out;
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    for (const std::string& user : users) {
      for (const std::string& table : tables) {
        std::map<std::string, std::map<std::string, std::string>> want;
        std::vector<std::string> columns;
        if (table == "mail_folders") {
          columns = {"parent_id",        "display_name",       "well_known_name", "is_hidden",
                     "is_search_folder", "child_folder_count", "unread_count",    "total_count"};
          for (const auto& f : sim.MailFolders(user)) {
            want[f.id] = {{"parent_id", f.parent_folder_id},
                          {"display_name", f.display_name},
                          {"well_known_name",
                           kAskedNames.count(f.well_known_name) ? f.well_known_name : "NULL"},
                          {"is_hidden", Flag(f.is_hidden)},
                          {"is_search_folder", Flag(f.is_search_folder)},
                          {"child_folder_count", std::to_string(f.child_folder_count)},
                          {"unread_count", std::to_string(f.unread_item_count)},
                          {"total_count", std::to_string(f.total_item_count)}};
          }
        } else if (table == "contact_folders") {
          columns = {"parent_id", "display_name"};
          for (const auto& f : sim.ContactFolders(user)) {
            if (f.is_default) continue;  // Graph lists the folders under it, not it
            want[f.id] = {{"parent_id", f.parent_folder_id}, {"display_name", f.display_name}};
          }
        } else if (table == "calendars") {
          columns = {"name",       "color",         "is_default", "can_edit",
                     "owner_name", "owner_address", "change_key"};
          for (const auto& c : sim.Calendars(user)) {
            want[c.id] = {{"name", c.name},
                          {"color", c.color},
                          {"is_default", Flag(c.is_default_calendar)},
                          {"can_edit", Flag(c.can_edit)},
                          {"owner_name", c.owner_name},
                          {"owner_address", c.owner_address},
                          {"change_key", c.change_key}};
          }
        } else {
          out.push_back({Mismatch::Kind::kOther, user, table, "", "no comparison for this table"});
          continue;
        }
        CompareRows(user, table, want, ReadContainer(db, table, user, columns), &out);
      }
    }
  } catch (const std::exception& e) {
    out.push_back(
        {Mismatch::Kind::kOther, "", "", "", std::string("reading the mirror: ") + e.what()});
  }
  return out;
}

std::vector<Mismatch> CompareMirror(const graphsim::Simulator& sim, store::Store& store,
                                    const std::string& db_path,
                                    const std::vector<std::string>& users,
                                    const std::set<std::string>& rich_users,
                                    const std::vector<Collection>& collections,
                                    const ScopeTruth& scopes) {
  std::vector<Mismatch> out;
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    for (const std::string& user : users) {
      for (Collection c : collections) {
        const std::string table(CollectionName(c));
        std::vector<std::string> want = sim.ItemIds(user, table);
        if (auto scope = scopes.find({user, c}); scope != scopes.end()) {
          std::erase_if(want, [&](const std::string& id) {
            return !scope->second(sim.ItemJson(user, table, id));
          });
        }
        std::sort(want.begin(), want.end());
        auto have = store.mirror().ItemIds(user, c);
        if (!have.ok()) {
          out.push_back({Mismatch::Kind::kOther, user, table, "",
                         "Store::ItemIds failed: " + have.status().message()});
          continue;
        }
        std::vector<std::string> missing, extra;
        std::set_difference(want.begin(), want.end(), have->begin(), have->end(),
                            std::back_inserter(missing));
        std::set_difference(have->begin(), have->end(), want.begin(), want.end(),
                            std::back_inserter(extra));
        for (const std::string& id : missing) {
          out.push_back({Mismatch::Kind::kMissing, user, table, id, "at Graph, not in the mirror"});
        }
        for (const std::string& id : extra) {
          out.push_back({Mismatch::Kind::kExtra, user, table, id, "in the mirror, gone at Graph"});
        }

        std::map<std::string, Row> rows = ReadRows(db, table, user);
        // The engine's own listing and a fresh connection must agree on what the mirror holds.
        std::vector<std::string> read;
        for (const auto& [id, row] : rows) read.push_back(id);
        if (read != *have) {
          std::vector<std::string> only_store, only_read;
          std::set_difference(have->begin(), have->end(), read.begin(), read.end(),
                              std::back_inserter(only_store));
          std::set_difference(read.begin(), read.end(), have->begin(), have->end(),
                              std::back_inserter(only_read));
          out.push_back({Mismatch::Kind::kOther, user, table, "",
                         "Store::ItemIds and a fresh connection disagree: " +
                             std::to_string(only_store.size()) + " ids only from ItemIds (" +
                             (only_store.empty() ? "" : only_store.front()) + "...), " +
                             std::to_string(only_read.size()) + " only in the database (" +
                             (only_read.empty() ? "" : only_read.front()) + "...)"});
        }
        for (const std::string& id : want) {
          auto row = rows.find(id);
          if (row == rows.end()) continue;  // not in the mirror: reported above
          Json graph = Json::parse(sim.ItemJson(user, table, id), nullptr, false);
          if (!graph.is_object()) continue;  // deleted since ItemIds: not a mirror problem
          std::string detail;
          for (const Field& f : FieldsOf(table)) {
            std::string mirror_value = row->second.columns[f.column];
            if (f.time) mirror_value = NormalTime(mirror_value);
            std::string graph_value = f.graph(graph);
            if (mirror_value == graph_value) continue;
            if (!detail.empty()) detail += "; ";
            detail += std::string(f.column) + " mirror=" + Quote(mirror_value) +
                      " graph=" + Quote(graph_value);
          }
          Json stored = Json::parse(row->second.json, nullptr, false);
          Json a = WithoutAnnotations(stored), b = WithoutAnnotations(graph);
          if (rich_users.count(user)) b = RichProjection(std::move(b), c);
          if (c == Collection::kMessages) {
            // A message's body is kept in message_bodies, not in its row's json.
            b.erase("body");
            if (!rich_users.count(user)) {
              // Read as HTML and made text by the engine (graph::HtmlToText, tested apart).
              const std::string want_body =
                  graph::HtmlToText(sim.MessageBody(user, id, /*text=*/false));
              std::string have_body = "(none)";
              SQLite::Statement q(db,
                                  "SELECT content_type, content FROM message_bodies "
                                  "WHERE user_id = ? AND id = ?");
              q.bind(1, user);
              q.bind(2, id);
              if (q.executeStep()) {
                have_body = q.getColumn(1).getString();
                if (q.getColumn(0).getString() != "text") have_body = "(not text) " + have_body;
              }
              if (have_body != want_body) {
                detail += std::string(detail.empty() ? "" : "; ") +
                          "body mirror=" + Quote(have_body) + " graph=" + Quote(want_body);
              }
            }
          }
          if (stored.is_discarded()) {
            detail += std::string(detail.empty() ? "" : "; ") + "json column is not JSON";
          } else if (a != b) {
            detail += std::string(detail.empty() ? "" : "; ") + "json: " + JsonDiff(a, b);
          }
          if (!detail.empty()) out.push_back({Mismatch::Kind::kContent, user, table, id, detail});
        }
      }
    }
  } catch (const std::exception& e) {
    out.push_back(
        {Mismatch::Kind::kOther, "", "", "", std::string("reading the mirror: ") + e.what()});
  }
  return out;
}

std::vector<Mismatch> CompareOccurrences(const graphsim::Simulator& sim, const std::string& db_path,
                                         const std::vector<std::string>& users,
                                         const std::set<std::string>& rich_users) {
  const std::string table = "event_occurrences";
  const std::vector<std::string> columns = {"series_master_id", "type",   "original_start",
                                            "start_at",         "end_at", "subject"};
  std::vector<Mismatch> out;
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY);
    for (const std::string& user : users) {
      SQLite::Statement scope(db,
                              "SELECT scope FROM delta_links WHERE user_id = ? AND "
                              "collection = 'events' AND delta_link IS NOT NULL");
      scope.bind(1, user);
      if (!scope.executeStep()) {
        out.push_back({Mismatch::Kind::kOther, user, table, "", "no completed calendar round"});
        continue;
      }
      const std::string window = scope.getColumn(0).getString();
      const size_t slash = window.find('/');
      auto window_start = graphsim::ParseDateTimeOffset(window.substr(0, slash));
      auto window_end = graphsim::ParseDateTimeOffset(window.substr(slash + 1));
      if (slash == std::string::npos || !window_start || !window_end) {
        out.push_back({Mismatch::Kind::kOther, user, table, "", "calendar window " + window});
        continue;
      }
      std::map<std::string, std::map<std::string, std::string>> want;
      std::map<std::string, std::string> want_json;
      for (const auto& o : sim.EventOccurrences(user, *window_start, *window_end)) {
        want[o.id] = {{"series_master_id", o.series_master_id},
                      {"type", o.type},
                      {"original_start", graphsim::FormatTicksZ(o.original_start)},
                      {"start_at", graphsim::FormatTicksZ(o.start)},
                      {"end_at", graphsim::FormatTicksZ(o.end)},
                      {"subject", o.subject}};
        want_json[o.id] = o.json;
      }
      auto have = ReadContainer(db, table, user, columns);
      for (auto& [id, row] : have) {
        for (const char* time : {"original_start", "start_at", "end_at"}) {
          row[time] = NormalTime(row[time]);
        }
      }
      CompareRows(user, table, want, have, &out);
      SQLite::Statement json(db, "SELECT json FROM event_occurrences WHERE user_id = ? AND id = ?");
      for (const auto& [id, graph_json] : want_json) {
        if (!have.count(id)) continue;
        json.reset();
        json.bind(1, user);
        json.bind(2, id);
        if (!json.executeStep()) continue;
        Json a = WithoutAnnotations(Json::parse(json.getColumn(0).getString(), nullptr, false));
        Json b = WithoutAnnotations(Json::parse(graph_json, nullptr, false));
        if (rich_users.count(user)) b = RichProjection(std::move(b), Collection::kEvents);
        if (a != b)
          out.push_back({Mismatch::Kind::kContent, user, table, id, "json: " + JsonDiff(a, b)});
      }
    }
  } catch (const std::exception& e) {
    out.push_back(
        {Mismatch::Kind::kOther, "", "", "", std::string("reading the mirror: ") + e.what()});
  }
  return out;
}

std::string Describe(const std::vector<Mismatch>& mismatches, size_t at_most) {
  std::string out;
  for (size_t i = 0; i < mismatches.size() && i < at_most; ++i) {
    const Mismatch& m = mismatches[i];
    out += std::string(KindName(m.kind)) + " " + m.user + "/" + m.collection + "/" + m.id + ": " +
           m.detail + "\n";
  }
  if (mismatches.size() > at_most) {
    out += "... and " + std::to_string(mismatches.size() - at_most) + " more\n";
  }
  return out;
}

}  // namespace graphmirror::convergence
