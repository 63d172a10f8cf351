// Rooms in every phase, for the engine fuzz target: each template of the simulation (the
// in-code ones and the shipped ones) is played by seeded walks that take allowed actions with
// canonical arguments and let time pass, and the first room reached in each (phase, saved
// phase) pair is kept with the events that built it. Deterministic: same code, same rooms.
#pragma once

#include <vector>

#include "mend/v1/conversation.pb.h"
#include "server/engine/engine.h"

namespace mend::fuzz {

struct PhaseRoom {
  engine::RoomState state;
  std::vector<v1::Event> events;  // from RoomCreated; replaying them rebuilds `state`
  engine::TimeMs now = 0;         // the time of the last step; every due timer has fired
};

// Built on first use (a few hundred milliseconds), then shared; never empty.
const std::vector<PhaseRoom>& phase_rooms();

// The invited observers of every room; the first one is approved by both partners whenever
// a walk got that far.
const std::vector<std::string>& invited_observers();

}  // namespace mend::fuzz
