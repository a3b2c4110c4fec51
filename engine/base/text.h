// Small text helpers: one-line messages and log lines from untrusted text, JSON string
// literals, ASCII case folding.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_BASE_TEXT_H_
#define GRAPHMIRROR_ENGINE_BASE_TEXT_H_

#include <string>
#include <string_view>

namespace graphmirror {

// `text` with control characters as spaces, cut to `max` characters (then "..."), so that
// nothing a server sends can break a log line or a one-line error in two.
std::string OneLine(std::string_view text, size_t max = 300);

// OneLine of the text before its first line break: AAD's error descriptions carry
// "\r\nTrace ID: ..." lines that say nothing to a user.
std::string FirstLine(std::string_view text, size_t max = 300);

// `text` as a JSON string literal, quotes included.
std::string JsonString(std::string_view text);

// ASCII lower case (header names, hosts, schemes).
std::string AsciiLower(std::string_view text);

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_TEXT_H_
