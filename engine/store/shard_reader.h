// Reading the shards of a partitioned mirror (mirror-p{n}.db, docs/scale-out.md) as one:
// a private in-memory connection ATTACHes every shard file (read only) and one SQL
// statement reads them all, the recipe docs/scale-out.md gives for any SQLite client.
// The shards are read as they are: a daemon may be writing them (WAL readers never block
// it).
//
// Thread-safety: free functions; each call opens and closes its own connection.

#ifndef GRAPHMIRROR_ENGINE_STORE_SHARD_READER_H_
#define GRAPHMIRROR_ENGINE_STORE_SHARD_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "graphmirror/mirror.h"
#include "graphmirror/status.h"

namespace graphmirror::store {

struct ShardPath {
  int partition = 0;
  std::string path;
};

// SQLite attaches at most 10 databases by default (125 when compiled so): larger sets are
// read in groups of this many.
inline constexpr size_t kShardsPerConnection = 9;

// Full-text search over every shard (as MirrorTables::SearchMessages over one): best
// matches first across all of them (FTS5's rank of each shard).
Result<std::vector<Message>> SearchShardFiles(const std::vector<ShardPath>& shards,
                                              const std::string& text, const std::string& user_id,
                                              int limit);

// What each shard holds per mailbox.
struct ShardMailboxRow {
  int partition = 0;
  std::string user_id;
  int64_t messages = 0;
  int64_t events = 0;
  int64_t contacts = 0;
};
// Every (shard, mailbox) with rows or a subscription, by mailbox then partition.
Result<std::vector<ShardMailboxRow>> ShardMailboxRows(const std::vector<ShardPath>& shards);

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_SHARD_READER_H_
