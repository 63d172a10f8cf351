#include "server/engine/limits.h"

#include <cstddef>

namespace mend::engine {

std::string duration_text(std::uint32_t seconds) {
  auto count = [](std::uint32_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (seconds >= 3600 && seconds % 3600 == 0) return count(seconds / 3600, "hour");
  if (seconds >= 60 && seconds % 60 == 0) return count(seconds / 60, "minute");
  return count(seconds, "second");
}

std::string count_text(std::uint32_t count) {
  std::string digits = std::to_string(count);
  for (auto i = static_cast<std::ptrdiff_t>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), 1, ',');
  }
  return digits;
}

}  // namespace mend::engine
