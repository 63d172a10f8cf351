// Opening the SQLite store's database: file checks, integrity, schema and migrations
// (internal to server/store; SqliteStore::open runs them in this order: prepare_data_dir,
// check_header, matches_seal or else check_integrity, check_schema, set_pragmas, migrate,
// check_room_keys, finish_destroys). Every error names the file.
// Thread safety: none needed; they run once, on the opening thread, before any other use.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "server/store/crypto.h"
#include "server/store/sqlite_db.h"
#include "server/store/sqlite_store.h"

namespace mend::store::sqlite {

using OpenError = std::optional<StoreError>;

// SQLite's own corruption codes map to kCorrupt; everything else (I/O, busy, full) to
// kUnavailable.
StoreErrorCode code_of(int sqlite_rc);

// "cannot open the store: <file> <what>".
StoreError open_error(StoreErrorCode code, const std::filesystem::path& file,
                      const std::string& what);

// Creates the data directory (mode 0700) when absent.
OpenError prepare_data_dir(const std::filesystem::path& dir);

// The mode of every file the store creates: its owner only. SQLite gives -wal and -shm the
// database file's mode, so a database created 0600 keeps them private too.
inline constexpr std::filesystem::perms kPrivateFileMode =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;

// Creates `file` empty with mode 0600 when absent (SQLite would create it 0644 less the umask).
OpenError create_private_file(const std::filesystem::path& file);

// Checks the file header without SQLite: magic, page size, and that the file holds as many
// pages as its header says (a truncated file). nullopt when the file looks whole, else what is
// wrong. With a non-empty WAL beside it (after a crash) the file may legitimately be short or
// partly written by an interrupted checkpoint, which SQLite redoes from the WAL: then only
// the magic and page size are checked here, and quick_check judges the rest.
std::optional<std::string> check_header(const std::filesystem::path& path, bool wal_present);

// PRAGMA quick_check must answer "ok" (kCorrupt otherwise). With a non-zero `budget` the
// check is interrupted once it ran that long (kUnavailable, "interrupted").
OpenError check_integrity(Db& db, const std::filesystem::path& file,
                          std::chrono::milliseconds budget = std::chrono::milliseconds(0));

// --- The seal of a clean close: start-up without a second whole quick_check.
// close() of a store that checkpointed its whole WAL into the file and whose file then passed
// quick_check writes `<file>.seal` (seal_path): the file's size and XXH3-128 digest. At the
// next open,
// a file that matches its seal, with no WAL beside it, is byte for byte the file that passed
// quick_check at that close, so quick_check would answer the same: open skips it and hashes
// the file instead (page-cache speed, several GB/s, against about 0.35 GB/s for quick_check;
// the file is still read whole, so damage anywhere in it is still found). Any other file
// (no seal: first start, a crash, an older mend; a WAL beside it; one changed byte, a
// different size) gets the whole quick_check, as before. The seal only ever vouches for the
// exact bytes it hashed, so a stale or foreign seal cannot vouch for a damaged file.
std::filesystem::path seal_path(const std::filesystem::path& file);
// Whether `file` matches its seal (false: no seal, unreadable, malformed, or different).
bool matches_seal(const std::filesystem::path& file);
// Writes the seal of `file` as it is now (best effort: false when it could not).
bool write_seal(const std::filesystem::path& file);
// Removes the seal (a store that is open changes its file).
void remove_seal(const std::filesystem::path& file);

// Reads the schema version (PRAGMA user_version), refusing files of other applications
// (PRAGMA application_id) and of newer versions (kInvalid).
OpenError check_schema(Db& db, const std::filesystem::path& file, int& version);

// WAL mode, the durability's synchronous level, secure_delete, temporary files in memory.
OpenError set_pragmas(Db& db, const std::filesystem::path& file, Durability durability);

// Applies the migrations from `version` up to SqliteStore::kSchemaVersion, each in its own
// transaction with its user_version.
OpenError migrate(Db& db, const std::filesystem::path& file, int version);

// Every live room's key must unwrap under `master`: a wrong master key file is refused.
OpenError check_room_keys(Db& db, const crypto::Key& master, const std::filesystem::path& file,
                          const std::filesystem::path& key_file);

// Deletes the rows of rooms whose key was shredded by an interrupted destroy_room.
OpenError finish_destroys(Db& db, const std::filesystem::path& file);

}  // namespace mend::store::sqlite
