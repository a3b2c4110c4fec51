// Absolute http(s) URLs as the Graph client needs them: split into origin and request
// target, so that a link Graph hands back can be checked against the configured host
// before anything (least of all the token) is sent to it.
//
// Thread-safety: plain values and free functions.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_URL_H_
#define GRAPHMIRROR_ENGINE_GRAPH_URL_H_

#include <string>
#include <string_view>

#include "graphmirror/status.h"

namespace graphmirror::graph {

struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // lower case; IPv6 literals keep their brackets
  int port = 0;        // explicit or the scheme's default
  std::string target;  // path and query, starts with '/'; the fragment is dropped

  // "scheme://host:port": what httplib::Client takes, and what identifies a server.
  std::string Origin() const;
  // "scheme://host", with ":port" only when it is not the scheme's default: how a
  // resource is named in an OAuth scope ("https://contoso.sharepoint.com/.default").
  std::string ResourceOrigin() const;
  // The path part of `target`, without the query.
  std::string_view Path() const;
};

// Parses "scheme://host[:port][/path][?query][#fragment]". Rejects other schemes, user
// info ("a@b": a classic way to smuggle a second host), bad ports, and whitespace or
// control characters anywhere (they would end up in the request line).
Result<Url> ParseUrl(std::string_view text);

// True if `text` starts with "http://" or "https://" in any case.
bool IsAbsoluteUrl(std::string_view text);

// False if `target` contains characters that must not appear in a request line.
bool IsSafeTarget(std::string_view target);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_URL_H_
