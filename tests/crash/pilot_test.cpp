// The crash test's conversation pilots against the pure engine (no server, simulated clock):
// they play every shipped template to CLOSED, and the crash test's expectations (which event a
// command causes, that every event belongs to its command or to the system, that the log
// replays to the views) hold for the engine itself. Deterministic: seeds and time are fixed.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "tests/common/mendd_process.h"
#include "tests/crash/conversation_pilot.h"
#include "tests/crash/crash_checks.h"

namespace mend::testing {
namespace {

constexpr engine::TimeMs kStart = 1'700'000'000'000;
constexpr engine::TimeMs kStepMs = 500;  // simulated time between two moves
constexpr int kMaxMoves = 4000;
constexpr std::uint64_t kSeeds = 12;

v1::Actor partner(v1::Role role) {
  v1::Actor actor;
  actor.set_role(role);
  return actor;
}

struct Played {
  std::vector<v1::Event> events;
  std::vector<AcceptedCommand> accepted;
  engine::RoomState state;
};

void record(Played& played, const std::vector<v1::Event>& events) {
  for (const v1::Event& event : events) {
    engine::evolve(played.state, event);
    played.events.push_back(event);
  }
}

// One conversation: the partners take turns asking their pilot for a move (and sometimes a
// signal); timers fire as simulated time passes.
Played play(const v1::Template& tmpl, std::uint64_t seed) {
  Played played;
  engine::TimeMs now = kStart;
  record(played, std::vector<v1::Event>{engine::create_room(tmpl, {"", "Alex", "Sam", {}, ""}, now)});
  ConversationPilot pilots[2] = {ConversationPilot(seed * 2), ConversationPilot(seed * 2 + 1)};
  const std::string names[2] = {"A", "B"};
  int id = 0;
  for (int move = 0; move < kMaxMoves; ++move) {
    now += kStepMs;
    for (auto due = engine::tick(played.state, now); !due.empty();
         due = engine::tick(played.state, now)) {
      record(played, due);
    }
    const int who = move % 2;
    const v1::Actor actor = partner(role_of(names[who]));
    const v1::RoomView view = engine::view(played.state, actor);
    if (view.phase() == v1::PHASE_CLOSED) break;
    std::vector<v1::Command> commands;
    if (auto command = pilots[who].next(view, now)) commands.push_back(std::move(*command));
    if (auto signal = pilots[who].maybe_signal(view)) commands.push_back(std::move(*signal));
    for (v1::Command& command : commands) {
      command.set_command_id(std::to_string(++id));
      engine::Decision decision = engine::decide(played.state, command, actor, now);
      if (!decision.accepted()) continue;
      v1::CommandResult result;
      result.set_command_id(command.command_id());
      result.set_accepted(true);
      result.set_first_seq(decision.events.front().seq());
      result.set_last_seq(decision.events.back().seq());
      played.accepted.push_back({names[who], command, result});
      record(played, decision.events);
    }
  }
  return played;
}

TEST_CASE("two conversation pilots play every shipped template to CLOSED through the engine, "
          "and each accepted command's events are the ones it causes") {
  int templates = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shipped_templates_dir())) {
    if (entry.path().extension() != ".textpb") continue;
    const engine::ParsedTemplate parsed = engine::load_template_file(entry.path());
    REQUIRE(parsed.tmpl);
    ++templates;
    for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
      const std::string where = parsed.tmpl->name() + ", seed " + std::to_string(seed);
      INFO(where);
      const Played played = play(*parsed.tmpl, seed);
      CHECK(played.state.phase == v1::PHASE_CLOSED);
      check_event_ownership(played.events, played.accepted, where);
      for (const v1::Role role : {v1::PARTNER_A, v1::PARTNER_B}) {
        check_replays_to(played.events, engine::view(played.state, partner(role)), where);
      }
    }
  }
  CHECK(templates == 5);
}

}  // namespace
}  // namespace mend::testing
