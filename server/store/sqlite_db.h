// Thin RAII wrappers over the SQLite C API, internal to server/store (not part of the Store
// interface). A Db is one connection; a Statement is one prepared statement of it.
// Thread safety: none. A connection and its statements are used by one thread at a time
// (the store gives each thread its own connection).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace mend::store::sqlite {

class Db {
 public:
  // Opens (creating if absent) the database file. On failure: nullptr and `error` set.
  static std::unique_ptr<Db> open(const std::filesystem::path& path, std::string& error);

  // Takes ownership of an open connection.
  explicit Db(sqlite3* db) : db_(db) {}
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  sqlite3* get() const { return db_; }
  // Runs one or more statements without results. nullopt on success, else SQLite's message.
  std::optional<std::string> exec(const char* sql);
  // The first column of the first row of `sql` as text (nullopt: error or no row).
  std::optional<std::string> query_text(const char* sql, std::string& error);
  std::string last_error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_;
};

class Statement {
 public:
  // Prepares `sql` (persistent: meant to be reused). Check ok() before use.
  Statement(const Db& db, const char* sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  bool ok() const { return stmt_ != nullptr; }

  // Bindings are 1-based, as in SQLite. Text and blobs are copied (SQLITE_TRANSIENT).
  void bind_text(int index, std::string_view text);
  void bind_blob(int index, std::string_view blob);
  void bind_int(int index, std::int64_t value);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Resets the statement (ending its read) and clears its bindings. Called after each use.
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  // Valid until the next step or reset.
  std::string_view column_blob(int index) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// The WAL's writes, gathered. SQLite writes each WAL frame as two writes (its 24-byte header,
// then the page); every connection Db::open opens gathers a transaction's frames in memory
// and hands them to the OS in one write when the commit frame's page arrives (before SQLite
// syncs the WAL or publishes the commit to other connections), or before any other call on the
// WAL file (read, sync, size, truncate, close), a write that does not continue the gathered
// bytes, or 1 MiB. What a commit makes durable and when is unchanged; only the number of
// system calls falls (one or two per commit instead of two per frame).
//
// Drops the frames `db`'s connection gathered but has not written (the frames of a
// transaction it rolled back, which no connection ever reads). Call after each ROLLBACK,
// so that they do not reach the file later, after the WAL was truncated.
void drop_unwritten_wal(Db& db);
// The writes `db`'s connection handed to the OS for its WAL file since it opened it (0 while it
// has none open).
std::uint64_t wal_writes(Db& db);

// Syncs the database file of `db`'s connection (the VFS's xSync, as SQLite's own syncs). A
// PASSIVE checkpoint that copies only part of the WAL writes pages into the file and leaves
// them to the OS; SQLite syncs the file only when a checkpoint copies the WAL whole, and that
// sync writes out every page the partial ones left. False if the sync failed.
bool sync_database_file(Db& db);

// Resets a statement when leaving a scope, so no read stays open by accident.
class ResetGuard {
 public:
  explicit ResetGuard(Statement& statement) : statement_(statement) {}
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;
  ~ResetGuard() { statement_.reset(); }

 private:
  Statement& statement_;
};

}  // namespace mend::store::sqlite
