#include "server/store/sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include "server/store/crypto.h"
#include "server/store/row_crypto.h"
#include "server/store/sqlite_db.h"
#include "server/store/sqlite_schema.h"
#include "server/store/store_ops.h"
#include "server/store/work_queue.h"

namespace mend::store {
namespace {

using rows::event_aad;
using rows::rejecter_digest;
using rows::result_aad;
using rows::result_lookup;
using sqlite::code_of;
using sqlite::Db;
using sqlite::open_error;
using sqlite::OpenError;
using sqlite::ResetGuard;
using sqlite::Statement;

// The writer keeps unwrapped room keys of recently written rooms; over this it starts afresh.
constexpr std::size_t kMaxCachedRoomKeys = 4'096;
// How long a connection waits for a lock (WAL recovery, checkpoints) before reporting busy.
constexpr int kBusyTimeoutMs = 5'000;
// After a truncation or a WAL reset found the writer or a reader in its way, the checkpointer
// tries again this much later.
constexpr std::chrono::milliseconds kLockRetry{5};
// At most this many PASSIVE checkpoints in a row, each copying what the writer added during
// the one before. Once the whole WAL is copied, the writer's next transaction starts the WAL
// over from its beginning (the file neither grows nor needs a truncation for its size).
constexpr int kCatchUpPasses = 4;
// While a truncation waits for its interval, the checkpointer re-reads an injected clock
// this often.
constexpr std::chrono::milliseconds kClockRecheck{50};
// The writer waits for a lock held by a truncation in steps this long (SQLite's own busy
// timeout sleeps 1, 2, 5, 10 ... ms, far longer than a truncation usually holds the lock).
constexpr std::chrono::microseconds kWriterBusyStep{100};
// close() seals the file only if its quick_check finishes within this (sqlite_schema.h).
constexpr std::chrono::milliseconds kSealCheckBudget{10'000};

StoreError error(StoreErrorCode code, std::string message) {
  return StoreError{code, std::move(message)};
}

// Statements of the writer connection.
struct WriterConnection {
  explicit WriterConnection(std::unique_ptr<Db> database) : db(std::move(database)) {}
  bool ok() const {
    for (const Statement* s :
         {&begin, &commit, &rollback, &savepoint, &release, &rollback_to, &select_room,
          &insert_room, &update_room, &insert_key,
          &select_key, &insert_event, &update_event, &select_result, &insert_result, &insert_rejection, &forget_rejections, &delete_key,
          &mark_destroyed, &delete_events, &delete_results, &refresh_times, &insert_audit}) {
      if (!s->ok()) return false;
    }
    return true;
  }

  std::unique_ptr<Db> db;
  Statement begin{*db, "BEGIN IMMEDIATE"};
  Statement commit{*db, "COMMIT"};
  Statement rollback{*db, "ROLLBACK"};
  // A rewrite inside a group commit: a rejected rewrite undoes only its own changes.
  Statement savepoint{*db, "SAVEPOINT rewrite"};
  Statement release{*db, "RELEASE rewrite"};
  Statement rollback_to{*db, "ROLLBACK TO rewrite"};
  Statement select_room{*db, "SELECT last_seq, destroyed FROM rooms WHERE room_id = ?1"};
  Statement insert_room{*db,
                        "INSERT INTO rooms (room_id, last_seq, first_at_ms, last_at_ms, creator) "
                        "VALUES (?1, 0, ?2, ?2, ?3)"};
  Statement update_room{*db, "UPDATE rooms SET last_seq = ?2, last_at_ms = ?3 WHERE room_id = ?1"};
  Statement insert_key{*db, "INSERT INTO room_keys (room_id, wrapped_key) VALUES (?1, ?2)"};
  Statement select_key{*db, "SELECT wrapped_key FROM room_keys WHERE room_id = ?1"};
  Statement insert_event{*db,
                         "INSERT INTO events (room_id, seq, at_ms, actor_role, kind, sealed) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};
  Statement update_event{*db,
                         "UPDATE events SET at_ms = ?3, actor_role = ?4, kind = ?5, sealed = ?6 "
                         "WHERE room_id = ?1 AND seq = ?2"};
  Statement select_result{*db, "SELECT 1 FROM results WHERE room_id = ?1 AND lookup = ?2"};
  Statement insert_result{*db, "INSERT INTO results (room_id, lookup, sealed) VALUES (?1, ?2, ?3)"};
  Statement insert_rejection{*db,
                             "INSERT INTO results (room_id, lookup, sealed, rejected_by) "
                             "VALUES (?1, ?2, ?3, ?4)"};
  // Every rejection of one participant but the newest ?3.
  Statement forget_rejections{*db,
                              "DELETE FROM results WHERE rowid IN (SELECT rowid FROM results "
                              "WHERE room_id = ?1 AND rejected_by = ?2 "
                              "ORDER BY rowid DESC LIMIT -1 OFFSET ?3)"};
  Statement delete_key{*db, "DELETE FROM room_keys WHERE room_id = ?1"};
  Statement mark_destroyed{*db, "UPDATE rooms SET destroyed = 1 WHERE room_id = ?1"};
  Statement delete_events{*db, "DELETE FROM events WHERE room_id = ?1"};
  Statement delete_results{*db, "DELETE FROM results WHERE room_id = ?1"};
  Statement refresh_times{
      *db,
      "UPDATE rooms SET "
      "first_at_ms = (SELECT at_ms FROM events WHERE room_id = ?1 AND seq = 1), "
      "last_at_ms = (SELECT at_ms FROM events WHERE room_id = ?1 "
      "AND seq = rooms.last_seq) WHERE room_id = ?1"};
  Statement insert_audit{*db,
                         "INSERT INTO audit (room_id, at_ms, kind, entry) VALUES (?1, ?2, ?3, ?4)"};
};

// Statements of one reader connection.
struct ReaderConnection {
  explicit ReaderConnection(std::unique_ptr<Db> database) : db(std::move(database)) {}
  bool ok() const {
    for (const Statement* s :
         {&begin, &end, &select_room, &select_key, &select_events, &select_result, &list_rooms,
          &select_audit}) {
      if (!s->ok()) return false;
    }
    return true;
  }

  std::unique_ptr<Db> db;
  Statement begin{*db, "BEGIN DEFERRED"};
  Statement end{*db, "COMMIT"};
  Statement select_room{*db, "SELECT last_seq, destroyed FROM rooms WHERE room_id = ?1"};
  Statement select_key{*db, "SELECT wrapped_key FROM room_keys WHERE room_id = ?1"};
  Statement select_events{*db,
                          "SELECT seq, sealed FROM events WHERE room_id = ?1 AND seq > ?2 "
                          "ORDER BY seq"};
  Statement select_result{*db, "SELECT sealed FROM results WHERE room_id = ?1 AND lookup = ?2"};
  Statement list_rooms{*db,
                       "SELECT room_id, last_seq, first_at_ms, last_at_ms, creator FROM rooms "
                       "WHERE destroyed = 0 ORDER BY room_id"};
  Statement select_audit{*db, "SELECT entry FROM audit WHERE room_id = ?1 ORDER BY id"};
};

using ops::AppendOp;
using ops::AuditOp;
using ops::DestroyOp;
using ops::RejectionOp;
using ops::RewriteOp;
using ops::WriteOp;
using ReadTask = std::function<void(ReaderConnection&)>;

// A room's row as the writer or a reader sees it.
struct RoomRow {
  std::uint64_t last_seq = 0;
  bool destroyed = false;
};

}  // namespace

struct SqliteStore::Impl {
  SqliteStoreOptions options;
  std::filesystem::path db_path;
  crypto::Key master;
  std::unique_ptr<WriterConnection> writer;
  std::vector<std::unique_ptr<ReaderConnection>> readers;

  // Writer thread state (touched only by the writer thread once started).
  std::map<std::string, crypto::Key> key_cache;
  std::optional<StoreError> batch_failure;  // an SQLite error aborts the whole transaction

  WorkQueue<WriteOp> writes;
  WorkQueue<ReadTask> reads;

  mutable std::mutex stats_mutex;
  SqliteStoreStats stats;

  // The checkpointer: its own connection and thread run PASSIVE checkpoints beside the
  // writer, which only signals (WAL hook) when the WAL has grown past
  // options.checkpoint_frames.
  // It also truncates the WAL after rewrites and destroys: at once, unless the last truncation
  // was less than options.wal_truncate_interval ago, then when the interval has passed; the
  // completions of those writes wait in truncation_waiters until it succeeded.
  std::unique_ptr<Db> checkpointer;
  std::mutex checkpoint_mutex;  // guards the four fields below
  std::condition_variable checkpoint_wanted;
  bool checkpoint_requested = false;
  bool checkpointer_stop = false;
  std::vector<StoreDone> truncation_waiters;
  std::optional<std::chrono::steady_clock::time_point> last_truncate;
  std::thread checkpointer_thread;
  int last_wal_frames = 0;  // the WAL's length after the last commit (writer thread only)

  std::mutex close_mutex;
  bool closed = false;
  std::thread writer_thread;
  std::vector<std::thread> reader_threads;

  // --- shared helpers ---
  std::string where() const { return db_path.string(); }
  StoreError sql_error(const Db& db, int rc, const std::string& what) const {
    return error(code_of(rc), what + " in " + where() + ": " + db.last_error());
  }

  // --- writer ---
  void writer_loop();
  // The next batch to write; empty when the queue is closed and drained.
  std::vector<WriteOp> next_batch();
  // One transaction (one fsync) for a batch of appends, audit appends and rewrites, in queue
  // order.
  void commit_batch(std::vector<WriteOp>& batch);
  // A rewrite inside the batch's transaction, undone alone (savepoint) when it is rejected.
  std::optional<StoreError> apply_rewrite_op(RewriteOp& op);
  std::optional<StoreError> apply_append(AppendRequest& request,
                                         std::map<std::string, crypto::Key>& new_keys);
  std::optional<StoreError> create_room(const AppendRequest& request,
                                        std::map<std::string, crypto::Key>& new_keys);
  std::optional<StoreError> insert_events(const AppendRequest& request, const crypto::Key& key);
  // `lookup`: result_lookup(key, recorded.key), computed once by the caller.
  std::optional<StoreError> insert_result(const RecordedResult& recorded, const crypto::Key& key,
                                          const std::string& lookup);
  std::optional<RoomRow> writer_room(const std::string& room_id);
  std::optional<crypto::Key> writer_key(const std::string& room_id,
                                        const std::map<std::string, crypto::Key>& new_keys,
                                        std::optional<StoreError>& failure);
  bool step_done(Statement& statement, const char* what);
  bool begin_write();
  bool commit_write();
  void rollback_write();
  void destroy(DestroyOp& op);
  std::optional<StoreError> apply_rewrite(const std::string& room_id,
                                          std::vector<v1::Event>& events);
  // TRUNCATE checkpoint on `db`; false when a writer or reader kept it from completing.
  bool truncate_wal(Db& db);
  std::chrono::steady_clock::time_point now() const {
    return options.clock ? options.clock() : std::chrono::steady_clock::now();
  }
  // Hands a committed rewrite's or destroy's completion to the checkpointer, which runs it
  // once the WAL was truncated.
  void complete_after_truncation(StoreDone done);
  // Records a rejection (and forgets the participant's oldest beyond the bound) inside the
  // open write transaction.
  std::optional<StoreError> apply_rejection(const RecordedResult& rejection,
                                            const std::map<std::string, crypto::Key>& new_keys);
  // Whether `lookup` is recorded in the results of `room_id` (batch_failure set on an error).
  bool result_recorded(const std::string& room_id, const std::string& lookup);
  // Inserts an audit append's entries inside the open write transaction.
  std::optional<StoreError> apply_audit(const AuditOp& op);
  // Inserts audit entries in the open transaction; false (batch_failure set) on an error.
  bool insert_audit(const std::string& room_id, const std::vector<v1::AuditEntry>& entries);

  // --- checkpointer ---
  void checkpointer_loop();
  // Runs the due truncation; true when it succeeded (the waiters are then completed).
  bool run_truncation(std::unique_lock<std::mutex>& lock);
  // PASSIVE checkpoints (waiting for nobody) until the whole WAL is in the database file
  // (true) or kCatchUpPasses ran (false).
  bool catch_up();
  void count_incomplete_checkpoint();
  static int on_wal_commit(void* impl, sqlite3* db, const char* name, int frames);

  // --- readers ---
  void reader_loop(ReaderConnection& conn);
  template <typename Refuse>
  void enqueue_read(ReadTask task, Refuse refuse);
  LoadResult do_load(ReaderConnection& conn, const std::string& room_id, std::uint64_t after_seq);
  FindResult do_find(ReaderConnection& conn, const CommandKey& key);
  ListRoomsResult do_list(ReaderConnection& conn);
  AuditLoadResult do_load_audit(ReaderConnection& conn, const std::string& room_id);
  std::optional<StoreError> read_room_key(ReaderConnection& conn, const std::string& room_id,
                                          std::optional<crypto::Key>& key);

  // --- lifecycle ---
  template <typename Refuse>
  void enqueue_write(WriteOp op, Refuse refuse);
  void start();
  void close();
};

// ---------------------------------------------------------------- writer

std::vector<WriteOp> SqliteStore::Impl::next_batch() {
  // Appends, audit appends, rejections and rewrites share one group commit; a destroy runs
  // alone (two transactions: the key first).
  return writes.pop_batch(options.max_batch, ops::groupable);
}

void SqliteStore::Impl::writer_loop() {
  for (;;) {
    std::vector<WriteOp> batch = next_batch();
    if (batch.empty()) return;
    if (auto* destroy_op = std::get_if<DestroyOp>(&batch.front())) {
      destroy(*destroy_op);
    } else {
      commit_batch(batch);
    }
  }
}

bool SqliteStore::Impl::step_done(Statement& statement, const char* what) {
  ResetGuard reset(statement);
  const int rc = statement.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  batch_failure = sql_error(*writer->db, rc, what);
  return false;
}

bool SqliteStore::Impl::begin_write() {
  batch_failure.reset();
  return step_done(writer->begin, "cannot begin a transaction");
}

bool SqliteStore::Impl::commit_write() {
  if (step_done(writer->commit, "cannot commit")) return true;
  rollback_write();
  return false;
}

void SqliteStore::Impl::rollback_write() {
  if (sqlite3_get_autocommit(writer->db->get()) == 0) {
    ResetGuard reset(writer->rollback);
    writer->rollback.step();
  }
}

std::optional<RoomRow> SqliteStore::Impl::writer_room(const std::string& room_id) {
  Statement& s = writer->select_room;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    return RoomRow{static_cast<std::uint64_t>(s.column_int(0)), s.column_int(1) != 0};
  }
  if (rc != SQLITE_DONE) batch_failure = sql_error(*writer->db, rc, "cannot read a room");
  return std::nullopt;
}

std::optional<crypto::Key> SqliteStore::Impl::writer_key(
    const std::string& room_id, const std::map<std::string, crypto::Key>& new_keys,
    std::optional<StoreError>& failure) {
  if (auto it = new_keys.find(room_id); it != new_keys.end()) return it->second;
  if (auto it = key_cache.find(room_id); it != key_cache.end()) return it->second;
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
  if (key_cache.size() >= kMaxCachedRoomKeys) key_cache.clear();
  key_cache.emplace(room_id, *key);
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
  room.bind_int(2, request.events.front().at_ms());
  room.bind_blob(3, request.creator);
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
  Statement& room = writer->update_room;
  room.bind_text(1, request.room_id);
  room.bind_int(2, static_cast<std::int64_t>(request.events.back().seq()));
  room.bind_int(3, request.events.back().at_ms());
  if (!step_done(room, "cannot update a room")) return batch_failure;
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::insert_result(const RecordedResult& recorded,
                                                           const crypto::Key& key,
                                                           const std::string& lookup) {
  const std::string& room_id = recorded.key.room_id;
  auto sealed =
      crypto::seal(key, recorded.result.SerializeAsString(), result_aad(room_id, lookup));
  if (!sealed) {
    return batch_failure = error(StoreErrorCode::kUnavailable, "cannot encrypt a command result");
  }
  Statement& s = writer->insert_result;
  s.bind_text(1, room_id);
  s.bind_blob(2, lookup);
  s.bind_blob(3, *sealed);
  if (!step_done(s, "cannot insert a command result")) return batch_failure;
  return std::nullopt;
}

std::optional<StoreError> SqliteStore::Impl::apply_append(
    AppendRequest& request, std::map<std::string, crypto::Key>& new_keys) {
  if (auto invalid = rows::check_append(request)) return invalid;
  const bool is_new = request.expected_last_seq == 0;
  const std::optional<RoomRow> row = writer_room(request.room_id);
  if (batch_failure) return batch_failure;
  if (row && row->destroyed) return error(StoreErrorCode::kConflict, "room was destroyed");
  if (is_new == row.has_value()) {
    return error(StoreErrorCode::kConflict, is_new ? "room already exists" : "room does not exist");
  }
  if (!is_new && row->last_seq != request.expected_last_seq) {
    return error(StoreErrorCode::kConflict, "room is not at the expected seq");
  }
  if (is_new) {
    if (auto failed = create_room(request, new_keys)) return failed;
  }
  std::optional<StoreError> failure;
  const std::optional<crypto::Key> key = writer_key(request.room_id, new_keys, failure);
  if (!key) return failure;
  std::string lookup;
  if (request.result) {
    lookup = result_lookup(*key, request.result->key);
    if (result_recorded(request.room_id, lookup)) {
      return error(StoreErrorCode::kConflict, "command already recorded");
    }
    if (batch_failure) return batch_failure;
  }
  if (auto failed = insert_events(request, *key)) return failed;
  if (request.result) {
    if (auto failed = insert_result(*request.result, *key, lookup)) return failed;
  }
  if (!insert_audit(request.room_id, request.audit)) return batch_failure;
  return std::nullopt;
}

bool SqliteStore::Impl::result_recorded(const std::string& room_id, const std::string& lookup) {
  Statement& s = writer->select_result;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  s.bind_blob(2, lookup);
  const int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    batch_failure = sql_error(*writer->db, rc, "cannot read results");
  }
  return rc == SQLITE_ROW;
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
  if (result_recorded(room_id, lookup)) {
    return error(StoreErrorCode::kConflict, "command already recorded");
  }
  if (batch_failure) return batch_failure;
  auto sealed =
      crypto::seal(*key, rejection.result.SerializeAsString(), result_aad(room_id, lookup));
  if (!sealed) return error(StoreErrorCode::kUnavailable, "cannot encrypt a command result");
  const std::string rejecter = rejecter_digest(*key, rejection.key.participant);
  Statement& insert = writer->insert_rejection;
  insert.bind_text(1, room_id);
  insert.bind_blob(2, lookup);
  insert.bind_blob(3, *sealed);
  insert.bind_blob(4, rejecter);
  if (!step_done(insert, "cannot insert a rejection")) return batch_failure;
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
  std::uint64_t appends = 0;  // the stats count event appends, not audit appends
  std::uint64_t ok = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!std::holds_alternative<AppendOp>(batch[i])) continue;
    ++appends;
    if (committed && !outcomes[i]) ++ok;
  }
  if (committed) {
    for (auto& [room_id, key] : new_keys) key_cache.insert_or_assign(room_id, key);
  } else {
    for (auto& outcome : outcomes) outcome = batch_failure;
  }
  {
    std::lock_guard lock(stats_mutex);
    if (committed) {
      ++stats.commits;
      stats.appends_committed += ok;
      stats.appends_rejected += appends - ok;
      stats.largest_batch = std::max<std::uint64_t>(stats.largest_batch, appends);
    } else {
      stats.writes_failed += batch.size();
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto* rewrite_op = std::get_if<RewriteOp>(&batch[i]);
    if (rewrite_op != nullptr && !outcomes[i]) {
      complete_after_truncation(std::move(rewrite_op->done));  // the old ciphertext leaves first
    } else {
      std::visit([&](auto& op) { op.done(std::move(outcomes[i])); }, batch[i]);
    }
  }
}

void SqliteStore::Impl::complete_after_truncation(StoreDone done) {
  {
    std::lock_guard lock(checkpoint_mutex);
    truncation_waiters.push_back(std::move(done));
  }
  checkpoint_wanted.notify_one();
}

bool SqliteStore::Impl::truncate_wal(Db& db) {
  int wal_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &wal_frames, &checkpointed);
  if (rc != SQLITE_OK) count_incomplete_checkpoint();
  return rc == SQLITE_OK;  // TRUNCATE: the whole WAL is in the file and the WAL is empty
}

void SqliteStore::Impl::destroy(DestroyOp& op) {
  // Transaction 1: shred the key. From its commit on, the content is unreadable.
  std::optional<StoreError> outcome;
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
    key_cache.erase(op.room_id);
    // Transaction 2: delete the rows. If this fails, open() finishes it at the next start.
    if (begin_write()) {
      writer->delete_events.bind_text(1, op.room_id);
      writer->delete_results.bind_text(1, op.room_id);
      if (step_done(writer->delete_events, "cannot delete events") &&
          step_done(writer->delete_results, "cannot delete results")) {
        commit_write();
      }
      rollback_write();
    }
  }
  {
    std::lock_guard lock(stats_mutex);
    if (!outcome) ++stats.commits;
    if (outcome && outcome->code == StoreErrorCode::kUnavailable) ++stats.writes_failed;
  }
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
  writer->refresh_times.bind_text(1, room_id);
  if (!step_done(writer->refresh_times, "cannot update a room")) return batch_failure;
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

// ---------------------------------------------------------------- readers

// ---------------------------------------------------------------- checkpointer

int SqliteStore::Impl::on_wal_commit(void* impl, sqlite3* /*db*/, const char* /*name*/,
                                     int frames) {
  auto* self = static_cast<Impl*>(impl);
  if (frames < self->last_wal_frames) {
    std::lock_guard stats_lock(self->stats_mutex);
    ++self->stats.wal_restarts;
  }
  self->last_wal_frames = frames;
  if (frames < self->options.checkpoint_frames) return SQLITE_OK;
  {
    std::lock_guard lock(self->checkpoint_mutex);
    self->checkpoint_requested = true;
  }
  self->checkpoint_wanted.notify_one();
  return SQLITE_OK;
}

void SqliteStore::Impl::checkpointer_loop() {
  std::unique_lock lock(checkpoint_mutex);
  for (;;) {
    const auto work = [&] {
      return checkpointer_stop || checkpoint_requested || !truncation_waiters.empty();
    };
    checkpoint_wanted.wait(lock, work);
    // When stopping, close() truncates and completes the waiters itself.
    if (!checkpointer_stop && !truncation_waiters.empty()) {
      const auto due = last_truncate ? *last_truncate + options.wal_truncate_interval : now();
      if (now() >= due) {
        if (run_truncation(lock)) continue;
        // A writer or a reader was in the way: try again soon.
        checkpoint_wanted.wait_for(lock, kLockRetry, [&] { return checkpointer_stop; });
        continue;
      }
      if (!checkpoint_requested) {
        // Waits until the truncation is due; an injected clock (tests) moves on its own, so
        // then it re-reads the clock every kClockRecheck. A checkpoint request or close()
        // wakes it earlier.
        std::chrono::steady_clock::duration wait = due - now();
        if (options.clock) {
          wait = std::min<std::chrono::steady_clock::duration>(wait, kClockRecheck);
        }
        checkpoint_wanted.wait_for(lock, wait,
                                   [&] { return checkpointer_stop || checkpoint_requested; });
        continue;
      }
    }
    if (!checkpoint_requested) return;  // stopping (a requested checkpoint still runs)
    checkpoint_requested = false;
    lock.unlock();
    // The writer starts the WAL over by itself only when a checkpoint finished between two
    // of its transactions, which a steady stream of commits rarely leaves time for. Once all
    // is copied, a RESTART (fails fast when the writer or a reader is busy) holds the writer
    // lock just to reset the WAL; what it cannot do now, the next request tries again.
    const bool restarted =
        catch_up() && sqlite3_wal_checkpoint_v2(checkpointer->get(), nullptr,
                                                SQLITE_CHECKPOINT_RESTART, nullptr, nullptr) ==
                          SQLITE_OK;
    lock.lock();
    // Not now: every commit asks again while the WAL is long; retry at most every
    // kLockRetry (each attempt may sync the database file).
    if (!restarted) {
      checkpoint_wanted.wait_for(lock, kLockRetry, [&] { return checkpointer_stop; });
    }
  }
}

bool SqliteStore::Impl::catch_up() {
  for (int pass = 0; pass < kCatchUpPasses; ++pass) {
    int wal_frames = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(checkpointer->get(), nullptr,
                                             SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
    if (rc != SQLITE_OK) {
      count_incomplete_checkpoint();
      return false;
    }
    if (copied > 0) {
      std::lock_guard stats_lock(stats_mutex);
      ++stats.background_checkpoints;
    }
    if (copied >= wal_frames) return true;
  }
  return false;
}

void SqliteStore::Impl::count_incomplete_checkpoint() {
  std::lock_guard stats_lock(stats_mutex);
  ++stats.checkpoints_incomplete;
}

bool SqliteStore::Impl::run_truncation(std::unique_lock<std::mutex>& lock) {
  std::vector<StoreDone> waiters = std::move(truncation_waiters);
  truncation_waiters.clear();
  lock.unlock();
  // First copy the WAL without holding anyone up: a TRUNCATE holds the writer lock, and with
  // frames left to copy it syncs the WAL and the database file under it (milliseconds on a
  // busy disk); with none left, it only truncates. It fails fast (no busy wait) when the
  // writer is inside a transaction or a reader still reads the WAL.
  catch_up();
  const bool truncated = truncate_wal(*checkpointer);
  if (truncated) {
    {
      std::lock_guard stats_lock(stats_mutex);
      ++stats.wal_truncations;
    }
    for (StoreDone& done : waiters) done(std::nullopt);
  }
  lock.lock();
  if (truncated) {
    last_truncate = now();
    return true;
  }
  truncation_waiters.insert(truncation_waiters.begin(), std::make_move_iterator(waiters.begin()),
                            std::make_move_iterator(waiters.end()));
  return false;
}

void SqliteStore::Impl::reader_loop(ReaderConnection& conn) {
  while (std::optional<ReadTask> task = reads.pop()) (*task)(conn);  // until closed, drained
}

namespace {
// A read transaction: one consistent snapshot for the statements of one call.
class ReadTransaction {
 public:
  explicit ReadTransaction(ReaderConnection& conn) : conn_(conn) {
    ResetGuard reset(conn_.begin);
    rc_ = conn_.begin.step();
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    if (rc_ != SQLITE_DONE) return;
    ResetGuard reset(conn_.end);
    conn_.end.step();
  }
  bool ok() const { return rc_ == SQLITE_DONE; }
  int rc() const { return rc_; }

 private:
  ReaderConnection& conn_;
  int rc_;
};

// The room row in a reader's snapshot; nullopt with `failure` unset: unknown or destroyed.
std::optional<RoomRow> reader_room(ReaderConnection& conn, const std::string& room_id, int& rc) {
  Statement& s = conn.select_room;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  rc = s.step();
  if (rc != SQLITE_ROW) return std::nullopt;
  rc = SQLITE_OK;
  if (s.column_int(1) != 0) return std::nullopt;
  return RoomRow{static_cast<std::uint64_t>(s.column_int(0)), false};
}
}  // namespace

std::optional<StoreError> SqliteStore::Impl::read_room_key(ReaderConnection& conn,
                                                           const std::string& room_id,
                                                           std::optional<crypto::Key>& key) {
  Statement& s = conn.select_key;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) {
    return error(StoreErrorCode::kCorrupt, "the key of a room is missing in " + where());
  }
  if (rc != SQLITE_ROW) return sql_error(*conn.db, rc, "cannot read a room key");
  key = crypto::unwrap_key(master, s.column_blob(0), room_id);
  if (!key) {
    return error(StoreErrorCode::kCorrupt,
                 "a room key in " + where() + " does not unwrap under the master key");
  }
  return std::nullopt;
}

LoadResult SqliteStore::Impl::do_load(ReaderConnection& conn, const std::string& room_id,
                                      std::uint64_t after_seq) {
  LoadResult result;
  ReadTransaction txn(conn);
  if (!txn.ok()) {
    result.error = sql_error(*conn.db, txn.rc(), "cannot begin a read");
    return result;
  }
  int rc = SQLITE_OK;
  const std::optional<RoomRow> row = reader_room(conn, room_id, rc);
  if (!row) {
    result.error = rc == SQLITE_OK || rc == SQLITE_DONE
                       ? error(StoreErrorCode::kNotFound, "unknown room")
                       : sql_error(*conn.db, rc, "cannot read a room");
    return result;
  }
  std::optional<crypto::Key> key;
  if ((result.error = read_room_key(conn, room_id, key))) return result;
  Statement& s = conn.select_events;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  s.bind_int(2, static_cast<std::int64_t>(after_seq));
  std::uint64_t expected = after_seq + 1;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(s.column_int(0));
    auto plain = seq == expected ? crypto::open(*key, s.column_blob(1), event_aad(room_id, seq))
                                 : std::nullopt;
    v1::Event& event = result.events.emplace_back();
    if (!plain || !event.ParseFromString(*plain) || event.seq() != seq) {
      result.events.clear();
      result.error = error(StoreErrorCode::kCorrupt,
                           "event " + std::to_string(seq) + " of a room in " + where() +
                               (seq == expected ? " fails its integrity check (altered or moved)"
                                                : " follows a gap"));
      return result;
    }
    ++expected;
  }
  if (rc != SQLITE_DONE) {
    result.events.clear();
    result.error = sql_error(*conn.db, rc, "cannot read events");
  } else if (expected <= row->last_seq) {
    result.events.clear();
    result.error = error(StoreErrorCode::kCorrupt, "events of a room are missing in " + where());
  }
  return result;
}

FindResult SqliteStore::Impl::do_find(ReaderConnection& conn, const CommandKey& key) {
  FindResult found;
  ReadTransaction txn(conn);
  if (!txn.ok()) {
    found.error = sql_error(*conn.db, txn.rc(), "cannot begin a read");
    return found;
  }
  int rc = SQLITE_OK;
  if (!reader_room(conn, key.room_id, rc)) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
      found.error = sql_error(*conn.db, rc, "cannot read a room");
    return found;  // unknown room: no result
  }
  std::optional<crypto::Key> room_key;
  if ((found.error = read_room_key(conn, key.room_id, room_key))) return found;
  const std::string lookup = result_lookup(*room_key, key);
  Statement& s = conn.select_result;
  ResetGuard reset(s);
  s.bind_text(1, key.room_id);
  s.bind_blob(2, lookup);
  rc = s.step();
  if (rc == SQLITE_DONE) return found;
  if (rc != SQLITE_ROW) {
    found.error = sql_error(*conn.db, rc, "cannot read a command result");
    return found;
  }
  auto plain = crypto::open(*room_key, s.column_blob(0), result_aad(key.room_id, lookup));
  v1::CommandResult result;
  if (!plain || !result.ParseFromString(*plain)) {
    found.error = error(StoreErrorCode::kCorrupt,
                        "a command result in " + where() + " fails its integrity check");
    return found;
  }
  found.result = std::move(result);
  return found;
}

ListRoomsResult SqliteStore::Impl::do_list(ReaderConnection& conn) {
  ListRoomsResult listed;
  Statement& s = conn.list_rooms;
  ResetGuard reset(s);
  int rc = SQLITE_OK;
  while ((rc = s.step()) == SQLITE_ROW) {
    listed.rooms.push_back(RoomInfo{s.column_text(0), static_cast<std::uint64_t>(s.column_int(1)),
                                    s.column_int(2), s.column_int(3),
                                    std::string(s.column_blob(4))});
  }
  if (rc != SQLITE_DONE) {
    listed.rooms.clear();
    listed.error = sql_error(*conn.db, rc, "cannot list rooms");
  }
  return listed;
}

AuditLoadResult SqliteStore::Impl::do_load_audit(ReaderConnection& conn,
                                                 const std::string& room_id) {
  AuditLoadResult result;
  Statement& s = conn.select_audit;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  int rc = SQLITE_OK;
  while ((rc = s.step()) == SQLITE_ROW) {
    const std::string_view blob = s.column_blob(0);
    if (!result.entries.emplace_back().ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
      result.entries.clear();
      result.error = error(StoreErrorCode::kCorrupt, "an audit entry in " + where() +
                                                         " cannot be decoded");
      return result;
    }
  }
  if (rc != SQLITE_DONE) {
    result.entries.clear();
    result.error = sql_error(*conn.db, rc, "cannot read the audit log");
  }
  return result;
}

// ---------------------------------------------------------------- queues and lifecycle

template <typename Refuse>
void SqliteStore::Impl::enqueue_write(WriteOp op, Refuse refuse) {
  std::optional<StoreError> refused = writes.push(op);
  if (!refused) return;
  {
    std::lock_guard lock(stats_mutex);
    ++stats.writes_refused;
  }
  refuse(std::move(op), std::move(*refused));
}

template <typename Refuse>
void SqliteStore::Impl::enqueue_read(ReadTask task, Refuse refuse) {
  if (auto refused = reads.push(task)) refuse(std::move(*refused));
}

void SqliteStore::Impl::start() {
  // Replaces SQLite's auto-checkpoint on the writer connection.
  sqlite3_wal_hook(writer->db->get(), &Impl::on_wal_commit, this);
  checkpointer_thread = std::thread([this] { checkpointer_loop(); });
  writer_thread = std::thread([this] { writer_loop(); });
  for (auto& reader : readers) {
    reader_threads.emplace_back([this, conn = reader.get()] { reader_loop(*conn); });
  }
}

void SqliteStore::Impl::close() {
  std::lock_guard close_lock(close_mutex);
  if (closed) return;
  closed = true;
  writes.close();
  reads.close();
  if (writer_thread.joinable()) writer_thread.join();
  for (auto& thread : reader_threads) thread.join();
  readers.clear();
  {
    std::lock_guard lock(checkpoint_mutex);
    checkpointer_stop = true;
  }
  checkpoint_wanted.notify_all();
  if (checkpointer_thread.joinable()) checkpointer_thread.join();
  checkpointer.reset();
  std::vector<StoreDone> waiters = std::move(truncation_waiters);
  // The seal (sqlite_schema.h): only for a file that holds the whole WAL and passes
  // quick_check now, within a bound so that a huge file cannot stall a shutdown.
  bool seal = false;
  if (writer) {
    seal = truncate_wal(*writer->db) &&
           !sqlite::check_integrity(*writer->db, db_path, kSealCheckBudget);
  }
  // Their writes are committed; the WAL is truncated now unless a checkpoint failed (counted).
  for (StoreDone& done : waiters) done(std::nullopt);
  writer.reset();
  if (seal) sqlite::write_seal(db_path);
}

// ---------------------------------------------------------------- open

namespace {

std::unique_ptr<Db> open_connection(const std::filesystem::path& file, OpenError& failure) {
  std::string message;
  auto db = Db::open(file, message);
  if (!db) {
    failure = open_error(StoreErrorCode::kUnavailable, file, "cannot be opened: " + message);
    return nullptr;
  }
  sqlite3_busy_timeout(db->get(), kBusyTimeoutMs);
  return db;
}

// The writer's busy handler: short steps up to kBusyTimeoutMs in all.
int writer_busy(void* /*unused*/, int attempts) {
  if (attempts * kWriterBusyStep >= std::chrono::milliseconds(kBusyTimeoutMs)) return 0;
  std::this_thread::sleep_for(kWriterBusyStep);
  return 1;
}

}  // namespace

SqliteStore::OpenResult SqliteStore::open(SqliteStoreOptions options) {
  auto fail = [](StoreError e) { return OpenResult{nullptr, std::move(e)}; };
  if (options.max_batch == 0 || options.max_pending_writes == 0 || options.max_pending_reads == 0 ||
      options.reader_threads < 1 || options.checkpoint_frames < 1) {
    return fail(error(StoreErrorCode::kInvalid, "cannot open the store: a limit is zero"));
  }
  if (auto failed = sqlite::prepare_data_dir(options.data_dir)) return fail(*failed);
  auto impl = std::make_unique<Impl>();
  impl->db_path = options.data_dir / kDatabaseFile;
  const std::filesystem::path& file = impl->db_path;
  const std::filesystem::path key_file =
      options.master_key_file.empty() ? options.data_dir / kMasterKeyFile : options.master_key_file;
  std::error_code ec;
  const bool existing = std::filesystem::file_size(file, ec) > 0 && !ec;
  bool sealed = false;
  if (existing) {
    std::filesystem::path wal = file;
    wal += "-wal";
    const bool wal_present = std::filesystem::file_size(wal, ec) > 0 && !ec;
    if (auto damaged = sqlite::check_header(file, wal_present)) {
      return fail(open_error(StoreErrorCode::kCorrupt, file, *damaged));
    }
    sealed = !wal_present && sqlite::matches_seal(file);
  }
  sqlite::remove_seal(file);  // an open store changes its file; close() seals it again
  if (!existing) {
    if (auto failed = sqlite::create_private_file(file)) return fail(*failed);
  }
  OpenError failure;
  auto db = open_connection(file, failure);
  if (!db) return fail(*failure);
  int version = 0;
  if (!sealed) {
    if (auto failed = sqlite::check_integrity(*db, file)) return fail(*failed);
  }
  impl->stats.integrity_from_seal = sealed;
  if (auto failed = sqlite::check_schema(*db, file, version)) return fail(*failed);
  // A new master key for an existing database would make its content unreadable: refuse.
  auto master = crypto::load_or_create_master_key(key_file, !existing);
  if (!master.key) {
    return fail(error(StoreErrorCode::kInvalid, "cannot open the store: " + master.error));
  }
  impl->master = *master.key;
  if (auto failed = sqlite::set_pragmas(*db, file, options.durability)) return fail(*failed);
  if (auto failed = sqlite::migrate(*db, file, version)) return fail(*failed);
  if (auto failed = sqlite::check_room_keys(*db, impl->master, file, key_file))
    return fail(*failed);
  if (auto failed = sqlite::finish_destroys(*db, file)) return fail(*failed);

  sqlite3_busy_handler(db->get(), &writer_busy, nullptr);
  impl->writer = std::make_unique<WriterConnection>(std::move(db));
  if (!impl->writer->ok()) {
    return fail(open_error(StoreErrorCode::kUnavailable, file,
                           "cannot prepare statements: " + impl->writer->db->last_error()));
  }
  impl->checkpointer = open_connection(file, failure);
  if (!impl->checkpointer) return fail(*failure);
  sqlite3_busy_timeout(impl->checkpointer->get(), 0);  // a truncation never waits: it retries
  // A connection opens the file lazily: until it has read once, a checkpoint on it finds no
  // WAL and does nothing.
  if (auto failed = impl->checkpointer->exec("SELECT count(*) FROM sqlite_schema")) {
    return fail(open_error(StoreErrorCode::kUnavailable, file, "cannot read: " + *failed));
  }
  for (int i = 0; i < options.reader_threads; ++i) {
    auto reader_db = open_connection(file, failure);
    if (!reader_db) return fail(*failure);
    reader_db->exec("PRAGMA query_only = ON");
    auto reader = std::make_unique<ReaderConnection>(std::move(reader_db));
    if (!reader->ok()) {
      return fail(open_error(StoreErrorCode::kUnavailable, file,
                             "cannot prepare statements: " + reader->db->last_error()));
    }
    impl->readers.push_back(std::move(reader));
  }
  impl->writes.set_limit(options.max_pending_writes);
  impl->reads.set_limit(options.max_pending_reads);
  impl->options = std::move(options);
  impl->start();
  return OpenResult{std::make_shared<SqliteStore>(std::move(impl)), std::nullopt};
}

// ---------------------------------------------------------------- public interface

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteStore::~SqliteStore() { close(); }

void SqliteStore::close() { impl_->close(); }

SqliteStoreStats SqliteStore::stats() const {
  SqliteStoreStats out;
  {
    std::lock_guard lock(impl_->stats_mutex);
    out = impl_->stats;
  }
  out.pending_writes = impl_->writes.size();
  return out;
}

void SqliteStore::append(AppendRequest request, AppendDone done) {
  impl_->enqueue_write(AppendOp{std::move(request), std::move(done)},
                       [](WriteOp op, StoreError e) { ops::complete(op, std::move(e)); });
}

void SqliteStore::record_rejection(RecordedResult rejection, StoreDone done) {
  impl_->enqueue_write(
      RejectionOp{std::move(rejection), std::move(done)},
      [](WriteOp op, StoreError e) { ops::complete(op, std::move(e)); });
}

void SqliteStore::destroy_room(std::string room_id, StoreDone done) {
  destroy_room_audited(std::move(room_id), {}, std::move(done));
}

void SqliteStore::destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                                       StoreDone done) {
  impl_->enqueue_write(
      DestroyOp{std::move(room_id), std::move(audit), std::move(done)},
      [](WriteOp op, StoreError e) { ops::complete(op, std::move(e)); });
}

void SqliteStore::rewrite_events(std::string room_id, std::vector<v1::Event> events,
                                 StoreDone done) {
  rewrite_events_audited(std::move(room_id), std::move(events), {}, std::move(done));
}

void SqliteStore::rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                                         std::vector<v1::AuditEntry> audit, StoreDone done) {
  impl_->enqueue_write(
      RewriteOp{std::move(room_id), std::move(events), std::move(audit), std::move(done)},
      [](WriteOp op, StoreError e) { ops::complete(op, std::move(e)); });
}

void SqliteStore::load(std::string room_id, std::uint64_t after_seq, LoadDone done) {
  auto shared_done = std::make_shared<LoadDone>(std::move(done));
  impl_->enqueue_read(
      [impl = impl_.get(), room_id = std::move(room_id), after_seq, shared_done](
          ReaderConnection& conn) { (*shared_done)(impl->do_load(conn, room_id, after_seq)); },
      [shared_done](StoreError e) {
        LoadResult result;
        result.error = std::move(e);
        (*shared_done)(std::move(result));
      });
}

void SqliteStore::find_result(CommandKey key, FindDone done) {
  auto shared_done = std::make_shared<FindDone>(std::move(done));
  impl_->enqueue_read([impl = impl_.get(), key = std::move(key), shared_done](
                          ReaderConnection& conn) { (*shared_done)(impl->do_find(conn, key)); },
                      [shared_done](StoreError e) {
                        FindResult result;
                        result.error = std::move(e);
                        (*shared_done)(std::move(result));
                      });
}

void SqliteStore::list_rooms(ListRoomsDone done) {
  auto shared_done = std::make_shared<ListRoomsDone>(std::move(done));
  impl_->enqueue_read([impl = impl_.get(), shared_done](
                          ReaderConnection& conn) { (*shared_done)(impl->do_list(conn)); },
                      [shared_done](StoreError e) {
                        ListRoomsResult result;
                        result.error = std::move(e);
                        (*shared_done)(std::move(result));
                      });
}

void SqliteStore::append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                               StoreDone done) {
  impl_->enqueue_write(AuditOp{std::move(room_id), std::move(entries), std::move(done)},
                       [](WriteOp op, StoreError e) { ops::complete(op, std::move(e)); });
}

void SqliteStore::load_audit(std::string room_id, AuditLoadDone done) {
  auto shared_done = std::make_shared<AuditLoadDone>(std::move(done));
  impl_->enqueue_read(
      [impl = impl_.get(), room_id = std::move(room_id), shared_done](ReaderConnection& conn) {
        (*shared_done)(impl->do_load_audit(conn, room_id));
      },
      [shared_done](StoreError e) {
        AuditLoadResult result;
        result.error = std::move(e);
        (*shared_done)(std::move(result));
      });
}


std::string prometheus_text(const SqliteStoreStats& stats) {
  std::ostringstream out;
  prometheus_series(out, "counter", "mend_store_commits_total",
         "Write transactions committed (one fsync each with --durability full).", stats.commits);
  prometheus_series(out, "counter", "mend_store_appends_total", "Appends committed.",
         stats.appends_committed);
  prometheus_series(out, "counter", "mend_store_appends_rejected_total",
         "Appends refused (conflict, invalid, corrupt).", stats.appends_rejected);
  prometheus_series(out, "counter", "mend_store_writes_failed_total", "Writes failed by an I/O error.",
         stats.writes_failed);
  prometheus_series(out, "counter", "mend_store_writes_refused_total",
         "Writes refused: queue full or store closing.", stats.writes_refused);
  prometheus_series(out, "gauge", "mend_store_largest_batch", "Most appends committed in one transaction.",
         stats.largest_batch);
  prometheus_series(out, "gauge", "mend_store_pending_writes", "Writes queued now.", stats.pending_writes);
  prometheus_series(out, "counter", "mend_store_checkpoints_total",
         "Background checkpoints that copied WAL frames into the database file.",
         stats.background_checkpoints);
  prometheus_series(out, "counter", "mend_store_wal_restarts_total",
         "Commits that started the WAL over from its beginning.", stats.wal_restarts);
  prometheus_series(out, "counter", "mend_store_wal_truncations_total",
         "WAL truncations after rewrites and room erasures.", stats.wal_truncations);
  prometheus_series(out, "counter", "mend_store_checkpoints_incomplete_total",
         "Truncation attempts retried and checkpoints that failed.",
         stats.checkpoints_incomplete);
  return out.str();
}

}  // namespace mend::store
