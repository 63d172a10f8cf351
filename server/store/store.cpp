#include "server/store/store.h"

#include <algorithm>
#include <set>
#include <utility>

namespace mend::store {

const char* to_string(StoreErrorCode code) {
  switch (code) {
    case StoreErrorCode::kConflict:
      return "CONFLICT";
    case StoreErrorCode::kNotFound:
      return "NOT_FOUND";
    case StoreErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case StoreErrorCode::kInvalid:
      return "INVALID";
    case StoreErrorCode::kCorrupt:
      return "CORRUPT";
    case StoreErrorCode::kFenced:
      return "FENCED";
  }
  return "UNKNOWN";
}

RecordedCommands::RecordedCommands(Digest digest, std::vector<std::uint64_t> digests)
    : digest_(std::move(digest)), digests_(std::move(digests)) {
  std::sort(digests_.begin(), digests_.end());
}

bool RecordedCommands::may_contain(const CommandKey& key) const {
  return std::binary_search(digests_.begin(), digests_.end(), digest_(key));
}

std::optional<StoreError> check_rewrite(const std::vector<v1::Event>& events,
                                        std::uint64_t last_seq) {
  if (events.empty()) return StoreError{StoreErrorCode::kInvalid, "rewrite without events"};
  std::set<std::uint64_t> seen;
  for (const v1::Event& event : events) {
    if (event.seq() == 0 || event.seq() > last_seq) {
      return StoreError{StoreErrorCode::kInvalid, "rewrite of a seq that is not stored"};
    }
    if (!seen.insert(event.seq()).second) {
      return StoreError{StoreErrorCode::kInvalid, "rewrite names a seq twice"};
    }
  }
  return std::nullopt;
}

namespace {
StoreError not_supported(const char* what) {
  return StoreError{StoreErrorCode::kUnavailable,
                    std::string(what) + " is not supported by this store"};
}
}  // namespace

void Store::destroy_room(std::string /*room_id*/, StoreDone done) {
  done(not_supported("destroy_room"));
}

void Store::rewrite_events(std::string /*room_id*/, std::vector<v1::Event> /*events*/,
                           StoreDone done) {
  done(not_supported("rewrite_events"));
}

void Store::destroy_room_audited(std::string /*room_id*/,
                                 std::vector<v1::AuditEntry> /*audit*/,
                                 std::uint64_t /*lease_epoch*/, StoreDone done) {
  done(not_supported("destroy_room_audited"));
}

void Store::rewrite_events_audited(std::string /*room_id*/, std::vector<v1::Event> /*events*/,
                                   std::vector<v1::AuditEntry> /*audit*/,
                                   std::uint64_t /*lease_epoch*/, StoreDone done) {
  done(not_supported("rewrite_events_audited"));
}

void Store::list_rooms(ListRoomsDone done) {
  ListRoomsResult result;
  result.error = not_supported("list_rooms");
  done(std::move(result));
}

void Store::append_audit(std::string /*room_id*/, std::vector<v1::AuditEntry> /*entries*/,
                         StoreDone done) {
  done(not_supported("append_audit"));
}

void Store::append_audit_fenced(std::string room_id, std::vector<v1::AuditEntry> entries,
                                std::uint64_t /*lease_epoch*/, StoreDone done) {
  append_audit(std::move(room_id), std::move(entries), std::move(done));
}

void Store::load_audit(std::string /*room_id*/, AuditLoadDone done) {
  AuditLoadResult result;
  result.error = not_supported("load_audit");
  done(std::move(result));
}

void Store::add_refusals(std::string /*room_id*/, std::vector<RefusalCount> /*deltas*/,
                         StoreDone done) {
  done(not_supported("add_refusals"));
}

void Store::load_refusals(std::string /*room_id*/, RefusalsDone done) {
  RefusalsResult result;
  result.error = not_supported("load_refusals");
  done(std::move(result));
}

std::optional<StoreError> check_refusals(const std::vector<RefusalCount>& deltas) {
  if (deltas.empty()) return StoreError{StoreErrorCode::kInvalid, "no refusals to add"};
  for (const RefusalCount& delta : deltas) {
    if (delta.count == 0) return StoreError{StoreErrorCode::kInvalid, "a zero refusal count"};
    if (delta.partner != v1::PARTNER_A && delta.partner != v1::PARTNER_B) {
      return StoreError{StoreErrorCode::kInvalid, "refusals are counted for partners only"};
    }
  }
  return std::nullopt;
}

void Store::acquire_lease(std::string /*room_id*/, std::string /*node*/,
                          std::chrono::milliseconds /*ttl*/, LeaseDone done) {
  LeaseResult result;
  result.error = not_supported("acquire_lease");
  done(std::move(result));
}

void Store::release_lease(std::string /*room_id*/, std::string /*node*/, std::uint64_t /*epoch*/,
                          StoreDone done) {
  done(not_supported("release_lease"));
}

}  // namespace mend::store
