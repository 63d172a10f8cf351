// evolve: applies one event to the state. Every phase change of the engine happens here.
#include <algorithm>
#include <memory>

#include "server/engine/engine.h"
#include "server/engine/flow.h"
#include "server/engine/invariant.h"

namespace mend::engine {
namespace {

using detail::partner;

void add_content(RoomState& s, const v1::Event& e) {
  s.messages.push_back(ContentMessage{e.seq(), e.actor().role(), e.body_case(), false});
}

void answer_requests(RoomState& s, RequestKind kind) {
  for (Request& r : s.requests) {
    if (r.kind == kind) r.answered = true;
  }
}

void answer_time_proposals(RoomState& s) {
  answer_requests(s, RequestKind::kTimeProposal);
  s.appointment_at_ms = 0;
}

void add_request(RoomState& s, const v1::Event& e, RequestKind kind) {
  s.requests.push_back(Request{e.seq(), e.actor().role(), kind, false});
}

// Questions and requests for advice belong to one turn: no longer pending once it ends.
void expire_turn_requests(RoomState& s) {
  answer_requests(s, RequestKind::kQuestion);
  answer_requests(s, RequestKind::kAdviceRequest);
}

// A new chunk or a new turn asks both partners again whether they are ready to move on.
void clear_move_on(RoomState& s) {
  s.a.moves_on = false;
  s.b.moves_on = false;
}

// Mutable lookups by seq (both vectors are in ascending seq order).
template <typename T>
T* find_by_seq(std::vector<T>& items, std::uint64_t seq) {
  auto it = std::lower_bound(items.begin(), items.end(), seq,
                             [](const T& item, std::uint64_t s) { return item.seq < s; });
  return it != items.end() && it->seq == seq ? &*it : nullptr;
}

Request* find_request(RoomState& s, std::uint64_t seq) { return find_by_seq(s.requests, seq); }

// The state invariants every event keeps (docs/engine-rules.md, "Invariants").
void check_state(const RoomState& s) {
  MEND_INVARIANT(s.phase != v1::PHASE_UNSPECIFIED && s.tmpl.has_value(),
                 "evolve: a created room has a phase and a template");
  const v1::Phase phase = detail::conversation_phase(s);
  MEND_INVARIANT(!detail::is_overlay(phase) && phase != v1::PHASE_UNSPECIFIED,
                 "evolve: an overlay saves a conversation phase");
  if (detail::is_stage_round(phase)) {
    MEND_INVARIANT(s.turn.speaker == v1::PARTNER_A || s.turn.speaker == v1::PARTNER_B,
                   "evolve: exactly one partner holds the floor in a stage round");
    MEND_INVARIANT(static_cast<int>(s.turn.stage_index) < s.tmpl->stages_size(),
                   "evolve: the current stage is one of the template's");
  }
  MEND_INVARIANT((s.phase == v1::PHASE_CLOSED) == (s.closed_reason != v1::CLOSED_REASON_UNSPECIFIED),
                 "evolve: a room is closed exactly when it has a closed reason");
}

void apply_room_created(RoomState& s, const v1::Event& e) {
  const v1::RoomCreated& created = e.room_created();
  s.tmpl = TemplateRef(std::make_shared<const v1::Template>(created.template_()));
  s.timing = resolve_timing(created.template_().timing());
  s.created_at_ms = e.at_ms();
  s.topic = created.topic();
  s.a.name = created.partner_a_name();
  s.b.name = created.partner_b_name();
  for (const std::string& name : created.observers()) {
    s.observers.push_back(ObserverState{name, false, false, v1::OBSERVER_INVITED});
  }
  s.phase = created.template_().opening().appointment() ? v1::PHASE_INVITED : v1::PHASE_CONSENT;
}

bool& approval(ObserverState& o, v1::Role role) {
  return role == v1::PARTNER_A ? o.approved_by_a : o.approved_by_b;
}

// Approved by both: INVITED and REVOKED observers become APPROVED.
void promote_observers(RoomState& s) {
  for (ObserverState& o : s.observers) {
    if (o.approved() && (o.status == v1::OBSERVER_INVITED || o.status == v1::OBSERVER_REVOKED)) {
      o.status = v1::OBSERVER_APPROVED;
    }
  }
}

void apply_consent(RoomState& s, const v1::Event& e) {
  const v1::ConsentTerms& terms = e.consent_given().terms();
  const v1::Role role = e.actor().role();
  PartnerState& p = partner(s, role);
  p.consented = true;
  p.retention_days = terms.retention_days();
  p.summary_to_observer = terms.summary_to_observer();
  p.transcript_to_observer = terms.transcript_to_observer();
  for (ObserverState& o : s.observers) {
    bool listed = false;
    for (const std::string& name : terms.observers()) listed = listed || name == o.name;
    approval(o, role) = listed;
  }
  promote_observers(s);
  if (s.phase == v1::PHASE_CONSENT && s.a.consented && s.b.consented) {
    s.phase = v1::PHASE_OPENING;
  }
}

void set_observer_approval(RoomState& s, const v1::Event& e, const std::string& name,
                           bool approved) {
  const int index = detail::find_observer(s, name);
  if (index < 0) return;
  ObserverState& o = s.observers[static_cast<std::size_t>(index)];
  const v1::Role role = e.actor().role();
  if (role == v1::PARTNER_A || role == v1::PARTNER_B) approval(o, role) = approved;
  if (approved) {
    promote_observers(s);
  } else if (!o.approved() && o.status != v1::OBSERVER_INVITED) {
    o.status = v1::OBSERVER_REVOKED;
  }
}

void set_observer_status(RoomState& s, const std::string& name, v1::ObserverStatus status) {
  const int index = detail::find_observer(s, name);
  if (index >= 0) s.observers[static_cast<std::size_t>(index)].status = status;
}

void start_turn(RoomState& s, std::uint32_t stage_index, v1::Role speaker, bool second_round,
                TimeMs at) {
  s.turn = TurnState{};
  s.turn.stage_index = stage_index;
  s.turn.speaker = speaker;
  s.turn.second_round = second_round;
  s.turn.turn_started_ms = at;
  s.phase = v1::PHASE_SPEAKING;
  expire_turn_requests(s);
  clear_move_on(s);
}

// The first reflection step from `index` on, if any (else the turn-end event follows).
void go_to_reflection(RoomState& s, std::uint32_t index) {
  if (auto step = detail::step_from_reflection(s, index)) {
    s.phase = step->phase;
    s.turn.reflection_index = step->index;
  }
}

void apply_confirmed(RoomState& s, const v1::Event& e) {
  s.turn.after_correction = false;
  if (e.confirmed().kind() == v1::MIRROR) {
    s.phase = detail::current_stage(s).more_loop() ? v1::PHASE_MORE : v1::PHASE_SPEAKING;
    return;
  }
  go_to_reflection(s, s.turn.reflection_index + 1);
}

void enter_overlay(RoomState& s, v1::Phase overlay) {
  if (!detail::is_overlay(s.phase)) s.saved_phase = s.phase;
  s.phase = overlay;
  s.overlay = OverlayState{};
  s.a.ready = false;
  s.b.ready = false;
}

void leave_overlay(RoomState& s, v1::Phase phase) {
  s.phase = phase;
  s.saved_phase = v1::PHASE_UNSPECIFIED;
  s.overlay = OverlayState{};
  s.a.ready = false;
  s.b.ready = false;
}

void apply_request_answer(RoomState& s, std::uint64_t seq) {
  Request* r = find_request(s, seq);
  if (r == nullptr) return;
  r->answered = true;
  if (r->kind == RequestKind::kTimeProposal) s.appointment_at_ms = 0;
}

// Whether `chunk` (a Shared) is the chunk the listener owes its first mirror now: the turn is
// in MIRRORING (or an overlay returns there), not after a correction, and no reflection
// followed the chunk.
bool awaits_first_mirror(const RoomState& s, const ContentMessage& chunk) {
  const v1::Phase phase = detail::is_overlay(s.phase) ? s.saved_phase : s.phase;
  if (phase != v1::PHASE_MIRRORING || s.turn.after_correction) return false;
  if (chunk.kind != v1::Event::kShared || chunk.author != s.turn.speaker) return false;
  for (auto it = s.messages.rbegin(); it != s.messages.rend() && it->seq > chunk.seq; ++it) {
    if (it->kind == v1::Event::kShared || it->kind == v1::Event::kReflected) return false;
  }
  return true;
}

// A retracted message is gone from every view: an opening's intention (and the topic and
// start-up lines it stated) read kRetractedText, a request is no longer pending, and a chunk never mirrored no
// longer has to be mirrored (the speaker has the floor again).
void apply_retracted(RoomState& s, std::uint64_t seq) {
  if (Request* r = find_request(s, seq)) r->answered = true;
  ContentMessage* m = find_by_seq(s.messages, seq);
  if (m == nullptr) return;
  m->retracted = true;
  if (m->kind == v1::Event::kConversationOpened) {
    s.intention = kRetractedText;
    if (s.topic_from_opening) s.topic = kRetractedText;
    for (std::string* line : {&s.startup.feeling, &s.startup.situation, &s.startup.need}) {
      if (!line->empty()) *line = kRetractedText;
    }
  }
  if (awaits_first_mirror(s, *m)) {
    (detail::is_overlay(s.phase) ? s.saved_phase : s.phase) = v1::PHASE_SPEAKING;
  }
}

void apply_overlay_event(RoomState& s, const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kPaused:
      enter_overlay(s, v1::PHASE_PAUSED);
      s.overlay.caller = e.actor().role();
      s.overlay.ends_at_ms = e.paused().until_ms();
      break;
    case v1::Event::kTimedOut:
      enter_overlay(s, v1::PHASE_TIMED_OUT);
      s.overlay.caller = e.actor().role();
      s.overlay.ends_at_ms = e.timed_out().return_at_ms();
      s.overlay.cap_at_ms = e.timed_out().cap_at_ms();
      break;
    case v1::Event::kConsultBreakStarted:
      enter_overlay(s, v1::PHASE_CONSULT_BREAK);
      s.overlay.caller = v1::OBSERVER;
      s.overlay.observer = e.actor().observer();
      s.overlay.ends_at_ms = e.consult_break_started().until_ms();
      break;
    case v1::Event::kCheckInStarted:
      enter_overlay(s, v1::PHASE_CHECK_IN);
      s.overlay.check_in_reason = e.check_in_started().reason();
      break;
    case v1::Event::kSuspended: enter_overlay(s, v1::PHASE_SUSPENDED); break;
    case v1::Event::kExtended:
      s.overlay.ends_at_ms = e.extended().return_at_ms();
      s.overlay.return_due = false;
      break;
    case v1::Event::kTimeOutReturnDue: s.overlay.return_due = true; break;
    case v1::Event::kRescheduled:
      s.overlay.ends_at_ms = e.rescheduled().start_at_ms();
      s.overlay.rescheduled = true;
      break;
    case v1::Event::kReadySent: partner(s, e.actor().role()).ready = true; break;
    case v1::Event::kResumed: leave_overlay(s, e.resumed().phase()); break;
    default: break;
  }
}

void apply_stage_event(RoomState& s, const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kStageStarted:
      start_turn(s, e.stage_started().stage_index(), e.stage_started().speaker(), false, e.at_ms());
      break;
    case v1::Event::kRolesSwitched:
      start_turn(s, s.turn.stage_index, e.roles_switched().speaker(), true, e.at_ms());
      break;
    case v1::Event::kShared:
      add_content(s, e);
      s.turn.last_speaker_content_ms = e.at_ms();
      s.turn.after_correction = false;
      answer_requests(s, RequestKind::kQuestion);  // the chunk answers the listener's questions
      clear_move_on(s);
      if (detail::current_stage(s).mirror_each_chunk()) s.phase = v1::PHASE_MIRRORING;
      break;
    case v1::Event::kReflected:
      add_content(s, e);
      answer_requests(s, RequestKind::kQuestion);  // the listener moved on from the question
      s.turn.confirming = e.reflected().kind();
      s.phase = v1::PHASE_CONFIRMING;
      break;
    case v1::Event::kConfirmed: apply_confirmed(s, e); break;
    case v1::Event::kCorrected:
      add_content(s, e);
      s.turn.last_speaker_content_ms = e.at_ms();
      s.turn.after_correction = true;
      s.phase = detail::phase_for_reflection(s.turn.confirming);
      break;
    case v1::Event::kMoreAnswered:
      if (e.more_answered().more()) {
        s.phase = v1::PHASE_SPEAKING;
      } else {
        go_to_reflection(s, 0);
      }
      break;
    case v1::Event::kStillNeeded: add_content(s, e); break;
    case v1::Event::kAsked:
      add_content(s, e);
      add_request(s, e, RequestKind::kQuestion);
      break;
    case v1::Event::kAdvised:
      add_content(s, e);
      answer_requests(s, RequestKind::kAdviceRequest);
      break;
    case v1::Event::kAdviceRequested:
      s.turn.advice_requested = true;
      add_request(s, e, RequestKind::kAdviceRequest);
      break;
    case v1::Event::kMoveOnChosen: partner(s, e.actor().role()).moves_on = true; break;
    case v1::Event::kTurnTimeHint: s.turn.turn_hint_sent = true; break;
    default: break;
  }
}

void apply_other_event(RoomState& s, const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kRoomCreated: apply_room_created(s, e); break;
    case v1::Event::kInvitationAccepted:
    case v1::Event::kAppointmentDue:
      answer_time_proposals(s);
      s.phase = v1::PHASE_CONSENT;
      break;
    case v1::Event::kTimeProposed:
      answer_time_proposals(s);
      add_request(s, e, RequestKind::kTimeProposal);
      s.appointment_at_ms = e.time_proposed().start_at_ms();
      break;
    case v1::Event::kConsentGiven: apply_consent(s, e); break;
    case v1::Event::kObserverApproved:
      set_observer_approval(s, e, e.observer_approved().observer(), true);
      break;
    case v1::Event::kObserverRevoked:
      set_observer_approval(s, e, e.observer_revoked().observer(), false);
      break;
    case v1::Event::kObserverJoined:
      set_observer_status(s, e.observer_joined().observer(), v1::OBSERVER_JOINED);
      break;
    case v1::Event::kObserverLeft:
      set_observer_status(s, e.observer_left().observer(), v1::OBSERVER_LEFT);
      break;
    case v1::Event::kConversationOpened:
      add_content(s, e);
      s.initiator = e.actor().role();
      s.startup = StartupLines{e.conversation_opened().startup().feeling(),
                               e.conversation_opened().startup().situation(),
                               e.conversation_opened().startup().need()};
      s.intention = e.conversation_opened().intention();
      if (!e.conversation_opened().topic().empty()) {
        s.topic = e.conversation_opened().topic();
        s.topic_from_opening = true;
      }
      break;
    case v1::Event::kSolutionGateOpened:
      expire_turn_requests(s);
      s.phase = v1::PHASE_SOLUTION_GATE;
      break;
    case v1::Event::kUnderstoodSent: partner(s, e.actor().role()).understood = true; break;
    case v1::Event::kFeltUnderstood: partner(s, e.actor().role()).feels_understood = true; break;
    case v1::Event::kProblemSolvingChosen:
      partner(s, e.actor().role()).problem_solving =
          e.problem_solving_chosen().opt_in() ? Choice::kOptIn : Choice::kOptOut;
      break;
    case v1::Event::kProblemSolvingStarted: s.phase = v1::PHASE_PROBLEM_SOLVING; break;
    case v1::Event::kProposed:
      add_content(s, e);
      add_request(s, e, RequestKind::kProposal);
      break;
    case v1::Event::kProposalAccepted: apply_request_answer(s, e.proposal_accepted().seq()); break;
    case v1::Event::kDeclined: apply_request_answer(s, e.declined().seq()); break;
    case v1::Event::kClosingStarted:
      expire_turn_requests(s);
      s.phase = v1::PHASE_CLOSING;
      break;
    case v1::Event::kAppreciated:
      add_content(s, e);
      partner(s, e.actor().role()).done = true;
      break;
    case v1::Event::kFinished: partner(s, e.actor().role()).done = true; break;
    case v1::Event::kConversationClosed:
      leave_overlay(s, v1::PHASE_CLOSED);
      s.closed_reason = e.conversation_closed().reason();
      s.appointment_at_ms = 0;
      break;
    case v1::Event::kRetracted: apply_retracted(s, e.retracted().seq()); break;
    default: break;
  }
}

}  // namespace

void evolve(RoomState& state, const v1::Event& event) {
  MEND_INVARIANT(event.seq() == state.last_seq + 1, "evolve: the event's seq is last_seq + 1");
  MEND_INVARIANT(event.has_room_created() == (state.last_seq == 0),
                 "evolve: a room begins with RoomCreated, and only once");
  state.last_seq = event.seq();
  switch (event.body_case()) {
    case v1::Event::kPaused: case v1::Event::kTimedOut: case v1::Event::kConsultBreakStarted:
    case v1::Event::kCheckInStarted: case v1::Event::kSuspended: case v1::Event::kExtended:
    case v1::Event::kTimeOutReturnDue: case v1::Event::kRescheduled: case v1::Event::kReadySent:
    case v1::Event::kResumed:
      apply_overlay_event(state, event);
      break;
    case v1::Event::kStageStarted: case v1::Event::kRolesSwitched: case v1::Event::kShared:
    case v1::Event::kReflected: case v1::Event::kConfirmed: case v1::Event::kCorrected:
    case v1::Event::kMoreAnswered: case v1::Event::kStillNeeded: case v1::Event::kAsked:
    case v1::Event::kAdvised: case v1::Event::kAdviceRequested: case v1::Event::kTurnTimeHint:
    case v1::Event::kMoveOnChosen:
      apply_stage_event(state, event);
      break;
    default:
      apply_other_event(state, event);
      break;
  }
  check_state(state);
}

}  // namespace mend::engine
