// The mirror's write operations, run on the writer thread inside a transaction.
//
// Thread-safety: writer thread only (they take a WriteContext).

#ifndef GRAPHMIRROR_ENGINE_STORE_MIRROR_WRITES_H_
#define GRAPHMIRROR_ENGINE_STORE_MIRROR_WRITES_H_

#include <string>

#include "engine/base/item.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

// Upserts, deletes and advances the watermark of one page. Throws on SQLite errors (the
// writer turns that into a Status and rolls the page back).
void WritePage(WriteContext& ctx, const PageWrite& page);

// Writes `item` unless the row holds a newer version or a `deleted` notification named
// the item (Graph never reuses an id; its lists may show a deleted item for a while).
void UpsertItem(WriteContext& ctx, const std::string& user_id, Collection collection,
                const MirrorItem& item, const std::string& synced_at);
void DeleteItem(WriteContext& ctx, const std::string& user_id, Collection collection,
                const std::string& id);
// A load's fresh delta rounds keep no record of what they list and sweep nothing at their
// end (see WriteDeltaPage): rows that something else writes into a loading mailbox's
// messages or contacts (a notification applied during its first sync) are queued for a
// check by id instead, which a round that lists them takes back. Called with the upserts of
// writes that are not the load's own rounds (notifications applied, items read by id).
void QueueIfLoading(WriteContext& ctx, const std::string& user_id, Collection collection,
                    const std::vector<MirrorItem>& upserts);
// Queues the item for a check by id with Graph (delta_removals, empty scope).
void QueueCheck(WriteContext& ctx, const std::string& user_id, Collection collection,
                const std::string& id);
// Moves the watermarks forward to the given values (never backward); an empty value
// leaves that watermark as it is.
void AdvanceWatermarks(WriteContext& ctx, const std::string& user_id, Collection collection,
                       const std::string& created_after, const std::string& modified_after,
                       const std::string& now);

// Stores a body's validation tokens; returns the id log rows refer to them by.
int64_t InsertTokenBatch(WriteContext& ctx, const std::vector<std::string>& tokens);
// Inserts accepted notifications (referring to `token_batch` if it is not 0); a
// dedupe_key already logged is skipped.
void AppendLogEntries(WriteContext& ctx, const std::vector<LogEntry>& entries,
                      int64_t token_batch = 0);
// Sets the state of log rows (failed rows get retry_at as next_attempt_at).
void MarkLogRows(WriteContext& ctx, const std::vector<int64_t>& seqs, LogState state,
                 const std::string& reason, TimePoint retry_at);

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_MIRROR_WRITES_H_
