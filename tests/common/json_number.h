// The number after "key": in a flat JSON text (mend-load's --json result): the first occurrence,
// so a key that also appears in a nested object must be asked for by its first place.
// Throws std::runtime_error (with the text) when the key is missing. Pure; any thread.
#pragma once

#include <regex>
#include <stdexcept>
#include <string>

namespace mend::testing {

inline double json_number(const std::string& json, const std::string& key) {
  const std::regex pattern("\"" + key + "\":(-?[0-9.]+)");
  std::smatch match;
  if (!std::regex_search(json, match, pattern)) {
    throw std::runtime_error("no " + key + " in " + json);
  }
  return std::stod(match[1].str());
}

}  // namespace mend::testing
