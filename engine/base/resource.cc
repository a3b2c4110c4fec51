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
       {"createdDateTime", "lastModifiedDateTime", "changeKey", "subject", "bodyPreview", "start",
        "end", "location", "organizer", "attendees", "isAllDay", "isCancelled", "showAs",
        "importance", "type", "categories"}},
      {Collection::kContacts,
       "contacts",
       "Contacts.Read",
       DeltaScopeKind::kContactFolders,
       /*list_covers_all=*/false,
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
