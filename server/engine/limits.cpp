#include "server/engine/limits.h"

namespace mend::engine {

std::string duration_text(std::uint32_t seconds) {
  auto count = [](std::uint32_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (seconds >= 3600 && seconds % 3600 == 0) return count(seconds / 3600, "hour");
  if (seconds >= 60 && seconds % 60 == 0) return count(seconds / 60, "minute");
  return count(seconds, "second");
}

}  // namespace mend::engine
