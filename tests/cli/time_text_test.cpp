// Durations and clock times as typed and shown by the CLI.
#include <doctest/doctest.h>

#include "time_text.h"

using mend::cli::format_clock;
using mend::cli::format_date_time;
using mend::cli::format_duration;
using mend::cli::format_remaining;
using mend::cli::next_clock_time_ms;
using mend::cli::parse_duration;
using mend::cli::parse_moment_ms;
using std::chrono::seconds;

namespace {
// 2026-01-01 10:00:00 UTC.
constexpr std::int64_t kTen = 1'767'261'600'000;
constexpr std::int64_t kMinute = 60'000;
}  // namespace

TEST_CASE("durations are typed with s, m and h units, and a bare number means minutes") {
  CHECK(parse_duration("90s") == seconds(90));
  CHECK(parse_duration("2m") == seconds(120));
  CHECK(parse_duration("1h") == seconds(3600));
  CHECK(parse_duration("1h30m") == seconds(5400));
  CHECK(parse_duration(" 5M ") == seconds(300));
  CHECK(parse_duration("45") == seconds(2700));
}

TEST_CASE("durations that are empty, zero, unknown or over a week are refused") {
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("0m"));
  CHECK_FALSE(parse_duration("2x"));
  CHECK_FALSE(parse_duration("m"));
  CHECK_FALSE(parse_duration("1h30"));
  CHECK_FALSE(parse_duration("200h"));
  CHECK_FALSE(parse_duration("-2m"));
}

TEST_CASE("a clock time means its next occurrence on the local clock") {
  CHECK(next_clock_time_ms("18:30", kTen, 0) == kTen + (8 * 60 + 30) * kMinute);
  // Earlier than now: tomorrow.
  CHECK(next_clock_time_ms("09:00", kTen, 0) == kTen + 23 * 60 * kMinute);
  // The local clock is UTC+2: 10:00 UTC is 12:00 local, so 13:00 local is in one hour.
  CHECK(next_clock_time_ms("13:00", kTen, 7200) == kTen + 60 * kMinute);
  CHECK_FALSE(next_clock_time_ms("24:00", kTen, 0));
  CHECK_FALSE(next_clock_time_ms("18:3", kTen, 0));
  CHECK_FALSE(next_clock_time_ms("1830", kTen, 0));
}

TEST_CASE("a moment is a clock time or a duration from now") {
  CHECK(parse_moment_ms("in 45m", kTen, 0) == kTen + 45 * kMinute);
  CHECK(parse_moment_ms("2h", kTen, 0) == kTen + 120 * kMinute);
  CHECK(parse_moment_ms("11:15", kTen, 0) == kTen + 75 * kMinute);
  CHECK_FALSE(parse_moment_ms("soon", kTen, 0));
}

TEST_CASE("clock times and countdowns read naturally") {
  CHECK(format_clock(kTen, 0) == "10:00");
  CHECK(format_clock(kTen, -3600 * 5) == "05:00");
  CHECK(format_date_time(kTen, 0) == "2026-01-01 10:00");
  CHECK(format_remaining(102'000) == "1:42");
  CHECK(format_remaining(8'200) == "0:09");
  CHECK(format_remaining(-5) == "0:00");
  CHECK(format_remaining(19 * kMinute) == "19 min");
  CHECK(format_remaining(185 * kMinute) == "3 h 5 min");
  CHECK(format_duration(seconds(120)) == "2 min");
  CHECK(format_duration(seconds(90)) == "90 s");
  CHECK(format_duration(seconds(5400)) == "1 h 30 min");
  CHECK(format_duration(seconds(3600)) == "1 h");
}
