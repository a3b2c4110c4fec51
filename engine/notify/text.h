// Percent-decoding of URL pieces for the receiver (query strings and resource paths).

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

namespace graphmirror::notify {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// nullopt for a malformed escape: a '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_
