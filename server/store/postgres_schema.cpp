#include "server/store/postgres_schema.h"

#include <array>
#include <string>

namespace mend::store::pg {
namespace {

// 'mend' as the advisory lock's key.
constexpr const char* kLock = "SELECT pg_advisory_lock(1835101796)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(1835101796)";

// Migration N (1-based) brings the schema from version N-1 to N. Ids and content-free
// metadata in clear; events, results and room keys sealed (row_crypto.h, crypto.h).
constexpr std::array<const char*, 2> kMigrations = {
    // 1: rooms, keys, events, results (accepted and rejected), audit log.
    "CREATE TABLE rooms ("
    "  room_id text PRIMARY KEY,"
    "  last_seq bigint NOT NULL,"
    "  first_at_ms bigint NOT NULL,"
    "  last_at_ms bigint NOT NULL,"
    "  creator bytea NOT NULL,"
    "  destroyed boolean NOT NULL DEFAULT false);"
    "CREATE TABLE room_keys ("
    "  room_id text PRIMARY KEY,"
    "  wrapped_key bytea NOT NULL);"
    "CREATE TABLE events ("
    "  room_id text NOT NULL,"
    "  seq bigint NOT NULL,"
    "  at_ms bigint NOT NULL,"
    "  actor_role bigint NOT NULL,"
    "  kind bigint NOT NULL,"
    "  sealed bytea NOT NULL,"
    "  PRIMARY KEY (room_id, seq));"
    "CREATE TABLE results ("
    "  id bigserial PRIMARY KEY,"
    "  room_id text NOT NULL,"
    "  lookup bytea NOT NULL,"
    "  sealed bytea NOT NULL,"
    "  rejected_by bytea,"
    "  UNIQUE (room_id, lookup));"
    "CREATE INDEX results_rejected ON results (room_id, rejected_by, id)"
    "  WHERE rejected_by IS NOT NULL;"
    "CREATE TABLE audit ("
    "  id bigserial PRIMARY KEY,"
    "  room_id text NOT NULL,"
    "  at_ms bigint NOT NULL,"
    "  kind bigint NOT NULL,"
    "  entry bytea NOT NULL);"
    "CREATE INDEX audit_room ON audit (room_id, id);",
    // 2: room leases (one node serves a room; appends are fenced by the epoch).
    "CREATE TABLE leases ("
    "  room_id text PRIMARY KEY,"
    "  node text NOT NULL,"
    "  epoch bigint NOT NULL,"
    "  expires_at timestamptz NOT NULL);",
};

StoreError failed(StoreErrorCode code, const std::string& what) {
  return StoreError{code, "cannot open the store on PostgreSQL: " + what};
}

OpenError exec_ok(Conn& conn, const char* sql, const std::string& what) {
  Result result = conn.exec(sql);
  if (result.ok()) return std::nullopt;
  conn.exec("ROLLBACK");  // a multi-statement transaction that failed midway stays open
  return failed(StoreErrorCode::kUnavailable, what + ": " + result.message());
}

}  // namespace

OpenError lock_schema(Conn& conn) { return exec_ok(conn, kLock, "cannot lock the schema"); }

void unlock_schema(Conn& conn) { conn.exec(kUnlock); }

OpenError migrate(Conn& conn, int target) {
  if (auto error = exec_ok(conn,
                           "CREATE TABLE IF NOT EXISTS mend_schema (version bigint NOT NULL);"
                           "INSERT INTO mend_schema SELECT 0 WHERE NOT EXISTS "
                           "(SELECT 1 FROM mend_schema)",
                           "cannot create the schema table")) {
    return error;
  }
  Result current = conn.run("schema_version", "SELECT version FROM mend_schema", Params{});
  if (!current.ok() || current.rows() != 1) {
    return failed(StoreErrorCode::kUnavailable, "cannot read the schema version");
  }
  const auto version = static_cast<int>(current.int64(0, 0));
  if (version > target) {
    return failed(StoreErrorCode::kInvalid,
                  "the database has schema version " + std::to_string(version) +
                      ", newer than this mendd (" + std::to_string(target) + ")");
  }
  for (int next = version + 1; next <= target; ++next) {
    const std::string sql = std::string("BEGIN;") + kMigrations.at(next - 1) +
                            "UPDATE mend_schema SET version = " + std::to_string(next) +
                            ";COMMIT";
    if (auto error = exec_ok(conn, sql.c_str(),
                             "cannot migrate to schema version " + std::to_string(next))) {
      return error;
    }
  }
  return std::nullopt;
}

std::optional<bool> has_room_keys(Conn& conn, OpenError& failure) {
  Result result =
      conn.run("any_room_key", "SELECT EXISTS (SELECT 1 FROM room_keys)", Params{});
  if (!result.ok()) {
    failure = failed(StoreErrorCode::kUnavailable, "cannot read room keys: " + result.message());
    return std::nullopt;
  }
  return result.boolean(0, 0);
}

OpenError check_room_keys(Conn& conn, const crypto::Key& master,
                          const std::filesystem::path& key_file) {
  Result keys = conn.run("all_room_keys", "SELECT room_id, wrapped_key FROM room_keys", Params{});
  if (!keys.ok()) {
    return failed(StoreErrorCode::kUnavailable, "cannot read room keys: " + keys.message());
  }
  for (int row = 0; row < keys.rows(); ++row) {
    if (!crypto::unwrap_key(master, keys.bytes(row, 1), keys.bytes(row, 0))) {
      return failed(StoreErrorCode::kCorrupt,
                    "a room key does not unwrap under the master key " + key_file.string() +
                        " (a different master key, or an altered key)");
    }
  }
  return std::nullopt;
}

OpenError finish_destroys(Conn& conn) {
  return exec_ok(conn,
                 "BEGIN;"
                 "DELETE FROM events WHERE room_id IN (SELECT room_id FROM rooms WHERE destroyed);"
                 "DELETE FROM results WHERE room_id IN "
                 "(SELECT room_id FROM rooms WHERE destroyed);"
                 "COMMIT",
                 "cannot finish an interrupted erasure");
}

}  // namespace mend::store::pg
