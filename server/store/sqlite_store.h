// The durable event store: SQLite in WAL mode in the data directory (DESIGN.md sections 6, 7).
//
// Writes: ONE writer thread with its own connection does group commit: every write waiting
// when it becomes free (up to max_batch appends) goes into one transaction and one fsync, and
// the completions of that batch are invoked on the writer thread after the commit, in the
// order the writes were issued (except rewrites and destroys, see below). Audit appends and
// rewrites share the appends' group commit (an SQLite error fails the whole batch, as for
// appends; a rejected rewrite undoes only itself). destroy_room is ordered with the appends
// but committed on its own, with its audit entries (the _audited variants).
//
// A committed rewrite or destroy completes only once the WAL has been truncated (a TRUNCATE
// checkpoint), so that no replaced ciphertext stays in mend.db-wal: at once when the last
// truncation was at least wal_truncate_interval ago, else when that interval has passed. The
// checkpointer thread (below) runs it and the completion, so the writer never waits for it;
// under a stream of conversations closing with retention 0 that is one truncation per interval
// instead of one per room. A rejected rewrite or destroy completes at once.
// Pending writes are bounded (max_pending_writes): over it a
// write completes at once with kUnavailable.
//
// Checkpoints: SQLite's auto-checkpoint would copy the WAL into the file on the writer thread,
// stalling the commits queued behind it. Instead the writer signals a checkpointer thread
// (its own connection) when the WAL passes 1,000 frames, and again every 250 frames while it
// stays in place; each signal is one PASSIVE checkpoint beside the writer (none when nothing
// is left to copy). SQLite starts the WAL over at the writer's first transaction after a
// checkpoint copied all of it, so no checkpoint takes the write lock for that: once the WAL
// is 1,000 frames long and a pass left at most 250 frames to copy (the commits during it),
// the writer copies them itself between two of its transactions (nothing else writes then; a
// few pages and the syncs of the WAL and the database file; not while a pass runs, then after
// its next commit), and its next transaction starts the WAL over. The WAL is bounded: past
// 4 x 1,000 frames (the checkpointer did not keep up) the writer copies all that is left,
// after the checkpointer's pass in progress. A checkpoint requested before close() still runs.
// A truncation is up to four PASSIVE passes until one copied all while no commit came, then a
// TRUNCATE that does not wait: put off (5 ms) up to four times in a row while the passes
// leave frames to copy, then run with what is left; when the writer is inside a transaction
// or a reader still reads the WAL it is retried 5 ms later; meanwhile the writer waits for
// the truncation's lock in 100 us steps.
//
// Reads (load, find_result, list_rooms): reader threads with their own connections; in WAL
// mode they read a committed snapshot and never block the writer. Completions run on a
// reader thread. Pending reads are bounded the same way (max_pending_reads).
//
// At rest: event and command-result blobs are their Protobuf encoding sealed with
// AES-256-GCM under a per-room data key (AAD binds a blob to its room and seq, resp. its room
// and command); room keys are wrapped by the master key, a file outside the database. Only
// content-free metadata stays in clear: room id, seq, at_ms, actor role, event kind number
// (the Event body field number), and the content-free audit log. Command keys are stored as a keyed hash under the room key.
//
// Files in data_dir: mend.db (+ mend.db-wal, mend.db-shm while open; mend.db.seal after a
// clean close) and master.key (unless master_key_file points elsewhere).
//
// Thread safety: every method may be called from any thread. Completions must not call
// close() (it waits for the threads that run them).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "server/store/group_writer.h"
#include "server/store/store.h"

namespace mend::store {

enum class Durability {
  kFull,    // synchronous=FULL: a commit survives power loss once its completion ran
  kNormal,  // synchronous=NORMAL: survives a process crash (kill -9); power loss may lose the
            // last commits (never corrupts, never reorders)
};

inline constexpr std::size_t kDefaultMaxPendingWrites = 10'000;
inline constexpr std::size_t kDefaultMaxPendingReads = 10'000;
inline constexpr std::size_t kDefaultMaxBatch = 1'024;  // appends per group commit
inline constexpr int kDefaultReaderThreads = 2;
inline constexpr std::chrono::milliseconds kDefaultWalTruncateInterval{1'000};
inline constexpr int kDefaultCheckpointFrames = 1'000;  // 4 KiB pages: a WAL of ~4 MB

struct SqliteStoreOptions {
  std::filesystem::path data_dir{};         // created (mode 0700) if absent
  std::filesystem::path master_key_file{};  // empty: data_dir / "master.key"
  Durability durability = Durability::kFull;
  std::size_t max_pending_writes = kDefaultMaxPendingWrites;
  std::size_t max_pending_reads = kDefaultMaxPendingReads;
  std::size_t max_batch = kDefaultMaxBatch;
  int reader_threads = kDefaultReaderThreads;
  // WAL frames after which the checkpointer copies the WAL into the database file (SQLite's
  // own auto-checkpoint, off, would run on the writer and stall the commits behind it). Once
  // all is copied, the WAL starts over, overwritten in place. Larger values copy a page changed
  // by many commits once, but each checkpoint then syncs more at once: at 10,000 the commits'
  // own fsyncs waited behind those syncs (p99 at 2,000 commands/s doubled).
  int checkpoint_frames = kDefaultCheckpointFrames;
  // Rate limit of the WAL truncations that follow rewrites and destroys; also the longest a
  // replaced ciphertext stays in mend.db-wal (the database file itself: secure_delete).
  std::chrono::milliseconds wal_truncate_interval = kDefaultWalTruncateInterval;
  // The clock for that interval and for the latencies in stats() (tests inject one); empty:
  // steady_clock.
  LatencyClock clock{};
};

// Counters since open: the writer's (WriterStats; a commit is one fsync) and the
// checkpointer's. A snapshot; safe to read at any time.
struct SqliteStoreStats : WriterStats {
  std::uint64_t wal_truncations = 0;         // WAL truncations after rewrites and destroys
  std::uint64_t background_checkpoints = 0;  // PASSIVE checkpoints by the checkpointer that
                                             // copied frames into the file
  std::uint64_t wal_restarts = 0;            // commits that started the WAL over (after a
                                             // checkpoint copied all of it, or a truncation)
  std::uint64_t writer_checkpoints = 0;      // checkpoints the writer ran itself to finish a
                                             // long WAL, or past the WAL's bound (see above)
  std::uint64_t checkpoints_incomplete = 0;  // truncation attempts (after erasure, at close)
                                             // that a writer or reader kept from completing
                                             // (retried), and failed background checkpoints
                                             // or syncs of the file after them
  std::uint64_t checkpoint_frames = 0;       // WAL frames copied into the file by the
                                             // checkpoints (both threads'), about: a WAL that
                                             // restarted unseen counts from its beginning
  std::uint64_t locked_checkpoint_frames = 0;  // of those, the frames a TRUNCATE copied
                                               // while it held the write lock (commits came
                                               // during its passes), about
  std::uint64_t writer_lock_waits = 0;       // times the writer found the write lock taken
                                             // (by a TRUNCATE checkpoint) and waited
  // Latencies (the writer's own are in WriterStats):
  LatencySnapshot commit;             // the COMMIT statement: WAL writes and fdatasync
  LatencySnapshot writer_lock_wait;   // a BEGIN that waited for the write lock, its wait
  LatencySnapshot checkpoint;         // a checkpointer pass, or a truncation (its passes and
                                      // TRUNCATE), with its wait for a writer checkpoint
  LatencySnapshot writer_checkpoint;  // a checkpoint the writer ran, with its wait (past the
                                      // WAL's bound) for the checkpointer's
  // open() found the file byte for byte as its last clean close sealed it (XXH3-128 after a
  // passed quick_check) and skipped its own quick_check; false: open ran the whole check.
  bool integrity_from_seal = false;
};

// The counters in Prometheus text format (mend_store_* series), for /metrics.
std::string prometheus_text(const SqliteStoreStats& stats);

class SqliteStore final : public QueuedWriteStore {
 public:
  static constexpr const char* kDatabaseFile = "mend.db";
  static constexpr const char* kMasterKeyFile = "master.key";
  static constexpr int kSchemaVersion = 6;                    // PRAGMA user_version
  static constexpr std::int32_t kApplicationId = 0x6D656E64;  // 'mend', PRAGMA application_id

  struct OpenResult {
    std::shared_ptr<SqliteStore> store;  // set on success
    std::optional<StoreError> error;     // set on failure; the message names the file
  };

  // Opens (creating if absent) the store in options.data_dir, or fails without starting
  // anything. Checks, in order: the database file's header (a SQLite file of this
  // application, not truncated: kCorrupt), PRAGMA quick_check (kCorrupt; skipped when the
  // file is byte for byte the one the last clean close checked and sealed, see
  // sqlite_schema.h: mend.db.seal), the master key file (created when absent for a new
  // database; wrong size or permissions, or absent for an existing database: kInvalid), the
  // schema version (newer than this build: kInvalid; older: migrated), and that every room
  // key unwraps under the master key (kCorrupt). Finishes destroy_room calls that were
  // interrupted after the key was deleted.
  static OpenResult open(SqliteStoreOptions options);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;  // close()

  // The writes (append, record_rejection, destroy_room[_audited], rewrite_events[_audited],
  // append_audit) are QueuedWriteStore's. A committed destroy or rewrite completes once the WAL
  // was truncated (rate-limited, see above), so no older copy of the key, rows or replaced
  // ciphertext stays on disk (the database runs with secure_delete, which zeroes deleted
  // content). Their audit entries go into the transaction that deletes the room key, resp.
  // that rewrites the events (an append's AppendRequest.audit into the append's group commit).
  // Audit entries are stored in clear (they are content-free) in table `audit`; destroy_room
  // leaves them.
  void load(std::string room_id, std::uint64_t after_seq, LoadDone done) override;
  void find_result(CommandKey key, FindDone done) override;
  void list_rooms(ListRoomsDone done) override;
  void load_audit(std::string room_id, AuditLoadDone done) override;
  // Refusal counts in table `refusals` (content-free, in clear); add_refusals is a write of the
  // group commit (QueuedWriteStore).
  void load_refusals(std::string room_id, RefusalsDone done) override;

  // Graceful close: refuses new calls (kUnavailable), completes every queued write and read,
  // stops the threads, checkpoints the WAL and closes the files; then, when the checkpoint
  // was complete and quick_check passes (within 10 s), writes mend.db.seal so that the next
  // open need not run quick_check again (sqlite_schema.h). Idempotent. Blocks.
  void close();

  SqliteStoreStats stats() const;

  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);  // use open()

 private:
  GroupWriter& group_writer() override;

  std::unique_ptr<Impl> impl_;
};

}  // namespace mend::store
