// An in-memory Store for tests, simulations and `--data-dir :memory:` style runs.
// Nothing survives the process. Every call completes inline, before it returns, on the
// calling thread (the Store contract allows this).
// Thread safety: all methods are safe to call concurrently (one mutex; never held while a
// callback runs).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/store/store.h"

namespace mend::store {

class MemoryStore final : public Store {
 public:
  void append(AppendRequest request, AppendDone done) override;
  void load(std::string room_id, std::uint64_t after_seq, LoadDone done) override;
  void find_result(CommandKey key, FindDone done) override;
  // lease_epoch is ignored: a MemoryStore has no leases.
  void record_rejection(RecordedResult rejection, std::uint64_t lease_epoch,
                        StoreDone done) override;
  void destroy_room(std::string room_id, StoreDone done) override;
  void rewrite_events(std::string room_id, std::vector<v1::Event> events,
                      StoreDone done) override;
  // lease_epoch is ignored: a MemoryStore has no leases.
  void destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                            std::uint64_t lease_epoch, StoreDone done) override;
  void rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                              std::vector<v1::AuditEntry> audit, std::uint64_t lease_epoch,
                              StoreDone done) override;
  void list_rooms(ListRoomsDone done) override;
  void append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                    StoreDone done) override;
  void load_audit(std::string room_id, AuditLoadDone done) override;
  void add_refusals(std::string room_id, std::vector<RefusalCount> deltas,
                    StoreDone done) override;
  void load_refusals(std::string room_id, RefusalsDone done) override;

  // The number of events stored for `room_id` (0 for an unknown room). For tests.
  std::uint64_t event_count(const std::string& room_id) const;

 private:
  struct Room {
    std::vector<v1::Event> events;
    // participant + '\n' + command_id -> result (hashed: one per accepted command, never
    // iterated in order)
    std::unordered_map<std::string, v1::CommandResult> results;
    std::string creator;  // AppendRequest::creator
    // participant -> the result keys of its recorded rejections, oldest first
    std::map<std::string, std::deque<std::string>> rejections;
    std::map<std::pair<v1::Role, v1::RejectionCode>, std::uint64_t> refusals;
  };

  std::optional<StoreError> record_rejection_locked(RecordedResult& rejection);

  std::optional<StoreError> append_locked(AppendRequest& request);
  std::optional<StoreError> rewrite_locked(const std::string& room_id,
                                           std::vector<v1::Event>& events);
  std::optional<StoreError> destroy_locked(const std::string& room_id);
  void audit_locked(const std::string& room_id, std::vector<v1::AuditEntry>& entries);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;  // list_rooms sorts them by id
  std::unordered_set<std::string> destroyed_;   // destroyed room ids stay reserved
  std::map<std::string, std::vector<v1::AuditEntry>> audit_;  // survives destroy_room
};

}  // namespace mend::store
