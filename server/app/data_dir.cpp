#include "server/app/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace mend::app {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kCreationMask = 077;

// Sets `mode(current mode)` on `path` unless it already has it.
template <typename Mode>
std::optional<std::string> tighten(const fs::path& path, Mode mode) {
  std::error_code ec;
  const auto current = fs::symlink_status(path, ec).permissions() & fs::perms::mask;
  if (ec) return "cannot read the mode of " + path.string() + ": " + ec.message();
  const fs::perms wanted = mode(current);
  if (current == wanted) return std::nullopt;
  fs::permissions(path, wanted, fs::perm_options::replace | fs::perm_options::nofollow, ec);
  if (ec) return "cannot restrict " + path.string() + " to its owner: " + ec.message();
  return std::nullopt;
}

}  // namespace

void restrict_file_creation() { ::umask(kCreationMask); }

std::optional<std::string> secure_data_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return "cannot create the data directory " + dir.string() + ": " + ec.message();
  }
  if (!fs::is_directory(dir, ec)) return "the data directory " + dir.string() + " is not a directory";
  if (auto failed = tighten(dir, [](fs::perms) { return kDataDirMode; })) return failed;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
    // Only group and other lose their bits: a file its owner made read-only stays so.
    auto owner_only = [](fs::perms current) { return current & fs::perms::owner_all; };
    if (auto failed = tighten(entry.path(), owner_only)) return failed;
  }
  if (ec) return "cannot list the data directory " + dir.string() + ": " + ec.message();
  return std::nullopt;
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

std::variant<DataDirLock, DataDirLock::Refusal> DataDirLock::take(const fs::path& dir) {
  const fs::path path = dir / kDataDirLockFile;
  auto failure = [&](const char* what) {
    return Refusal{"DATA_DIR",
                   std::string(what) + " " + path.string() + ": " + std::strerror(errno)};
  };
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return failure("cannot open");
  DataDirLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return failure("cannot lock");
    std::string holder;
    std::ifstream(path) >> holder;
    return Refusal{"DATA_DIR_IN_USE",
                   dir.string() + " is in use by another mendd" +
                       (holder.empty() ? std::string() : " (pid " + holder + ")") +
                       ": one data directory serves one mendd at a time"};
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    return failure("cannot write");
  }
  return lock;
}

}  // namespace mend::app
