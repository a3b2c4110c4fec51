#include "engine/base/resource.h"

namespace graphmirror {

const ResourceDescription& Describe(Collection collection) {
  // Built on first use, so that static initializers elsewhere may ask for names too.
  // Indexed by Collection.
  static const ResourceDescription kDescriptions[] = {
      {Collection::kMessages,
       "messages",
       "Mail.Read",
       DeltaScopeKind::kMailFolders,
       /*list_covers_all=*/true,
       " AND t.folder_id = ?3",
       {"createdDateTime", "lastModifiedDateTime",
        "changeKey",       "receivedDateTime",
        "sentDateTime",    "subject",
        "bodyPreview",     "from",
        "sender",          "toRecipients",
        "ccRecipients",    "parentFolderId",
        "conversationId",  "internetMessageId",
        "isRead",          "isDraft",
        "importance",      "hasAttachments",
        "categories",      "flag"}},
      {Collection::kEvents,
       "events",
       "Calendars.Read",
       DeltaScopeKind::kCalendarWindow,
       /*list_covers_all=*/true,
       // The rows overlapping the window "{start}/{end}" (rows without times too).
       " AND (t.start_at IS NULL OR t.start_at < substr(?3, instr(?3, '/') + 1))"
       " AND (t.end_at IS NULL OR t.end_at > substr(?3, 1, instr(?3, '/') - 1))",
       {"createdDateTime", "lastModifiedDateTime", "changeKey", "subject", "bodyPreview", "start",
        "end", "location", "organizer", "attendees", "isAllDay", "isCancelled", "showAs",
        "importance", "type", "categories"}},
      {Collection::kContacts,
       "contacts",
       "Contacts.Read",
       DeltaScopeKind::kContactFolders,
       /*list_covers_all=*/false,
       // A row without a folder (stored before contacts had folders) is in the first folder
       // whose fresh round does not list it.
       " AND (t.folder_id = ?3 OR t.folder_id IS NULL)",
       {"createdDateTime", "lastModifiedDateTime", "changeKey", "parentFolderId", "displayName",
        "givenName", "surname", "emailAddresses", "companyName", "jobTitle", "businessPhones",
        "mobilePhone", "homePhones", "categories"}},
  };
  static_assert(std::size(kDescriptions) == std::size(kAllCollections));
  return kDescriptions[static_cast<size_t>(collection)];
}

std::string_view CollectionName(Collection c) { return Describe(c).name; }

std::optional<Collection> ParseCollection(std::string_view name) {
  for (Collection c : kAllCollections) {
    if (Describe(c).name == name) return c;
  }
  return std::nullopt;
}

}  // namespace graphmirror
