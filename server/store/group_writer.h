// The write side both durable stores (SqliteStore, PostgresStore) share, internal to
// server/store: every write call becomes a queued WriteOp (store_ops.h); ONE writer thread
// takes the writes waiting when it becomes free as one batch (a destroy alone) and hands them
// to its store's commit; the group commit's counters and latencies and the writer's cache of
// room keys.
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
#include <unordered_map>
#include <vector>

#include "server/store/crypto.h"
#include "server/store/latency_histogram.h"
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
  // Where a write's time goes (every write but destroys for the first; the batch's work and
  // the trip back for destroys too):
  LatencySnapshot queue_wait;       // submitted -> taken into a batch by the writer thread
  LatencySnapshot batch;            // taken -> its transaction committed (before completions)
  LatencySnapshot completion_trip;  // completion called -> the caller's handler ran
                                    // (Store::completion_delivered)
};

// The writer's series in Prometheus text format (counters, gauges and the three latency
// histograms); the help of the two whose meaning differs between the stores is given.
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
  // Before start(): the clock of the latencies (empty: steady_clock).
  void set_clock(LatencyClock clock) { clock_ = std::move(clock); }
  void start(BatchCommitter& committer);
  // Queues the write, or completes it at once with kUnavailable (full, closed).
  void submit(ops::WriteOp op);
  // Refuses new writes, lets the thread complete the queued ones, joins it. Idempotent.
  void close();

  // Counts a finished batch: `outcomes[i]` is batch[i]'s (nullopt: stored when `committed`).
  // Called on the writer thread once the transaction ended, before the completions: it also
  // takes the batch's time.
  void count_batch(const std::vector<ops::WriteOp>& batch,
                   const std::vector<std::optional<StoreError>>& outcomes, bool committed);
  // Counts a finished destroy (and takes its time, like count_batch).
  void count_destroy(const std::optional<StoreError>& outcome);
  // A completion's trip back (Store::completion_delivered). Any thread.
  void completion_delivered(std::chrono::steady_clock::duration trip) {
    completion_trip_.observe(trip);
  }
  WriterStats stats() const;

 private:
  // A write with the time it was submitted.
  struct Queued {
    ops::WriteOp op;
    std::chrono::steady_clock::time_point submitted;
  };

  void loop(BatchCommitter& committer);
  // The next batch, its queue waits observed; empty once closed and drained.
  std::vector<ops::WriteOp> take_batch();
  std::chrono::steady_clock::time_point now() const { return now_on(clock_); }

  WorkQueue<Queued> queue_;
  std::size_t max_batch_ = 1;
  LatencyClock clock_;
  std::thread thread_;
  std::chrono::steady_clock::time_point batch_taken_;  // writer thread only
  mutable std::mutex stats_mutex_;
  WriterStats stats_;
  LatencyHistogram queue_wait_;
  LatencyHistogram batch_;
  LatencyHistogram completion_trip_;
};

// Names the calling thread (at most 15 characters) for top, perf and /proc/PID/task/*/comm.
void name_this_thread(const char* name);

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
  void completion_delivered(std::chrono::steady_clock::duration trip) override {
    group_writer().completion_delivered(trip);
  }

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
  std::unordered_map<std::string, crypto::Key> keys_;  // looked up for every append
};

}  // namespace mend::store
