// view and visible_to: what one participant sees, and may do, now.
#include <bit>

#include "server/engine/checks.h"
#include "server/engine/engine.h"
#include "server/engine/flow.h"
#include "server/engine/view_parts.h"

namespace mend::engine {
namespace {

using detail::Ctx;
using detail::kAllActions;

bool is_partner(v1::Role role) { return role == v1::PARTNER_A || role == v1::PARTNER_B; }

void fill_stage(const RoomState& s, v1::RoomView& v) {
  const v1::Phase conversation = detail::conversation_phase(s);
  if (!detail::is_stage_round(conversation)) return;
  const v1::Stage& stage = detail::current_stage(s);
  v.set_speaker(s.turn.speaker);
  v.set_listener(detail::listener(s));
  v.set_stage_index(s.turn.stage_index);
  v.set_chunk_max_chars(chunk_max_chars(stage));
  v.set_advice_requested(s.turn.advice_requested);
  const v1::ReflectionKind owed = detail::reflection_for_phase(s.phase);
  v.set_expected_reflection(owed);
  v.set_reflect_not_before_ms(detail::reflect_not_before(s));
}

// The prompt for `who` now: the stage's speaker or listener prompt, then (overriding it) the
// opening's or the closing's.
void fill_prompt(const RoomState& s, v1::Role who, v1::RoomView& v) {
  const v1::Phase conversation = detail::conversation_phase(s);
  if (detail::is_stage_round(conversation)) {
    const v1::Stage& stage = detail::current_stage(s);
    if (who == s.turn.speaker) v.set_prompt(stage.speaker_prompt());
    if (who == detail::listener(s)) v.set_prompt(stage.listener_prompt());
  }
  const v1::Opening& opening = s.tmpl->opening();
  const bool may_open =
      who == v1::PARTNER_A || (who == v1::PARTNER_B && opening.either_partner_opens());
  if (conversation == v1::PHASE_OPENING && may_open) {
    v.set_prompt(opening.intention_prompt().empty() ? opening.topic_prompt()
                                                    : opening.intention_prompt());
  }
  if (conversation == v1::PHASE_CLOSING && is_partner(who)) v.set_prompt(s.tmpl->closing().prompt());
}

// The stage whose texts the view shows: the current one in stage rounds, else none (-1).
// Precondition: the room has a template.
int stage_of(const RoomState& s) {
  if (!detail::is_stage_round(detail::conversation_phase(s))) return -1;
  return static_cast<int>(s.turn.stage_index);
}

// Whether the view shows the opening's startup form. Precondition: the room has a template.
bool opening(const RoomState& s) { return detail::conversation_phase(s) == v1::PHASE_OPENING; }

void fill_overlay(const RoomState& s, v1::RoomView& v) {
  if (!detail::is_overlay(s.phase)) return;
  v.set_saved_phase(s.saved_phase);
  v.set_overlay_caller(s.overlay.caller == v1::OBSERVER ? v1::ROLE_UNSPECIFIED : s.overlay.caller);
  v.set_overlay_observer(s.overlay.observer);
  v.set_overlay_ends_at_ms(s.overlay.ends_at_ms);
  v.set_cap_at_ms(s.overlay.cap_at_ms);
  v.set_return_due(s.overlay.return_due);
  v.set_check_in_reason(s.overlay.check_in_reason);
  v.set_a_ready(s.a.ready);
  v.set_b_ready(s.b.ready);
}

void fill_participants(const RoomState& s, v1::RoomView& v) {
  auto add_partner = [&](v1::Role role, const std::string& name) {
    auto* p = v.add_participants();
    p->mutable_actor()->set_role(role);
    p->set_name(name);
  };
  add_partner(v1::PARTNER_A, s.a.name);
  add_partner(v1::PARTNER_B, s.b.name);
  for (const ObserverState& o : s.observers) {
    auto* p = v.add_participants();
    p->mutable_actor()->set_role(v1::OBSERVER);
    p->mutable_actor()->set_observer(o.name);
    p->set_name(o.name);
    p->set_observer_status(o.status);
    p->set_approved_by_a(o.approved_by_a);
    p->set_approved_by_b(o.approved_by_b);
  }
}

void fill_seq_lists(const RoomState& s, v1::Role who, ViewLists lists, v1::RoomView& v) {
  if (!view_lists_seqs(s, who)) return;
  if (lists == ViewLists::kAll) {
    for (const ContentMessage& m : s.messages) {
      if (detail::may_retract(m, who)) v.add_retractable(m.seq);
    }
  }
  for (const Request& r : s.requests) {
    if (detail::may_decline(r, who)) v.add_declinable(r.seq);
    if (s.phase == v1::PHASE_PROBLEM_SOLVING && detail::may_accept_proposal(r, who)) {
      v.add_acceptable_proposals(r.seq);
    }
  }
}

// The actions gate may let pass for `c`'s actor in this phase and seat: views ask gate only
// about these, as the others refuse (detail::actions_gate_may_pass).
detail::ActionSet possible_actions(const Ctx& c) {
  return detail::actions_gate_may_pass(c.state.phase, detail::seat(c));
}

// The first action of a non-empty set, in kAllActions' order.
v1::Action first_action(detail::ActionSet actions) {
  return kAllActions[static_cast<std::size_t>(std::countr_zero(actions))];
}

bool allowed_in(v1::Action action, const Ctx& c) {
  return !detail::gate_refuses(action, c) && detail::some_arguments_valid(action, c);
}

void fill_allowed(const RoomState& s, const v1::Actor& who, v1::RoomView& v) {
  if (!is_partner(who.role()) && who.role() != v1::OBSERVER) return;
  const Ctx c = detail::make_ctx(s, who, 0);
  const detail::ActionSet possible = possible_actions(c);
  v.mutable_allowed_actions()->Reserve(std::popcount(possible));
  for (detail::ActionSet left = possible; left != 0; left &= left - 1) {
    const v1::Action action = first_action(left);
    if (allowed_in(action, c)) v.add_allowed_actions(action);
  }
}

// An observer both partners have not approved (or no longer approve) sees only what it needs
// to wait: who is in the room and each observer's approvals (so that consent is pending), and
// whether the conversation has ended. No topic, intention, terms, turn or content.
void fill_waiting_view(const RoomState& s, const v1::Actor& who, v1::RoomView& v) {
  if (s.phase == v1::PHASE_CLOSED) v.set_phase(v1::PHASE_CLOSED);
  fill_participants(s, v);
  fill_allowed(s, who, v);
}

}  // namespace

bool observer_admitted(const RoomState& s, const std::string& name) {
  const int index = detail::find_observer(s, name);
  return index >= 0 && s.observers[static_cast<std::size_t>(index)].approved();
}

bool carries_text(v1::Action action) {
  switch (action) {
    case v1::ACTION_OPEN: case v1::ACTION_SHARE: case v1::ACTION_REFLECT:
    case v1::ACTION_CORRECT: case v1::ACTION_STILL_NEED: case v1::ACTION_ASK:
    case v1::ACTION_ADVISE: case v1::ACTION_PROPOSE: case v1::ACTION_APPRECIATE:
      return true;
    default:
      return false;
  }
}

bool allowed(const RoomState& s, const v1::Actor& who, v1::Action action) {
  if (!is_partner(who.role()) && who.role() != v1::OBSERVER) return false;
  return allowed_in(action, detail::make_ctx(s, who, 0));
}

bool may_type(const RoomState& s, const v1::Actor& who) {
  if (!is_partner(who.role())) return false;
  const Ctx c = detail::make_ctx(s, who, 0);
  for (detail::ActionSet left = possible_actions(c); left != 0; left &= left - 1) {
    const v1::Action action = first_action(left);
    if (carries_text(action) && allowed_in(action, c)) return true;
  }
  return false;
}

bool transcript_shared_with_observers(const RoomState& s) {
  return detail::effective_terms(s).transcript_to_observer();
}

v1::RoomView view(const RoomState& s, const v1::Actor& who) {
  v1::RoomView v;
  view_into(s, who, v);
  return v;
}

bool view_lists_seqs(const RoomState& s, v1::Role role) {
  return is_partner(role) && s.phase != v1::PHASE_CLOSED;
}

bool may_retract(const ContentMessage& message, v1::Role role) {
  return detail::may_retract(message, role);
}

bool view_is_shared(const RoomState& s, const v1::Actor& who) {
  return who.role() != v1::OBSERVER || observer_admitted(s, who.observer());
}

SharedTexts SharedTexts::of(const RoomState& s) {
  SharedTexts texts;
  texts.assign(s);
  return texts;
}

bool SharedTexts::same_as(const RoomState& s) const {
  if (!s.tmpl.has_value() || !tmpl_.has_value()) return s.tmpl.has_value() == tmpl_.has_value();
  // The same template object (cheaper than TemplateRef's ==, which may compare contents).
  return &tmpl_.get() == &s.tmpl.get() && stage_ == stage_of(s) && opening_ == opening(s) &&
         topic_ == s.topic && intention_ == s.intention && startup_ == s.startup &&
         a_name_ == s.a.name && b_name_ == s.b.name;
}

void SharedTexts::assign(const RoomState& s) {
  tmpl_ = s.tmpl;
  stage_ = s.tmpl.has_value() ? stage_of(s) : -1;
  opening_ = s.tmpl.has_value() && opening(s);
  topic_ = s.topic;
  intention_ = s.intention;
  startup_ = s.startup;
  a_name_ = s.a.name;
  b_name_ = s.b.name;
}

void view_shared_texts_into(const SharedTexts& t, v1::RoomView& v) {
  if (!t.tmpl_.has_value()) return;
  const v1::Template& tmpl = t.tmpl_.get();
  v.set_template_name(tmpl.name());
  v.set_topic(t.topic_);
  v.set_intention(t.intention_);
  if (t.startup_ != StartupLines{}) {
    auto* startup = v.mutable_startup();
    startup->set_feeling(t.startup_.feeling);
    startup->set_situation(t.startup_.situation);
    startup->set_need(t.startup_.need);
  }
  v.set_partner_a_name(t.a_name_);
  v.set_partner_b_name(t.b_name_);
  v.set_closing_prompt(tmpl.closing().prompt());
  if (t.stage_ >= 0) {
    const v1::Stage& stage = tmpl.stages(t.stage_);
    v.set_stage_name(stage.name());
    v.set_stage_title(stage.title());
    *v.mutable_listener_questions() = stage.listener_questions();
  }
  if (t.opening_) v.set_startup_form(tmpl.opening().startup_form());
}

void view_shared_rest_into(const RoomState& s, v1::RoomView& v) {
  v.set_phase(s.phase);
  v.set_last_seq(s.last_seq);
  if (!s.tmpl.has_value()) return;
  fill_stage(s, v);
  fill_overlay(s, v);
  if (s.phase == v1::PHASE_INVITED) {
    v.set_appointment_at_ms(s.appointment_at_ms);
    v.set_invitation_expires_at_ms(s.created_at_ms +
                                   static_cast<TimeMs>(s.timing.appointment_window_s) * 1000);
  }
  v.set_closed_reason(s.closed_reason);
  *v.mutable_effective_terms() = detail::effective_terms(s);
  v.set_a_consented(s.a.consented);
  v.set_b_consented(s.b.consented);
  v.set_a_understood(s.a.understood);
  v.set_b_understood(s.b.understood);
  v.set_a_feels_understood(s.a.feels_understood);
  v.set_b_feels_understood(s.b.feels_understood);
  v.set_a_moves_on(s.a.moves_on);
  v.set_b_moves_on(s.b.moves_on);
  v.set_a_done(s.a.done);
  v.set_b_done(s.b.done);
  fill_participants(s, v);
}

void view_shared_into(const RoomState& s, v1::RoomView& v) {
  view_shared_texts_into(SharedTexts::of(s), v);
  view_shared_rest_into(s, v);
}

void view_own_into(const RoomState& s, const v1::Actor& who, v1::RoomView& v, ViewLists lists) {
  *v.mutable_you() = who;
  if (!s.tmpl.has_value()) return;
  fill_prompt(s, who.role(), v);
  if (is_partner(who.role())) *v.mutable_your_terms() = detail::partner_terms(s, who.role());
  fill_seq_lists(s, who.role(), lists, v);
  fill_allowed(s, who, v);
}

void view_into(const RoomState& s, const v1::Actor& who, v1::RoomView& v) {
  if (!view_is_shared(s, who)) {
    *v.mutable_you() = who;
    return fill_waiting_view(s, who, v);
  }
  view_shared_into(s, v);
  view_own_into(s, who, v);
}

bool visible_to(const RoomState& state, const v1::Event& event, const v1::Actor& who) {
  if (event.has_note_taken()) {
    return who.role() == v1::OBSERVER && event.actor().role() == v1::OBSERVER &&
           event.actor().observer() == who.observer();
  }
  if (is_partner(who.role())) return true;
  return who.role() == v1::OBSERVER && observer_admitted(state, who.observer());
}

}  // namespace mend::engine
