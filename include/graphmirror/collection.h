// Collection: which kind of mailbox item a mirror table, a subscription or a query is
// about.
//
// Thread-safety: constants and free functions without shared state.

#ifndef GRAPHMIRROR_COLLECTION_H_
#define GRAPHMIRROR_COLLECTION_H_

#include <optional>
#include <string_view>

namespace graphmirror {

enum class Collection { kMessages, kEvents, kContacts };

// "messages", "events", "contacts": the names used in config, tables and Graph paths.
std::string_view CollectionName(Collection c);
std::optional<Collection> ParseCollection(std::string_view name);
inline constexpr Collection kAllCollections[] = {Collection::kMessages, Collection::kEvents,
                                                 Collection::kContacts};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_COLLECTION_H_
