#include "time_text.h"

#include <cctype>
#include <cstdio>

namespace mend::cli {
namespace {

constexpr std::int64_t kMaxDurationS = 7 * 24 * 3600;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Reads digits at `pos`; returns nullopt when there are none or the number is too large.
std::optional<std::int64_t> read_number(std::string_view text, std::size_t& pos) {
  const std::size_t start = pos;
  std::int64_t value = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    value = value * 10 + (text[pos] - '0');
    if (value > kMaxDurationS * 10) return std::nullopt;
    ++pos;
  }
  if (pos == start) return std::nullopt;
  return value;
}

std::int64_t floor_mod(std::int64_t value, std::int64_t divisor) {
  const std::int64_t rest = value % divisor;
  return rest < 0 ? rest + divisor : rest;
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::size_t pos = 0;
  std::int64_t total = 0;
  bool bare = true;
  while (pos < text.size()) {
    const auto number = read_number(text, pos);
    if (!number) return std::nullopt;
    if (pos == text.size()) {
      if (!bare) return std::nullopt;  // "1h30" is ambiguous
      total += *number * 60;
      break;
    }
    bare = false;
    const char unit = static_cast<char>(std::tolower(static_cast<unsigned char>(text[pos++])));
    if (unit == 's') {
      total += *number;
    } else if (unit == 'm') {
      total += *number * 60;
    } else if (unit == 'h') {
      total += *number * 3600;
    } else {
      return std::nullopt;
    }
    if (total > kMaxDurationS) return std::nullopt;
  }
  if (total <= 0 || total > kMaxDurationS) return std::nullopt;
  return std::chrono::seconds(total);
}

std::optional<std::int64_t> next_clock_time_ms(std::string_view text, std::int64_t now_ms,
                                               int utc_offset_s) {
  text = trim(text);
  std::size_t pos = 0;
  const auto hours = read_number(text, pos);
  if (!hours || pos == text.size() || text[pos] != ':' || pos > 2) return std::nullopt;
  ++pos;
  const std::size_t minutes_start = pos;
  const auto minutes = read_number(text, pos);
  if (!minutes || pos != text.size() || pos - minutes_start != 2) return std::nullopt;
  if (*hours > 23 || *minutes > 59) return std::nullopt;
  const std::int64_t offset_ms = static_cast<std::int64_t>(utc_offset_s) * 1000;
  const std::int64_t local_now = now_ms + offset_ms;
  const std::int64_t local_midnight = local_now - floor_mod(local_now, kDayMs);
  std::int64_t local_at = local_midnight + (*hours * 60 + *minutes) * 60 * 1000;
  if (local_at < local_now) local_at += kDayMs;
  return local_at - offset_ms;
}

std::optional<std::int64_t> parse_moment_ms(std::string_view text, std::int64_t now_ms,
                                            int utc_offset_s) {
  text = trim(text);
  if (text.substr(0, 3) == "in ") text.remove_prefix(3);
  if (auto at = next_clock_time_ms(text, now_ms, utc_offset_s)) return at;
  if (auto duration = parse_duration(text)) {
    return now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
  }
  return std::nullopt;
}

std::string format_clock(std::int64_t at_ms, int utc_offset_s) {
  const std::int64_t local = at_ms + static_cast<std::int64_t>(utc_offset_s) * 1000;
  const std::int64_t minute_of_day = floor_mod(local, kDayMs) / 60'000;
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%02d:%02d", static_cast<int>(minute_of_day / 60),
                static_cast<int>(minute_of_day % 60));
  return buffer;
}

std::string format_date_time(std::int64_t at_ms, int utc_offset_s) {
  using namespace std::chrono;
  const sys_time<milliseconds> local{
      milliseconds(at_ms + static_cast<std::int64_t>(utc_offset_s) * 1000)};
  const year_month_day date{floor<days>(local)};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buffer + format_clock(at_ms, utc_offset_s);
}

std::string format_remaining(std::int64_t remaining_ms) {
  if (remaining_ms < 0) remaining_ms = 0;
  const std::int64_t seconds = (remaining_ms + 999) / 1000;  // never show 0:00 early
  char buffer[32];
  if (seconds < 600) {
    std::snprintf(buffer, sizeof buffer, "%d:%02d", static_cast<int>(seconds / 60),
                  static_cast<int>(seconds % 60));
  } else if (seconds < 7200) {
    std::snprintf(buffer, sizeof buffer, "%d min", static_cast<int>((seconds + 59) / 60));
  } else {
    const std::int64_t minutes = (seconds + 59) / 60;
    std::snprintf(buffer, sizeof buffer, "%d h %d min", static_cast<int>(minutes / 60),
                  static_cast<int>(minutes % 60));
  }
  return buffer;
}

std::string format_duration(std::chrono::seconds duration) {
  const std::int64_t total = duration.count();
  if (total < 60 || (total < 600 && total % 60 != 0)) return std::to_string(total) + " s";
  const std::int64_t hours = total / 3600;
  const std::int64_t minutes = (total % 3600) / 60;
  if (hours == 0) return std::to_string(minutes) + " min";
  if (minutes == 0) return std::to_string(hours) + " h";
  return std::to_string(hours) + " h " + std::to_string(minutes) + " min";
}

}  // namespace mend::cli
