#include "server/store/sqlite_db.h"

namespace mend::store::sqlite {

std::unique_ptr<Db> Db::open(const std::filesystem::path& path, std::string& error) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is confined to one thread at a time by the store.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
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
