#include "server/store/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <variant>

#include "server/store/crypto.h"
#include "server/store/pg_conn.h"
#include "server/store/postgres_calls.h"
#include "server/store/postgres_schema.h"
#include "server/store/row_crypto.h"
#include "server/store/store_ops.h"
#include "server/store/work_queue.h"

namespace mend::store {
namespace {

using ops::AppendOp;
using ops::AuditOp;
using ops::DestroyOp;
using ops::RejectionOp;
using ops::RewriteOp;
using ops::WriteOp;
using pg::Conn;
using pg::Params;
using pg::Result;
using rows::event_aad;
using rows::result_aad;
using rows::result_lookup;

using Clock = std::chrono::steady_clock;

// While resolving an in-doubt commit, how often the writer asks again.
constexpr std::chrono::milliseconds kDoubtRetry{50};
// Statements per pipeline: PostgreSQL's answers are read only after all were sent, so a bound
// keeps them within the sockets' buffers (a larger batch takes one round trip per this many).
constexpr std::size_t kPipelineStatements = 256;

StoreError error(StoreErrorCode code, std::string message) {
  return StoreError{code, std::move(message)};
}

StoreError unreachable(const std::string& why) {
  return error(StoreErrorCode::kUnavailable, "PostgreSQL is unreachable: " + why);
}

// One connection, (re)established on demand but at most once per backoff after a failure,
// so that while PostgreSQL is down every call fails at once instead of waiting to connect.
// The backoff ends early once another of the store's links connected after this one's
// failure: PostgreSQL is back, and a read should not fail for another backoff.
class Link {
 public:
  Link(const std::string& url, std::chrono::milliseconds backoff,
       std::atomic<std::uint64_t>& connects, std::function<void()> on_reconnect)
      : url_(url), backoff_(backoff), connects_(connects), on_reconnect_(std::move(on_reconnect)) {}

  // The connection, or nullptr with `failure` set.
  Conn* get(std::optional<StoreError>& failure) {
    if (conn_ && !conn_->broken()) return conn_.get();
    const bool had_one = conn_ != nullptr || reconnecting_;
    conn_.reset();
    if (Clock::now() < retry_at_ && connects_.load() == connects_at_failure_) {
      failure = unreachable(last_error_);
      return nullptr;
    }
    conn_ = Conn::connect(url_, last_error_);
    if (!conn_) {
      retry_at_ = Clock::now() + backoff_;
      connects_at_failure_ = connects_.load();
      reconnecting_ = true;
      failure = unreachable(last_error_);
      return nullptr;
    }
    ++connects_;
    reconnecting_ = false;
    if (had_one) on_reconnect_();
    return conn_.get();
  }
  // Takes a connection now, ignoring the backoff (an in-doubt commit's resolution).
  Conn* get_now(std::optional<StoreError>& failure) {
    retry_at_ = {};
    return get(failure);
  }
  void adopt(std::unique_ptr<Conn> conn) { conn_ = std::move(conn); }
  void reset() { conn_.reset(); }

 private:
  const std::string& url_;
  std::chrono::milliseconds backoff_;
  std::atomic<std::uint64_t>& connects_;  // connections any link of the store made
  std::uint64_t connects_at_failure_ = 0;
  std::function<void()> on_reconnect_;
  std::unique_ptr<Conn> conn_;
  Clock::time_point retry_at_{};
  bool reconnecting_ = false;
  std::string last_error_;
};

using ReadTask = std::function<void(Link&)>;

// What became of a write transaction that was asked to commit.
enum class Fate { kCommitted, kNotCommitted, kInDoubt };

const char* const kLockRoom = "SELECT last_seq, destroyed FROM rooms WHERE room_id = $1 FOR UPDATE";

}  // namespace

struct PostgresStore::Impl final : BatchCommitter {
  PostgresStoreOptions options;
  crypto::Key master;

  // Writer thread state (touched only by the writer thread once started).
  std::unique_ptr<Link> writer;
  std::optional<StoreError> batch_failure;  // an SQL error aborts the whole transaction

  GroupWriter writes;
  WorkQueue<ReadTask> reads;

  mutable std::mutex stats_mutex;
  PostgresStoreStats stats;  // the connections' counters (the writer's are in `writes`)

  std::mutex close_mutex;
  bool closed = false;
  std::vector<std::thread> reader_threads;

  // The room keys this node holds unwrapped, shared by the writer and the reader threads.
  // Another node may erase a room (crypto-shredding: its wrapped key deleted) while this node
  // still caches its key. That key can never serve: every statement that uses a cached key
  // checks in the same round trip that the room is not destroyed (a write under the room row's
  // lock, a read in its own snapshot), so it neither opens a row a later read still finds nor
  // seals one that is stored. And it leaves this node's memory as soon as this node learns
  // that the room is not its own or is gone, without a round trip of its own: a lease found
  // held elsewhere, taken anew (it lapsed: another node may have served the room meanwhile)
  // or released, or a lease call that failed; a write refused; a read that finds the room
  // destroyed; this node's erasure. Only the room's owner caches a key (its writes and result
  // lookups; a load does not), and erasing needs the lease, so the node that held the room
  // hears of the change at its next lease call at the latest.
  mutable std::mutex keys_mutex;
  RoomKeyCache key_cache;
  std::optional<crypto::Key> cached_key(const std::string& room_id) const {
    std::lock_guard lock(keys_mutex);
    const crypto::Key* key = key_cache.find(room_id);
    return key ? std::optional(*key) : std::nullopt;
  }
  void remember_key(const std::string& room_id, const crypto::Key& key) {
    std::lock_guard lock(keys_mutex);
    key_cache.remember(room_id, key);
  }
  void remember_keys(const std::map<std::string, crypto::Key>& created) {
    std::lock_guard lock(keys_mutex);
    key_cache.remember(created);
  }
  void forget_key(const std::string& room_id) {
    std::lock_guard lock(keys_mutex);
    key_cache.forget(room_id);
  }
  void count_read_round_trip() {
    std::lock_guard lock(stats_mutex);
    ++stats.read_round_trips;
  }
  // A reader's statement (one round trip).
  Result read(Conn& conn, const char* name, const char* sql, const Params& params) {
    count_read_round_trip();
    return conn.run(name, sql, params);
  }

  std::atomic<std::uint64_t> link_connects{0};  // Link: ends the others' backoff
  void count_reconnect() {
    std::lock_guard lock(stats_mutex);
    ++stats.reconnects;
  }
  std::unique_ptr<Link> make_link() {
    return std::make_unique<Link>(options.url, options.reconnect_backoff, link_connects,
                                  [this] { count_reconnect(); });
  }

  // --- writer ---
  void commit_batch(std::vector<WriteOp>& batch) override;
  // One try at the batch's transaction, sent as one pipeline (two round trips: the calls, then
  // COMMIT, whose transaction id is known before it is sent); true when committed. `retry`:
  // the connection was lost before COMMIT was sent (nothing stored).
  bool attempt_batch(std::vector<WriteOp>& batch, std::vector<std::optional<StoreError>>& outcomes,
                     std::map<std::string, crypto::Key>& new_keys, bool& retry);
  // BEGIN, noting the transaction id (for an in-doubt commit); nullopt: batch_failure set.
  std::optional<std::int64_t> begin(Conn& conn);
  Fate commit(Conn& conn, std::int64_t xid);
  Fate resolve_in_doubt(std::int64_t xid);
  void rollback(Conn& conn);
  // Runs a statement of the open transaction; false (batch_failure set) when it failed.
  bool run(Conn& conn, const char* name, const char* sql, const Params& params, Result& out);
  // The keys of the batch's rooms that are neither cached nor made in it, read in one
  // statement before the transaction; false (batch_failure set) when that failed.
  bool read_keys(Conn& conn, const std::vector<WriteOp>& batch,
                 std::map<std::string, pg::WriteKey>& keys);
  // The write's function call (its content sealed), or its outcome when decided without one.
  // A new room's key is made here (new_keys, made_wrapped).
  pg::Call plan(const WriteOp& op, const std::map<std::string, pg::WriteKey>& stored_keys,
                std::map<std::string, crypto::Key>& new_keys,
                std::map<std::string, std::string>& made_wrapped);
  static pg::CallKind kind_of(const WriteOp& op);
  void count_round_trip() {
    std::lock_guard lock(stats_mutex);
    ++stats.round_trips;
  }
  // The room's row locked for this transaction; nullopt: no such room (or batch_failure).
  std::optional<std::pair<std::uint64_t, bool>> lock_room(Conn& conn, const std::string& room_id);
  bool insert_audit(Conn& conn, const std::string& room_id,
                    const std::vector<v1::AuditEntry>& entries);
  void destroy(DestroyOp& op) override;
  std::optional<StoreError> shred_key(Conn& conn, DestroyOp& op);
  void delete_rows(const std::string& room_id);

  // --- readers ---
  void reader_loop();
  template <typename Refuse>
  void enqueue_read(ReadTask task, Refuse refuse);
  template <typename Out, typename Read>
  void submit_read(Read read, std::function<void(Out)> done);
  LoadResult do_load(Conn& conn, const std::string& room_id, std::uint64_t after_seq);
  FindResult do_find(Conn& conn, const CommandKey& key);
  // find_result for a room whose key is known: its result and whether it was destroyed, in one
  // statement.
  FindResult find_with_key(Conn& conn, const CommandKey& key, const crypto::Key& room_key);
  FindResult open_result(const CommandKey& key, const crypto::Key& room_key,
                         const std::string& lookup, const std::string& sealed);
  ListRoomsResult do_list(Conn& conn);
  AuditLoadResult do_load_audit(Conn& conn, const std::string& room_id);
  RefusalsResult do_load_refusals(Conn& conn, const std::string& room_id);
  LeaseResult do_acquire(Conn& conn, const std::string& room_id, const std::string& node,
                         std::chrono::milliseconds ttl);

  // --- lifecycle ---
  void start(std::unique_ptr<Conn> first_writer);
  void close();
};

// ---------------------------------------------------------------- writer

bool PostgresStore::Impl::run(Conn& conn, const char* name, const char* sql,
                              const Params& params, Result& out) {
  out = conn.run(name, sql, params);
  if (out.ok()) return true;
  batch_failure = pg::error_of(out, std::string("PostgreSQL refused ") + name);
  // Whatever the statement's own error, the transaction is aborted: retry the whole batch.
  batch_failure->code = StoreErrorCode::kUnavailable;
  return false;
}

std::optional<std::int64_t> PostgresStore::Impl::begin(Conn& conn) {
  batch_failure.reset();
  // Both in one round trip; the id lets an in-doubt COMMIT be resolved (txid_status).
  Result result = conn.exec("BEGIN; SELECT txid_current()");
  if (!result.ok() || result.rows() != 1) {
    batch_failure = pg::error_of(result, "cannot begin a transaction");
    batch_failure->code = StoreErrorCode::kUnavailable;
    return std::nullopt;
  }
  return std::stoll(result.bytes(0, 0));  // PQexec answers in text
}

void PostgresStore::Impl::rollback(Conn& conn) {
  if (!conn.broken()) conn.exec("ROLLBACK");
}

Fate PostgresStore::Impl::commit(Conn& conn, std::int64_t xid) {
  Result result = conn.exec("COMMIT");
  if (result.ok()) return Fate::kCommitted;
  batch_failure = pg::error_of(result, "cannot commit");
  batch_failure->code = StoreErrorCode::kUnavailable;
  if (!conn.broken()) return Fate::kNotCommitted;
  {
    std::lock_guard lock(stats_mutex);
    ++stats.in_doubt;
  }
  return resolve_in_doubt(xid);
}

Fate PostgresStore::Impl::resolve_in_doubt(std::int64_t xid) {
  const auto deadline = Clock::now() + options.in_doubt_limit;
  writer->reset();
  while (Clock::now() < deadline) {
    std::optional<StoreError> failure;
    Conn* conn = writer->get_now(failure);
    if (conn != nullptr) {
      Result status = conn->run("txid_status", "SELECT txid_status($1)", Params().int64(xid));
      if (status.ok() && status.rows() == 1) {
        const std::string fate = status.is_null(0, 0) ? "" : status.bytes(0, 0);
        if (fate == "committed") {
          std::lock_guard lock(stats_mutex);
          ++stats.in_doubt_committed;
          batch_failure.reset();
          return Fate::kCommitted;
        }
        if (fate != "in progress") return Fate::kNotCommitted;  // aborted (or forgotten)
      }
    }
    std::this_thread::sleep_for(kDoubtRetry);
  }
  batch_failure = error(StoreErrorCode::kUnavailable,
                        "the outcome of a commit is unknown: PostgreSQL stayed unreachable");
  return Fate::kInDoubt;
}

bool PostgresStore::Impl::attempt_batch(std::vector<WriteOp>& batch,
                                        std::vector<std::optional<StoreError>>& outcomes,
                                        std::map<std::string, crypto::Key>& new_keys,
                                        bool& retry) {
  std::optional<StoreError> failure;
  Conn* conn = writer->get(failure);
  if (conn == nullptr) {
    batch_failure = failure;
    return false;
  }
  batch_failure.reset();
  std::map<std::string, pg::WriteKey> stored_keys;
  if (!read_keys(*conn, batch, stored_keys)) {
    retry = conn->broken();
    return false;
  }
  // BEGIN, the transaction id (for an in-doubt commit), then one call per write.
  std::vector<pg::Statement> statements{{"begin", "BEGIN", Params()},
                                        {"txid", "SELECT txid_current()", Params()}};
  std::vector<std::size_t> write_of;  // statements[k + 2] is batch[write_of[k]]'s call
  std::map<std::string, std::string> made_wrapped;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    pg::Call call = plan(batch[i], stored_keys, new_keys, made_wrapped);
    if (!call.statement) {
      outcomes[i] = std::move(call.outcome);
      continue;
    }
    statements.push_back(std::move(*call.statement));
    write_of.push_back(i);
  }
  std::int64_t xid = 0;
  for (std::size_t start = 0; start < statements.size(); start += kPipelineStatements) {
    const std::size_t end = std::min(statements.size(), start + kPipelineStatements);
    const std::vector<pg::Statement> chunk(statements.begin() + static_cast<long>(start),
                                           statements.begin() + static_cast<long>(end));
    count_round_trip();
    std::vector<Result> results = conn->pipeline(chunk);
    for (std::size_t k = start; k < end; ++k) {
      Result& result = results[k - start];
      if (!result.ok() || (k > 0 && result.rows() != 1)) {
        // Nothing is committed (COMMIT was not sent): on a lost connection it may run again.
        batch_failure = pg::error_of(result, "PostgreSQL refused a write");
        batch_failure->code = StoreErrorCode::kUnavailable;
        retry = conn->broken();
        rollback(*conn);
        return false;
      }
      if (k == 1) xid = result.int64(0, 0);
      if (k < 2) continue;
      const std::size_t i = write_of[k - 2];
      outcomes[i] = pg::outcome_of(kind_of(batch[i]), result.is_null(0, 0) ? "" : result.bytes(0, 0));
      // A room this batch failed to create keeps no key of ours.
      const auto* append_op = std::get_if<AppendOp>(&batch[i]);
      if (outcomes[i] && append_op != nullptr && append_op->request.expected_last_seq == 0) {
        new_keys.erase(append_op->request.room_id);
      }
    }
  }
  count_round_trip();
  return commit(*conn, xid) == Fate::kCommitted;
}

void PostgresStore::Impl::commit_batch(std::vector<WriteOp>& batch) {
  std::vector<std::optional<StoreError>> outcomes(batch.size());
  std::map<std::string, crypto::Key> new_keys;
  bool committed = false;
  // A connection that PostgreSQL closed while idle (a restart, a timeout) is found broken
  // only by the first statement: one more attempt on a new connection.
  for (int attempt = 0; attempt < 2 && !committed; ++attempt) {
    bool retry = false;
    outcomes.assign(batch.size(), std::nullopt);
    new_keys.clear();
    committed = attempt_batch(batch, outcomes, new_keys, retry);
    if (!retry) break;
  }
  if (committed) {
    remember_keys(new_keys);
    // A refused write (its room destroyed, fenced, ...) says the room may not be this node's:
    // its key goes; the next write reads it again. (kUnavailable says nothing of the room.)
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (outcomes[i] && outcomes[i]->code != StoreErrorCode::kUnavailable) {
        forget_key(ops::room_of(batch[i]));
      }
    }
  } else {
    for (auto& outcome : outcomes) outcome = batch_failure;
  }
  writes.count_batch(batch, outcomes, committed);
  for (std::size_t i = 0; i < batch.size(); ++i) ops::complete(batch[i], std::move(outcomes[i]));
}

pg::CallKind PostgresStore::Impl::kind_of(const WriteOp& op) {
  if (std::holds_alternative<AppendOp>(op)) return pg::CallKind::kAppend;
  if (std::holds_alternative<RejectionOp>(op)) return pg::CallKind::kRejection;
  if (std::holds_alternative<RewriteOp>(op)) return pg::CallKind::kRewrite;
  if (std::holds_alternative<ops::RefusalsOp>(op)) return pg::CallKind::kRefusals;
  return pg::CallKind::kAudit;
}

bool PostgresStore::Impl::read_keys(Conn& conn, const std::vector<WriteOp>& batch,
                                    std::map<std::string, pg::WriteKey>& keys) {
  std::vector<std::string> rooms;
  for (const WriteOp& op : batch) {
    std::string room_id;
    if (const auto* append_op = std::get_if<AppendOp>(&op)) {
      if (append_op->request.expected_last_seq == 0) continue;  // a new room's key is made
      room_id = append_op->request.room_id;
    } else if (const auto* rejection_op = std::get_if<RejectionOp>(&op)) {
      room_id = rejection_op->rejection.key.room_id;
    } else if (const auto* rewrite_op = std::get_if<RewriteOp>(&op)) {
      room_id = rewrite_op->room_id;
    } else {
      continue;  // audit entries and refusal counts are not sealed
    }
    if (!cached_key(room_id) && keys.try_emplace(room_id).second) {
      rooms.push_back(std::move(room_id));
    }
  }
  if (rooms.empty()) return true;
  // Outside the transaction: a room's key never changes, and a room destroyed meanwhile is
  // found so by its function under the row lock.
  count_round_trip();
  Result row;
  if (!run(conn, "read_keys",
           "SELECT r.room_id, r.destroyed, k.wrapped_key FROM rooms r "
           "LEFT JOIN room_keys k ON k.room_id = r.room_id WHERE r.room_id = ANY($1::text[])",
           Params().text(pg::text_array(rooms)), row)) {
    return false;
  }
  for (int r = 0; r < row.rows(); ++r) {
    pg::WriteKey& key = keys[row.bytes(r, 0)];
    key.destroyed = row.boolean(r, 1);
    if (key.destroyed) continue;
    if (row.is_null(r, 2)) {
      key.refusal = error(StoreErrorCode::kCorrupt, "the key of a room is missing in PostgreSQL");
      continue;
    }
    key.key = crypto::unwrap_key(master, row.bytes(r, 2), row.bytes(r, 0));
    if (!key.key) {
      key.refusal = error(StoreErrorCode::kCorrupt,
                          "a room key in PostgreSQL does not unwrap under the master key");
    }
  }
  for (auto& [room_id, key] : keys) {
    if (key.key) remember_key(room_id, *key.key);
  }
  return true;
}

pg::Call PostgresStore::Impl::plan(const WriteOp& op,
                                   const std::map<std::string, pg::WriteKey>& stored_keys,
                                   std::map<std::string, crypto::Key>& new_keys,
                                   std::map<std::string, std::string>& made_wrapped) {
  // The key to seal with: made in this batch, cached, or read by read_keys.
  const auto key_of = [&](const std::string& room_id) {
    pg::WriteKey key;
    if (auto made = new_keys.find(room_id); made != new_keys.end()) {
      key.key = made->second;
      key.made_wrapped = made_wrapped[room_id];
    } else if (const auto cached = cached_key(room_id)) {
      key.key = *cached;
    } else if (auto read = stored_keys.find(room_id); read != stored_keys.end()) {
      key = read->second;
    }
    return key;
  };
  if (const auto* append_op = std::get_if<AppendOp>(&op)) {
    const AppendRequest& request = append_op->request;
    if (request.expected_last_seq != 0) return pg::append_call(request, key_of(request.room_id));
    if (new_keys.count(request.room_id) != 0) {
      return pg::Call{std::nullopt, error(StoreErrorCode::kConflict, "room already exists")};
    }
    auto made = crypto::random_key();
    std::optional<std::string> wrapped;
    if (made) wrapped = crypto::wrap_key(master, *made, request.room_id);
    if (!wrapped) {
      return pg::Call{std::nullopt, error(StoreErrorCode::kUnavailable, "cannot create a room key")};
    }
    new_keys.insert_or_assign(request.room_id, *made);
    made_wrapped.insert_or_assign(request.room_id, *wrapped);
    return pg::append_call(request, key_of(request.room_id));
  }
  if (const auto* rejection_op = std::get_if<RejectionOp>(&op)) {
    return pg::rejection_call(rejection_op->rejection, rejection_op->lease_epoch,
                              key_of(rejection_op->rejection.key.room_id));
  }
  if (const auto* rewrite_op = std::get_if<RewriteOp>(&op)) {
    return pg::rewrite_call(rewrite_op->room_id, rewrite_op->events, rewrite_op->audit,
                            rewrite_op->lease_epoch, key_of(rewrite_op->room_id));
  }
  if (const auto* refusals_op = std::get_if<ops::RefusalsOp>(&op)) {
    return pg::refusals_call(refusals_op->room_id, refusals_op->deltas);
  }
  const auto& audit_op = std::get<AuditOp>(op);
  return pg::audit_call(audit_op.room_id, audit_op.entries, audit_op.lease_epoch);
}

std::optional<std::pair<std::uint64_t, bool>> PostgresStore::Impl::lock_room(
    Conn& conn, const std::string& room_id) {
  Result row;
  if (!run(conn, "lock_room", kLockRoom, Params().text(room_id), row)) return std::nullopt;
  if (row.rows() == 0) return std::nullopt;
  return std::pair{static_cast<std::uint64_t>(row.int64(0, 0)), row.boolean(0, 1)};
}

bool PostgresStore::Impl::insert_audit(Conn& conn, const std::string& room_id,
                                       const std::vector<v1::AuditEntry>& entries) {
  Result done;
  for (const v1::AuditEntry& entry : entries) {
    if (!run(conn, "insert_audit",
             "INSERT INTO audit (room_id, at_ms, kind, entry) VALUES ($1, $2, $3, $4)",
             Params()
                 .text(room_id)
                 .int64(entry.at_ms())
                 .int64(entry.kind())
                 .bytes(entry.SerializeAsString()),
             done)) {
      return false;
    }
  }
  return true;
}

std::optional<StoreError> PostgresStore::Impl::shred_key(Conn& conn, DestroyOp& op) {
  const auto xid = begin(conn);
  if (!xid) return batch_failure;
  // The lease first (FOR SHARE), then the room: mend_append's order.
  Result lease;
  const auto epoch = static_cast<std::int64_t>(op.lease_epoch);
  const bool lease_read = run(conn, "lease_current", "SELECT mend_lease_current($1, $2)",
                              Params().text(op.room_id).int64(epoch), lease);
  const auto row = lease_read ? lock_room(conn, op.room_id) : std::nullopt;
  std::optional<StoreError> outcome;
  Result done;
  if (batch_failure) {
    outcome = batch_failure;
  } else if (lease_read && !lease.boolean(0, 0)) {
    outcome = error(StoreErrorCode::kFenced, "the room's lease moved to another node");
  } else if (!row || row->second) {
    outcome = error(StoreErrorCode::kNotFound, "unknown room");
  } else if (!run(conn, "delete_key", "DELETE FROM room_keys WHERE room_id = $1",
                  Params().text(op.room_id), done) ||
             !run(conn, "mark_destroyed", "UPDATE rooms SET destroyed = true WHERE room_id = $1",
                  Params().text(op.room_id), done) ||
             !insert_audit(conn, op.room_id, op.audit)) {
    outcome = batch_failure;  // the audit entries commit with the key's deletion, or neither
  }
  if (outcome) {
    rollback(conn);
    return outcome;
  }
  if (commit(conn, *xid) != Fate::kCommitted) return batch_failure;
  return std::nullopt;
}

void PostgresStore::Impl::delete_rows(const std::string& room_id) {
  std::optional<StoreError> failure;
  Conn* conn = writer->get(failure);
  if (conn == nullptr) return;  // open() finishes it at the next start
  Result done;
  const auto xid = begin(*conn);
  if (!xid) return;
  if (run(*conn, "delete_events", "DELETE FROM events WHERE room_id = $1", Params().text(room_id),
          done) &&
      run(*conn, "delete_results", "DELETE FROM results WHERE room_id = $1",
          Params().text(room_id), done) &&
      run(*conn, "delete_refusals", "DELETE FROM refusals WHERE room_id = $1",
          Params().text(room_id), done)) {
    commit(*conn, *xid);
  } else {
    rollback(*conn);
  }
  // The deleted key's row version goes from the table's pages now rather than at the next
  // autovacuum (best effort: a reader's older snapshot may keep it a while).
  if (!conn->broken()) conn->exec("VACUUM room_keys");
}

void PostgresStore::Impl::destroy(DestroyOp& op) {
  std::optional<StoreError> failure;
  Conn* conn = writer->get(failure);
  std::optional<StoreError> outcome = conn == nullptr ? failure : shred_key(*conn, op);
  if (!outcome) {
    forget_key(op.room_id);
    delete_rows(op.room_id);
  }
  writes.count_destroy(outcome);
  op.done(std::move(outcome));
}

// ---------------------------------------------------------------- readers

void PostgresStore::Impl::reader_loop() {
  std::unique_ptr<Link> link = make_link();
  while (std::optional<ReadTask> task = reads.pop()) (*task)(*link);  // until closed, drained
}

template <typename Out, typename Read>
void PostgresStore::Impl::submit_read(Read read, std::function<void(Out)> done) {
  auto shared_done = std::make_shared<std::function<void(Out)>>(std::move(done));
  enqueue_read(
      [read = std::move(read), shared_done](Link& link) {
        Out out;
        // A read meeting a lost connection runs once more on a new one (reads are idempotent).
        for (int attempt = 0; attempt < 2; ++attempt) {
          std::optional<StoreError> failure;
          Conn* conn = link.get(failure);
          if (conn == nullptr) {
            out = Out{};
            out.error = failure;
            break;
          }
          out = read(*conn);
          if (!conn->broken()) break;
        }
        (*shared_done)(std::move(out));
      },
      [shared_done](StoreError e) {
        Out out;
        out.error = std::move(e);
        (*shared_done)(std::move(out));
      });
}

LoadResult PostgresStore::Impl::do_load(Conn& conn, const std::string& room_id,
                                        std::uint64_t after_seq) {
  LoadResult result;
  // One statement: the room, its key and its events in one snapshot. A load of the whole room
  // also reads the room's recorded results, so that a command id it never saw needs no
  // find_result: a second statement in the same pipeline (one round trip), outside the events'
  // snapshot; a loading node holds the room's lease, so no other node records results for it
  // in between. Without them the room still loads and asks find_result for every command.
  std::vector<pg::Statement> statements = {
      {"load",
       "SELECT r.last_seq, r.destroyed, k.wrapped_key, e.seq, e.sealed FROM rooms r "
       "LEFT JOIN room_keys k ON k.room_id = r.room_id "
       "LEFT JOIN events e ON e.room_id = r.room_id AND e.seq > $2 "
       "WHERE r.room_id = $1 ORDER BY e.seq",
       Params().text(room_id).int64(static_cast<std::int64_t>(after_seq))}};
  if (after_seq == 0) {
    statements.push_back({"load_lookups", "SELECT lookup FROM results WHERE room_id = $1",
                          Params().text(room_id)});
  }
  count_read_round_trip();
  std::vector<Result> answers = conn.pipeline(statements);
  Result& rows = answers.front();
  if (!rows.ok()) {
    result.error = pg::error_of(rows, "cannot read events");
    return result;
  }
  if (rows.rows() == 0 || rows.boolean(0, 1)) {
    forget_key(room_id);
    result.error = error(StoreErrorCode::kNotFound, "unknown room");
    return result;
  }
  const auto last_seq = static_cast<std::uint64_t>(rows.int64(0, 0));
  if (rows.is_null(0, 2)) {
    result.error = error(StoreErrorCode::kCorrupt, "the key of a room is missing in PostgreSQL");
    return result;
  }
  auto key = crypto::unwrap_key(master, rows.bytes(0, 2), room_id);
  if (!key) {
    result.error = error(StoreErrorCode::kCorrupt,
                         "a room key in PostgreSQL does not unwrap under the master key");
    return result;
  }
  // Not cached: loads also serve nodes that do not hold the room's lease (a caseload listing,
  // the timer sweep), which would never hear of its erasure elsewhere. The owner caches the key
  // at its first write or result lookup.
  std::uint64_t expected = after_seq + 1;
  for (int i = 0; i < rows.rows() && !rows.is_null(i, 3); ++i) {
    const auto seq = static_cast<std::uint64_t>(rows.int64(i, 3));
    auto plain =
        seq == expected ? crypto::open(*key, rows.bytes(i, 4), event_aad(room_id, seq)) : std::nullopt;
    v1::Event& event = result.events.emplace_back();
    if (!plain || !event.ParseFromString(*plain) || event.seq() != seq) {
      result.events.clear();
      result.error = error(StoreErrorCode::kCorrupt,
                           "event " + std::to_string(seq) + " of a room in PostgreSQL " +
                               (seq == expected ? "fails its integrity check (altered or moved)"
                                                : "follows a gap"));
      return result;
    }
    ++expected;
  }
  if (expected <= last_seq) {
    result.events.clear();
    result.error = error(StoreErrorCode::kCorrupt, "events of a room are missing in PostgreSQL");
  } else if (after_seq == 0) {
    const Result& lookups = answers.back();
    if (lookups.ok()) {
      std::vector<std::string> list;
      list.reserve(static_cast<std::size_t>(lookups.rows()));
      for (int i = 0; i < lookups.rows(); ++i) list.emplace_back(lookups.bytes(i, 0));
      result.recorded = rows::recorded_commands(*key, list);
    }
  }
  return result;
}

FindResult PostgresStore::Impl::do_find(Conn& conn, const CommandKey& key) {
  if (const auto known = cached_key(key.room_id)) return find_with_key(conn, key, *known);
  FindResult found;
  Result room = read(conn, "find_room",
                     "SELECT r.destroyed, k.wrapped_key FROM rooms r "
                     "LEFT JOIN room_keys k ON k.room_id = r.room_id WHERE r.room_id = $1",
                     Params().text(key.room_id));
  if (!room.ok()) {
    found.error = pg::error_of(room, "cannot read a room");
    return found;
  }
  if (room.rows() == 0 || room.boolean(0, 0)) {  // unknown room: no result
    forget_key(key.room_id);
    return found;
  }
  std::optional<crypto::Key> room_key;
  if (!room.is_null(0, 1)) room_key = crypto::unwrap_key(master, room.bytes(0, 1), key.room_id);
  if (!room_key) {
    found.error = error(StoreErrorCode::kCorrupt, "a room key in PostgreSQL is missing or "
                                                  "does not unwrap under the master key");
    return found;
  }
  remember_key(key.room_id, *room_key);
  return find_with_key(conn, key, *room_key);
}

FindResult PostgresStore::Impl::find_with_key(Conn& conn, const CommandKey& key,
                                              const crypto::Key& room_key) {
  FindResult found;
  const std::string lookup = result_lookup(room_key, key);
  // The room's row too: a destroyed room has no results (its rows may not be deleted yet).
  Result row = read(conn, "find_result",
                    "SELECT r.destroyed, s.sealed FROM rooms r LEFT JOIN results s "
                    "ON s.room_id = r.room_id AND s.lookup = $2 WHERE r.room_id = $1",
                    Params().text(key.room_id).bytes(lookup));
  if (!row.ok()) {
    found.error = pg::error_of(row, "cannot read a command result");
    return found;
  }
  if (row.rows() == 0 || row.boolean(0, 0)) {  // erased (on any node): the key is gone
    forget_key(key.room_id);
    return found;
  }
  if (row.is_null(0, 1)) return found;
  return open_result(key, room_key, lookup, row.bytes(0, 1));
}

FindResult PostgresStore::Impl::open_result(const CommandKey& key, const crypto::Key& room_key,
                                            const std::string& lookup, const std::string& sealed) {
  FindResult found;
  auto plain = crypto::open(room_key, sealed, result_aad(key.room_id, lookup));
  v1::CommandResult result;
  if (!plain || !result.ParseFromString(*plain)) {
    found.error = error(StoreErrorCode::kCorrupt,
                        "a command result in PostgreSQL fails its integrity check");
    return found;
  }
  found.result = std::move(result);
  return found;
}

ListRoomsResult PostgresStore::Impl::do_list(Conn& conn) {
  ListRoomsResult listed;
  Result rows = read(conn, "list_rooms",
                         "SELECT room_id, last_seq, first_at_ms, last_at_ms, creator FROM rooms "
                         "WHERE NOT destroyed ORDER BY room_id COLLATE \"C\"",
                         Params());
  if (!rows.ok()) {
    listed.error = pg::error_of(rows, "cannot list rooms");
    return listed;
  }
  for (int i = 0; i < rows.rows(); ++i) {
    listed.rooms.push_back(RoomInfo{rows.bytes(i, 0), static_cast<std::uint64_t>(rows.int64(i, 1)),
                                    rows.int64(i, 2), rows.int64(i, 3), rows.bytes(i, 4)});
  }
  return listed;
}

AuditLoadResult PostgresStore::Impl::do_load_audit(Conn& conn, const std::string& room_id) {
  AuditLoadResult result;
  Result rows = read(conn, "load_audit", "SELECT entry FROM audit WHERE room_id = $1 ORDER BY id",
                         Params().text(room_id));
  if (!rows.ok()) {
    result.error = pg::error_of(rows, "cannot read the audit log");
    return result;
  }
  for (int i = 0; i < rows.rows(); ++i) {
    if (!result.entries.emplace_back().ParseFromString(rows.bytes(i, 0))) {
      result.entries.clear();
      result.error = error(StoreErrorCode::kCorrupt, "an audit entry in PostgreSQL cannot be decoded");
      return result;
    }
  }
  return result;
}

RefusalsResult PostgresStore::Impl::do_load_refusals(Conn& conn, const std::string& room_id) {
  RefusalsResult result;
  // One statement: the room (absent or destroyed: unknown) and its counts in one snapshot.
  Result rows = read(conn, "load_refusals",
                         "SELECT r.destroyed, f.participant, f.code, f.count FROM rooms r "
                         "LEFT JOIN refusals f ON f.room_id = r.room_id WHERE r.room_id = $1 "
                         "ORDER BY f.participant, f.code",
                         Params().text(room_id));
  if (!rows.ok()) {
    result.error = pg::error_of(rows, "cannot read refusal counts");
    return result;
  }
  if (rows.rows() == 0 || rows.boolean(0, 0)) {
    result.error = error(StoreErrorCode::kNotFound, "unknown room");
    return result;
  }
  for (int i = 0; i < rows.rows() && !rows.is_null(i, 1); ++i) {
    result.refusals.push_back(RefusalCount{static_cast<v1::Role>(rows.int64(i, 1)),
                                           static_cast<v1::RejectionCode>(rows.int64(i, 2)),
                                           static_cast<std::uint64_t>(rows.int64(i, 3))});
  }
  return result;
}

LeaseResult PostgresStore::Impl::do_acquire(Conn& conn, const std::string& room_id,
                                            const std::string& node,
                                            std::chrono::milliseconds ttl) {
  LeaseResult lease;
  // One statement: free, expired or ours -> ours. The epoch (and another node's want) stays
  // only for an unexpired renewal, which the last column tells from a lease taken anew.
  Result taken = read(conn,
      "acquire_lease",
      "WITH old_lease AS (SELECT node, epoch FROM leases WHERE room_id = $1) "
      "INSERT INTO leases AS l (room_id, node, epoch, expires_at) "
      "VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 millisecond') "
      "ON CONFLICT (room_id) DO UPDATE SET "
      "epoch = CASE WHEN l.node = EXCLUDED.node AND l.expires_at > clock_timestamp() "
      "THEN l.epoch ELSE l.epoch + 1 END, "
      "wanted_by = CASE WHEN l.node = EXCLUDED.node AND l.expires_at > clock_timestamp() "
      "THEN l.wanted_by END, "
      "node = EXCLUDED.node, expires_at = EXCLUDED.expires_at "
      "WHERE l.node = EXCLUDED.node OR l.expires_at <= clock_timestamp() "
      "RETURNING epoch, "
      "(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint, "
      "coalesce(wanted_by <> node AND wanted_until > clock_timestamp(), false), "
      "coalesce((SELECT o.node = l.node AND o.epoch = l.epoch FROM old_lease o), false)",
      Params().text(room_id).text(node).int64(ttl.count()));
  if (!taken.ok()) {
    forget_key(room_id);  // whether this node still holds the room is unknown
    lease.error = pg::error_of(taken, "cannot take a lease");
    lease.error->code = StoreErrorCode::kUnavailable;
    return lease;
  }
  if (taken.rows() == 1) {
    lease.held = true;
    lease.epoch = static_cast<std::uint64_t>(taken.int64(0, 0));
    lease.remaining_ms = taken.int64(0, 1);
    lease.wanted_elsewhere = taken.boolean(0, 2);
    // Taken anew: another node may have served (and erased) the room since this node's key
    // was cached.
    if (!taken.boolean(0, 3)) forget_key(room_id);
    return lease;
  }
  forget_key(room_id);  // another node serves the room
  Result holder = read(conn,
      "lease_wanted",
      "UPDATE leases SET wanted_by = $2, "
      "wanted_until = clock_timestamp() + $3::bigint * interval '1 millisecond' "
      "WHERE room_id = $1 "
      "RETURNING node, (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint",
      Params().text(room_id).text(node).int64(ttl.count()));
  if (!holder.ok()) {
    lease.error = pg::error_of(holder, "cannot read a lease");
    return lease;
  }
  if (holder.rows() == 1) {
    lease.holder = holder.bytes(0, 0);
    lease.remaining_ms = std::max<std::int64_t>(0, holder.int64(0, 1));
  }
  return lease;
}

// ---------------------------------------------------------------- queues and lifecycle

template <typename Refuse>
void PostgresStore::Impl::enqueue_read(ReadTask task, Refuse refuse) {
  if (auto refused = reads.push(task)) refuse(std::move(*refused));
}

void PostgresStore::Impl::start(std::unique_ptr<Conn> first_writer) {
  writer = make_link();
  writer->adopt(std::move(first_writer));
  writes.start(*this);
  for (int i = 0; i < options.reader_threads; ++i) {
    reader_threads.emplace_back([this] { reader_loop(); });
  }
}

void PostgresStore::Impl::close() {
  std::lock_guard close_lock(close_mutex);
  if (closed) return;
  closed = true;
  writes.close();  // completes the queued writes first
  reads.close();
  for (auto& thread : reader_threads) thread.join();
  writer.reset();
}

// ---------------------------------------------------------------- open

PostgresStore::OpenResult PostgresStore::open(PostgresStoreOptions options) {
  auto fail = [](StoreError e) { return OpenResult{nullptr, std::move(e)}; };
  if (options.max_batch == 0 || options.max_pending_writes == 0 || options.max_pending_reads == 0 ||
      options.reader_threads < 1) {
    return fail(error(StoreErrorCode::kInvalid, "cannot open the store: a limit is zero"));
  }
  std::string message;
  auto conn = Conn::connect(options.url, message);
  if (!conn) {
    return fail(error(StoreErrorCode::kUnavailable,
                      "cannot open the store: cannot connect to PostgreSQL: " + message));
  }
  if (auto failed = pg::lock_schema(*conn)) return fail(*failed);
  pg::OpenError failure = pg::migrate(*conn, kSchemaVersion);
  std::optional<bool> has_keys;
  if (!failure) has_keys = pg::has_room_keys(*conn, failure);
  auto impl = std::make_unique<Impl>();
  if (!failure) {
    // A new master key for a database with rooms would make them unreadable: refuse.
    auto master = crypto::load_or_create_master_key(options.master_key_file, !*has_keys);
    if (master.key) {
      impl->master = *master.key;
    } else {
      failure = error(StoreErrorCode::kInvalid, "cannot open the store: " + master.error);
    }
  }
  if (!failure) failure = pg::check_room_keys(*conn, impl->master, options.master_key_file);
  if (!failure) failure = pg::finish_destroys(*conn);
  pg::unlock_schema(*conn);
  if (failure) return fail(*failure);
  // "Durable before acknowledged" needs the commit flushed before its answer.
  conn->exec("SET synchronous_commit = on");
  impl->writes.set_limits(options.max_batch, options.max_pending_writes);
  impl->reads.set_limit(options.max_pending_reads);
  impl->options = std::move(options);
  impl->start(std::move(conn));
  return OpenResult{std::make_shared<PostgresStore>(std::move(impl)), std::nullopt};
}

// ---------------------------------------------------------------- public interface

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PostgresStore::~PostgresStore() { close(); }

void PostgresStore::close() { impl_->close(); }

PostgresStoreStats PostgresStore::stats() const {
  return with_writer_stats(impl_->stats_mutex, impl_->stats, impl_->writes);
}

GroupWriter& PostgresStore::group_writer() { return impl_->writes; }

bool PostgresStore::holds_key(const std::string& room_id) const {
  return impl_->cached_key(room_id).has_value();
}

void PostgresStore::load(std::string room_id, std::uint64_t after_seq, LoadDone done) {
  impl_->submit_read<LoadResult>(
      [impl = impl_.get(), room_id = std::move(room_id), after_seq](Conn& conn) {
        return impl->do_load(conn, room_id, after_seq);
      },
      std::move(done));
}

void PostgresStore::find_result(CommandKey key, FindDone done) {
  impl_->submit_read<FindResult>(
      [impl = impl_.get(), key = std::move(key)](Conn& conn) { return impl->do_find(conn, key); },
      std::move(done));
}

void PostgresStore::list_rooms(ListRoomsDone done) {
  impl_->submit_read<ListRoomsResult>(
      [impl = impl_.get()](Conn& conn) { return impl->do_list(conn); }, std::move(done));
}

void PostgresStore::acquire_lease(std::string room_id, std::string node,
                                  std::chrono::milliseconds ttl, LeaseDone done) {
  impl_->submit_read<LeaseResult>(
      [impl = impl_.get(), room_id = std::move(room_id), node = std::move(node), ttl](Conn& conn) {
        return impl->do_acquire(conn, room_id, node, ttl);
      },
      std::move(done));
}

void PostgresStore::release_lease(std::string room_id, std::string node, std::uint64_t epoch,
                                  StoreDone done) {
  impl_->forget_key(room_id);  // whether or not the release gets through: the room goes
  struct Released {
    std::optional<StoreError> error;
  };
  impl_->submit_read<Released>(
      [impl = impl_.get(), room_id = std::move(room_id), node = std::move(node), epoch](Conn& conn) {
        // The epoch goes up: a write of this node still queued is fenced (and drops the key
        // it may have cached again). The UPDATE waits for the writes that hold the lease row
        // (FOR SHARE), so once it returns none of this epoch commits or caches any more.
        Result released = conn.run(
            "release_lease",
            "UPDATE leases SET expires_at = clock_timestamp(), epoch = epoch + 1 "
            "WHERE room_id = $1 AND node = $2 AND epoch = $3",
            Params().text(room_id).text(node).int64(static_cast<std::int64_t>(epoch)));
        impl->forget_key(room_id);
        Released out;
        if (!released.ok()) out.error = pg::error_of(released, "cannot release a lease");
        return out;
      },
      [done = std::move(done)](Released released) { done(std::move(released.error)); });
}

void PostgresStore::load_refusals(std::string room_id, RefusalsDone done) {
  impl_->submit_read<RefusalsResult>(
      [impl = impl_.get(), room_id = std::move(room_id)](Conn& conn) {
        return impl->do_load_refusals(conn, room_id);
      },
      std::move(done));
}

void PostgresStore::load_audit(std::string room_id, AuditLoadDone done) {
  impl_->submit_read<AuditLoadResult>(
      [impl = impl_.get(), room_id = std::move(room_id)](Conn& conn) {
        return impl->do_load_audit(conn, room_id);
      },
      std::move(done));
}


std::string prometheus_text(const PostgresStoreStats& stats) {
  std::ostringstream out;
  prometheus_writer_series(out, stats, "Write transactions committed.",
                           "Writes failed by a database error.");
  prometheus_series(out, "counter", "mend_store_round_trips_total",
                    "Round trips of the writer to PostgreSQL (a batch: its calls and its COMMIT).",
                    stats.round_trips);
  prometheus_series(out, "counter", "mend_store_reconnects_total",
                    "Connections to PostgreSQL re-established after a loss.", stats.reconnects);
  prometheus_series(out, "counter", "mend_store_commits_in_doubt_total",
                    "Commits that got no answer (resolved after reconnecting).", stats.in_doubt);
  prometheus_series(out, "counter", "mend_store_commits_in_doubt_committed_total",
                    "In-doubt commits found committed after reconnecting.",
                    stats.in_doubt_committed);
  return out.str();
}

}  // namespace mend::store
