// SqliteStore's internals (internal to server/store), shared by its parts:
// sqlite_store.cpp (open, lifecycle, the public calls and metrics), sqlite_writer.cpp (the
// group commit), sqlite_checkpointer.cpp (checkpoints and WAL truncation) and
// sqlite_readers.cpp (the reader threads). The contract is in sqlite_store.h.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/store/crypto.h"
#include "server/store/group_writer.h"
#include "server/store/row_crypto.h"
#include "server/store/sqlite_db.h"
#include "server/store/sqlite_schema.h"
#include "server/store/sqlite_store.h"
#include "server/store/store_ops.h"
#include "server/store/work_queue.h"

namespace mend::store {
namespace sqlite {

inline StoreError error(StoreErrorCode code, std::string message) {
  return StoreError{code, std::move(message)};
}

// A room's row: whether it was destroyed, and its last seq (0 before its first event). The last
// seq is its events' highest, one seek in their primary key: the rooms table holds no counter,
// so an append writes no page of it (schema 6).
inline constexpr const char* kSelectRoom =
    "SELECT destroyed, (SELECT max(seq) FROM events WHERE room_id = ?1) FROM rooms "
    "WHERE room_id = ?1";

// Statements of the writer connection.
struct WriterConnection {
  explicit WriterConnection(std::unique_ptr<Db> database) : db(std::move(database)) {}
  bool ok() const {
    for (const Statement* s :
         {&begin, &commit, &rollback, &savepoint, &release, &rollback_to, &select_room,
          &insert_room, &insert_key, &select_key, &insert_event, &update_event, &insert_result,
          &insert_rejection, &forget_rejections, &delete_key, &mark_destroyed, &delete_events,
          &delete_results, &delete_refusals, &insert_audit, &add_refusals}) {
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
  Statement select_room{*db, kSelectRoom};
  Statement insert_room{*db, "INSERT INTO rooms (room_id, creator) VALUES (?1, ?2)"};
  Statement insert_key{*db, "INSERT INTO room_keys (room_id, wrapped_key) VALUES (?1, ?2)"};
  Statement select_key{*db, "SELECT wrapped_key FROM room_keys WHERE room_id = ?1"};
  Statement insert_event{*db,
                         "INSERT INTO events (room_id, seq, at_ms, actor_role, kind, sealed) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};
  Statement update_event{*db,
                         "UPDATE events SET at_ms = ?3, actor_role = ?4, kind = ?5, sealed = ?6 "
                         "WHERE room_id = ?1 AND seq = ?2"};
  // A result, and a rejection, insert nothing when their command is recorded already.
  Statement insert_result{*db,
                          "INSERT INTO results (room_id, lookup, sealed) VALUES (?1, ?2, ?3) "
                          "ON CONFLICT (room_id, lookup) DO NOTHING"};
  Statement insert_rejection{*db,
                             "INSERT INTO results (room_id, lookup, sealed, rejected_by) "
                             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (room_id, lookup) DO NOTHING"};
  // Every rejection of one participant but the newest ?3.
  Statement forget_rejections{*db,
                              "DELETE FROM results WHERE rowid IN (SELECT rowid FROM results "
                              "WHERE room_id = ?1 AND rejected_by = ?2 "
                              "ORDER BY rowid DESC LIMIT -1 OFFSET ?3)"};
  Statement delete_key{*db, "DELETE FROM room_keys WHERE room_id = ?1"};
  Statement mark_destroyed{*db, "UPDATE rooms SET destroyed = 1 WHERE room_id = ?1"};
  Statement delete_events{*db, "DELETE FROM events WHERE room_id = ?1"};
  Statement delete_results{*db, "DELETE FROM results WHERE room_id = ?1"};
  Statement delete_refusals{*db, "DELETE FROM refusals WHERE room_id = ?1"};
  Statement add_refusals{*db,
                         "INSERT INTO refusals (room_id, participant, code, count) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (room_id, participant, code) "
                         "DO UPDATE SET count = count + excluded.count"};
  Statement insert_audit{*db,
                         "INSERT INTO audit (room_id, at_ms, kind, entry) VALUES (?1, ?2, ?3, ?4)"};
};

// Statements of one reader connection.
struct ReaderConnection {
  explicit ReaderConnection(std::unique_ptr<Db> database) : db(std::move(database)) {}
  bool ok() const {
    for (const Statement* s :
         {&begin, &end, &select_room, &select_key, &select_events, &select_result,
          &select_lookups, &list_rooms, &select_audit, &select_refusals}) {
      if (!s->ok()) return false;
    }
    return true;
  }

  std::unique_ptr<Db> db;
  Statement begin{*db, "BEGIN DEFERRED"};
  Statement end{*db, "COMMIT"};
  Statement select_room{*db, kSelectRoom};
  Statement select_key{*db, "SELECT wrapped_key FROM room_keys WHERE room_id = ?1"};
  Statement select_events{*db,
                          "SELECT seq, sealed FROM events WHERE room_id = ?1 AND seq > ?2 "
                          "ORDER BY seq"};
  Statement select_result{*db, "SELECT sealed FROM results WHERE room_id = ?1 AND lookup = ?2"};
  Statement select_lookups{*db, "SELECT lookup FROM results WHERE room_id = ?1"};
  // A room's times are those of its first and its last event (see kSelectRoom).
  Statement list_rooms{*db,
                       "SELECT r.room_id, coalesce(l.seq, 0), coalesce(f.at_ms, 0), "
                       "coalesce(l.at_ms, 0), r.creator FROM rooms r "
                       "LEFT JOIN events f ON f.room_id = r.room_id AND f.seq = 1 "
                       "LEFT JOIN events l ON l.room_id = r.room_id AND l.seq = "
                       "(SELECT max(seq) FROM events WHERE room_id = r.room_id) "
                       "WHERE r.destroyed = 0 ORDER BY r.room_id"};
  Statement select_audit{*db, "SELECT entry FROM audit WHERE room_id = ?1 ORDER BY id"};
  Statement select_refusals{*db,
                            "SELECT participant, code, count FROM refusals WHERE room_id = ?1 "
                            "ORDER BY participant, code"};
};

using ReadTask = std::function<void(ReaderConnection&)>;

// A room's row as the writer or a reader sees it.
struct RoomRow {
  std::uint64_t last_seq = 0;
  bool destroyed = false;
};

// Each room's last seq as of the writer's last commit, for the rooms it appended to lately:
// an append at a room's known seq skips reading the room's row (that read was a tenth of the
// writer's time). It holds because only the writer changes the rows of a running store (one
// mendd per data directory: app::DataDirLock), it records an append only once its
// transaction committed, forgets every room of a transaction that did not, and forgets a room
// before destroying it. A seq it does not know is read from the row, as before.
// Writer thread only.
class CommittedSeqs {
 public:
  static constexpr std::size_t kMaxRooms = 4'096;

  // True when `room_id` exists, is not destroyed and is at `seq`: as of the last commit, or
  // of an earlier append of the open transaction.
  bool at(const std::string& room_id, std::uint64_t seq) const;
  // An append of the open transaction left `room_id` at `last_seq`.
  void appended(const std::string& room_id, std::uint64_t last_seq);
  // The open transaction committed: its appends hold from now on.
  void committed();
  // The open transaction did not commit (or its outcome is unknown): forgets its rooms.
  void rolled_back();
  void forget(const std::string& room_id) { committed_.erase(room_id); }

 private:
  std::unordered_map<std::string, std::uint64_t> committed_;
  std::unordered_map<std::string, std::uint64_t> pending_;  // the open transaction's latest
};

// Whether the writer, between two of its transactions, copies what is left of a WAL
// `wal_frames` long with `frames_left` not yet copied (a PASSIVE checkpoint on its own
// connection), so that its next transaction starts the WAL over: once the WAL is
// checkpoint_frames long and the checkpointer's passes left at most one run step
// (checkpoint_frames / kRunStepDivisor, see checkpoint_due) behind. It then copies a few pages
// and syncs the WAL and the database file, holding up the commits queued behind it for that;
// more than a run step left means the checkpointer was asked for another pass.
inline constexpr int kRunStepDivisor = 4;
inline bool writer_finishes_wal(int wal_frames, int frames_left, int checkpoint_frames) {
  return wal_frames >= checkpoint_frames && frames_left > 0 &&
         frames_left <= checkpoint_frames / kRunStepDivisor;
}

// Whether a commit that left the WAL `wal_frames` long asks the checkpointer to run: once the
// WAL is checkpoint_frames long, and while a run that found it `run_from` frames long did not
// start it over, only once another checkpoint_frames / kRunStepDivisor frames came. Each pass
// that copies syncs the database file, and a page rewritten by many commits (the tables'
// last pages, the indexes' inner pages) is copied once per pass: a run every few commits would
// copy most frames one by one.
inline bool checkpoint_due(int wal_frames, int checkpoint_frames, int run_from) {
  const int next_run = run_from == 0 ? 0 : run_from + checkpoint_frames / kRunStepDivisor;
  return wal_frames >= std::max(checkpoint_frames, next_run);
}

}  // namespace sqlite

struct SqliteStore::Impl final : BatchCommitter {
  SqliteStoreOptions options;
  std::filesystem::path db_path;
  crypto::Key master;
  std::unique_ptr<sqlite::WriterConnection> writer;
  std::vector<std::unique_ptr<sqlite::ReaderConnection>> readers;

  // Writer thread state (touched only by the writer thread once started).
  RoomKeyCache key_cache;
  sqlite::CommittedSeqs committed_seqs;
  std::optional<StoreError> batch_failure;  // an SQLite error aborts the whole transaction

  GroupWriter writes;
  WorkQueue<sqlite::ReadTask> reads;

  mutable std::mutex stats_mutex;
  SqliteStoreStats stats;  // the checkpointer's counters (the writer's are in `writes`)
  LatencyHistogram commit_latency;
  LatencyHistogram writer_lock_wait;
  LatencyHistogram checkpoint_latency;
  LatencyHistogram writer_checkpoint_latency;
  // Set by the writer's busy handler, read and cleared by begin_write (writer thread only).
  bool writer_blocked = false;
  // The WAL frames the checkpoints had copied at the last one's end (under
  // checkpoint_run_mutex), and whether the writer started the WAL over since (on_wal_commit).
  int frames_backfilled = 0;
  std::atomic<bool> wal_restarted{false};
  // Commits since open, counted by the WAL hook: a pass that no commit overlapped left
  // nothing to copy (catch_up).
  std::atomic<std::uint64_t> wal_commits{0};
  // The WAL's length after the last commit (set by the WAL hook on the writer thread, read by
  // the checkpointer), and what it was when the checkpointer's current or last run began; 0
  // once the WAL started over (checkpoint_due).
  std::atomic<int> last_wal_frames{0};
  std::atomic<int> run_from_frames{0};

  // The checkpointer: its own connection and thread run PASSIVE checkpoints beside the
  // writer, which only signals (WAL hook) when the WAL has grown past
  // options.checkpoint_frames.
  // It also truncates the WAL after rewrites and destroys: at once, unless the last truncation
  // was less than options.wal_truncate_interval ago, then when the interval has passed; the
  // completions of those writes wait in truncation_waiters until it succeeded.
  std::unique_ptr<sqlite::Db> checkpointer;
  std::mutex checkpoint_mutex;  // guards the four fields below
  std::condition_variable checkpoint_wanted;
  bool checkpoint_requested = false;
  bool checkpointer_stop = false;
  std::vector<StoreDone> truncation_waiters;
  std::optional<std::chrono::steady_clock::time_point> last_truncate;
  std::thread checkpointer_thread;
  // Truncation attempts put off in a row because the passes left frames to copy (commits
  // during them, or a reader's snapshot; checkpointer thread only; run_truncation).
  int truncations_put_off = 0;
  // finish_wal's next try past the bound after a copy that a reader's snapshot kept partial
  // (writer only).
  int writer_copy_retry_frames = 0;
  std::mutex checkpoint_run_mutex;  // held while a checkpoint runs (checkpoint())

  std::mutex close_mutex;
  bool closed = false;
  std::vector<std::thread> reader_threads;

  // --- shared helpers ---
  std::string where() const { return db_path.string(); }
  StoreError sql_error(const sqlite::Db& db, int rc, const std::string& what) const {
    return sqlite::error(sqlite::code_of(rc), what + " in " + where() + ": " + db.last_error());
  }

  // --- writer (sqlite_writer.cpp) ---
  // One transaction (one fsync) for a batch of appends, audit appends, rejections and
  // rewrites, in queue order.
  void commit_batch(std::vector<ops::WriteOp>& batch) override;
  // A rewrite inside the batch's transaction, undone alone (savepoint) when it is rejected.
  std::optional<StoreError> apply_rewrite_op(ops::RewriteOp& op);
  std::optional<StoreError> apply_append(AppendRequest& request,
                                         std::map<std::string, crypto::Key>& new_keys);
  // Whether the append's room is as it expects: absent for a new room, else there, not
  // destroyed and at its expected seq (committed_seqs, else the room's row).
  std::optional<StoreError> check_append_room(const AppendRequest& request);
  std::optional<StoreError> create_room(const AppendRequest& request,
                                        std::map<std::string, crypto::Key>& new_keys);
  std::optional<StoreError> insert_events(const AppendRequest& request, const crypto::Key& key);
  // kConflict (nothing written) when the command is recorded already.
  std::optional<StoreError> insert_result(const RecordedResult& recorded, const crypto::Key& key);
  std::optional<sqlite::RoomRow> writer_room(const std::string& room_id);
  std::optional<crypto::Key> writer_key(const std::string& room_id,
                                        const std::map<std::string, crypto::Key>& new_keys,
                                        std::optional<StoreError>& failure);
  bool step_done(sqlite::Statement& statement, const char* what);
  bool begin_write();
  bool commit_write();
  void rollback_write();
  void destroy(ops::DestroyOp& op) override;
  std::optional<StoreError> apply_rewrite(const std::string& room_id,
                                          std::vector<v1::Event>& events);
  // TRUNCATE checkpoint on `db`; false when a writer or reader kept it from completing.
  bool truncate_wal(sqlite::Db& db);
  // sqlite3_wal_checkpoint_v2 under checkpoint_run_mutex: SQLite answers a second checkpoint
  // running at the same time with SQLITE_BUSY at once, so the writer's (finish_wal) waits for
  // the checkpointer's instead of failing. Counts the frames it copied (stats).
  // `copied`: the frames of the WAL copied so far (SQLite's figure); `added`: of those, by this
  // checkpoint.
  int checkpoint(sqlite::Db& db, int mode, int* wal_frames = nullptr, int* copied = nullptr,
                 int* added = nullptr);
  // The same with checkpoint_run_mutex already held by the caller.
  int checkpoint_held(sqlite::Db& db, int mode, int* wal_frames, int* copied, int* added);
  // Adds the frames a checkpoint that left `copied` of the WAL copied added (under
  // checkpoint_run_mutex); returns how many that was.
  int count_copied_frames(int mode, int copied);
  // The WAL's frames after the last commit that no checkpoint has copied yet (under
  // checkpoint_run_mutex; about: the WAL hook records a commit after other connections see it).
  int frames_left() const;
  // The writer's busy handler: waits in short steps (see sqlite_store.cpp), counts the wait.
  static int on_writer_busy(void* impl, int attempts);
  std::chrono::steady_clock::time_point now() const { return now_on(options.clock); }
  // Hands a committed rewrite's or destroy's completion to the checkpointer, which runs it
  // once the WAL was truncated.
  void complete_after_truncation(StoreDone done);
  // Records a rejection (and forgets the participant's oldest beyond the bound) inside the
  // open write transaction.
  std::optional<StoreError> apply_rejection(const RecordedResult& rejection,
                                            const std::map<std::string, crypto::Key>& new_keys);
  // Steps insert_result or insert_rejection, bound: nullopt when it inserted the row, kConflict
  // when the command was recorded already (nothing written), else the batch's failure.
  std::optional<StoreError> insert_unrecorded(sqlite::Statement& insert, const char* what);
  // Inserts an audit append's entries inside the open write transaction.
  std::optional<StoreError> apply_audit(const ops::AuditOp& op);
  // Adds refusal counts inside the open write transaction.
  std::optional<StoreError> apply_refusals(const ops::RefusalsOp& op);
  // Inserts audit entries in the open transaction; false (batch_failure set) on an error.
  bool insert_audit(const std::string& room_id, const std::vector<v1::AuditEntry>& entries);

  // --- checkpointer (sqlite_checkpointer.cpp) ---
  void checkpointer_loop();
  // One PASSIVE pass for a request, unless nothing is left to copy (the writer finished the
  // WAL meanwhile); true when it ran.
  bool background_pass();
  // Runs the due truncation; true when it succeeded (the waiters are then completed).
  bool run_truncation(std::unique_lock<std::mutex>& lock);
  // PASSIVE checkpoints (waiting for nobody) until one copied the whole WAL while no commit
  // came, or kCatchUpPasses ran; true in the first case (a TRUNCATE now finds nothing to copy,
  // unless a commit slips in just before it).
  bool catch_up();
  void count_incomplete_checkpoint();
  // Between two of the writer's transactions (writer thread only): copies what the
  // checkpointer's passes left of a long WAL (sqlite::writer_finishes_wal), or all of it past
  // the WAL's bound, kWalBoundFactor x options.checkpoint_frames, so that the writer's next
  // transaction starts the WAL over (see sqlite_checkpointer.cpp).
  void finish_wal();
  static int on_wal_commit(void* impl, sqlite3* db, const char* name, int frames);

  // --- readers (sqlite_readers.cpp) ---
  void reader_loop(sqlite::ReaderConnection& conn);
  // Queues `read` for a reader thread; `done` gets its result, or the refusal (queue full,
  // closed) at once.
  template <typename Out, typename Read>
  void submit_read(Read read, std::function<void(Out)> done);
  LoadResult do_load(sqlite::ReaderConnection& conn, const std::string& room_id, std::uint64_t after_seq);
  // Fills result.recorded from the room's stored results (a whole load's last step).
  void read_recorded(sqlite::ReaderConnection& conn, const std::string& room_id,
                     const crypto::Key& key, LoadResult& result);
  FindResult do_find(sqlite::ReaderConnection& conn, const CommandKey& key);
  ListRoomsResult do_list(sqlite::ReaderConnection& conn);
  AuditLoadResult do_load_audit(sqlite::ReaderConnection& conn, const std::string& room_id);
  RefusalsResult do_load_refusals(sqlite::ReaderConnection& conn, const std::string& room_id);
  std::optional<StoreError> read_room_key(sqlite::ReaderConnection& conn, const std::string& room_id,
                                          std::optional<crypto::Key>& key);

  // --- lifecycle (sqlite_store.cpp) ---
  void start();
  void close();
};

}  // namespace mend::store
