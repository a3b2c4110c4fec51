// Bulk loads (schema/017_bulk_load.sql): the writer-side steps behind
// MirrorTables::BeginLoad and FinishLoad, and the repair run when a database is opened.
//
// A load of (mailbox, collection) starts only while the mailbox's collection holds no
// rows. Until it finishes, the FTS5 triggers skip the collection's rows (messages and
// their bodies), and if the collection's table held no rows of any mailbox when the load
// began, the table's secondary indexes are dropped (their statements kept in
// bulk_dropped_indexes). Finishing indexes the rows a chunk per transaction, moving the
// load's marks so that the triggers keep every row at or below them indexed, removes the
// load in the transaction of the last chunk, and then makes the dropped indexes again once
// no load of the collection remains.
//
// Thread-safety: writer thread only (they take a WriteContext), except
// RestoreDroppedIndexes, which runs on a connection no other thread uses.

#ifndef GRAPHMIRROR_ENGINE_STORE_BULK_LOAD_H_
#define GRAPHMIRROR_ENGINE_STORE_BULK_LOAD_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>

#include "engine/base/item.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

// Rows of messages (and as many of bodies) indexed per transaction when a load finishes:
// bounds how long the writer is held by one step.
inline constexpr int kLoadIndexChunk = 20000;

// While a load is open or its dropped indexes wait to be made, the writer's connection
// checkpoints the WAL once it passes this many pages instead of SQLite's 1,000 (a page of
// messages with their bodies is about that much; checkpointing after nearly every commit
// was a quarter of the writer's time), and keeps this much page cache instead of SQLite's
// 2 MiB (a page's rows did not fit: SQLite spilled dirty pages mid-transaction and read
// index pages back). Restored when the last is done, whose commit then checkpoints the
// log. The cache would count against the process's memory twice over while an index is
// made (SQLite's sorter takes up to cache_size for its runs; 16 MiB took a first sync's
// peak RSS from 52 to 72 MiB for no measurable speed, BENCHMARKS.md rows 3, 4 and 6), so
// the dropped indexes are made with kIndexBuildCacheKiB (SQLite's default) instead.
inline constexpr int kLoadWalAutocheckpoint = 20000;  // pages: 80 MiB of log at 4 KiB
inline constexpr int kLoadCacheKiB = 8192;
inline constexpr int kIndexBuildCacheKiB = 2048;

// Whether a load of (user_id, collection) is open.
bool LoadOpen(WriteContext& ctx, const std::string& user_id, Collection collection);

// Starts a load of the collection unless one is open or the mailbox's collection holds
// rows; true if a load is open afterwards.
bool BeginLoadJob(WriteContext& ctx, const std::string& user_id, Collection collection);

// One step of finishing a load: indexes up to kLoadIndexChunk more rows; when none is left,
// removes the load. True once no load of (user_id, collection) is open.
bool FinishLoadStep(WriteContext& ctx, const std::string& user_id, Collection collection);

// Makes one index dropped for loads of `collection` again, if no load of the collection
// is open; false if none is waiting to be made (or a load still holds them).
bool RestoreOneIndex(WriteContext& ctx, Collection collection);

// Makes again every dropped index whose collection no load holds (a process that died
// between a load's end and its indexes). Throws on SQLite errors.
void RestoreDroppedIndexes(SQLite::Database& db);

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_BULK_LOAD_H_
