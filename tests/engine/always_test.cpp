// Always-available actions, observers, visibility (DESIGN 3, 4.5).
#include <doctest/doctest.h>

#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();
const v1::Actor kLee = observer("dr-lee");
const v1::Actor kKim = observer("dr-kim");

std::string seq_cmd(const char* name, std::uint64_t seq) {
  return std::string(name) + " { seq: " + std::to_string(seq) + " }";
}

TEST_CASE("signals need no floor and are accepted from both partners in every phase") {
  Room room;
  room.ok(B, "signal { kind: LISTENING }");
  room.open();
  room.ok(B, "signal { kind: FEELING_HEARD }");
  room.ok(A, "time_out {}");
  room.ok(B, "signal { kind: OVERWHELMED }");
}

TEST_CASE("repair attempts are accepted in and out of turn") {
  Room room;
  room.open();
  room.ok(B, "repair { kind: AGREE_WITH_PART }");
  room.ok(A, "repair { kind: TAKE_THAT_BACK }");
}

TEST_CASE("a partner retracts only their own content messages, once") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "harsh words" })");
  const auto shared = room.state.last_seq;
  CHECK(view(room.state, A).retractable_size() == 2);  // the opening and the chunk
  room.rejected(B, seq_cmd("retract", shared), v1::NOT_YOURS);
  room.rejected(A, seq_cmd("retract", shared - 1), v1::NOT_FOUND);  // StageStarted
  room.ok(A, seq_cmd("retract", shared));
  room.rejected(A, seq_cmd("retract", shared), v1::ALREADY_DONE);
  room.rejected(A, seq_cmd("retract", 999), v1::NOT_FOUND);
}

TEST_CASE("a retracted chunk never mirrored no longer has to be mirrored") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "harsh words" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
  room.ok(A, seq_cmd("retract", room.state.last_seq));
  CHECK(room.state.phase == v1::PHASE_SPEAKING);  // the speaker has the floor again
  room.rejected(B, R"(reflect { kind: MIRROR text: "you said" })", v1::WRONG_PHASE);
  room.ok(A, R"(share { text: "what I meant" })");
  CHECK(room.state.phase == v1::PHASE_MIRRORING);
}

TEST_CASE("a retracted chunk that was mirrored keeps the reflection steps it started") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "harsh words" })");
  const auto shared = room.state.last_seq;
  room.advance_ms(room.state.timing.reflection_beat_ms);
  room.ok(B, R"(reflect { kind: MIRROR text: "you said" })");
  room.ok(A, seq_cmd("retract", shared));
  CHECK(room.state.phase == v1::PHASE_CONFIRMING);
}

TEST_CASE("a retracted opening leaves every view's intention and the topic it stated") {
  Room room;
  room.open();
  const std::uint64_t opening = room.state.messages.front().seq;
  room.ok(A, seq_cmd("retract", opening));
  CHECK(view(room.state, A).intention() == "[retracted]");
  CHECK(view(room.state, B).intention() == "[retracted]");
}

TEST_CASE("retracting is allowed during overlays, and a chunk retracted in a time-out is "
          "not owed a mirror after it") {
  Room room;
  room.open();
  room.ok(A, R"(share { text: "harsh words" })");
  const auto shared = room.state.last_seq;
  room.ok(B, "time_out {}");
  room.ok(A, seq_cmd("retract", shared));
  CHECK(room.state.saved_phase == v1::PHASE_SPEAKING);
}

TEST_CASE("decline needs a pending request addressed to the sender") {
  Room room;
  room.open();
  room.rejected(A, seq_cmd("decline", 2), v1::NOT_FOUND);
  CHECK(view(room.state, A).declinable().empty());
}

TEST_CASE("a partner leaving closes the conversation") {
  Room room;
  room.open();
  auto d = room.ok(B, "leave {}");
  CHECK(d.events[0].conversation_closed().reason() == v1::PARTNER_LEFT);
}

TEST_CASE("observer joins only after both partners approved that named observer") {
  Room room;
  room.rejected(kLee, "join {}", v1::OBSERVER_NOT_APPROVED);
  room.ok(A, R"(approve_observer { observer: "dr-lee" })");
  room.rejected(A, R"(approve_observer { observer: "dr-lee" })", v1::ALREADY_DONE);
  room.rejected(kLee, "join {}", v1::OBSERVER_NOT_APPROVED);
  room.ok(B, R"(approve_observer { observer: "dr-lee" })");
  room.rejected(kKim, "join {}", v1::OBSERVER_NOT_APPROVED);
  room.ok(kLee, "join {}");
  room.rejected(kLee, "join {}", v1::ALREADY_DONE);
  CHECK(room.state.observers[0].status == v1::OBSERVER_JOINED);
}

TEST_CASE("an observer not invited to the room is unknown") {
  Room room;
  room.rejected(observer("mallory"), "join {}", v1::UNKNOWN_OBSERVER);
  room.rejected(A, R"(approve_observer { observer: "mallory" })", v1::UNKNOWN_OBSERVER);
}

TEST_CASE("revoking an observer emits ObserverRevoked") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.ok(kLee, "join {}");
  auto d = room.ok(B, R"(revoke_observer { observer: "dr-lee" })");
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].observer_revoked().observer() == "dr-lee");
  CHECK(room.state.observers[0].status == v1::OBSERVER_REVOKED);
  room.rejected(B, R"(revoke_observer { observer: "dr-lee" })", v1::ALREADY_DONE);
  room.rejected(kLee, R"(note { text: "x" })", v1::OBSERVER_NOT_APPROVED);
}

TEST_CASE("new terms that drop an admitted observer emit ObserverRevoked after ConsentGiven") {
  Room room;
  room.consent_both(R"(observers: "dr-lee" observers: "dr-kim")");
  room.ok(kLee, "join {}");
  auto d = room.ok(A, R"(consent { terms { observers: "dr-kim" } })");
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].has_consent_given());
  CHECK(d.events[1].observer_revoked().observer() == "dr-lee");
  CHECK(room.state.observers[0].status == v1::OBSERVER_REVOKED);
  CHECK(room.state.observers[1].status == v1::OBSERVER_APPROVED);
}

TEST_CASE("a revoked observer approved again by both may join again") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.ok(A, R"(revoke_observer { observer: "dr-lee" })");
  room.ok(A, R"(approve_observer { observer: "dr-lee" })");
  CHECK(room.state.observers[0].status == v1::OBSERVER_APPROVED);
  room.ok(kLee, "join {}");
}

TEST_CASE("an approved observer must join before anything else") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.rejected(kLee, R"(note { text: "x" })", v1::WRONG_PHASE);
  room.ok(kLee, "join {}");
  room.ok(kLee, "leave {}");
  CHECK(room.state.observers[0].status == v1::OBSERVER_LEFT);
  room.rejected(kLee, R"(prompt { text: "x" })", v1::WRONG_PHASE);
  room.ok(kLee, "join {}");
}

TEST_CASE("partner commands from an observer and observer commands from a partner are not allowed") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.rejected(kLee, R"(share { text: "x" })", v1::NOT_ALLOWED_FOR_ROLE);
  room.rejected(A, R"(note { text: "x" })", v1::NOT_ALLOWED_FOR_ROLE);
  room.rejected(A, "join {}", v1::NOT_ALLOWED_FOR_ROLE);
}

TEST_CASE("an observer may end the session") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.ok(kLee, "join {}");
  auto d = room.ok(kLee, "end_session {}");
  CHECK(d.events[0].conversation_closed().reason() == v1::ENDED_BY_OBSERVER);
}

TEST_CASE("private note reaches only its author") {
  Room room;
  room.consent_both(R"(observers: "dr-lee" observers: "dr-kim")");
  room.ok(kLee, "join {}");
  room.ok(kLee, R"(note { text: "private" })");
  const v1::Event& note = room.last_event();
  CHECK(visible_to(room.state, note, kLee));
  CHECK_FALSE(visible_to(room.state, note, kKim));
  CHECK_FALSE(visible_to(room.state, note, A));
  CHECK_FALSE(visible_to(room.state, note, B));
}

TEST_CASE("an observer sees events only while approved by both partners") {
  Room room;
  room.ok(A, R"(consent { terms { observers: "dr-lee" } })");
  const v1::Event& consent = room.last_event();
  CHECK_FALSE(visible_to(room.state, consent, kLee));
  CHECK(visible_to(room.state, consent, B));
  room.ok(B, R"(consent { terms { observers: "dr-lee" } })");
  CHECK(visible_to(room.state, room.last_event(), kLee));
  CHECK_FALSE(visible_to(room.state, room.last_event(), kKim));
}

TEST_CASE("observers are always visible in the participant list") {
  Room room;
  room.ok(A, R"(approve_observer { observer: "dr-kim" })");
  auto v = view(room.state, B);
  REQUIRE(v.participants_size() == 4);
  CHECK(v.participants(0).name() == "Alex");
  CHECK(v.participants(3).name() == "dr-kim");
  CHECK(v.participants(3).approved_by_a());
  CHECK_FALSE(v.participants(3).approved_by_b());
  CHECK(v.participants(3).observer_status() == v1::OBSERVER_INVITED);
}

TEST_CASE("observers see partners' your_terms empty") {
  Room room;
  room.consent_both(R"(observers: "dr-lee" retention_days: 5)");
  CHECK(view(room.state, A).your_terms().retention_days() == 5);
  auto v = view(room.state, kLee);
  CHECK(v.your_terms().retention_days() == 0);
  CHECK(v.your_terms().observers().empty());
  CHECK(v.effective_terms().retention_days() == 5);
}

}  // namespace
}  // namespace mend::engine::testing
