#include "server/store/sqlite_schema.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>
#include <system_error>

namespace mend::store::sqlite {
namespace {

constexpr std::size_t kSqliteHeaderBytes = 100;

// Schema migrations: kMigrations[v] takes user_version v to v + 1. Append only.
constexpr std::array<const char*, SqliteStore::kSchemaVersion> kMigrations = {
    // 0 -> 1: rooms, their wrapped keys, sealed events and sealed command results.
    R"sql(
      PRAGMA application_id = 1835363940;
      CREATE TABLE rooms (
        room_id     TEXT PRIMARY KEY NOT NULL,
        last_seq    INTEGER NOT NULL,
        first_at_ms INTEGER NOT NULL,
        last_at_ms  INTEGER NOT NULL,
        destroyed   INTEGER NOT NULL DEFAULT 0  -- 1: key shredded, id reserved
      ) WITHOUT ROWID;
      CREATE TABLE room_keys (
        room_id     TEXT PRIMARY KEY NOT NULL,
        wrapped_key BLOB NOT NULL               -- AES-256-GCM under the master key
      ) WITHOUT ROWID;
      CREATE TABLE events (
        room_id    TEXT NOT NULL,
        seq        INTEGER NOT NULL CHECK (seq > 0),
        at_ms      INTEGER NOT NULL,
        actor_role INTEGER NOT NULL,            -- mend.v1.Role number
        kind       INTEGER NOT NULL,            -- mend.v1.Event body field number
        sealed     BLOB NOT NULL,               -- Event encoding under the room key
        PRIMARY KEY (room_id, seq)
      );
      CREATE TABLE results (
        room_id TEXT NOT NULL,
        lookup  BLOB NOT NULL,                  -- HMAC of participant and command id
        sealed  BLOB NOT NULL,                  -- CommandResult encoding under the room key
        PRIMARY KEY (room_id, lookup)
      );
    )sql",
    // 1 -> 2: the content-free audit log (kept after a room is destroyed).
    R"sql(
      CREATE TABLE audit (
        id      INTEGER PRIMARY KEY NOT NULL,   -- append order
        room_id TEXT NOT NULL,
        at_ms   INTEGER NOT NULL,
        kind    INTEGER NOT NULL,               -- mend.v1.AuditKind number
        entry   BLOB NOT NULL                   -- AuditEntry encoding (content-free, in clear)
      );
      CREATE INDEX audit_by_room ON audit (room_id, id);
    )sql",
    // 2 -> 3: who created each room (a content-free digest), for the room quota.
    R"sql(
      ALTER TABLE rooms ADD COLUMN creator BLOB NOT NULL DEFAULT x'';
    )sql",
    // 3 -> 4: recorded rejections (results without events), bounded per participant.
    R"sql(
      -- NULL: an accepted command's result. Else the command was rejected, and this is a keyed
      -- digest of the participant (under the room key: reveals nobody) to bound them per
      -- participant; rowid order is recording order.
      ALTER TABLE results ADD COLUMN rejected_by BLOB;
      CREATE INDEX results_rejected ON results (room_id, rejected_by)
        WHERE rejected_by IS NOT NULL;
    )sql",
    // 4 -> 5: partners' refusals counted by code (content-free; insights, issue 14).
    R"sql(
      CREATE TABLE refusals (
        room_id     TEXT NOT NULL,
        participant INTEGER NOT NULL,           -- the partner's mend.v1.Role number
        code        INTEGER NOT NULL,           -- mend.v1.RejectionCode number
        count       INTEGER NOT NULL,
        PRIMARY KEY (room_id, participant, code)
      ) WITHOUT ROWID;
    )sql",
    // 5 -> 6: a room's last seq and its times are read from its events (the first and the
    // highest seq), so an append no longer rewrites the room's row.
    R"sql(
      ALTER TABLE rooms DROP COLUMN last_seq;
      ALTER TABLE rooms DROP COLUMN first_at_ms;
      ALTER TABLE rooms DROP COLUMN last_at_ms;
    )sql",
};
static_assert(SqliteStore::kApplicationId == 1835363940);

StoreError error(StoreErrorCode code, std::string message) {
  return StoreError{code, std::move(message)};
}

std::uint32_t read_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

StoreErrorCode code_of(int sqlite_rc) {
  const int primary = sqlite_rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? StoreErrorCode::kCorrupt
                                                               : StoreErrorCode::kUnavailable;
}

std::optional<std::string> check_header(const std::filesystem::path& path, bool wal_present) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return "cannot read its size: " + ec.message();
  if (size == 0) return std::nullopt;  // an empty file is a new database
  if (size < kSqliteHeaderBytes) {
    return "is truncated (" + std::to_string(size) + " bytes, shorter than a SQLite header)";
  }
  std::array<unsigned char, kSqliteHeaderBytes> header{};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(header.data()), header.size());
  if (!in) return "cannot read its header";
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    return "is not a SQLite database (damaged header)";
  }
  std::uint32_t page_size = (std::uint32_t{header[16]} << 8) | header[17];
  if (page_size == 1) page_size = 65'536;
  if (page_size < 512 || page_size > 65'536 || (page_size & (page_size - 1)) != 0) {
    return "has a damaged header (page size " + std::to_string(page_size) + ")";
  }
  if (!wal_present && size % page_size != 0) {
    return "is truncated or damaged (" + std::to_string(size) + " bytes is not a whole number of " +
           std::to_string(page_size) + "-byte pages)";
  }
  const std::uint32_t page_count = read_be32(&header[28]);
  const bool count_valid = page_count != 0 && read_be32(&header[24]) == read_be32(&header[92]);
  if (!wal_present && count_valid && size < std::uint64_t{page_count} * page_size) {
    return "is truncated (its header counts " + std::to_string(page_count) +
           " pages, the file holds " + std::to_string(size / page_size) + ")";
  }
  const std::uint32_t application_id = read_be32(&header[68]);
  if (application_id != 0 &&
      application_id != static_cast<std::uint32_t>(SqliteStore::kApplicationId)) {
    return "is a SQLite database of another application";
  }
  return std::nullopt;
}

StoreError open_error(StoreErrorCode code, const std::filesystem::path& file,
                      const std::string& what) {
  return error(code, "cannot open the store: " + file.string() + " " + what);
}

OpenError prepare_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.empty())
    return error(StoreErrorCode::kInvalid, "cannot open the store: no data directory");
  if (std::filesystem::create_directories(dir, ec)) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  }
  if (ec || !std::filesystem::is_directory(dir, ec)) {
    return open_error(StoreErrorCode::kUnavailable, dir,
                      "is not a usable data directory" + (ec ? ": " + ec.message() : ""));
  }
  return std::nullopt;
}

OpenError create_private_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return open_error(StoreErrorCode::kUnavailable, file, "cannot be created");
  ::close(fd);
  return std::nullopt;
}

OpenError set_pragmas(Db& db, const std::filesystem::path& file, Durability durability) {
  std::string message;
  auto mode = db.query_text("PRAGMA journal_mode = WAL", message);
  if (!mode || *mode != "wal") {
    return open_error(StoreErrorCode::kUnavailable, file, "cannot use WAL mode: " + message);
  }
  const char* sync =
      durability == Durability::kFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  if (auto failed = db.exec(sync)) return open_error(StoreErrorCode::kUnavailable, file, *failed);
  if (auto failed = db.exec("PRAGMA secure_delete = ON")) {
    return open_error(StoreErrorCode::kUnavailable, file, *failed);
  }
  // A rewrite's savepoint journals the old images of the pages it changes (old ciphertext);
  // past 64 KiB SQLite spills that journal to a temporary file, which costs system calls and
  // leaves the images in the file system's free blocks. In memory it costs neither.
  if (auto failed = db.exec("PRAGMA temp_store = MEMORY")) {
    return open_error(StoreErrorCode::kUnavailable, file, *failed);
  }
  return std::nullopt;
}

OpenError check_integrity(Db& db, const std::filesystem::path& file,
                          std::chrono::milliseconds budget) {
  // The progress handler interrupts the check once the budget is spent (SQLITE_INTERRUPT).
  struct Deadline {
    std::chrono::steady_clock::time_point at;
  } deadline{std::chrono::steady_clock::now() + budget};
  if (budget.count() > 0) {
    sqlite3_progress_handler(
        db.get(), 10'000,
        [](void* arg) -> int {
          return std::chrono::steady_clock::now() > static_cast<Deadline*>(arg)->at ? 1 : 0;
        },
        &deadline);
  }
  struct ClearHandler {
    sqlite3* db;
    ~ClearHandler() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  } clear{db.get()};
  Statement check(db, "PRAGMA quick_check");
  if (!check.ok()) {
    return open_error(code_of(sqlite3_errcode(db.get())), file,
                      "is damaged or not a database: " + db.last_error());
  }
  std::string problems;
  int rc = SQLITE_OK;
  while ((rc = check.step()) == SQLITE_ROW) {
    const std::string line = check.column_text(0);
    if (line != "ok" && problems.size() < 500) problems += (problems.empty() ? "" : "; ") + line;
  }
  if (rc != SQLITE_DONE) {
    return open_error(code_of(rc), file, "failed its integrity check: " + db.last_error());
  }
  if (!problems.empty()) {
    return open_error(StoreErrorCode::kCorrupt, file, "failed its integrity check: " + problems);
  }
  return std::nullopt;
}

std::filesystem::path seal_path(const std::filesystem::path& file) {
  std::filesystem::path seal = file;
  seal += ".seal";
  return seal;
}

namespace {

constexpr std::string_view kSealMagic = "mend-seal 1 xxh3-128";

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// XXH3-128 of a whole file's bytes as 32 hex digits, and its size. nullopt when unreadable.
// The file is mapped, not read: copying it out of the page cache would cost more than
// hashing it. XXH3 runs at memory speed; it is not a cryptographic hash, and need not be: the
// seal detects accidental damage (the job of the quick_check it stands for); whoever can
// rewrite mend.db can rewrite its seal as well.
std::optional<std::string> file_digest(const std::filesystem::path& file, std::uint64_t& size) {
  FdCloser fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat info {};
  if (fd.fd < 0 || ::fstat(fd.fd, &info) != 0) return std::nullopt;
  size = static_cast<std::uint64_t>(info.st_size);
  XXH128_hash_t digest = XXH3_128bits(nullptr, 0);
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.fd, 0);
    if (mapped == MAP_FAILED) return std::nullopt;
    ::madvise(mapped, size, MADV_SEQUENTIAL);
    digest = XXH3_128bits(mapped, size);
    ::munmap(mapped, size);
  }
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(digest.high64),
                static_cast<unsigned long long>(digest.low64));
  return std::string(hex);
}

// "mend-seal 1 xxh3-128 <size> <32 hex digits>\n" of the file as it is now.
std::optional<std::string> seal_line(const std::filesystem::path& file) {
  std::uint64_t size = 0;
  auto digest = file_digest(file, size);
  if (!digest) return std::nullopt;
  return std::string(kSealMagic) + " " + std::to_string(size) + " " + *digest + "\n";
}

}  // namespace

bool matches_seal(const std::filesystem::path& file) {
  std::ifstream in(seal_path(file), std::ios::binary);
  if (!in) return false;
  std::string sealed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (sealed.size() > 200 || !sealed.starts_with(kSealMagic)) return false;
  // The size first: a file of another size cannot match, so it is not hashed.
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || sealed.find(" " + std::to_string(size) + " ") != kSealMagic.size()) return false;
  const auto now = seal_line(file);
  return now && *now == sealed;
}

bool write_seal(const std::filesystem::path& file) {
  const auto line = seal_line(file);
  if (!line) return false;
  std::filesystem::path temporary = seal_path(file);
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << *line;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::permissions(temporary, kPrivateFileMode, std::filesystem::perm_options::replace,
                               ec);
  std::filesystem::rename(temporary, seal_path(file), ec);
  if (ec) std::filesystem::remove(temporary, ec);
  return !ec;
}

void remove_seal(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::remove(seal_path(file), ec);
}

OpenError check_schema(Db& db, const std::filesystem::path& file, int& version) {
  std::string message;
  auto version_text = db.query_text("PRAGMA user_version", message);
  auto app_text = db.query_text("PRAGMA application_id", message);
  auto tables_text = db.query_text("SELECT count(*) FROM sqlite_schema", message);
  if (!version_text || !app_text || !tables_text) {
    return open_error(StoreErrorCode::kUnavailable, file, "cannot read its schema: " + message);
  }
  version = std::stoi(*version_text);
  const bool ours = std::stoll(*app_text) == SqliteStore::kApplicationId;
  if (version == 0 ? std::stoi(*tables_text) != 0 : !ours) {
    return open_error(StoreErrorCode::kInvalid, file, "is not a mend database");
  }
  if (version > SqliteStore::kSchemaVersion) {
    return open_error(StoreErrorCode::kInvalid, file,
                      "has schema version " + std::to_string(version) + ", newer than this mend (" +
                          std::to_string(SqliteStore::kSchemaVersion) + ")");
  }
  return std::nullopt;
}

OpenError migrate(Db& db, const std::filesystem::path& file, int version) {
  for (int v = version; v < SqliteStore::kSchemaVersion; ++v) {
    const std::string step = std::string("BEGIN IMMEDIATE;") +
                             kMigrations[static_cast<std::size_t>(v)] +
                             "PRAGMA user_version = " + std::to_string(v + 1) + "; COMMIT;";
    if (auto failed = db.exec(step.c_str())) {
      db.exec("ROLLBACK");
      return open_error(StoreErrorCode::kUnavailable, file,
                        "cannot migrate to schema " + std::to_string(v + 1) + ": " + *failed);
    }
  }
  return std::nullopt;
}

OpenError check_room_keys(Db& db, const crypto::Key& master, const std::filesystem::path& file,
                          const std::filesystem::path& key_file) {
  Statement keys(db, "SELECT room_id, wrapped_key FROM room_keys");
  if (!keys.ok()) return open_error(StoreErrorCode::kUnavailable, file, db.last_error());
  int rc = SQLITE_OK;
  while ((rc = keys.step()) == SQLITE_ROW) {
    if (!crypto::unwrap_key(master, keys.column_blob(1), keys.column_text(0))) {
      return open_error(StoreErrorCode::kCorrupt, file,
                        "holds a room key that does not unwrap under the master key " +
                            key_file.string() + " (wrong key file, or altered data)");
    }
  }
  if (rc != SQLITE_DONE) return open_error(code_of(rc), file, db.last_error());
  return std::nullopt;
}

OpenError finish_destroys(Db& db, const std::filesystem::path& file) {
  if (auto failed = db.exec(
          "BEGIN IMMEDIATE;"
          "DELETE FROM events WHERE room_id IN (SELECT room_id FROM rooms WHERE destroyed = 1);"
          "DELETE FROM results WHERE room_id IN (SELECT room_id FROM rooms WHERE destroyed = 1);"
          "DELETE FROM refusals WHERE room_id IN (SELECT room_id FROM rooms WHERE destroyed = 1);"
          "COMMIT;")) {
    db.exec("ROLLBACK");
    return open_error(StoreErrorCode::kUnavailable, file, "cannot finish erasures: " + *failed);
  }
  return std::nullopt;
}

}  // namespace mend::store::sqlite
