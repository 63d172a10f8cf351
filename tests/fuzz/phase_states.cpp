#include "tests/fuzz/phase_states.h"

#include <set>
#include <utility>

#include "tests/sim/sim_commands.h"
#include "tests/sim/sim_rng.h"
#include "tests/sim/sim_templates.h"

namespace mend::fuzz {
namespace {

constexpr int kWalksPerTemplate = 24;
constexpr int kStepsPerWalk = 300;
constexpr int kMaxTimerRounds = 64;
constexpr std::uint64_t kSeed = 20261204;
constexpr engine::TimeMs kStart = 1'800'000'000'000;

class Walk {
 public:
  Walk(const v1::Template& tmpl, std::uint64_t seed) : rng_(seed) {
    engine::RoomSetup setup;
    setup.topic = "evenings";
    setup.partner_a_name = "Ana";
    setup.partner_b_name = "Ben";
    setup.observers = invited_observers();
    apply({engine::create_room(tmpl, setup, now_)});
  }

  // One step: time passes, or someone takes an allowed action. False once nobody can act.
  bool step() {
    if (rng_.percent(15)) {
      const std::int64_t scale = rng_.percent(50) ? 60'000 : 6 * 3'600'000;
      advance_to(now_ + rng_.between(1, scale));
      return true;
    }
    const std::vector<v1::Actor> actors = {sim::partner_a(), sim::partner_b(),
                                           sim::observer(invited_observers()[0])};
    const v1::Actor& actor = actors[rng_.below(actors.size())];
    const v1::RoomView view = engine::view(state_, actor);
    if (view.allowed_actions().empty()) return state_.phase != v1::PHASE_CLOSED;
    const auto action = static_cast<v1::Action>(
        view.allowed_actions(static_cast<int>(rng_.below(view.allowed_actions_size()))));
    const auto candidates =
        sim::canonical_candidates(action, view, invited_observers(), log_, now_);
    if (candidates.empty()) return true;
    const sim::Candidate& candidate = candidates[rng_.below(candidates.size())];
    if (candidate.at > now_) advance_to(candidate.at);
    const engine::Decision decision = engine::decide(state_, candidate.command, actor, now_);
    if (decision.accepted()) apply(decision.events);
    return true;
  }

  const engine::RoomState& state() const { return state_; }
  PhaseRoom snapshot() const { return PhaseRoom{state_, events_, now_}; }

 private:
  void apply(const std::vector<v1::Event>& events) {
    for (const auto& event : events) {
      engine::evolve(state_, event);
      log_.add(event);
      events_.push_back(event);
    }
  }

  void advance_to(engine::TimeMs target) {
    for (int round = 0; round < kMaxTimerRounds; ++round) {
      const auto deadline = engine::next_deadline(state_);
      if (!deadline || *deadline > target) break;
      now_ = std::max(now_, *deadline);
      apply(engine::tick(state_, now_));
    }
    now_ = std::max(now_, target);
  }

  sim::Rng rng_;
  engine::TimeMs now_ = kStart;
  engine::RoomState state_;
  std::vector<v1::Event> events_;
  sim::LogIndex log_;
};

std::vector<v1::Template> walk_templates() {
  std::vector<std::string> errors;
  auto templates = sim::in_code_templates(errors);
  auto shipped = sim::shipped_templates(std::string(MEND_SOURCE_DIR) + "/server/templates", errors);
  templates.insert(templates.end(), shipped.begin(), shipped.end());
  return templates;
}

std::vector<PhaseRoom> build_phase_rooms() {
  std::vector<PhaseRoom> rooms;
  const auto templates = walk_templates();
  for (std::size_t t = 0; t < templates.size(); ++t) {
    std::set<std::pair<v1::Phase, v1::Phase>> seen;
    for (int w = 0; w < kWalksPerTemplate; ++w) {
      Walk walk(templates[t], sim::derive_seed(kSeed, t * kWalksPerTemplate + w));
      for (int s = 0; s < kStepsPerWalk; ++s) {
        const auto key = std::make_pair(walk.state().phase, walk.state().saved_phase);
        if (seen.insert(key).second) rooms.push_back(walk.snapshot());
        if (!walk.step()) break;
      }
    }
  }
  return rooms;
}

}  // namespace

const std::vector<std::string>& invited_observers() {
  static const std::vector<std::string> names = {"dr-lee", "sam"};
  return names;
}

const std::vector<PhaseRoom>& phase_rooms() {
  static const std::vector<PhaseRoom> rooms = build_phase_rooms();
  return rooms;
}

}  // namespace mend::fuzz
