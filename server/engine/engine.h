// The conversation engine: a pure, deterministic state machine (DESIGN.md section 4.1).
//
// No I/O, no clock reads, no threads, no randomness: time is always an argument and every
// function here is a function of its arguments. The room host (server/rooms/) feeds it
// commands and timer ticks, persists the events it returns, then applies them with `evolve`.
//
// Thread safety: all functions are reentrant; a RoomState must not be mutated concurrently
// (the room host serializes each room on its strand).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "server/engine/state.h"

namespace mend::engine {

// TimeMs (milliseconds since the Unix epoch) is defined in state.h.

// The outcome of `decide`: either accepted with one or more events (seq and at_ms already
// assigned, contiguous from state.last_seq + 1) plus advisory hints, or a rejection.
struct Decision {
  std::vector<v1::Event> events;      // empty when rejected
  std::vector<v1::Hint> hints;        // advisory only; never block
  std::optional<v1::Rejection> rejection;

  bool accepted() const { return !rejection.has_value(); }
};

// Who, besides the template, is in a room at creation.
struct RoomSetup {
  std::string topic;
  std::string partner_a_name;
  std::string partner_b_name;
  std::vector<std::string> observers;  // invited observer names, unique
  std::string series_id;               // optional: the couple's series (issue 14)
};

// The first event (seq 1, actor SYSTEM) of a new room. The template must be valid
// (see templates.h); it is copied whole into the event so the room never changes meaning.
v1::Event create_room(const v1::Template& tmpl, const RoomSetup& setup, TimeMs now);

// Decides whether `actor` may run `command` at `now`. Never mutates `state`.
// Rejections carry a stable code and a human message naming the rule (and retry_after_ms
// for TOO_SOON). A command with no body, an unknown enum value or an unknown observer name
// is rejected INVALID_ARGUMENT / UNKNOWN_OBSERVER, never crashes.
Decision decide(const RoomState& state, const v1::Command& command, const v1::Actor& actor,
                TimeMs now);

// Whether a rejection is the command's final result (DESIGN 5, exactly once): a definitive
// rejection follows from the conversation's state at that moment (WRONG_PHASE, NOT_YOUR_TURN,
// PAUSED, TIMED_OUT, ...), so a retry of the same command_id must get it again, never a new
// decision. Transient ones say "not now, nothing was decided" and a retry is decided again:
// TOO_SOON and RATE_LIMITED (time passes; retry_after_ms), UNAVAILABLE (the store), INTERNAL
// (a bug, nothing applied), and any code this build does not know.
bool is_definitive(v1::RejectionCode code);

// Applies one event (as returned by decide, tick or create_room, in seq order).
// Replaying every event of a room from a default RoomState rebuilds its state exactly.
// Precondition: event.seq == state.last_seq + 1.
void evolve(RoomState& state, const v1::Event& event);

// Timer events due at `now` (pause ended, time-out return due or cap reached, appointment or
// resumption due, consultation break ended, invitation expired, turn time hint), with seqs
// assigned from state.last_seq + 1. Empty when nothing is due. Apply them with evolve, then
// call tick again: one call returns the events of the earliest due deadline only.
std::vector<v1::Event> tick(const RoomState& state, TimeMs now);

// The earliest time at which tick will return events, or nullopt when no timer is armed.
std::optional<TimeMs> next_deadline(const RoomState& state);

// What `who` sees now, including exactly the actions `decide` would accept from them
// (with valid arguments; REFLECT may still be TOO_SOON before reflect_not_before_ms).
v1::RoomView view(const RoomState& state, const v1::Actor& who);
// The same view written into `out`, which must be empty (e.g. a message just created on a
// protobuf Arena, so that building and dropping it costs no heap allocations).
void view_into(const RoomState& state, const v1::Actor& who, v1::RoomView& out);

// Whether `who` may receive `event` (and find it in replays and transcripts).
// Private observer notes reach only their author; an observer sees nothing while not
// approved by both partners (never approved, or revoked).
bool visible_to(const RoomState& state, const v1::Event& event, const v1::Actor& who);

// Single questions the room host asks, cheaper than building a view and equal to it:
// Whether the observer named `observer` is admitted (approved by both partners, not revoked).
bool observer_admitted(const RoomState& state, const std::string& observer);
// Whether `action`'s command carries text the partner types (a typing indicator fits it).
bool carries_text(v1::Action action);
// Whether `action` is among `who`'s allowed actions in view(state, who).
bool allowed(const RoomState& state, const v1::Actor& who, v1::Action action);
// Whether `who` is a partner allowed an action that carries_text (typing may be relayed).
bool may_type(const RoomState& state, const v1::Actor& who);
// Whether the effective terms share the transcript with admitted observers.
bool transcript_shared_with_observers(const RoomState& state);

}  // namespace mend::engine
