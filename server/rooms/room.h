// One room on its strand: internal to server/rooms (net uses RoomService only).
// See room_service_impl.h for the behaviour; this header is the implementation's shape.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "server/engine/engine.h"
#include "server/rooms/room_core.h"
#include "server/rooms/room_service_impl.h"

namespace mend::rooms {

// 503 UNAVAILABLE: the store could not be reached; nothing was changed.
ServiceError unavailable_error();

// What every room shares: owned jointly by the service and its rooms (rooms may outlive the
// service while handlers are pending). Immutable after construction except `metrics` (atomic)
// and the registry (under registry_mutex).
struct RoomContext : std::enable_shared_from_this<RoomContext> {
  // `shards_`: at least one executor; a room lives on shards_[shard_of(id)].
  // `one_thread_each`: each shard is run by exactly one thread (else there is one, run by any
  // number).
  RoomContext(std::vector<boost::asio::any_io_executor> shards_, bool one_thread_each,
              std::shared_ptr<store::Store> store_, TokenSigner signer_, Clock clock_,
              RoomServiceConfig config_)
      : shards(std::move(shards_)),
        one_thread_per_shard(one_thread_each),
        executor(shards.front()),
        store(std::move(store_)),
        signer(std::move(signer_)),
        clock(std::move(clock_)),
        config(config_) {}

  const std::vector<boost::asio::any_io_executor> shards;
  const bool one_thread_per_shard;
  // The first shard: answers that belong to no room, housekeeping and sweeps.
  boost::asio::any_io_executor executor;
  // The executor room `id` runs on (shard.h).
  const boost::asio::any_io_executor& executor_of(std::string_view id) const;
  // The executor room `id` runs its handlers on, one at a time (serial_executor, shard.h).
  boost::asio::any_io_executor strand_for(std::string_view id) const;
  std::shared_ptr<store::Store> store;
  TokenSigner signer;
  Clock clock;
  RoomServiceConfig config;
  RoomMetrics metrics;

  // Hashes a room id, for lookups by std::string or std::string_view alike.
  struct RoomIdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const noexcept {
      return std::hash<std::string_view>{}(id);
    }
  };
  // Looked up on every command (find_or_load): hashed, not ordered; nothing iterates it in
  // order (loaded_rooms() is a snapshot for housekeeping, timers and drains).
  using Registry =
      std::unordered_map<std::string, std::shared_ptr<Room>, RoomIdHash, std::equal_to<>>;

  std::mutex registry_mutex;
  Registry registry;

  // Removes `room` from the registry if it is still registered under `id`.
  void forget(const std::string& id, const Room* room);

  // The registered room `id`, or a new one that starts loading it from the store; nullptr for
  // a malformed id. (room_lifecycle.cpp)
  std::shared_ptr<Room> find_or_load(const std::string& id);
  // Every registered room (a snapshot).
  std::vector<std::shared_ptr<Room>> loaded_rooms();

  // Timers of unloaded rooms: when a room is evicted with a timer armed, its deadline is
  // recorded here; housekeeping loads the room again once it is due (load runs the due ticks).
  void schedule_wake(const std::string& id, engine::TimeMs at);
  std::vector<std::string> take_due_wakes(engine::TimeMs now);
  std::size_t scheduled_wakes();

  // One housekeeping pass at clock() now: evicts idle rooms, loads unloaded rooms whose timer
  // is due. (room_lifecycle.cpp)
  void housekeeping();

 private:
  std::mutex wake_mutex_;
  std::set<std::pair<engine::TimeMs, std::string>> wake_schedule_;
};

// The caseload entry of a room as `core` has it (room_insights.cpp); the core holds at least
// one event.
CaseloadEntry make_caseload_entry(const std::string& room_id, const RoomCore& core);

class Room : public std::enable_shared_from_this<Room> {
 public:
  Room(std::string id, std::shared_ptr<RoomContext> context);
  ~Room();
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  // Exactly one of these starts a room: load its events from the store, or take the first
  // event of a room just created (already committed).
  // With leases (RoomServiceConfig::lease_ms), load() takes the room's lease first: when
  // another node holds it the room ends ROOM_ELSEWHERE (kRoomElsewhere) and leaves the
  // registry. start_created is for a single node only (with leases the creating node gives the
  // new room's lease back and does not keep it loaded).
  void load();
  void start_created(v1::Event created);

  // The RoomService operations, posted to the room's strand (queued until loaded; handed to
  // the room's successor, which loads it again, when this room was evicted meanwhile).
  void attach(v1::Actor actor, v1::Hello hello, std::shared_ptr<Recipient> recipient,
              std::function<void(std::optional<CloseCode>)> done);
  void detach(v1::Actor actor, const Recipient* recipient);
  void close_after_answers(v1::Actor actor, std::shared_ptr<Recipient> recipient, CloseCode code,
                           std::string reason);
  void submit(v1::Actor actor, v1::Command command);
  // Relays a partner's typing state to the other attached participants (RoomService::typing
  // has the rules). Not an activity for idle eviction; never follows an eviction.
  void typing(v1::Actor actor, bool typing);
  void get_view(v1::Actor actor, std::function<void(Result<v1::GetRoomResponse>)> done);
  void run_due_timers();
  void close_all(CloseCode code, std::string reason);

  // Unloads the room (on its strand) if it is loaded, has no attached connection, no work in
  // flight or queued, and no operation ran for `idle_ms` before `now`: it leaves the registry
  // (the next access loads it again from the store) and its armed timer is handed to the
  // context's wake schedule. (room_lifecycle.cpp)
  void evict_if_idle(engine::TimeMs now, engine::TimeMs idle_ms);
  // Shutdown: closes every connection (kServerShutdown), cancels the timer, then calls `done`
  // on the strand. (room_lifecycle.cpp)
  void shut_down(std::function<void()> done);
  // --- Privacy (DESIGN 7), implemented in room_privacy.cpp. Posted to the strand; the
  // rewrites and the erasure run exclusively (no command, tick or other rewrite meanwhile).
  void erase_contributions(v1::Actor actor,
                           std::function<void(Result<v1::EraseContributionsResponse>)> done);
  void erase_room(v1::Actor actor, std::function<void(Result<v1::EraseRoomResponse>)> done);
  void get_audit(v1::Actor actor, std::function<void(Result<v1::GetAuditResponse>)> done);
  // What this room holds in memory for its audit log, on its strand: the appends in flight
  // and the reads waiting for them (the log itself is read from the store).
  void audit_held(std::function<void(std::size_t)> done);
  void get_transcript(v1::Actor actor,
                      std::function<void(Result<v1::GetTranscriptResponse>)> done);
  void renew_access(v1::Actor actor, std::function<void(Result<v1::RenewAccessResponse>)> done);
  // --- Insights and summary (issue 14), implemented in room_insights.cpp.
  void get_insights(v1::Actor actor, std::function<void(Result<v1::GetInsightsResponse>)> done);
  void get_summary(v1::Actor actor, std::function<void(Result<v1::GetSummaryResponse>)> done);
  // The room's caseload entry, with who is attached here; nullopt when the room is not ready
  // here (gone, served by another node, not loaded, or unloaded meanwhile).
  void caseload_entry(std::function<void(std::optional<CaseloadEntry>)> done);
  // Purges the content when the room is closed and its retention ended at `now`. `done` gets
  // when the purge is (next) due: nullopt when nothing will be due while the room's last seq
  // stays the same (open, already purged, or gone).
  void check_retention(engine::TimeMs now,
                       std::function<void(std::optional<engine::TimeMs> due_ms)> done);

 private:
  // kEvicted: unloaded (idle, or its lease lost); operations that still reach this object go
  // to its successor. kElsewhere: another node holds the room's lease.
  enum class Status { kLoading, kReady, kGone, kFailed, kEvicted, kElsewhere };
  using Op = std::function<void(Room&)>;

  // Runs `op` on the strand once the room is loaded (at once when it is). When the room was
  // evicted, `op` runs on the room registered now under the same id (loaded again), unless
  // `follow_eviction` is false (then it is dropped: e.g. a detach has nothing to do).
  void on_strand(Op op, bool follow_eviction = true);
  void on_loaded(store::LoadResult loaded, std::uint64_t epoch);
  void load_events();

  // Leases (room_lease.cpp): several nodes on one store.
  bool leased() const { return ctx_->config.lease_ms > 0; }
  void on_lease_taken(store::LeaseResult lease);
  // Renews the lease every lease_ms / 3 while the room is ready.
  void arm_lease_renewal();
  void on_lease_renewed(store::LeaseResult lease, std::chrono::steady_clock::time_point asked);
  // This node may no longer write the room (renewal refused or too late, an append fenced):
  // closes every connection with kRoomElsewhere and unloads, without writing again.
  void lose_lease(const char* why);
  // A rewrite of the stored history answered with an error other than kFenced: whether it
  // committed is unknown, so the core's memory (its window, the texts it would replay) may
  // hold what the store no longer does. Unloads the room (kRoomReloaded); the successor loads
  // it from the store (after the lease, which waits for a rewrite still committing).
  void reload_after_doubt(const store::StoreError& error);
  // Unloads at once, whatever is in flight: closes every connection with `code`, refuses the
  // queued exclusive operations with `refusal`, stops the timers and drops the core (answers
  // still in flight find none). From then on find_or_load creates a successor.
  void unload_now(CloseCode code, const std::string& close_reason, const ServiceError& refusal);
  // Gives the lease back (eviction, shutdown, a room that does not exist); `then` (optional)
  // runs on the strand once the store answered.
  void release_lease(std::function<void()> then = {});
  ServiceError elsewhere_error() const;
  // The answer to an operation this room can no longer finish (its core is gone): the
  // "try again" ROOM_ELSEWHERE once the lease was lost, else UNAVAILABLE.
  ServiceError unserved_error() const;
  void answer_view(const v1::Actor& actor,
                   const std::function<void(Result<v1::GetRoomResponse>)>& done);
  void do_attach(const v1::Actor& actor, const v1::Hello& hello,
                 std::shared_ptr<Recipient> recipient,
                 const std::function<void(std::optional<CloseCode>)>& done);
  // The connection id of `recipient` in this room, if attached.
  std::optional<ConnectionId> connection_of(const Recipient* recipient) const;
  // Closes every connection with `code` and forgets them.
  void close_connections(CloseCode code, const std::string& reason);

  // The adapter: executes what the core asked for, in order (frames and closes, audit
  // entries, the store request with its answer posted back to the strand, the exclusive
  // operation to run, the timer).
  void execute(Effects fx);
  void execute_store(StoreRequest&& request);
  void start_exclusive(const ExclusiveStart& start);
  void arm_timer(std::optional<engine::TimeMs> deadline);
  void evict();

  // Insights (room_insights.cpp).
  void get_insights_now(v1::Actor actor, std::function<void(Result<v1::GetInsightsResponse>)> done);
  void get_summary_now(v1::Actor actor, std::function<void(Result<v1::GetSummaryResponse>)> done);
  // Why `actor` may not have the summary now (checked before and after the whole-log read).
  std::optional<ServiceError> summary_refusal(const v1::Actor& actor) const;

  // Privacy (room_privacy.cpp).
  // The bodies of the public privacy operations, on the strand once loaded.
  void erase_contributions_now(v1::Actor actor, std::function<void(Result<v1::EraseContributionsResponse>)> done);
  void erase_room_now(v1::Actor actor, std::function<void(Result<v1::EraseRoomResponse>)> done);
  void get_audit_now(v1::Actor actor, std::function<void(Result<v1::GetAuditResponse>)> done);
  // The stored audit log; UNKNOWN_ROOM when it is empty and `room_known` is false.
  void read_stored_audit(bool room_known, std::function<void(Result<v1::GetAuditResponse>)> done);
  void get_transcript_now(v1::Actor actor, std::function<void(Result<v1::GetTranscriptResponse>)> done);
  void renew_access_now(v1::Actor actor, std::function<void(Result<v1::RenewAccessResponse>)> done);
  void check_retention_now(engine::TimeMs now,
                           std::function<void(std::optional<engine::TimeMs>)> done);
  // An operation that needs the room to itself: `run` ends with finish_command() (or leaves
  // the room gone); `refuse` answers its caller with the error when the operation will never
  // run here (the room was erased before it ran, or this node lost the room's lease).
  struct Exclusive {
    std::function<void()> run;
    std::function<void(const ServiceError&)> refuse;
  };
  void queue_exclusive(Exclusive op);
  void load_audit_then_finish(store::LoadResult loaded);
  // Refusal counts (room_refusals.cpp): read before the audit log at load, and the core's new
  // counts stored after every step, with at most one write in flight (a failed one is merged
  // into the next: the stored counts only ever grow by what was counted).
  void load_refusals_then(store::LoadResult loaded);
  void flush_refusals();
  void on_audit_loaded(store::LoadResult loaded, store::AuditLoadResult audit);
  void record_audit(std::vector<v1::AuditEntry> entries, std::function<void()> committed = {});
  // Stores the entries that record a privacy operation of this node, fenced by its lease epoch
  // (with leases, a node that lost the room never writes them: kFenced, and it gives the room
  // up). `done` runs on the strand once committed or failed (then nothing was stored).
  void record_audit_fenced(std::vector<v1::AuditEntry> entries,
                           std::function<void(std::optional<store::StoreError>)> done);
  // Both: the entries appended (fenced by `lease_epoch`, 0 for none), counted in flight until
  // the store answered; `done` on the strand.
  void append_audit_entries(std::vector<v1::AuditEntry> entries, std::uint64_t lease_epoch,
                            std::function<void(std::optional<store::StoreError>)> done);
  // Numbers an audit append about to start / marks it completed (runs the reads waiting).
  std::uint64_t begin_audit_append();
  void end_audit_append(std::uint64_t number);
  // Runs `then` on the strand once every audit append started before this call completed.
  void after_audit_appends(std::function<void()> then);
  // Ends the exclusive operation in process (the core starts what waits).
  void finish_command();
  void purge_now(std::function<void()> then);
  void purge_log(std::vector<v1::Event> log, std::function<void()> then);
  void answer_transcript(const v1::Actor& actor, const std::vector<v1::Event>& log,
                         std::function<void(Result<v1::GetTranscriptResponse>)> done);
  // Erases `actor`'s contributions from the whole `log` (an exclusive operation's body).
  void erase_from_log(
      std::vector<v1::Event> log, const v1::Actor& actor,
      std::shared_ptr<std::function<void(Result<v1::EraseContributionsResponse>)>> shared_done);
  // Calls `then` on the strand with the room's whole log (RoomCore::whole_log): the core's when
  // its window holds it all, else read from the store; nullopt when it could not be read.
  void with_whole_log(std::function<void(std::optional<std::vector<v1::Event>>)> then);
  // Rewrites the stored history and stores `entry` (its audit record, epoch set here to the
  // epoch after the rewrite) in ONE store commit; with nothing to rewrite, only the entry
  // (same epoch). `whole_log`: the log `rewritten` was made from. `done` runs on the strand
  // once committed (or failed: then nothing changed).
  void rewrite_history(std::vector<v1::Event> whole_log, std::vector<v1::Event> rewritten,
                       v1::Actor by, v1::ErasureScope scope, v1::AuditEntry entry,
                       std::function<void(std::optional<store::StoreError>)> done);
  // The first partner's request to erase the room was stored (or failed: nothing changes).
  void on_erasure_requested(const v1::Actor& actor, engine::TimeMs at_ms,
                            const std::optional<store::StoreError>& error);
  // Destroys the room and stores `entries` (the completing request, if new) and its
  // AUDIT_ROOM_ERASED entry in ONE store commit.
  void destroy_now(v1::Actor by, std::vector<v1::AuditEntry> entries,
                   std::function<void(Result<v1::EraseRoomResponse>)> done);
  void on_destroyed(v1::Actor by, std::optional<store::StoreError> error,
                    std::function<void(Result<v1::EraseRoomResponse>)> done);
  // Answers a request to a room that is not ready: ROOM_ERASED (410) when its audit log says
  // both partners erased it, UNKNOWN_ROOM (404), or UNAVAILABLE (503) after a failed load.
  void answer_gone(std::function<void(ServiceError)> done);
  v1::EraseRoomResponse erasure_status() const;

  const std::string id_;
  const std::shared_ptr<RoomContext> ctx_;
  boost::asio::any_io_executor strand_;  // RoomContext::strand_for(id_)
  boost::asio::steady_timer timer_;
  std::optional<engine::TimeMs> armed_deadline_;

  // Leases: the epoch this node holds (0: none), when the last successful renewal was asked
  // (the lease runs at least lease_ms from then), and for kElsewhere how long the holder's runs.
  std::uint64_t lease_epoch_ = 0;
  std::chrono::steady_clock::time_point lease_asked_at_;
  boost::asio::steady_timer lease_timer_;
  std::int64_t elsewhere_ms_ = 0;
  bool lease_lost_ = false;  // lose_lease ran: another node serves the room now

  Status status_ = Status::kLoading;
  bool results_known_ = false;  // created by this process: the core sees every result
  std::vector<std::function<void()>> waiting_for_load_;
  engine::TimeMs last_active_ms_ = 0;  // when an operation last ran (idle eviction)
  std::optional<RoomCore> core_;       // the room's rules and state; engaged while kReady
  std::map<ConnectionId, std::shared_ptr<Recipient>> connections_;
  ConnectionId next_connection_ = 1;

  // Privacy state (room_privacy.cpp).
  // The audit log is not kept in memory (every connect and disconnect adds to it, for as long
  // as the room stays loaded): a read waits for the audit appends started before it, then
  // reads the store. Appends in flight by number, and the reads waiting for them.
  std::set<std::uint64_t> audit_appends_in_flight_;
  std::uint64_t next_audit_append_ = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> audit_reads_waiting_;
  bool erased_ = false;                        // the room's erasure committed here
  std::set<v1::Role> erasure_requested_by_;    // partners who asked to erase the whole room
  bool purged_ = false;                        // the retention purge ran
  std::map<std::uint64_t, Exclusive> exclusive_;  // queued in the core by id
  std::uint64_t next_exclusive_ = 1;

  // Refusal counts (room_refusals.cpp).
  RoomCore::RefusalCounts stored_refusals_;    // read at load, handed to the core
  RoomCore::RefusalCounts unstored_refusals_;  // taken from the core, not stored yet
  bool refusals_in_flight_ = false;
};

}  // namespace mend::rooms
