// The write side both durable stores (SqliteStore, PostgresStore) share, internal to
// server/store: every write call becomes a queued WriteOp (store_ops.h); ONE writer thread
// takes the writes waiting when it becomes free as one batch (a destroy alone) and hands them
// to its store's commit; the group commit's counters and the writer's cache of room keys.
//
// Thread safety: QueuedWriteStore's and GroupWriter's methods may be called from any thread;
// RoomKeyCache belongs to the writer thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/store/crypto.h"
#include "server/store/store.h"
#include "server/store/store_ops.h"
#include "server/store/work_queue.h"

namespace mend::store {

// The counters of a group-committing writer, since open. A snapshot.
struct WriterStats {
  std::uint64_t commits = 0;            // write transactions committed
  std::uint64_t appends_committed = 0;  // appends that succeeded
  std::uint64_t appends_rejected = 0;   // appends completed with kConflict/kInvalid/kCorrupt/kFenced
  std::uint64_t writes_failed = 0;      // writes completed with kUnavailable by a storage error
  std::uint64_t writes_refused = 0;     // refused: queue full or store closed (or unreachable)
  std::uint64_t largest_batch = 0;      // most appends committed in one transaction
  std::size_t pending_writes = 0;       // queued now
};

// The writer's series in Prometheus text format; the help of the two whose meaning differs
// between the stores is given.
void prometheus_writer_series(std::ostringstream& out, const WriterStats& stats,
                              const char* commits_help, const char* failed_help);

// What a store's writer thread does with the batches GroupWriter hands it.
class BatchCommitter {
 public:
  // Appends, audit appends, rejections, refusal counts and rewrites in one transaction, in queue order; every
  // op completed (GroupWriter::count_batch counts it).
  virtual void commit_batch(std::vector<ops::WriteOp>& batch) = 0;
  // A destroy, alone (the key's deletion commits first); completed.
  virtual void destroy(ops::DestroyOp& op) = 0;

 protected:
  ~BatchCommitter() = default;
};

// The bounded write queue, the writer thread and its counters.
class GroupWriter {
 public:
  GroupWriter() = default;
  GroupWriter(const GroupWriter&) = delete;
  GroupWriter& operator=(const GroupWriter&) = delete;
  ~GroupWriter() { close(); }

  // Before start(): at most `max_batch` writes per batch, `max_pending` queued.
  void set_limits(std::size_t max_batch, std::size_t max_pending);
  void start(BatchCommitter& committer);
  // Queues the write, or completes it at once with kUnavailable (full, closed).
  void submit(ops::WriteOp op);
  // Refuses new writes, lets the thread complete the queued ones, joins it. Idempotent.
  void close();

  // Counts a finished batch: `outcomes[i]` is batch[i]'s (nullopt: stored when `committed`).
  void count_batch(const std::vector<ops::WriteOp>& batch,
                   const std::vector<std::optional<StoreError>>& outcomes, bool committed);
  // Counts a finished destroy.
  void count_destroy(const std::optional<StoreError>& outcome);
  WriterStats stats() const;

 private:
  void loop(BatchCommitter& committer);

  WorkQueue<ops::WriteOp> queue_;
  std::size_t max_batch_ = 1;
  std::thread thread_;
  mutable std::mutex stats_mutex_;
  WriterStats stats_;
};

// `own` (read under `mutex`) with `writer`'s counters: a store's stats().
template <typename Stats>
Stats with_writer_stats(std::mutex& mutex, const Stats& own, const GroupWriter& writer) {
  Stats out;
  {
    std::lock_guard lock(mutex);
    out = own;
  }
  static_cast<WriterStats&>(out) = writer.stats();
  return out;
}

// A Store whose writes all go through a GroupWriter: the write calls, once for both stores.
class QueuedWriteStore : public Store {
 public:
  void append(AppendRequest request, AppendDone done) override;
  void record_rejection(RecordedResult rejection, std::uint64_t lease_epoch,
                        StoreDone done) override;
  void destroy_room(std::string room_id, StoreDone done) override;
  void rewrite_events(std::string room_id, std::vector<v1::Event> events, StoreDone done) override;
  void destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                            std::uint64_t lease_epoch, StoreDone done) override;
  void rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                              std::vector<v1::AuditEntry> audit, std::uint64_t lease_epoch,
                              StoreDone done) override;
  void append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                    StoreDone done) override;
  void append_audit_fenced(std::string room_id, std::vector<v1::AuditEntry> entries,
                           std::uint64_t lease_epoch, StoreDone done) override;
  void add_refusals(std::string room_id, std::vector<RefusalCount> deltas,
                    StoreDone done) override;

 protected:
  virtual GroupWriter& group_writer() = 0;
};

// Unwrapped keys of recently used rooms; over kMaxCachedRoomKeys it starts afresh. A room id is
// never reused, so a cached key is never replaced by another; a key erased by another node on
// the same database is the store's to drop (PostgresStore).
class RoomKeyCache {
 public:
  static constexpr std::size_t kMaxCachedRoomKeys = 4'096;

  const crypto::Key* find(const std::string& room_id) const;
  void remember(const std::string& room_id, const crypto::Key& key);
  // The keys of rooms a committed batch created.
  void remember(const std::map<std::string, crypto::Key>& created);
  void forget(const std::string& room_id) { keys_.erase(room_id); }

 private:
  std::map<std::string, crypto::Key> keys_;
};

}  // namespace mend::store
