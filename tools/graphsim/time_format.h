// Graph's timestamp texts, parsed and printed by graphsim's own code (never the engine's:
// a shared misreading of Graph would hide in both).
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_TIME_FORMAT_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_TIME_FORMAT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "graphmirror/clock.h"

namespace graphsim {

using graphmirror::TimePoint;

// 100 ns: the finest precision Graph (.NET DateTimeOffset) keeps.
using Ticks = std::chrono::duration<int64_t, std::ratio<1, 10'000'000>>;

// An OData DateTimeOffset literal: "YYYY-MM-DDThh:mm[:ss[.f{1,7}]]" then "Z" or
// "+hh:mm"/"-hh:mm". Anything else (lower-case t/z, 8+ digits, no zone) is nullopt.
std::optional<TimePoint> ParseDateTimeOffset(std::string_view text);

// A dateTimeTimeZone's dateTime: as above but without a zone ("2026-01-01T10:00:00.0000000").
std::optional<TimePoint> ParseLocalDateTime(std::string_view text);

TimePoint TruncateToSeconds(TimePoint t);
TimePoint TruncateToTicks(TimePoint t);

// "2026-01-01T10:00:00Z": how Graph prints message timestamps.
std::string FormatSecondsZ(TimePoint t);
// "2026-01-01T10:00:00.1234567Z": how Graph prints event and contact timestamps.
std::string FormatTicksZ(TimePoint t);
// "2026-01-01T10:00:00.0000000": dateTimeTimeZone.dateTime.
std::string FormatTicksLocal(TimePoint t);
// "2026-01-01T10:00:00": innerError.date.
std::string FormatSecondsLocal(TimePoint t);
// "Thu, 01 Jan 2026 10:00:00 GMT": the HTTP Date header.
std::string FormatHttpDate(TimePoint t);

// Ticks since the Unix epoch, the form timestamps take inside paging tokens.
int64_t ToTicks(TimePoint t);
TimePoint FromTicks(int64_t ticks);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_TIME_FORMAT_H_
