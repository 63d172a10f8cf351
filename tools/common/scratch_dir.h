// A benchmark's data directory: the one the user gave, or a fresh temporary one that goes away
// with the object (unless kept). Thread safety: one owner.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace mend::tools {

class ScratchDir {
 public:
  // `given` non-empty: that directory, never removed. Empty: a new directory
  // <system temp>/<prefix>-XXXXXX (mkdtemp), removed recursively at destruction unless `keep`.
  // nullopt when the temporary directory cannot be created.
  static std::optional<ScratchDir> make(const std::filesystem::path& given,
                                        const std::string& prefix, bool keep);

  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  ScratchDir(std::filesystem::path path, bool remove) : path_(std::move(path)), remove_(remove) {}

  std::filesystem::path path_;
  bool remove_ = false;  // a temporary directory not kept
};

}  // namespace mend::tools
