// Small text helpers of the notify room: percent-decoding of URL pieces and quoting of
// untrusted text for logs and error messages. Kept here rather than shared with
// engine/graph, which this room must not depend on.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

namespace graphmirror::notify {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// nullopt for a malformed escape: a '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// `text` as one short, printable line for logs and error messages: control bytes become
// '?', and anything past `max` bytes becomes "...". Request fields are attacker-controlled;
// this keeps them from forging log lines.
std::string LogSafe(std::string_view text, size_t max = 80);

// ASCII lower case.
std::string AsciiLower(std::string_view text);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_TEXT_H_
