#include "server/store/group_writer.h"

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
}

// ---------------------------------------------------------------- GroupWriter

void GroupWriter::set_limits(std::size_t max_batch, std::size_t max_pending) {
  max_batch_ = max_batch;
  queue_.set_limit(max_pending);
}

void GroupWriter::start(BatchCommitter& committer) {
  thread_ = std::thread([this, &committer] { loop(committer); });
}

void GroupWriter::loop(BatchCommitter& committer) {
  for (;;) {
    // Appends, audit appends, rejections and rewrites share one group commit; a destroy runs
    // alone (two transactions: the key first).
    std::vector<WriteOp> batch = queue_.pop_batch(max_batch_, ops::groupable);
    if (batch.empty()) return;  // closed and drained
    if (auto* destroy_op = std::get_if<DestroyOp>(&batch.front())) {
      committer.destroy(*destroy_op);
    } else {
      committer.commit_batch(batch);
    }
  }
}

void GroupWriter::submit(WriteOp op) {
  std::optional<StoreError> refused = queue_.push(op);
  if (!refused) return;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.writes_refused;
  }
  ops::complete(op, std::move(refused));
}

void GroupWriter::close() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void GroupWriter::count_batch(const std::vector<WriteOp>& batch,
                              const std::vector<std::optional<StoreError>>& outcomes,
                              bool committed) {
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
