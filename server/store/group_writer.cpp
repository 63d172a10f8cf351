#include "server/store/group_writer.h"

#include <pthread.h>

#include <algorithm>
#include <utility>
#include <variant>

namespace mend::store {

using ops::AppendOp;
using ops::AuditOp;
using ops::DestroyOp;
using ops::RejectionOp;
using ops::RewriteOp;
using ops::WriteOp;

void prometheus_writer_series(std::ostringstream& out, const WriterStats& stats,
                              const char* commits_help, const char* failed_help) {
  prometheus_series(out, "counter", "mend_store_commits_total", commits_help, stats.commits);
  prometheus_series(out, "counter", "mend_store_appends_total", "Appends committed.",
                    stats.appends_committed);
  prometheus_series(out, "counter", "mend_store_appends_rejected_total",
                    "Appends refused (conflict, invalid, corrupt).", stats.appends_rejected);
  prometheus_series(out, "counter", "mend_store_writes_failed_total", failed_help,
                    stats.writes_failed);
  prometheus_series(out, "counter", "mend_store_writes_refused_total",
                    "Writes refused: queue full or store closing.", stats.writes_refused);
  prometheus_series(out, "gauge", "mend_store_largest_batch",
                    "Most appends committed in one transaction.", stats.largest_batch);
  prometheus_series(out, "gauge", "mend_store_pending_writes", "Writes queued now.",
                    stats.pending_writes);
  prometheus_histogram(out, "mend_store_queue_wait_seconds",
                       "From a write's submission to the writer taking it into a batch.",
                       stats.queue_wait);
  prometheus_histogram(out, "mend_store_batch_seconds",
                       "From the writer taking a batch to its transaction's end (commit done).",
                       stats.batch);
  prometheus_histogram(out, "mend_store_completion_trip_seconds",
                       "From a write's completion call to its room's handler running.",
                       stats.completion_trip);
}

void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

// ---------------------------------------------------------------- GroupWriter

void GroupWriter::set_limits(std::size_t max_batch, std::size_t max_pending) {
  max_batch_ = max_batch;
  queue_.set_limit(max_pending);
}

void GroupWriter::start(BatchCommitter& committer) {
  thread_ = std::thread([this, &committer] {
    name_this_thread("mend-writer");
    loop(committer);
  });
}

void GroupWriter::loop(BatchCommitter& committer) {
  for (;;) {
    std::vector<WriteOp> batch = take_batch();
    if (batch.empty()) return;  // closed and drained
    if (auto* destroy_op = std::get_if<DestroyOp>(&batch.front())) {
      committer.destroy(*destroy_op);
    } else {
      committer.commit_batch(batch);
    }
  }
}

std::vector<WriteOp> GroupWriter::take_batch() {
  // Appends, audit appends, rejections and rewrites share one group commit; a destroy runs
  // alone (two transactions: the key first).
  std::vector<Queued> queued =
      queue_.pop_batch(max_batch_, [](const Queued& q) { return ops::groupable(q.op); });
  batch_taken_ = now();
  std::vector<WriteOp> batch;
  batch.reserve(queued.size());
  for (Queued& q : queued) {
    queue_wait_.observe(batch_taken_ - q.submitted);
    batch.push_back(std::move(q.op));
  }
  return batch;
}

void GroupWriter::submit(WriteOp op) {
  Queued queued{std::move(op), now()};
  std::optional<StoreError> refused = queue_.push(queued);
  if (!refused) return;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.writes_refused;
  }
  ops::complete(queued.op, std::move(refused));
}

void GroupWriter::close() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void GroupWriter::count_batch(const std::vector<WriteOp>& batch,
                              const std::vector<std::optional<StoreError>>& outcomes,
                              bool committed) {
  batch_.observe(now() - batch_taken_);
  std::uint64_t appends = 0;  // the stats count event appends, not audit appends
  std::uint64_t ok = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!std::holds_alternative<AppendOp>(batch[i])) continue;
    ++appends;
    if (committed && !outcomes[i]) ++ok;
  }
  std::lock_guard lock(stats_mutex_);
  if (committed) {
    ++stats_.commits;
    stats_.appends_committed += ok;
    stats_.appends_rejected += appends - ok;
    stats_.largest_batch = std::max(stats_.largest_batch, appends);
  } else {
    stats_.writes_failed += batch.size();
  }
}

void GroupWriter::count_destroy(const std::optional<StoreError>& outcome) {
  batch_.observe(now() - batch_taken_);
  std::lock_guard lock(stats_mutex_);
  if (!outcome) ++stats_.commits;
  if (outcome && outcome->code == StoreErrorCode::kUnavailable) ++stats_.writes_failed;
}

WriterStats GroupWriter::stats() const {
  WriterStats out;
  {
    std::lock_guard lock(stats_mutex_);
    out = stats_;
  }
  out.pending_writes = queue_.size();
  out.queue_wait = queue_wait_.snapshot();
  out.batch = batch_.snapshot();
  out.completion_trip = completion_trip_.snapshot();
  return out;
}

// ---------------------------------------------------------------- QueuedWriteStore

void QueuedWriteStore::append(AppendRequest request, AppendDone done) {
  group_writer().submit(AppendOp{std::move(request), std::move(done)});
}

void QueuedWriteStore::record_rejection(RecordedResult rejection, std::uint64_t lease_epoch,
                                        StoreDone done) {
  group_writer().submit(RejectionOp{std::move(rejection), lease_epoch, std::move(done)});
}

void QueuedWriteStore::destroy_room(std::string room_id, StoreDone done) {
  destroy_room_audited(std::move(room_id), {}, 0, std::move(done));
}

void QueuedWriteStore::destroy_room_audited(std::string room_id,
                                            std::vector<v1::AuditEntry> audit,
                                            std::uint64_t lease_epoch, StoreDone done) {
  group_writer().submit(
      DestroyOp{std::move(room_id), std::move(audit), lease_epoch, std::move(done)});
}

void QueuedWriteStore::rewrite_events(std::string room_id, std::vector<v1::Event> events,
                                      StoreDone done) {
  rewrite_events_audited(std::move(room_id), std::move(events), {}, 0, std::move(done));
}

void QueuedWriteStore::rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                                              std::vector<v1::AuditEntry> audit,
                                              std::uint64_t lease_epoch, StoreDone done) {
  group_writer().submit(RewriteOp{std::move(room_id), std::move(events), std::move(audit),
                                  lease_epoch, std::move(done)});
}

void QueuedWriteStore::append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                                    StoreDone done) {
  append_audit_fenced(std::move(room_id), std::move(entries), 0, std::move(done));
}

void QueuedWriteStore::append_audit_fenced(std::string room_id,
                                           std::vector<v1::AuditEntry> entries,
                                           std::uint64_t lease_epoch, StoreDone done) {
  group_writer().submit(
      AuditOp{std::move(room_id), std::move(entries), lease_epoch, std::move(done)});
}

void QueuedWriteStore::add_refusals(std::string room_id, std::vector<RefusalCount> deltas,
                                    StoreDone done) {
  group_writer().submit(ops::RefusalsOp{std::move(room_id), std::move(deltas), std::move(done)});
}

// ---------------------------------------------------------------- RoomKeyCache

const crypto::Key* RoomKeyCache::find(const std::string& room_id) const {
  auto it = keys_.find(room_id);
  return it == keys_.end() ? nullptr : &it->second;
}

void RoomKeyCache::remember(const std::string& room_id, const crypto::Key& key) {
  if (keys_.size() >= kMaxCachedRoomKeys) keys_.clear();
  keys_.insert_or_assign(room_id, key);
}

void RoomKeyCache::remember(const std::map<std::string, crypto::Key>& created) {
  for (const auto& [room_id, key] : created) remember(room_id, key);
}

}  // namespace mend::store
