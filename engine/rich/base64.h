// Strict base64 decoding (RFC 4648): the standard alphabet with padding, and the URL-safe
// alphabet without it (JWTs). No whitespace, nothing after the padding.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_RICH_BASE64_H_
#define GRAPHMIRROR_ENGINE_RICH_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace graphmirror::rich {

std::optional<std::string> DecodeBase64(std::string_view text);
std::optional<std::string> DecodeBase64Url(std::string_view text);

}  // namespace graphmirror::rich

#endif  // GRAPHMIRROR_ENGINE_RICH_BASE64_H_
