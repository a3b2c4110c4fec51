// CollectionSync::StopReason: which refusals stop a collection, and that the line names the
// permission and the resource.

#include "engine/sync/collection_sync.h"

#include <catch2/catch.hpp>

namespace graphmirror::sync {

TEST_CASE("collection_sync: a 403 names the permission and the resource", "[sync]") {
  const std::string reason = CollectionSync::StopReason(
      "u-1", Collection::kEvents,
      Status::PermissionDenied("ErrorAccessDenied: Access is denied. (HTTP 403, GET /x)"));
  CHECK_THAT(reason, Catch::Contains("/users/u-1/events") &&
                         Catch::Contains("application permission Calendars.Read") &&
                         Catch::Contains("ErrorAccessDenied"));
  CHECK(reason.find('\n') == std::string::npos);
  CHECK_THAT(CollectionSync::StopReason("u", Collection::kMessages, Status::PermissionDenied("x")),
             Catch::Contains("Mail.Read"));
  CHECK_THAT(CollectionSync::StopReason("u", Collection::kContacts, Status::PermissionDenied("x")),
             Catch::Contains("Contacts.Read"));
}

TEST_CASE("collection_sync: rejected credentials stop; transient failures do not", "[sync]") {
  CHECK_THAT(CollectionSync::StopReason(
                 "u", Collection::kMessages,
                 Status::Unauthenticated("invalid_client: AADSTS7000215: Invalid client secret")),
             Catch::Contains("credentials") && Catch::Contains("AADSTS7000215"));
  CHECK(CollectionSync::StopReason("u", Collection::kMessages, Status::Unavailable("503")).empty());
  CHECK(CollectionSync::StopReason("u", Collection::kMessages, Status::NotFound("404")).empty());
  CHECK(CollectionSync::StopReason("u", Collection::kMessages, Status::Ok()).empty());
}

}  // namespace graphmirror::sync
