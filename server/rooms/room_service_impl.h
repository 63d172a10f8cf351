// RoomServiceImpl: the room host (DESIGN.md sections 5, 6, 8), implementing RoomService.
//
// Every room lives on one of the shards' executors, the one its id hashes to (shard.h; with one
// executor, all rooms share it), on its "strand": that shard's executor when one thread runs
// each shard, else a strand of its own (RoomContext::strand_for) (the Beast chat-multi shape:
// the room owns the conversation's state and the set of attached participants, connections
// own their sockets). On its strand a room:
// - runs engine::decide for one command at a time (commands wait in a bounded queue while
//   an append is in flight), appends the events and the CommandResult to the store, and only
//   after the store completed: engine::evolve, then the sender's CommandResult + events in
//   one frame, and one frame per other attached participant who may see an event
//   (engine::visible_to), encoded once per distinct (visible events, view);
// - answers a retried command_id (per participant) with its stored CommandResult;
// - keeps one timer armed at engine::next_deadline; when due it loops tick, append, evolve,
//   fan-out until nothing is due (due timers also run before the next command);
// - on attach sends Welcome, the replay (several events per frame), ReplayDone, then live
//   frames; a newer connection of a participant closes the older with kReplaced; an observer
//   is admitted only while approved by both partners and is closed with kConsentRevoked when
//   an ObserverRevoked event for it is applied; Presence goes to everybody on every change.
//
// Rooms are loaded on demand: any operation on a room not in memory loads its events from
// the store and rebuilds its state by replay (then runs the timers that fell due meanwhile).
// A loaded room keeps its event log in memory (replays on resume come from it, all or nothing).
// Housekeeping (every housekeeping_interval_ms, once start_housekeeping() was called) unloads
// rooms with no connection and no work for room_idle_evict_ms; a room unloaded with a timer
// armed is loaded again when that timer is due (so timers of idle rooms still fire, without
// keeping rooms whose timers are days away in memory). After a restart, recover_timers()
// finds the armed timers of the stored rooms.
// Thread safety: all public methods may be called from any thread.
#pragma once

#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "server/engine/templates.h"
#include "server/rooms/clock.h"
#include "server/rooms/metrics.h"
#include "server/rooms/retention.h"
#include "server/rooms/room_core.h"
#include "server/rooms/room_quota.h"
#include "server/rooms/room_service.h"
#include "server/rooms/tokens.h"
#include "server/store/store.h"

namespace mend::rooms {

// Limits and defaults of the rooms. Every queue has a named bound. The limits each room's
// core enforces (queue, rate, replay frames) are RoomCoreLimits (room_core.h).
struct RoomServiceConfig : RoomCoreLimits {
  // Invite token lifetime when CreateRoomRequest.invite_ttl_s is 0, and its maximum.
  std::uint32_t default_invite_ttl_s = 7 * 24 * 3600;
  std::uint32_t max_invite_ttl_s = 90 * 24 * 3600;
  // Observers invited to one room at most.
  std::size_t max_observers_per_room = 16;
  // Partner names and topic at creation: at most this many bytes.
  std::size_t max_name_bytes = 64;
  std::size_t max_topic_bytes = 4000;
  // A loaded room with no attached connection and no operation for this long is unloaded
  // (reloaded from the store on the next access). 0: rooms stay loaded.
  engine::TimeMs room_idle_evict_ms = 10 * 60 * 1000;
  // Period of the housekeeping pass (idle eviction, timers of unloaded rooms); it bounds how
  // late a timer of an unloaded room fires.
  engine::TimeMs housekeeping_interval_ms = 1000;
  // Retention sweep (DESIGN 7): how often start_retention_sweeps() sweeps, and how many rooms
  // one sweep may load.
  std::chrono::milliseconds retention_sweep_interval{std::chrono::hours(1)};
  std::size_t max_rooms_per_sweep = 256;
  // Several nodes on one store with leases (PostgreSQL). lease_ms 0: no leases (one node, the
  // default). Else a room is loaded only after this node (`node_id`) took its lease for
  // lease_ms; the lease is renewed every lease_ms / 3 and every append carries its epoch. A
  // room whose lease is held by another node is refused ROOM_ELSEWHERE / kRoomElsewhere; a
  // room that loses its lease (renewal refused, an append fenced) closes its connections with
  // kRoomElsewhere and unloads. Eviction and stop() release the lease.
  std::string node_id;
  engine::TimeMs lease_ms = 0;
};

class Room;
struct RoomContext;

// One room of a caseload (issue 14): its status and its insights, content-free.
struct CaseloadEntry {
  v1::RoomStatus status;
  v1::Insights insights;
};

class RoomServiceImpl final : public RoomService {
 public:
  // `catalog`: the loaded, validated templates. `store` is shared with
  // the rooms (kept alive while any room operation is pending). `signer` signs invites.
  // `clock` is the only time source of the rooms and their tokens. `executor` may be run by
  // any number of threads: each room gets a strand of it.
  RoomServiceImpl(boost::asio::any_io_executor executor, std::shared_ptr<store::Store> store,
                  engine::TemplateCatalog catalog, TokenSigner signer, Clock clock,
                  RoomServiceConfig config = {});
  // Rooms sharded over `shards` (at least one, each run by exactly one thread): each room runs
  // on the shard its id hashes to (shard.h), serialized by that shard's thread (no strand of
  // its own); service-wide work (housekeeping, sweeps) runs on the first.
  RoomServiceImpl(std::vector<boost::asio::any_io_executor> shards,
                  std::shared_ptr<store::Store> store, engine::TemplateCatalog catalog,
                  TokenSigner signer, Clock clock, RoomServiceConfig config = {});
  ~RoomServiceImpl() override;

  RoomServiceImpl(const RoomServiceImpl&) = delete;
  RoomServiceImpl& operator=(const RoomServiceImpl&) = delete;

  // RoomService (room_service.h). Errors of create_room: UNKNOWN_TEMPLATE (404),
  // INVALID_ARGUMENT (400), UNAVAILABLE (503, store failed). get_view: UNKNOWN_ROOM (404).
  // submit: an invalid command_id (empty or over 64 bytes) is rejected INVALID_ARGUMENT; over
  // the rate RATE_LIMITED; over the room's queue UNAVAILABLE; store failure UNAVAILABLE
  // (retry with the same command_id). Commands of a participant with no attached connection
  // are dropped (nobody could hear the result).
  void create_room(const v1::CreateRoomRequest& request,
                   std::function<void(Result<v1::CreateRoomResponse>)> done) override;
  // Also ROOM_QUOTA_EXCEEDED (429); UNAVAILABLE (503) when the counts cannot be read.
  void create_room_for(const v1::CreateRoomRequest& request, const std::string& creator,
                       std::uint32_t limit,
                       std::function<void(Result<v1::CreateRoomResponse>)> done) override;
  v1::ListTemplatesResponse list_templates() const override;
  void get_view(const Participant& who,
                std::function<void(Result<v1::GetRoomResponse>)> done) override;
  void attach(const Participant& who, const v1::Hello& hello,
              std::shared_ptr<Recipient> recipient,
              std::function<void(std::optional<CloseCode>)> done) override;
  void detach(const Participant& who, const Recipient* recipient) override;
  void close_after_answers(const Participant& who, std::shared_ptr<Recipient> recipient,
                           CloseCode code, std::string reason) override;
  void submit(const Participant& who, v1::Command command) override;
  void typing(const Participant& who, bool typing) override;
  // Privacy (room_service.h; room_privacy.cpp has the behaviour).
  void erase_contributions(const Participant& who,
                           std::function<void(Result<v1::EraseContributionsResponse>)> done) override;
  void erase_room(const Participant& who,
                  std::function<void(Result<v1::EraseRoomResponse>)> done) override;
  void get_audit(const Participant& who,
                 std::function<void(Result<v1::GetAuditResponse>)> done) override;
  void get_insights(const Participant& who,
                    std::function<void(Result<v1::GetInsightsResponse>)> done) override;
  // Caseload (room_service.h; room_caseload.cpp).
  void list_rooms_for(const std::string& creator,
                      std::function<void(Result<v1::ListRoomsResponse>)> done) override;
  void get_series_insights(const std::string& creator, const std::string& series_id,
                           std::function<void(Result<v1::GetSeriesInsightsResponse>)> done) override;
  void get_summary(const Participant& who,
                   std::function<void(Result<v1::GetSummaryResponse>)> done) override;
  void get_transcript(const Participant& who,
                      std::function<void(Result<v1::GetTranscriptResponse>)> done) override;
  void renew_access(const Participant& who,
                    std::function<void(Result<v1::RenewAccessResponse>)> done) override;

  // Retention (retention.h): one sweep at clock() now; `done` runs when it finished. Tests
  // with a ManualClock call this after advancing the clock.
  void sweep_retention(std::function<void(SweepReport)> done = {});
  // Sweeps every config.retention_sweep_interval until the service is destroyed (mendd).
  void start_retention_sweeps();

  // Asks every loaded room to run the timers due at clock() now. Production relies on the
  // rooms' asio timers; tests with a ManualClock call this after advancing the clock.
  void run_due_timers();

  // Closes every attached connection with `code` (e.g. kServerShutdown on SIGTERM).
  void close_all(CloseCode code, std::string reason);

  // --- Lifecycle of loaded rooms (room_lifecycle.cpp) ---
  // Starts the periodic housekeeping pass on the executor (real time; decisions use clock()).
  void start_housekeeping();
  // One housekeeping pass now: evicts idle rooms (room_idle_evict_ms), loads unloaded rooms
  // whose timer is due. Tests with a ManualClock call this after advancing the clock.
  void housekeeping();
  // After a start: reads every stored room once, in the background and one at a time, to find
  // its armed timer (loads at once the rooms with a timer already due, which runs their ticks;
  // schedules the others). `done` (optional) gets the number of rooms examined.
  void recover_timers(std::function<void(std::size_t)> done = {});
  // Stops housekeeping and retention sweeps and closes every connection with kServerShutdown;
  // `done` (optional, on the executor) runs once every loaded room released its connections
  // (connections hold the service: stop the executor only then, or they leak). The store is
  // not touched: close it afterwards.
  void stop(std::function<void()> done = {});
  // Unloaded rooms waiting for a timer (for tests and metrics).
  std::size_t scheduled_wakes() const;
  // What the loaded room `room_id` holds in memory for its audit log (Room::audit_held; for
  // tests); `done` runs on the room's strand, with 0 when the room is not loaded.
  void audit_held(const std::string& room_id, std::function<void(std::size_t)> done);

  // Counters for GET /metrics (see metrics.h). Valid while the service lives.
  const RoomMetrics& metrics() const;

  // The token signer, so net verifies the tokens this service issues.
  const TokenSigner& tokens() const;

 private:
  RoomServiceImpl(std::vector<boost::asio::any_io_executor> shards, bool one_thread_per_shard,
                  std::shared_ptr<store::Store> store, engine::TemplateCatalog catalog,
                  TokenSigner signer, Clock clock, RoomServiceConfig config);

  std::shared_ptr<Room> find_or_load(const std::string& room_id);
  // The checked request as the append that creates its room, or why it cannot be created.
  std::variant<store::AppendRequest, ServiceError> prepare_room(
      const v1::CreateRoomRequest& request) const;

  template <typename T>
  void with_room(const Participant& who, std::function<void(Result<T>)> done,
                 void (Room::*op)(v1::Actor, std::function<void(Result<T>)>));
  struct Housekeeper;
  void stop_housekeeping();
  // The caseload entries of every stored room `creator` created (room_caseload.cpp), in room
  // id order; an error when the store cannot list the rooms.
  void caseload_of(const std::string& creator,
                   std::function<void(std::optional<ServiceError>, std::vector<CaseloadEntry>)> done);

  std::shared_ptr<RoomContext> context_;
  const engine::TemplateCatalog catalog_;
  std::shared_ptr<RetentionSweeper> sweeper_;
  std::shared_ptr<Housekeeper> housekeeper_;
  std::shared_ptr<RoomQuota> quota_ = std::make_shared<RoomQuota>();
};

}  // namespace mend::rooms
