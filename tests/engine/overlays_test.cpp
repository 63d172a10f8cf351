// Overlays: pause, check-in, time-out, suspension, consultation break (DESIGN 4.4).
#include <doctest/doctest.h>

#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();
const v1::Actor kLee = observer("dr-lee");

constexpr TimeMs kMinute = 60'000;

std::string time_out_at(TimeMs at) { return "time_out { return_at_ms: " + std::to_string(at) + " }"; }

// Both partners approved dr-lee, who joined; A holds the floor.
Room opened_with_observer() {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.ok(kLee, "join {}");
  room.ok(A, R"(open { intention: "to understand" })");
  return room;
}

TEST_CASE("a pause rejects all content from both partners") {
  Room room;
  room.open();
  auto d = room.ok(B, "pause {}");
  CHECK(d.events[0].paused().until_ms() == room.now + 2 * kMinute);
  CHECK(room.state.phase == v1::PHASE_PAUSED);
  CHECK(room.state.saved_phase == v1::PHASE_SPEAKING);
  room.rejected(A, R"(share { text: "x" })", v1::PAUSED);
  room.rejected(B, R"(share { text: "x" })", v1::PAUSED);
  room.ok(A, "signal { kind: TAKE_YOUR_TIME }");
  room.ok(A, "repair { kind: I_AM_SORRY }");
}

TEST_CASE("a pause longer than the template maximum is out of bounds") {
  Room room;
  room.open();
  room.rejected(A, "pause { duration_s: 601 }", v1::DURATION_OUT_OF_BOUNDS);
  room.ok(A, "pause { duration_s: 600 }");
  room.rejected(B, "pause {}", v1::WRONG_PHASE);
}

TEST_CASE("pauses are for a conversation in progress") {
  Room room;
  room.rejected(A, "pause {}", v1::WRONG_PHASE);
}

TEST_CASE("only the caller may end a pause early") {
  Room room;
  room.open();
  room.ok(A, "pause {}");
  room.rejected(B, "return {}", v1::ONLY_CALLER);
  auto d = room.ok(A, "return {}");
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[1].resumed().phase() == v1::PHASE_SPEAKING);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("an expired pause becomes a check-in that both partners answer") {
  Room room;
  room.open();
  room.ok(A, "pause { duration_s: 60 }");
  room.advance_s(60);
  CHECK(room.state.phase == v1::PHASE_CHECK_IN);
  CHECK(room.last_event().check_in_started().reason() == v1::PAUSE_ENDED);
  room.rejected(A, R"(share { text: "x" })", v1::PAUSED);
  room.ok(A, "ready {}");
  room.rejected(A, "ready {}", v1::ALREADY_DONE);
  CHECK(view(room.state, B).a_ready());
  auto d = room.ok(B, "ready {}");
  CHECK(d.events.back().resumed().phase() == v1::PHASE_SPEAKING);
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("either partner may call a time-out and the other gets no last word") {
  Room room;
  room.open();
  auto d = room.ok(B, "time_out {}");
  CHECK(d.events[0].timed_out().return_at_ms() == room.now + 20 * kMinute);
  CHECK(d.events[0].timed_out().cap_at_ms() == room.now + 24 * 60 * kMinute);
  room.rejected(A, R"(share { text: "one more thing" })", v1::TIMED_OUT);
  room.rejected(B, R"(share { text: "x" })", v1::TIMED_OUT);
}

TEST_CASE("no last word during a time-out") {
  Room room;
  room.open();
  room.ok(B, "time_out {}");
  room.rejected(A, "repair { kind: LET_ME_TRY_AGAIN }", v1::TIMED_OUT);
  room.ok(A, "signal { kind: TAKE_YOUR_TIME }");
}

TEST_CASE("only the caller may end a time-out") {
  Room room;
  room.open();
  room.ok(B, "time_out {}");
  room.rejected(A, "return {}", v1::ONLY_CALLER);
  room.rejected(A, time_out_at(room.now + 30 * kMinute).replace(0, 8, "extend"),
                v1::ONLY_CALLER);
  room.ok(B, "return {}");
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("time-out shorter than the template floor is rejected") {
  Room room(kAppointmentSpeakerListener);  // time_out_min_s: 1800
  room.ok(B, "accept_invitation {}");
  room.open();
  room.rejected(A, time_out_at(room.now + 25 * kMinute), v1::DURATION_OUT_OF_BOUNDS);
  auto d = room.ok(A, "time_out {}");
  CHECK(d.events[0].timed_out().return_at_ms() == room.now + 30 * kMinute);
}

TEST_CASE("time-out shorter than the hard floor of 20 minutes is rejected") {
  Room room;
  room.open();
  room.rejected(A, time_out_at(room.now + 19 * kMinute), v1::DURATION_OUT_OF_BOUNDS);
  room.rejected(A, time_out_at(room.now + 24 * 60 * kMinute + 1), v1::DURATION_OUT_OF_BOUNDS);
  room.ok(A, time_out_at(room.now + 20 * kMinute));
}

TEST_CASE("a time-out may escalate a pause and keeps the saved phase") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "x" })");
  room.ok(A, "pause {}");
  room.ok(B, "time_out {}");
  CHECK(room.state.phase == v1::PHASE_TIMED_OUT);
  CHECK(room.state.saved_phase == v1::PHASE_MIRRORING);
  room.rejected(A, "return {}", v1::ONLY_CALLER);
  room.ok(B, "return {}");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
}

TEST_CASE("the caller extends a time-out but never past its cap") {
  Room room;
  room.open();
  room.ok(A, "time_out {}");
  const TimeMs cap = room.state.overlay.cap_at_ms;
  room.rejected(A, "extend { return_at_ms: " + std::to_string(cap + 1) + " }",
                v1::DURATION_OUT_OF_BOUNDS);
  room.ok(A, "extend { return_at_ms: " + std::to_string(room.now + 60 * kMinute) + " }");
  CHECK(view(room.state, B).overlay_ends_at_ms() == room.now + 60 * kMinute);
}

TEST_CASE("the time-out return time arriving marks the return as due") {
  Room room;
  room.open();
  room.ok(A, "time_out {}");
  room.advance_s(20 * 60);
  CHECK(room.last_event().has_time_out_return_due());
  CHECK(room.state.phase == v1::PHASE_TIMED_OUT);
  CHECK(view(room.state, A).return_due());
}

TEST_CASE("time-out episode is capped at 24 hours and the room is suspended") {
  Room room;
  room.open();
  room.ok(A, "time_out {}");
  room.advance_s(24 * 3600 - 1);
  CHECK(room.state.phase == v1::PHASE_TIMED_OUT);
  room.advance_s(1);
  CHECK(room.last_event().has_suspended());
  CHECK(room.state.phase == v1::PHASE_SUSPENDED);
  room.rejected(B, R"(share { text: "x" })", v1::SUSPENDED_RESUMPTION_OWED);
  room.rejected(B, "repair { kind: I_AM_SORRY }", v1::SUSPENDED_RESUMPTION_OWED);
  room.rejected(A, "return {}", v1::WRONG_PHASE);
}

TEST_CASE("a suspended room resumes at the rescheduled time with a check-in") {
  Room room;
  room.open();
  room.ok(A, "time_out {}");
  room.advance_s(24 * 3600);
  room.rejected(B, "reschedule { start_at_ms: " + std::to_string(room.now) + " }",
                v1::DURATION_OUT_OF_BOUNDS);
  room.ok(B, "reschedule { start_at_ms: " + std::to_string(room.now + 60 * kMinute) + " }");
  room.ok(A, "reschedule { start_at_ms: " + std::to_string(room.now + 30 * kMinute) + " }");
  room.advance_s(30 * 60);
  CHECK(room.last_event().check_in_started().reason() == v1::RESUMPTION_DUE);
  room.ok(A, "ready {}");
  room.ok(B, "ready {}");
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("rescheduling is only for a suspended room") {
  Room room;
  room.open();
  room.rejected(A, "reschedule { start_at_ms: " + std::to_string(room.now + kMinute) + " }",
                v1::WRONG_PHASE);
}

TEST_CASE("an observer's consultation break pauses both partners and allows prompts") {
  Room room = opened_with_observer();
  auto d = room.ok(kLee, "consult_break {}");
  CHECK(d.events[0].consult_break_started().until_ms() == room.now + 5 * kMinute);
  room.rejected(A, R"(share { text: "x" })", v1::CONSULT_BREAK_ACTIVE);
  room.ok(kLee, R"(prompt { text: "Take a breath together" })");
  room.rejected(A, "return {}", v1::ONLY_CALLER);
  room.rejected(A, "pause {}", v1::WRONG_PHASE);
  room.ok(kLee, "return {}");
  CHECK(room.state.phase == v1::PHASE_SPEAKING);
}

TEST_CASE("a consultation break longer than the maximum is out of bounds") {
  Room room = opened_with_observer();
  room.rejected(kLee, "consult_break { duration_s: 1801 }", v1::DURATION_OUT_OF_BOUNDS);
}

TEST_CASE("an ended consultation break becomes a check-in") {
  Room room = opened_with_observer();
  room.ok(kLee, "consult_break { duration_s: 60 }");
  room.advance_s(60);
  CHECK(room.last_event().check_in_started().reason() == v1::CONSULT_BREAK_ENDED);
  room.rejected(kLee, R"(prompt { text: "x" })", v1::PAUSED);
}

TEST_CASE("observer prompts are held back during a time-out") {
  Room room = opened_with_observer();
  room.ok(A, "time_out {}");
  room.rejected(kLee, R"(prompt { text: "x" })", v1::TIMED_OUT);
  room.ok(kLee, R"(note { text: "flooding" })");
}

TEST_CASE("tick produces overdue timers one deadline at a time in deadline order") {
  Room room;
  room.open();
  room.ok(A, "time_out {}");
  const TimeMs later = room.now + 25 * 3600 * 1000LL;
  auto first = tick(room.state, later);
  REQUIRE(first.size() == 1);
  CHECK(first[0].has_time_out_return_due());
  CHECK(first[0].seq() == room.state.last_seq + 1);
  CHECK(first[0].actor().role() == v1::SYSTEM);
  room.apply(first[0]);
  auto second = tick(room.state, later);
  REQUIRE(second.size() == 1);
  CHECK(second[0].has_suspended());
  room.apply(second[0]);
  CHECK(tick(room.state, later).empty());
  CHECK_FALSE(next_deadline(room.state).has_value());
}

}  // namespace
}  // namespace mend::engine::testing
