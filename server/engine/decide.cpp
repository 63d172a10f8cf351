// decide: validate -> gate -> arguments (checks.cpp), then the events of an accepted command.
#include <algorithm>

#include "server/engine/checks.h"
#include "server/engine/engine.h"
#include "server/engine/flow.h"
#include "server/engine/insights.h"
#include "server/engine/hints.h"
#include "server/engine/invariant.h"

namespace mend::engine {
namespace {

using detail::Ctx;

constexpr TimeMs kMsPerS = 1000;

// Collects the bodies of the events of one decision.
class Emitter {
 public:
  explicit Emitter(Decision& decision) : events_(decision.events) {}
  v1::Event& next() { return events_.emplace_back(); }

 private:
  std::vector<v1::Event>& events_;
};

void end_turn(const RoomState& s, Emitter& out) { out.next() = detail::turn_end_event(s); }

// ConsentGiven plus ObserverRevoked for every admitted observer that loses an approval.
void emit_consent(const v1::ConsentTerms& sent, const Ctx& c, Emitter& out) {
  const RoomState& s = c.state;
  auto& given = *out.next().mutable_consent_given();
  auto* terms = given.mutable_terms();
  RoomState after_flags;  // only observers and terms are needed for effective terms
  after_flags.observers = s.observers;
  after_flags.a = s.a;
  after_flags.b = s.b;
  PartnerState& me = detail::partner(after_flags, c.role);
  me.retention_days = sent.retention_days();
  me.summary_to_observer = sent.summary_to_observer();
  me.transcript_to_observer = sent.transcript_to_observer();
  std::vector<std::string> revoked;
  for (ObserverState& o : after_flags.observers) {
    const bool wanted = std::find(sent.observers().begin(), sent.observers().end(), o.name) !=
                        sent.observers().end();
    const bool was_admitted = o.approved() && o.status != v1::OBSERVER_INVITED &&
                              o.status != v1::OBSERVER_REVOKED;
    (c.role == v1::PARTNER_A ? o.approved_by_a : o.approved_by_b) = wanted;
    if (wanted) terms->add_observers(o.name);
    if (was_admitted && !o.approved()) revoked.push_back(o.name);
  }
  terms->set_retention_days(sent.retention_days());
  terms->set_summary_to_observer(sent.summary_to_observer());
  terms->set_transcript_to_observer(sent.transcript_to_observer());
  *given.mutable_effective() = detail::effective_terms(after_flags);
  for (const std::string& name : revoked) {
    out.next().mutable_observer_revoked()->set_observer(name);
  }
}

void emit_open(const v1::Open& open, const Ctx& c, Emitter& out, Decision& d) {
  auto* opened = out.next().mutable_conversation_opened();
  opened->set_intention(open.intention());
  opened->set_topic(open.topic());
  *opened->mutable_startup() = open.startup();
  const RoomState& s = c.state;
  if (s.tmpl->stages_size() == 0) {
    out.next().mutable_closing_started();
    return;
  }
  auto* started = out.next().mutable_stage_started();
  started->set_stage_index(0);
  started->set_speaker(detail::stage_opener(s.tmpl->stages(0), c.role));
  add_hints(open.intention(), false, d.hints);
  add_hints(open.startup().feeling(), false, d.hints);
  add_hints(open.startup().situation(), false, d.hints);
  add_hints(open.startup().need(), false, d.hints);
}

// After the speaker is done sharing: the first turn reflection, the closer, or the turn end.
void after_sharing(const RoomState& s, Emitter& out) {
  if (!detail::step_from_reflection(s, 0)) end_turn(s, out);
}

void emit_confirm(const Ctx& c, Emitter& out) {
  const RoomState& s = c.state;
  const v1::ReflectionKind kind = s.turn.confirming;
  out.next().mutable_confirmed()->set_kind(kind);
  if (kind == v1::MIRROR) return;
  if (!detail::step_from_reflection(s, s.turn.reflection_index + 1)) end_turn(s, out);
}

// Gottman-Rapoport: problem solving opens once each partner feels understood (their own
// confirmation as speaker, never the listener's "I understand") and both opted in.
void emit_problem_solving_step(const Ctx& c, bool feels_understood, Choice choice,
                               Emitter& out) {
  const RoomState& s = c.state;
  const PartnerState& other = detail::partner(s, detail::other_partner(c.role));
  if (choice == Choice::kOptOut) {
    out.next().mutable_closing_started();
    return;
  }
  const bool both_understood = feels_understood && other.feels_understood;
  const bool both_in = choice == Choice::kOptIn && other.problem_solving == Choice::kOptIn;
  if (both_understood && both_in) out.next().mutable_problem_solving_started();
}

// until_both_move_on stages: the second partner's choice ends the stage.
void emit_move_on(const Ctx& c, Emitter& out) {
  out.next().mutable_move_on_chosen();
  if (detail::partner(c.state, detail::other_partner(c.role)).moves_on) {
    out.next() = detail::stage_end_event(c.state);
  }
}

void emit_closing_step(const Ctx& c, Emitter& out) {
  if (detail::partner(c.state, detail::other_partner(c.role)).done) {
    out.next().mutable_conversation_closed()->set_reason(v1::COMPLETED);
  }
}

void emit_resumed(const RoomState& s, Emitter& out) {
  out.next().mutable_resumed()->set_phase(s.saved_phase);
}

void emit_partner_command(const v1::Command& cmd, const Ctx& c, Emitter& out, Decision& d) {
  const RoomState& s = c.state;
  const ResolvedTiming& timing = s.timing;
  const PartnerState& me = detail::partner(s, c.role);
  switch (cmd.body_case()) {
    case v1::Command::kAcceptInvitation: out.next().mutable_invitation_accepted(); break;
    case v1::Command::kProposeTime:
      out.next().mutable_time_proposed()->set_start_at_ms(cmd.propose_time().start_at_ms());
      break;
    case v1::Command::kConsent: emit_consent(cmd.consent().terms(), c, out); break;
    case v1::Command::kApproveObserver:
      out.next().mutable_observer_approved()->set_observer(cmd.approve_observer().observer());
      break;
    case v1::Command::kRevokeObserver:
      out.next().mutable_observer_revoked()->set_observer(cmd.revoke_observer().observer());
      break;
    case v1::Command::kOpen: emit_open(cmd.open(), c, out, d); break;
    case v1::Command::kShare: {
      auto* shared = out.next().mutable_shared();
      shared->set_text(cmd.share().text());
      shared->set_word_count(count_words(cmd.share().text()));
      const v1::Stage& stage = detail::current_stage(s);
      add_hints(cmd.share().text(), stage.name() == "feelings", d.hints);
      break;
    }
    case v1::Command::kReflect: {
      auto* reflected = out.next().mutable_reflected();
      reflected->set_kind(cmd.reflect().kind());
      reflected->set_text(cmd.reflect().text());
      break;
    }
    case v1::Command::kConfirm: emit_confirm(c, out); break;
    case v1::Command::kCorrect: out.next().mutable_corrected()->set_text(cmd.correct().text()); break;
    case v1::Command::kMore: out.next().mutable_more_answered()->set_more(true); break;
    case v1::Command::kNoMore:
      out.next().mutable_more_answered()->set_more(false);
      after_sharing(s, out);
      break;
    case v1::Command::kPassFloor:
      out.next().mutable_floor_passed();
      end_turn(s, out);
      break;
    case v1::Command::kAcceptApology:
      out.next().mutable_apology_accepted();
      end_turn(s, out);
      break;
    case v1::Command::kStillNeed:
      out.next().mutable_still_needed()->set_text(cmd.still_need().text());
      add_hints(cmd.still_need().text(), false, d.hints);
      end_turn(s, out);
      break;
    case v1::Command::kAsk: out.next().mutable_asked()->set_text(cmd.ask().text()); break;
    case v1::Command::kRequestAdvice: out.next().mutable_advice_requested(); break;
    case v1::Command::kAdvise: out.next().mutable_advised()->set_text(cmd.advise().text()); break;
    case v1::Command::kMoveOn: emit_move_on(c, out); break;
    case v1::Command::kUnderstood: out.next().mutable_understood_sent(); break;
    case v1::Command::kFeelUnderstood:
      out.next().mutable_felt_understood();
      emit_problem_solving_step(c, true, me.problem_solving, out);
      break;
    case v1::Command::kProblemSolvingChoice: {
      const bool opt_in = cmd.problem_solving_choice().opt_in();
      out.next().mutable_problem_solving_chosen()->set_opt_in(opt_in);
      emit_problem_solving_step(c, me.feels_understood,
                                opt_in ? Choice::kOptIn : Choice::kOptOut, out);
      break;
    }
    case v1::Command::kPropose: out.next().mutable_proposed()->set_text(cmd.propose().text()); break;
    case v1::Command::kAcceptProposal:
      out.next().mutable_proposal_accepted()->set_seq(cmd.accept_proposal().seq());
      break;
    case v1::Command::kFinishProblemSolving: out.next().mutable_closing_started(); break;
    case v1::Command::kAppreciate:
      out.next().mutable_appreciated()->set_text(cmd.appreciate().text());
      emit_closing_step(c, out);
      break;
    case v1::Command::kFinish:
      out.next().mutable_finished();
      emit_closing_step(c, out);
      break;
    case v1::Command::kSignal: out.next().mutable_signaled()->set_kind(cmd.signal().kind()); break;
    case v1::Command::kRepair: out.next().mutable_repaired()->set_kind(cmd.repair().kind()); break;
    case v1::Command::kRetract: out.next().mutable_retracted()->set_seq(cmd.retract().seq()); break;
    case v1::Command::kDecline: out.next().mutable_declined()->set_seq(cmd.decline().seq()); break;
    case v1::Command::kPause: {
      const std::uint32_t seconds =
          cmd.pause().duration_s() == 0 ? timing.pause_default_s : cmd.pause().duration_s();
      out.next().mutable_paused()->set_until_ms(c.now + seconds * kMsPerS);
      break;
    }
    case v1::Command::kTimeOut: {
      const TimeMs return_at = cmd.time_out().return_at_ms() != 0
                                   ? cmd.time_out().return_at_ms()
                                   : c.now + timing.time_out_default_s * kMsPerS;
      auto* timed_out = out.next().mutable_timed_out();
      timed_out->set_return_at_ms(return_at);
      timed_out->set_cap_at_ms(c.now + timing.time_out_cap_s * kMsPerS);
      break;
    }
    case v1::Command::kExtend:
      out.next().mutable_extended()->set_return_at_ms(cmd.extend().return_at_ms());
      break;
    case v1::Command::kReady:
      out.next().mutable_ready_sent();
      if (detail::partner(s, detail::other_partner(c.role)).ready) emit_resumed(s, out);
      break;
    case v1::Command::kReschedule:
      out.next().mutable_rescheduled()->set_start_at_ms(cmd.reschedule().start_at_ms());
      break;
    default: break;
  }
}

void emit_observer_command(const v1::Command& cmd, const Ctx& c, Emitter& out) {
  const RoomState& s = c.state;
  const std::string& name = s.observers[static_cast<std::size_t>(c.observer_index)].name;
  switch (cmd.body_case()) {
    case v1::Command::kJoin: out.next().mutable_observer_joined()->set_observer(name); break;
    case v1::Command::kNote: out.next().mutable_note_taken()->set_text(cmd.note().text()); break;
    case v1::Command::kPrompt: out.next().mutable_prompted()->set_text(cmd.prompt().text()); break;
    case v1::Command::kConsultBreak: {
      const std::uint32_t seconds = cmd.consult_break().duration_s() == 0
                                        ? s.timing.consult_break_default_s
                                        : cmd.consult_break().duration_s();
      out.next().mutable_consult_break_started()->set_until_ms(c.now + seconds * kMsPerS);
      break;
    }
    case v1::Command::kEndSession:
      out.next().mutable_conversation_closed()->set_reason(v1::ENDED_BY_OBSERVER);
      break;
    default: break;
  }
}

void emit(const v1::Command& cmd, const Ctx& c, Decision& d) {
  Emitter out(d);
  switch (cmd.body_case()) {
    case v1::Command::kReturn:
      out.next().mutable_returned();
      emit_resumed(c.state, out);
      return;
    case v1::Command::kLeave:
      if (c.role == v1::OBSERVER) {
        out.next().mutable_observer_left()->set_observer(
            c.state.observers[static_cast<std::size_t>(c.observer_index)].name);
      } else {
        out.next().mutable_conversation_closed()->set_reason(v1::PARTNER_LEFT);
      }
      return;
    default: break;
  }
  if (c.role == v1::OBSERVER) {
    emit_observer_command(cmd, c, out);
  } else {
    emit_partner_command(cmd, c, out, d);
  }
}

Decision rejected(detail::Refusal refusal) {
  Decision d;
  d.rejection.emplace();
  d.rejection->set_code(refusal.code);
  if (refusal.fixed != nullptr) {
    d.rejection->set_message(refusal.fixed);
  } else {
    d.rejection->set_message(std::move(*refusal.built));
  }
  d.rejection->set_retry_after_ms(refusal.retry_after_ms);
  return d;
}

}  // namespace

Decision decide(const RoomState& state, const v1::Command& command, const v1::Actor& actor,
                TimeMs now) {
  if (auto r = detail::validate(command, actor)) return rejected(std::move(*r));
  const Ctx c = detail::make_ctx(state, actor, now);
  const auto action = static_cast<v1::Action>(command.body_case());
  if (auto r = detail::gate(action, c)) return rejected(std::move(*r));
  if (auto r = detail::check_arguments(command, c)) return rejected(std::move(*r));
  Decision d;
  d.events.reserve(3);
  emit(command, c, d);
  MEND_INVARIANT(!d.events.empty(), "decide: an accepted command has events");
  std::uint64_t seq = state.last_seq;
  for (v1::Event& event : d.events) {
    event.set_seq(++seq);
    event.set_at_ms(now);
    *event.mutable_actor() = actor;
  }
  return d;
}

}  // namespace mend::engine
