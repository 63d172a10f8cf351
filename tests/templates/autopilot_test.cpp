// The SDK's autopilot (client-lib, what mend-load and the examples play) against the real
// engine: every shipped template is played to CLOSED by two autopilots, and with
// `chunks_per_turn` N each speaker's turn holds N shares, also in templates where the listener
// asks "Is there more?" after each mirror (imago-dialogue: the benchmarks' default). Time is
// injected: a step that must wait (the reflection beat, a pause) moves the clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "mend/autopilot.h"
#include "mend/v1/conversation.pb.h"
#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "tests/templates/template_support.h"

namespace {

namespace v1 = mend::v1;
namespace engine = mend::engine;

constexpr engine::TimeMs kStart = 1'700'000'000'000;

v1::Actor partner(v1::Role role) {
  v1::Actor actor;
  actor.set_role(role);
  return actor;
}

// Shares per speaker's turn, by (stage index, speaker): each speaker holds the floor once per
// stage in the templates these tests count.
using TurnShares = std::map<std::pair<std::uint32_t, int>, int>;

struct Played {
  bool closed = false;
  TurnShares shares;
  int more_answers = 0;  // "Is there more?" answered with more
};

// Two autopilots play the template until the room is CLOSED (or a step bound is reached).
Played play(const std::string& template_name, std::uint32_t chunks_per_turn) {
  const auto parsed = engine::load_template_file(mend::test::shipped_templates_dir() /
                                                 (template_name + ".textpb"));
  REQUIRE_MESSAGE(parsed.tmpl, template_name);
  engine::RoomSetup setup;
  setup.partner_a_name = "Alex";
  setup.partner_b_name = "Blake";
  engine::TimeMs now = kStart;
  engine::RoomState state;
  engine::evolve(state, engine::create_room(*parsed.tmpl, setup, now));

  mend::client::AutopilotScript script;
  script.chunks_per_turn = chunks_per_turn;
  std::map<int, mend::client::Autopilot> pilots{{v1::PARTNER_A, mend::client::Autopilot(script)},
                                                {v1::PARTNER_B, mend::client::Autopilot(script)}};
  Played played;
  int command_count = 0;
  for (int step = 0; step < 5000 && state.phase != v1::PHASE_CLOSED; ++step) {
    bool acted = false;
    for (const v1::Role role : {v1::PARTNER_A, v1::PARTNER_B}) {
      const v1::Actor who = partner(role);
      const auto command = pilots.at(role).next(engine::view(state, who));
      if (!command) continue;
      v1::Command sent = *command;
      sent.set_command_id("c" + std::to_string(++command_count));
      const engine::Decision decision = engine::decide(state, sent, who, now);
      if (!decision.accepted()) {
        // The only refusal the autopilot expects: a reflection before the beat (retry later).
        REQUIRE_MESSAGE(decision.rejection->code() == v1::TOO_SOON,
                        template_name << ": " << decision.rejection->message());
        now += std::max<std::int64_t>(decision.rejection->retry_after_ms(), 1);
        acted = true;
        break;
      }
      for (const v1::Event& event : decision.events) {
        if (event.has_shared()) ++played.shares[{state.turn.stage_index, state.turn.speaker}];
        if (event.has_more_answered() && event.more_answered().more()) ++played.more_answers;
        engine::evolve(state, event);
      }
      acted = true;
      break;  // views changed: ask both pilots again
    }
    if (acted) continue;
    // Nothing to do for either partner: a timer (a pause, a beat) is due next.
    const auto deadline = engine::next_deadline(state);
    REQUIRE_MESSAGE(deadline, template_name << ": stuck in phase " << state.phase);
    now = std::max(now, *deadline);
    for (auto due = engine::tick(state, now); !due.empty(); due = engine::tick(state, now)) {
      for (const v1::Event& event : due) engine::evolve(state, event);
    }
  }
  played.closed = state.phase == v1::PHASE_CLOSED;
  return played;
}

}  // namespace

TEST_CASE("two autopilots play every shipped template to its end, one share per turn by default") {
  for (const char* name : {"imago-dialogue", "speaker-listener", "aftermath-of-a-fight",
                           "dreams-within-conflict", "stress-reducing-talk"}) {
    CAPTURE(name);
    const Played played = play(name, 1);
    CHECK(played.closed);
    CHECK_FALSE(played.shares.empty());
    CHECK(played.more_answers == 0);
  }
}

TEST_CASE("with chunks_per_turn 4 every mirrored turn holds 4 shares, also when the listener asks "
          "\"Is there more?\" after each mirror") {
  for (const char* name : {"imago-dialogue", "speaker-listener"}) {
    CAPTURE(name);
    const Played played = play(name, 4);
    CHECK(played.closed);
    REQUIRE_FALSE(played.shares.empty());
    for (const auto& [turn, shares] : played.shares) {
      CAPTURE(turn.first);
      CHECK(shares == 4);
    }
    // imago-dialogue asks after each confirmed mirror: "more" three times a turn, then "no
    // more"; speaker-listener never asks.
    const int asked_per_turn = std::string(name) == "imago-dialogue" ? 3 : 0;
    CHECK(played.more_answers == asked_per_turn * static_cast<int>(played.shares.size()));
  }
}
