#include "tests/crash/conversation_pilot.h"

#include <algorithm>

namespace mend::testing {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;

bool allowed(const v1::RoomView& view, v1::Action action) {
  const auto& actions = view.allowed_actions();
  return std::find(actions.begin(), actions.end(), action) != actions.end();
}

bool done(const v1::RoomView& view) {
  return view.you().role() == v1::PARTNER_A ? view.a_done() : view.b_done();
}

// OPENING .. CLOSING: a conversation phase, no overlay.
bool in_conversation(v1::Phase phase) {
  return phase >= v1::PHASE_OPENING && phase <= v1::PHASE_CLOSING;
}

client::AutopilotScript script_for(std::mt19937_64& rng) {
  client::AutopilotScript script;
  script.chunks_per_turn = 1 + static_cast<std::uint32_t>(rng() % 2);
  script.problem_solving = rng() % 2 == 0;
  script.terms.set_retention_days(30);
  return script;
}

template <typename Repeated>
std::uint64_t pick(std::mt19937_64& rng, const Repeated& seqs) {
  return seqs.Get(static_cast<int>(rng() % static_cast<std::uint64_t>(seqs.size())));
}

}  // namespace

ConversationPilot::ConversationPilot(std::uint64_t seed)
    : rng_(seed), autopilot_(script_for(rng_)) {}

bool ConversationPilot::chance(double p) {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p;
}

std::optional<v1::Command> ConversationPilot::next(const v1::RoomView& view,
                                                   std::int64_t now_ms) {
  if (view.phase() == v1::PHASE_CLOSED) return std::nullopt;
  if (view.phase() == v1::PHASE_PAUSED || view.phase() == v1::PHASE_TIMED_OUT) {
    return in_overlay(view, now_ms);
  }
  if (auto command = detour(view, now_ms)) return command;
  if (auto command = variation(view)) return command;
  return autopilot_.next(view);
}

// The caller of a pause returns early, or waits for the check-in; the caller of a time-out
// comes back after a while, sometimes after extending it first. The other partner waits.
std::optional<v1::Command> ConversationPilot::in_overlay(const v1::RoomView& view,
                                                         std::int64_t now_ms) {
  v1::Command command;
  if (!allowed(view, v1::ACTION_RETURN)) return std::nullopt;
  if (view.phase() == v1::PHASE_PAUSED && wait_out_pause_) return std::nullopt;
  if (view.phase() == v1::PHASE_TIMED_OUT && extends_left_ > 0 &&
      allowed(view, v1::ACTION_EXTEND) && chance(0.3)) {
    --extends_left_;
    command.mutable_extend()->set_return_at_ms(now_ms + 30 * kMinuteMs);
    return command;
  }
  if (!chance(0.35)) return std::nullopt;  // not yet
  command.mutable_return_();
  return command;
}

// Overlays and always-available actions, at random moments of the conversation; and the
// invitation's proposed time.
std::optional<v1::Command> ConversationPilot::detour(const v1::RoomView& view,
                                                     std::int64_t now_ms) {
  v1::Command command;
  if (view.phase() == v1::PHASE_INVITED && !time_proposed_ &&
      allowed(view, v1::ACTION_PROPOSE_TIME) && chance(0.5)) {
    time_proposed_ = true;
    command.mutable_propose_time()->set_start_at_ms(now_ms + 30 * kMinuteMs);
    return command;
  }
  if (allowed(view, v1::ACTION_DECLINE) && chance(0.4)) {
    command.mutable_decline()->set_seq(pick(rng_, view.declinable()));
    return command;
  }
  if (!in_conversation(view.phase())) return std::nullopt;
  if (pauses_left_ > 0 && allowed(view, v1::ACTION_PAUSE) && chance(0.006)) {
    --pauses_left_;
    wait_out_pause_ = chance(0.3);
    command.mutable_pause()->set_duration_s(0);  // the template's default
    return command;
  }
  if (time_outs_left_ > 0 && allowed(view, v1::ACTION_TIME_OUT) && chance(0.002)) {
    --time_outs_left_;
    command.mutable_time_out()->set_return_at_ms(0);  // the template's default
    return command;
  }
  if (repairs_left_ > 0 && allowed(view, v1::ACTION_REPAIR) && chance(0.01)) {
    --repairs_left_;
    command.mutable_repair()->set_kind(static_cast<v1::RepairKind>(1 + rng_() % 6));
    return command;
  }
  if (retracts_left_ > 0 && allowed(view, v1::ACTION_RETRACT) && chance(0.01)) {
    --retracts_left_;
    command.mutable_retract()->set_seq(pick(rng_, view.retractable()));
    return command;
  }
  return std::nullopt;
}

// Other answers than the autopilot's where the protocol offers a choice.
std::optional<v1::Command> ConversationPilot::variation(const v1::RoomView& view) {
  v1::Command command;
  const v1::Phase phase = view.phase();
  if (phase == v1::PHASE_CONFIRMING && corrections_left_ > 0 &&
      allowed(view, v1::ACTION_CORRECT) && chance(0.2)) {
    --corrections_left_;
    command.mutable_correct()->set_text("Almost: what matters most to me is feeling close.");
  } else if (phase == v1::PHASE_MORE && mores_left_ > 0 && allowed(view, v1::ACTION_MORE) &&
             chance(0.35)) {
    --mores_left_;
    command.mutable_more();
  } else if (asks_left_ > 0 && allowed(view, v1::ACTION_ASK) && chance(0.3)) {
    --asks_left_;
    command.mutable_ask()->set_text("What would that look like for you?");
  } else if (advice_left_ > 0 && allowed(view, v1::ACTION_REQUEST_ADVICE) &&
             !view.advice_requested() && chance(0.3)) {
    --advice_left_;
    command.mutable_request_advice();
  } else if (allowed(view, v1::ACTION_ADVISE) && view.advice_requested() && advice_left_ > 0 &&
             chance(0.5)) {
    --advice_left_;
    command.mutable_advise()->set_text("Maybe we could take a walk together after dinner.");
  } else if (phase == v1::PHASE_APOLOGY_RESPONSE && still_needs_left_ > 0 &&
             allowed(view, v1::ACTION_STILL_NEED) && chance(0.3)) {
    --still_needs_left_;
    command.mutable_still_need()->set_text("I still need to hear that it matters to you.");
  } else if (phase == v1::PHASE_PROBLEM_SOLVING && allowed(view, v1::ACTION_ACCEPT_PROPOSAL) &&
             chance(0.6)) {
    command.mutable_accept_proposal()->set_seq(pick(rng_, view.acceptable_proposals()));
  } else if (phase == v1::PHASE_PROBLEM_SOLVING && proposals_left_ > 0 &&
             allowed(view, v1::ACTION_PROPOSE) && chance(0.6)) {
    --proposals_left_;
    command.mutable_propose()->set_text("Let us keep Sunday evenings for the two of us.");
  } else if (phase == v1::PHASE_CLOSING && !done(view) && allowed(view, v1::ACTION_FINISH) &&
             chance(0.3)) {
    command.mutable_finish();
  } else {
    return std::nullopt;
  }
  return command;
}

std::optional<v1::Command> ConversationPilot::maybe_signal(const v1::RoomView& view) {
  if (view.phase() == v1::PHASE_CLOSED || !allowed(view, v1::ACTION_SIGNAL) || !chance(0.08)) {
    return std::nullopt;
  }
  v1::Command command;
  command.mutable_signal()->set_kind(static_cast<v1::SignalKind>(1 + rng_() % 5));
  return command;
}

}  // namespace mend::testing
