// What Graph's Outlook entities look like: their properties in Graph's order, which ones a
// client may write, the defaults of a new item, how a stored Item renders as Graph JSON,
// and the deterministic content of seeded items.
//
// Thread-safety: free functions over immutable tables.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_SCHEMA_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_SCHEMA_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/graphsim/item_store.h"
#include "tools/graphsim/odata.h"

namespace graphsim {

// Ordered, so that items keep Graph's property order and a client's field order.
using Json = nlohmann::ordered_json;

enum class EntityKind { kMessage = 0, kEvent = 1, kContact = 2 };
constexpr int kEntityKindCount = 3;

std::optional<EntityKind> KindFromCollection(std::string_view collection);  // "messages", ...
const char* CollectionName(EntityKind kind);
const EntityInfo& Entity(EntityKind kind);

// A seeded folder (UserRecord); what may change later (names, folders created and deleted)
// lives in the simulator's per-mailbox state.
struct Folder {
  std::string well_known;  // "inbox"; "" for none
  std::string display_name;
  std::string id;
  int parent = -1;      // mail folders: index of the parent folder; -1: the root
  bool hidden = false;  // isHidden: listed only with includeHiddenFolders=true
  bool search = false;  // a mailSearchFolder: a saved query, holds no message of its own
};

// The mail folders every simulated mailbox is seeded with, in this order: the well-known
// ones, a hidden folder under the root, and a search folder under the Inbox. Folders
// created later (Simulator::CreateMailFolder) take the next indexes; an index is never
// reused, so Item::folder stays meaningful after a folder is deleted.
enum MailFolder {
  kInbox = 0,
  kDrafts,
  kSentItems,
  kDeletedItems,
  kArchive,
  kHiddenFolder,
  kSearchFolder,
  kMailFolderCount
};

struct UserRecord {
  int index = 0;
  std::string id;  // GUID text
  std::string upn;
  std::string upn_lower;
  std::string display_name;
  std::string given_name;
  std::string surname;
  std::string id_part;               // the mailbox's part of every item id (base64url)
  std::vector<Folder> mail_folders;  // the seeded ones (kMailFolderCount)
  Folder contacts_folder;
  Folder calendar;
};

// Everything rendering and seeding need besides the item.
struct TenantView {
  uint64_t seed = 0;
  const std::vector<UserRecord>* users = nullptr;
};

// The id of contact folder `index` of the owner: 0 is the default Contacts folder, others
// are folders created under it (a function of the index, so rendering needs no table).
std::string ContactFolderId(const UserRecord& owner, int index);

// The id of mail folder `index` of the owner: a seeded folder's, else a function of the
// index (so rendering a message needs no folder table).
std::string MailFolderId(const UserRecord& owner, int index);
// The id of calendar `index` of the owner: 0 is the default calendar (UserRecord::calendar).
std::string CalendarId(const UserRecord& owner, int index);
// The id of the mailbox's root folder (msgfolderroot), the parentFolderId of top-level
// mail folders and of the default Contacts folder.
std::string RootFolderId(const UserRecord& owner);

// The change key of an item at a version: Exchange-like standard base64.
std::string ChangeKey(uint64_t key, uint32_t version);

// Timestamps as Graph prints them for the kind: seconds for messages, 7 digits otherwise.
std::string FormatItemTime(EntityKind kind, TimePoint t);
// Precision stored for the kind (tick-aligned always).
TimePoint ItemPrecision(EntityKind kind, TimePoint t);

// An event's start and end (Item::start, end) from its content, for calendarView windows:
// the dateTime read as UTC (events are kept in UTC, series.cc); unreadable: the epoch, so
// it overlaps no window.
void SetEventSpan(const Json& content, Item* item);

// The item's content properties (stored, or generated for a seeded item).
Json ContentOf(EntityKind kind, const Item& item, const UserRecord& owner,
               const TenantView& tenant);

// The value a filter reads of `property` in an item's content or rendered JSON: a string
// or a boolean; anything else (absent, null, an object) is null.
FilterValue JsonFilterValue(const Json& object, const std::string& property);

// A stored item as $filter sees it in a list query: timestamps from the item, other
// properties from its content, made (seeded items) or parsed once, on first use.
class ItemFilterSubject : public FilterSubject {
 public:
  ItemFilterSubject(EntityKind kind, const Item& item, const UserRecord& owner,
                    const TenantView& tenant)
      : kind_(kind), item_(item), owner_(owner), tenant_(tenant) {}
  TimePoint Time(TimeField field) const override { return item_.time(field); }
  FilterValue Value(const std::string& property) const override;

 private:
  const EntityKind kind_;
  const Item& item_;
  const UserRecord& owner_;
  const TenantView& tenant_;
  mutable std::optional<Json> content_;
};

// An item rendered in full (Render with no $select) as $filter sees it: notifications
// judge the item before and after a change this way.
class RenderedFilterSubject : public FilterSubject {
 public:
  explicit RenderedFilterSubject(const Json& rendered) : rendered_(rendered) {}
  TimePoint Time(TimeField field) const override;
  FilterValue Value(const std::string& property) const override {
    return JsonFilterValue(rendered_, property);
  }

 private:
  const Json& rendered_;
};

// The format a message body is served in: HTML unless the client asked for text with
// `Prefer: outlook.body-content-type="text"` ("Get message", "Request headers").
enum class BodyType { kHtml, kText };

// Graph JSON of the item. `select` empty: every property; else those plus id and
// @odata.etag. A message's body is served in `body_type`, converted if stored otherwise
// (ServedBody).
Json Render(EntityKind kind, const Item& item, const UserRecord& owner, const TenantView& tenant,
            const std::vector<std::string>& select, BodyType body_type = BodyType::kHtml);

// An itemBody as served in `type`: unchanged if stored in that type, else converted
// (TextToHtml, HtmlToText). Not an object: returned as is.
Json ServedBody(const Json& body, BodyType type);
// graphsim's text-to-HTML conversion: "" stays ""; else
// `<html><body><p>` + the text with `&`, `<`, `>`, `"` escaped and each line break (CRLF,
// LF or CR) as `<br>` + `</p></body></html>`.
std::string TextToHtml(std::string_view text);
// graphsim's HTML-to-text conversion: tags dropped (with the contents of head, style,
// script and title), `<br>` and the end of a p, div, li, tr or heading element a line
// break (CRLF), other runs of white space one space, the entities &amp; &lt; &gt; &quot;
// &#39; &apos; &nbsp; decoded, white space trimmed around line breaks and at both ends.
std::string HtmlToText(std::string_view html);

// What Outlook encrypts into a rich notification's encryptedContent ("Change
// notifications for Outlook resources in Microsoft Graph", the decrypted payload): of the
// item `rendered` in full, the `select`ed properties only (never `id`, the item's
// @odata.etag, @odata.type or @odata.id: those are in resourceData), in schema order, with
// OData type annotations: `name@odata.type` before a DateTimeOffset ("#DateTimeOffset"),
// an enum ("#microsoft.graph.importance") or a collection of complex values
// ("#Collection(microsoft.graph.recipient)"), and "@odata.type" first inside each complex
// value ("#microsoft.graph.recipient"), at any depth. `select` empty: every property.
Json RichContent(EntityKind kind, const Json& rendered, const std::vector<std::string>& select);

// Content of a new item before the client's fields apply. `draft` applies to messages.
Json DefaultContent(EntityKind kind, const UserRecord& owner, uint64_t key, bool draft,
                    TimePoint now);

// Applies the client's JSON object to `content`: unknown properties and wrong JSON types
// are errors (Graph's RequestBodyRead); read-only ones are ignored. Recomputes derived
// properties (bodyPreview, contact displayName).
std::optional<ApiError> ApplyFields(EntityKind kind, const Json& fields, Json* content);

// Seeded data: the folder a seeded message lives in (a function of its key, so its
// content agrees with it), and the seeded content.
int SeedMessageFolder(uint64_t key);
bool SeedMessageUnread(uint64_t key);
Json SeedContent(EntityKind kind, uint64_t key, const UserRecord& owner, const TenantView& tenant,
                 TimePoint created);

// bodyPreview: the text of the body (HTML tags dropped), whitespace collapsed, at most 255
// bytes, cut on a UTF-8 boundary.
std::string BodyPreview(const Json& body);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_SCHEMA_H_
