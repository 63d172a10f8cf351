// SqliteStore's readers: threads with their own connections, each read in one snapshot
// (sqlite_store.h), and the public read calls.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "server/store/sqlite_store_impl.h"

namespace mend::store {
namespace {

using rows::event_aad;
using rows::result_aad;
using rows::result_lookup;
using sqlite::error;
using sqlite::ReaderConnection;
using sqlite::ReadTask;
using sqlite::ResetGuard;
using sqlite::RoomRow;
using sqlite::Statement;

}  // namespace

void SqliteStore::Impl::reader_loop(ReaderConnection& conn) {
  while (std::optional<ReadTask> task = reads.pop()) (*task)(conn);  // until closed, drained
}

template <typename Out, typename Read>
void SqliteStore::Impl::submit_read(Read read, std::function<void(Out)> done) {
  auto shared_done = std::make_shared<std::function<void(Out)>>(std::move(done));
  ReadTask task = [read = std::move(read), shared_done](ReaderConnection& conn) {
    (*shared_done)(read(conn));
  };
  if (auto refused = reads.push(task)) {
    Out out;
    out.error = std::move(*refused);
    (*shared_done)(std::move(out));
  }
}

namespace {
// A read transaction: one consistent snapshot for the statements of one call.
class ReadTransaction {
 public:
  explicit ReadTransaction(ReaderConnection& conn) : conn_(conn) {
    ResetGuard reset(conn_.begin);
    rc_ = conn_.begin.step();
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    if (rc_ != SQLITE_DONE) return;
    ResetGuard reset(conn_.end);
    conn_.end.step();
  }
  bool ok() const { return rc_ == SQLITE_DONE; }
  int rc() const { return rc_; }

 private:
  ReaderConnection& conn_;
  int rc_;
};

// The room row in a reader's snapshot; nullopt with `failure` unset: unknown or destroyed.
std::optional<RoomRow> reader_room(ReaderConnection& conn, const std::string& room_id, int& rc) {
  Statement& s = conn.select_room;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  rc = s.step();
  if (rc != SQLITE_ROW) return std::nullopt;
  rc = SQLITE_OK;
  if (s.column_int(0) != 0) return std::nullopt;
  return RoomRow{static_cast<std::uint64_t>(s.column_int(1)), false};
}
}  // namespace

std::optional<StoreError> SqliteStore::Impl::read_room_key(ReaderConnection& conn,
                                                           const std::string& room_id,
                                                           std::optional<crypto::Key>& key) {
  Statement& s = conn.select_key;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) {
    return error(StoreErrorCode::kCorrupt, "the key of a room is missing in " + where());
  }
  if (rc != SQLITE_ROW) return sql_error(*conn.db, rc, "cannot read a room key");
  key = crypto::unwrap_key(master, s.column_blob(0), room_id);
  if (!key) {
    return error(StoreErrorCode::kCorrupt,
                 "a room key in " + where() + " does not unwrap under the master key");
  }
  return std::nullopt;
}

LoadResult SqliteStore::Impl::do_load(ReaderConnection& conn, const std::string& room_id,
                                      std::uint64_t after_seq) {
  LoadResult result;
  ReadTransaction txn(conn);
  if (!txn.ok()) {
    result.error = sql_error(*conn.db, txn.rc(), "cannot begin a read");
    return result;
  }
  int rc = SQLITE_OK;
  const std::optional<RoomRow> row = reader_room(conn, room_id, rc);
  if (!row) {
    result.error = rc == SQLITE_OK || rc == SQLITE_DONE
                       ? error(StoreErrorCode::kNotFound, "unknown room")
                       : sql_error(*conn.db, rc, "cannot read a room");
    return result;
  }
  std::optional<crypto::Key> key;
  if ((result.error = read_room_key(conn, room_id, key))) return result;
  Statement& s = conn.select_events;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  s.bind_int(2, static_cast<std::int64_t>(after_seq));
  std::uint64_t expected = after_seq + 1;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(s.column_int(0));
    auto plain = seq == expected ? crypto::open(*key, s.column_blob(1), event_aad(room_id, seq))
                                 : std::nullopt;
    v1::Event& event = result.events.emplace_back();
    if (!plain || !event.ParseFromString(*plain) || event.seq() != seq) {
      result.events.clear();
      result.error = error(StoreErrorCode::kCorrupt,
                           "event " + std::to_string(seq) + " of a room in " + where() +
                               (seq == expected ? " fails its integrity check (altered or moved)"
                                                : " follows a gap"));
      return result;
    }
    ++expected;
  }
  if (rc != SQLITE_DONE) {
    result.events.clear();
    result.error = sql_error(*conn.db, rc, "cannot read events");
  } else if (expected <= row->last_seq) {
    result.events.clear();
    result.error = error(StoreErrorCode::kCorrupt, "events of a room are missing in " + where());
  } else if (after_seq == 0) {
    read_recorded(conn, room_id, *key, result);
  }
  return result;
}

void SqliteStore::Impl::read_recorded(ReaderConnection& conn, const std::string& room_id,
                                      const crypto::Key& key, LoadResult& result) {
  Statement& s = conn.select_lookups;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  std::vector<std::string> lookups;
  int rc = SQLITE_OK;
  while ((rc = s.step()) == SQLITE_ROW) lookups.emplace_back(s.column_blob(0));
  // Without them the room still loads; it asks find_result for every command instead.
  if (rc == SQLITE_DONE) result.recorded = rows::recorded_commands(key, lookups);
}

FindResult SqliteStore::Impl::do_find(ReaderConnection& conn, const CommandKey& key) {
  FindResult found;
  ReadTransaction txn(conn);
  if (!txn.ok()) {
    found.error = sql_error(*conn.db, txn.rc(), "cannot begin a read");
    return found;
  }
  int rc = SQLITE_OK;
  if (!reader_room(conn, key.room_id, rc)) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
      found.error = sql_error(*conn.db, rc, "cannot read a room");
    return found;  // unknown room: no result
  }
  std::optional<crypto::Key> room_key;
  if ((found.error = read_room_key(conn, key.room_id, room_key))) return found;
  const std::string lookup = result_lookup(*room_key, key);
  Statement& s = conn.select_result;
  ResetGuard reset(s);
  s.bind_text(1, key.room_id);
  s.bind_blob(2, lookup);
  rc = s.step();
  if (rc == SQLITE_DONE) return found;
  if (rc != SQLITE_ROW) {
    found.error = sql_error(*conn.db, rc, "cannot read a command result");
    return found;
  }
  auto plain = crypto::open(*room_key, s.column_blob(0), result_aad(key.room_id, lookup));
  v1::CommandResult result;
  if (!plain || !result.ParseFromString(*plain)) {
    found.error = error(StoreErrorCode::kCorrupt,
                        "a command result in " + where() + " fails its integrity check");
    return found;
  }
  found.result = std::move(result);
  return found;
}

ListRoomsResult SqliteStore::Impl::do_list(ReaderConnection& conn) {
  ListRoomsResult listed;
  Statement& s = conn.list_rooms;
  ResetGuard reset(s);
  int rc = SQLITE_OK;
  while ((rc = s.step()) == SQLITE_ROW) {
    listed.rooms.push_back(RoomInfo{s.column_text(0), static_cast<std::uint64_t>(s.column_int(1)),
                                    s.column_int(2), s.column_int(3),
                                    std::string(s.column_blob(4))});
  }
  if (rc != SQLITE_DONE) {
    listed.rooms.clear();
    listed.error = sql_error(*conn.db, rc, "cannot list rooms");
  }
  return listed;
}

AuditLoadResult SqliteStore::Impl::do_load_audit(ReaderConnection& conn,
                                                 const std::string& room_id) {
  AuditLoadResult result;
  Statement& s = conn.select_audit;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  int rc = SQLITE_OK;
  while ((rc = s.step()) == SQLITE_ROW) {
    const std::string_view blob = s.column_blob(0);
    if (!result.entries.emplace_back().ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
      result.entries.clear();
      result.error = error(StoreErrorCode::kCorrupt, "an audit entry in " + where() +
                                                         " cannot be decoded");
      return result;
    }
  }
  if (rc != SQLITE_DONE) {
    result.entries.clear();
    result.error = sql_error(*conn.db, rc, "cannot read the audit log");
  }
  return result;
}

RefusalsResult SqliteStore::Impl::do_load_refusals(ReaderConnection& conn,
                                                   const std::string& room_id) {
  RefusalsResult result;
  ReadTransaction txn(conn);
  if (!txn.ok()) {
    result.error = sql_error(*conn.db, txn.rc(), "cannot begin a read");
    return result;
  }
  int rc = SQLITE_OK;
  if (!reader_room(conn, room_id, rc)) {
    result.error = rc == SQLITE_OK || rc == SQLITE_DONE
                       ? error(StoreErrorCode::kNotFound, "unknown room")
                       : sql_error(*conn.db, rc, "cannot read a room");
    return result;
  }
  Statement& s = conn.select_refusals;
  ResetGuard reset(s);
  s.bind_text(1, room_id);
  while ((rc = s.step()) == SQLITE_ROW) {
    result.refusals.push_back(RefusalCount{static_cast<v1::Role>(s.column_int(0)),
                                           static_cast<v1::RejectionCode>(s.column_int(1)),
                                           static_cast<std::uint64_t>(s.column_int(2))});
  }
  if (rc != SQLITE_DONE) {
    result.refusals.clear();
    result.error = sql_error(*conn.db, rc, "cannot read refusal counts");
  }
  return result;
}

// ---------------------------------------------------------------- public read calls

void SqliteStore::load(std::string room_id, std::uint64_t after_seq, LoadDone done) {
  impl_->submit_read<LoadResult>(
      [impl = impl_.get(), room_id = std::move(room_id), after_seq](ReaderConnection& conn) {
        return impl->do_load(conn, room_id, after_seq);
      },
      std::move(done));
}

void SqliteStore::find_result(CommandKey key, FindDone done) {
  impl_->submit_read<FindResult>(
      [impl = impl_.get(), key = std::move(key)](ReaderConnection& conn) {
        return impl->do_find(conn, key);
      },
      std::move(done));
}

void SqliteStore::list_rooms(ListRoomsDone done) {
  impl_->submit_read<ListRoomsResult>(
      [impl = impl_.get()](ReaderConnection& conn) { return impl->do_list(conn); },
      std::move(done));
}

void SqliteStore::load_audit(std::string room_id, AuditLoadDone done) {
  impl_->submit_read<AuditLoadResult>(
      [impl = impl_.get(), room_id = std::move(room_id)](ReaderConnection& conn) {
        return impl->do_load_audit(conn, room_id);
      },
      std::move(done));
}

void SqliteStore::load_refusals(std::string room_id, RefusalsDone done) {
  impl_->submit_read<RefusalsResult>(
      [impl = impl_.get(), room_id = std::move(room_id)](ReaderConnection& conn) {
        return impl->do_load_refusals(conn, room_id);
      },
      std::move(done));
}

}  // namespace mend::store
