// Fuzz target: a client frame into a room in every phase (DESIGN.md 4.1, 5).
//
// Input: room index (2 bytes, little endian, modulo the rooms of phase_states.h), actor
// (1 byte: partner A, partner B, the invited observers, a stranger, SYSTEM, no role), time
// after the room's last step (4 bytes, little endian, ms; time never runs backwards in a room), then the bytes of a ClientFrame as a
// connection receives them. A frame that parses and carries a Command is decided and its
// events applied. Properties:
//   - decide never crashes; a decision is accepted iff it has events; a rejection has a code
//     and a message; events are by the actor, numbered from last_seq + 1, at the decide time;
//   - an accepted command's action is in the actor's allowed_actions (when no timer is due);
//   - each event survives its wire bytes; replaying every event from a default RoomState
//     rebuilds the live state;
//   - after it, every view lists each allowed action once and strangers have none, and
//     next_deadline agrees with tick.
#include <algorithm>

#include "mend/v1/frames.pb.h"
#include "server/engine/engine.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/phase_states.h"
#include "tests/sim/sim_commands.h"

namespace mend::fuzz {
namespace {

constexpr std::size_t kHeaderBytes = 7;
constexpr std::uint8_t kActorKinds = 7;

v1::Actor actor_from(std::uint8_t selector) {
  const auto& invited = invited_observers();
  switch (selector % kActorKinds) {
    case 0: return sim::partner_a();
    case 1: return sim::partner_b();
    case 2: return sim::observer(invited[0]);
    case 3: return sim::observer(invited[1]);
    case 4: return sim::observer("mallory");
    case 5: {
      v1::Actor system;
      system.set_role(v1::SYSTEM);
      return system;
    }
    default: return v1::Actor();
  }
}

std::vector<v1::Actor> members() {
  const auto& invited = invited_observers();
  return {sim::partner_a(), sim::partner_b(), sim::observer(invited[0]),
          sim::observer(invited[1])};
}

bool same_actor(const v1::Actor& a, const v1::Actor& b) {
  return a.role() == b.role() && a.observer() == b.observer();
}

bool timer_due(const engine::RoomState& state, engine::TimeMs now) {
  const auto deadline = engine::next_deadline(state);
  return deadline && *deadline <= now;
}

bool lists(const v1::RoomView& view, v1::Action action) {
  const auto& allowed = view.allowed_actions();
  return std::find(allowed.begin(), allowed.end(), action) != allowed.end();
}

void check_decision(const engine::RoomState& state, const v1::Command& command,
                    const v1::Actor& actor, engine::TimeMs now, const engine::Decision& d) {
  require(d.accepted() != d.events.empty(), "accepted iff the decision has events");
  if (!d.accepted()) {
    require(d.rejection->code() != v1::REJECTION_CODE_UNSPECIFIED, "a rejection has a code");
    require(!d.rejection->message().empty(), "a rejection has a message");
    (void)engine::is_definitive(d.rejection->code());
    return;
  }
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    require(d.events[i].seq() == state.last_seq + 1 + i, "events are numbered from last_seq + 1");
    require(d.events[i].at_ms() == now, "events carry the decide time");
  }
  require(same_actor(d.events.front().actor(), actor), "the first event is by the actor");
  if (!timer_due(state, now)) {
    const auto action = sim::action_of(command);
    require(lists(engine::view(state, actor), action),
            "an accepted command's action is in the actor's allowed_actions");
  }
}

void check_replay(const PhaseRoom& room, const std::vector<v1::Event>& added,
                  const engine::RoomState& live) {
  engine::RoomState replayed;
  for (const auto& event : room.events) engine::evolve(replayed, event);
  for (const auto& event : added) {
    v1::Event decoded;
    require(decoded.ParseFromString(event.SerializeAsString()), "an event survives its bytes");
    engine::evolve(replayed, decoded);
  }
  require(replayed == live, "replaying every event rebuilds the live state");
}

void check_after(const engine::RoomState& state, engine::TimeMs now) {
  for (const auto& who : members()) {
    const v1::RoomView view = engine::view(state, who);
    std::vector<int> allowed(view.allowed_actions().begin(), view.allowed_actions().end());
    std::sort(allowed.begin(), allowed.end());
    require(std::adjacent_find(allowed.begin(), allowed.end()) == allowed.end(),
            "allowed_actions lists each action once");
  }
  for (std::uint8_t s = 4; s < kActorKinds; ++s) {
    require(engine::view(state, actor_from(s)).allowed_actions().empty(),
            "strangers have no allowed action");
  }
  if (const auto deadline = engine::next_deadline(state)) {
    require(!engine::tick(state, std::max(*deadline, now)).empty(),
            "tick at next_deadline returns events");
  }
}

std::string header(std::size_t room, std::uint8_t actor, std::uint32_t offset) {
  std::string out(kHeaderBytes, '\0');
  out[0] = static_cast<char>(room & 0xff);
  out[1] = static_cast<char>((room >> 8) & 0xff);
  out[2] = static_cast<char>(actor);
  for (int i = 0; i < 4; ++i) out[3 + i] = static_cast<char>((offset >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

std::vector<std::string> seeds() {
  constexpr int kActionsPerActor = 2;
  std::vector<std::string> out;
  const auto& rooms = phase_rooms();
  for (std::size_t r = 0; r < rooms.size(); ++r) {
    const PhaseRoom& room = rooms[r];
    sim::LogIndex log;
    for (const auto& event : room.events) log.add(event);
    for (std::uint8_t a = 0; a < 3; ++a) {
      const v1::RoomView view = engine::view(room.state, actor_from(a));
      for (int i = 0; i < std::min(kActionsPerActor, view.allowed_actions_size()); ++i) {
        const auto action = static_cast<v1::Action>(view.allowed_actions(i));
        const auto candidates =
            sim::canonical_candidates(action, view, invited_observers(), log, room.now);
        if (candidates.empty()) continue;
        v1::ClientFrame frame;
        *frame.mutable_command() = candidates.front().command;
        frame.mutable_command()->set_command_id("c" + std::to_string(out.size()));
        const auto offset = static_cast<std::uint32_t>(candidates.front().at - room.now);
        out.push_back(header(r, a, offset) + frame.SerializeAsString());
      }
    }
  }
  return out;
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  const fuzz::QuietProtobuf quiet;
  if (size < fuzz::kHeaderBytes) return 0;
  const auto& rooms = fuzz::phase_rooms();
  const fuzz::PhaseRoom& room = rooms[(data[0] | (data[1] << 8)) % rooms.size()];
  const v1::Actor actor = fuzz::actor_from(data[2]);
  std::uint32_t offset = 0;
  for (int i = 0; i < 4; ++i) offset |= static_cast<std::uint32_t>(data[3 + i]) << (8 * i);
  const engine::TimeMs now = room.now + offset;

  v1::ClientFrame frame;
  if (!frame.ParseFromArray(data + fuzz::kHeaderBytes, static_cast<int>(size - fuzz::kHeaderBytes)) ||
      !frame.has_command()) {
    return 0;
  }
  const engine::Decision decision = engine::decide(room.state, frame.command(), actor, now);
  fuzz::check_decision(room.state, frame.command(), actor, now, decision);
  if (!decision.accepted()) return 0;
  engine::RoomState live = room.state;
  for (const auto& event : decision.events) engine::evolve(live, event);
  fuzz::check_replay(room, decision.events, live);
  fuzz::check_after(live, now);
  return 0;
}
