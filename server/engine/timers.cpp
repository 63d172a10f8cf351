// Timers: the state's deadlines (next_deadline) and the events they produce (tick).
#include "server/engine/engine.h"
#include "server/engine/flow.h"

namespace mend::engine {
namespace {

constexpr TimeMs kMsPerS = 1000;

enum class Timer {
  kNone,
  kAppointmentDue,
  kInvitationExpired,
  kPauseEnded,
  kReturnDue,
  kCap,
  kResumptionDue,
  kConsultBreakEnded,
  kTurnHint,
};

struct Deadline {
  Timer timer = Timer::kNone;
  TimeMs at = 0;
};

Deadline timed_out_deadline(const RoomState& s) {
  if (!s.overlay.return_due && s.overlay.ends_at_ms <= s.overlay.cap_at_ms) {
    return {Timer::kReturnDue, s.overlay.ends_at_ms};
  }
  return {Timer::kCap, s.overlay.cap_at_ms};
}

Deadline turn_hint_deadline(const RoomState& s) {
  if (!detail::is_stage_round(s.phase) || s.turn.turn_hint_sent) return {};
  const std::uint32_t soft_turn_s = detail::current_stage(s).soft_turn_s();
  if (soft_turn_s == 0) return {};
  return {Timer::kTurnHint, s.turn.turn_started_ms + soft_turn_s * kMsPerS};
}

// The earliest armed deadline of the state (one phase arms at most two, ordered here).
Deadline earliest(const RoomState& s) {
  switch (s.phase) {
    case v1::PHASE_INVITED:
      if (s.appointment_at_ms != 0) return {Timer::kAppointmentDue, s.appointment_at_ms};
      return {Timer::kInvitationExpired,
              s.created_at_ms + s.timing.appointment_window_s * kMsPerS};
    case v1::PHASE_PAUSED: return {Timer::kPauseEnded, s.overlay.ends_at_ms};
    case v1::PHASE_TIMED_OUT: return timed_out_deadline(s);
    case v1::PHASE_SUSPENDED:
      if (s.overlay.rescheduled) return {Timer::kResumptionDue, s.overlay.ends_at_ms};
      return {};
    case v1::PHASE_CONSULT_BREAK: return {Timer::kConsultBreakEnded, s.overlay.ends_at_ms};
    default: return turn_hint_deadline(s);
  }
}

void fill_timer_event(const RoomState& s, Timer timer, TimeMs now, v1::Event& e) {
  switch (timer) {
    case Timer::kAppointmentDue: e.mutable_appointment_due(); break;
    case Timer::kInvitationExpired:
      e.mutable_conversation_closed()->set_reason(v1::INVITATION_EXPIRED);
      break;
    case Timer::kPauseEnded: e.mutable_check_in_started()->set_reason(v1::PAUSE_ENDED); break;
    case Timer::kReturnDue: e.mutable_time_out_return_due(); break;
    case Timer::kCap: e.mutable_suspended(); break;
    case Timer::kResumptionDue:
      e.mutable_check_in_started()->set_reason(v1::RESUMPTION_DUE);
      break;
    case Timer::kConsultBreakEnded:
      e.mutable_check_in_started()->set_reason(v1::CONSULT_BREAK_ENDED);
      break;
    case Timer::kTurnHint:
      e.mutable_turn_time_hint()->set_elapsed_s(
          static_cast<std::uint32_t>((now - s.turn.turn_started_ms) / kMsPerS));
      break;
    case Timer::kNone: break;
  }
}

}  // namespace

std::optional<TimeMs> next_deadline(const RoomState& state) {
  const Deadline d = earliest(state);
  if (d.timer == Timer::kNone) return std::nullopt;
  return d.at;
}

std::vector<v1::Event> tick(const RoomState& state, TimeMs now) {
  std::vector<v1::Event> events;
  const Deadline d = earliest(state);
  if (d.timer == Timer::kNone || d.at > now) return events;
  v1::Event& e = events.emplace_back();
  e.set_seq(state.last_seq + 1);
  e.set_at_ms(now);
  e.mutable_actor()->set_role(v1::SYSTEM);
  fill_timer_event(state, d.timer, now, e);
  return events;
}

}  // namespace mend::engine
