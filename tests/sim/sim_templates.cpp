#include "tests/sim/sim_templates.h"

#include <algorithm>

#include "server/engine/templates.h"

namespace mend::sim {
namespace {

// One stage, no mirroring, closes quickly: random walks often reach CLOSING and CLOSED.
constexpr const char* kMinimal = R"pb(
  name: "sim-minimal"
  title: "Minimal"
  opening { intention_prompt: "What do you want from this talk?" }
  stages { name: "talk" title: "Talk" opener: PARTNER_A speaker_prompt: "Say it." listener_prompt: "Listen." }
  closing { prompt: "Share one thing you appreciate." }
  timing { reflection_beat_ms: 100 pause_max_s: 60 pause_default_s: 30 }
)pb";

// Imago-like: appointment, mirror per chunk, more loop, three turn reflections, both
// partners, problem solving, short soft turns and tight bounds so timers fire often.
constexpr const char* kImagoLike = R"pb(
  name: "sim-imago-like"
  title: "Imago-like"
  opening { appointment: true intention_prompt: "Intention?" topic_prompt: "Topic?" startup_form: true }
  stages {
    name: "dialogue" title: "Dialogue" speaker_prompt: "Share a little." opener: PARTNER_A both_partners: true
    mirror_each_chunk: true more_loop: true
    turn_reflections: SUMMARY turn_reflections: VALIDATION turn_reflections: EMPATHY
    chunk_max_chars: 40 soft_turn_s: 30
  }
  problem_solving: true
  closing { prompt: "Appreciations." }
  timing {
    reflection_beat_ms: 1500 pause_default_s: 20 pause_max_s: 90 time_out_min_s: 1200
    time_out_default_s: 1500 time_out_cap_s: 3600 appointment_window_s: 7200
    consult_break_default_s: 30 consult_break_max_s: 120
  }
)pb";

// Aftermath-like: opener B, questions, advice on request, an apology closer, and a
// feelings stage (hint FEELING_BECAUSE).
constexpr const char* kAftermathLike = R"pb(
  name: "sim-aftermath-like"
  title: "Aftermath-like"
  opening { intention_prompt: "Intention?" }
  stages {
    name: "feelings" title: "Feelings" speaker_prompt: "Name a feeling." opener: PARTNER_B both_partners: true
    listener_may_ask: true listener_questions: "What did that mean to you?"
    turn_reflections: VALIDATION
  }
  stages {
    name: "responsibility" title: "Responsibility" speaker_prompt: "Own your part." opener: PARTNER_A both_partners: false
    mirror_each_chunk: true more_loop: true turn_reflections: SUMMARY closer: APOLOGY_RESPONSE
    advice_on_request: true chunk_max_chars: 200
  }
  problem_solving: true
  timing { reflection_beat_ms: 0 pause_max_s: 600 time_out_cap_s: 86400 }
)pb";

// Stress-reducing-like: long soft turns, advice only on request, empathy only.
constexpr const char* kStressLike = R"pb(
  name: "sim-stress-like"
  title: "Stress-like"
  opening { intention_prompt: "Intention?" }
  stages {
    name: "vent" title: "Vent" speaker_prompt: "Vent." opener: PARTNER_A both_partners: true
    turn_reflections: EMPATHY advice_on_request: true soft_turn_s: 900 chunk_max_chars: 16000
  }
  timing { reflection_beat_ms: 60000 consult_break_max_s: 1800 appointment_window_s: 600 }
)pb";

// Speaker-listener as PREP teaches it: either partner opens, the floor goes back and forth
// until both move on, the listener may ask for an example in place of a mirror.
constexpr const char* kFloorLike = R"pb(
  name: "sim-floor-like"
  title: "Floor-like"
  opening { either_partner_opens: true startup_form: true intention_prompt: "Intention?" }
  stages {
    name: "floor" title: "Floor" speaker_prompt: "Speak." opener: PARTNER_B both_partners: true
    until_both_move_on: true mirror_each_chunk: true listener_may_clarify: true chunk_max_chars: 60
  }
  stages { name: "wrap" title: "Wrap" speaker_prompt: "Sum up." opener: PARTNER_A listener_may_ask: true }
  problem_solving: true
  timing { reflection_beat_ms: 800 }
)pb";

}  // namespace

std::vector<v1::Template> in_code_templates(std::vector<std::string>& errors) {
  std::vector<v1::Template> out;
  for (const char* text : {kMinimal, kImagoLike, kAftermathLike, kStressLike, kFloorLike}) {
    auto parsed = engine::parse_template(text, "in-code", std::nullopt);
    for (const auto& error : parsed.errors) errors.push_back(error.to_string());
    if (parsed.tmpl) out.push_back(std::move(*parsed.tmpl));
  }
  return out;
}

std::vector<v1::Template> shipped_templates(const std::filesystem::path& dir,
                                            std::vector<std::string>& errors) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".textpb") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<v1::Template> out;
  for (const auto& file : files) {
    auto parsed = engine::load_template_file(file);
    for (const auto& error : parsed.errors) errors.push_back(error.to_string());
    if (parsed.tmpl) out.push_back(std::move(*parsed.tmpl));
  }
  return out;
}

}  // namespace mend::sim
