#include "engine/graph/page.h"

#include <exception>
#include <string>
#include <utility>

#include "engine/graph/timestamp.h"
#include "engine/json/ondemand.h"

namespace graphmirror::graph {

namespace {

using json::ForEachField;
using json::ReadString;
using json::Validate;
namespace od = simdjson::ondemand;
using simdjson::error_code;

// Error messages quote payload text: keep them one line and short.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (text.size() > kMax) out += "...";
  out += "\"";
  return out;
}

Status Bad(std::string_view what) { return Status::Corruption("page: " + std::string(what)); }

Status BadJson(std::string_view where, error_code error) {
  return Bad(std::string(where) + ": " + simdjson::error_message(error));
}

struct DateTimeTimeZone {
  std::string date_time;
  std::string time_zone;
};

error_code ReadDateTimeTimeZone(od::value value, DateTimeTimeZone* out) {
  return ForEachField(value, [&](std::string_view key, od::value v) {
    if (key == "dateTime") return ReadString(v, &out->date_time);
    if (key == "timeZone") return ReadString(v, &out->time_zone);
    return Validate(v);
  });
}

// Events keep their wall-clock text unless the zone is UTC (or unnamed): converting
// "Pacific Standard Time" would need a zone database the mirror does not carry.
std::string EventTime(const DateTimeTimeZone& dt) {
  if (dt.time_zone.empty() || dt.time_zone == "UTC" || dt.time_zone == "utc") {
    if (auto normalized = NormalizeTimestamp(dt.date_time)) return *normalized;
  }
  return dt.date_time;
}

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Where one member ("key": value) of an object begins in the body, and whether it is kept.
struct MemberStart {
  const char* begin;
  bool kept;
};

// The text of the object `raw` holding only the kept members. Each member ends where the
// next begins (or the object closes), less the separator between them.
std::string Project(std::string_view raw, const std::vector<MemberStart>& members) {
  std::string out = "{";
  const char* const close = raw.data() + raw.size() - 1;  // the '}'
  for (size_t i = 0; i < members.size(); ++i) {
    if (!members[i].kept) continue;
    const char* end = i + 1 < members.size() ? members[i + 1].begin : close;
    while (end > members[i].begin &&
           (IsSpace(end[-1]) || (i + 1 < members.size() && end[-1] == ','))) {
      --end;
    }
    if (out.size() > 1) out.push_back(',');
    out.append(members[i].begin, static_cast<size_t>(end - members[i].begin));
  }
  out.push_back('}');
  return out;
}

// --- Rich content's JSON without its annotations --------------------------------------------
// These walk text that simdjson has validated whole already: they only find where each
// token ends (and stay inside the text whatever it holds).

size_t SkipSpace(std::string_view raw, size_t i) {
  while (i < raw.size() && IsSpace(raw[i])) ++i;
  return i;
}

// raw[i] is a string's opening quote: the index past its closing quote.
size_t StringEnd(std::string_view raw, size_t i) {
  for (++i; i < raw.size(); ++i) {
    if (raw[i] == '\\') {
      ++i;
    } else if (raw[i] == '"') {
      return i + 1;
    }
  }
  return raw.size();
}

// Property names are OData identifiers; every key with an '@' is an annotation
// (`@odata.type`, `receivedDateTime@odata.type`, `@odata.etag`).
bool IsAnnotation(std::string_view key) { return key.find('@') != std::string_view::npos; }

size_t CopyValue(std::string_view raw, size_t i, std::string* out);

// Appends the members of the object whose '{' is raw[i] to *out (nullptr: skips them)
// without its annotations; returns the index past the '}'.
size_t CopyMembers(std::string_view raw, size_t i, std::string* out) {
  bool first = true;
  for (++i;;) {
    i = SkipSpace(raw, i);
    if (i >= raw.size() || raw[i] == '}') return i + 1;
    if (raw[i] == ',') {
      ++i;
      continue;
    }
    const size_t key_begin = i;
    const size_t key_end = StringEnd(raw, i);
    const std::string_view key = raw.substr(key_begin, key_end - key_begin);
    i = SkipSpace(raw, SkipSpace(raw, key_end) + 1);  // past the ':'
    if (out == nullptr || IsAnnotation(key)) {
      i = CopyValue(raw, i, nullptr);
      continue;
    }
    if (!first) out->push_back(',');
    first = false;
    out->append(key);
    out->push_back(':');
    i = CopyValue(raw, i, out);
  }
}

// Appends the value at raw[i] to *out (nullptr: skips it), dropping the annotations of
// every object in it; returns the index past it.
size_t CopyValue(std::string_view raw, size_t i, std::string* out) {
  if (i >= raw.size()) return i;
  if (raw[i] == '{') {
    if (out != nullptr) out->push_back('{');
    i = CopyMembers(raw, i, out);
    if (out != nullptr) out->push_back('}');
    return i;
  }
  if (raw[i] == '[') {
    if (out != nullptr) out->push_back('[');
    bool first = true;
    for (++i;;) {
      i = SkipSpace(raw, i);
      if (i >= raw.size() || raw[i] == ']') {
        ++i;
        break;
      }
      if (raw[i] == ',') {
        ++i;
        continue;
      }
      if (out != nullptr && !first) out->push_back(',');
      first = false;
      i = CopyValue(raw, i, out);
    }
    if (out != nullptr) out->push_back(']');
    return i;
  }
  const size_t begin = i;
  if (raw[i] == '"') {
    i = StringEnd(raw, i);
  } else {
    while (i < raw.size() && raw[i] != ',' && raw[i] != ']' && raw[i] != '}' && !IsSpace(raw[i])) {
      ++i;
    }
  }
  if (out != nullptr) out->append(raw.substr(begin, i - begin));
  return i;
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// The stored JSON of rich content `raw` (an object; `members` its top-level members) for
// item `id`: the id first, then the kept members without annotations at any depth.
std::string RichJson(std::string_view raw, const std::string& id,
                     const std::vector<MemberStart>& members) {
  std::string out;
  out.reserve(raw.size() + id.size() + 8);
  out = "{\"id\":" + JsonQuote(id);
  for (const MemberStart& member : members) {
    if (!member.kept) continue;
    const size_t key_begin = static_cast<size_t>(member.begin - raw.data());
    const size_t key_end = StringEnd(raw, key_begin);
    out.push_back(',');
    out.append(raw.substr(key_begin, key_end - key_begin));
    out.push_back(':');
    CopyValue(raw, SkipSpace(raw, SkipSpace(raw, key_end) + 1), &out);
  }
  out.push_back('}');
  return out;
}

class PageParser {
 public:
  // `rich_id`, if given: the items are rich content of that item (see ParseRichContent).
  PageParser(Collection collection, const std::vector<std::string>* keep,
             const std::string* rich_id = nullptr)
      : collection_(collection), keep_(keep), rich_id_(rich_id) {}

  // One item document: exactly one object, nothing after it.
  Result<MirrorItem> ParseOne(std::string_view json) {
    thread_local od::parser parser;
    const simdjson::padded_string padded(json);
    od::document doc;
    if (auto error = parser.iterate(padded).get(doc)) return BadJson("item: not JSON", error);
    od::value value;
    if (auto error = doc.get_value().get(value)) return BadJson("item: not JSON", error);
    MirrorItem item;
    bool removed = false;
    single_ = true;
    if (Status s = ParseItem(value, 0, &item, &removed); !s.ok()) return s;
    if (removed) return Bad("item: a removed entry, not an item");
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return Bad("item: trailing content after the JSON object");
    }
    return item;
  }

  Result<Page> Parse(std::string_view body) {
    Page page;
    Status walked = json::WalkCollection(
        body, Bad,
        [&](od::array& array) {
          page.items.clear();
          page.removed_ids.clear();
          return ParseItems(array, &page);
        },
        [&](std::string_view key, od::value value) {
          if (key == "@odata.nextLink") return ReadString(value, &page.next_link);
          if (key == "@odata.deltaLink") return ReadString(value, &page.delta_link);
          return Validate(value);
        });
    if (!walked.ok()) return walked;
    return page;
  }

 private:
  Status ParseItems(od::array& array, Page* page) {
    size_t index = 0;
    for (auto element_result : array) {
      od::value element;
      if (auto error = std::move(element_result).get(element)) {
        return BadJson("item " + std::to_string(index), error);
      }
      MirrorItem item;
      bool removed = false;
      if (Status s = ParseItem(element, index, &item, &removed); !s.ok()) return s;
      if (removed) {
        page->removed_ids.push_back(std::move(item.id));
      } else {
        page->items.push_back(std::move(item));
      }
      ++index;
    }
    return Status::Ok();
  }

  Status ParseItem(od::value& element, size_t index, MirrorItem* item, bool* removed) {
    const std::string where = "item " + std::to_string(index);
    od::object object;
    if (auto error = element.get_object().get(object)) {
      return BadJson(where + " is not an object", error);
    }
    // The exact text as received, then back to the start for the fields.
    std::string_view raw;
    if (auto error = json::RawObject(object, &raw)) return BadJson(where, error);
    item->json.assign(raw);
    bool has_fields = false;
    if (auto error = object.reset().get(has_fields)) return BadJson(where, error);

    bool has_id = false;
    std::string created, modified, received, original_start;
    DateTimeTimeZone start, end;
    std::vector<MemberStart> members;
    bool has_context = false;
    if (has_fields) {
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return BadJson(where, error);
        // The raw key points just past its opening quote, into the body's buffer.
        const char* member_begin = field.key().raw() - 1;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return BadJson(where, error);
        if (rich_id_ != nullptr) {
          // The notification's id goes first; annotations never.
          members.push_back(
              {member_begin, key != "id" && !IsAnnotation(key) && (keep_ == nullptr || Kept(key))});
        } else if (keep_ != nullptr) {
          members.push_back({member_begin, Kept(key)});
        } else if (collection_ == Collection::kMessages) {
          // A message's body goes to its own table: the row's json holds the rest.
          members.push_back({member_begin, key != "body" && key != kContext});
        } else if (single_) {
          members.push_back({member_begin, key != kContext});
        }
        has_context = has_context || key == kContext;
        // `key` lives in the parser's string buffer until the next iterate(): no copy.
        error_code error = ReadField(key, field.value(), item, &has_id, &created, &modified,
                                     &received, &start, &end, &original_start, removed);
        if (error) return BadJson(where + " field " + Quote(key), error);
      }
    }

    if (rich_id_ != nullptr) {
      // Graph encrypts the selected properties only: the id is the notification's.
      if (has_id && item->id != *rich_id_) return Bad(where + " names another item");
      item->id = *rich_id_;
      has_id = true;
      item->json = RichJson(raw, item->id, members);
    }
    if (!has_id || item->id.empty()) return Bad(where + " has no id");
    if (keep_ != nullptr && has_fields && rich_id_ == nullptr) item->json = Project(raw, members);
    if (keep_ == nullptr && rich_id_ == nullptr && (item->body || has_context)) {
      item->json = Project(raw, members);
    }
    const std::string named = where + " (id " + Quote(item->id) + ")";
    // A removed entry of a delta round carries nothing but the id.
    if (*removed) return Status::Ok();

    if (rich_id_ != nullptr && created.empty()) {
      // Rich content holds createdDateTime only if it was selected: created_at stays empty.
    } else if (auto created_at = NormalizeTimestamp(created)) {
      item->created_at = std::move(*created_at);
    } else {
      return Bad(named + (created.empty()
                              ? " has no createdDateTime"
                              : " has createdDateTime " + Quote(created) + ", not a timestamp"));
    }
    // The other server timestamps may be absent, but if present they feed watermarks and
    // must be real timestamps.
    if (Status s = NormalizeOptional(named, "lastModifiedDateTime", modified, &item->modified_at);
        !s.ok()) {
      return s;
    }
    if (collection_ == Collection::kMessages) {
      if (Status s = NormalizeOptional(named, "receivedDateTime", received, &item->received_at);
          !s.ok()) {
        return s;
      }
    }
    if (collection_ == Collection::kEvents) {
      item->start_at = EventTime(start);
      item->end_at = EventTime(end);
      if (Status s =
              NormalizeOptional(named, "originalStart", original_start, &item->original_start);
          !s.ok()) {
        return s;
      }
      // An instance of a series that does not say which kind is an occurrence: the mirror
      // keeps it with its series, not as an event of its own.
      if (item->event_type.empty() && !item->series_master_id.empty()) {
        item->event_type = "occurrence";
      }
      if (item->IsOccurrence() && item->series_master_id.empty()) {
        return Bad(named + " is an " + item->event_type + " without seriesMasterId");
      }
    }
    return Status::Ok();
  }

  static Status NormalizeOptional(const std::string& named, std::string_view field,
                                  const std::string& text, std::string* out) {
    if (text.empty()) return Status::Ok();
    auto normalized = NormalizeTimestamp(text);
    if (!normalized) {
      return Bad(named + " has " + std::string(field) + " " + Quote(text) + ", not a timestamp");
    }
    *out = std::move(*normalized);
    return Status::Ok();
  }

  error_code ReadField(std::string_view key, od::value value, MirrorItem* item, bool* has_id,
                       std::string* created, std::string* modified, std::string* received,
                       DateTimeTimeZone* start, DateTimeTimeZone* end, std::string* original_start,
                       bool* removed) {
    // Fields every collection has.
    if (key == "id") {
      *has_id = true;
      return ReadString(value, &item->id);
    }
    if (key == "createdDateTime") return ReadString(value, created);
    if (key == "lastModifiedDateTime") return ReadString(value, modified);
    if (key == "changeKey") return ReadString(value, &item->change_key);
    if (key == "@removed") {
      *removed = true;
      return Validate(value);
    }
    switch (collection_) {
      case Collection::kMessages:
        if (key == "subject") return ReadString(value, &item->subject);
        if (key == "receivedDateTime") return ReadString(value, received);
        if (key == "parentFolderId") return ReadString(value, &item->folder_id);
        if (key == "bodyPreview") return ReadString(value, &item->body_preview);
        if (key == "body") {
          bool present = false;
          std::string content;
          auto error = ForEachField(
              value,
              [&](std::string_view k, od::value v) {
                if (k == "content") return ReadString(v, &content);
                if (k == "contentType") return ReadString(v, &item->body_type);
                return Validate(v);
              },
              &present);
          if (!error && present) item->body = std::move(content);
          return error;
        }
        if (key == "isRead") {
          od::json_type type;
          if (auto error = value.type().get(type)) return error;
          if (type == od::json_type::null) {
            item->is_read = false;
            return Validate(value);
          }
          return value.get_bool().get(item->is_read);
        }
        if (key == "from") {
          return ForEachField(value, [&](std::string_view k, od::value v) {
            if (k != "emailAddress") return Validate(v);
            return ForEachField(v, [&](std::string_view k2, od::value v2) {
              if (k2 == "address") return ReadString(v2, &item->from_address);
              if (k2 == "name") return ReadString(v2, &item->from_name);
              return Validate(v2);
            });
          });
        }
        break;
      case Collection::kEvents:
        if (key == "subject") return ReadString(value, &item->subject);
        if (key == "start") return ReadDateTimeTimeZone(value, start);
        if (key == "end") return ReadDateTimeTimeZone(value, end);
        if (key == "type") return ReadString(value, &item->event_type);
        if (key == "seriesMasterId") return ReadString(value, &item->series_master_id);
        if (key == "originalStart") return ReadString(value, original_start);
        break;
      case Collection::kContacts:
        if (key == "displayName") return ReadString(value, &item->display_name);
        if (key == "parentFolderId") return ReadString(value, &item->folder_id);
        if (key == "emailAddresses") return ReadEmails(value, &item->emails);
        break;
    }
    return Validate(value);
  }

  static error_code ReadEmails(od::value value, std::vector<std::string>* emails) {
    od::json_type type;
    if (auto error = value.type().get(type)) return error;
    if (type == od::json_type::null) return Validate(value);
    od::array array;
    if (auto error = value.get_array().get(array)) return error;
    for (auto element_result : array) {
      od::value element;
      if (auto error = std::move(element_result).get(element)) return error;
      std::string address;
      auto error = ForEachField(element, [&](std::string_view k, od::value v) {
        if (k == "address") return ReadString(v, &address);
        return Validate(v);
      });
      if (error) return error;
      if (!address.empty()) emails->push_back(std::move(address));
    }
    return simdjson::SUCCESS;
  }

  bool Kept(std::string_view key) const {
    if (key == "id" || key == "@odata.etag") return true;
    for (const std::string& name : *keep_) {
      if (name == key) return true;
    }
    return false;
  }

  const Collection collection_;
  const std::vector<std::string>* const keep_;
  const std::string* const rich_id_;
  // Parsing one item document (a GET by id): its top-level `@odata.context` names the
  // request, not the item, and is not stored, so that the item read by id and the same
  // item read from a page are the same row.
  bool single_ = false;
  static constexpr std::string_view kContext = "@odata.context";
};

}  // namespace

Result<Page> ParsePage(Collection collection, std::string_view body,
                       const std::vector<std::string>* keep) {
  // The error-code API above does not throw, but allocation and simdjson's development
  // checks can: nothing escapes this room as an exception.
  try {
    return PageParser(collection, keep).Parse(body);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("page: ") + e.what());
  }
}

Result<MirrorItem> ParseItem(Collection collection, std::string_view json,
                             const std::vector<std::string>* keep) {
  try {
    return PageParser(collection, keep).ParseOne(json);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("item: ") + e.what());
  }
}

Result<MirrorItem> ParseRichContent(Collection collection, std::string_view json,
                                    const std::string& id, const std::vector<std::string>* keep) {
  if (id.empty()) return Status::Corruption("item: no id for rich content");
  try {
    return PageParser(collection, keep, &id).ParseOne(json);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("item: ") + e.what());
  }
}

}  // namespace graphmirror::graph
