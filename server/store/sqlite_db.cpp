#include "server/store/sqlite_db.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace mend::store::sqlite {
namespace {

// ---------------------------------------------------------------- the WAL's gathered writes

constexpr const char* kVfsName = "mend-gathered-wal";
constexpr int kWalHeaderBytes = 32;    // SQLite's WAL header, written at offset 0
constexpr int kFrameHeaderBytes = 24;  // SQLite's WAL frame header
// The default VFS hands at most 128 KiB - 1 to one pwrite (and reports a short write as a
// full disk): the gathered bytes go out in pieces of this size.
constexpr std::size_t kWritePiece = std::size_t{64} << 10;
// Written at this size even before a commit (a long transaction that spills pages).
constexpr std::size_t kMaxGathered = std::size_t{1} << 20;

// A WAL file of the default VFS (`real`, placed after this object in the memory SQLite gave
// for the file) with the frames SQLite appended that the OS has not seen yet.
struct WalFile {
  sqlite3_file base;  // first: SQLite sees a sqlite3_file
  sqlite3_file* real = nullptr;
  std::vector<char> gathered;
  sqlite3_int64 gathered_at = 0;  // file offset of gathered[0]
  // The end of the frames appended since the WAL's header was last written: a write below
  // it rewrites a frame of the transaction (a page written twice, checksums recomputed).
  sqlite3_int64 frames_end = 0;
  bool commit_page_next = false;  // the last write was a commit frame's header
  std::uint64_t writes = 0;       // writes handed to the default VFS (wal_writes)
};

// Where the default VFS's file starts, after the WalFile.
constexpr std::size_t kRealFileOffset = (sizeof(WalFile) + 15) / 16 * 16;

sqlite3_vfs* default_vfs = nullptr;

WalFile& wal_of(sqlite3_file* file) { return *reinterpret_cast<WalFile*>(file); }

int write_through(WalFile& wal, const char* data, std::size_t bytes, sqlite3_int64 offset) {
  for (std::size_t done = 0; done < bytes; done += kWritePiece) {
    const std::size_t piece = std::min(kWritePiece, bytes - done);
    ++wal.writes;
    const int rc = wal.real->pMethods->xWrite(wal.real, data + done, static_cast<int>(piece),
                                              offset + static_cast<sqlite3_int64>(done));
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int write_gathered(WalFile& wal) {
  if (wal.gathered.empty()) return SQLITE_OK;
  const int rc = write_through(wal, wal.gathered.data(), wal.gathered.size(), wal.gathered_at);
  wal.gathered.clear();
  return rc;
}

// A frame header whose "database size after commit" field is set ends a transaction.
bool is_commit_header(const void* data, int bytes) {
  if (bytes != kFrameHeaderBytes) return false;
  const auto* p = static_cast<const unsigned char*>(data);
  return (p[4] | p[5] | p[6] | p[7]) != 0;
}

// Appended frames are gathered until the commit frame's page; a rewrite of an earlier frame
// goes out at once, after what was gathered, so that the OS sees every write in SQLite's order.
int wal_write(sqlite3_file* file, const void* data, int bytes, sqlite3_int64 offset) {
  WalFile& wal = wal_of(file);
  if (offset == 0 && bytes == kWalHeaderBytes) wal.frames_end = 0;  // the WAL starts over
  const auto end = wal.gathered_at + static_cast<sqlite3_int64>(wal.gathered.size());
  if (!wal.gathered.empty() && offset != end) {
    if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  }
  const auto* in = static_cast<const char*>(data);
  if (offset < wal.frames_end) {
    wal.commit_page_next = false;
    return write_through(wal, in, static_cast<std::size_t>(bytes), offset);
  }
  wal.frames_end = offset + bytes;
  if (wal.gathered.empty()) wal.gathered_at = offset;
  wal.gathered.insert(wal.gathered.end(), in, in + bytes);
  const bool commit_page = wal.commit_page_next;
  wal.commit_page_next = is_commit_header(data, bytes);
  if (commit_page || wal.gathered.size() >= kMaxGathered) return write_gathered(wal);
  return SQLITE_OK;
}

int wal_close(sqlite3_file* file) {
  WalFile& wal = wal_of(file);
  const int written = write_gathered(wal);
  const int rc = wal.real->pMethods->xClose(wal.real);
  std::destroy_at(&wal);
  return written != SQLITE_OK ? written : rc;
}

int wal_read(sqlite3_file* file, void* data, int bytes, sqlite3_int64 offset) {
  WalFile& wal = wal_of(file);
  if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  return wal.real->pMethods->xRead(wal.real, data, bytes, offset);
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile& wal = wal_of(file);
  if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  return wal.real->pMethods->xTruncate(wal.real, size);
}

int wal_sync(sqlite3_file* file, int flags) {
  WalFile& wal = wal_of(file);
  if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  return wal.real->pMethods->xSync(wal.real, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  WalFile& wal = wal_of(file);
  if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  return wal.real->pMethods->xFileSize(wal.real, size);
}

int wal_lock(sqlite3_file* file, int level) {
  sqlite3_file* real = wal_of(file).real;
  return real->pMethods->xLock(real, level);
}

int wal_unlock(sqlite3_file* file, int level) {
  sqlite3_file* real = wal_of(file).real;
  return real->pMethods->xUnlock(real, level);
}

int wal_check_reserved_lock(sqlite3_file* file, int* out) {
  sqlite3_file* real = wal_of(file).real;
  return real->pMethods->xCheckReservedLock(real, out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile& wal = wal_of(file);
  if (const int rc = write_gathered(wal); rc != SQLITE_OK) return rc;
  return wal.real->pMethods->xFileControl(wal.real, op, arg);
}

int wal_sector_size(sqlite3_file* file) {
  sqlite3_file* real = wal_of(file).real;
  return real->pMethods->xSectorSize(real);
}

int wal_device_characteristics(sqlite3_file* file) {
  sqlite3_file* real = wal_of(file).real;
  return real->pMethods->xDeviceCharacteristics(real);
}

// Version 1: a WAL file is neither shared memory nor memory-mapped.
constexpr sqlite3_io_methods kWalMethods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_reserved_lock,
    .xFileControl = wal_file_control,
    .xSectorSize = wal_sector_size,
    .xDeviceCharacteristics = wal_device_characteristics,
    .xShmMap = nullptr,
    .xShmLock = nullptr,
    .xShmBarrier = nullptr,
    .xShmUnmap = nullptr,
    .xFetch = nullptr,
    .xUnfetch = nullptr,
};

// Opens every file with the default VFS; a WAL file gets the gathering methods around it.
int open_file(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* file, int flags,
              int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    return default_vfs->xOpen(default_vfs, name, file, flags, out_flags);
  }
  WalFile& wal = *std::construct_at(reinterpret_cast<WalFile*>(file));
  wal.real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealFileOffset);
  const int rc = default_vfs->xOpen(default_vfs, name, wal.real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (wal.real->pMethods != nullptr) wal.real->pMethods->xClose(wal.real);
    std::destroy_at(&wal);
    file->pMethods = nullptr;
    return rc;
  }
  wal.base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// The default VFS with open_file, registered once (not as the default).
bool register_vfs() {
  static sqlite3_vfs vfs;
  default_vfs = sqlite3_vfs_find(nullptr);
  if (default_vfs == nullptr) return false;
  vfs = *default_vfs;
  vfs.pNext = nullptr;
  vfs.zName = kVfsName;
  vfs.szOsFile = static_cast<int>(kRealFileOffset) + default_vfs->szOsFile;
  vfs.xOpen = open_file;
  return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

// The gathering WAL file of `db`'s connection; nullptr while it has none open.
WalFile* gathered_wal_of(Db& db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods != &kWalMethods) {
    return nullptr;
  }
  return &wal_of(file);
}

}  // namespace

void drop_unwritten_wal(Db& db) {
  WalFile* wal = gathered_wal_of(db);
  if (wal == nullptr) return;
  wal->gathered.clear();
  wal->commit_page_next = false;
  wal->frames_end = 0;  // the next transaction appends where the last commit ended
}

std::uint64_t wal_writes(Db& db) {
  const WalFile* wal = gathered_wal_of(db);
  return wal == nullptr ? 0 : wal->writes;
}

bool sync_database_file(Db& db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return false;
  }
  return file->pMethods->xSync(file, SQLITE_SYNC_NORMAL) == SQLITE_OK;
}

// ---------------------------------------------------------------- Db

std::unique_ptr<Db> Db::open(const std::filesystem::path& path, std::string& error) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is confined to one thread at a time by the store.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  static const bool gathered_wal = register_vfs();
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, gathered_wal ? kVfsName : nullptr);
  if (rc != SQLITE_OK) {
    error = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return nullptr;
  }
  sqlite3_extended_result_codes(raw, 1);
  return std::make_unique<Db>(raw);
}

Db::~Db() { sqlite3_close(db_); }

std::optional<std::string> Db::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return std::nullopt;
  std::string error = message != nullptr ? message : last_error();
  sqlite3_free(message);
  return error;
}

std::optional<std::string> Db::query_text(const char* sql, std::string& error) {
  Statement statement(*this, sql);
  if (!statement.ok()) {
    error = last_error();
    return std::nullopt;
  }
  const int rc = statement.step();
  if (rc == SQLITE_ROW) return statement.column_text(0);
  error = rc == SQLITE_DONE ? "no result" : last_error();
  return std::nullopt;
}

Statement::Statement(const Db& db, const char* sql) {
  if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind_text(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::bind_blob(int index, std::string_view blob) {
  // A zero-length blob must still bind as a blob, not NULL: give it a valid pointer.
  sqlite3_bind_blob64(stmt_, index, blob.empty() ? "" : blob.data(), blob.size(), SQLITE_TRANSIENT);
}

void Statement::bind_int(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

int Statement::step() { return sqlite3_step(stmt_); }

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::string_view Statement::column_blob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  if (blob == nullptr) return {};
  return std::string_view(static_cast<const char*>(blob),
                          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

}  // namespace mend::store::sqlite
