// The mirror's items as an embedding program reads them (Engine's typed accessors), and
// the filters it reads them with. Times are UTC text "YYYY-MM-DDTHH:MM:SS.fffffffZ": text
// order is time order. `json` is the item as Graph sent it.
//
// Thread-safety: values.

#ifndef GRAPHMIRROR_MIRROR_H_
#define GRAPHMIRROR_MIRROR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "graphmirror/collection.h"

namespace graphmirror {

struct Message {
  std::string user_id;
  std::string id;
  std::string received_at;
  std::string from_name;
  std::string from_address;
  std::string subject;
  std::string body_preview;
  std::string folder_id;
  bool is_read = false;
  std::string json;
};

// An entry of the calendar: a single instance, or an occurrence or exception of a series
// (within the configured calendar window). Series masters are not entries.
struct Event {
  std::string user_id;
  std::string id;
  std::string subject;
  std::string start_at;  // UTC when Graph gave UTC, else its wall-clock text
  std::string end_at;
  std::string json;
  std::string type;              // "singleInstance", "occurrence" or "exception"
  std::string series_master_id;  // occurrences and exceptions: their series' master
};

struct Contact {
  std::string user_id;
  std::string id;
  std::string display_name;
  std::vector<std::string> emails;
  std::string json;
};

// Empty fields do not filter. Results are newest first (messages), by start (events), by
// name (contacts), at most `limit`.
struct MessageQuery {
  std::string user_id;
  std::string folder_id;
  std::string received_from;    // received_at >= this
  std::string received_before;  // received_at < this
  int limit = 100;
};

struct EventQuery {
  std::string user_id;
  std::string from;   // events that end after this ...
  std::string until;  // ... and start before this: overlap with [from, until)
  int limit = 100;
};

struct ContactQuery {
  std::string user_id;
  std::string email;  // has this address (case-insensitive)
  int limit = 100;
};

// An item of a mirrored SharePoint list ([[sharepoint]]; the table list_items).
struct ListItem {
  std::string site;        // as configured, "https://contoso.sharepoint.com/sites/team"
  std::string list_id;     // the list's GUID, lower case
  int64_t item_id = 0;     // SharePoint's item Id
  std::string created_at;  // its Created and Modified, as SharePoint wrote them
  std::string modified_at;
  std::string json;  // the item as SharePoint's REST API returned it (its columns)
};

// A list's items by Id: those above `after_item_id` (0: from the first), at most `limit`
// (1..10,000). Page through a large list by passing the last Id seen.
struct ListItemQuery {
  std::string site;
  std::string list_id;
  int64_t after_item_id = 0;
  int limit = 1000;
};

// A mirror row inserted, changed or deleted by a committed write: a mailbox item
// (user_id, collection, id) or a SharePoint list item (site, list_id, and its Id in id;
// user_id empty). A list item rewritten with identical content is no change.
struct Change {
  std::string user_id;                            // empty for a list item
  Collection collection = Collection::kMessages;  // mailbox items only
  std::string id;
  bool deleted = false;
  std::string site;     // list items only
  std::string list_id;  // list items only (lower case); non-empty means a list item
  bool is_list_item() const { return !list_id.empty(); }
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_MIRROR_H_
