// bench-engine: how fast the pure engine runs a realistic conversation (DESIGN.md section 10:
// "the engine alone above 1 million decide+evolve per second per core").
//
// A scripted couple plays a whole conversation through a shipped template (imago-dialogue or
// speaker-listener): consent, opening, shares, mirrors, confirms, corrections, "is there
// more?", turn reflections, role switches, signals and repairs, a pause and return per turn,
// some rejections (the listener trying to share: NOT_YOUR_TURN; a reflection too soon), then
// closing. The script is recorded once with the engine, then replayed by the benchmarks:
//   BM_DecideEvolve/<template>  one scripted command per iteration: decide, then evolve its events
//   BM_Decide/<template>        decide alone (the state does not advance; cycles through states)
//   BM_View/<template>          view() for A, B and an observer at states along the conversation
//   BM_Replay/<template>        evolve every event of the whole conversation from a default state
// BENCH_ENGINE_PRINT_SCRIPT=1 prints the scripted moves and their results to stderr.
// Run from the release preset:
//   cmake --preset release && cmake --build --preset release -j2 --target bench-engine
//   build/release/tools/bench-engine/bench-engine
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/engine/engine.h"
#include "server/engine/templates.h"

namespace {

using mend::engine::TimeMs;
namespace v1 = mend::v1;

constexpr TimeMs kStart = 1'700'000'000'000;
constexpr TimeMs kStepMs = 700;  // a quick couple: mirrors often wait for the reflection beat
constexpr int kChunksPerTurn = 3;
constexpr std::size_t kMaxMoves = 10'000;  // a script that does not end is a bug

struct Move {
  v1::Actor actor;
  v1::Command command;
  TimeMs at = 0;
  bool accepted = false;
};

// A recorded conversation: the room's first event, every scripted move, every event.
struct Script {
  v1::Event created;
  std::vector<Move> moves;
  std::vector<v1::Event> events;
  std::vector<mend::engine::RoomState> snapshots;  // states along the way, for view/decide
  std::size_t rejected = 0;
};

v1::Actor actor(v1::Role role, std::string observer = "") {
  v1::Actor a;
  a.set_role(role);
  a.set_observer(std::move(observer));
  return a;
}

bool allows(const v1::RoomView& view, v1::Action action) {
  for (int a : view.allowed_actions()) {
    if (a == action) return true;
  }
  return false;
}

// Drives one couple through a conversation, choosing each move from the views.
class Couple {
 public:
  explicit Couple(Script& script) : script_(script) {}

  void play(mend::engine::RoomState& state) {
    state_ = &state;
    while (step() && script_.moves.size() < kMaxMoves) {
    }
  }

 private:
  void run(v1::Role role, v1::Command command, const std::string& observer = "") {
    Move move{actor(role, observer), std::move(command), now_, false};
    const auto decision = mend::engine::decide(*state_, move.command, move.actor, now_);
    move.accepted = decision.accepted();
    if (!move.accepted) ++script_.rejected;
    if (std::getenv("BENCH_ENGINE_PRINT_SCRIPT") != nullptr) {
      std::fprintf(stderr, "%s %s -> %s\n", v1::Role_Name(move.actor.role()).c_str(),
                   move.command.ShortDebugString().c_str(),
                   move.accepted ? "accepted" : v1::RejectionCode_Name(decision.rejection->code()).c_str());
    }
    for (const auto& event : decision.events) {
      mend::engine::evolve(*state_, event);
      script_.events.push_back(event);
    }
    script_.moves.push_back(std::move(move));
    if (script_.moves.size() % 8 == 0) script_.snapshots.push_back(*state_);
    now_ += kStepMs;
  }

  v1::Command text_command(v1::Action action, const std::string& text) {
    v1::Command c;
    c.set_command_id("bench-" + std::to_string(++ids_));
    switch (action) {
      case v1::ACTION_SHARE: c.mutable_share()->set_text(text); break;
      case v1::ACTION_CORRECT: c.mutable_correct()->set_text(text); break;
      case v1::ACTION_PROPOSE: c.mutable_propose()->set_text(text); break;
      case v1::ACTION_APPRECIATE: c.mutable_appreciate()->set_text(text); break;
      default: break;
    }
    return c;
  }

  v1::Command reflect(v1::ReflectionKind kind) {
    v1::Command c;
    c.set_command_id("bench-" + std::to_string(++ids_));
    c.mutable_reflect()->set_kind(kind);
    c.mutable_reflect()->set_text("If I got it, you felt alone when the plans changed at the last minute.");
    return c;
  }

  template <typename Setter>
  v1::Command simple(Setter set) {
    v1::Command c;
    c.set_command_id("bench-" + std::to_string(++ids_));
    set(c);
    return c;
  }

  // One move (sometimes with noise before it). False when the conversation is over.
  bool step() {
    const v1::RoomView a = mend::engine::view(*state_, actor(v1::PARTNER_A));
    const v1::RoomView b = mend::engine::view(*state_, actor(v1::PARTNER_B));
    const v1::Role speaker = a.speaker();
    const v1::Role listener = a.listener();
    switch (a.phase()) {
      case v1::PHASE_CLOSED:
        return false;
      case v1::PHASE_INVITED:
        run(v1::PARTNER_B, simple([](v1::Command& c) { c.mutable_accept_invitation(); }));
        return true;
      case v1::PHASE_CONSENT: {
        const v1::Role who = a.a_consented() ? v1::PARTNER_B : v1::PARTNER_A;
        run(who, simple([](v1::Command& c) {
              auto* terms = c.mutable_consent()->mutable_terms();
              terms->add_observers("counselor");
              terms->set_retention_days(30);
            }));
        return true;
      }
      case v1::PHASE_OPENING:
        run(v1::PARTNER_A, simple([](v1::Command& c) {
              c.mutable_open()->set_intention("I am sharing this because I care about us.");
              c.mutable_open()->set_topic("our evenings");
              c.mutable_open()->mutable_startup()->set_feeling("lonely");
            }));
        return true;
      case v1::PHASE_SPEAKING:
        speaking(speaker, listener, speaker == v1::PARTNER_A ? a : b);
        return true;
      case v1::PHASE_MIRRORING:
        // Now and then a mirror before the beat is TOO_SOON (a realistic rejection), then in time.
        if (++mirrors_ % 5 == 0 && now_ < a.reflect_not_before_ms()) run(listener, reflect(v1::MIRROR));
        now_ = std::max(now_, a.reflect_not_before_ms());
        run(listener, reflect(v1::MIRROR));
        return true;
      case v1::PHASE_SUMMARY:
      case v1::PHASE_VALIDATION:
      case v1::PHASE_EMPATHY:
        now_ = std::max(now_, a.reflect_not_before_ms());
        run(listener, reflect(a.expected_reflection()));
        return true;
      case v1::PHASE_CONFIRMING:
        if (++confirms_ % 4 == 0) {
          run(speaker, text_command(v1::ACTION_CORRECT, "Almost: I felt unseen, not angry."));
        } else {
          run(speaker, simple([](v1::Command& c) { c.mutable_confirm(); }));
        }
        return true;
      case v1::PHASE_MORE:
        if (chunks_ < kChunksPerTurn) {
          run(speaker, simple([](v1::Command& c) { c.mutable_more(); }));
        } else {
          run(speaker, simple([](v1::Command& c) { c.mutable_no_more(); }));
        }
        return true;
      case v1::PHASE_APOLOGY_RESPONSE:
        run(listener, simple([](v1::Command& c) { c.mutable_accept_apology(); }));
        return true;
      case v1::PHASE_SOLUTION_GATE:
        solution_gate(a, b);
        return true;
      case v1::PHASE_PROBLEM_SOLVING:
        problem_solving(a);
        return true;
      case v1::PHASE_CLOSING: {
        const v1::Role who = a.a_done() ? v1::PARTNER_B : v1::PARTNER_A;
        run(who, text_command(v1::ACTION_APPRECIATE, "I appreciate that you stayed with me tonight."));
        return true;
      }
      case v1::PHASE_PAUSED:
        run(a.overlay_caller(), simple([](v1::Command& c) { c.mutable_return_(); }));
        return true;
      default:
        std::fprintf(stderr, "bench-engine: the script reached phase %s it does not play\n",
                     v1::Phase_Name(a.phase()).c_str());
        std::abort();
    }
  }

  void speaking(v1::Role speaker, v1::Role listener, const v1::RoomView& speaker_view) {
    if (speaker != turn_speaker_) {  // a new turn
      turn_speaker_ = speaker;
      chunks_ = 0;
      ++turns_;
      run(speaker, simple([](v1::Command& c) { c.mutable_pause()->set_duration_s(0); }));  // "I need a minute"
      return;
    }
    const int noise = ++noise_ % 6;
    if (noise == 0) {
      run(listener, text_command(v1::ACTION_SHARE, "But I was tired too!"));  // NOT_YOUR_TURN
    } else if (noise == 2) {
      run(listener, simple([](v1::Command& c) { c.mutable_signal()->set_kind(v1::LISTENING); }));
    } else if (noise == 4) {
      run(speaker, simple([](v1::Command& c) { c.mutable_repair()->set_kind(v1::LET_ME_TRY_AGAIN); }));
    }
    // Where the floor goes back and forth: once each, then both move on.
    if (chunks_ >= kChunksPerTurn && turns_ >= 2 && allows(speaker_view, v1::ACTION_MOVE_ON)) {
      run(speaker, simple([](v1::Command& c) { c.mutable_move_on(); }));
      run(listener, simple([](v1::Command& c) { c.mutable_move_on(); }));
      return;
    }
    if (chunks_ >= kChunksPerTurn && allows(speaker_view, v1::ACTION_PASS_FLOOR)) {
      run(speaker, simple([](v1::Command& c) { c.mutable_pass_floor(); }));
      return;
    }
    if (chunks_ >= kChunksPerTurn && allows(speaker_view, v1::ACTION_NO_MORE)) {
      run(speaker, simple([](v1::Command& c) { c.mutable_no_more(); }));
      return;
    }
    ++chunks_;
    run(speaker, text_command(v1::ACTION_SHARE,
                              "When the plans changed at the last minute I felt alone, and I need us to decide together."));
  }

  void solution_gate(const v1::RoomView& a, const v1::RoomView& b) {
    for (const v1::RoomView* v : {&a, &b}) {
      const v1::Role who = v == &a ? v1::PARTNER_A : v1::PARTNER_B;
      if (allows(*v, v1::ACTION_FEEL_UNDERSTOOD)) {
        run(who, simple([](v1::Command& c) { c.mutable_feel_understood(); }));
        return;
      }
      if (allows(*v, v1::ACTION_PROBLEM_SOLVING_CHOICE)) {
        run(who, simple([](v1::Command& c) { c.mutable_problem_solving_choice()->set_opt_in(true); }));
        return;
      }
    }
    std::fprintf(stderr, "bench-engine: stuck in SOLUTION_GATE\n");
    std::abort();
  }

  void problem_solving(const v1::RoomView& a) {
    const v1::RoomView b = mend::engine::view(*state_, actor(v1::PARTNER_B));
    if (!b.acceptable_proposals().empty()) {
      const auto seq = b.acceptable_proposals(0);
      run(v1::PARTNER_B, simple([seq](v1::Command& c) { c.mutable_accept_proposal()->set_seq(seq); }));
    } else if (proposals_++ < 2) {
      run(v1::PARTNER_A, text_command(v1::ACTION_PROPOSE, "We plan Sunday evenings together."));
    } else {
      (void)a;
      run(v1::PARTNER_A, simple([](v1::Command& c) { c.mutable_finish_problem_solving(); }));
    }
  }

  Script& script_;
  mend::engine::RoomState* state_ = nullptr;
  TimeMs now_ = kStart + kStepMs;
  std::uint64_t ids_ = 0;
  v1::Role turn_speaker_ = v1::ROLE_UNSPECIFIED;
  int chunks_ = 0;
  int turns_ = 0;  // turns played, for stages where the floor goes back and forth
  int noise_ = 0;
  int mirrors_ = 0;
  int confirms_ = 0;
  int proposals_ = 0;
};

Script record(const std::string& template_name) {
  const auto path = std::string(MEND_SOURCE_DIR) + "/server/templates/" + template_name + ".textpb";
  auto loaded = mend::engine::load_template_file(path);
  if (!loaded.tmpl) {
    std::fprintf(stderr, "bench-engine: cannot load %s\n", path.c_str());
    std::abort();
  }
  Script script;
  mend::engine::RoomSetup setup{"our evenings", "Ana", "Ben", {"counselor"}, ""};
  script.created = mend::engine::create_room(*loaded.tmpl, setup, kStart);
  mend::engine::RoomState state;
  mend::engine::evolve(state, script.created);
  script.events.push_back(script.created);
  script.snapshots.push_back(state);
  Couple(script).play(state);
  if (mend::engine::view(state, actor(v1::PARTNER_A)).phase() != v1::PHASE_CLOSED) {
    std::fprintf(stderr, "bench-engine: the %s script did not reach CLOSED\n", template_name.c_str());
    std::abort();
  }
  return script;
}

const Script& script_for(const std::string& name) {
  static const Script imago = record("imago-dialogue");
  static const Script speaker_listener = record("speaker-listener");
  return name == "imago-dialogue" ? imago : speaker_listener;
}

void BM_DecideEvolve(benchmark::State& bench, const std::string& name) {
  const Script& script = script_for(name);
  mend::engine::RoomState initial;
  mend::engine::evolve(initial, script.created);
  mend::engine::RoomState state = initial;
  std::size_t i = 0;
  std::size_t events = 0;
  for (auto _ : bench) {
    const Move& move = script.moves[i];
    auto decision = mend::engine::decide(state, move.command, move.actor, move.at);
    for (const auto& event : decision.events) mend::engine::evolve(state, event);
    events += decision.events.size();
    benchmark::DoNotOptimize(decision);
    if (++i == script.moves.size()) {
      i = 0;
      state = initial;  // a new room: one copy per conversation
    }
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
  bench.counters["events_per_cmd"] =
      benchmark::Counter(static_cast<double>(events) / static_cast<double>(bench.iterations()));
  bench.counters["cmds_per_conversation"] = static_cast<double>(script.moves.size());
  bench.counters["rejected_fraction"] =
      static_cast<double>(script.rejected) / static_cast<double>(script.moves.size());
}

void BM_Decide(benchmark::State& bench, const std::string& name) {
  const Script& script = script_for(name);
  // Decide each scripted move against the state it was recorded at.
  std::vector<mend::engine::RoomState> states;
  std::vector<const Move*> moves;
  mend::engine::RoomState state;
  mend::engine::evolve(state, script.created);
  for (const Move& move : script.moves) {
    states.push_back(state);
    moves.push_back(&move);
    for (const auto& event : mend::engine::decide(state, move.command, move.actor, move.at).events) {
      mend::engine::evolve(state, event);
    }
  }
  std::size_t i = 0;
  for (auto _ : bench) {
    auto decision = mend::engine::decide(states[i], moves[i]->command, moves[i]->actor, moves[i]->at);
    benchmark::DoNotOptimize(decision);
    if (++i == states.size()) i = 0;
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
}

void BM_View(benchmark::State& bench, const std::string& name) {
  const Script& script = script_for(name);
  const v1::Actor who[] = {actor(v1::PARTNER_A), actor(v1::PARTNER_B), actor(v1::OBSERVER, "counselor")};
  std::size_t i = 0;
  for (auto _ : bench) {
    auto view = mend::engine::view(script.snapshots[i % script.snapshots.size()], who[i % 3]);
    benchmark::DoNotOptimize(view);
    ++i;
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations()));
}

void BM_Replay(benchmark::State& bench, const std::string& name) {
  const Script& script = script_for(name);
  for (auto _ : bench) {
    mend::engine::RoomState state;
    for (const auto& event : script.events) mend::engine::evolve(state, event);
    benchmark::DoNotOptimize(state);
  }
  bench.SetItemsProcessed(static_cast<std::int64_t>(bench.iterations() * script.events.size()));
  bench.counters["events_per_conversation"] = static_cast<double>(script.events.size());
}

BENCHMARK_CAPTURE(BM_DecideEvolve, imago, std::string("imago-dialogue"));
BENCHMARK_CAPTURE(BM_DecideEvolve, speaker_listener, std::string("speaker-listener"));
BENCHMARK_CAPTURE(BM_Decide, imago, std::string("imago-dialogue"));
BENCHMARK_CAPTURE(BM_View, imago, std::string("imago-dialogue"));
BENCHMARK_CAPTURE(BM_Replay, imago, std::string("imago-dialogue"));
BENCHMARK_CAPTURE(BM_Replay, speaker_listener, std::string("speaker-listener"));

}  // namespace

BENCHMARK_MAIN();
