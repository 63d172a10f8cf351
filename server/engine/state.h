// RoomState: everything the engine knows about one room, rebuilt by replaying its events.
// Plain data with value semantics; compare with == (replay must rebuild an equal state).
//
// The state keeps no message texts except what views show (topic, intention, names): per
// content message only its seq, author, kind and retracted flag; per request its seq,
// sender and whether it was answered.
//
// Thread safety: a plain value; guard it like any other (the room host owns it on its strand).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "mend/v1/template.pb.h"
#include "server/engine/timing.h"

namespace mend::engine {

// Milliseconds since the Unix epoch. The only notion of time the engine knows.
using TimeMs = std::int64_t;

// The room's template, shared and immutable, compared by value.
class TemplateRef {
 public:
  TemplateRef() = default;
  explicit TemplateRef(std::shared_ptr<const v1::Template> tmpl) : tmpl_(std::move(tmpl)) {}

  bool has_value() const { return tmpl_ != nullptr; }
  // Precondition: has_value().
  const v1::Template& get() const { return *tmpl_; }
  const v1::Template* operator->() const { return tmpl_.get(); }

  // Equal when both are empty, or both hold equal templates (same pointer or same content).
  bool operator==(const TemplateRef& other) const;

 private:
  std::shared_ptr<const v1::Template> tmpl_;
};

// What a retracted text reads everywhere it is shown (views, replays, transcripts).
inline constexpr const char* kRetractedText = "[retracted]";
// What an erased text reads (a partner's erasure, a retention purge; server/rooms/privacy.h).
inline constexpr const char* kErasedText = "[erased]";

// A content event a partner may retract (Shared, Reflected, ..., ConversationOpened).
struct ContentMessage {
  std::uint64_t seq = 0;
  v1::Role author = v1::ROLE_UNSPECIFIED;
  v1::Event::BodyCase kind = v1::Event::BODY_NOT_SET;
  bool retracted = false;
  bool operator==(const ContentMessage&) const = default;
};

// A request addressed to the other partner: a proposed time (from B), a proposal, a question
// (from the listener to the speaker) or a request for advice (from the speaker to the
// listener). Questions and requests for advice are pending for the current turn only.
enum class RequestKind : std::uint8_t { kTimeProposal, kProposal, kQuestion, kAdviceRequest };

struct Request {
  std::uint64_t seq = 0;
  v1::Role from = v1::ROLE_UNSPECIFIED;
  RequestKind kind = RequestKind::kProposal;
  bool answered = false;  // accepted, declined, retracted, superseded or no longer pending
  bool operator==(const Request&) const = default;
};

enum class Choice : std::uint8_t { kNone, kOptIn, kOptOut };

// One partner's terms and shared-step flags.
struct PartnerState {
  std::string name;
  bool consented = false;
  std::uint32_t retention_days = 0;  // their terms (observer approvals live in ObserverState)
  bool summary_to_observer = false;
  bool transcript_to_observer = false;
  bool ready = false;       // CHECK_IN
  bool understood = false;        // SOLUTION_GATE: the listener's own "I understand"
  bool feels_understood = false;  // SOLUTION_GATE: "I feel understood" (opens the gate)
  bool moves_on = false;  // until_both_move_on stages: chose to move on since the last chunk
  Choice problem_solving = Choice::kNone;
  bool done = false;        // CLOSING
  bool operator==(const PartnerState&) const = default;
};

// One invited observer, in RoomCreated order.
struct ObserverState {
  std::string name;
  bool approved_by_a = false;
  bool approved_by_b = false;
  v1::ObserverStatus status = v1::OBSERVER_INVITED;
  bool approved() const { return approved_by_a && approved_by_b; }
  bool operator==(const ObserverState&) const = default;
};

// The current stage round (valid while a stage has started).
struct TurnState {
  std::uint32_t stage_index = 0;
  v1::Role speaker = v1::ROLE_UNSPECIFIED;
  bool second_round = false;          // roles already switched in this stage
  std::uint32_t reflection_index = 0; // next of stage.turn_reflections
  v1::ReflectionKind confirming = v1::REFLECTION_KIND_UNSPECIFIED;  // kind in CONFIRMING
  bool after_correction = false;      // the owed reflection follows a `correct`
  TimeMs last_speaker_content_ms = 0; // last Shared / Corrected: start of the reflection beat
  bool advice_requested = false;
  TimeMs turn_started_ms = 0;
  bool turn_hint_sent = false;
  bool operator==(const TurnState&) const = default;
};

// The active overlay (valid while phase is PAUSED .. CONSULT_BREAK).
struct OverlayState {
  v1::Role caller = v1::ROLE_UNSPECIFIED;  // partner who paused / timed out, or OBSERVER
  std::string observer;                     // observer who called a consultation break
  TimeMs ends_at_ms = 0;  // pause end, time-out return, break end, rescheduled resumption
  TimeMs cap_at_ms = 0;   // time-out episode cap
  bool return_due = false;
  bool rescheduled = false;  // SUSPENDED: a resumption time is set (ends_at_ms)
  v1::CheckInReason check_in_reason = v1::CHECK_IN_REASON_UNSPECIFIED;
  bool operator==(const OverlayState&) const = default;
};

// The softened start-up lines of the opening (Gottman; NVC), all optional.
struct StartupLines {
  std::string feeling;
  std::string situation;
  std::string need;
  bool operator==(const StartupLines&) const = default;
};

struct RoomState {
  std::uint64_t last_seq = 0;
  TemplateRef tmpl;
  ResolvedTiming timing;
  TimeMs created_at_ms = 0;
  std::string topic;
  std::string intention;
  StartupLines startup;
  // The partner who opened the conversation; stage openers are relative to it.
  v1::Role initiator = v1::ROLE_UNSPECIFIED;
  bool topic_from_opening = false;  // the opener stated the topic (a retraction withdraws it)

  // `phase` is the overlay while one is active; `saved_phase` the phase it returns to.
  v1::Phase phase = v1::PHASE_UNSPECIFIED;
  v1::Phase saved_phase = v1::PHASE_UNSPECIFIED;
  v1::ClosedReason closed_reason = v1::CLOSED_REASON_UNSPECIFIED;
  TimeMs appointment_at_ms = 0;  // INVITED: the pending proposed time

  PartnerState a;
  PartnerState b;
  std::vector<ObserverState> observers;
  TurnState turn;
  OverlayState overlay;
  std::vector<ContentMessage> messages;  // ascending seq
  std::vector<Request> requests;         // ascending seq

  bool operator==(const RoomState&) const = default;
};

}  // namespace mend::engine
