// Test helper: a room driven through the engine with an injected clock.
// Templates and commands are written in Protobuf text format.
#pragma once

#include <google/protobuf/text_format.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "server/engine/engine.h"

namespace mend::engine::testing {

inline v1::Template parse_template(const std::string& text) {
  v1::Template tmpl;
  if (!google::protobuf::TextFormat::ParseFromString(text, &tmpl)) {
    throw std::runtime_error("bad template text");
  }
  return tmpl;
}

inline v1::Command parse_command(const std::string& text) {
  v1::Command command;
  if (!google::protobuf::TextFormat::ParseFromString(text, &command)) {
    throw std::runtime_error("bad command text: " + text);
  }
  command.set_command_id("test");
  return command;
}

inline v1::Actor partner_a() {
  v1::Actor actor;
  actor.set_role(v1::PARTNER_A);
  return actor;
}
inline v1::Actor partner_b() {
  v1::Actor actor;
  actor.set_role(v1::PARTNER_B);
  return actor;
}
inline v1::Actor observer(const std::string& name) {
  v1::Actor actor;
  actor.set_role(v1::OBSERVER);
  actor.set_observer(name);
  return actor;
}

// One stage, mirror per chunk with "is there more?", summary and validation; no appointment.
inline const char* const kImagoLike = R"pb(
  name: "test" title: "Test"
  opening { intention_prompt: "What do you intend?" }
  stages {
    name: "share" title: "Share" speaker_prompt: "Speak" listener_prompt: "Listen"
    opener: PARTNER_A both_partners: true mirror_each_chunk: true more_loop: true
    turn_reflections: [SUMMARY, VALIDATION]
  }
  closing { prompt: "Appreciate" }
)pb";

constexpr TimeMs kStart = 1'700'000'000'000;

// A room with an injected clock. Accepted events are applied at once; all events are kept.
class Room {
 public:
  explicit Room(const std::string& template_text = kImagoLike, RoomSetup setup = default_setup())
      : tmpl_(parse_template(template_text)) {
    apply(create_room(tmpl_, setup, now));
  }

  static RoomSetup default_setup() {
    RoomSetup setup;
    setup.topic = "dishes";
    setup.partner_a_name = "Alex";
    setup.partner_b_name = "Blake";
    setup.observers = {"dr-lee", "dr-kim"};
    return setup;
  }

  // Runs a command (text format) at `now`; applies the events when accepted.
  Decision run(const v1::Actor& actor, const std::string& command_text) {
    Decision d = decide(state, parse_command(command_text), actor, now);
    for (const v1::Event& e : d.events) apply(e);
    return d;
  }

  // Runs a command that must be accepted (fails the test otherwise, with the rejection).
  Decision ok(const v1::Actor& actor, const std::string& command_text);
  // Runs a command that must be rejected with `code`.
  v1::Rejection rejected(const v1::Actor& actor, const std::string& command_text,
                         v1::RejectionCode code);

  // Moves the clock and applies every timer event due.
  void advance_ms(TimeMs ms) {
    now += ms;
    for (auto due = tick(state, now); !due.empty(); due = tick(state, now)) {
      for (const v1::Event& e : due) apply(e);
    }
  }
  void advance_s(TimeMs s) { advance_ms(s * 1000); }

  void apply(const v1::Event& e) {
    evolve(state, e);
    events.push_back(e);
  }

  bool has_event(v1::Event::BodyCase body) const {
    for (const auto& e : events) {
      if (e.body_case() == body) return true;
    }
    return false;
  }
  const v1::Event& last_event() const { return events.back(); }

  // Both partners consent (approving `observers` each); the room is then OPENING.
  void consent_both(const std::string& terms = "") {
    ok(partner_a(), "consent { terms { " + terms + " } }");
    ok(partner_b(), "consent { terms { " + terms + " } }");
  }
  // Consent, then A opens: the first stage's speaker holds the floor.
  void open() {
    consent_both();
    ok(partner_a(), R"(open { intention: "to understand" })");
  }
  // Speaker shares a chunk, listener mirrors after the beat, speaker confirms.
  void mirror_round(const v1::Actor& speaker, const v1::Actor& listener) {
    ok(speaker, R"(share { text: "I felt alone" })");
    advance_ms(state.timing.reflection_beat_ms);
    ok(listener, R"(reflect { kind: MIRROR text: "you felt alone" })");
    ok(speaker, "confirm {}");
  }

  std::vector<v1::Action> allowed(const v1::Actor& who) const {
    auto v = view(state, who);
    std::vector<v1::Action> actions;
    for (int a : v.allowed_actions()) actions.push_back(static_cast<v1::Action>(a));
    return actions;
  }
  bool allows(const v1::Actor& who, v1::Action action) const {
    for (auto a : allowed(who)) {
      if (a == action) return true;
    }
    return false;
  }

  v1::Template tmpl_;
  RoomState state;
  TimeMs now = kStart;
  std::vector<v1::Event> events;
};

}  // namespace mend::engine::testing

namespace mend::engine::testing {

// Appointment first; speaker-listener style: mirror per chunk without "more", pass the
// floor to end a turn; problem solving after the last stage.
inline const char* const kAppointmentSpeakerListener = R"pb(
  name: "sl" title: "Speaker-listener"
  opening { appointment: true intention_prompt: "Intention" }
  stages {
    name: "floor" title: "Floor" opener: PARTNER_B both_partners: true
    mirror_each_chunk: true chunk_max_chars: 20
  }
  problem_solving: true
  closing { prompt: "Appreciate" }
  timing { time_out_min_s: 1800 appointment_window_s: 3600 }
)pb";

// No mirroring: feelings stage (hint FEELING_BECAUSE), then an apology stage with an
// empathy reflection and the APOLOGY_RESPONSE closer; a soft turn limit, advice and asking.
// PREP as therapists teach it: mirror per chunk, the listener may ask for an example, the
// floor goes back and forth until both move on; either partner opens (with the start-up
// form); a one-speaker stage after; problem solving.
inline const char* const kFloorSpeakerListener = R"pb(
  name: "floor" title: "Floor"
  opening { either_partner_opens: true startup_form: true intention_prompt: "Why talk?" }
  stages {
    name: "the-floor" title: "The floor" speaker_prompt: "Speak" listener_prompt: "Listen"
    opener: PARTNER_A both_partners: true until_both_move_on: true
    mirror_each_chunk: true listener_may_clarify: true
  }
  stages { name: "after" title: "After" speaker_prompt: "Speak" opener: PARTNER_A }
  problem_solving: true
  closing { prompt: "Appreciate" }
)pb";

// Fills `room` (kAftermathLike, just created) to limits::kConversationMessages messages: A
// opens, then shares in the first stage, which has no mirroring.
void fill_messages(Room& room);
// Fills `room` (kAppointmentSpeakerListener, just created) to limits::kConversationMessages
// requests: B proposes a time again and again.
void fill_requests(Room& room);

inline const char* const kAftermathLike = R"pb(
  name: "aftermath" title: "Aftermath"
  stages { name: "feelings" opener: PARTNER_A soft_turn_s: 60 listener_may_ask: true
           listener_questions: "What was that like?" }
  stages { name: "responsibility" opener: PARTNER_B turn_reflections: [EMPATHY]
           closer: APOLOGY_RESPONSE advice_on_request: true }
  closing { prompt: "Appreciate" }
)pb";

}  // namespace mend::engine::testing
