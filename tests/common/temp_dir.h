// TempDir: a fresh directory for one test, removed with everything in it on destruction.
//
// The directory is <system temp directory>/mend-<label>-XXXXXX, made unique (and created, mode
// 0700) by mkdtemp. Errors: the constructor throws std::runtime_error when it cannot be
// created; removal errors are ignored. Thread safety: none needed (one object, one owner);
// distinct objects may be used from distinct threads.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace mend::testing {

class TempDir {
 public:
  // `label` names the directory (mend-<label>-XXXXXX), so a left-over one says whose it was.
  explicit TempDir(std::string_view label = "test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("mend-" + std::string(label) + "-XXXXXX"))
            .string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mend::testing
