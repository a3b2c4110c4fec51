// ResourceDescription: what the engine knows of one mirrored collection, kept in one
// place: its name (config key, mirror table, Graph path segment), the application
// permission that reads it, how its delta rounds are scoped, whether its plain list
// covers it, and the properties rich notifications select. The rooms that sync, store and
// parse a collection ask its description instead of switching on the collection.
//
// Thread-safety: immutable data, built on first use (thread-safe static initialization).

#ifndef GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_
#define GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/collection.h"

namespace graphmirror {

// How the delta rounds of a collection, which are how deletions and moves are seen, are
// scoped: Graph has delta per mail folder, per contact folder, and over a calendar window.
enum class DeltaScopeKind {
  kMailFolders,     // GET /users/{id}/mailFolders/{id}/messages/delta, one round per folder
  kContactFolders,  // GET /users/{id}/contactFolders/{id}/contacts/delta, one per folder
  kCalendarWindow,  // GET /users/{id}/calendarView/delta?startDateTime=..&endDateTime=..
};

struct ResourceDescription {
  Collection collection;
  std::string_view name;        // "messages": config, table and Graph path segment
  std::string_view permission;  // the application permission that reads it ("Mail.Read")
  DeltaScopeKind delta_scope;
  // Whether GET /users/{id}/{name} lists every item of the collection, so that rounds
  // by createdDateTime and lastModifiedDateTime see all of it. Contacts: only those of the
  // default folder, so what notifications announce is read by delta rounds instead.
  bool list_covers_all;
  // The properties a rich subscription selects (Graph encrypts only those), and all that
  // is kept of a rich mailbox's items.
  std::vector<std::string> rich_properties;

  // Rows belong to one folder each (messages, contacts), rather than to a time window.
  bool scoped_by_folder() const { return delta_scope != DeltaScopeKind::kCalendarWindow; }
};

// The description of `collection`: a static object, valid for the program's life.
const ResourceDescription& Describe(Collection collection);

// --- Containers: the folders and calendars that hold the items ----------------------------
// A container resource is kept whole per mailbox by one Graph collection: a delta function
// (rounds continue from the stored deltaLink; `@removed` entries leave) or a plain list
// (read whole each time; rows it no longer lists leave). It has no notifications and no
// timestamps: it is refreshed at the start of every delta pass of the collection whose
// items it holds, with that collection's permission. Its table (created by its migration)
// has the columns `user_id`, `id`, the described ones, `json` (the entity as Graph sent
// it) and `synced_at`, keyed by (user_id, id).

enum class ColumnType {
  kText,     // a string (null: NULL)
  kInteger,  // a JSON number, stored as INTEGER
  kBool,     // true/false, stored as 1/0
};

// One column of a container's table and the Graph property it is read from.
struct ColumnDescription {
  std::string_view column;
  // A top-level property ("displayName"), one object down ("owner/address"), or an
  // annotation ("@odata.type"). Empty: the column is not read from the entity (see
  // ContainerDescription::well_known_names).
  std::string_view property;
  ColumnType type = ColumnType::kText;
  // If set, the column is a flag: 1 when the property's text equals this, else 0.
  std::string_view equals = {};
};

struct ContainerDescription {
  std::string_view name;  // "mail_folders": its table, and its name in status and logs
  Collection collection;  // the items it holds; refreshed with that collection's delta pass
  std::string_view path;  // under /users/{id}: "/mailFolders/delta"
  bool delta;             // `path` is a delta function, else a plain list read whole
  bool select;            // requests `$select` the columns' properties
  std::vector<ColumnDescription> columns;
  // Graph gives some containers' well-known names only by address: each name is asked of
  // `well_known_path` ("{name}" replaced) when the table is read whole, and the row that
  // answers gets it in the column `well_known_column`. A 404 means the mailbox has none.
  std::string_view well_known_path = {};
  std::vector<std::string_view> well_known_names = {};
  std::string_view well_known_column = {};
};

// One entity of a container as graph/ reads it and store/ writes it.
struct ContainerRow {
  std::string id;
  // One per column of the description, in its order: text as read, integers in decimal,
  // flags and booleans "1"/"0"; nullopt for null, absent, or a column read from no property.
  std::vector<std::optional<std::string>> values;
  std::string json;  // the entity's JSON exactly as received
};

// Every container resource, in the order of their migrations.
std::span<const ContainerDescription> AllContainers();
// The one named `name`, or nullptr.
const ContainerDescription* FindContainer(std::string_view name);

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_
