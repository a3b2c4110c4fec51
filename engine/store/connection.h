// Opening SQLite connections with the settings the mirror's durability relies on.
//
// Thread-safety: a connection belongs to one thread at a time.

#ifndef GRAPHMIRROR_ENGINE_STORE_CONNECTION_H_
#define GRAPHMIRROR_ENGINE_STORE_CONNECTION_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>

#include "graphmirror/status.h"

namespace graphmirror::store {

enum class Access { kReadWrite, kReadOnly };

// The per-connection settings after journal_mode=WAL, as one SQL text: synchronous=FULL
// and foreign keys. (Benchmarks give their raw-SQLite baselines the same.)
const char* ConnectionPragmas();

// WAL, ConnectionPragmas(), busy timeout. A read-write open creates the
// file with mode 0600: it holds mail.
Result<std::unique_ptr<SQLite::Database>> OpenConnection(const std::string& path, Access access);

}  // namespace graphmirror::store

#endif  // GRAPHMIRROR_ENGINE_STORE_CONNECTION_H_
