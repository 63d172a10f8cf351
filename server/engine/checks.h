// Internal: the rule checks of decide (docs/engine-rules.md, "Check order in decide").
// decide runs validate -> gate -> check_arguments; view lists an action as allowed when
// gate passes and some arguments pass (some_arguments_valid), so both read the same rules.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/engine/state.h"

namespace mend::engine::detail {

// A rejection before it becomes a v1::Rejection. Most messages are fixed texts (string
// literals, static storage): `fixed` points at one and nothing is allocated, which keeps view()
// cheap (it runs gate() for every action, and most of those calls refuse). Messages built at
// run time (sizes, limits) are in `built`, and then `fixed` is null. `built` is a pointer, not
// a std::string, so that creating, moving and dropping a fixed refusal costs a few
// instructions (a view's allowed actions make about 40 of them).
struct Refusal {
  v1::RejectionCode code = v1::REJECTION_CODE_UNSPECIFIED;
  const char* fixed = nullptr;
  std::unique_ptr<std::string> built;
  std::uint32_t retry_after_ms = 0;

  std::string_view message() const {
    return fixed != nullptr ? std::string_view(fixed) : std::string_view(*built);
  }
};
using Check = std::optional<Refusal>;

// Who acts, on what state, when. `now` is 0 for views (arguments are not checked there).
struct Ctx {
  const RoomState& state;
  v1::Role role = v1::ROLE_UNSPECIFIED;  // PARTNER_A, PARTNER_B or OBSERVER
  int observer_index = -1;               // index in state.observers; -1 when not invited
  TimeMs now = 0;
};

Ctx make_ctx(const RoomState& state, const v1::Actor& actor, TimeMs now);

// Step 1: actor role, body present, enums known.
Check validate(const v1::Command& command, const v1::Actor& actor);
// Steps 2-6 and the argument-free checks (once-only steps, joins, callers).
Check gate(v1::Action action, const Ctx& ctx);
// Whether gate refuses: always equal to gate(action, ctx).has_value() (both are instantiated
// from one template), without building the refusal. For views, which ask about many actions.
bool gate_refuses(v1::Action action, const Ctx& ctx);

// Every action a view asks gate about, in the order of RoomView.allowed_actions.
inline constexpr std::array<v1::Action, 43> kAllActions = {
    v1::ACTION_ACCEPT_INVITATION, v1::ACTION_PROPOSE_TIME, v1::ACTION_CONSENT,
    v1::ACTION_APPROVE_OBSERVER, v1::ACTION_REVOKE_OBSERVER, v1::ACTION_JOIN,
    v1::ACTION_OPEN, v1::ACTION_SHARE, v1::ACTION_REFLECT, v1::ACTION_CONFIRM,
    v1::ACTION_CORRECT, v1::ACTION_MORE, v1::ACTION_NO_MORE, v1::ACTION_PASS_FLOOR,
    v1::ACTION_ACCEPT_APOLOGY, v1::ACTION_STILL_NEED, v1::ACTION_ASK,
    v1::ACTION_REQUEST_ADVICE, v1::ACTION_ADVISE, v1::ACTION_MOVE_ON, v1::ACTION_UNDERSTOOD,
    v1::ACTION_PROBLEM_SOLVING_CHOICE, v1::ACTION_PROPOSE, v1::ACTION_ACCEPT_PROPOSAL,
    v1::ACTION_FINISH_PROBLEM_SOLVING, v1::ACTION_APPRECIATE, v1::ACTION_FINISH,
    v1::ACTION_FEEL_UNDERSTOOD,
    v1::ACTION_SIGNAL, v1::ACTION_REPAIR, v1::ACTION_RETRACT, v1::ACTION_DECLINE,
    v1::ACTION_PAUSE, v1::ACTION_TIME_OUT, v1::ACTION_RETURN, v1::ACTION_EXTEND,
    v1::ACTION_READY, v1::ACTION_RESCHEDULE, v1::ACTION_LEAVE, v1::ACTION_NOTE,
    v1::ACTION_PROMPT, v1::ACTION_CONSULT_BREAK, v1::ACTION_END_SESSION,
};

// A set of actions: bit i stands for kAllActions[i].
using ActionSet = std::uint64_t;
static_assert(kAllActions.size() <= 64, "ActionSet holds one bit per action");

// Where the actor sits, as far as gate's rules tell actors apart by more than the state: the
// partner holding the floor (turn.speaker), the other partner, or an observer.
enum class Seat : std::uint8_t { kSpeaker, kOtherPartner, kObserver };
// Precondition: ctx.role is PARTNER_A, PARTNER_B or OBSERVER.
Seat seat(const Ctx& ctx);

// The actions gate may let pass for an actor in `seat` when the state's phase is `phase`:
// gate's rules that read only those two, applied in gate's order (a table built at compile
// time). Never leaves out an action that gate lets pass in some state with that phase and
// seat; the engine's random walks check this against gate in every state and for every actor
// they reach. Views ask gate only about these actions (most of the 43 refuse by phase).
ActionSet actions_gate_may_pass(v1::Phase phase, Seat seat);

// Steps 7-8. Precondition: gate passed.
Check check_arguments(const v1::Command& command, const Ctx& ctx);
// For views: whether some arguments pass check_arguments now (TOO_SOON aside).
bool some_arguments_valid(v1::Action action, const Ctx& ctx);

// Seq lists of the view, also used by the argument checks.
bool may_retract(const ContentMessage& message, v1::Role role);
bool may_decline(const Request& request, v1::Role role);
bool may_accept_proposal(const Request& request, v1::Role role);

// Whether `action`'s accepted command adds a request addressed to the other partner (the bound
// of state.requests). The engine's random walks check this list, and carries_text for
// state.messages, against what evolve adds.
bool adds_request(v1::Action action);

// The time before which a reflection is TOO_SOON, or 0 when no beat applies.
TimeMs reflect_not_before(const RoomState& state);

// UTF-8 code points of `text` (the unit of chunk_max_chars).
std::size_t utf8_chars(const std::string& text);

}  // namespace mend::engine::detail
