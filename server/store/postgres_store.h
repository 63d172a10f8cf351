// The event store on PostgreSQL (--store postgres): the same contract and guarantees as
// SqliteStore, for several mendd nodes sharing one database (DESIGN.md sections 6, 7).
//
// Writes: ONE writer thread with its own connection does group commit: every write waiting
// when it becomes free (up to max_batch) goes into one transaction (one WAL flush), and the
// completions of that batch run on the writer thread after the commit, in issue order.
// Appends, audit appends, rejections and rewrites share the group commit; a destroy runs
// alone (the key's deletion commits first, then the rows go). An append locks its room's row
// (SELECT ... FOR UPDATE) before it checks the seq, so of two writers of the same seq on any
// nodes, the second sees the first's seq and fails with kConflict; (room, seq) is the events'
// primary key besides. Pending writes are bounded (max_pending_writes).
//
// Connection loss: a batch whose transaction broke before COMMIT was sent is not stored
// (kUnavailable). A batch whose COMMIT got no answer is in doubt: the writer reconnects and
// asks PostgreSQL for the fate of the transaction id it noted at BEGIN (txid_status), and
// completes every write of the batch with the truth (success or kUnavailable); only when
// PostgreSQL stays unreachable for in_doubt_limit does it answer kUnavailable with the doubt
// unresolved (the room host then reloads the room, and a retried command finds its result
// through find_result: never doubled). While PostgreSQL is unreachable, writes and reads fail
// at once with kUnavailable; reconnection is tried again after reconnect_backoff, or as soon
// as another of the store's connections got through (PostgreSQL is back).
//
// Reads (load, find_result, list_rooms, load_audit) and leases: reader threads with their own
// connections, each call one round trip (find_result two for a room whose key this node does
// not know yet: the writer and the readers share one cache of unwrapped room keys, which a
// room's key leaves once this node learns that the room is another node's or erased);
// a read that meets a lost connection reconnects and runs once more.
//
// At rest: the same sealing as SqliteStore (row_crypto.h): AES-256-GCM per room key, room keys
// wrapped by the master key (a file every node shares, never in the database). Erasure
// deletes the wrapped room key in its own commit first and then VACUUMs the key table;
// PostgreSQL has no secure_delete, so old row versions and WAL segments may keep a deleted
// wrapped key (and a rewrite's replaced ciphertext) until they are vacuumed and recycled.
//
// Schema: created and migrated by open() under an advisory lock (several nodes may start at
// once), its version in table mend_schema; a database of a newer version is refused.
//
// Thread safety: every method may be called from any thread. Completions must not call
// close() (it waits for the threads that run them).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "server/store/group_writer.h"
#include "server/store/store.h"

namespace mend::store {

struct PostgresStoreOptions {
  std::string url{};                        // libpq connection URI; never logged
  std::filesystem::path master_key_file{};  // shared by every node; created only for a new
                                            // database (no room keys yet)
  std::size_t max_pending_writes = 10'000;
  std::size_t max_pending_reads = 10'000;
  std::size_t max_batch = 1'024;  // writes per group commit
  int reader_threads = 2;
  std::chrono::milliseconds reconnect_backoff{200};
  std::chrono::milliseconds in_doubt_limit{10'000};
};

// Counters since open. A snapshot; safe to read at any time.
// Counters since open: the writer's (WriterStats) and the connections'. A snapshot; safe to
// read at any time.
struct PostgresStoreStats : WriterStats {
  std::uint64_t round_trips = 0;         // the writer's waits for PostgreSQL's answers
  std::uint64_t read_round_trips = 0;    // the readers' waits for PostgreSQL's answers
  std::uint64_t reconnects = 0;          // connections re-established after a loss
  std::uint64_t in_doubt = 0;            // batches whose COMMIT got no answer
  std::uint64_t in_doubt_committed = 0;  // of those, found committed after reconnecting
};

// The counters in Prometheus text format (mend_store_* series), for /metrics.
std::string prometheus_text(const PostgresStoreStats& stats);

class PostgresStore final : public QueuedWriteStore {
 public:
  static constexpr int kSchemaVersion = 8;  // mend_schema.version

  struct OpenResult {
    std::shared_ptr<PostgresStore> store;  // set on success
    std::optional<StoreError> error;       // set on failure; never contains the URL
  };

  // Connects, creates or migrates the schema (a newer one: kInvalid), reads the master key
  // file (absent while rooms exist, or wrong: kInvalid), checks that every room key unwraps
  // under it (kCorrupt), finishes interrupted erasures, and starts the threads.
  static OpenResult open(PostgresStoreOptions options);

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;  // close()

  // The writes (append, record_rejection, destroy_room[_audited], rewrite_events[_audited],
  // append_audit, add_refusals) are QueuedWriteStore's.
  void load(std::string room_id, std::uint64_t after_seq, LoadDone done) override;
  void find_result(CommandKey key, FindDone done) override;
  void list_rooms(ListRoomsDone done) override;
  void load_audit(std::string room_id, AuditLoadDone done) override;
  void load_refusals(std::string room_id, RefusalsDone done) override;
  // Leases live in table `leases` (room, node, epoch, expires_at), judged by PostgreSQL's clock.
  // An append with a lease_epoch first takes a share lock on its room's lease row and is
  // fenced unless the epoch is current; a takeover updates that row, so it waits for the
  // appends in flight under the old epoch and every later one of those is fenced.
  void acquire_lease(std::string room_id, std::string node, std::chrono::milliseconds ttl,
                     LeaseDone done) override;
  void release_lease(std::string room_id, std::string node, std::uint64_t epoch,
                     StoreDone done) override;

  // Graceful close: refuses new calls (kUnavailable), completes every queued write and read,
  // stops the threads and closes the connections. Idempotent. Blocks.
  void close();

  PostgresStoreStats stats() const;

  // Whether this node holds the room's key unwrapped in memory (its key cache; when a key leaves
  // it: Impl::key_cache in postgres_store.cpp). For tests and diagnostics.
  bool holds_key(const std::string& room_id) const;

  struct Impl;
  explicit PostgresStore(std::unique_ptr<Impl> impl);  // use open()

 private:
  GroupWriter& group_writer() override;

  std::unique_ptr<Impl> impl_;
};

}  // namespace mend::store
