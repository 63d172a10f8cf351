#include "server/store/memory_store.h"

#include <algorithm>
#include <utility>

namespace mend::store {

const char* to_string(StoreErrorCode code) {
  switch (code) {
    case StoreErrorCode::kConflict: return "CONFLICT";
    case StoreErrorCode::kNotFound: return "NOT_FOUND";
    case StoreErrorCode::kUnavailable: return "UNAVAILABLE";
    case StoreErrorCode::kInvalid: return "INVALID";
  }
  return "UNKNOWN";
}

namespace {

std::string result_key(const CommandKey& key) { return key.participant + '\n' + key.command_id; }

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
  auto it = rooms_.find(request.room_id);
  if (is_new == (it != rooms_.end())) {
    return StoreError{StoreErrorCode::kConflict,
                      is_new ? "room already exists" : "room does not exist"};
  }
  if (!is_new && it->second.events.size() != request.expected_last_seq) {
    return StoreError{StoreErrorCode::kConflict, "room is not at the expected seq"};
  }
  if (is_new) it = rooms_.emplace(request.room_id, Room{}).first;
  Room& room = it->second;
  if (request.result) {
    const std::string key = result_key(request.result->key);
    if (room.results.contains(key)) {
      return StoreError{StoreErrorCode::kConflict, "command already recorded"};
    }
    room.results.emplace(key, std::move(request.result->result));
  }
  for (v1::Event& event : request.events) room.events.push_back(std::move(event));
  return std::nullopt;
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

std::uint64_t MemoryStore::event_count(const std::string& room_id) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? 0 : it->second.events.size();
}

}  // namespace mend::store
