#include "server/engine/checks.h"

#include <algorithm>

#include "server/engine/engine.h"
#include "server/engine/flow.h"

namespace mend::engine::detail {
namespace {

using v1::Action;
using v1::Phase;

// A fixed message: `message` must have static storage (a string literal).
Check refuse(v1::RejectionCode code, const char* message) {
  return Refusal{code, message, {}, 0};
}

Check refuse(v1::RejectionCode code, std::string message) {
  return Refusal{code, nullptr, std::make_unique<std::string>(std::move(message)), 0};
}

// The two forms of gate's result (checks.h). The rules below are templates over the form, so
// gate and gate_refuses run one source: a rule returns `{}` when it passes and P::refuse when
// it does not. WithRefusal builds the refusal decide sends; OnlyWhether is `true` when
// refused and builds nothing (a view asks gate about every action, and most refuse).
struct WithRefusal {
  using Result = Check;
  static Result refuse(v1::RejectionCode code, const char* message) {
    return detail::refuse(code, message);
  }
  template <typename Message>
  static Result refuse_built(v1::RejectionCode code, Message message) {
    return detail::refuse(code, message());
  }
};

struct OnlyWhether {
  using Result = bool;
  static Result refuse(v1::RejectionCode /*code*/, const char* /*message*/) { return true; }
  template <typename Message>
  static Result refuse_built(v1::RejectionCode /*code*/, Message /*message*/) {
    return true;
  }
};

// ---- who may send what ---------------------------------------------------------------

enum class Audience { kPartners, kObservers, kEveryone };

constexpr Audience audience(Action action) {
  switch (action) {
    case v1::ACTION_RETURN:
    case v1::ACTION_LEAVE:
      return Audience::kEveryone;
    case v1::ACTION_JOIN:
    case v1::ACTION_NOTE:
    case v1::ACTION_PROMPT:
    case v1::ACTION_CONSULT_BREAK:
    case v1::ACTION_END_SESSION:
      return Audience::kObservers;
    default:
      return Audience::kPartners;
  }
}

constexpr bool is_content(Action action) {
  switch (action) {
    case v1::ACTION_OPEN: case v1::ACTION_SHARE: case v1::ACTION_REFLECT:
    case v1::ACTION_CONFIRM: case v1::ACTION_CORRECT: case v1::ACTION_MORE:
    case v1::ACTION_NO_MORE: case v1::ACTION_PASS_FLOOR: case v1::ACTION_ACCEPT_APOLOGY:
    case v1::ACTION_STILL_NEED: case v1::ACTION_ASK: case v1::ACTION_REQUEST_ADVICE:
    case v1::ACTION_ADVISE: case v1::ACTION_MOVE_ON: case v1::ACTION_UNDERSTOOD:
    case v1::ACTION_FEEL_UNDERSTOOD: case v1::ACTION_PROBLEM_SOLVING_CHOICE:
    case v1::ACTION_PROPOSE: case v1::ACTION_ACCEPT_PROPOSAL:
    case v1::ACTION_FINISH_PROBLEM_SOLVING: case v1::ACTION_APPRECIATE: case v1::ACTION_FINISH:
    case v1::ACTION_PROMPT:
      return true;
    default:
      return false;
  }
}

template <typename P>
typename P::Result check_role(Action action, const Ctx& c) {
  const Audience who = audience(action);
  if (c.role == v1::OBSERVER && who == Audience::kPartners) {
    return P::refuse(v1::NOT_ALLOWED_FOR_ROLE,
                     "Only the two partners can do that. As an observer you can take notes, "
                     "send a prompt or call a consultation break.");
  }
  if (c.role != v1::OBSERVER && who == Audience::kObservers) {
    return P::refuse(v1::NOT_ALLOWED_FOR_ROLE,
                     "That is something only an observer can do; as a partner you take part "
                     "in the conversation itself.");
  }
  if (c.role != v1::OBSERVER) return {};
  if (c.observer_index < 0) {
    return P::refuse(v1::UNKNOWN_OBSERVER, "No observer of that name was invited to this room.");
  }
  const ObserverState& me = c.state.observers[static_cast<std::size_t>(c.observer_index)];
  if (!me.approved()) {
    return P::refuse(v1::OBSERVER_NOT_APPROVED,
                     "An observer can take part only while both partners approve them; "
                     "that approval is not there right now.");
  }
  if (action == v1::ACTION_JOIN) {
    if (me.status == v1::OBSERVER_JOINED) {
      return P::refuse(v1::ALREADY_DONE, "You have already joined this room.");
    }
    return {};
  }
  if (me.status != v1::OBSERVER_JOINED) {
    return P::refuse(v1::WRONG_PHASE, "Please join the room first.");
  }
  return {};
}

template <typename P>
typename P::Result check_overlay(Action action, const Ctx& c) {
  switch (c.state.phase) {
    case v1::PHASE_PAUSED:
      return P::refuse(v1::PAUSED,
                       "The conversation is paused for a moment; messages can be sent again "
                       "once it continues.");
    case v1::PHASE_CHECK_IN:
      return P::refuse(v1::PAUSED,
                       "The conversation continues once both of you said you are ready.");
    case v1::PHASE_TIMED_OUT:
      return P::refuse(v1::TIMED_OUT,
                       "A time-out is in progress: the conversation rests until the partner "
                       "who called it returns, so nobody gets the last word.");
    case v1::PHASE_SUSPENDED:
      return P::refuse(v1::SUSPENDED_RESUMPTION_OWED,
                       "The conversation is on hold after a long time-out; first agree on a "
                       "time to resume (reschedule).");
    case v1::PHASE_CONSULT_BREAK:
      if (action == v1::ACTION_PROMPT) return {};
      return P::refuse(v1::CONSULT_BREAK_ACTIVE,
                       "Your counselor has called a short break; the conversation continues "
                       "after it.");
    default:
      return {};
  }
}

}  // namespace

// ---- bounded lists (limits::kConversationMessages) ------------------------------------

bool adds_request(Action action) {
  switch (action) {
    case v1::ACTION_PROPOSE_TIME: case v1::ACTION_ASK: case v1::ACTION_REQUEST_ADVICE:
    case v1::ACTION_PROPOSE:
      return true;
    default:
      return false;
  }
}

namespace {

template <typename P>
typename P::Result conversation_full(const char* entries, const char* still_possible) {
  return P::refuse_built(v1::CONVERSATION_FULL, [&] {
    return "This conversation now holds " + count_text(limits::kConversationMessages.bound) +
           " " + entries + ", as many as one conversation can keep, so nothing new can be added "
           "here. You can still " + still_possible + " or bring it to a close; to keep talking, "
           "you are welcome to start a new conversation.";
  });
}

// Nothing is dropped to make room (every message stays retractable and mirrorable): a full
// list refuses what would add to it, and everything else goes on working.
template <typename P>
typename P::Result check_room_left(Action action, const Ctx& c) {
  const std::size_t bound = limits::kConversationMessages.bound;
  // The actions that carry typed text are exactly those whose event adds a content message.
  if (c.state.messages.size() >= bound && carries_text(action)) {
    return conversation_full<P>("messages", "pause, take a message back");
  }
  if (c.state.requests.size() >= bound && adds_request(action)) {
    return conversation_full<P>("requests", "answer or decline the requests waiting, pause");
  }
  return {};
}

// ---- phase and turn -----------------------------------------------------------------

const char* const kListenerTurn =
    "It's your partner's turn to speak; you'll get the floor after they finish.";
const char* const kSpeakerTurn =
    "You hold the floor right now; this step is your partner's, as the listener.";

bool is_speaker(const Ctx& c) { return c.role == c.state.turn.speaker; }

// A speaker step: fits when `fits`; the listener gets NOT_YOUR_TURN.
template <typename P>
typename P::Result speaker_step(const Ctx& c, bool fits, const char* wrong_phase) {
  if (!fits) return P::refuse(v1::WRONG_PHASE, wrong_phase);
  if (!is_speaker(c)) return P::refuse(v1::NOT_YOUR_TURN, kListenerTurn);
  return {};
}

template <typename P>
typename P::Result listener_step(const Ctx& c, bool fits, const char* wrong_phase) {
  if (!fits) return P::refuse(v1::WRONG_PHASE, wrong_phase);
  if (is_speaker(c)) return P::refuse(v1::NOT_YOUR_TURN, kSpeakerTurn);
  return {};
}

constexpr bool in_conversation(Phase phase) {
  return phase >= v1::PHASE_OPENING && phase <= v1::PHASE_CLOSING;
}

bool pending_time_proposal(const RoomState& s) {
  return s.phase == v1::PHASE_INVITED && s.appointment_at_ms != 0;
}

template <typename P>
typename P::Result check_invited(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  if (s.phase != v1::PHASE_INVITED) {
    return P::refuse(v1::WRONG_PHASE, "The invitation has already been answered.");
  }
  if (c.role == v1::PARTNER_B) return {};
  if (action == v1::ACTION_ACCEPT_INVITATION && pending_time_proposal(s)) return {};
  if (action == v1::ACTION_ACCEPT_INVITATION) {
    return P::refuse(v1::NOT_YOUR_TURN,
                     "Your partner answers the invitation; once they propose a time you can "
                     "accept it.");
  }
  return P::refuse(v1::NOT_YOUR_TURN,
                   "Your partner proposes the time; you can accept or decline what they propose.");
}

template <typename P>
typename P::Result check_stage_step(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  const Phase p = s.phase;
  const bool round = is_stage_round(p);
  auto stage = [&s] { return &current_stage(s); };  // only in a stage round's phases
  switch (action) {
    case v1::ACTION_SHARE:
      // While a mirror is owed, the speaker shares only to answer a request for clarification.
      return speaker_step<P>(c, p == v1::PHASE_SPEAKING || (p == v1::PHASE_MIRRORING &&
                                                         question_pending(s)),
                          "Sharing happens while the speaker holds the floor; the "
                          "conversation is at another step right now.");
    case v1::ACTION_PASS_FLOOR:
      // At any point of one's own turn, also while being mirrored: a boundary, never penalised.
      return speaker_step<P>(c, round, "The floor can be passed during your own turn.");
    case v1::ACTION_MOVE_ON:
      if (p != v1::PHASE_SPEAKING || !stage()->until_both_move_on()) {
        return P::refuse(v1::WRONG_PHASE,
                         "Moving on is chosen while the floor is with one of you, between chunks, "
                         "in a step where the floor goes back and forth.");
      }
      if (partner(s, c.role).moves_on) {
        return P::refuse(v1::ALREADY_DONE, "You have already said you are ready to move on; "
                                           "your partner decides too.");
      }
      return {};
    case v1::ACTION_CONFIRM:
    case v1::ACTION_CORRECT:
      return speaker_step<P>(c, p == v1::PHASE_CONFIRMING,
                          "There is no reflection waiting for your confirmation right now.");
    case v1::ACTION_MORE:
      return speaker_step<P>(c, p == v1::PHASE_MORE,
                          "\"Is there more?\" comes after a confirmed mirror.");
    case v1::ACTION_NO_MORE:
      return speaker_step<P>(
          c, p == v1::PHASE_MORE || (p == v1::PHASE_SPEAKING && !stage()->mirror_each_chunk()),
          "\"Is there more?\" comes after a confirmed mirror.");
    case v1::ACTION_REQUEST_ADVICE:
      if (auto r = speaker_step<P>(c, p == v1::PHASE_SPEAKING && stage()->advice_on_request(),
                                "Asking for advice is not part of this step.")) {
        return r;
      }
      if (s.turn.advice_requested) {
        return P::refuse(v1::ALREADY_DONE, "You have already asked for advice in this turn.");
      }
      return {};
    case v1::ACTION_REFLECT:
      return listener_step<P>(c, reflection_for_phase(p) != v1::REFLECTION_KIND_UNSPECIFIED,
                           "There is nothing to reflect back right now.");
    case v1::ACTION_ACCEPT_APOLOGY:
    case v1::ACTION_STILL_NEED:
      return listener_step<P>(c, p == v1::PHASE_APOLOGY_RESPONSE,
                           "Answering an apology comes at the end of the speaker's turn.");
    case v1::ACTION_ASK:
      return listener_step<P>(c,
                           (p == v1::PHASE_SPEAKING && stage()->listener_may_ask()) ||
                               (p == v1::PHASE_MIRRORING && stage()->listener_may_clarify()),
                           "Questions are not part of this step; for now, listen and reflect.");
    case v1::ACTION_ADVISE:
      if (auto r = listener_step<P>(c, p == v1::PHASE_SPEAKING && stage()->advice_on_request(),
                                 "Advice is not part of this step; for now, listen and "
                                 "reflect.")) {
        return r;
      }
      if (!s.turn.advice_requested) {
        return P::refuse(v1::ADVICE_NOT_REQUESTED,
                         "Advice waits until your partner asks for it; for now, listen and "
                         "reflect.");
      }
      return {};
    default:
      return P::refuse(v1::WRONG_PHASE, "That doesn't fit this step of the conversation.");
  }
}

template <typename P>
typename P::Result check_shared_step(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  auto me = [&]() -> const PartnerState& { return partner(s, c.role); };
  switch (action) {
    case v1::ACTION_UNDERSTOOD:
    case v1::ACTION_FEEL_UNDERSTOOD:
    case v1::ACTION_PROBLEM_SOLVING_CHOICE:
      if (s.phase != v1::PHASE_SOLUTION_GATE) {
        return P::refuse(v1::WRONG_PHASE,
                         "This comes after both of you have been heard, before problem solving.");
      }
      if (action == v1::ACTION_UNDERSTOOD && me().understood) {
        return P::refuse(v1::ALREADY_DONE, "You have already said you understand.");
      }
      if (action == v1::ACTION_FEEL_UNDERSTOOD && me().feels_understood) {
        return P::refuse(v1::ALREADY_DONE, "You have already said you feel understood.");
      }
      if (action == v1::ACTION_PROBLEM_SOLVING_CHOICE && me().problem_solving != Choice::kNone) {
        return P::refuse(v1::ALREADY_DONE,
                         "You have already made your choice about problem solving.");
      }
      return {};
    case v1::ACTION_PROPOSE:
    case v1::ACTION_ACCEPT_PROPOSAL:
    case v1::ACTION_FINISH_PROBLEM_SOLVING:
      if (s.phase != v1::PHASE_PROBLEM_SOLVING) {
        return P::refuse(v1::WRONG_PHASE,
                         "Proposals wait until both of you feel understood and chose to solve "
                         "problems together.");
      }
      return {};
    case v1::ACTION_APPRECIATE:
    case v1::ACTION_FINISH:
      if (s.phase != v1::PHASE_CLOSING) {
        return P::refuse(v1::WRONG_PHASE, "Appreciations come at the close of the conversation.");
      }
      if (me().done) return P::refuse(v1::ALREADY_DONE, "You have already closed your part.");
      return {};
    default:
      return check_stage_step<P>(action, c);
  }
}

template <typename P>
typename P::Result check_overlay_command(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  switch (action) {
    case v1::ACTION_PAUSE:
    case v1::ACTION_CONSULT_BREAK:
      if (is_overlay(s.phase) || !in_conversation(s.phase)) {
        return P::refuse(v1::WRONG_PHASE,
                         is_overlay(s.phase)
                             ? "The conversation is already resting; a new break can start once "
                               "it continues."
                             : "Breaks are for a conversation in progress; it has not started "
                               "yet.");
      }
      return {};
    case v1::ACTION_TIME_OUT:
      if (s.phase == v1::PHASE_PAUSED || s.phase == v1::PHASE_CHECK_IN) return {};
      if (is_overlay(s.phase) || !in_conversation(s.phase)) {
        return P::refuse(v1::WRONG_PHASE,
                         "A time-out is for a conversation in progress and can't start during "
                         "this break.");
      }
      return {};
    case v1::ACTION_RETURN:
      if (s.phase == v1::PHASE_CONSULT_BREAK) {
        const bool caller = c.role == v1::OBSERVER &&
                            s.observers[static_cast<std::size_t>(c.observer_index)].name ==
                                s.overlay.observer;
        if (caller) return {};
        return P::refuse(v1::ONLY_CALLER,
                         "Only the counselor who called this break can end it early.");
      }
      if (s.phase == v1::PHASE_PAUSED || s.phase == v1::PHASE_TIMED_OUT) {
        if (c.role == s.overlay.caller) return {};
        return P::refuse(v1::ONLY_CALLER,
                         s.phase == v1::PHASE_PAUSED
                             ? "Only the partner who asked for the pause can end it early."
                             : "Only the partner who called the time-out can end it; they "
                               "committed to return.");
      }
      return P::refuse(v1::WRONG_PHASE, "There is no pause, time-out or break to return from.");
    case v1::ACTION_EXTEND:
      if (s.phase != v1::PHASE_TIMED_OUT) {
        return P::refuse(v1::WRONG_PHASE, "Only a running time-out can be extended.");
      }
      if (c.role != s.overlay.caller) {
        return P::refuse(v1::ONLY_CALLER,
                         "Only the partner who called the time-out can extend it.");
      }
      return {};
    case v1::ACTION_READY:
      if (s.phase != v1::PHASE_CHECK_IN) {
        return P::refuse(v1::WRONG_PHASE, "\"Ready to continue?\" is asked after a break.");
      }
      if (partner(s, c.role).ready) {
        return P::refuse(v1::ALREADY_DONE, "You have already said you are ready.");
      }
      return {};
    case v1::ACTION_RESCHEDULE:
      if (s.phase != v1::PHASE_SUSPENDED) {
        return P::refuse(v1::WRONG_PHASE,
                         "Rescheduling is for a conversation on hold after a long time-out.");
      }
      return {};
    case v1::ACTION_REPAIR:
      if (s.phase == v1::PHASE_TIMED_OUT) {
        return P::refuse(v1::TIMED_OUT,
                         "During a time-out nobody gets the last word, not even a repair; it "
                         "can wait until the conversation continues.");
      }
      if (s.phase == v1::PHASE_SUSPENDED) {
        return P::refuse(v1::SUSPENDED_RESUMPTION_OWED,
                         "The conversation is on hold; first agree on a time to resume.");
      }
      return {};
    default:
      return {};
  }
}

template <typename P>
typename P::Result check_phase(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  switch (action) {
    case v1::ACTION_ACCEPT_INVITATION:
    case v1::ACTION_PROPOSE_TIME:
      return check_invited<P>(action, c);
    case v1::ACTION_CONSENT:
      if (s.phase == v1::PHASE_INVITED) {
        return P::refuse(v1::WRONG_PHASE, "Consent comes once the invitation is accepted.");
      }
      return {};
    case v1::ACTION_OPEN:
      if (s.phase != v1::PHASE_OPENING) {
        return P::refuse(v1::WRONG_PHASE,
                         s.phase < v1::PHASE_OPENING
                             ? "The conversation opens once both of you have given consent."
                             : "The conversation has already been opened.");
      }
      if (c.role != v1::PARTNER_A && !s.tmpl->opening().either_partner_opens()) {
        return P::refuse(v1::NOT_YOUR_TURN,
                         "Your partner opens this conversation; you'll have the floor soon.");
      }
      return {};
    case v1::ACTION_APPROVE_OBSERVER: case v1::ACTION_REVOKE_OBSERVER: case v1::ACTION_JOIN:
    case v1::ACTION_SIGNAL: case v1::ACTION_RETRACT: case v1::ACTION_DECLINE:
    case v1::ACTION_LEAVE: case v1::ACTION_NOTE: case v1::ACTION_PROMPT:
    case v1::ACTION_END_SESSION:
      return {};
    case v1::ACTION_PAUSE: case v1::ACTION_TIME_OUT: case v1::ACTION_RETURN:
    case v1::ACTION_EXTEND: case v1::ACTION_READY: case v1::ACTION_RESCHEDULE:
    case v1::ACTION_REPAIR: case v1::ACTION_CONSULT_BREAK:
      return check_overlay_command<P>(action, c);
    default:
      return check_shared_step<P>(action, c);
  }
}

// ---- what the phase and the seat alone rule out (actions_gate_may_pass) -------------------
// Each function below keeps, of one gate rule above, only the refusals decided by the phase and
// the seat; a refusal that depends on anything else (who called a pause, what is already done,
// the template, the lists) passes here, so the table is a superset of what gate lets pass.

// gate_in's first two refusals and check_role's audience.
constexpr bool room_and_role_may_pass(Action action, Phase p, Seat seat) {
  if (p == v1::PHASE_UNSPECIFIED) return false;
  if (p == v1::PHASE_CLOSED && action != v1::ACTION_REVOKE_OBSERVER) return false;
  const Audience who = audience(action);
  if (seat == Seat::kObserver) return who != Audience::kPartners;
  return who != Audience::kObservers;
}

// check_overlay, for content actions.
constexpr bool overlay_may_pass(Action action, Phase p) {
  if (!is_content(action) || !is_overlay(p)) return true;
  return p == v1::PHASE_CONSULT_BREAK && action == v1::ACTION_PROMPT;
}

// check_stage_step: speaker_step refuses the listener, listener_step the speaker.
constexpr bool stage_step_may_pass(Action action, Phase p, bool speaker) {
  switch (action) {
    case v1::ACTION_SHARE:
      return speaker && (p == v1::PHASE_SPEAKING || p == v1::PHASE_MIRRORING);
    case v1::ACTION_PASS_FLOOR: return speaker && is_stage_round(p);
    case v1::ACTION_MOVE_ON: return p == v1::PHASE_SPEAKING;
    case v1::ACTION_CONFIRM:
    case v1::ACTION_CORRECT: return speaker && p == v1::PHASE_CONFIRMING;
    case v1::ACTION_MORE: return speaker && p == v1::PHASE_MORE;
    case v1::ACTION_NO_MORE: return speaker && (p == v1::PHASE_MORE || p == v1::PHASE_SPEAKING);
    case v1::ACTION_REQUEST_ADVICE: return speaker && p == v1::PHASE_SPEAKING;
    case v1::ACTION_REFLECT:
      return !speaker && reflection_for_phase(p) != v1::REFLECTION_KIND_UNSPECIFIED;
    case v1::ACTION_ACCEPT_APOLOGY:
    case v1::ACTION_STILL_NEED: return !speaker && p == v1::PHASE_APOLOGY_RESPONSE;
    case v1::ACTION_ASK:
      return !speaker && (p == v1::PHASE_SPEAKING || p == v1::PHASE_MIRRORING);
    case v1::ACTION_ADVISE: return !speaker && p == v1::PHASE_SPEAKING;
    default: return false;
  }
}

// check_phase, with check_invited, check_overlay_command and check_shared_step.
constexpr bool phase_step_may_pass(Action action, Phase p, Seat seat) {
  const bool resting = is_overlay(p);
  switch (action) {
    case v1::ACTION_ACCEPT_INVITATION:
    case v1::ACTION_PROPOSE_TIME: return p == v1::PHASE_INVITED;
    case v1::ACTION_CONSENT: return p != v1::PHASE_INVITED;
    case v1::ACTION_OPEN: return p == v1::PHASE_OPENING;
    case v1::ACTION_APPROVE_OBSERVER: case v1::ACTION_REVOKE_OBSERVER: case v1::ACTION_JOIN:
    case v1::ACTION_SIGNAL: case v1::ACTION_RETRACT: case v1::ACTION_DECLINE:
    case v1::ACTION_LEAVE: case v1::ACTION_NOTE: case v1::ACTION_PROMPT:
    case v1::ACTION_END_SESSION:
      return true;
    case v1::ACTION_PAUSE:
    case v1::ACTION_CONSULT_BREAK: return !resting && in_conversation(p);
    case v1::ACTION_TIME_OUT:
      return p == v1::PHASE_PAUSED || p == v1::PHASE_CHECK_IN || (!resting && in_conversation(p));
    case v1::ACTION_RETURN:
      return p == v1::PHASE_CONSULT_BREAK || p == v1::PHASE_PAUSED || p == v1::PHASE_TIMED_OUT;
    case v1::ACTION_EXTEND: return p == v1::PHASE_TIMED_OUT;
    case v1::ACTION_READY: return p == v1::PHASE_CHECK_IN;
    case v1::ACTION_RESCHEDULE: return p == v1::PHASE_SUSPENDED;
    case v1::ACTION_REPAIR: return p != v1::PHASE_TIMED_OUT && p != v1::PHASE_SUSPENDED;
    case v1::ACTION_UNDERSTOOD: case v1::ACTION_FEEL_UNDERSTOOD:
    case v1::ACTION_PROBLEM_SOLVING_CHOICE: return p == v1::PHASE_SOLUTION_GATE;
    case v1::ACTION_PROPOSE: case v1::ACTION_ACCEPT_PROPOSAL:
    case v1::ACTION_FINISH_PROBLEM_SOLVING: return p == v1::PHASE_PROBLEM_SOLVING;
    case v1::ACTION_APPRECIATE:
    case v1::ACTION_FINISH: return p == v1::PHASE_CLOSING;
    default: return stage_step_may_pass(action, p, seat == Seat::kSpeaker);
  }
}

constexpr int kSeats = 3;
using PassTable = std::array<std::array<ActionSet, kSeats>, v1::Phase_ARRAYSIZE>;

consteval PassTable build_pass_table() {
  PassTable table{};
  for (int p = 0; p < v1::Phase_ARRAYSIZE; ++p) {
    for (int seat = 0; seat < kSeats; ++seat) {
      const auto phase = static_cast<Phase>(p);
      const auto where = static_cast<Seat>(seat);
      for (std::size_t i = 0; i < kAllActions.size(); ++i) {
        const Action a = kAllActions[i];
        if (room_and_role_may_pass(a, phase, where) && overlay_may_pass(a, phase) &&
            phase_step_may_pass(a, phase, where)) {
          table[static_cast<std::size_t>(p)][static_cast<std::size_t>(seat)] |= ActionSet{1} << i;
        }
      }
    }
  }
  return table;
}

constexpr PassTable kPassTable = build_pass_table();

// ---- arguments -----------------------------------------------------------------------

bool blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
  });
}

Check check_text(const std::string& text, const char* what) {
  if (blank(text)) {
    return refuse(v1::EMPTY, std::string("Please write something first: ") + what +
                                 " can't be empty.");
  }
  if (text.size() > limits::kTextBytes.bound) {
    return refuse(v1::TOO_LONG, std::string("That is longer than the ") +
                                    std::to_string(limits::kTextBytes.bound) + " characters " + what +
                                    " may hold; please shorten it.");
  }
  return std::nullopt;
}

Check check_optional_text(const std::string& text, const char* what) {
  if (text.size() > limits::kTextBytes.bound) return check_text(text, what);
  return std::nullopt;
}

Check out_of_bounds(const char* message) { return refuse(v1::DURATION_OUT_OF_BOUNDS, message); }

Check out_of_bounds(std::string message) {
  return refuse(v1::DURATION_OUT_OF_BOUNDS, std::move(message));
}

constexpr TimeMs kMsPerS = 1000;

Check check_appointment_time(const Ctx& c, TimeMs start_at) {
  const TimeMs window = static_cast<TimeMs>(c.state.timing.appointment_window_s) * kMsPerS;
  if (start_at <= c.now || start_at > c.now + window) {
    return out_of_bounds("The time has to be in the future and within the appointment window.");
  }
  return std::nullopt;
}

Check check_consent(const v1::ConsentTerms& terms, const Ctx& c) {
  for (const std::string& name : terms.observers()) {
    if (find_observer(c.state, name) < 0) {
      return refuse(v1::UNKNOWN_OBSERVER,
                    "Only observers invited to this room can be approved.");
    }
  }
  if (terms.retention_days() > limits::kRetentionDays.bound) {
    return out_of_bounds("Content can be kept for at most " +
                         std::to_string(limits::kRetentionDays.bound) + " days.");
  }
  return std::nullopt;
}

bool approved_by(const ObserverState& o, v1::Role role) {
  return role == v1::PARTNER_A ? o.approved_by_a : o.approved_by_b;
}

Check check_observer_name(const std::string& name, bool approve, const Ctx& c) {
  const int index = find_observer(c.state, name);
  if (index < 0) {
    return refuse(v1::UNKNOWN_OBSERVER, "No observer of that name was invited to this room.");
  }
  const bool mine = approved_by(c.state.observers[static_cast<std::size_t>(index)], c.role);
  if (approve && mine) return refuse(v1::ALREADY_DONE, "You have already approved this observer.");
  if (!approve && !mine) {
    return refuse(v1::ALREADY_DONE, "This observer is not approved by you, so there is "
                                    "nothing to revoke.");
  }
  return std::nullopt;
}

Check check_open(const v1::Open& open, const Ctx& c) {
  if (auto r = check_text(open.intention(), "your intention")) return r;
  if (blank(open.topic()) && c.state.topic.empty()) {
    return refuse(v1::EMPTY, "Please name the one topic of this conversation.");
  }
  if (auto r = check_optional_text(open.topic(), "the topic")) return r;
  if (auto r = check_optional_text(open.startup().feeling(), "a start-up line")) return r;
  if (auto r = check_optional_text(open.startup().situation(), "a start-up line")) return r;
  return check_optional_text(open.startup().need(), "a start-up line");
}

Check check_share(const v1::Share& share, const Ctx& c) {
  if (blank(share.text())) return refuse(v1::EMPTY, "Please write something to share first.");
  const std::uint32_t limit = chunk_max_chars(current_stage(c.state));
  if (utf8_chars(share.text()) > limit) {
    return refuse(v1::TOO_LONG, "One chunk may hold up to " + std::to_string(limit) +
                                    " characters here; please share it in smaller pieces so "
                                    "your partner can mirror each one.");
  }
  return std::nullopt;
}

Check check_reflect(const v1::Reflect& reflect, const Ctx& c) {
  const v1::ReflectionKind owed = reflection_for_phase(c.state.phase);
  if (reflect.kind() != owed) {
    return refuse(v1::WRONG_PHASE,
                  "This step asks for a different kind of reflection; see the prompt.");
  }
  if (auto r = check_text(reflect.text(), "a reflection")) return r;
  const TimeMs not_before = reflect_not_before(c.state);
  if (c.now < not_before) {
    Refusal r{v1::TOO_SOON,
              "Take a breath before reflecting: a moment to let your partner's words land.",
              {}, static_cast<std::uint32_t>(not_before - c.now)};
    return r;
  }
  return std::nullopt;
}

Check check_retract(const Ctx& c, std::uint64_t seq) {
  const ContentMessage* m = find_message(c.state, seq);
  if (m == nullptr) return refuse(v1::NOT_FOUND, "There is no message with that number.");
  if (m->author != c.role) return refuse(v1::NOT_YOURS, "You can take back only your own messages.");
  if (m->retracted) return refuse(v1::ALREADY_DONE, "That message has already been taken back.");
  return std::nullopt;
}

Check check_request(const Ctx& c, std::uint64_t seq, bool accept) {
  const Request* r = find_request(c.state, seq);
  if (r == nullptr || (accept && r->kind != RequestKind::kProposal)) {
    return refuse(v1::NOT_FOUND, accept ? "There is no proposal with that number."
                                        : "There is no request with that number.");
  }
  if (r->from == c.role) {
    return refuse(v1::NOT_YOURS, "That request is your own; it is your partner's to answer.");
  }
  if (r->answered) return refuse(v1::ALREADY_DONE, "That request has already been answered.");
  return std::nullopt;
}

Check check_time_out(const v1::TimeOut& t, const Ctx& c) {
  if (t.return_at_ms() == 0) return std::nullopt;  // default: within bounds by construction
  const ResolvedTiming& timing = c.state.timing;
  if (t.return_at_ms() < c.now + static_cast<TimeMs>(timing.time_out_min_s) * kMsPerS) {
    return out_of_bounds("A time-out needs at least " + duration_text(timing.time_out_min_s) +
                         " so both of you can calm down.");
  }
  if (t.return_at_ms() > c.now + static_cast<TimeMs>(timing.time_out_cap_s) * kMsPerS) {
    return out_of_bounds("A time-out can last at most " + duration_text(timing.time_out_cap_s) +
                         ".");
  }
  return std::nullopt;
}

Check check_extend(const v1::Extend& e, const Ctx& c) {
  if (e.return_at_ms() <= c.now || e.return_at_ms() > c.state.overlay.cap_at_ms) {
    return out_of_bounds("The new return time has to be in the future and before the "
                         "time-out's cap.");
  }
  return std::nullopt;
}

}  // namespace

Ctx make_ctx(const RoomState& state, const v1::Actor& actor, TimeMs now) {
  Ctx c{state, actor.role(), -1, now};
  if (actor.role() == v1::OBSERVER) c.observer_index = find_observer(state, actor.observer());
  return c;
}

Check validate(const v1::Command& command, const v1::Actor& actor) {
  const v1::Role role = actor.role();
  if (role != v1::PARTNER_A && role != v1::PARTNER_B && role != v1::OBSERVER) {
    return refuse(v1::INVALID_ARGUMENT, "Commands come from a partner or an observer.");
  }
  switch (command.body_case()) {
    case v1::Command::BODY_NOT_SET:
      return refuse(v1::INVALID_ARGUMENT, "The command is empty.");
    case v1::Command::kReflect: {
      const int kind = command.reflect().kind();
      if (kind == v1::REFLECTION_KIND_UNSPECIFIED || !v1::ReflectionKind_IsValid(kind)) {
        return refuse(v1::INVALID_ARGUMENT, "Please say which kind of reflection this is.");
      }
      return std::nullopt;
    }
    case v1::Command::kSignal: {
      const int kind = command.signal().kind();
      if (kind == v1::SIGNAL_KIND_UNSPECIFIED || !v1::SignalKind_IsValid(kind)) {
        return refuse(v1::INVALID_ARGUMENT, "Please choose one of the signals.");
      }
      return std::nullopt;
    }
    case v1::Command::kRepair: {
      const int kind = command.repair().kind();
      if (kind == v1::REPAIR_KIND_UNSPECIFIED || !v1::RepairKind_IsValid(kind)) {
        return refuse(v1::INVALID_ARGUMENT, "Please choose one of the repair phrases.");
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

namespace {

template <typename P>
typename P::Result gate_in(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  if (s.phase == v1::PHASE_UNSPECIFIED) {
    return P::refuse(v1::WRONG_PHASE, "This room has not been created yet.");
  }
  // A partner may revoke an observer at any time, also after the end (DESIGN 3).
  if (s.phase == v1::PHASE_CLOSED && action != v1::ACTION_REVOKE_OBSERVER) {
    return P::refuse(v1::ROOM_CLOSED, "This conversation has ended; nothing more can be sent.");
  }
  if (auto r = check_role<P>(action, c)) return r;
  if (auto r = check_room_left<P>(action, c)) return r;
  if (is_content(action)) {
    if (auto r = check_overlay<P>(action, c)) return r;
  }
  return check_phase<P>(action, c);
}

}  // namespace

Check gate(Action action, const Ctx& c) { return gate_in<WithRefusal>(action, c); }

Seat seat(const Ctx& c) {
  if (c.role == v1::OBSERVER) return Seat::kObserver;
  return c.role == c.state.turn.speaker ? Seat::kSpeaker : Seat::kOtherPartner;
}

ActionSet actions_gate_may_pass(Phase phase, Seat seat) {
  const auto p = static_cast<std::size_t>(phase);
  if (p >= kPassTable.size()) return ~ActionSet{0};  // not a known phase: ask gate about all
  return kPassTable[p][static_cast<std::size_t>(seat)];
}

bool gate_refuses(Action action, const Ctx& c) { return gate_in<OnlyWhether>(action, c); }

Check check_arguments(const v1::Command& cmd, const Ctx& c) {
  const ResolvedTiming& timing = c.state.timing;
  switch (cmd.body_case()) {
    case v1::Command::kProposeTime:
      return check_appointment_time(c, cmd.propose_time().start_at_ms());
    case v1::Command::kReschedule:
      return check_appointment_time(c, cmd.reschedule().start_at_ms());
    case v1::Command::kConsent:
      return check_consent(cmd.consent().terms(), c);
    case v1::Command::kApproveObserver:
      return check_observer_name(cmd.approve_observer().observer(), true, c);
    case v1::Command::kRevokeObserver:
      return check_observer_name(cmd.revoke_observer().observer(), false, c);
    case v1::Command::kOpen: return check_open(cmd.open(), c);
    case v1::Command::kShare: return check_share(cmd.share(), c);
    case v1::Command::kReflect: return check_reflect(cmd.reflect(), c);
    case v1::Command::kCorrect: return check_text(cmd.correct().text(), "a correction");
    case v1::Command::kStillNeed: return check_text(cmd.still_need().text(), "what you still need");
    case v1::Command::kAsk: return check_text(cmd.ask().text(), "a question");
    case v1::Command::kAdvise: return check_text(cmd.advise().text(), "advice");
    case v1::Command::kPropose: return check_text(cmd.propose().text(), "a proposal");
    case v1::Command::kAppreciate: return check_text(cmd.appreciate().text(), "an appreciation");
    case v1::Command::kNote: return check_text(cmd.note().text(), "a note");
    case v1::Command::kPrompt: return check_text(cmd.prompt().text(), "a prompt");
    case v1::Command::kAcceptProposal: return check_request(c, cmd.accept_proposal().seq(), true);
    case v1::Command::kDecline: return check_request(c, cmd.decline().seq(), false);
    case v1::Command::kRetract: return check_retract(c, cmd.retract().seq());
    case v1::Command::kPause:
      if (cmd.pause().duration_s() > timing.pause_max_s) {
        return out_of_bounds("A short pause can last at most " +
                             duration_text(timing.pause_max_s) +
                             "; for longer, a time-out fits better.");
      }
      return std::nullopt;
    case v1::Command::kConsultBreak:
      if (cmd.consult_break().duration_s() > timing.consult_break_max_s) {
        return out_of_bounds("A consultation break can last at most " +
                             duration_text(timing.consult_break_max_s) + ".");
      }
      return std::nullopt;
    case v1::Command::kTimeOut: return check_time_out(cmd.time_out(), c);
    case v1::Command::kExtend: return check_extend(cmd.extend(), c);
    default:
      return std::nullopt;
  }
}

bool some_arguments_valid(Action action, const Ctx& c) {
  const RoomState& s = c.state;
  switch (action) {
    case v1::ACTION_APPROVE_OBSERVER:
      return std::any_of(s.observers.begin(), s.observers.end(),
                         [&](const ObserverState& o) { return !approved_by(o, c.role); });
    case v1::ACTION_REVOKE_OBSERVER:
      return std::any_of(s.observers.begin(), s.observers.end(),
                         [&](const ObserverState& o) { return approved_by(o, c.role); });
    case v1::ACTION_RETRACT:
      return std::any_of(s.messages.begin(), s.messages.end(),
                         [&](const ContentMessage& m) { return may_retract(m, c.role); });
    case v1::ACTION_DECLINE:
      return std::any_of(s.requests.begin(), s.requests.end(),
                         [&](const Request& r) { return may_decline(r, c.role); });
    case v1::ACTION_ACCEPT_PROPOSAL:
      return std::any_of(s.requests.begin(), s.requests.end(),
                         [&](const Request& r) { return may_accept_proposal(r, c.role); });
    default:
      return true;
  }
}

bool may_retract(const ContentMessage& message, v1::Role role) {
  return message.author == role && !message.retracted;
}

bool may_decline(const Request& request, v1::Role role) {
  return request.from != role && !request.answered;
}

bool may_accept_proposal(const Request& request, v1::Role role) {
  return request.kind == RequestKind::kProposal && may_decline(request, role);
}

TimeMs reflect_not_before(const RoomState& state) {
  if (!is_stage_round(state.phase)) return 0;
  const v1::ReflectionKind owed = reflection_for_phase(state.phase);
  if (owed == v1::REFLECTION_KIND_UNSPECIFIED) return 0;
  if (owed != v1::MIRROR && !state.turn.after_correction) return 0;
  return state.turn.last_speaker_content_ms + state.timing.reflection_beat_ms;
}

std::size_t utf8_chars(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0U) != 0x80U;
  }));
}

}  // namespace mend::engine::detail
