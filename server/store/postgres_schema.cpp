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
constexpr std::array<const char*, 8> kMigrations = {
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
    // 3: a group commit's writes as one function call each, so that a batch is sent in one
    // pipeline (postgres_store.h). Each checks before it writes and answers a status instead
    // of raising an error ('' done; else why nothing was written), so that one rejected write
    // leaves the others of its transaction alone. p_new_key: the wrapped key the content was
    // sealed with when the writer made it in this batch (NULL: a stored key); a room whose
    // stored key is another one is refused ('exists').
    "CREATE FUNCTION mend_audit(p_room text, p_at bigint[], p_kinds bigint[], p_entries bytea[])"
    " RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO audit (room_id, at_ms, kind, entry)"
    "  SELECT p_room, a, k, e FROM unnest(p_at, p_kinds, p_entries) WITH ORDINALITY AS u(a, k, e, n)"
    "  ORDER BY n $$;"
    "CREATE FUNCTION mend_room_for_write(p_room text, p_new_key bytea) RETURNS bigint"
    " LANGUAGE plpgsql AS $$"
    " DECLARE v_last bigint; v_destroyed boolean;"
    " BEGIN"
    "  SELECT last_seq, destroyed INTO v_last, v_destroyed FROM rooms WHERE room_id = p_room"
    "   FOR UPDATE;"
    "  IF NOT FOUND THEN RETURN -1; END IF;"
    "  IF v_destroyed THEN RETURN -2; END IF;"
    "  IF p_new_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM room_keys"
    "   WHERE room_id = p_room AND wrapped_key = p_new_key) THEN RETURN -3; END IF;"
    "  RETURN v_last;"
    " END $$;"
    "CREATE FUNCTION mend_append(p_room text, p_expected bigint, p_epoch bigint,"
    "  p_creator bytea, p_new_key bytea, p_seqs bigint[], p_at bigint[], p_roles bigint[],"
    "  p_kinds bigint[], p_sealed bytea[], p_lookup bytea, p_result bytea,"
    "  p_audit_at bigint[], p_audit_kinds bigint[], p_audit bytea[]) RETURNS text"
    " LANGUAGE plpgsql AS $$"
    " DECLARE v_epoch bigint; v_last bigint; v_n bigint;"
    " BEGIN"
    "  IF p_epoch <> 0 THEN"
    // FOR SHARE: a takeover (an UPDATE of this row) waits until this transaction committed.
    "   SELECT epoch INTO v_epoch FROM leases WHERE room_id = p_room FOR SHARE;"
    "   IF NOT FOUND OR v_epoch <> p_epoch THEN RETURN 'fenced'; END IF;"
    "  END IF;"
    "  IF p_expected = 0 THEN"
    "   INSERT INTO rooms (room_id, last_seq, first_at_ms, last_at_ms, creator)"
    "    VALUES (p_room, 0, p_at[1], p_at[1], p_creator) ON CONFLICT (room_id) DO NOTHING;"
    "   GET DIAGNOSTICS v_n = ROW_COUNT;"
    "   IF v_n = 0 THEN RETURN 'exists'; END IF;"
    "   INSERT INTO room_keys (room_id, wrapped_key) VALUES (p_room, p_new_key);"
    "  ELSE"
    "   v_last := mend_room_for_write(p_room, p_new_key);"
    "   IF v_last = -1 THEN RETURN 'missing'; END IF;"
    "   IF v_last = -2 THEN RETURN 'destroyed'; END IF;"
    "   IF v_last = -3 THEN RETURN 'exists'; END IF;"
    "   IF v_last <> p_expected THEN RETURN 'behind'; END IF;"
    "  END IF;"
    // The result first: a recorded key is refused before anything of this append is written
    // (a new room has no results: ids are never reused, results go with their room).
    "  IF p_lookup IS NOT NULL THEN"
    "   INSERT INTO results (room_id, lookup, sealed) VALUES (p_room, p_lookup, p_result)"
    "    ON CONFLICT (room_id, lookup) DO NOTHING;"
    "   GET DIAGNOSTICS v_n = ROW_COUNT;"
    "   IF v_n = 0 THEN RETURN 'recorded'; END IF;"
    "  END IF;"
    "  INSERT INTO events (room_id, seq, at_ms, actor_role, kind, sealed)"
    "   SELECT p_room, s, a, r, k, e FROM unnest(p_seqs, p_at, p_roles, p_kinds, p_sealed)"
    "   AS u(s, a, r, k, e);"
    "  UPDATE rooms SET last_seq = p_seqs[cardinality(p_seqs)],"
    "   last_at_ms = p_at[cardinality(p_at)] WHERE room_id = p_room;"
    "  PERFORM mend_audit(p_room, p_audit_at, p_audit_kinds, p_audit);"
    "  RETURN '';"
    " END $$;"
    "CREATE FUNCTION mend_reject(p_room text, p_new_key bytea, p_lookup bytea, p_sealed bytea,"
    "  p_rejecter bytea, p_keep bigint) RETURNS text LANGUAGE plpgsql AS $$"
    " DECLARE v_n bigint;"
    " BEGIN"
    "  IF mend_room_for_write(p_room, p_new_key) < 0 THEN RETURN 'missing'; END IF;"
    "  INSERT INTO results (room_id, lookup, sealed, rejected_by)"
    "   VALUES (p_room, p_lookup, p_sealed, p_rejecter) ON CONFLICT (room_id, lookup) DO NOTHING;"
    "  GET DIAGNOSTICS v_n = ROW_COUNT;"
    "  IF v_n = 0 THEN RETURN 'recorded'; END IF;"
    // Every rejection of one participant but the newest p_keep.
    "  DELETE FROM results WHERE id IN (SELECT id FROM results"
    "   WHERE room_id = p_room AND rejected_by = p_rejecter ORDER BY id DESC OFFSET p_keep);"
    "  RETURN '';"
    " END $$;"
    "CREATE FUNCTION mend_rewrite(p_room text, p_new_key bytea, p_seqs bigint[], p_at bigint[],"
    "  p_roles bigint[], p_kinds bigint[], p_sealed bytea[],"
    "  p_audit_at bigint[], p_audit_kinds bigint[], p_audit bytea[]) RETURNS text"
    " LANGUAGE plpgsql AS $$"
    " DECLARE v_last bigint; v_n bigint;"
    " BEGIN"
    "  v_last := mend_room_for_write(p_room, p_new_key);"
    "  IF v_last < 0 THEN RETURN 'missing'; END IF;"
    "  IF cardinality(p_seqs) = 0 THEN RETURN 'empty'; END IF;"
    "  IF EXISTS (SELECT 1 FROM unnest(p_seqs) s WHERE s < 1 OR s > v_last) THEN"
    "   RETURN 'range'; END IF;"
    "  IF (SELECT count(DISTINCT s) FROM unnest(p_seqs) s) <> cardinality(p_seqs) THEN"
    "   RETURN 'twice'; END IF;"
    "  SELECT count(*) INTO v_n FROM events WHERE room_id = p_room AND seq = ANY(p_seqs);"
    "  IF v_n <> cardinality(p_seqs) THEN RETURN 'lost'; END IF;"
    "  UPDATE events e SET at_ms = u.a, actor_role = u.r, kind = u.k, sealed = u.e"
    "   FROM unnest(p_seqs, p_at, p_roles, p_kinds, p_sealed) AS u(s, a, r, k, e)"
    "   WHERE e.room_id = p_room AND e.seq = u.s;"
    "  UPDATE rooms SET"
    "   first_at_ms = (SELECT at_ms FROM events WHERE room_id = p_room AND seq = 1),"
    "   last_at_ms = (SELECT at_ms FROM events WHERE room_id = p_room AND seq = rooms.last_seq)"
    "   WHERE room_id = p_room;"
    "  PERFORM mend_audit(p_room, p_audit_at, p_audit_kinds, p_audit);"
    "  RETURN '';"
    " END $$;",
    // 4: partners' refusals counted by code (content-free; insights, issue 14).
    "CREATE TABLE refusals ("
    "  room_id text NOT NULL,"
    "  participant bigint NOT NULL,"  // the partner's mend.v1.Role number
    "  code bigint NOT NULL,"         // mend.v1.RejectionCode number
    "  count bigint NOT NULL,"
    "  PRIMARY KEY (room_id, participant, code));"
    "CREATE FUNCTION mend_add_refusals(p_room text, p_participants bigint[], p_codes bigint[],"
    "  p_counts bigint[]) RETURNS text LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF mend_room_for_write(p_room, NULL) < 0 THEN RETURN 'missing'; END IF;"
    "  INSERT INTO refusals AS r (room_id, participant, code, count)"
    "   SELECT p_room, p, c, n FROM unnest(p_participants, p_codes, p_counts) AS u(p, c, n)"
    "   ON CONFLICT (room_id, participant, code) DO UPDATE SET count = r.count + EXCLUDED.count;"
    "  RETURN '';"
    " END $$;",
    // 5: rewrites and destroys fenced by the lease epoch, like appends (p_epoch 0: not
    // fenced). The lease row is locked FOR SHARE before the room row, in mend_append's order.
    // mend_rewrite stays for nodes of the previous version during a rolling upgrade.
    "CREATE FUNCTION mend_lease_current(p_room text, p_epoch bigint) RETURNS boolean"
    " LANGUAGE plpgsql AS $$"
    " DECLARE v_epoch bigint;"
    " BEGIN"
    "  IF p_epoch = 0 THEN RETURN true; END IF;"
    "  SELECT epoch INTO v_epoch FROM leases WHERE room_id = p_room FOR SHARE;"
    "  RETURN FOUND AND v_epoch = p_epoch;"
    " END $$;"
    "CREATE FUNCTION mend_fenced_rewrite(p_room text, p_epoch bigint, p_new_key bytea,"
    "  p_seqs bigint[], p_at bigint[], p_roles bigint[], p_kinds bigint[], p_sealed bytea[],"
    "  p_audit_at bigint[], p_audit_kinds bigint[], p_audit bytea[]) RETURNS text"
    " LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF NOT mend_lease_current(p_room, p_epoch) THEN RETURN 'fenced'; END IF;"
    "  RETURN mend_rewrite(p_room, p_new_key, p_seqs, p_at, p_roles, p_kinds, p_sealed,"
    "   p_audit_at, p_audit_kinds, p_audit);"
    " END $$;",
    // 6: audit entries fenced by the lease epoch (p_epoch 0: not fenced), for the entries that
    // record a privacy operation of the room's host (a request to erase the room, an erasure
    // that found nothing to erase). mend_audit stays for nodes of the previous version.
    "CREATE FUNCTION mend_fenced_audit(p_room text, p_epoch bigint, p_at bigint[],"
    "  p_kinds bigint[], p_entries bytea[]) RETURNS text LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF NOT mend_lease_current(p_room, p_epoch) THEN RETURN 'fenced'; END IF;"
    "  PERFORM mend_audit(p_room, p_at, p_kinds, p_entries);"
    "  RETURN '';"
    " END $$;",
    // 7: a node refused a room marks it wanted (the router sends the room's clients there), so
    // that the holder hands it over instead of keeping one partner on each node.
    "ALTER TABLE leases ADD COLUMN wanted_by text, ADD COLUMN wanted_until timestamptz;",
    // 8: a command's stored rejection fenced by the lease epoch (p_epoch 0: not fenced), so
    // that a node that lost the room cannot give a retry of that command on the new owner its
    // answer. The lease row (FOR SHARE) before the room row, in mend_append's order.
    // mend_reject stays for nodes of the previous version.
    "CREATE FUNCTION mend_fenced_reject(p_room text, p_epoch bigint, p_new_key bytea,"
    "  p_lookup bytea, p_sealed bytea, p_rejecter bytea, p_keep bigint) RETURNS text"
    " LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF NOT mend_lease_current(p_room, p_epoch) THEN RETURN 'fenced'; END IF;"
    "  RETURN mend_reject(p_room, p_new_key, p_lookup, p_sealed, p_rejecter, p_keep);"
    " END $$;",
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
                 "DELETE FROM refusals WHERE room_id IN "
                 "(SELECT room_id FROM rooms WHERE destroyed);"
                 "COMMIT",
                 "cannot finish an interrupted erasure");
}

}  // namespace mend::store::pg
