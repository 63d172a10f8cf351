#include "scratch_dir.h"

#include <stdlib.h>

#include <system_error>
#include <utility>

namespace mend::tools {

std::optional<ScratchDir> ScratchDir::make(const std::filesystem::path& given,
                                           const std::string& prefix, bool keep) {
  if (!given.empty()) return ScratchDir(given, false);
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) return std::nullopt;
  std::string name = (base / (prefix + "-XXXXXX")).string();
  if (mkdtemp(name.data()) == nullptr) return std::nullopt;
  return ScratchDir(name, !keep);
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept
    : path_(std::move(other.path_)), remove_(std::exchange(other.remove_, false)) {}

ScratchDir::~ScratchDir() {
  if (!remove_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: a benchmark's leftovers
}

}  // namespace mend::tools
