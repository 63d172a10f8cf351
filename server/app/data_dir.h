// Who may read mendd's files (README "Security"). The data directory holds the database's
// clear columns (rooms, times, roles, event kinds, the audit log), the keys and the token
// secret: only the user mendd runs as may read any of it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

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

}  // namespace mend::app
