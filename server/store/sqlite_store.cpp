// SqliteStore's facade: open (checks, schema, connections), lifecycle, the counters. The
// parts: sqlite_writer.cpp (group commit), sqlite_checkpointer.cpp, sqlite_readers.cpp.
#include "server/store/sqlite_store.h"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "server/store/sqlite_store_impl.h"

namespace mend::store {
namespace {

using sqlite::Db;
using sqlite::error;
using sqlite::open_error;
using sqlite::OpenError;
using sqlite::ReaderConnection;
using sqlite::WriterConnection;

// How long a connection waits for a lock (WAL recovery, checkpoints) before reporting busy.
constexpr int kBusyTimeoutMs = 5'000;
// The writer waits for a lock held by a truncation in steps this long (SQLite's own busy
// timeout sleeps 1, 2, 5, 10 ... ms, far longer than a truncation usually holds the lock).
constexpr std::chrono::microseconds kWriterBusyStep{100};
// close() seals the file only if its quick_check finishes within this (sqlite_schema.h).
constexpr std::chrono::milliseconds kSealCheckBudget{10'000};

}  // namespace

// ---------------------------------------------------------------- lifecycle

void SqliteStore::Impl::start() {
  // Replaces SQLite's auto-checkpoint on the writer connection.
  sqlite3_wal_hook(writer->db->get(), &Impl::on_wal_commit, this);
  checkpointer_thread = std::thread([this] {
    name_this_thread("mend-checkpoint");
    checkpointer_loop();
  });
  writes.start(*this);
  for (auto& reader : readers) {
    reader_threads.emplace_back([this, conn = reader.get()] {
      name_this_thread("mend-reader");
      reader_loop(*conn);
    });
  }
}

void SqliteStore::Impl::close() {
  std::lock_guard close_lock(close_mutex);
  if (closed) return;
  closed = true;
  writes.close();  // completes the queued writes first
  reads.close();
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

}  // namespace

// Short steps up to kBusyTimeoutMs in all.
int SqliteStore::Impl::on_writer_busy(void* impl, int attempts) {
  if (attempts == 0) {
    auto* self = static_cast<Impl*>(impl);
    self->writer_blocked = true;
    std::lock_guard stats_lock(self->stats_mutex);
    ++self->stats.writer_lock_waits;
  }
  if (attempts * kWriterBusyStep >= std::chrono::milliseconds(kBusyTimeoutMs)) return 0;
  std::this_thread::sleep_for(kWriterBusyStep);
  return 1;
}

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

  sqlite3_busy_handler(db->get(), &Impl::on_writer_busy, impl.get());
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
  impl->writes.set_limits(options.max_batch, options.max_pending_writes);
  impl->writes.set_clock(options.clock);
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
  SqliteStoreStats out = with_writer_stats(impl_->stats_mutex, impl_->stats, impl_->writes);
  out.commit = impl_->commit_latency.snapshot();
  out.writer_lock_wait = impl_->writer_lock_wait.snapshot();
  out.checkpoint = impl_->checkpoint_latency.snapshot();
  out.writer_checkpoint = impl_->writer_checkpoint_latency.snapshot();
  return out;
}

GroupWriter& SqliteStore::group_writer() { return impl_->writes; }

std::string prometheus_text(const SqliteStoreStats& stats) {
  std::ostringstream out;
  prometheus_writer_series(out, stats,
                           "Write transactions committed (one fsync each with --durability full).",
                           "Writes failed by an I/O error.");
  prometheus_series(out, "counter", "mend_store_checkpoints_total",
                    "Background checkpoints that copied WAL frames into the database file.",
                    stats.background_checkpoints);
  prometheus_series(out, "counter", "mend_store_wal_restarts_total",
                    "Commits that started the WAL over from its beginning.", stats.wal_restarts);
  prometheus_series(out, "counter", "mend_store_writer_checkpoints_total",
                    "Checkpoints the writer ran itself to finish a long WAL.",
                    stats.writer_checkpoints);
  prometheus_series(out, "counter", "mend_store_wal_truncations_total",
                    "WAL truncations after rewrites and room erasures.", stats.wal_truncations);
  prometheus_series(out, "counter", "mend_store_checkpoints_incomplete_total",
                    "Truncation attempts retried and checkpoints that failed.",
                    stats.checkpoints_incomplete);
  prometheus_series(out, "counter", "mend_store_checkpoint_frames_total",
                    "WAL frames the checkpoints copied into the database file.",
                    stats.checkpoint_frames);
  prometheus_series(out, "counter", "mend_store_locked_checkpoint_frames_total",
                    "Of those, the frames a TRUNCATE copied while it held the write lock.",
                    stats.locked_checkpoint_frames);
  prometheus_series(out, "counter", "mend_store_writer_lock_waits_total",
                    "Times the writer waited for the write lock (held by a checkpoint).",
                    stats.writer_lock_waits);
  prometheus_histogram(out, "mend_store_commit_seconds",
                       "The COMMIT of a write transaction: its WAL writes and fdatasync.",
                       stats.commit);
  prometheus_histogram(out, "mend_store_writer_lock_wait_seconds",
                       "A transaction's wait for the write lock, when it had to wait.",
                       stats.writer_lock_wait);
  prometheus_histogram(out, "mend_store_checkpoint_seconds",
                       "A checkpointer pass, or a truncation (its PASSIVE passes and TRUNCATE).",
                       stats.checkpoint);
  prometheus_histogram(out, "mend_store_writer_checkpoint_seconds",
                       "A checkpoint the writer ran itself to finish a long WAL.",
                       stats.writer_checkpoint);
  return out.str();
}

}  // namespace mend::store
