// Durations and clock times as people type and read them in the mend CLI: "2m", "90s", "1h30m",
// "18:30", and countdowns such as "1:42" or "19 min".
//
// Pure functions: no clock reads, no time-zone lookups. Callers pass "now" and the local UTC
// offset (seconds east of UTC), so every result is deterministic.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mend::cli {

// Parses a duration: one or more <number><unit> parts with units s, m, h (e.g. "90s", "2m",
// "1h", "1h30m"); a bare number means minutes. Surrounding spaces are ignored. Returns nullopt
// for anything else, for zero, and for more than 7 days.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// Parses a clock time "HH:MM" (24-hour, 0-23 and 0-59) and returns the next moment at or after
// `now_ms` (ms since the Unix epoch) when the local clock shows it, given the local UTC offset.
// A time earlier today means tomorrow. Returns nullopt when `text` is not a clock time.
std::optional<std::int64_t> next_clock_time_ms(std::string_view text, std::int64_t now_ms,
                                               int utc_offset_s);

// Resolves when-text for commands that take a moment: a clock time ("18:30", see
// next_clock_time_ms) or a duration from now ("45m", "in 45m"). Returns ms since the epoch.
std::optional<std::int64_t> parse_moment_ms(std::string_view text, std::int64_t now_ms,
                                            int utc_offset_s);

// "HH:MM" of `at_ms` on the local clock.
std::string format_clock(std::int64_t at_ms, int utc_offset_s);

// "YYYY-MM-DD HH:MM" of `at_ms` on the local clock.
std::string format_date_time(std::int64_t at_ms, int utc_offset_s);

// A countdown for people: "0:09", "1:42" (under 10 minutes, m:ss), "19 min" (under 2 hours),
// "3 h 5 min" (longer). Negative values are shown as "0:00".
std::string format_remaining(std::int64_t remaining_ms);

// A duration in words: "2 min", "90 s", "1 h", "1 h 30 min".
std::string format_duration(std::chrono::seconds duration);

}  // namespace mend::cli
