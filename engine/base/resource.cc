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
        "importance", "type", "categories", "seriesMasterId", "originalStart", "recurrence"}},
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

std::span<const ContainerDescription> AllContainers() {
  // "mailFolder resource type", "contactFolder resource type", "calendar resource type"
  // (v1.0 properties); "mailFolder: delta", "contactFolder: delta", "List calendars".
  static const ContainerDescription kContainers[] = {
      {"mail_folders",
       Collection::kMessages,
       "/mailFolders/delta",
       /*delta=*/true,
       /*select=*/true,
       {{"parent_id", "parentFolderId"},
        {"display_name", "displayName"},
        {"is_hidden", "isHidden", ColumnType::kBool},
        {"is_search_folder", "@odata.type", ColumnType::kBool, "#microsoft.graph.mailSearchFolder"},
        {"child_folder_count", "childFolderCount", ColumnType::kInteger},
        {"unread_count", "unreadItemCount", ColumnType::kInteger},
        {"total_count", "totalItemCount", ColumnType::kInteger},
        {"well_known_name", ""}},
       "/mailFolders/{name}",
       {"inbox", "drafts", "sentitems", "deleteditems", "junkemail", "archive", "outbox"},
       "well_known_name"},
      {"contact_folders",
       Collection::kContacts,
       "/contactFolders/delta",
       /*delta=*/true,
       /*select=*/true,
       {{"parent_id", "parentFolderId"}, {"display_name", "displayName"}}},
      {"calendars",
       Collection::kEvents,
       "/calendars",
       /*delta=*/false,
       /*select=*/false,
       {{"name", "name"},
        {"color", "color"},
        {"is_default", "isDefaultCalendar", ColumnType::kBool},
        {"can_edit", "canEdit", ColumnType::kBool},
        {"owner_name", "owner/name"},
        {"owner_address", "owner/address"},
        {"change_key", "changeKey"}}},
  };
  return kContainers;
}

const ContainerDescription* FindContainer(std::string_view name) {
  for (const ContainerDescription& d : AllContainers()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string_view CollectionName(Collection c) { return Describe(c).name; }

std::optional<Collection> ParseCollection(std::string_view name) {
  for (Collection c : kAllCollections) {
    if (Describe(c).name == name) return c;
  }
  return std::nullopt;
}

}  // namespace graphmirror
