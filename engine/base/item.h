// The mirrored item as the engine passes it between rooms: what graph/ extracts from a
// Graph page and what store/ writes into a mirror table. Plain data, no behaviour.

#ifndef GRAPHMIRROR_ENGINE_BASE_ITEM_H_
#define GRAPHMIRROR_ENGINE_BASE_ITEM_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/collection.h"

namespace graphmirror {

// Timestamps are normalized UTC text, "YYYY-MM-DDTHH:MM:SS.fffffffZ" (always 7 fractional
// digits), so that text order is time order and SQLite's date functions read them.
// An empty string means the field was absent or null (stored as NULL).
struct MirrorItem {
  std::string id;
  std::string created_at;
  std::string modified_at;
  std::string change_key;
  std::string json;  // the item's Graph JSON exactly as received

  // messages
  std::string subject;  // events too
  std::string from_address;
  std::string from_name;
  std::string received_at;
  std::string folder_id;  // parentFolderId
  std::string body_preview;
  bool is_read = false;
  // The message's body, if the page carried one (kept in message_bodies, not in `json`).
  std::optional<std::string> body;
  std::string body_type;  // its contentType: "text" or "html"

  // events
  std::string start_at;
  std::string end_at;
  // Graph's event.type: "singleInstance" and "seriesMaster" rows go to `events`,
  // "occurrence" and "exception" rows (with their series and scheduled start) to
  // `event_occurrences`. Empty: not said (a single instance).
  std::string event_type;
  std::string series_master_id;
  std::string original_start;
  bool IsOccurrence() const { return event_type == "occurrence" || event_type == "exception"; }

  // contacts
  std::string display_name;
  std::vector<std::string> emails;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_ITEM_H_
