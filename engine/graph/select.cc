#include "engine/graph/select.h"

namespace graphmirror::graph {
namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out.append(out.empty() ? "" : ",").append(name);
  return out;
}

}  // namespace

const std::vector<std::string>& RichProperties(Collection collection) {
  static const std::vector<std::string> kMessages = {"createdDateTime", "lastModifiedDateTime",
                                                     "changeKey",       "receivedDateTime",
                                                     "sentDateTime",    "subject",
                                                     "bodyPreview",     "from",
                                                     "sender",          "toRecipients",
                                                     "ccRecipients",    "parentFolderId",
                                                     "conversationId",  "internetMessageId",
                                                     "isRead",          "isDraft",
                                                     "importance",      "hasAttachments",
                                                     "categories",      "flag"};
  static const std::vector<std::string> kEvents = {"createdDateTime",
                                                   "lastModifiedDateTime",
                                                   "changeKey",
                                                   "subject",
                                                   "bodyPreview",
                                                   "start",
                                                   "end",
                                                   "location",
                                                   "organizer",
                                                   "attendees",
                                                   "isAllDay",
                                                   "isCancelled",
                                                   "showAs",
                                                   "importance",
                                                   "type",
                                                   "categories"};
  static const std::vector<std::string> kContacts = {"createdDateTime", "lastModifiedDateTime",
                                                     "changeKey",       "parentFolderId",
                                                     "displayName",     "givenName",
                                                     "surname",         "emailAddresses",
                                                     "companyName",     "jobTitle",
                                                     "businessPhones",  "mobilePhone",
                                                     "homePhones",      "categories"};
  switch (collection) {
    case Collection::kMessages:
      return kMessages;
    case Collection::kEvents:
      return kEvents;
    case Collection::kContacts:
      break;
  }
  return kContacts;
}

const std::string& RichSelect(Collection collection) {
  static const std::string kJoined[] = {Join(RichProperties(Collection::kMessages)),
                                        Join(RichProperties(Collection::kEvents)),
                                        Join(RichProperties(Collection::kContacts))};
  return kJoined[static_cast<int>(collection)];
}

}  // namespace graphmirror::graph
