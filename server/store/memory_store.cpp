#include "server/store/memory_store.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>

namespace mend::store {

namespace {

std::string result_key(const CommandKey& key) { return key.participant + '\n' + key.command_id; }

std::uint64_t result_digest(const CommandKey& key) { return std::hash<std::string>{}(result_key(key)); }

std::optional<StoreError> check_contiguous(const AppendRequest& request) {
  if (request.events.empty()) {
    return StoreError{StoreErrorCode::kInvalid, "append without events"};
  }
  std::uint64_t next = request.expected_last_seq + 1;
  for (const v1::Event& event : request.events) {
    if (event.seq() != next) {
      return StoreError{StoreErrorCode::kInvalid, "event seqs are not contiguous"};
    }
    ++next;
  }
  return std::nullopt;
}

}  // namespace

std::optional<StoreError> MemoryStore::append_locked(AppendRequest& request) {
  if (auto invalid = check_contiguous(request)) return invalid;
  const bool is_new = request.expected_last_seq == 0;
  if (destroyed_.contains(request.room_id)) {
    return StoreError{StoreErrorCode::kConflict, "room was destroyed"};
  }
  auto it = rooms_.find(request.room_id);
  if (is_new == (it != rooms_.end())) {
    return StoreError{StoreErrorCode::kConflict,
                      is_new ? "room already exists" : "room does not exist"};
  }
  if (!is_new && it->second.events.size() != request.expected_last_seq) {
    return StoreError{StoreErrorCode::kConflict, "room is not at the expected seq"};
  }
  if (is_new) {
    it = rooms_.emplace(request.room_id, Room{}).first;
    it->second.creator = request.creator;
  }
  Room& room = it->second;
  if (request.result) {
    // try_emplace leaves the result alone when the key is taken.
    if (!room.results.try_emplace(result_key(request.result->key),
                                  std::move(request.result->result)).second) {
      return StoreError{StoreErrorCode::kConflict, "command already recorded"};
    }
  }
  for (v1::Event& event : request.events) room.events.push_back(std::move(event));
  audit_locked(request.room_id, request.audit);
  return std::nullopt;
}

void MemoryStore::audit_locked(const std::string& room_id, std::vector<v1::AuditEntry>& entries) {
  if (entries.empty()) return;
  auto& log = audit_[room_id];
  for (v1::AuditEntry& entry : entries) log.push_back(std::move(entry));
}

void MemoryStore::append(AppendRequest request, AppendDone done) {
  std::optional<StoreError> error;
  {
    std::lock_guard lock(mutex_);
    error = append_locked(request);
  }
  done(std::move(error));
}

void MemoryStore::load(std::string room_id, std::uint64_t after_seq, LoadDone done) {
  LoadResult result;
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) {
      result.error = StoreError{StoreErrorCode::kNotFound, "unknown room"};
    } else {
      const auto& events = it->second.events;
      const auto skip = static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(after_seq, events.size()));
      result.events.assign(events.begin() + skip, events.end());
      if (after_seq == 0) {
        std::vector<std::uint64_t> digests;
        digests.reserve(it->second.results.size());
        for (const auto& [key, ignored] : it->second.results) {
          digests.push_back(std::hash<std::string>{}(key));
        }
        result.recorded = std::make_shared<const RecordedCommands>(result_digest, std::move(digests));
      }
    }
  }
  done(std::move(result));
}

void MemoryStore::find_result(CommandKey key, FindDone done) {
  FindResult found;
  {
    std::lock_guard lock(mutex_);
    auto room = rooms_.find(key.room_id);
    if (room != rooms_.end()) {
      auto it = room->second.results.find(result_key(key));
      if (it != room->second.results.end()) found.result = it->second;
    }
  }
  done(std::move(found));
}

std::optional<StoreError> MemoryStore::record_rejection_locked(RecordedResult& rejection) {
  if (rejection.result.accepted()) {
    return StoreError{StoreErrorCode::kInvalid, "an accepted result is not a rejection"};
  }
  auto it = rooms_.find(rejection.key.room_id);
  if (it == rooms_.end()) return StoreError{StoreErrorCode::kNotFound, "unknown room"};
  Room& room = it->second;
  std::string key = result_key(rejection.key);
  if (room.results.contains(key)) {
    return StoreError{StoreErrorCode::kConflict, "command already recorded"};
  }
  std::deque<std::string>& kept = room.rejections[rejection.key.participant];
  if (kept.size() >= kRejectionsKeptPerParticipant) {
    room.results.erase(kept.front());
    kept.pop_front();
  }
  room.results.emplace(key, std::move(rejection.result));
  kept.push_back(std::move(key));
  return std::nullopt;
}

void MemoryStore::record_rejection(RecordedResult rejection, std::uint64_t /*lease_epoch*/,
                                   StoreDone done) {
  std::optional<StoreError> error;
  {
    std::lock_guard lock(mutex_);
    error = record_rejection_locked(rejection);
  }
  done(std::move(error));
}

std::optional<StoreError> MemoryStore::destroy_locked(const std::string& room_id) {
  if (rooms_.erase(room_id) == 0) return StoreError{StoreErrorCode::kNotFound, "unknown room"};
  destroyed_.insert(room_id);
  return std::nullopt;
}

void MemoryStore::destroy_room(std::string room_id, StoreDone done) {
  destroy_room_audited(std::move(room_id), {}, 0, std::move(done));
}

void MemoryStore::destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                                       std::uint64_t /*lease_epoch*/, StoreDone done) {
  std::optional<StoreError> error;
  {
    std::lock_guard lock(mutex_);
    error = destroy_locked(room_id);
    if (!error) audit_locked(room_id, audit);
  }
  done(std::move(error));
}

std::optional<StoreError> MemoryStore::rewrite_locked(const std::string& room_id,
                                                      std::vector<v1::Event>& events) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return StoreError{StoreErrorCode::kNotFound, "unknown room"};
  if (auto invalid = check_rewrite(events, it->second.events.size())) return invalid;
  for (v1::Event& event : events) {
    it->second.events[event.seq() - 1] = std::move(event);
  }
  return std::nullopt;
}

void MemoryStore::rewrite_events(std::string room_id, std::vector<v1::Event> events,
                                 StoreDone done) {
  rewrite_events_audited(std::move(room_id), std::move(events), {}, 0, std::move(done));
}

void MemoryStore::rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                                         std::vector<v1::AuditEntry> audit,
                                         std::uint64_t /*lease_epoch*/, StoreDone done) {
  std::optional<StoreError> error;
  {
    std::lock_guard lock(mutex_);
    error = rewrite_locked(room_id, events);
    if (!error) audit_locked(room_id, audit);
  }
  done(std::move(error));
}

void MemoryStore::list_rooms(ListRoomsDone done) {
  ListRoomsResult listed;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, room] : rooms_) {
      listed.rooms.push_back(RoomInfo{id, room.events.size(), room.events.front().at_ms(),
                                      room.events.back().at_ms(), room.creator});
    }
  }
  std::sort(listed.rooms.begin(), listed.rooms.end(),
            [](const RoomInfo& a, const RoomInfo& b) { return a.room_id < b.room_id; });
  done(std::move(listed));
}

void MemoryStore::append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                               StoreDone done) {
  std::optional<StoreError> error;
  if (entries.empty()) {
    error = StoreError{StoreErrorCode::kInvalid, "audit append without entries"};
  } else {
    std::lock_guard lock(mutex_);
    audit_locked(room_id, entries);
  }
  done(std::move(error));
}

void MemoryStore::load_audit(std::string room_id, AuditLoadDone done) {
  AuditLoadResult result;
  {
    std::lock_guard lock(mutex_);
    if (auto it = audit_.find(room_id); it != audit_.end()) result.entries = it->second;
  }
  done(std::move(result));
}

void MemoryStore::add_refusals(std::string room_id, std::vector<RefusalCount> deltas,
                               StoreDone done) {
  std::optional<StoreError> error = check_refusals(deltas);
  if (!error) {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) {
      error = StoreError{StoreErrorCode::kNotFound, "unknown room"};
    } else {
      for (const RefusalCount& delta : deltas) {
        it->second.refusals[{delta.partner, delta.code}] += delta.count;
      }
    }
  }
  done(std::move(error));
}

void MemoryStore::load_refusals(std::string room_id, RefusalsDone done) {
  RefusalsResult result;
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) {
      result.error = StoreError{StoreErrorCode::kNotFound, "unknown room"};
    } else {
      for (const auto& [key, count] : it->second.refusals) {
        result.refusals.push_back(RefusalCount{key.first, key.second, count});
      }
    }
  }
  done(std::move(result));
}

std::uint64_t MemoryStore::event_count(const std::string& room_id) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? 0 : it->second.events.size();
}

}  // namespace mend::store
