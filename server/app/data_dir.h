// Who may read mendd's files (README "Security"). The data directory holds the database's
// clear columns (rooms, times, roles, event kinds, the audit log), the keys and the token
// secret: only the user mendd runs as may read any of it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace mend::app {

inline constexpr std::filesystem::perms kDataDirMode = std::filesystem::perms::owner_all;

// Makes every file the process creates from now on at most 0600 and every directory at most
// 0700, whatever umask mendd was started with (the process umask becomes 077). SQLite and
// every other writer inherit it. Call once, before any file is created.
void restrict_file_creation();

// Creates `dir` (mode 0700) when it is missing; otherwise sets it to 0700 and takes group's
// and others' bits from every regular file directly in it (files an older mendd or another
// umask left readable become 0600).
// Returns the reason, naming the path, when it cannot: mendd then refuses to start.
std::optional<std::string> secure_data_dir(const std::filesystem::path& dir);

inline constexpr const char* kDataDirLockFile = "mend.lock";

// One mendd per data directory: an exclusive lock (flock) on DIR/mend.lock, held while this
// object lives and released by the kernel however the process ends (kill -9 too). The file
// names the holder's pid for whoever finds it. Two servers on one directory would each serve
// rooms the other changes under it, and the SQLite store's writer relies on being the only
// one (it keeps each room's last committed seq: sqlite_writer.cpp).
class DataDirLock {
 public:
  struct Refusal {
    const char* code;  // DATA_DIR_IN_USE (another process holds it) or DATA_DIR
    std::string message;  // names the path, and the holder's pid when it is known
  };
  // The lock, or why it cannot be taken: mendd then refuses to start.
  static std::variant<DataDirLock, Refusal> take(const std::filesystem::path& dir);

  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mend::app
