// Graph's DateTimeOffset text: parsing (0-7 fractional digits, "Z" or any offset) and
// the normalized form the mirror stores, "YYYY-MM-DDTHH:MM:SS.fffffffZ".
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_TIMESTAMP_H_
#define GRAPHMIRROR_ENGINE_GRAPH_TIMESTAMP_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace graphmirror::graph {

// 100 ns ticks since the Unix epoch: Graph's finest precision.
using Ticks = std::chrono::duration<int64_t, std::ratio<1, 10'000'000>>;
using Timestamp = std::chrono::time_point<std::chrono::system_clock, Ticks>;

// Accepts "2022-01-02T03:12:18.2257768+05:30", "2026-01-01T00:00:00Z", and offset-less
// "2026-01-01T10:00:00.0000000" (taken as UTC, as Graph's dateTimeTimeZone is with UTC).
std::optional<Timestamp> ParseTimestamp(std::string_view text);
// "YYYY-MM-DDTHH:MM:SS.fffffffZ".
std::string FormatTimestamp(Timestamp t);
// Parse + format; empty optional if the text is not a timestamp.
std::optional<std::string> NormalizeTimestamp(std::string_view text);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_TIMESTAMP_H_
