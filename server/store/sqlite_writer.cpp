// SqliteStore's writer: the group commit of appends, audit appends, rejections and rewrites,
// and the two transactions of a destroy (sqlite_store.h).
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "server/store/sqlite_store_impl.h"

namespace mend::store {
namespace {

using ops::AppendOp;
using ops::AuditOp;
using ops::DestroyOp;
using ops::RejectionOp;
using ops::RewriteOp;
using ops::WriteOp;
using rows::event_aad;
using rows::rejecter_digest;
using rows::result_aad;
using rows::result_lookup;
using sqlite::error;
using sqlite::ResetGuard;
using sqlite::RoomRow;
using sqlite::Statement;

}  // namespace

bool SqliteStore::Impl::step_done(Statement& statement, const char* what) {
  ResetGuard reset(statement);
  const int rc = statement.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  batch_failure = sql_error(*writer->db, rc, what);
  return false;
}

bool SqliteStore::Impl::begin_write() {
  batch_failure.reset();
  writer_blocked = false;
  const auto started = now();
  const bool begun = step_done(writer->begin, "cannot begin a transaction");
  if (writer_blocked) writer_lock_wait.observe(now() - started);
  return begun;
}

bool SqliteStore::Impl::commit_write() {
  const auto started = now();
  const bool committed = step_done(writer->commit, "cannot commit");
  commit_latency.observe(now() - started);
  if (committed) return true;
  rollback_write();
  return false;
}

void SqliteStore::Impl::rollback_write() {
  if (sqlite3_get_autocommit(writer->db->get()) == 0) {
    ResetGuard reset(writer->rollback);
    writer->rollback.step();
  }
  // Also after a failed COMMIT, which SQLite may have rolled back by itself.
  sqlite::drop_unwritten_wal(*writer->db);
}

bool sqlite::CommittedSeqs::at(const std::string& room_id, std::uint64_t seq) const {
  // The open transaction's latest append of the room, else its last commit.
  auto it = pending_.find(room_id);
  if (it == pending_.end()) {
    it = committed_.find(room_id);
    if (it == committed_.end()) return false;
  }
  return it->second == seq;
}

void sqlite::CommittedSeqs::appended(const std::string& room_id, std::uint64_t last_seq) {
  pending_.insert_or_assign(room_id, last_seq);
}

void sqlite::CommittedSeqs::committed() {
  for (const auto& [room_id, last_seq] : pending_) {
    if (committed_.size() >= kMaxRooms && !committed_.contains(room_id)) committed_.clear();
    committed_.insert_or_assign(room_id, last_seq);
  }
  pending_.clear();
}

void sqlite::CommittedSeqs::rolled_back() {
  for (const auto& entry : pending_) committed_.erase(entry.first);
  pending_.clear();
}

std::optional<RoomRow> SqliteStore::Impl::writer_room(const std::string& room_id) {
  Statement& s = writer->select_room;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    return RoomRow{static_cast<std::uint64_t>(s.column_int(1)), s.column_int(0) != 0};
  }
  if (rc != SQLITE_DONE) batch_failure = sql_error(*writer->db, rc, "cannot read a room");
  return std::nullopt;
}

std::optional<crypto::Key> SqliteStore::Impl::writer_key(
    const std::string& room_id, const std::map<std::string, crypto::Key>& new_keys,
    std::optional<StoreError>& failure) {
  if (auto it = new_keys.find(room_id); it != new_keys.end()) return it->second;
  if (const crypto::Key* cached = key_cache.find(room_id)) return *cached;
  Statement& s = writer->select_key;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  const int rc = s.step();
  if (rc != SQLITE_ROW) {
    failure = rc == SQLITE_DONE
                  ? error(StoreErrorCode::kCorrupt, "the key of a room is missing in " + where())
                  : sql_error(*writer->db, rc, "cannot read a room key");
    if (rc != SQLITE_DONE) batch_failure = failure;
    return std::nullopt;
  }
  auto key = crypto::unwrap_key(master, s.column_blob(0), room_id);
  if (!key) {
    failure = error(StoreErrorCode::kCorrupt,
                    "a room key in " + where() + " does not unwrap under the master key");
    return std::nullopt;
  }
  key_cache.remember(room_id, *key);
  return key;
}

std::optional<StoreError> SqliteStore::Impl::create_room(
    const AppendRequest& request, std::map<std::string, crypto::Key>& new_keys) {
  auto key = crypto::random_key();
  std::optional<std::string> wrapped;
  if (key) wrapped = crypto::wrap_key(master, *key, request.room_id);
  if (!wrapped) return error(StoreErrorCode::kUnavailable, "cannot create a room key");
  Statement& room = writer->insert_room;
  room.bind_text(1, request.room_id);
  room.bind_blob(2, request.creator);
  if (!step_done(room, "cannot insert a room")) return batch_failure;
  Statement& wrapped_key = writer->insert_key;
  wrapped_key.bind_text(1, request.room_id);
  wrapped_key.bind_blob(2, *wrapped);
  if (!step_done(wrapped_key, "cannot insert a room key")) return batch_failure;
  new_keys.insert_or_assign(request.room_id, *key);
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::insert_events(const AppendRequest& request,
                                                           const crypto::Key& key) {
  Statement& s = writer->insert_event;
  for (const v1::Event& event : request.events) {
    auto sealed =
        crypto::seal(key, event.SerializeAsString(), event_aad(request.room_id, event.seq()));
    // Earlier statements of this append may have run: fail the whole transaction.
    if (!sealed)
      return batch_failure = error(StoreErrorCode::kUnavailable, "cannot encrypt an event");
    s.bind_text(1, request.room_id);
    s.bind_int(2, static_cast<std::int64_t>(event.seq()));
    s.bind_int(3, event.at_ms());
    s.bind_int(4, event.actor().role());
    s.bind_int(5, event.body_case());
    s.bind_blob(6, *sealed);
    if (!step_done(s, "cannot insert an event")) return batch_failure;
  }
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::insert_result(const RecordedResult& recorded,
                                                           const crypto::Key& key) {
  const std::string& room_id = recorded.key.room_id;
  const std::string lookup = result_lookup(key, recorded.key);
  auto sealed =
      crypto::seal(key, recorded.result.SerializeAsString(), result_aad(room_id, lookup));
  if (!sealed) {
    return batch_failure = error(StoreErrorCode::kUnavailable, "cannot encrypt a command result");
  }
  Statement& s = writer->insert_result;
  s.bind_text(1, room_id);
  s.bind_blob(2, lookup);
  s.bind_blob(3, *sealed);
  return insert_unrecorded(s, "cannot insert a command result");
}

std::optional<StoreError> SqliteStore::Impl::check_append_room(const AppendRequest& request) {
  const bool is_new = request.expected_last_seq == 0;
  if (!is_new && committed_seqs.at(request.room_id, request.expected_last_seq)) return std::nullopt;
  const std::optional<RoomRow> row = writer_room(request.room_id);
  if (batch_failure) return batch_failure;
  if (row && row->destroyed) return error(StoreErrorCode::kConflict, "room was destroyed");
  if (is_new == row.has_value()) {
    return error(StoreErrorCode::kConflict, is_new ? "room already exists" : "room does not exist");
  }
  if (!is_new && row->last_seq != request.expected_last_seq) {
    return error(StoreErrorCode::kConflict, "room is not at the expected seq");
  }
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::apply_append(
    AppendRequest& request, std::map<std::string, crypto::Key>& new_keys) {
  if (auto invalid = rows::check_append(request)) return invalid;
  if (auto refused = check_append_room(request)) return refused;
  if (request.expected_last_seq == 0) {
    if (auto failed = create_room(request, new_keys)) return failed;
  }
  std::optional<StoreError> failure;
  const std::optional<crypto::Key> key = writer_key(request.room_id, new_keys, failure);
  if (!key) return failure;
  // The result first: a command recorded already conflicts before any row of it is written.
  if (request.result) {
    if (auto failed = insert_result(*request.result, *key)) return failed;
  }
  if (auto failed = insert_events(request, *key)) return failed;
  if (!insert_audit(request.room_id, request.audit)) return batch_failure;
  committed_seqs.appended(request.room_id, request.events.back().seq());
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::insert_unrecorded(Statement& insert,
                                                               const char* what) {
  if (!step_done(insert, what)) return batch_failure;
  if (sqlite3_changes(writer->db->get()) == 0) {
    return error(StoreErrorCode::kConflict, "command already recorded");
  }
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::apply_rejection(
    const RecordedResult& rejection, const std::map<std::string, crypto::Key>& new_keys) {
  const std::string& room_id = rejection.key.room_id;
  if (rejection.result.accepted()) {
    return error(StoreErrorCode::kInvalid, "an accepted result is not a rejection");
  }
  const std::optional<RoomRow> row = writer_room(room_id);
  if (batch_failure) return batch_failure;
  if (!row || row->destroyed) return error(StoreErrorCode::kNotFound, "unknown room");
  std::optional<StoreError> failure;
  const std::optional<crypto::Key> key = writer_key(room_id, new_keys, failure);
  if (!key) return failure;
  const std::string lookup = result_lookup(*key, rejection.key);
  auto sealed =
      crypto::seal(*key, rejection.result.SerializeAsString(), result_aad(room_id, lookup));
  if (!sealed) return error(StoreErrorCode::kUnavailable, "cannot encrypt a command result");
  const std::string rejecter = rejecter_digest(*key, rejection.key.participant);
  Statement& insert = writer->insert_rejection;
  insert.bind_text(1, room_id);
  insert.bind_blob(2, lookup);
  insert.bind_blob(3, *sealed);
  insert.bind_blob(4, rejecter);
  if (auto failed = insert_unrecorded(insert, "cannot insert a rejection")) return failed;
  Statement& forget = writer->forget_rejections;
  forget.bind_text(1, room_id);
  forget.bind_blob(2, rejecter);
  forget.bind_int(3, static_cast<std::int64_t>(kRejectionsKeptPerParticipant));
  if (!step_done(forget, "cannot forget old rejections")) return batch_failure;
  return std::nullopt;
}

void SqliteStore::Impl::commit_batch(std::vector<WriteOp>& batch) {
  std::vector<std::optional<StoreError>> outcomes(batch.size());
  std::map<std::string, crypto::Key> new_keys;
  bool committed = false;
  if (begin_write()) {
    for (std::size_t i = 0; i < batch.size() && !batch_failure; ++i) {
      if (auto* audit_op = std::get_if<AuditOp>(&batch[i])) {
        outcomes[i] = apply_audit(*audit_op);
      } else if (auto* rewrite_op = std::get_if<RewriteOp>(&batch[i])) {
        outcomes[i] = apply_rewrite_op(*rewrite_op);
      } else if (auto* rejection_op = std::get_if<RejectionOp>(&batch[i])) {
        outcomes[i] = apply_rejection(rejection_op->rejection, new_keys);
      } else if (auto* refusals_op = std::get_if<ops::RefusalsOp>(&batch[i])) {
        outcomes[i] = apply_refusals(*refusals_op);
      } else {
        outcomes[i] = apply_append(std::get<AppendOp>(batch[i]).request, new_keys);
      }
    }
    if (batch_failure) {
      rollback_write();
    } else {
      committed = commit_write();
    }
  }
  if (committed) {
    key_cache.remember(new_keys);
    committed_seqs.committed();
  } else {
    committed_seqs.rolled_back();
    for (auto& outcome : outcomes) outcome = batch_failure;
  }
  writes.count_batch(batch, outcomes, committed);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto* rewrite_op = std::get_if<RewriteOp>(&batch[i]);
    if (rewrite_op != nullptr && !outcomes[i]) {
      complete_after_truncation(std::move(rewrite_op->done));  // the old ciphertext leaves first
    } else {
      std::visit([&](auto& op) { op.done(std::move(outcomes[i])); }, batch[i]);
    }
  }
  if (committed) finish_wal();  // after the completions: they do not wait for it
}

void SqliteStore::Impl::destroy(DestroyOp& op) {
  // Transaction 1: shred the key. From its commit on, the content is unreadable.
  std::optional<StoreError> outcome;
  committed_seqs.forget(op.room_id);  // whatever the outcome: the row is read again
  if (!begin_write()) {
    outcome = batch_failure;
  } else {
    const std::optional<RoomRow> row = writer_room(op.room_id);
    if (batch_failure) {
      outcome = batch_failure;
    } else if (!row || row->destroyed) {
      outcome = error(StoreErrorCode::kNotFound, "unknown room");
    } else {
      writer->delete_key.bind_text(1, op.room_id);
      writer->mark_destroyed.bind_text(1, op.room_id);
      // The audit entries recording the erasure commit with the key's deletion, or neither.
      if (!step_done(writer->delete_key, "cannot delete a room key") ||
          !step_done(writer->mark_destroyed, "cannot mark a room destroyed") ||
          !insert_audit(op.room_id, op.audit) || !commit_write()) {
        outcome = batch_failure;
      }
    }
    rollback_write();  // no-op after a commit
  }
  if (!outcome) {
    key_cache.forget(op.room_id);
    // Transaction 2: delete the rows. If this fails, open() finishes it at the next start.
    if (begin_write()) {
      writer->delete_events.bind_text(1, op.room_id);
      writer->delete_results.bind_text(1, op.room_id);
      writer->delete_refusals.bind_text(1, op.room_id);
      if (step_done(writer->delete_events, "cannot delete events") &&
          step_done(writer->delete_results, "cannot delete results") &&
          step_done(writer->delete_refusals, "cannot delete refusal counts")) {
        commit_write();
      }
      rollback_write();
    }
  }
  writes.count_destroy(outcome);
  if (!outcome) return complete_after_truncation(std::move(op.done));
  op.done(std::move(outcome));
}

std::optional<StoreError> SqliteStore::Impl::apply_rewrite(const std::string& room_id,
                                                           std::vector<v1::Event>& events) {
  const std::optional<RoomRow> row = writer_room(room_id);
  if (batch_failure) return batch_failure;
  if (!row || row->destroyed) return error(StoreErrorCode::kNotFound, "unknown room");
  if (auto invalid = check_rewrite(events, row->last_seq)) return invalid;
  std::optional<StoreError> failure;
  const std::optional<crypto::Key> key = writer_key(room_id, {}, failure);
  if (!key) return failure;
  Statement& s = writer->update_event;
  for (const v1::Event& event : events) {
    auto sealed = crypto::seal(*key, event.SerializeAsString(), event_aad(room_id, event.seq()));
    if (!sealed) return error(StoreErrorCode::kUnavailable, "cannot encrypt an event");
    s.bind_text(1, room_id);
    s.bind_int(2, static_cast<std::int64_t>(event.seq()));
    s.bind_int(3, event.at_ms());
    s.bind_int(4, event.actor().role());
    s.bind_int(5, event.body_case());
    s.bind_blob(6, *sealed);
    if (!step_done(s, "cannot rewrite an event")) return batch_failure;
    if (sqlite3_changes(writer->db->get()) != 1) {
      return error(StoreErrorCode::kCorrupt, "an event below the room's last seq is missing");
    }
  }
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::apply_rewrite_op(RewriteOp& op) {
  if (!step_done(writer->savepoint, "cannot start a rewrite")) return batch_failure;
  std::optional<StoreError> outcome = apply_rewrite(op.room_id, op.events);
  if (!outcome && !insert_audit(op.room_id, op.audit)) outcome = batch_failure;
  if (batch_failure) return batch_failure;  // the whole transaction rolls back
  if (outcome && !step_done(writer->rollback_to, "cannot undo a rejected rewrite")) {
    return batch_failure;
  }
  if (!step_done(writer->release, "cannot finish a rewrite")) return batch_failure;
  return outcome;
}

std::optional<StoreError> SqliteStore::Impl::apply_refusals(const ops::RefusalsOp& op) {
  if (auto invalid = check_refusals(op.deltas)) return invalid;
  const std::optional<RoomRow> row = writer_room(op.room_id);
  if (batch_failure) return batch_failure;
  if (!row || row->destroyed) return error(StoreErrorCode::kNotFound, "unknown room");
  Statement& s = writer->add_refusals;
  for (const RefusalCount& delta : op.deltas) {
    s.bind_text(1, op.room_id);
    s.bind_int(2, delta.partner);
    s.bind_int(3, delta.code);
    s.bind_int(4, static_cast<std::int64_t>(delta.count));
    if (!step_done(s, "cannot count refusals")) return batch_failure;
  }
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::apply_audit(const AuditOp& op) {
  if (op.entries.empty()) return error(StoreErrorCode::kInvalid, "audit append without entries");
  if (!insert_audit(op.room_id, op.entries)) return batch_failure;
  return std::nullopt;
}

bool SqliteStore::Impl::insert_audit(const std::string& room_id,
                                     const std::vector<v1::AuditEntry>& entries) {
  Statement& s = writer->insert_audit;
  for (const v1::AuditEntry& entry : entries) {
    s.bind_text(1, room_id);
    s.bind_int(2, entry.at_ms());
    s.bind_int(3, entry.kind());
    s.bind_blob(4, entry.SerializeAsString());
    if (!step_done(s, "cannot insert an audit entry")) return false;
  }
  return true;
}

}  // namespace mend::store
