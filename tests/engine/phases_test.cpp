// The conversation phases (DESIGN 2, 4.3; docs/engine-rules.md "Phases").
#include <doctest/doctest.h>

#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();

TEST_CASE("a room without appointment starts in consent") {
  Room room;
  CHECK(room.state.phase == v1::PHASE_CONSENT);
  CHECK(room.state.last_seq == 1);
}

TEST_CASE("the conversation opens when both partners have consented") {
  Room room;
  room.ok(A, "consent { terms { retention_days: 30 } }");
  CHECK(room.state.phase == v1::PHASE_CONSENT);
  room.ok(B, "consent { terms { retention_days: 30 } }");
  CHECK(room.state.phase == v1::PHASE_OPENING);
}

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
}

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
  room.advance_s(2);
  room.ok(B, R"(reflect { kind: MIRROR text: "you felt alone" })");
  CHECK(room.state.phase == v1::PHASE_CONFIRMING);
  room.ok(A, "confirm {}");
  CHECK(room.state.phase == v1::PHASE_MORE);
}

}  // namespace
}  // namespace mend::engine::testing
