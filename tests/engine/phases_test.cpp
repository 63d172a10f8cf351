// The conversation phases (DESIGN 2, 4.3; docs/engine-rules.md "Phases").
#include <doctest/doctest.h>

#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();

// A room of kAppointmentSpeakerListener in OPENING.
Room opened_speaker_listener() {
  Room room(kAppointmentSpeakerListener);
  room.ok(B, "accept_invitation {}");
  room.open();
  return room;
}

// ---- INVITED ---------------------------------------------------------------------------

TEST_CASE("a room without appointment starts in consent") {
  Room room;
  CHECK(room.state.phase == v1::PHASE_CONSENT);
  CHECK(room.state.last_seq == 1);
}

TEST_CASE("a room with an appointment starts invited and partner B accepts now") {
  Room room(kAppointmentSpeakerListener);
  CHECK(room.state.phase == v1::PHASE_INVITED);
  room.ok(B, "accept_invitation {}");
  CHECK(room.state.phase == v1::PHASE_CONSENT);
}

TEST_CASE("partner A cannot accept the invitation without a proposed time") {
  Room room(kAppointmentSpeakerListener);
  room.rejected(A, "accept_invitation {}", v1::NOT_YOUR_TURN);
  room.rejected(A, "propose_time { start_at_ms: 1700000600000 }", v1::NOT_YOUR_TURN);
}

TEST_CASE("a proposed time must lie within the appointment window") {
  Room room(kAppointmentSpeakerListener);
  room.rejected(B, "propose_time { start_at_ms: " + std::to_string(room.now) + " }",
                v1::DURATION_OUT_OF_BOUNDS);
  room.rejected(B, "propose_time { start_at_ms: " + std::to_string(room.now + 3'600'001) + " }",
                v1::DURATION_OUT_OF_BOUNDS);
  room.ok(B, "propose_time { start_at_ms: " + std::to_string(room.now + 3'600'000) + " }");
}

TEST_CASE("the appointment starts when the proposed time arrives") {
  Room room(kAppointmentSpeakerListener);
  room.ok(B, "propose_time { start_at_ms: " + std::to_string(room.now + 600'000) + " }");
  CHECK(view(room.state, A).appointment_at_ms() == room.now + 600'000);
  room.advance_s(599);
  CHECK(room.state.phase == v1::PHASE_INVITED);
  room.advance_s(1);
  CHECK(room.last_event().has_appointment_due());
  CHECK(room.state.phase == v1::PHASE_CONSENT);
}

TEST_CASE("either partner may accept a proposed time to start now") {
  Room room(kAppointmentSpeakerListener);
  room.ok(B, "propose_time { start_at_ms: " + std::to_string(room.now + 600'000) + " }");
  room.ok(A, "accept_invitation {}");
  CHECK(room.state.phase == v1::PHASE_CONSENT);
  CHECK(view(room.state, A).declinable().empty());
}

TEST_CASE("partner A may decline a proposed time and partner B may propose again") {
  Room room(kAppointmentSpeakerListener);
  room.ok(B, "propose_time { start_at_ms: " + std::to_string(room.now + 600'000) + " }");
  const auto seq = room.state.last_seq;
  room.rejected(B, "decline { seq: " + std::to_string(seq) + " }", v1::NOT_YOURS);
  room.ok(A, "decline { seq: " + std::to_string(seq) + " }");
  room.rejected(A, "decline { seq: " + std::to_string(seq) + " }", v1::ALREADY_DONE);
  room.rejected(A, "accept_invitation {}", v1::NOT_YOUR_TURN);
  room.ok(B, "propose_time { start_at_ms: " + std::to_string(room.now + 900'000) + " }");
}

TEST_CASE("an unanswered invitation expires after the appointment window") {
  Room room(kAppointmentSpeakerListener);
  room.advance_s(3599);
  CHECK(room.state.phase == v1::PHASE_INVITED);
  room.advance_s(1);
  CHECK(room.state.phase == v1::PHASE_CLOSED);
  CHECK(room.state.closed_reason == v1::INVITATION_EXPIRED);
}

// ---- CONSENT ---------------------------------------------------------------------------

TEST_CASE("the conversation opens when both partners have consented") {
  Room room;
  room.ok(A, "consent { terms { retention_days: 30 } }");
  CHECK(room.state.phase == v1::PHASE_CONSENT);
  room.rejected(A, R"(open { intention: "x" })", v1::WRONG_PHASE);
  room.ok(B, "consent { terms { retention_days: 30 } }");
  CHECK(room.state.phase == v1::PHASE_OPENING);
}

TEST_CASE("consent waits until the invitation is accepted") {
  Room room(kAppointmentSpeakerListener);
  room.rejected(A, "consent { terms {} }", v1::WRONG_PHASE);
}

TEST_CASE("the shorter retention wins") {
  Room room;
  room.ok(A, "consent { terms { retention_days: 30 summary_to_observer: true } }");
  auto d = room.ok(B, "consent { terms { retention_days: 7 summary_to_observer: true } }");
  CHECK(d.events[0].consent_given().effective().retention_days() == 7);
  CHECK(d.events[0].consent_given().effective().summary_to_observer());
  CHECK(view(room.state, A).effective_terms().retention_days() == 7);
}

TEST_CASE("a summary goes to an observer only if both partners allow it") {
  Room room;
  room.ok(A, "consent { terms { summary_to_observer: true transcript_to_observer: true } }");
  auto d = room.ok(B, "consent { terms { summary_to_observer: false transcript_to_observer: true } }");
  CHECK_FALSE(d.events[0].consent_given().effective().summary_to_observer());
  CHECK(d.events[0].consent_given().effective().transcript_to_observer());
}

TEST_CASE("terms can be tightened later by one partner but not loosened alone") {
  Room room;
  room.consent_both("retention_days: 30");
  room.ok(A, R"(open { intention: "to understand" })");
  room.ok(A, "consent { terms { retention_days: 1 } }");
  CHECK(view(room.state, B).effective_terms().retention_days() == 1);
  room.ok(B, "consent { terms { retention_days: 90 } }");
  CHECK(view(room.state, B).effective_terms().retention_days() == 1);
}

TEST_CASE("retention over the table's kRetentionDays is out of bounds") {
  const std::uint32_t bound = limits::kRetentionDays.bound;
  Room room;
  const auto rejection = room.rejected(
      A, "consent { terms { retention_days: " + std::to_string(bound + 1) + " } }",
      v1::DURATION_OUT_OF_BOUNDS);
  CHECK(rejection.message().find(std::to_string(bound) + " days") != std::string::npos);
}

TEST_CASE("consent may approve only invited observers") {
  Room room;
  room.rejected(A, R"(consent { terms { observers: "stranger" } })", v1::UNKNOWN_OBSERVER);
}

// ---- OPENING ---------------------------------------------------------------------------

TEST_CASE("partner A opens and the first stage's opener holds the floor") {
  Room room;
  room.consent_both();
  room.rejected(B, R"(open { intention: "x" })", v1::NOT_YOUR_TURN);
  auto d = room.ok(A, R"(open { intention: "to understand" })");
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].has_conversation_opened());
  CHECK(d.events[1].stage_started().speaker() == v1::PARTNER_A);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
  CHECK(room.state.topic == "dishes");
  CHECK(room.state.intention == "to understand");
}

TEST_CASE("the opening needs an intention and a topic when the room has none") {
  RoomSetup setup = Room::default_setup();
  setup.topic.clear();
  Room room(kImagoLike, setup);
  room.consent_both();
  room.rejected(A, R"(open { intention: "  " topic: "money" })", v1::EMPTY);
  room.rejected(A, R"(open { intention: "to understand" })", v1::EMPTY);
  room.ok(A, R"(open { intention: "to understand" topic: "money" })");
  CHECK(room.state.topic == "money");
}

// ---- Stage rounds ----------------------------------------------------------------------

TEST_CASE("listener cannot share while the speaker holds the floor") {
  Room room;
  room.open();
  auto r = room.rejected(B, R"(share { text: "but I" })", v1::NOT_YOUR_TURN);
  CHECK(r.message() ==
        "It's your partner's turn to speak; you'll get the floor after they finish.");
}

TEST_CASE("after each chunk the listener must mirror before more is shared") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "I felt alone" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  room.rejected(A, R"(share { text: "and more" })", v1::WRONG_PHASE);
  room.rejected(A, R"(reflect { kind: MIRROR text: "me" })", v1::NOT_YOUR_TURN);
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "you felt alone" })");
  CHECK(room.state.phase == v1::PHASE_CONFIRMING);
  room.rejected(B, "confirm {}", v1::NOT_YOUR_TURN);
  room.ok(A, "confirm {}");
  CHECK(room.state.phase == v1::PHASE_MORE);
}

TEST_CASE("mirror before the reflection beat is too soon") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "I felt alone" })");
  CHECK(view(room.state, B).reflect_not_before_ms() == room.now + 2000);
  room.advance_ms(500);
  auto r = room.rejected(B, R"(reflect { kind: MIRROR text: "alone" })", v1::TOO_SOON);
  CHECK(r.retry_after_ms() == 1500);
  room.advance_ms(1500);
  room.ok(B, R"(reflect { kind: MIRROR text: "alone" })");
}

TEST_CASE("a correction requires a new mirror after the beat") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "I felt alone" })");
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "you were angry" })");
  room.ok(A, R"(correct { text: "no, alone" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  room.rejected(B, R"(reflect { kind: MIRROR text: "alone" })", v1::TOO_SOON);
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "alone" })");
  room.ok(A, "confirm {}");
}

TEST_CASE("is there more: more goes back to speaking") {
  Room room;
  room.open();
  room.mirror_round(A, B);
  room.rejected(B, "more {}", v1::NOT_YOUR_TURN);
  room.ok(A, "more {}");
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("summary and validation must each be confirmed before the roles switch") {
  Room room;
  room.open();
  room.mirror_round(A, B);
  room.ok(A, "no_more {}");
  CHECK(room.state.phase == v1::PHASE_SUMMARY);
  room.rejected(B, R"(reflect { kind: VALIDATION text: "makes sense" })", v1::WRONG_PHASE);
  room.ok(B, R"(reflect { kind: SUMMARY text: "in summary" })");
  room.ok(A, R"(correct { text: "also tired" })");
  CHECK(room.state.phase == v1::PHASE_SUMMARY);
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: SUMMARY text: "alone and tired" })");
  room.ok(A, "confirm {}");
  CHECK(room.state.phase == v1::PHASE_VALIDATION);
  room.ok(B, R"(reflect { kind: VALIDATION text: "makes sense" })");
  auto d = room.ok(A, "confirm {}");
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[1].roles_switched().speaker() == v1::PARTNER_B);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
  CHECK(room.state.turn.speaker == v1::PARTNER_B);
}

TEST_CASE("after both rounds of the last stage the conversation moves to closing") {
  Room room;
  room.open();
  for (const auto& [speaker, listener] : {std::pair{A, B}, std::pair{B, A}}) {
    room.mirror_round(speaker, listener);
    room.ok(speaker, "no_more {}");
    room.ok(listener, R"(reflect { kind: SUMMARY text: "s" })");
    room.ok(speaker, "confirm {}");
    room.ok(listener, R"(reflect { kind: VALIDATION text: "v" })");
    room.ok(speaker, "confirm {}");
  }
  CHECK(room.state.phase == v1::PHASE_CLOSING);
  CHECK(view(room.state, A).prompt() == "Appreciate");
}

TEST_CASE("the speaker may pass the floor, skipping the rest of the turn") {
  Room room = opened_speaker_listener();
  CHECK(room.state.turn.speaker == v1::PARTNER_B);
  room.rejected(A, "pass_floor {}", v1::NOT_YOUR_TURN);
  auto d = room.ok(B, "pass_floor {}");
  CHECK(d.events[1].roles_switched().speaker() == v1::PARTNER_A);
}

TEST_CASE("a chunk over the stage limit is too long") {
  Room room = opened_speaker_listener();
  room.rejected(B, R"(share { text: "123456789012345678901" })", v1::TOO_LONG);
  room.rejected(B, R"(share { text: " \n " })", v1::EMPTY);
  room.ok(B, R"(share { text: "12345678901234567890" })");
}

TEST_CASE("without a more loop a confirmed mirror returns to speaking") {
  Room room = opened_speaker_listener();
  room.mirror_round(B, A);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
  room.rejected(B, "no_more {}", v1::WRONG_PHASE);
}

TEST_CASE("a reflection of the wrong kind does not fit the phase") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "x" })");
  room.advance_s(2);
  room.rejected(B, R"(reflect { kind: EMPATHY text: "x" })", v1::WRONG_PHASE);
}

TEST_CASE("without mirroring the speaker ends sharing with no_more") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, R"(share { text: "I felt sad" })");
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
  auto d = room.ok(A, "no_more {}");
  CHECK(d.events.back().stage_started().stage_index() == 1);
  CHECK(room.state.turn.speaker == v1::PARTNER_B);
}

TEST_CASE("the apology stage ends with the listener accepting or still needing") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, "no_more {}");
  room.ok(B, R"(share { text: "I am sorry" })");
  room.ok(B, "no_more {}");
  CHECK(room.state.phase == v1::PHASE_EMPATHY);
  room.ok(A, R"(reflect { kind: EMPATHY text: "you feel sorry" })");
  room.ok(B, "confirm {}");
  CHECK(room.state.phase == v1::PHASE_APOLOGY_RESPONSE);
  room.rejected(B, "accept_apology {}", v1::NOT_YOUR_TURN);
  room.rejected(A, R"(still_need { text: "" })", v1::EMPTY);
  auto d = room.ok(A, R"(still_need { text: "I need time" })");
  CHECK(d.events.back().has_closing_started());
}

TEST_CASE("accepting the apology ends the turn") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, "no_more {}");
  room.ok(B, "no_more {}");
  room.ok(A, R"(reflect { kind: EMPATHY text: "sorry" })");
  room.ok(B, "confirm {}");
  auto d = room.ok(A, "accept_apology {}");
  CHECK(d.events.back().has_closing_started());
}

TEST_CASE("the listener may ask questions only in stages that allow it") {
  Room room(kAftermathLike);
  room.open();
  room.rejected(A, R"(ask { text: "why?" })", v1::NOT_YOUR_TURN);
  room.ok(B, R"(ask { text: "What was that like?" })");
  CHECK(view(room.state, B).listener_questions_size() == 1);
  room.ok(A, "no_more {}");
  room.rejected(A, R"(ask { text: "why?" })", v1::WRONG_PHASE);
}

TEST_CASE("advice is blocked unless the speaker requested it") {
  Room room(kAftermathLike);
  room.open();
  room.rejected(B, R"(advise { text: "try this" })", v1::WRONG_PHASE);
  room.ok(A, "no_more {}");
  room.rejected(A, R"(advise { text: "try this" })", v1::ADVICE_NOT_REQUESTED);
  room.rejected(A, "request_advice {}", v1::NOT_YOUR_TURN);
  room.ok(B, "request_advice {}");
  room.rejected(B, "request_advice {}", v1::ALREADY_DONE);
  CHECK(view(room.state, A).advice_requested());
  room.ok(A, R"(advise { text: "try this" })");
}

TEST_CASE("soft turn limit emits one turn time hint and never cuts the speaker off") {
  Room room(kAftermathLike);
  room.open();
  CHECK(next_deadline(room.state) == room.now + 60'000);
  room.advance_s(59);
  CHECK_FALSE(room.has_event(v1::Event::kTurnTimeHint));
  room.advance_s(1);
  CHECK(room.last_event().turn_time_hint().elapsed_s() == 60);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
  room.advance_s(600);
  CHECK(room.last_event().has_turn_time_hint());
  int hints = 0;
  for (const auto& e : room.events) hints += e.has_turn_time_hint() ? 1 : 0;
  CHECK(hints == 1);
  room.ok(A, R"(share { text: "still speaking" })");
}

TEST_CASE("the turn time hint waits until an overlay ends") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, "pause { duration_s: 120 }");
  room.advance_s(119);
  room.ok(A, "return {}");
  CHECK_FALSE(room.has_event(v1::Event::kTurnTimeHint));
  room.advance_ms(0);
  CHECK(room.last_event().has_turn_time_hint());
}

// ---- SOLUTION_GATE, PROBLEM_SOLVING, CLOSING --------------------------------------------

Room at_solution_gate() {
  Room room = opened_speaker_listener();
  room.ok(B, "pass_floor {}");
  room.ok(A, "pass_floor {}");
  return room;
}

TEST_CASE("each partner says once at the gate that they understand and whether to solve problems") {
  Room room = at_solution_gate();
  CHECK(room.state.phase == v1::PHASE_SOLUTION_GATE);
  room.rejected(A, R"(propose { text: "weekly dishes plan" })", v1::WRONG_PHASE);
  room.ok(A, "understood {}");
  room.rejected(A, "understood {}", v1::ALREADY_DONE);
  room.ok(A, "problem_solving_choice { opt_in: true }");
  room.rejected(A, "problem_solving_choice { opt_in: true }", v1::ALREADY_DONE);
  CHECK(view(room.state, B).a_understood());
}

TEST_CASE("choosing not to solve problems moves straight to closing") {
  Room room = at_solution_gate();
  auto d = room.ok(B, "problem_solving_choice { opt_in: false }");
  CHECK(d.events.back().has_closing_started());
}

TEST_CASE("a proposal is accepted or declined by the other partner only once") {
  Room room = at_solution_gate();
  room.ok(A, "feel_understood {}");
  room.ok(B, "feel_understood {}");
  room.ok(A, "problem_solving_choice { opt_in: true }");
  room.ok(B, "problem_solving_choice { opt_in: true }");
  room.ok(A, R"(propose { text: "I wash, you dry" })");
  const std::string seq = std::to_string(room.state.last_seq);
  CHECK(view(room.state, B).acceptable_proposals_size() == 1);
  CHECK(view(room.state, A).acceptable_proposals_size() == 0);
  room.rejected(A, "accept_proposal { seq: " + seq + " }", v1::NOT_YOURS);
  room.rejected(B, "accept_proposal { seq: 999 }", v1::NOT_FOUND);
  room.ok(B, "accept_proposal { seq: " + seq + " }");
  room.rejected(B, "accept_proposal { seq: " + seq + " }", v1::ALREADY_DONE);
  room.rejected(B, "decline { seq: " + seq + " }", v1::ALREADY_DONE);
  room.ok(B, "finish_problem_solving {}");
  CHECK(room.state.phase == v1::PHASE_CLOSING);
}

TEST_CASE("closing completes when both partners appreciated or finished") {
  Room room = at_solution_gate();
  room.ok(A, "problem_solving_choice { opt_in: false }");
  room.ok(A, R"(appreciate { text: "thank you for listening" })");
  room.rejected(A, "finish {}", v1::ALREADY_DONE);
  auto d = room.ok(B, "finish {}");
  CHECK(d.events.back().conversation_closed().reason() == v1::COMPLETED);
  CHECK(room.state.phase == v1::PHASE_CLOSED);
}

TEST_CASE("every command in a closed room is rejected") {
  Room room;
  room.ok(A, "leave {}");
  CHECK(room.state.closed_reason == v1::PARTNER_LEFT);
  room.rejected(B, "signal { kind: LISTENING }", v1::ROOM_CLOSED);
  room.rejected(observer("dr-lee"), "note { text: \"n\" }", v1::ROOM_CLOSED);
  CHECK(view(room.state, A).allowed_actions().empty());
}

}  // namespace
}  // namespace mend::engine::testing
