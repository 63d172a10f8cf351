// mend::client::Autopilot: suggests the next command that moves a conversation forward for one
// participant, read only from that participant's RoomView (its phase and allowed actions). For
// examples, tests, demos and load generators; a real app lets its people choose.
//
// The autopilot is cooperative and warm: it accepts invitations, consents with the scripted
// terms, opens (as partner A), shares `chunks_per_turn` chunks per turn (and answers a request
// for clarification with one more), reflects with the reflection the view asks for, confirms,
// answers "Is there more?" with more until the turn's chunks are shared and then with no more,
// passes the floor once per stage where it goes back and forth and then moves on (as listener
// once the speaker did), accepts apologies, says it feels understood, declines problem solving
// unless scripted, says "ready" after pauses, and closes with an appreciation. It never uses
// pause, time-out, repair, retract or leave. It does not handle timing: a REFLECT it suggests
// may be answered TOO_SOON (retry after Rejection.retry_after_ms).
//
// Thread safety: not synchronized; use one Autopilot per participant from one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mend/proto.h"

namespace mend::client {

struct AutopilotScript {
  std::string intention = "I want us to understand each other about this.";
  std::string topic = "How we spend our evenings";
  std::string chunk = "When the evenings get busy, I miss time with you.";
  std::string reflection = "What I heard is that you miss our time together. Did I get it?";
  std::string appreciation = "Thank you for listening to me today.";
  std::uint32_t chunks_per_turn = 1;
  bool problem_solving = false;
  v1::ConsentTerms terms;  // approved observers, retention, sharing flags
};

class Autopilot {
 public:
  explicit Autopilot(AutopilotScript script = {}) : script_(std::move(script)) {}

  // The next command for the participant whose view this is, or nullopt when there is nothing
  // to do now (the other participant's turn, an overlay that only the other can end, CLOSED).
  // Records shares it suggests (so call it once per command actually sent).
  std::optional<v1::Command> next(const v1::RoomView& view);

 private:
  AutopilotScript script_;
  // The speaker's next step while SHARE is allowed.
  std::optional<v1::Command> speaker_step(const v1::RoomView& view);
  // The speaker's answer to "Is there more?" (PHASE_MORE): more until the turn's chunks are shared.
  std::optional<v1::Command> more_step(const v1::RoomView& view);
  // Starts counting shares anew when the view shows another turn (stage or speaker).
  void enter_turn(const v1::RoomView& view);

  // Shares suggested in the current turn, identified by stage index and speaker.
  std::uint64_t turn_key_ = UINT64_MAX;
  std::uint32_t shares_this_turn_ = 0;
  // Speakers (bit per Role) seen holding the floor in stage `stage_seen_`.
  std::uint32_t stage_seen_ = UINT32_MAX;
  std::uint32_t speakers_seen_ = 0;
};

}  // namespace mend::client
