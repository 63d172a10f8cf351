// The event store: the durable log of every room (DESIGN.md section 6).
//
// A room's history is its events, seq 1, 2, 3 ... without gaps. The room host
// (server/rooms/) is the only writer of a room: it appends the events a command or a timer
// produced with the seq it expects the store to be at, and hears of them again only through
// the completion callback. Nothing is applied or delivered before that callback reports
// success ("an accepted command is durable before anyone hears of it").
//
// Every call completes asynchronously through its callback, so a durable store can queue the
// work for a writer thread and commit several rooms' appends in one transaction (group
// commit). Completion contract, for every implementation:
// - the callback is called exactly once, on any thread (the store's writer thread, or inline
//   before the call returns): callers must not hold a lock across a call and must hop to their
//   own executor in the callback;
// - appends to one room complete in the order they were issued;
// - a successful append is visible to every later `load` and `find_result`.
//
// Errors are values (StoreError with a stable code); no exception leaves a store call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mend/v1/api.pb.h"
#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"

namespace mend::store {

enum class StoreErrorCode {
  kConflict,     // append: the room is not at expected_last_seq (another writer, or a bug)
  kNotFound,     // load: no such room
  kUnavailable,  // the store could not do it now (I/O error, shutting down); retry later
  kInvalid,      // the request breaks the contract (seqs not contiguous, empty append)
  kCorrupt,      // stored data failed an integrity check (damaged file, altered or moved
                 // ciphertext, undecodable event); not retryable, needs an operator
  kFenced,       // append, rewrite or destroy: its lease epoch is no longer the room's (another
                 // node took the room over); this node must stop serving the room
};

// Stable name of a code, e.g. "CONFLICT", for logs and metrics.
const char* to_string(StoreErrorCode code);

struct StoreError {
  StoreErrorCode code;
  std::string message;  // for logs; never contains message content
};

// Identifies one command for exactly-once effect: client command ids are chosen by clients,
// so they are scoped by room and by participant.
struct CommandKey {
  std::string room_id;
  std::string participant;  // a stable participant key, e.g. "A", "B", "O:Dr. Kim"
  std::string command_id;   // 1..64 bytes
  bool operator==(const CommandKey&) const = default;
};

// The CommandResult of an accepted command, recorded atomically with its events; or of a
// command's definitive rejection, recorded alone (Store::record_rejection).
struct RecordedResult {
  CommandKey key;
  v1::CommandResult result;
};

struct AppendRequest {
  std::string room_id;
  // The room's last seq before this append (0 when the room is created). The first event
  // must have seq expected_last_seq + 1 and the events must be contiguous.
  std::uint64_t expected_last_seq = 0;
  std::vector<v1::Event> events;  // at least one
  // Set for a command's append: stored in the same commit as the events.
  std::optional<RecordedResult> result;
  // Content-free entries for the room's audit log (e.g. consent given or revoked by these
  // events), appended in the same commit as the events: after a crash either both are
  // stored or neither. Empty: none. A store that does not keep an audit log rejects a
  // non-empty list with kUnavailable. (The initializer keeps positional aggregate
  // initialization without it free of -Wmissing-field-initializers.)
  std::vector<v1::AuditEntry> audit = {};
  // For a room's first append (expected_last_seq 0): who created it, as a content-free key the
  // room service chose for its per-creator quota (a digest, never an API key or an address).
  // Stored with the room and returned by list_rooms; ignored on later appends.
  std::string creator = {};
  // The epoch of this node's lease on the room (Store::acquire_lease), for several nodes on one
  // store: the append commits only while that epoch is still the room's lease epoch, else
  // kFenced and nothing is stored. 0: not fenced (one node; stores without leases ignore it).
  std::uint64_t lease_epoch = 0;
};

// nullopt on success: the events (and the result) are committed.
using AppendDone = std::function<void(std::optional<StoreError>)>;

// Which commands a room had recorded results for when it was loaded, so that a room not created
// by this process (after a restart, an unload, a lease handover) decides a command id it never
// saw without a find_result per command. Kept as sorted 64-bit digests (8 bytes per recorded
// command): may answer true for a command never recorded (the caller then asks find_result),
// never false for one that was.
class RecordedCommands {
 public:
  using Digest = std::function<std::uint64_t(const CommandKey&)>;
  RecordedCommands(Digest digest, std::vector<std::uint64_t> digests);

  bool may_contain(const CommandKey& key) const;
  std::size_t size() const { return digests_.size(); }

 private:
  Digest digest_;
  std::vector<std::uint64_t> digests_;  // sorted
};

struct LoadResult {
  std::vector<v1::Event> events;  // in seq order
  std::optional<StoreError> error;
  // Set by a load of the whole room (after_seq 0) when the store read the room's recorded
  // results with its events; null: unknown (ask find_result for every command). (The
  // initializer keeps positional aggregate initialization without it warning-free.)
  std::shared_ptr<const RecordedCommands> recorded = {};
};
using LoadDone = std::function<void(LoadResult)>;

struct FindResult {
  std::optional<v1::CommandResult> result;  // nullopt: no command with that key was recorded
  std::optional<StoreError> error;
};
using FindDone = std::function<void(FindResult)>;

// Content-free facts about one stored room (for retention sweeps and metrics).
struct RoomInfo {
  std::string room_id;
  std::uint64_t last_seq = 0;
  std::int64_t first_at_ms = 0;  // at_ms of seq 1
  std::int64_t last_at_ms = 0;   // at_ms of last_seq
  std::string creator;           // AppendRequest::creator of its first append ("" if none)
};

struct ListRoomsResult {
  std::vector<RoomInfo> rooms;  // every live (not destroyed) room, ordered by room id
  std::optional<StoreError> error;
};
using ListRoomsDone = std::function<void(ListRoomsResult)>;

struct AuditLoadResult {
  std::vector<v1::AuditEntry> entries;  // in the order they were appended
  std::optional<StoreError> error;
};
using AuditLoadDone = std::function<void(AuditLoadResult)>;

// nullopt on success.
using StoreDone = std::function<void(std::optional<StoreError>)>;

// What acquire_lease found.
struct LeaseResult {
  bool held = false;              // true: the asking node holds the room's lease now
  std::uint64_t epoch = 0;        // held: the lease's epoch (AppendRequest::lease_epoch)
  std::string holder;             // not held: the node that holds it
  std::int64_t remaining_ms = 0;  // how long the lease runs on (held: ours; else the holder's)
  // Held (a renewal): another node asked for the room within its own lease time (the router
  // sends the room's clients there); the holder hands the room over (gives the lease back).
  bool wanted_elsewhere = false;
  std::optional<StoreError> error;
};
using LeaseDone = std::function<void(LeaseResult)>;

// A partner's refusals (definitively rejected commands) of one code in a room: content-free
// counters kept for the insights (issue 14), so that they outlive a restart. Refusals are not
// events (an event takes a seq, reaches the other partner and would grow the log under a flood
// of TOO_SOON).
struct RefusalCount {
  v1::Role partner = v1::ROLE_UNSPECIFIED;  // PARTNER_A or PARTNER_B
  v1::RejectionCode code = v1::REJECTION_CODE_UNSPECIFIED;
  std::uint64_t count = 0;
  bool operator==(const RefusalCount&) const = default;
};

struct RefusalsResult {
  std::vector<RefusalCount> refusals;  // ordered by partner, then code; no zero counts
  std::optional<StoreError> error;
};
using RefusalsDone = std::function<void(RefusalsResult)>;

// Definitive rejections kept per participant of a room (Store::record_rejection): recording
// one more forgets that participant's oldest. A retry of a forgotten one is decided again.
inline constexpr std::size_t kRejectionsKeptPerParticipant = 1024;

// For implementations: the kInvalid checks of rewrite_events against a room at `last_seq`
// (non-empty, every seq in 1..last_seq, none twice). nullopt when the request is valid.
std::optional<StoreError> check_rewrite(const std::vector<v1::Event>& events,
                                        std::uint64_t last_seq);

// For implementations: the kInvalid checks of add_refusals. nullopt when the deltas are valid.
std::optional<StoreError> check_refusals(const std::vector<RefusalCount>& deltas);

// Thread safety: every method may be called from any thread concurrently.
class Store {
 public:
  virtual ~Store() = default;

  // Appends a room's events (and a command's result) atomically. Fails with kConflict, and
  // stores nothing, when the room's last seq is not request.expected_last_seq (for a new
  // room: when the room id already exists), or when the result's key is already recorded.
  virtual void append(AppendRequest request, AppendDone done) = 0;

  // The room's events with seq > after_seq (after_seq 0: all). kNotFound for an unknown room.
  virtual void load(std::string room_id, std::uint64_t after_seq, LoadDone done) = 0;

  // The recorded CommandResult of `key`: of an accepted and committed command, or of a
  // recorded rejection not forgotten yet (record_rejection).
  virtual void find_result(CommandKey key, FindDone done) = 0;

  // Records the definitive rejection of a command (a CommandResult without events), so that a
  // retry of its command_id gets the same rejection from find_result, across restarts. The
  // result must be content-free (a rejection code and its static message). Keeps the newest
  // kRejectionsKeptPerParticipant rejections of each (room, participant) and forgets older
  // ones in the same commit. kNotFound for an unknown or destroyed room; kConflict when the
  // key is already recorded (accepted or rejected); kInvalid for an accepted result. Ordered
  // with the appends issued before it; shares their group commit. `lease_epoch` fences it like
  // AppendRequest::lease_epoch: nonzero, it commits only while that epoch is still the room's
  // lease epoch, else kFenced and nothing is stored (a node that lost the room must not give a
  // retry on the new owner its answer); 0: not fenced (stores without leases ignore it).
  virtual void record_rejection(RecordedResult rejection, std::uint64_t lease_epoch,
                                StoreDone done) = 0;

  // --- Primitives for retention and erasure (DESIGN.md section 7). ---
  // The defaults complete with kUnavailable ("not supported by this store"), so test doubles
  // need not implement them; MemoryStore and SqliteStore do.

  // Erases a room for good (crypto-shredding): a durable store first deletes the room's data
  // key in a transaction of its own and commits it, so the content is unreadable from that
  // instant even if the process dies before the rows are deleted; then it deletes the events
  // and recorded results. The room id stays reserved: afterwards `load` and `find_result` act
  // as for an unknown room (kNotFound / no result), and an `append` to it (even with
  // expected_last_seq 0) is a kConflict, so no seq of that room is ever reused.
  // kNotFound when the room does not exist (or was already destroyed). Ordered with the
  // appends issued before it.
  virtual void destroy_room(std::string room_id, StoreDone done);

  // Replaces the stored content of existing events, e.g. with an "[erased]" redaction of one
  // partner's texts. Each event's seq names the stored event it replaces; seqs are unchanged
  // and nothing else moves. All or nothing: kNotFound for an unknown room, kInvalid when the
  // list is empty or a seq is not stored (0, or above the room's last seq), or repeats.
  // Visible to every later `load` and ordered with the appends issued before it. The store
  // notifies no one: a room host holding the room in memory applies the same change itself.
  virtual void rewrite_events(std::string room_id, std::vector<v1::Event> events,
                              StoreDone done);

  // destroy_room and rewrite_events together with entries for the room's audit log (e.g. the
  // AUDIT_ROOM_ERASED or AUDIT_CONTRIBUTIONS_ERASED entry that records them), in ONE commit:
  // after a crash or a failure either the change and its entries are both stored, or neither
  // is. For destroy_room that commit is the one that deletes the room key (the rows go
  // afterwards, as above); the entries outlive the room like every audit entry. `audit` may be
  // empty (then these are destroy_room and rewrite_events). The same errors as those, and
  // kUnavailable when the entries cannot be stored; on any error nothing changed.
  // `lease_epoch` fences them like AppendRequest::lease_epoch: nonzero, they commit only while
  // it is still the room's lease epoch, else kFenced and nothing changed (0: not fenced;
  // stores without leases ignore it).
  // Defaults: kUnavailable, like the primitives above (never two separate commits).
  virtual void destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                                    std::uint64_t lease_epoch, StoreDone done);
  virtual void rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                                      std::vector<v1::AuditEntry> audit,
                                      std::uint64_t lease_epoch, StoreDone done);

  // Every live room with its content-free metadata.
  virtual void list_rooms(ListRoomsDone done);

  // --- The audit log (DESIGN.md section 7): content-free entries per room. ---
  // The caller guarantees the entries carry no content (no texts, notes or tokens); a store
  // may keep them in clear. They outlive destroy_room (an erased room's audit log stays) and
  // are never rewritten. Defaults: kUnavailable, like the primitives above.

  // Appends entries (at least one) to a room's audit log, in order. The room need not exist
  // in the event log (e.g. after destroy_room). Ordered with the writes issued before it.
  virtual void append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                            StoreDone done);
  // append_audit fenced by `lease_epoch` like AppendRequest::lease_epoch: nonzero, the entries
  // commit only while it is still the room's lease epoch, else kFenced and nothing is stored
  // (0: not fenced; stores without leases ignore it). For the entries that record a privacy
  // operation of the room's host (a request to erase the room, an erasure that found nothing
  // to erase), which a node that lost the room must not write. Default: append_audit.
  virtual void append_audit_fenced(std::string room_id, std::vector<v1::AuditEntry> entries,
                                   std::uint64_t lease_epoch, StoreDone done);

  // Every audit entry of a room, oldest first; empty (no error) for a room without any.
  virtual void load_audit(std::string room_id, AuditLoadDone done);

  // --- Refusal counts (insights, issue 14). Defaults: kUnavailable. ---

  // Adds each delta's count to the room's count for its partner and code, all in one commit
  // (a durable store shares its group commit). kNotFound for an unknown or destroyed room;
  // kInvalid for an empty list, a zero count, or a partner that is not PARTNER_A/PARTNER_B.
  // destroy_room deletes the room's counts with its rows. Ordered with the writes before it.
  virtual void add_refusals(std::string room_id, std::vector<RefusalCount> deltas,
                            StoreDone done);
  // The room's counts; empty (no error) for a room without any; kNotFound for an unknown or
  // destroyed room.
  virtual void load_refusals(std::string room_id, RefusalsDone done);

  // --- Room leases for several nodes on one store (DESIGN.md: one node serves a room). ---
  // Defaults: kUnavailable (a single-node store needs none).

  // Takes the room's lease for `node` for `ttl`, when no node holds it, its lease expired, or
  // `node` holds it already (a renewal). The epoch goes up whenever the lease changes hands or
  // lapsed, and stays while `node` renews in time; appends carrying an older epoch are fenced.
  // Expiry is judged by the store's clock (one clock for every node). Not held: the holder and
  // how long its lease runs on, and the room is marked wanted by `node` for `ttl` (the
  // holder's renewals say so: LeaseResult::wanted_elsewhere). The room need not exist in the
  // event log.
  virtual void acquire_lease(std::string room_id, std::string node, std::chrono::milliseconds ttl,
                             LeaseDone done);
  // Ends `node`'s lease of `epoch` now (graceful drain: another node may take the room over at
  // once), and fences that epoch at once: a write still carrying it (issued before the release,
  // run after it) is kFenced. A no-op when the lease is no longer that one.
  virtual void release_lease(std::string room_id, std::string node, std::uint64_t epoch,
                             StoreDone done);

  // --- Metrics. ---

  // The caller reports how long a write's completion took from the store's call of it to the
  // handler that takes the result on the caller's own executor: the trip back, which the
  // store's own latency metrics cannot see. Any thread. Default: ignored.
  virtual void completion_delivered(std::chrono::steady_clock::duration /*trip*/) {}
};

}  // namespace mend::store
