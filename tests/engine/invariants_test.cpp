// Invariants checked in every build (server/engine/invariant.h; docs/engine-rules.md
// "Invariants"): a broken one throws InvariantViolation naming the invariant, never content.
#include <doctest/doctest.h>

#include <string>

#include "server/engine/invariant.h"
#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

// The message of the InvariantViolation `apply` throws; fails the test when it throws none.
template <typename F>
std::string violation_of(F apply) {
  try {
    apply();
  } catch (const InvariantViolation& violation) {
    return violation.what();
  }
  FAIL("no InvariantViolation was thrown");
  return {};
}

v1::Event next_event(const RoomState& state) {
  v1::Event event;
  event.set_seq(state.last_seq + 1);
  event.set_at_ms(kStart);
  event.mutable_actor()->set_role(v1::SYSTEM);
  return event;
}

TEST_CASE("evolve refuses an event whose seq is not last_seq + 1, naming only the invariant") {
  Room room;
  room.open();
  RoomState state = room.state;
  v1::Event skipped = next_event(state);
  skipped.set_seq(state.last_seq + 2);
  const std::string message = violation_of([&] { evolve(state, skipped); });
  CHECK(message.find("evolve: the event's seq is last_seq + 1") != std::string::npos);
  CHECK(message.find("evolve.cpp:") != std::string::npos);
  CHECK(message.find("dishes") == std::string::npos);  // the topic
  CHECK(message.find("Alex") == std::string::npos);
  v1::Event again = next_event(state);
  again.set_seq(state.last_seq);
  CHECK_THROWS_AS(evolve(state, again), InvariantViolation);
}

TEST_CASE("evolve refuses a second RoomCreated and a room that does not begin with one") {
  Room room;
  RoomState state = room.state;
  v1::Event created = room.events.front();
  created.set_seq(state.last_seq + 1);
  CHECK_THROWS_AS(evolve(state, created), InvariantViolation);
  RoomState empty;
  CHECK_THROWS_AS(evolve(empty, next_event(empty)), InvariantViolation);
}

TEST_CASE("a stage round without a floor holder is caught at the next event") {
  Room room;
  room.open();
  REQUIRE(room.state.phase == v1::PHASE_SPEAKING);
  RoomState state = room.state;
  state.turn.speaker = v1::ROLE_UNSPECIFIED;
  const std::string message = violation_of([&] { evolve(state, next_event(state)); });
  CHECK(message.find("exactly one partner holds the floor") != std::string::npos);
}

TEST_CASE("an overlay that saved no conversation phase is caught at the next event") {
  Room room;
  room.open();
  RoomState state = room.state;
  state.phase = v1::PHASE_PAUSED;
  state.saved_phase = v1::PHASE_CONSULT_BREAK;
  CHECK_THROWS_AS(evolve(state, next_event(state)), InvariantViolation);
}

TEST_CASE("replaying a whole conversation keeps every invariant") {
  Room room;
  room.open();
  room.ok(partner_a(), R"(share { text: "I felt alone." })");
  room.advance_s(3);
  RoomState replayed;
  for (const v1::Event& event : room.events) CHECK_NOTHROW(evolve(replayed, event));
  CHECK(replayed == room.state);
}

}  // namespace
}  // namespace mend::engine::testing
