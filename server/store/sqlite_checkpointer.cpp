// SqliteStore's checkpointer: PASSIVE checkpoints beside the writer, and the WAL truncations
// after rewrites and destroys that their completions wait for (sqlite_store.h).
#include <algorithm>
#include <chrono>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

#include "server/store/sqlite_store_impl.h"

namespace mend::store {

namespace {

using sqlite::Db;

// After a truncation found the writer or a reader in its way, the checkpointer tries again
// this much later.
constexpr std::chrono::milliseconds kLockRetry{5};
// A truncation's PASSIVE checkpoints: at most this many in a row, each copying what the writer
// added during the one before.
constexpr int kCatchUpPasses = 4;
// A truncation whose passes left frames to copy is put off (retried kLockRetry later) this
// many times in a row, then runs all the same.
constexpr int kTruncationPutOffs = 4;
// The WAL's bound, in multiples of options.checkpoint_frames (finish_wal).
constexpr int kWalBoundFactor = 4;
// While a truncation waits for its interval, the checkpointer re-reads an injected clock
// this often.
constexpr std::chrono::milliseconds kClockRecheck{50};

}  // namespace

void SqliteStore::Impl::complete_after_truncation(StoreDone done) {
  {
    std::lock_guard lock(checkpoint_mutex);
    truncation_waiters.push_back(std::move(done));
  }
  checkpoint_wanted.notify_one();
}

int SqliteStore::Impl::checkpoint(Db& db, int mode, int* wal_frames, int* copied, int* added) {
  std::lock_guard one_at_a_time(checkpoint_run_mutex);
  return checkpoint_held(db, mode, wal_frames, copied, added);
}

int SqliteStore::Impl::checkpoint_held(Db& db, int mode, int* wal_frames, int* copied,
                                       int* added) {
  int backfilled = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db.get(), nullptr, mode, wal_frames, &backfilled);
  if (copied != nullptr) *copied = backfilled;
  const int frames = rc == SQLITE_OK ? count_copied_frames(mode, backfilled) : 0;
  if (added != nullptr) *added = frames;
  return rc;
}

int SqliteStore::Impl::count_copied_frames(int mode, int copied) {
  // SQLite reports the frames of the WAL copied so far, by this and earlier checkpoints; a
  // WAL started over since the last one counts from zero.
  if (wal_restarted.exchange(false) || copied < frames_backfilled) frames_backfilled = 0;
  const int added = std::max(copied - frames_backfilled, 0);
  if (added > 0) {
    std::lock_guard stats_lock(stats_mutex);
    stats.checkpoint_frames += static_cast<std::uint64_t>(added);
  }
  // After a TRUNCATE the writer's next frames start the WAL over.
  frames_backfilled = mode == SQLITE_CHECKPOINT_PASSIVE ? copied : 0;
  return added;
}

int SqliteStore::Impl::frames_left() const {
  const int wal_frames = last_wal_frames.load();
  return wal_restarted.load() ? wal_frames : std::max(wal_frames - frames_backfilled, 0);
}

bool SqliteStore::Impl::truncate_wal(Db& db) {
  std::lock_guard one_at_a_time(checkpoint_run_mutex);
  // SQLite reports no frames for a TRUNCATE (the WAL is empty after it): what was left before
  // it, about, is what it copied holding the write lock.
  const int left = frames_left();
  const int rc = checkpoint_held(db, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    count_incomplete_checkpoint();
    return false;
  }
  std::lock_guard stats_lock(stats_mutex);
  stats.checkpoint_frames += static_cast<std::uint64_t>(left);
  stats.locked_checkpoint_frames += static_cast<std::uint64_t>(left);
  return true;  // TRUNCATE: the whole WAL is in the file and the WAL is empty
}

int SqliteStore::Impl::on_wal_commit(void* impl, sqlite3* /*db*/, const char* /*name*/,
                                     int frames) {
  auto* self = static_cast<Impl*>(impl);
  if (frames < self->last_wal_frames) {
    self->wal_restarted = true;
    self->run_from_frames = 0;
    std::lock_guard stats_lock(self->stats_mutex);
    ++self->stats.wal_restarts;
  }
  self->last_wal_frames = frames;
  self->wal_commits.fetch_add(1);
  if (!sqlite::checkpoint_due(frames, self->options.checkpoint_frames, self->run_from_frames)) {
    return SQLITE_OK;
  }
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
        const auto started = now();
        const bool truncated = run_truncation(lock);
        checkpoint_latency.observe(now() - started);
        if (truncated) continue;
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
    run_from_frames = std::max(last_wal_frames.load(), 1);  // commits from now on: checkpoint_due
    lock.unlock();
    const auto started = now();
    if (background_pass()) checkpoint_latency.observe(now() - started);
    lock.lock();
  }
}

bool SqliteStore::Impl::background_pass() {
  // One pass: the writer copies what it leaves (finish_wal), and no lock is taken from the
  // writer: the WAL starts over at the writer's first transaction after a checkpoint copied it
  // whole, with no RESTART. A pass syncs the WAL before it copies; SQLite syncs the database
  // file only after a checkpoint that copied the WAL whole (the writer's, at the end of a
  // cycle), and that sync would write out every page of the cycle's passes while the commits
  // queued behind the writer wait. So each pass that copied syncs the file here, on this
  // thread; the writer's copy then syncs only its own few pages. (Held under
  // checkpoint_run_mutex: a writer's copy meanwhile is put off to its next commit.)
  std::lock_guard one_at_a_time(checkpoint_run_mutex);
  if (frames_left() == 0) return false;
  int added = 0;
  if (checkpoint_held(*checkpointer, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr, &added) !=
      SQLITE_OK) {
    count_incomplete_checkpoint();
  } else if (added > 0) {
    // A failed sync loses nothing (SQLite syncs the file again before the WAL starts over).
    const bool synced = sqlite::sync_database_file(*checkpointer);
    std::lock_guard stats_lock(stats_mutex);
    ++stats.background_checkpoints;
    if (!synced) ++stats.checkpoints_incomplete;
  }
  return true;
}

bool SqliteStore::Impl::catch_up() {
  for (int pass = 0; pass < kCatchUpPasses; ++pass) {
    const std::uint64_t commits_before = wal_commits.load();
    int wal_frames = 0;
    int copied = 0;
    int added = 0;
    const int rc =
        checkpoint(*checkpointer, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied, &added);
    if (rc != SQLITE_OK) {
      count_incomplete_checkpoint();
      return false;
    }
    if (added > 0) {
      std::lock_guard stats_lock(stats_mutex);
      ++stats.background_checkpoints;
    }
    if (copied >= wal_frames && wal_commits.load() == commits_before) return true;
  }
  return false;
}

void SqliteStore::Impl::finish_wal() {
  const int wal_frames = last_wal_frames.load();
  if (wal_frames < std::max(options.checkpoint_frames, writer_copy_retry_frames)) return;
  // Between two of the writer's transactions nobody adds frames, so a PASSIVE checkpoint here
  // copies the whole WAL (unless a reader's snapshot keeps frames back), and the writer's next
  // transaction starts the WAL over. It costs the commits queued behind it a few page writes
  // and the syncs of the WAL and the database file: so only for what the checkpointer's last
  // pass left, and not while a pass of the checkpointer's runs (the next commit tries again).
  // Past the WAL's bound (the checkpointer did not keep up), all of it, after that pass.
  const bool past_bound = wal_frames >= kWalBoundFactor * options.checkpoint_frames;
  std::unique_lock one_at_a_time(checkpoint_run_mutex, std::defer_lock);
  if (past_bound) {
    one_at_a_time.lock();
  } else if (!one_at_a_time.try_lock()) {
    return;
  }
  const int left = frames_left();
  if (left == 0 ||
      (!past_bound && !sqlite::writer_finishes_wal(wal_frames, left, options.checkpoint_frames))) {
    return;
  }
  int wal_after = 0;
  int copied = 0;
  int added = 0;
  const auto started = now();
  const int rc =
      checkpoint_held(*writer->db, SQLITE_CHECKPOINT_PASSIVE, &wal_after, &copied, &added);
  writer_checkpoint_latency.observe(now() - started);
  // A reader still on an older snapshot kept frames from being copied: past the bound, where
  // the writer waits for the checkpointer's pass, try again only once another
  // checkpoint_frames came, not at every commit (a small rest costs no wait: at the next one).
  const bool whole = rc == SQLITE_OK && copied >= wal_after;
  writer_copy_retry_frames = whole || !past_bound ? 0 : wal_frames + options.checkpoint_frames;
  if (rc != SQLITE_OK) {
    count_incomplete_checkpoint();
    return;
  }
  if (added > 0) {
    std::lock_guard stats_lock(stats_mutex);
    ++stats.writer_checkpoints;
  }
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
  // busy disk); with none left, it only truncates. So while the passes leave frames (commits
  // came during them) it is put off a few times (kLockRetry each), then runs all the same.
  // It fails fast (no busy wait) when the writer is inside a transaction or a reader reads
  // the WAL.
  const bool put_off = !catch_up() && truncations_put_off < kTruncationPutOffs;
  truncations_put_off = put_off ? truncations_put_off + 1 : 0;
  const bool truncated = !put_off && truncate_wal(*checkpointer);
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

}  // namespace mend::store
