// The crash test's checks on one room's event log, as pure functions (doctest assertions):
// which event a command causes, that every event belongs to exactly the command that caused
// it (or to the system: creation and timers), and that the log replays through the engine to
// the view a client shows.
#pragma once

#include <string>
#include <vector>

#include "mend/proto.h"

namespace mend::testing {

// One accepted command of a room: who sent it ("A" or "B"), what, and the answer.
struct AcceptedCommand {
  std::string participant;
  v1::Command command;
  v1::CommandResult result;
};

v1::Role role_of(const std::string& participant);

// Whether `event` is the first event `command` causes when accepted: its kind, and the
// arguments it carries over (signal and repair kind, reflection kind, seqs, more or not,
// texts). The actor is checked by check_event_ownership.
bool is_caused_by(const v1::Event& event, const v1::Command& command);

// Checks (doctest) that `events` (a room's log from seq 1, gap-free) is exactly accounted for
// by `accepted`: each command's events lie in the log, its first event is the one it causes,
// all of them carry its sender as actor, no event belongs to two commands, and every other
// event is a SYSTEM event (the room's creation, timers). So nothing else (a rejected command,
// a second application of a retried command) left an event. `where` names the room and moment
// in failure messages.
void check_event_ownership(const std::vector<v1::Event>& events,
                           const std::vector<AcceptedCommand>& accepted, const std::string& where);

// Checks (doctest) that replaying `events` through the engine (evolve from an empty state)
// gives exactly `view` for the participant the view is for.
void check_replays_to(const std::vector<v1::Event>& events, const v1::RoomView& view,
                      const std::string& where);

}  // namespace mend::testing
