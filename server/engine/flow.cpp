#include "server/engine/flow.h"

#include <algorithm>

namespace mend::engine::detail {

v1::Phase conversation_phase(const RoomState& state) {
  return is_overlay(state.phase) ? state.saved_phase : state.phase;
}

v1::Role other_partner(v1::Role partner) {
  return partner == v1::PARTNER_A ? v1::PARTNER_B : v1::PARTNER_A;
}

v1::Role listener(const RoomState& state) { return other_partner(state.turn.speaker); }

PartnerState& partner(RoomState& state, v1::Role role) {
  return role == v1::PARTNER_A ? state.a : state.b;
}

const PartnerState& partner(const RoomState& state, v1::Role role) {
  return role == v1::PARTNER_A ? state.a : state.b;
}

const v1::Stage& current_stage(const RoomState& state) {
  return state.tmpl->stages(static_cast<int>(state.turn.stage_index));
}

v1::Phase phase_for_reflection(v1::ReflectionKind kind) {
  switch (kind) {
    case v1::MIRROR: return v1::PHASE_MIRRORING;
    case v1::SUMMARY: return v1::PHASE_SUMMARY;
    case v1::VALIDATION: return v1::PHASE_VALIDATION;
    case v1::EMPATHY: return v1::PHASE_EMPATHY;
    default: return v1::PHASE_UNSPECIFIED;
  }
}

std::optional<ReflectionStep> step_from_reflection(const RoomState& state,
                                                   std::uint32_t index) {
  const v1::Stage& stage = current_stage(state);
  // Turn reflections are SUMMARY / VALIDATION / EMPATHY; anything else is skipped.
  for (auto i = static_cast<int>(index); i < stage.turn_reflections_size(); ++i) {
    const auto kind = static_cast<v1::ReflectionKind>(stage.turn_reflections(i));
    if (kind == v1::SUMMARY || kind == v1::VALIDATION || kind == v1::EMPATHY) {
      return ReflectionStep{phase_for_reflection(kind), static_cast<std::uint32_t>(i)};
    }
  }
  if (stage.closer() == v1::APOLOGY_RESPONSE) {
    return ReflectionStep{v1::PHASE_APOLOGY_RESPONSE,
                          static_cast<std::uint32_t>(stage.turn_reflections_size())};
  }
  return std::nullopt;
}

v1::Role stage_opener(const v1::Stage& stage, v1::Role initiator) {
  return initiator == v1::PARTNER_B ? other_partner(stage.opener()) : stage.opener();
}

v1::Event turn_end_event(const RoomState& state) {
  const v1::Stage& stage = current_stage(state);
  if (stage.both_partners() && (stage.until_both_move_on() || !state.turn.second_round)) {
    v1::Event event;
    event.mutable_roles_switched()->set_speaker(listener(state));
    return event;
  }
  return stage_end_event(state);
}

v1::Event stage_end_event(const RoomState& state) {
  v1::Event event;
  const std::uint32_t next = state.turn.stage_index + 1;
  if (next < static_cast<std::uint32_t>(state.tmpl->stages_size())) {
    auto* started = event.mutable_stage_started();
    started->set_stage_index(next);
    started->set_speaker(stage_opener(state.tmpl->stages(static_cast<int>(next)), state.initiator));
  } else if (state.tmpl->problem_solving()) {
    event.mutable_solution_gate_opened();
  } else {
    event.mutable_closing_started();
  }
  return event;
}

bool question_pending(const RoomState& state) {
  return std::any_of(state.requests.begin(), state.requests.end(), [](const Request& r) {
    return r.kind == RequestKind::kQuestion && !r.answered;
  });
}

v1::ConsentTerms effective_terms(const RoomState& state) {
  v1::ConsentTerms terms;
  for (const ObserverState& observer : state.observers) {
    if (observer.approved()) terms.add_observers(observer.name);
  }
  terms.set_retention_days(std::min(state.a.retention_days, state.b.retention_days));
  terms.set_summary_to_observer(state.a.summary_to_observer && state.b.summary_to_observer);
  terms.set_transcript_to_observer(state.a.transcript_to_observer &&
                                   state.b.transcript_to_observer);
  return terms;
}

v1::ConsentTerms partner_terms(const RoomState& state, v1::Role role) {
  v1::ConsentTerms terms;
  const PartnerState& p = partner(state, role);
  for (const ObserverState& observer : state.observers) {
    const bool mine = role == v1::PARTNER_A ? observer.approved_by_a : observer.approved_by_b;
    if (mine) terms.add_observers(observer.name);
  }
  terms.set_retention_days(p.retention_days);
  terms.set_summary_to_observer(p.summary_to_observer);
  terms.set_transcript_to_observer(p.transcript_to_observer);
  return terms;
}

int find_observer(const RoomState& state, const std::string& name) {
  for (std::size_t i = 0; i < state.observers.size(); ++i) {
    if (state.observers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const ContentMessage* find_message(const RoomState& state, std::uint64_t seq) {
  auto it = std::lower_bound(state.messages.begin(), state.messages.end(), seq,
                             [](const ContentMessage& m, std::uint64_t s) { return m.seq < s; });
  return it != state.messages.end() && it->seq == seq ? &*it : nullptr;
}

const Request* find_request(const RoomState& state, std::uint64_t seq) {
  auto it = std::lower_bound(state.requests.begin(), state.requests.end(), seq,
                             [](const Request& r, std::uint64_t s) { return r.seq < s; });
  return it != state.requests.end() && it->seq == seq ? &*it : nullptr;
}

}  // namespace mend::engine::detail
