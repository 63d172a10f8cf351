// Views and events for the CLI's unit tests.
#pragma once

#include "mend/proto.h"

#include <initializer_list>

namespace mend::cli::testing {

// Partner `you` in a room between Sam (A) and Alex (B), in `phase`, with `allowed` actions.
inline v1::RoomView view(v1::Role you, v1::Phase phase, std::initializer_list<v1::Action> allowed,
                         v1::Role speaker = v1::PARTNER_A) {
  v1::RoomView view;
  view.mutable_you()->set_role(you);
  view.set_partner_a_name("Sam");
  view.set_partner_b_name("Alex");
  view.set_phase(phase);
  view.set_topic("the holidays");
  view.set_speaker(speaker);
  view.set_listener(speaker == v1::PARTNER_A ? v1::PARTNER_B : v1::PARTNER_A);
  view.set_stage_title("Sharing and mirroring");
  for (const v1::Action action : allowed) view.add_allowed_actions(action);
  return view;
}

inline v1::Event event(std::uint64_t seq, v1::Role role) {
  v1::Event event;
  event.set_seq(seq);
  event.mutable_actor()->set_role(role);
  return event;
}

}  // namespace mend::cli::testing
