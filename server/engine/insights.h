// Protocol insights (issue 14): a pure projection of a room's event log into content-free
// figures (v1::Insights, proto/mend/v1/insights.proto): floor time and turns, shares and their
// length in words, mirror rounds per share, turn reflections and their tries, signals and
// repairs by kind, pauses, time-outs and breaks, and the phase timeline.
//
// Incremental: the room host applies each event after engine::evolve; the result equals a
// recomputation from the whole log (`project`), which tests/sim checks on many random
// conversations. No text is ever read except to count the words of a legacy Shared event
// without `word_count`; retracted and erased texts change no figure (the counts stay, the
// texts go).
//
// Refusals (rejected commands) are not events: the room host counts them and adds them with
// `add_refusals`.
//
// Thread safety: a plain value, like RoomState.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "mend/v1/insights.pb.h"
#include "server/engine/state.h"

namespace mend::engine {

// Words in `text`: runs of non-whitespace (ASCII whitespace) characters.
std::uint32_t count_words(std::string_view text);

class InsightsProjection {
 public:
  // Applies `event`; `after` is the room state after engine::evolve(state, event).
  // Precondition: events in seq order, starting with RoomCreated.
  void apply(const v1::Event& event, const RoomState& after);

  // The figures so far (room_id and refusals left empty).
  const v1::Insights& insights() const { return insights_; }

 private:
  void account_time(const v1::Event& event);
  void update_timeline(const v1::Event& event, const RoomState& after);
  void apply_stage_event(const v1::Event& event, const RoomState& after);
  void apply_overlay_event(const v1::Event& event);
  void apply_other_event(const v1::Event& event);
  void end_overlay(std::int64_t at_ms, v1::OverlayEnding ending);
  void end_turn();

  v1::Insights insights_;
  std::int64_t last_at_ms_ = 0;
  v1::Phase phase_ = v1::PHASE_UNSPECIFIED;  // the phase (overlay included) after the last event
  v1::Role speaker_ = v1::ROLE_UNSPECIFIED;  // the floor holder after the last event
  std::vector<int> pending_shares_;          // shares awaiting a confirmed mirror
  std::vector<std::int64_t> share_at_ms_;    // at_ms of each share, by index
  int open_reflection_ = -1;                 // the turn reflection being tried
  std::int64_t open_reflection_at_ms_ = 0;
  int open_overlay_ = -1;
};

// Replays `events` (a whole log from seq 1) through the engine and the projection.
v1::Insights project(const std::vector<v1::Event>& events);

// Adds `count` refusals of `code` to `partner`'s figures (PARTNER_A / PARTNER_B; others are
// ignored), keeping each partner's refusals ordered by code.
void add_refusals(v1::Insights& insights, v1::Role partner, v1::RejectionCode code,
                  std::uint32_t count);

// The summary of a conversation (issue 14) from its log as stored now: per turn the speaker's
// chunks whose mirror the speaker confirmed and the listener's reflections the speaker
// confirmed; the appreciations; the proposals the other partner accepted. Texts withdrawn or
// erased (kRetractedText, "[erased]") are left out, so retraction, erasure and retention
// apply to it as to the log it comes from. Turns with nothing confirmed are left out.
v1::ConversationSummary summarize(const std::vector<v1::Event>& events);

}  // namespace mend::engine
