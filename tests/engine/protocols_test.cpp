// The protocols as therapists teach them (PROTOCOLS.md A.1, A.3.2, A.3.6; issue 10 items
// 11-15): the floor that goes back and forth (PREP), the listener's request for clarification,
// either partner opening, the speaker's own "I feel understood" as the gate to problem solving
// (Gottman-Rapoport), declining every request, and the start-up form in the view.
#include <doctest/doctest.h>

#include <set>

#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();

const char* const kFloor = kFloorSpeakerListener;

Room opened_floor(const v1::Actor& opener = A) {
  Room room(kFloor);
  room.consent_both();
  room.ok(opener, R"(open { intention: "to understand" })");
  return room;
}

// ---- Item 11: Speaker-Listener (PREP) --------------------------------------------------------

TEST_CASE("the floor goes back and forth as often as the couple needs until both move on") {
  Room room = opened_floor();
  for (int pass = 0; pass < 5; ++pass) {
    const v1::Actor& speaker = pass % 2 == 0 ? A : B;
    const v1::Actor& listener = pass % 2 == 0 ? B : A;
    CHECK(room.state.turn.speaker == speaker.role());
    room.mirror_round(speaker, listener);
    auto d = room.ok(speaker, "pass_floor {}");
    REQUIRE(d.events.size() == 2);
    CHECK(d.events[1].roles_switched().speaker() == listener.role());
    CHECK(room.state.turn.stage_index == 0);
  }
  CHECK(room.state.turn.speaker == v1::PARTNER_B);
  room.ok(A, "move_on {}");
  CHECK(view(room.state, B).a_moves_on());
  room.rejected(A, "move_on {}", v1::ALREADY_DONE);
  CHECK(room.state.turn.stage_index == 0);
  auto d = room.ok(B, "move_on {}");
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].has_move_on_chosen());
  CHECK(d.events[1].stage_started().stage_index() == 1);
}

TEST_CASE("a new chunk asks both partners again whether they are ready to move on") {
  Room room = opened_floor();
  room.ok(B, "move_on {}");
  CHECK(room.allows(A, v1::ACTION_MOVE_ON));
  room.mirror_round(A, B);
  CHECK_FALSE(view(room.state, A).b_moves_on());
  room.ok(A, "move_on {}");
  room.ok(A, "pass_floor {}");
  CHECK_FALSE(view(room.state, B).a_moves_on());
}

TEST_CASE("moving on is chosen between chunks, not while a mirror is owed") {
  Room room = opened_floor();
  room.ok(A, R"(share { text: "I felt alone" })");
  room.rejected(B, "move_on {}", v1::WRONG_PHASE);
  CHECK_FALSE(room.allows(A, v1::ACTION_MOVE_ON));
  Room plain;  // a stage without until_both_move_on
  plain.open();
  plain.rejected(A, "move_on {}", v1::WRONG_PHASE);
}

TEST_CASE("the speaker may pass the floor while being mirrored") {
  Room room = opened_floor();
  room.ok(A, R"(share { text: "I felt alone" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  CHECK(room.allows(A, v1::ACTION_PASS_FLOOR));
  room.rejected(B, "pass_floor {}", v1::NOT_YOUR_TURN);
  auto d = room.ok(A, "pass_floor {}");
  CHECK(d.events[1].roles_switched().speaker() == v1::PARTNER_B);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("the listener may ask for an example in place of a mirror and the speaker answers") {
  Room room = opened_floor();
  room.ok(A, R"(share { text: "I felt alone" })");
  room.rejected(A, R"(share { text: "more" })", v1::WRONG_PHASE);
  room.rejected(A, R"(ask { text: "why?" })", v1::NOT_YOUR_TURN);
  CHECK(room.allows(B, v1::ACTION_ASK));
  room.ok(B, R"(ask { text: "Can you give me an example?" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  CHECK(room.allows(A, v1::ACTION_SHARE));
  room.advance_s(2);
  room.ok(A, R"(share { text: "Last Sunday I ate alone" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  // The answer restarts the reflection beat; the mirror is still owed.
  room.rejected(B, R"(reflect { kind: MIRROR text: "you ate alone" })", v1::TOO_SOON);
  CHECK_FALSE(room.allows(A, v1::ACTION_SHARE));
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "you ate alone on Sunday" })");
  room.ok(A, "confirm {}");
}

TEST_CASE("asking for clarification needs a stage that offers it") {
  Room room;  // kImagoLike: mirror per chunk without listener_may_clarify
  room.open();
  room.ok(A, R"(share { text: "I felt alone" })");
  room.rejected(B, R"(ask { text: "Can you give me an example?" })", v1::WRONG_PHASE);
}

TEST_CASE("either partner may open where the template says so, and the initiator speaks first") {
  Room room(kFloor);
  room.consent_both();
  CHECK(room.allows(A, v1::ACTION_OPEN));
  CHECK(room.allows(B, v1::ACTION_OPEN));
  CHECK(view(room.state, B).prompt() == "Why talk?");
  auto d = room.ok(B, R"(open { intention: "I want us to be close" })");
  CHECK(d.events[1].stage_started().speaker() == v1::PARTNER_B);
  room.rejected(A, R"(open { intention: "me too" })", v1::WRONG_PHASE);
  // Stage openers are relative to the initiator: partner B opens the next stage too.
  room.ok(B, "move_on {}");
  d = room.ok(A, "move_on {}");
  CHECK(d.events[1].stage_started().speaker() == v1::PARTNER_B);
}

// ---- Item 12: the gate to problem solving (Gottman-Rapoport) ---------------------------------

Room at_gate() {
  Room room = opened_floor();
  room.ok(A, "move_on {}");
  room.ok(B, "move_on {}");
  room.ok(A, "pass_floor {}");
  REQUIRE(room.state.phase == v1::PHASE_SOLUTION_GATE);
  return room;
}

TEST_CASE("the listener's own I understand does not open problem solving") {
  Room room = at_gate();
  room.ok(A, "understood {}");
  room.ok(B, "understood {}");
  room.ok(A, "problem_solving_choice { opt_in: true }");
  room.ok(B, "problem_solving_choice { opt_in: true }");
  CHECK(room.state.phase == v1::PHASE_SOLUTION_GATE);
  CHECK(room.allows(A, v1::ACTION_FEEL_UNDERSTOOD));
  room.rejected(A, R"(propose { text: "my way" })", v1::WRONG_PHASE);
}

TEST_CASE("problem solving opens once both speakers feel understood and both opted in") {
  Room room = at_gate();
  room.ok(A, "feel_understood {}");
  room.rejected(A, "feel_understood {}", v1::ALREADY_DONE);
  CHECK(view(room.state, B).a_feels_understood());
  room.ok(A, "problem_solving_choice { opt_in: true }");
  room.ok(B, "problem_solving_choice { opt_in: true }");
  CHECK(room.state.phase == v1::PHASE_SOLUTION_GATE);
  auto d = room.ok(B, "feel_understood {}");
  CHECK(d.events.back().has_problem_solving_started());
  CHECK(room.state.phase == v1::PHASE_PROBLEM_SOLVING);
}

TEST_CASE("feeling understood is said at the gate, not during the stage rounds") {
  Room room = opened_floor();
  room.rejected(A, "feel_understood {}", v1::WRONG_PHASE);
}

// ---- Item 13: decline covers every request; pass_floor in every phase of one's turn -------

TEST_CASE("the speaker may decline a question of the listener") {
  Room room(kAftermathLike);
  room.open();
  room.ok(B, R"(ask { text: "What was that like?" })");
  const std::string seq = std::to_string(room.state.last_seq);
  CHECK(view(room.state, A).declinable_size() == 1);
  CHECK(view(room.state, B).declinable_size() == 0);
  room.rejected(B, "decline { seq: " + seq + " }", v1::NOT_YOURS);
  room.ok(A, "decline { seq: " + seq + " }");
  room.rejected(A, "decline { seq: " + seq + " }", v1::ALREADY_DONE);
}

TEST_CASE("a shared chunk answers the listener's question") {
  Room room(kAftermathLike);
  room.open();
  room.ok(B, R"(ask { text: "What was that like?" })");
  room.ok(A, R"(share { text: "It was lonely" })");
  CHECK(view(room.state, A).declinable_size() == 0);
}

TEST_CASE("the listener may decline a request for advice") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, "no_more {}");
  room.ok(B, "request_advice {}");
  const std::string seq = std::to_string(room.state.last_seq);
  CHECK(view(room.state, A).declinable_size() == 1);
  room.rejected(B, "decline { seq: " + seq + " }", v1::NOT_YOURS);
  auto d = room.ok(A, "decline { seq: " + seq + " }");
  CHECK(d.events[0].declined().seq() == room.state.last_seq - 1);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("advice answers the request for advice") {
  Room room(kAftermathLike);
  room.open();
  room.ok(A, "no_more {}");
  room.ok(B, "request_advice {}");
  room.ok(A, R"(advise { text: "rest first" })");
  CHECK(view(room.state, A).declinable_size() == 0);
}

TEST_CASE("questions and requests for advice are no longer pending once the turn ends") {
  Room room(kAftermathLike);
  room.open();
  room.ok(B, R"(ask { text: "What was that like?" })");
  room.ok(A, "no_more {}");
  CHECK(view(room.state, A).declinable_size() == 0);
  room.ok(B, "request_advice {}");
  room.ok(B, "pass_floor {}");
  CHECK(view(room.state, A).declinable_size() == 0);
}

TEST_CASE("pass_floor is allowed in every phase of the speaker's own turn") {
  // kImagoLike: mirror, confirm, more, summary, validation. kAftermathLike: empathy, apology.
  Room room;
  room.open();
  std::set<v1::Phase> seen;
  auto check_phase = [&](Room& r) {
    INFO("phase ", v1::Phase_Name(r.state.phase));
    const v1::Actor speaker = r.state.turn.speaker == v1::PARTNER_A ? A : B;
    const v1::Actor listener = r.state.turn.speaker == v1::PARTNER_A ? B : A;
    CHECK(r.allows(speaker, v1::ACTION_PASS_FLOOR));
    CHECK_FALSE(r.allows(listener, v1::ACTION_PASS_FLOOR));
    seen.insert(r.state.phase);
  };
  check_phase(room);
  room.ok(A, R"(share { text: "I felt alone" })");
  check_phase(room);
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "alone" })");
  check_phase(room);
  room.ok(A, "confirm {}");
  check_phase(room);
  room.ok(A, "no_more {}");
  check_phase(room);
  room.ok(B, R"(reflect { kind: SUMMARY text: "s" })");
  room.ok(A, "confirm {}");
  check_phase(room);
  auto d = room.ok(A, "pass_floor {}");
  CHECK(d.events[1].roles_switched().speaker() == v1::PARTNER_B);

  Room aftermath(kAftermathLike);
  aftermath.open();
  aftermath.ok(A, "no_more {}");
  aftermath.ok(B, "no_more {}");
  check_phase(aftermath);
  aftermath.ok(A, R"(reflect { kind: EMPATHY text: "sorry" })");
  aftermath.ok(B, "confirm {}");
  check_phase(aftermath);
  CHECK(seen == std::set<v1::Phase>{v1::PHASE_SPEAKING, v1::PHASE_MIRRORING,
                                    v1::PHASE_CONFIRMING, v1::PHASE_MORE, v1::PHASE_SUMMARY,
                                    v1::PHASE_VALIDATION, v1::PHASE_EMPATHY,
                                    v1::PHASE_APOLOGY_RESPONSE});
  aftermath.ok(B, "pass_floor {}");
  CHECK(aftermath.state.phase == v1::PHASE_CLOSING);
}

// ---- Item 15: the start-up form reaches the view ---------------------------------------------

TEST_CASE("the view offers the start-up form where the template asks for it and shows its lines") {
  Room room(kFloor);
  room.consent_both();
  CHECK(view(room.state, A).startup_form());
  CHECK(view(room.state, B).startup_form());
  room.ok(A, R"(open { intention: "to understand"
                       startup { feeling: "lonely" situation: "Sunday evenings"
                                 need: "time together" } })");
  for (const v1::Actor& who : {A, B}) {
    const v1::RoomView v = view(room.state, who);
    CHECK_FALSE(v.startup_form());
    CHECK(v.startup().feeling() == "lonely");
    CHECK(v.startup().situation() == "Sunday evenings");
    CHECK(v.startup().need() == "time together");
  }
  Room plain;  // kImagoLike has no start-up form
  plain.consent_both();
  CHECK_FALSE(view(plain.state, A).startup_form());
}

}  // namespace
}  // namespace mend::engine::testing
