// A GET without Graph's token and request policy, for public documents the engine needs
// from outside Graph: the identity platform's signing keys (JWKS) for validation tokens.
//
// Thread-safety: a free function with no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_
#define GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_

#include <chrono>
#include <string>

#include "graphmirror/status.h"

namespace graphmirror::graph {

// The body of a 200 answer to GET `url` (https certificates verified), at most
// `max_bytes` long. Unavailable, naming the URL, for anything else.
Result<std::string> FetchPublicDocument(
    const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(10),
    size_t max_bytes = 1 << 20);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_
