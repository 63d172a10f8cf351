#include "mend/autopilot.h"

#include <algorithm>

namespace mend::client {

namespace {

bool allowed(const v1::RoomView& view, v1::Action action) {
  const auto& actions = view.allowed_actions();
  return std::find(actions.begin(), actions.end(), action) != actions.end();
}

bool is_partner_a(const v1::RoomView& view) { return view.you().role() == v1::PARTNER_A; }

bool consented(const v1::RoomView& view) {
  return is_partner_a(view) ? view.a_consented() : view.b_consented();
}
bool feels_understood(const v1::RoomView& view) {
  return is_partner_a(view) ? view.a_feels_understood() : view.b_feels_understood();
}
bool moves_on(const v1::RoomView& view) {
  return is_partner_a(view) ? view.a_moves_on() : view.b_moves_on();
}
bool partner_moves_on(const v1::RoomView& view) {
  return is_partner_a(view) ? view.b_moves_on() : view.a_moves_on();
}
bool done(const v1::RoomView& view) {
  return is_partner_a(view) ? view.a_done() : view.b_done();
}
bool ready(const v1::RoomView& view) {
  return is_partner_a(view) ? view.a_ready() : view.b_ready();
}

}  // namespace

std::optional<v1::Command> Autopilot::next(const v1::RoomView& view) {
  v1::Command command;
  if (view.phase() == v1::PHASE_CLOSED) return std::nullopt;
  if (view.speaker() == v1::PARTNER_A || view.speaker() == v1::PARTNER_B) {
    if (view.stage_index() != stage_seen_) {
      stage_seen_ = view.stage_index();
      speakers_seen_ = 0;
    }
    speakers_seen_ |= 1U << view.speaker();
  }
  if (allowed(view, v1::ACTION_JOIN)) {
    command.mutable_join();
  } else if (allowed(view, v1::ACTION_ACCEPT_INVITATION) && view.you().role() == v1::PARTNER_B) {
    command.mutable_accept_invitation();
  } else if (view.phase() == v1::PHASE_CONSENT && allowed(view, v1::ACTION_CONSENT) &&
             !consented(view)) {
    *command.mutable_consent()->mutable_terms() = script_.terms;
  } else if (allowed(view, v1::ACTION_OPEN) && is_partner_a(view)) {
    command.mutable_open()->set_intention(script_.intention);
    if (view.topic().empty()) command.mutable_open()->set_topic(script_.topic);
  } else if (view.phase() == v1::PHASE_CHECK_IN && allowed(view, v1::ACTION_READY) &&
             !ready(view)) {
    command.mutable_ready();
  } else if (allowed(view, v1::ACTION_REFLECT)) {
    command.mutable_reflect()->set_kind(view.expected_reflection());
    command.mutable_reflect()->set_text(script_.reflection);
  } else if (allowed(view, v1::ACTION_CONFIRM)) {
    command.mutable_confirm();
  } else if (view.phase() == v1::PHASE_MORE && allowed(view, v1::ACTION_NO_MORE)) {
    return more_step(view);
  } else if (allowed(view, v1::ACTION_SHARE)) {
    return speaker_step(view);
  } else if (allowed(view, v1::ACTION_MOVE_ON) && !moves_on(view) && partner_moves_on(view)) {
    command.mutable_move_on();  // the listener follows the speaker who is ready to move on
  } else if (allowed(view, v1::ACTION_ACCEPT_APOLOGY)) {
    command.mutable_accept_apology();
  } else if (allowed(view, v1::ACTION_FEEL_UNDERSTOOD) && !feels_understood(view)) {
    command.mutable_feel_understood();
  } else if (allowed(view, v1::ACTION_PROBLEM_SOLVING_CHOICE)) {
    command.mutable_problem_solving_choice()->set_opt_in(script_.problem_solving);
  } else if (allowed(view, v1::ACTION_FINISH_PROBLEM_SOLVING)) {
    command.mutable_finish_problem_solving();
  } else if (view.phase() == v1::PHASE_CLOSING && allowed(view, v1::ACTION_APPRECIATE) &&
             !done(view)) {
    command.mutable_appreciate()->set_text(script_.appreciation);
  } else {
    return std::nullopt;
  }
  return command;
}

void Autopilot::enter_turn(const v1::RoomView& view) {
  const std::uint64_t key = (std::uint64_t{view.stage_index()} << 8) | view.speaker();
  if (key != turn_key_) {
    turn_key_ = key;
    shares_this_turn_ = 0;
  }
}

std::optional<v1::Command> Autopilot::more_step(const v1::RoomView& view) {
  v1::Command command;
  enter_turn(view);
  // "Is there more?": yes while this turn's chunks are not all shared (the next share follows).
  if (shares_this_turn_ < script_.chunks_per_turn && allowed(view, v1::ACTION_MORE)) {
    command.mutable_more();
  } else {
    command.mutable_no_more();
  }
  return command;
}

std::optional<v1::Command> Autopilot::speaker_step(const v1::RoomView& view) {
  v1::Command command;
  enter_turn(view);
  const bool both_spoke = speakers_seen_ == ((1U << v1::PARTNER_A) | (1U << v1::PARTNER_B));
  // Sharing while a mirror is owed answers the listener's request for clarification.
  if (shares_this_turn_ < script_.chunks_per_turn || view.phase() == v1::PHASE_MIRRORING) {
    ++shares_this_turn_;
    command.mutable_share()->set_text(script_.chunk);
  } else if (allowed(view, v1::ACTION_NO_MORE)) {
    command.mutable_no_more();
  } else if (allowed(view, v1::ACTION_MOVE_ON) && both_spoke) {
    // The floor went back and forth once: ready to move on (the listener follows).
    if (moves_on(view)) return std::nullopt;
    command.mutable_move_on();
  } else if (allowed(view, v1::ACTION_PASS_FLOOR)) {
    command.mutable_pass_floor();
  } else {
    return std::nullopt;
  }
  return command;
}

}  // namespace mend::client
