// ConversationPilot: plays one partner through a whole conversation, read only from that
// partner's RoomView, the way a person would. Mostly it does what mend::client::Autopilot
// suggests (accept, consent, open, share, mirror, confirm, "no more", reflections, ready,
// feel_understood, appreciate); at random (seeded) moments it takes the detours real couples take:
// a proposed time (declined or not) before accepting the invitation, a short pause (returned
// from early, or waited out until the check-in), a time-out and its return (sometimes
// extended first), repairs, retractions, a correction instead of a confirmation, "more", the
// listener's questions, advice on request, "still need" after an apology, problem solving
// with proposals accepted or declined, and "finish" instead of an appreciation. Every detour
// is bounded per conversation, so each conversation reaches CLOSED.
//
// The pilot never sleeps and never reads a clock: `now_ms` (server time, ms since the epoch)
// is an argument, used only for the times a command carries.
//
// Thread safety: none; one pilot per partner, used from one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "mend/autopilot.h"
#include "mend/proto.h"

namespace mend::testing {

class ConversationPilot {
 public:
  explicit ConversationPilot(std::uint64_t seed);

  // The next command for this partner, or nullopt when there is nothing to do now (the other
  // partner's turn, a pause being waited out, CLOSED). Call it once per command sent: it
  // counts the detours it suggested.
  std::optional<v1::Command> next(const v1::RoomView& view, std::int64_t now_ms);

  // A signal to send besides the conversation (any phase but CLOSED), or nullopt. Call it
  // once per move (next()).
  std::optional<v1::Command> maybe_signal(const v1::RoomView& view);

 private:
  bool chance(double p);
  std::optional<v1::Command> detour(const v1::RoomView& view, std::int64_t now_ms);
  std::optional<v1::Command> variation(const v1::RoomView& view);
  std::optional<v1::Command> in_overlay(const v1::RoomView& view, std::int64_t now_ms);

  std::mt19937_64 rng_;
  client::Autopilot autopilot_;
  int pauses_left_ = 2;
  int time_outs_left_ = 1;
  int extends_left_ = 1;
  int repairs_left_ = 3;
  int retracts_left_ = 2;
  int corrections_left_ = 2;
  int mores_left_ = 2;
  int asks_left_ = 2;
  int advice_left_ = 2;
  int proposals_left_ = 2;
  int still_needs_left_ = 1;
  bool time_proposed_ = false;
  bool wait_out_pause_ = false;  // the current pause: wait for the check-in, do not return
};

}  // namespace mend::testing
