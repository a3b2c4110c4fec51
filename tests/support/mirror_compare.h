// Row-by-row comparison of a mirror database with the simulator's tenant: the same ids
// per (mailbox, collection), and for every item the same content (timestamps, subject,
// folder, the indexed columns and the stored JSON).
//
// Written independently of the engine's parsing: timestamps are normalized here, and
// the mirror is read with a fresh SQLite connection, as any user's sqlite3 would. Shared
// by the convergence checker and the crash tests (library mirror_compare).
//
// Thread-safety: reads `sim` and the database; call it once the engine stopped writing or
// accept that a concurrent write shows as a mismatch.

#ifndef GRAPHMIRROR_TESTS_SUPPORT_MIRROR_COMPARE_H_
#define GRAPHMIRROR_TESTS_SUPPORT_MIRROR_COMPARE_H_

#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store/store.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::convergence {

struct Mismatch {
  enum class Kind {
    kMissing,  // at Graph, not in the mirror
    kExtra,    // in the mirror, gone at Graph
    kContent,  // in both, with different content
    kOther,    // not about one item (a read failure, a subscription missing)
  };
  Kind kind = Kind::kOther;
  std::string user;
  std::string collection;
  std::string id;
  std::string detail;  // one line: which fields differ, mirror value vs Graph value
};

// "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.12Z", "2026-01-01T10:00:00.0000000" (a
// zone-less UTC dateTime) -> "2026-01-01T10:00:00.0000000Z"; anything else unchanged.
std::string NormalTime(std::string_view text);

// Every difference between the mirror (ids through `store`, rows through a new read-only
// connection to `db_path`) and `sim`, for the given users and `collections` (all three
// unless given). The JSON of items of `rich_users` is compared on the properties rich
// mailboxes keep. A message's json is compared without `body`, and its body (other
// users' messages) with message_bodies as text (sync.bodies = "text", the default).
//
// `scopes` holds, for the (user, collection) pairs of a scoped mirror, which of Graph's
// items (their JSON, as graphsim serves it) the mirror should hold; the others hold all.
using ScopeTruth =
    std::map<std::pair<std::string, Collection>, std::function<bool(const std::string& item_json)>>;
std::vector<Mismatch> CompareMirror(
    const graphsim::Simulator& sim, store::Store& store, const std::string& db_path,
    const std::vector<std::string>& users, const std::set<std::string>& rich_users = {},
    const std::vector<Collection>& collections = {std::begin(kAllCollections),
                                                  std::end(kAllCollections)},
    const ScopeTruth& scopes = {});

// Every difference between the mirror's container tables (those of `tables`, read through
// a new read-only connection to `db_path`: "mail_folders", ...) and graphsim's folders and
// calendars, row by row and column by column. The mail folders' well-known names are
// compared for the names the engine asks Graph for (inbox, drafts, sentitems,
// deleteditems, junkemail, archive, outbox). `collection` of each mismatch is the table.
std::vector<Mismatch> CompareContainers(const graphsim::Simulator& sim, const std::string& db_path,
                                        const std::vector<std::string>& users,
                                        const std::vector<std::string>& tables);

// Every difference between the mirror's event_occurrences (read through a new read-only
// connection to `db_path`) and graphsim's occurrences and exceptions within the calendar
// window the mirror's last events delta round used (its delta_links scope
// "{start}/{end}"): ids, series, type, original start, start, end and subject (times as
// UTC), and the JSON without annotations. `collection` of each mismatch is
// "event_occurrences". The JSON of `rich_users`' rows is compared on the properties rich
// mailboxes keep.
std::vector<Mismatch> CompareOccurrences(const graphsim::Simulator& sim, const std::string& db_path,
                                         const std::vector<std::string>& users,
                                         const std::set<std::string>& rich_users = {});

// One line per mismatch ("content user/messages/id: detail"), for test output.
std::string Describe(const std::vector<Mismatch>& mismatches, size_t at_most = 20);

// Every difference between a mirrored SharePoint list (Store::ListItems of `site`) and
// graphsim's: items missing or extra, and items whose JSON differs. `user` of each
// mismatch is the site, `collection` "list_items".
std::vector<Mismatch> CompareList(const graphsim::Simulator& sim, store::Store& store,
                                  const std::string& site, const std::string& list_id);

const char* KindName(Mismatch::Kind kind);

}  // namespace graphmirror::convergence

#endif  // GRAPHMIRROR_TESTS_SUPPORT_MIRROR_COMPARE_H_
