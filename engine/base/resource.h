// ResourceDescription: what the engine knows of one mirrored collection, kept in one
// place: its name (config key, mirror table, Graph path segment), the application
// permission that reads it, how its delta rounds are scoped, whether its plain list
// covers it, and the properties rich notifications select. The rooms that sync, store and
// parse a collection ask its description instead of switching on the collection.
//
// Thread-safety: immutable data, built on first use (thread-safe static initialization).

#ifndef GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_
#define GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_

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

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_RESOURCE_H_
