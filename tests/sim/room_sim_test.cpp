// Seeded whole-room simulation: many RoomCores (server/rooms/room_core.h) with an in-memory
// store that injects faults, and participants that come and go. Possible only because the
// core is sans-I/O: the simulation is the core's only environment, and time is a number.
//
// Each step does one of: a participant sends a command (mostly one its view allows, some
// random, some a resend of an earlier command_id), connects or reconnects (sometimes with a
// stale or impossible resume position), disconnects, goes silent; the clock moves (timers fall
// due, and the simulation ticks the room late or twice); a store request completes (ok,
// refused, committed with its answer lost, failed read); the "server restarts" (every core
// dropped mid-request and rebuilt by replay from the store, whose in-flight write either
// committed or not). After every step it checks:
//  (1) exactly once: a command_id answered as accepted is answered with the same seqs ever
//      after (retries, restarts); the store never sees a second result for one command_id
//      (kConflict) nor an append at the wrong seq;
//  (2) stored before heard: every event and accepted result a participant gets is committed;
//  (3) per connection, events arrive in seq order without duplicates, starting after the
//      Welcome's resume point; a partner's are gap-free (only others' private notes skipped);
//      nobody gets an event they may not see (engine::visible_to at delivery); every frame's
//      last_seq is the highest seq it carries;
//  (4) an idle room's attached partners and admitted observers hold a view whose
//      allowed_actions equal engine::view of the core's state, and an allowed action (with
//      canonical arguments) is accepted by engine::decide on that state;
//  (5) timers fire once: no (deadline, event kind) is appended twice.
// Each core keeps a window of 1 to 8 events in memory, so replays from before it and
// withdrawals of older retracted messages read the store (ReadRequest) often.
// Not covered (room_core.h's caller runs them): the privacy operations (erasure, purge,
// transcript, audit reads) and eviction; only the core's own retraction withdrawal is.
//
// Environment: MEND_ROOM_SIM_SEED=<u64> base seed; MEND_ROOM_SIM_RUNS=<n> runs (default
// below); MEND_ROOM_SIM_RUN_SEED=<u64> replays exactly one run from a failure report (with
// MEND_ROOM_SIM_TRACE=1 to print every step).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/engine/engine.h"
#include "server/rooms/room_core.h"
#include "tests/sim/sim_commands.h"
#include "tests/sim/sim_rng.h"
#include "tests/sim/sim_templates.h"

namespace mend::sim {
namespace {

using namespace mend::rooms;  // NOLINT: the simulation is the core's environment

constexpr std::uint64_t kDefaultSeed = 20261204;
constexpr std::uint64_t kDefaultRuns = 2000;
// Sanitizer builds run every step 5-6x slower: fewer runs by default keep them near the Debug
// build's time.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kSanitizedRuns = 400;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::uint64_t kSanitizedRuns = 400;
#else
constexpr std::uint64_t kSanitizedRuns = 0;
#endif
#else
constexpr std::uint64_t kSanitizedRuns = 0;
#endif
constexpr int kRoomsPerRun = 3;
constexpr int kStepsPerRun = 160;
constexpr TimeMs kSecond = 1000;
constexpr TimeMs kMinute = 60 * kSecond;
constexpr TimeMs kHour = 60 * kMinute;
const std::vector<std::string> kInvited = {"dr-lee"};

std::optional<std::uint64_t> env_u64(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::strtoull(value, nullptr, 10);
}

struct Failure {
  std::string what;
};

// The in-memory store of one room, with the one request of its core in flight.
struct StoredRoom {
  std::vector<v1::Event> events;
  std::map<std::pair<std::string, std::string>, v1::CommandResult> results;  // (key, id)
};

enum class Outcome { kOk, kRefused, kLost };  // kLost: committed, the answer is an error

struct Pending {
  StoreRequest request;
  int due_step = 0;
  Outcome outcome = Outcome::kOk;
};

// One participant's client: what it was told, over its connections.
struct Client {
  v1::Actor actor;
  std::optional<ConnectionId> connection;
  bool welcomed = false;              // the current connection got its Welcome
  std::uint64_t stream_last = 0;      // highest seq heard on the current connection
  std::uint64_t known_last = 0;       // highest seq it holds (its resume position)
  std::uint64_t epoch = 0;
  std::optional<v1::RoomView> view;   // the latest view it got
  std::vector<std::pair<std::string, v1::Command>> sent;  // every command sent (for resends)
  std::map<std::string, v1::CommandResult> accepted;      // command_id -> first accepted answer
};

struct SimRoom {
  std::string id;
  std::optional<RoomCore> core;
  StoredRoom stored;
  std::optional<Pending> pending;
  std::vector<Client> clients;
  std::set<std::pair<TimeMs, int>> fired;  // (deadline, event body case) of committed ticks
  std::optional<TimeMs> tick_deadline;     // the deadline the tick in flight serves
  LogIndex index;
  ConnectionId next_connection = 1;
};

class RoomSim {
 public:
  RoomSim(std::uint64_t seed, const std::vector<v1::Template>& templates, bool trace)
      : seed_(seed), rng_(seed), templates_(templates), trace_(trace) {}

  std::optional<std::string> run() {
    try {
      now_ = 1'700'000'000'000 + static_cast<TimeMs>(rng_.below(1'000'000'000));
      for (int i = 0; i < kRoomsPerRun; ++i) create_room(i);
      for (step_ = 1; step_ <= kStepsPerRun; ++step_) {
        SimRoom& room = rooms_[rng_.below(rooms_.size())];
        one_step(room);
        for (SimRoom& r : rooms_) check_idle_views(r);
      }
    } catch (const Failure& failure) {
      std::ostringstream report;
      report << "room simulation failed: seed " << seed_ << " step " << step_ << ": "
             << failure.what << "\n  replay: MEND_ROOM_SIM_RUN_SEED=" << seed_
             << " MEND_ROOM_SIM_TRACE=1 ./tests/sim/room_sim_tests";
      return report.str();
    }
    return std::nullopt;
  }

  std::uint64_t commands_accepted = 0;
  std::uint64_t restarts = 0;
  std::uint64_t reads = 0;  // of events before a core's window

 private:
  [[noreturn]] void fail(const std::string& what) { throw Failure{what}; }
  void trace(const std::string& line) {
    if (trace_) std::cerr << "[" << step_ << " " << now_ << "] " << line << "\n";
  }

  void create_room(int i) {
    SimRoom room;
    room.id = "room" + std::to_string(i);
    engine::RoomSetup setup;
    setup.partner_a_name = "Ana";
    setup.partner_b_name = "Ben";
    setup.observers = kInvited;
    const v1::Template& tmpl = templates_[rng_.below(templates_.size())];
    v1::Event created = engine::create_room(tmpl, setup, now_);
    room.stored.events.push_back(created);
    room.index.add(created);
    for (const v1::Actor& actor : {partner_a(), partner_b(), observer(kInvited[0])}) {
      room.clients.emplace_back().actor = actor;
    }
    rooms_.push_back(std::move(room));
    SimRoom& r = rooms_.back();
    r.core.emplace(r.id, limits());
    take(r, r.core->load({created}, 1, /*results_known=*/true, now_));
  }

  RoomCoreLimits limits() {
    RoomCoreLimits limits;
    limits.max_queued_commands_per_room = 4;
    limits.command_burst = 8;
    limits.commands_per_second = 2;
    limits.rate_limit_abuse_refusals = 6;
    limits.replay_events_per_frame = 1 + rng_.below(4);
    // A small window, so that replays, retractions and reloads cross it often.
    limits.log_window_events = 1 + rng_.below(8);
    return limits;
  }

  void one_step(SimRoom& room) {
    const std::uint64_t r = rng_.below(1000);
    if (r < 520) return send_command(room);
    if (r < 720) return complete_store(room);
    if (r < 780) return connect(room);
    if (r < 820) return disconnect(room);
    if (r < 950) return advance_clock(room);
    if (r < 962) return restart(room);
    if (r < 985) return typing(room);
    // Silence: nothing happens this step (a participant that stopped talking).
  }

  // --- Inputs ---

  Client& pick_client(SimRoom& room) { return room.clients[rng_.below(room.clients.size())]; }

  void send_command(SimRoom& room) {
    Client& client = pick_client(room);
    if (!room.core) return;
    if (!client.connection) return connect(room, client);
    std::string id;
    v1::Command command;
    if (!client.sent.empty() && rng_.percent(12)) {
      const auto& [old_id, old_command] = client.sent[rng_.below(client.sent.size())];
      id = old_id;
      command = old_command;  // a resend: same id, same body
    } else {
      command = make_command(room, client);
      id = "c" + std::to_string(++command_ids_);
      if (rng_.percent(2)) id = "";  // an invalid id
      command.set_command_id(id);
      client.sent.emplace_back(id, command);
    }
    trace(room.id + " " + describe(client.actor) + " sends " + describe(command));
    take(room, room.core->on_command(*client.connection, command, {}, now_));
  }

  v1::Command make_command(SimRoom& room, const Client& client) {
    const v1::RoomView view =
        client.view ? *client.view : engine::view(room.core->state(), client.actor);
    const Limits timing = limits_of(room.core->state().tmpl.get());
    CommandContext context{now_, &view, &timing, &kInvited, &room.index};
    if (rng_.percent(75) && view.allowed_actions_size() > 0) {
      const auto action = static_cast<v1::Action>(
          view.allowed_actions(static_cast<int>(rng_.below(view.allowed_actions_size()))));
      auto candidates = canonical_candidates(action, view, kInvited, room.index, now_);
      if (!candidates.empty()) {
        Candidate chosen = candidates[rng_.below(candidates.size())];
        if (rng_.percent(50)) chosen = vary_candidate(rng_, chosen, context);
        return chosen.command;
      }
    }
    return random_command(rng_, context);
  }

  void connect(SimRoom& room) { connect(room, pick_client(room)); }

  void connect(SimRoom& room, Client& client) {
    if (!room.core) return;
    v1::Hello hello;
    const std::uint64_t r = rng_.below(100);
    std::uint64_t resume = client.known_last;
    if (r < 15) resume = rng_.below(client.known_last + 1);                 // stale position
    else if (r < 20) resume = room.core->state().last_seq + 1 + rng_.below(5);  // impossible
    hello.set_resume_after_seq(resume);
    hello.set_room_epoch(client.epoch);
    const ConnectionId connection = room.next_connection++;
    trace(room.id + " " + describe(client.actor) + " connects as " + std::to_string(connection) +
          " resuming after " + std::to_string(resume));
    const auto old = client.connection;
    Effects fx = room.core->on_attach(connection, client.actor, hello, now_);
    if (fx.attach_refused) {
      if (client.actor.role() != v1::OBSERVER || room.core->observer_admitted(client.actor)) {
        fail("an admitted participant was refused");
      }
      return take(room, std::move(fx));
    }
    if (old) dropped_.insert({room.id, *old});
    client.connection = connection;
    client.welcomed = false;
    client.stream_last = 0;
    resume_after_[{room.id, connection}] = resume;
    take(room, std::move(fx));
  }

  void disconnect(SimRoom& room) {
    Client& client = pick_client(room);
    if (!room.core || !client.connection) return;
    trace(room.id + " " + describe(client.actor) + " disconnects");
    const ConnectionId connection = *client.connection;
    client.connection.reset();
    dropped_.insert({room.id, connection});
    take(room, room.core->on_detach(connection, now_));
  }

  void typing(SimRoom& room) {
    Client& client = pick_client(room);
    if (!room.core || !client.connection) return;
    take(room, room.core->on_typing(*client.connection, rng_.percent(70), now_));
  }

  void advance_clock(SimRoom& room) {
    const std::uint64_t r = rng_.below(100);
    TimeMs delta = rng_.between(0, 3 * kSecond);
    if (r < 20) delta = rng_.between(kSecond, 5 * kMinute);
    else if (r < 25) delta = rng_.between(kHour, 30 * kHour);
    if (room.core && rng_.percent(40)) {
      if (auto deadline = room.core->deadline(); deadline && *deadline > now_) {
        delta = *deadline - now_ + rng_.between(0, 1);
      }
    }
    now_ += delta;
    trace("clock +" + std::to_string(delta));
    for (SimRoom& each : rooms_) {
      if (!each.core) continue;
      const auto deadline = each.core->deadline();
      if (!deadline || *deadline > now_) continue;
      if (rng_.percent(15)) continue;  // the host's timer is late
      take(each, each.core->on_tick(now_));
      if (rng_.percent(10)) take(each, each.core->on_tick(now_));  // and fires twice
    }
  }

  // Every core is dropped with its connections; the write in flight committed or not; each
  // room is rebuilt from the store (its first load may fail: it is tried again later).
  void restart(SimRoom& room) {
    ++restarts;
    trace("restart");
    for (SimRoom& each : rooms_) {
      if (each.pending) {
        if (rng_.percent(50)) commit(each, each.pending->request);
        each.pending.reset();
      }
      each.core.reset();
      each.tick_deadline.reset();
      for (Client& client : each.clients) {
        if (client.connection) dropped_.insert({each.id, *client.connection});
        client.connection.reset();
      }
    }
    for (SimRoom& each : rooms_) {
      if (&each != &room && rng_.percent(20)) continue;  // a failed load: reloaded next time
      reload(each);
    }
  }

  void reload(SimRoom& room) {
    room.core.emplace(room.id, limits());
    trace(room.id + " reloaded at seq " + std::to_string(room.stored.events.size()));
    take(room, room.core->load(room.stored.events, 1, /*results_known=*/false, now_));
  }

  // --- The store ---

  void complete_store(SimRoom& room) {
    if (!room.core) return reload(room);
    if (!room.pending || room.pending->due_step > step_) return;
    Pending pending = std::move(*room.pending);
    room.pending.reset();
    std::optional<store::StoreError> error;
    const bool read = std::holds_alternative<FindRequest>(pending.request) ||
                      std::holds_alternative<ResyncRequest>(pending.request) ||
                      std::holds_alternative<ReadRequest>(pending.request);
    if (read && pending.outcome == Outcome::kLost) pending.outcome = Outcome::kRefused;
    if (pending.outcome != Outcome::kRefused) commit(room, pending.request);
    if (pending.outcome != Outcome::kOk) {
      error = store::StoreError{store::StoreErrorCode::kUnavailable, "injected"};
    }
    trace(room.id + " store answers " + (error ? "error" : "ok") +
          (pending.outcome == Outcome::kLost ? " (committed)" : ""));
    RoomCore& core = *room.core;
    if (auto* find = std::get_if<FindRequest>(&pending.request)) {
      store::FindResult found;
      if (pending.outcome == Outcome::kOk) {
        auto it = room.stored.results.find({find->key.participant, find->key.command_id});
        if (it != room.stored.results.end()) found.result = it->second;
      } else {
        found.error = error;  // a failed read
      }
      return take(room, core.on_found(std::move(found), now_));
    }
    if (std::holds_alternative<store::AppendRequest>(pending.request)) {
      return take(room, core.on_appended(error, now_));
    }
    if (std::holds_alternative<RecordRequest>(pending.request)) {
      return take(room, core.on_recorded(error, now_));
    }
    if (const auto* resync = std::get_if<ResyncRequest>(&pending.request)) {
      return take(room, core.on_resynced(load(room, resync->after_seq, pending, error), now_));
    }
    if (const auto* window_read = std::get_if<ReadRequest>(&pending.request)) {
      ++reads;
      return take(room, core.on_read(load(room, window_read->after_seq, pending, error), now_));
    }
    take(room, core.on_withdrawn(error, now_));
  }

  // Store::load after `after_seq`, or the injected failure.
  static store::LoadResult load(const SimRoom& room, std::uint64_t after_seq,
                                const Pending& pending, const std::optional<store::StoreError>& error) {
    store::LoadResult loaded;
    if (pending.outcome == Outcome::kOk) {
      loaded.events.assign(room.stored.events.begin() + static_cast<std::ptrdiff_t>(after_seq),
                           room.stored.events.end());
    } else {
      loaded.error = error;  // a failed read
    }
    return loaded;
  }

  // Applies a write to the store as a durable store would, or fails the run when the core
  // asked for something a store must refuse.
  void commit(SimRoom& room, const StoreRequest& request) {
    StoredRoom& stored = room.stored;
    if (const auto* append = std::get_if<store::AppendRequest>(&request)) {
      if (append->expected_last_seq != stored.events.size()) {
        fail("append expected seq " + std::to_string(append->expected_last_seq) + " at " +
             std::to_string(stored.events.size()));
      }
      if (append->result) {
        const auto key = std::make_pair(append->result->key.participant,
                                        append->result->key.command_id);
        if (stored.results.contains(key)) fail("a command_id got a second result: " + key.second);
        stored.results[key] = append->result->result;
      } else {
        for (const v1::Event& event : append->events) {
          const int kind = static_cast<int>(event.body_case());
          if (room.tick_deadline && !room.fired.insert({*room.tick_deadline, kind}).second) {
            fail("a timer fired twice: " + describe(event));
          }
        }
      }
      for (const v1::Event& event : append->events) {
        if (event.seq() != stored.events.size() + 1) fail("an appended seq is not contiguous");
        stored.events.push_back(event);
        room.index.add(event);
      }
    } else if (const auto* record = std::get_if<RecordRequest>(&request)) {
      const auto key = std::make_pair(record->rejection.key.participant,
                                      record->rejection.key.command_id);
      if (stored.results.contains(key)) fail("a command_id got a second result: " + key.second);
      stored.results[key] = record->rejection.result;
    } else if (const auto* rewrite = std::get_if<RewriteRequest>(&request)) {
      for (const v1::Event& event : rewrite->events) {
        if (event.seq() == 0 || event.seq() > stored.events.size()) fail("rewrite of a bad seq");
        stored.events[event.seq() - 1] = event;
      }
    }
  }

  // --- Outputs ---

  Client* client_of(SimRoom& room, ConnectionId connection) {
    for (Client& client : room.clients) {
      if (client.connection == connection) return &client;
    }
    return nullptr;
  }

  void take(SimRoom& room, Effects fx) {
    if (fx.store) {
      if (room.pending) fail("a second store request while one is in flight");
      Pending pending{std::move(*fx.store), step_ + static_cast<int>(rng_.below(3)), Outcome::kOk};
      const std::uint64_t r = rng_.below(100);
      if (r < 8) pending.outcome = Outcome::kRefused;
      else if (r < 14) pending.outcome = Outcome::kLost;
      if (std::holds_alternative<store::AppendRequest>(pending.request)) {
        const auto& append = std::get<store::AppendRequest>(pending.request);
        room.tick_deadline.reset();
        if (!append.result) room.tick_deadline = engine::next_deadline(room.core->state());
      }
      room.pending = std::move(pending);
    }
    if (fx.exclusive) {
      // Only the caller's own exclusive operations start here; the sim queues none, but a
      // room that closed with a retention of 0 asks for its purge: done at once.
      take(room, room.core->finish_exclusive(now_));
    }
    for (Output& output : fx.out) {
      if (auto* close = std::get_if<CloseConnection>(&output)) {
        trace(room.id + " closes " + std::to_string(close->to));
        if (Client* client = client_of(room, close->to)) client->connection.reset();
        dropped_.insert({room.id, close->to});
        continue;
      }
      const SendFrame& send = std::get<SendFrame>(output);
      trace(room.id + " frame to " + std::to_string(send.to));
      if (dropped_.contains({room.id, send.to})) fail("a frame to a replaced or dropped connection");
      Client* client = client_of(room, send.to);
      if (client == nullptr) fail("a frame to an unknown connection");
      receive(room, *client, send);
    }
    if (fx.deadline != (room.core ? room.core->deadline() : std::nullopt)) {
      fail("the effects' deadline is not the core's");
    }
  }

  void receive(SimRoom& room, Client& client, const SendFrame& send) {
    v1::ServerFrame frame;
    if (!frame.ParseFromString(*send.frame.bytes)) fail("a frame does not parse");
    std::uint64_t highest = 0;
    for (const v1::ServerItem& item : frame.items()) {
      if (item.has_welcome()) {
        if (client.welcomed) fail("a second Welcome on one connection");
        client.welcomed = true;
        if (!item.welcome().recovered()) client.known_last = 0;
        client.stream_last = item.welcome().recovered() ? resume_after_[{room.id, send.to}] : 0;
        client.epoch = item.welcome().epoch();
        client.view = item.welcome().view();
      } else if (item.has_event()) {
        const v1::Event& event = item.event();
        highest = std::max(highest, event.seq());
        if (!client.welcomed) fail("an event before the Welcome");
        if (event.seq() > room.stored.events.size()) fail("an event heard before it was stored");
        if (event.seq() <= client.stream_last) fail("an event out of order or twice");
        if (!engine::visible_to(room.core->state(), event, client.actor)) {
          fail(describe(client.actor) + " got an event it may not see: " + describe(event));
        }
        if (client.actor.role() != v1::OBSERVER) {
          for (std::uint64_t s = client.stream_last + 1; s < event.seq(); ++s) {
            if (!room.stored.events[s - 1].has_note_taken()) {
              fail("a gap before seq " + std::to_string(event.seq()) + " for " +
                   describe(client.actor));
            }
          }
        }
        client.stream_last = event.seq();
        client.known_last = std::max(client.known_last, event.seq());
      } else if (item.has_replay_done()) {
        highest = std::max(highest, item.replay_done().last_seq());
        client.known_last = std::max(client.known_last, item.replay_done().last_seq());
        client.stream_last = std::max(client.stream_last, item.replay_done().last_seq());
      } else if (item.has_result()) {
        check_result(room, client, item.result());
      }
    }
    if (frame.has_view()) client.view = frame.view();
    if (send.frame.last_seq != highest) fail("a frame's last_seq is not its highest seq");
  }

  void check_result(SimRoom& room, Client& client, const v1::CommandResult& result) {
    if (!result.accepted()) {
      // Transient refusals (rate, queue, store) come before the dedupe and decide nothing.
      const auto code = result.rejection().code();
      if (engine::is_definitive(code) && client.accepted.contains(result.command_id())) {
        fail("an accepted command_id was answered " + v1::RejectionCode_Name(code) +
             " on a retry: " + result.command_id());
      }
      return;
    }
    if (result.last_seq() > room.stored.events.size()) fail("a result heard before it was stored");
    ++commands_accepted;
    auto [it, fresh] = client.accepted.emplace(result.command_id(), result);
    if (!fresh && (it->second.first_seq() != result.first_seq() ||
                   it->second.last_seq() != result.last_seq())) {
      fail("a command_id was applied twice: " + result.command_id());
    }
  }

  // (4): an idle room's current views offer exactly what the core accepts.
  void check_idle_views(SimRoom& room) {
    if (!room.core || room.pending || room.core->working()) return;
    const engine::RoomState& state = room.core->state();
    for (Client& client : room.clients) {
      if (!client.connection || !client.welcomed || !client.view) continue;
      if (client.actor.role() == v1::OBSERVER && !room.core->observer_admitted(client.actor)) {
        continue;  // a waiting observer gets no frame for events it may not see
      }
      const v1::RoomView now_view = engine::view(state, client.actor);
      if (!std::equal(now_view.allowed_actions().begin(), now_view.allowed_actions().end(),
                      client.view->allowed_actions().begin(), client.view->allowed_actions().end())) {
        fail(describe(client.actor) + " holds a stale view's allowed actions");
      }
      if (now_view.allowed_actions_size() == 0 || !rng_.percent(25)) continue;
      const auto action = static_cast<v1::Action>(
          now_view.allowed_actions(static_cast<int>(rng_.below(now_view.allowed_actions_size()))));
      bool accepted = false;
      for (const Candidate& candidate :
           canonical_candidates(action, now_view, kInvited, room.index, now_)) {
        if (engine::decide(state, candidate.command, client.actor, std::max(now_, candidate.at))
                .accepted()) {
          accepted = true;
          break;
        }
      }
      if (!accepted) {
        fail(describe(client.actor) + " is offered " + v1::Action_Name(action) +
             " but the core rejects it");
      }
    }
  }

  const std::uint64_t seed_;
  Rng rng_;
  const std::vector<v1::Template>& templates_;
  const bool trace_;
  TimeMs now_ = 0;
  int step_ = 0;
  std::uint64_t command_ids_ = 0;
  std::vector<SimRoom> rooms_;
  std::set<std::pair<std::string, ConnectionId>> dropped_;  // never written to again
  std::map<std::pair<std::string, ConnectionId>, std::uint64_t> resume_after_;
};

std::vector<v1::Template> templates() {
  std::vector<std::string> errors;
  auto all = in_code_templates(errors);
  auto shipped = shipped_templates(std::string(MEND_SOURCE_DIR) + "/server/templates", errors);
  for (const auto& error : errors) FAIL_CHECK("template: " << error);
  all.insert(all.end(), shipped.begin(), shipped.end());
  return all;
}

}  // namespace
}  // namespace mend::sim

TEST_CASE("seeded whole-room runs keep exactly-once, stored-before-heard, gap-free visible "
          "delivery, current allowed actions and timers firing once") {
  spdlog::set_level(spdlog::level::off);  // injected store faults log errors by design
  const std::uint64_t seed = mend::sim::env_u64("MEND_ROOM_SIM_SEED").value_or(mend::sim::kDefaultSeed);
  const std::uint64_t runs = mend::sim::env_u64("MEND_ROOM_SIM_RUNS")
                                 .value_or(mend::sim::kSanitizedRuns > 0 ? mend::sim::kSanitizedRuns
                                                                         : mend::sim::kDefaultRuns);
  const auto only = mend::sim::env_u64("MEND_ROOM_SIM_RUN_SEED");
  const bool trace = mend::sim::env_u64("MEND_ROOM_SIM_TRACE").value_or(0) != 0;
  const auto templates = mend::sim::templates();
  REQUIRE(!templates.empty());
  std::uint64_t accepted = 0;
  std::uint64_t restarts = 0;
  std::uint64_t reads = 0;
  int failures = 0;
  const auto started = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < (only ? 1 : runs) && failures < 3; ++i) {
    const std::uint64_t run_seed = only ? *only : mend::sim::derive_seed(seed, i);
    mend::sim::RoomSim sim(run_seed, templates, trace);
    if (auto failure = sim.run()) {
      ++failures;
      FAIL_CHECK(*failure);
    }
    accepted += sim.commands_accepted;
    restarts += sim.restarts;
    reads += sim.reads;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  MESSAGE("room sim: " << (only ? 1 : runs) << " runs, " << accepted << " accepted answers, "
                       << restarts << " restarts, " << reads
                       << " reads before a window, " << elapsed.count() << " ms");
  CHECK(accepted > 0);
  CHECK(reads > 0);
}
