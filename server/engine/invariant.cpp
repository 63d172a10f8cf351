#include "server/engine/invariant.h"

#include <string>

namespace mend::engine {

void invariant_failed(const char* what, const char* file, int line) {
  throw InvariantViolation(std::string(what) + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace mend::engine
