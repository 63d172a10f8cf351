// The room core: every rule of one loaded room, as a deterministic object without I/O.
//
// No sockets, no store, no clock reads, no threads, no timers: every input is a call that takes
// `now`, and every output is an Effects value the caller executes in order. `Room` (room.h) is
// the adapter that runs a core on a strand, executes its store requests, arms its timer and
// writes its frames; the whole-room simulation (tests/sim/room_sim_test.cpp) drives cores
// directly. One command's path through the core:
//
//   on_command -> rate bucket, command_id check, bounded queue -> pump()
//   pump       -> exclusive operation | due tick | next command: dedupe (a FindRequest unless
//                 this core saw every result) -> engine::decide
//   decide     -> accepted: an AppendRequest (events + result + audit entries, one commit)
//                 definitive rejection: a RecordRejection; transient: answered at once
//   on_appended(ok) -> engine::evolve, then the sender's frame (result + events + view) and one
//                 frame per other attachment that may see an event, encoded once per distinct
//                 (visible events, view); revoked observers closed; retracted texts withdrawn
//
// At most one store request of the core (find, append, record, rewrite) or one exclusive
// operation is in flight at a time ("busy"); everything else waits in its queue.
//
// Connections are named by a ConnectionId the caller chooses (unique per core); the core
// knows which participant each one is and closes them by id.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"
#include "server/engine/engine.h"
#include "server/engine/insights.h"
#include "server/engine/limits.h"
#include "server/engine/view_parts.h"
#include "server/rooms/fifo.h"
#include "server/rooms/metrics.h"
#include "server/rooms/retractable_lists.h"
#include "server/rooms/room_service.h"
#include "server/store/store.h"

namespace mend::rooms {

using ConnectionId = std::uint64_t;

// Stable participant key within a room: "A", "B", "O:<observer name>".
std::string participant_key(const v1::Actor& actor);

// The limits a core enforces (part of RoomServiceConfig).
struct RoomCoreLimits {
  // Commands waiting in one room while an append is in flight; over it: UNAVAILABLE.
  std::size_t max_queued_commands_per_room = 256;
  // Token bucket per participant: sustained commands per second and burst size. Over it:
  // RATE_LIMITED with retry_after_ms.
  double commands_per_second = 20.0;
  double command_burst = 40.0;
  // Persistent rate-limit abuse: a connection refused RATE_LIMITED this many times within
  // the window is closed with kRateLimitAbuse (4529), whatever passed in between (a steady
  // flood gets a command through at each refill). A client that waits retry_after_ms is
  // refused about once per refill and never comes near it.
  std::uint32_t rate_limit_abuse_refusals = 100;
  engine::TimeMs rate_limit_abuse_window_ms = 10'000;
  // Replayed events per frame after a Welcome.
  std::size_t replay_events_per_frame = 64;
  // The latest events kept in memory: at least this many, fewer than twice as many (the older
  // half is dropped at once). A replay, a retraction or a whole-log operation that needs older
  // events reads them from the store (ReadRequest). engine::limits::kLogWindowEvents.
  std::size_t log_window_events = engine::limits::kLogWindowEvents.default_value;
};

struct SendFrame {
  ConnectionId to;
  OutFrame frame;
  bool replay = false;  // Welcome, replay or ReplayDone: paced outside the live bound
};
struct CloseConnection {
  ConnectionId to;
  CloseCode code;
  std::string reason;
};
using Output = std::variant<SendFrame, CloseConnection>;

// The store requests of a core; the caller answers each with the matching on_* call.
struct FindRequest {  // -> on_found
  store::CommandKey key;
};
struct RecordRequest {  // -> on_recorded
  store::RecordedResult rejection;
};
struct RewriteRequest {  // -> on_withdrawn (retracted texts withdrawn for good)
  std::vector<v1::Event> events;
};
struct ResyncRequest {  // -> on_resynced: the stored events after `after_seq`
  std::uint64_t after_seq = 0;
};
struct ReadRequest {  // -> on_read: the stored events after `after_seq` (older than the window)
  std::uint64_t after_seq = 0;
};
using StoreRequest = std::variant<FindRequest, store::AppendRequest, RecordRequest,
                                  RewriteRequest, ResyncRequest,
                                  ReadRequest>;  // Append -> on_appended

// Exclusive operations the caller runs with the room to itself; it calls finish_exclusive
// when done. kPurge: the retention purge of a room that just closed with a retention of 0.
enum class ExclusiveKind { kExternal, kPurge };
struct ExclusiveStart {
  std::uint64_t id;
  ExclusiveKind kind;
};

struct Effects {
  std::vector<Output> out;                     // in order
  std::optional<StoreRequest> store;           // the request now in flight, if started
  std::optional<ExclusiveStart> exclusive;     // the exclusive operation to run now
  std::vector<v1::AuditEntry> audit;           // to append to the audit log
  std::vector<v1::AuditEntry> committed_audit; // committed with the events just applied
  // Receipt times of the commands answered (for the latency metric).
  std::vector<std::chrono::steady_clock::time_point> answered;
  std::optional<CloseCode> attach_refused;     // on_attach only
  std::optional<engine::TimeMs> deadline;      // when on_tick is due next (nullopt: never);
                                               // set by every call
};

// What the core asks to decide a command: engine::decide, or in a test a stand-in that breaks an
// invariant on purpose (the core must answer INTERNAL and go on; see decide_safely).
using Decide = std::function<engine::Decision(const engine::RoomState&, const v1::Command&,
                                              const v1::Actor&, engine::TimeMs)>;

class RoomCore {
 public:
  // `metrics` may be null (tests); it is only counted into.
  RoomCore(std::string room_id, RoomCoreLimits limits, RoomMetrics* metrics = nullptr,
           Decide decide = engine::decide);

  // Rebuilds the room from its stored events (seq 1..n) and its epoch. `results_known`: this
  // core will see every command result of the room (it was just created), so a command_id it
  // never saw needs no store lookup. `recorded`: the results the store held when it loaded the
  // room (LoadResult::recorded); with it, too, only a command_id it may hold needs a lookup.
  Effects load(std::vector<v1::Event> events, std::uint64_t epoch, bool results_known,
               engine::TimeMs now,
               std::shared_ptr<const store::RecordedCommands> recorded = nullptr);

  // --- Connections ---
  // Admits `connection` as `actor` (an observer only while admitted; kConsentRevoked else),
  // replacing the participant's older connection (closed kReplaced): Welcome, the visible
  // replay after hello.resume_after_seq (all of it when not recovered), ReplayDone, Presence.
  // A replay from before the in-memory window waits for a ReadRequest (in turn with the other
  // work; retried every second while the store fails): until it is answered the connection
  // gets nothing, and nothing is applied, so its replay and the live frames after it join up.
  Effects on_attach(ConnectionId connection, const v1::Actor& actor, const v1::Hello& hello,
                    engine::TimeMs now);
  Effects on_detach(ConnectionId connection, engine::TimeMs now);
  // Drops the connection's queued commands and closes it now, or right after its command in
  // process was answered.
  Effects on_close_after_answers(ConnectionId connection, CloseCode code, std::string reason,
                                 engine::TimeMs now);
  Effects on_typing(ConnectionId connection, bool typing, engine::TimeMs now);
  // Forgets every connection (the caller closes them).
  std::vector<ConnectionId> drop_connections();

  // --- Commands and timers ---
  Effects on_command(ConnectionId connection, v1::Command command,
                     std::chrono::steady_clock::time_point received, engine::TimeMs now);
  Effects on_found(store::FindResult found, engine::TimeMs now);
  Effects on_appended(std::optional<store::StoreError> error, engine::TimeMs now);
  Effects on_recorded(std::optional<store::StoreError> error, engine::TimeMs now);
  Effects on_withdrawn(std::optional<store::StoreError> error, engine::TimeMs now);
  // After a failed append the core does not know whether it committed: before anything else
  // it reads the events stored after its last seq, applies and delivers them (a lost answer
  // of a commit), then goes on. Until that read succeeds (retried every second) nothing is
  // decided on a state that may be stale.
  Effects on_resynced(store::LoadResult loaded, engine::TimeMs now);
  // The answer to a ReadRequest.
  Effects on_read(store::LoadResult loaded, engine::TimeMs now);
  // Runs what is due at `now` when idle (ticks first).
  Effects on_tick(engine::TimeMs now);

  // --- Exclusive operations and privacy ---
  // Queues an operation that needs the room to itself; it starts (Effects::exclusive) when
  // nothing else is in flight.
  Effects queue_exclusive(std::uint64_t id, engine::TimeMs now);
  Effects finish_exclusive(engine::TimeMs now);
  // Replaces stored events with their rewritten copies (an erasure, a purge) after the store
  // committed the rewrite: rebuilds the state from `whole_log` (seq 1..last, as whole_log()
  // gave it, before the rewrite) with the copies, moves to the next epoch and tells every
  // attachment what it may see of the change (ContentErased with its new view). Call within
  // an exclusive operation, so nothing was applied since whole_log was read.
  Effects apply_rewrite(std::vector<v1::Event> whole_log, const std::vector<v1::Event>& rewritten,
                        const v1::Actor& by, v1::ErasureScope scope);
  // A partner's first request to erase the room was stored: announced to the partners.
  Effects announce_erasure_request(const v1::Actor& by, engine::TimeMs at_ms);
  // The room was destroyed (committed): every attachment gets ContentErased and is closed;
  // the core forgets the room. Returns the queued exclusive ids (to cancel).
  Effects destroy(const v1::Actor& by, std::vector<std::uint64_t>& cancelled);

  // --- Refusal counts that outlive a restart (issue 14; the adapter stores them) ---
  using RefusalCounts = std::map<std::pair<v1::Role, v1::RejectionCode>, std::uint32_t>;
  // Adds counts read from the store when the room was loaded.
  void add_stored_refusals(const RefusalCounts& stored);
  // The partners' refusals counted since the last call (to be stored), forgotten here.
  RefusalCounts take_unstored_refusals();

  // --- Reads ---
  const engine::RoomState& state() const { return state_; }
  // The latest events in memory (the window; see RoomCoreLimits::log_window_events), in seq
  // order, ending with the last applied event.
  const std::vector<v1::Event>& log() const { return log_; }
  // Whether log() is the whole log (seq 1..last).
  bool holds_whole_log() const { return log_first_seq_ <= 1; }
  // The whole log from `stored` (Store::load after seq 0, started while the core was at
  // `read_epoch`) and the window: retracted texts withdrawn as the core has them, nothing after
  // the core's last seq; nullopt when `stored` misses an event older than the window, or when
  // the stored history was rewritten since the read started (an erasure or a purge: the read
  // may hold texts that are gone).
  std::optional<std::vector<v1::Event>> whole_log(std::vector<v1::Event> stored,
                                                  std::uint64_t read_epoch) const;
  const std::string& series_id() const { return series_id_; }
  // When the room's content is due for its retention purge (privacy::purge_due_ms).
  std::optional<engine::TimeMs> purge_due_ms() const;
  // The insights (issue 14): the projection of the log plus the partners' refusals counted
  // since the room was loaded, with the room id.
  v1::Insights insights() const;
  std::uint64_t epoch() const { return epoch_; }
  bool observer_admitted(const v1::Actor& actor) const;
  // Who is attached, one actor per connection.
  std::vector<v1::Actor> attached_actors() const;
  // The connection attached for `actor`, if any.
  std::optional<ConnectionId> connection_of(const v1::Actor& actor) const;
  // Nothing in flight or queued and nobody attached (the room may be unloaded).
  bool idle() const;
  // A store request or an exclusive operation in flight, or work waiting.
  bool working() const {
    return busy_ || !queue_.empty() || !exclusive_.empty() || resync_ || !reads_.empty();
  }
  bool attached_any() const { return !attached_.empty(); }
  std::size_t attached_count() const { return attached_.size(); }
  std::optional<engine::TimeMs> deadline() const;
  // Views built since construction: one per viewer (participant) per frame that carries one.
  // A participant has one connection (a newer one replaces it), so a fan-out builds one view
  // per distinct viewer and shares each encoded frame among identical ones.
  std::uint64_t views_built() const { return views_built_; }

 private:
  struct Attachment {
    ConnectionId connection;
    v1::Actor actor;
    // Its latest RATE_LIMITED refusals (at most the abuse count, none older than the window).
    Fifo<engine::TimeMs> refusals = {};
    std::optional<engine::TimeMs> typing_relayed_ms = {};  // the last relayed "typing"
    bool typing_shown = false;  // the last relayed notice said "typing"
    // Set: closed with this code once its command in process was answered; takes no more.
    std::optional<std::pair<CloseCode, std::string>> closing = {};
  };
  struct TokenBucket {
    double tokens = 0;
    engine::TimeMs updated_ms = 0;
  };
  struct PendingCommand {
    v1::Actor actor;
    std::string key;  // participant_key(actor)
    v1::Command command;
    std::chrono::steady_clock::time_point received;
  };
  // The one append in flight: a command's (with its result) or a timer tick's.
  struct InFlight {
    std::vector<v1::Event> events;
    std::optional<PendingCommand> command;
    v1::CommandResult result;  // moved into the store's request by start_append
    std::string result_item;   // its encoding (frames::result_item), for the sender's frame
    std::vector<v1::AuditEntry> audit;
  };
  struct Exclusive {
    std::uint64_t id = 0;
    ExclusiveKind kind = ExclusiveKind::kExternal;
    std::vector<v1::Event> withdrawn;  // non-empty: the core's own rewrite of retracted texts
  };

  void apply(v1::Event event);
  void advance(const v1::Event& event);  // evolve and project
  void remember(v1::Event event);        // into the window
  // A connection waiting for the stored events before the window to replay them.
  struct PendingAttach {
    ConnectionId connection;
    v1::Actor actor;
    v1::Hello hello;
    bool replaced = false;  // the participant was attached: no new "connected" audit entry
  };
  // Retracted messages before the window, to withdraw from the store.
  struct PendingWithdrawal {
    std::vector<std::uint64_t> seqs;
  };
  struct PendingRead {
    std::variant<PendingAttach, PendingWithdrawal> purpose;
    std::uint64_t after_seq = 0;
    engine::TimeMs retry_at = 0;  // after a failed read
    bool cancelled = false;       // its connection left (or was replaced) meanwhile
  };
  // Cancels the pending attaches `match` accepts, each closed with `code` in `fx`. True when
  // one of them had replaced an attached connection (or such a pending one).
  template <typename Match>
  bool cancel_pending_attaches(Effects& fx, Match match, CloseCode code, const char* reason);
  void forget_pending_attach(Effects& fx, ConnectionId connection, engine::TimeMs now);
  bool resumes(const v1::Hello& hello) const;  // the client's position is this room's
  bool start_read(Effects& fx, engine::TimeMs now);
  void complete_attach(Effects& fx, const PendingAttach& attach,
                       const std::vector<v1::Event>& older, engine::TimeMs now);
  // `stored` with retracted texts withdrawn as in the core, without events after last_seq.
  std::vector<v1::Event> as_withdrawn(std::vector<v1::Event> stored) const;
  engine::Decision decide_safely(const PendingCommand& command, engine::TimeMs now);
  // Counts a partner's refused command for the insights (observers' are not counted).
  void count_refusal(const v1::Actor& actor, v1::RejectionCode code);
  // The encoded ServerItem{insights} for admitted observers' frames.
  std::string insights_item() const;
  Attachment* find_connection(ConnectionId connection);
  void finish(Effects& fx, engine::TimeMs now);  // starts what can start now
  Effects settled(Effects fx) const;              // every call's answer: with the deadline
  void pump(Effects& fx, engine::TimeMs now);
  bool start_exclusive(Effects& fx);
  bool run_due_tick(Effects& fx, engine::TimeMs now);
  // These take their command or flight by rvalue reference, not by value: each move of a
  // protobuf Command or CommandResult is a swap and a destructor to run, per command.
  void check_dedupe(Effects& fx, PendingCommand&& command, engine::TimeMs now);
  void decide(Effects& fx, PendingCommand&& command, engine::TimeMs now);
  void start_append(Effects& fx, InFlight&& flight);
  void command_done(Effects& fx, engine::TimeMs now);
  std::optional<std::uint32_t> take_rate_token(const std::string& key, engine::TimeMs now);
  bool refused_persistently(Attachment& attachment, engine::TimeMs now) const;
  static std::uint64_t command_hash(const std::string& key, const std::string& command_id);

  void reply(Effects& fx, const PendingCommand& command, const v1::CommandResult& result);
  void deliver(Effects& fx, const std::vector<v1::Event>& events, const PendingCommand* sender,
               const std::string* result_item);
  // `older`: the visible history before the window, read from the store (empty when the
  // replay starts inside it).
  void send_welcome_and_replay(Effects& fx, ConnectionId to, const v1::Actor& actor,
                               const v1::Hello& hello, const std::vector<v1::Event>& older,
                               engine::TimeMs now);
  // The seq a replay for `hello` starts after.
  std::uint64_t replay_after(const v1::Hello& hello) const;
  void broadcast_presence(Effects& fx);
  void close_when_answered(Effects& fx, const std::string& key, CloseCode code,
                           std::string reason, engine::TimeMs now);
  void remove_attachment(Effects& fx, const std::string& key, CloseCode code,
                         const std::string& reason, engine::TimeMs now);
  void close_revoked_observers(Effects& fx, const std::vector<v1::Event>& events,
                               engine::TimeMs now);
  void withdraw_retracted(const std::vector<std::uint64_t>& seqs);
  OutFrame encode(std::string frame, std::uint64_t last_seq);
  // The views of one fan-out, encoded into the thread's two reused buffers (once warm, a view
  // allocates nothing): the part every admitted viewer shares, encoded once per fan-out, and the
  // latest viewer's whole view. Made empty; one fan-out at a time per thread.
  struct FanOutViews {
    FanOutViews();
    std::string& shared;
    std::string& viewer;
    bool shared_built = false;
  };
  // The encoded view of `viewer` (counted), in `views`: valid until the next call with them.
  std::string_view view_bytes(const v1::Actor& viewer, FanOutViews& views);
  // The encoding of engine::view_shared_texts_into for the state now.
  const std::string& shared_texts_bytes();
  void count_error();

  const std::string id_;
  const RoomCoreLimits limits_;
  RoomMetrics* const metrics_;
  const Decide decide_;

  engine::RoomState state_;
  RetractableLists retractable_;     // the partners' RoomView.retractable, encoded
  engine::SharedTexts shared_texts_;  // the texts shared_texts_bytes_ encodes
  std::string shared_texts_bytes_;
  std::vector<v1::Event> log_;       // the window: log_[i].seq == log_first_seq_ + i
  std::uint64_t log_first_seq_ = 1;
  std::string series_id_;            // RoomCreated's (an integrator's id, not content)
  std::optional<engine::TimeMs> closed_at_ms_;  // ConversationClosed's at_ms
  std::vector<PendingRead> reads_;  // in order; a failed read goes back first (few at a time)
  std::uint64_t views_built_ = 0;
  std::optional<PendingRead> read_in_flight_;
  engine::InsightsProjection insights_;  // applied with every event (apply)
  std::map<std::pair<v1::Role, v1::RejectionCode>, std::uint32_t> refusals_;  // partners'
  RefusalCounts unstored_refusals_;  // counted since take_unstored_refusals
  std::uint64_t epoch_ = 1;
  std::map<std::string, Attachment> attached_;  // by participant_key
  std::map<std::string, TokenBucket> buckets_;
  Fifo<PendingCommand> queue_;
  Fifo<Exclusive> exclusive_;
  bool busy_ = false;  // a store request or an exclusive operation is in flight
  std::optional<PendingCommand> processing_;  // the command in process (dedupe or record)
  std::optional<v1::CommandResult> recording_;  // the definitive rejection being recorded
  std::optional<InFlight> in_flight_;
  // Dedupe without a store read: hashes of the (participant, command_id) of every result this
  // core recorded, plus the results stored before it loaded (loaded_results_, when the load
  // listed them). Complete only while results_known_ (created here or loaded with the list, no
  // failed write since: a failed commit may still have stored its result); a hit asks the store.
  std::unordered_set<std::uint64_t> recorded_commands_;
  std::shared_ptr<const store::RecordedCommands> loaded_results_;
  bool results_known_ = false;
  std::optional<engine::TimeMs> stuck_deadline_;  // tick returned nothing for it
  engine::TimeMs tick_retry_at_ = 0;              // after a failed tick append
  bool resync_ = false;                           // a failed append: read the store first
  engine::TimeMs resync_retry_at_ = 0;            // after a failed resync read
};

}  // namespace mend::rooms
