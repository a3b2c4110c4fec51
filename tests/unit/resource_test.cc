#include "engine/base/resource.h"

#include <catch2/catch.hpp>
#include <set>

namespace graphmirror {
namespace {

TEST_CASE("every collection has its own description, found by index and by name", "[base]") {
  std::set<std::string_view> names, permissions;
  for (Collection c : kAllCollections) {
    const ResourceDescription& d = Describe(c);
    CHECK(d.collection == c);  // the table's order is the enum's
    CHECK(CollectionName(c) == d.name);
    CHECK(ParseCollection(d.name) == c);
    names.insert(d.name);
    permissions.insert(d.permission);
    // Rich content is read by timestamp and version: both must be selected.
    CHECK(std::count(d.rich_properties.begin(), d.rich_properties.end(), "createdDateTime") == 1);
    CHECK(std::count(d.rich_properties.begin(), d.rich_properties.end(), "changeKey") == 1);
  }
  CHECK(names.size() == std::size(kAllCollections));
  CHECK(permissions.size() == std::size(kAllCollections));
  CHECK_FALSE(ParseCollection("mail"));
  CHECK(Describe(Collection::kMessages).permission == "Mail.Read");
  CHECK(Describe(Collection::kEvents).delta_scope == DeltaScopeKind::kCalendarWindow);
  CHECK_FALSE(Describe(Collection::kEvents).scoped_by_folder());
  // Contacts: the plain list is the default folder's only, so delta rounds read them.
  CHECK_FALSE(Describe(Collection::kContacts).list_covers_all);
  CHECK(Describe(Collection::kContacts).delta_scope == DeltaScopeKind::kContactFolders);
}

}  // namespace
}  // namespace graphmirror
