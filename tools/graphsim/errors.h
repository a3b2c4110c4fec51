// Graph's error responses: {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}}, with the JSON content type Graph uses.
//
// Thread-safety: free functions; request ids come from an atomic counter.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_ERRORS_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_ERRORS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/odata.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

inline constexpr char kJsonContentType[] =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8";

// A fresh GUID for the request-id header and innerError.
std::string NewRequestId();

HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message,
                           TimePoint now);
inline HttpResponse ErrorResponse(const ApiError& error, TimePoint now) {
  return ErrorResponse(error.status, error.code, error.message, now);
}
HttpResponse JsonResponse(int status, const std::string& body);

// Serializes without ever throwing: invalid UTF-8 (say, from a path echoed in a message)
// becomes U+FFFD instead of an exception.
std::string DumpJson(const nlohmann::ordered_json& json);

// "2.128" / "2": Retry-After text for a number of seconds.
std::string FormatRetryAfter(double seconds);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_ERRORS_H_
