// Internal: the stage-round flow shared by decide (which follow-up events to emit) and
// evolve (which phase an event leads to), so both follow one definition.
#pragma once

#include <optional>

#include "server/engine/state.h"

namespace mend::engine::detail {

// Phase classification (constexpr: gate's table of possible actions is built from them).
constexpr bool is_overlay(v1::Phase phase) {
  return phase >= v1::PHASE_PAUSED && phase <= v1::PHASE_CONSULT_BREAK;
}
constexpr bool is_stage_round(v1::Phase phase) {
  return phase >= v1::PHASE_SPEAKING && phase <= v1::PHASE_APOLOGY_RESPONSE;
}
// The conversation phase: `saved_phase` during an overlay, else `phase`.
v1::Phase conversation_phase(const RoomState& state);

v1::Role other_partner(v1::Role partner);
v1::Role listener(const RoomState& state);
PartnerState& partner(RoomState& state, v1::Role role);
const PartnerState& partner(const RoomState& state, v1::Role role);

// The current stage. Precondition: a template is set and a stage has started.
const v1::Stage& current_stage(const RoomState& state);

// The reflection phase owed for a kind (MIRROR -> MIRRORING, SUMMARY -> SUMMARY, ...).
v1::Phase phase_for_reflection(v1::ReflectionKind kind);
// The reflection kind owed in a phase, or UNSPECIFIED.
constexpr v1::ReflectionKind reflection_for_phase(v1::Phase phase) {
  switch (phase) {
    case v1::PHASE_MIRRORING: return v1::MIRROR;
    case v1::PHASE_SUMMARY: return v1::SUMMARY;
    case v1::PHASE_VALIDATION: return v1::VALIDATION;
    case v1::PHASE_EMPATHY: return v1::EMPATHY;
    default: return v1::REFLECTION_KIND_UNSPECIFIED;
  }
}

// The step owed from turn reflection `index` of the current stage on: the first valid
// turn reflection at or after `index` (SUMMARY / VALIDATION / EMPATHY), then the stage
// closer; nullopt when the turn ends.
struct ReflectionStep {
  v1::Phase phase = v1::PHASE_UNSPECIFIED;
  std::uint32_t index = 0;  // index in turn_reflections (its size for the closer)
};
std::optional<ReflectionStep> step_from_reflection(const RoomState& state, std::uint32_t index);

// Who speaks first in `stage` when `initiator` opened the conversation: stage openers name
// roles relative to the initiator (PARTNER_A is the initiator), so the stage's own opener
// when partner A opened, the other partner when partner B did.
v1::Role stage_opener(const v1::Stage& stage, v1::Role initiator);

// The event that ends the current stage: StageStarted of the next stage, SolutionGateOpened
// or ClosingStarted (body only; decide fills seq, time and actor).
v1::Event stage_end_event(const RoomState& state);
// The event that ends the current turn: RolesSwitched when the floor goes to the other
// partner (the first round of a both_partners stage, or any turn of an until_both_move_on
// stage), else stage_end_event.
v1::Event turn_end_event(const RoomState& state);

// Whether a question of the listener waits for the speaker's answer (or decline).
bool question_pending(const RoomState& state);

// Effective consent terms: intersection of approvals, min retention, AND of booleans.
v1::ConsentTerms effective_terms(const RoomState& state);
// One partner's own terms (observer names in invitation order).
v1::ConsentTerms partner_terms(const RoomState& state, v1::Role role);

// Index of an invited observer, or -1.
int find_observer(const RoomState& state, const std::string& name);
const ContentMessage* find_message(const RoomState& state, std::uint64_t seq);
const Request* find_request(const RoomState& state, std::uint64_t seq);

}  // namespace mend::engine::detail
