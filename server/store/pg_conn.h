// Thin RAII wrappers over libpq, internal to server/store (not part of the Store interface).
// A Conn is one connection with its prepared statements; a Result is one PGresult.
// Parameters go as text (numbers, ids) or binary (bytea); results come back binary, so bytea
// columns are raw bytes and integers are big-endian (bigint, boolean and text only).
// Thread safety: none. A connection is used by one thread at a time (the store gives each
// thread its own). Errors are values; the connection string never appears in a message.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

#include "server/store/store.h"

namespace mend::store::pg {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  // The statement ran (with or without rows).
  bool ok() const;
  ExecStatusType status() const {
    return result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
  }
  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  // Rows changed by INSERT/UPDATE/DELETE.
  std::uint64_t affected() const;
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::int64_t int64(int row, int column) const;  // a bigint column
  bool boolean(int row, int column) const;
  std::string bytes(int row, int column) const;  // bytea or text
  // The SQLSTATE of a failed statement ("" when none, e.g. the connection was lost).
  std::string sqlstate() const;
  std::string message() const;

 private:
  std::shared_ptr<PGresult> result_;
};

// Parameters of one statement.
class Params {
 public:
  Params& text(std::string_view value);
  Params& bytes(std::string_view value);
  Params& int64(std::int64_t value);
  Params& null();

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> values() const;
  std::vector<int> lengths() const;
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
};

// One statement of a pipeline: prepared under `name` (the same name, the same sql).
struct Statement {
  const char* name;
  const char* sql;
  Params params;
};

class Conn {
 public:
  // Connects to `url` (a libpq connection URI or key=value string), bounded by a connect
  // timeout. On failure: nullptr and `error` set (libpq's message, never the URL).
  static std::unique_ptr<Conn> connect(const std::string& url, std::string& error);

  explicit Conn(PGconn* conn) : conn_(conn) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // One or more statements without parameters (results: text format, the last one).
  Result exec(const char* sql);
  // A statement prepared once per connection under `name` (the same name, the same sql).
  Result run(const char* name, const char* sql, const Params& params);
  // The statements in pipeline mode (libpq 14+): all sent, with one Sync, before any answer
  // is read, so they cost one round trip. One result per statement, in order; after a failed
  // one, the rest are not ok (PostgreSQL skipped them), as when the connection was lost.
  // The caller bounds the count: answers are read only after everything was sent.
  std::vector<Result> pipeline(const std::vector<Statement>& statements);
  // The connection is lost (a reconnect is needed).
  bool broken() const { return unusable_ || PQstatus(conn_) != CONNECTION_OK; }
  std::string last_error() const;

 private:
  bool prepared(const char* name) const;

  PGconn* conn_;
  std::vector<std::string> prepared_;
  bool unusable_ = false;  // a pipeline could not be ended: treated as lost
};

// The store error for a failed statement: kConflict for a unique violation (another writer
// stored that row first), kCorrupt for PostgreSQL's data corruption class, else kUnavailable.
StoreError error_of(const Result& result, const std::string& what);

}  // namespace mend::store::pg
