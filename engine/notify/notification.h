// Graph change notifications as they arrive at the webhook: the parsed form of a
// changeNotificationCollection body (GRAPH.md sections 3 and 4), and the item id carried
// in a notification's resource path. The Outlook REST API v2.0 dialect (section 10:
// PascalCase fields, `#Microsoft.OutlookServices.Notification` items with a
// SequenceNumber, `ChangeType: Missed`) is understood too.
//
// Thread-safety: free functions without shared state; safe from any thread.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_NOTIFICATION_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_NOTIFICATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/status.h"

namespace graphmirror::notify {

// One changeNotification. Absent and null fields are empty strings.
struct Notification {
  std::string id;               // changeNotification.id; Graph often omits it
  std::string subscription_id;  // never empty
  std::string client_state;
  // "created", "updated" or "deleted" (any casing is folded to these); an unknown value is
  // kept as sent. Empty for lifecycle notifications.
  std::string change_type;
  // "reauthorizationRequired", "subscriptionRemoved", "missed", or a future value, as
  // sent. Empty for change notifications. At least one of the two is set.
  std::string lifecycle_event;
  std::string resource;
  // resourceData.id, else the id at the end of `resource` (ResourceItemId), else empty
  // (lifecycle items name a subscription, not an item).
  std::string resource_id;
  std::string etag;       // resourceData.@odata.etag
  std::string tenant_id;  // tenantId, or organizationId on some lifecycle items
  // SharePoint list webhooks: siteUrl (the site's path). Their items carry no change type
  // (they only say "this list changed"); `resource` is the list id.
  std::string site_url;
  // Outlook REST v2.0: the subscription's running count of notifications (a gap means
  // some were lost); nullopt in Graph's dialect.
  std::optional<int64_t> sequence_number;
  bool has_encrypted_content = false;  // a rich notification: encryptedContent is set
  // The fields of encryptedContent (base64 text), for the decryptor (engine/rich).
  struct Encrypted {
    std::string data;
    std::string data_key;
    std::string data_signature;
    std::string certificate_id;
    std::string certificate_thumbprint;
  } encrypted;
};

// A whole body: its items and, for rich notifications, the validation tokens (JWTs)
// that vouch for it.
struct NotificationCollection {
  std::vector<Notification> items;
  std::vector<std::string> validation_tokens;
};

// Parses a changeNotificationCollection: {"value":[...], "validationTokens":[...], ...}.
// The whole body must be one valid JSON object (fields not read are validated too).
// InvalidArgument, with a one-line reason, for: not JSON, not an object, trailing content,
// no "value" array, an item that is not an object, an item without subscriptionId or
// without changeType and lifecycleEvent, a read field of the wrong type. Unknown fields,
// nulls, validationTokens and any time format are accepted. Field names match with their
// first letter in either case (`subscriptionId`, v2.0's `SubscriptionId`); v2.0's
// `ChangeType: Missed` becomes the lifecycle event "missed". A SharePoint item (with
// siteUrl) needs no changeType.
Result<std::vector<Notification>> ParseNotificationCollection(std::string_view body);
// The same, keeping the validationTokens (an array of strings, else InvalidArgument).
Result<NotificationCollection> ParseNotificationBody(std::string_view body);

// The item id at the end of a notification resource path:
//   Users/{uid}/Messages/{id}               users/{uid}@{tid}/messages/{id}
//   Users('{uid}')/messages('{id}')         /users/{uid}/mailFolders('x')/messages('{id}')
//   https://outlook.office.com/api/v2.0/Users('{uid}')/Messages('{id}')   (v2.0: a URL)
// and the same for events and contacts. Segment names match in any case; the id is
// returned exactly (case kept), percent-decoded, with OData's doubled quotes undone.
// nullopt if the path does not end in an item of a mail, calendar or contact collection
// (for example `Subscriptions/{id}` of a lifecycle notification) or is malformed.
std::optional<std::string> ResourceItemId(std::string_view resource);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_NOTIFICATION_H_
