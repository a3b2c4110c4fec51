// Requests without Graph's token and request policy, to public endpoints outside Graph: the
// identity platform's signing keys (JWKS) for validation tokens, and the webhook's own
// public URL (`graphmirror doctor` tries its validation handshake).
//
// Thread-safety: free functions with no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_
#define GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_

#include <chrono>
#include <cstddef>
#include <string>

#include "graphmirror/status.h"

namespace graphmirror::graph {

struct PublicAnswer {
  int status = 0;
  std::string body;
};

// One request to `url` (GET, or POST with `body` of `content_type`; https certificates
// verified; redirects not followed) and its answer, whatever its status. Unavailable,
// naming the URL, when there is no answer or a GET's body is over `max_bytes` (a POST's
// is cut there).
Result<PublicAnswer> PublicRequest(const std::string& method, const std::string& url,
                                   const std::string& body = "",
                                   const std::string& content_type = "",
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                   size_t max_bytes = 1 << 20);

// The body of a 200 answer to GET `url`; Unavailable, naming the URL, for anything else.
Result<std::string> FetchPublicDocument(
    const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(10),
    size_t max_bytes = 1 << 20);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_PUBLIC_FETCH_H_
