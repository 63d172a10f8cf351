// Check order, arguments, hints, replay and views (docs/engine-rules.md).
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "server/engine/hints.h"
#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();
const v1::Actor kLee = observer("dr-lee");

bool has_hint(const Decision& d, v1::HintCode code) {
  return std::any_of(d.hints.begin(), d.hints.end(),
                     [code](const v1::Hint& h) { return h.code() == code; });
}

TEST_CASE("a command without a body is an invalid argument") {
  Room room;
  Decision d = decide(room.state, v1::Command{}, A, room.now);
  REQUIRE_FALSE(d.accepted());
  CHECK(d.rejection->code() == v1::INVALID_ARGUMENT);
}

TEST_CASE("a command from SYSTEM or an unspecified role is an invalid argument") {
  Room room;
  v1::Actor system;
  system.set_role(v1::SYSTEM);
  room.rejected(system, "signal { kind: LISTENING }", v1::INVALID_ARGUMENT);
  room.rejected(v1::Actor{}, "signal { kind: LISTENING }", v1::INVALID_ARGUMENT);
}

TEST_CASE("unknown or missing enum values are invalid arguments, even in a closed room") {
  Room room;
  room.open();
  room.rejected(A, "signal {}", v1::INVALID_ARGUMENT);
  room.rejected(A, "repair { kind: 99 }", v1::INVALID_ARGUMENT);
  room.ok(A, R"(share { text: "x" })");
  room.rejected(B, R"(reflect { text: "x" })", v1::INVALID_ARGUMENT);
  room.ok(A, "leave {}");
  room.rejected(A, "signal { kind: 42 }", v1::INVALID_ARGUMENT);
}

TEST_CASE("the role check comes before the overlay check") {
  Room room;
  room.consent_both(R"(observers: "dr-lee")");
  room.ok(kLee, "join {}");
  room.ok(A, R"(open { intention: "i" })");
  room.ok(A, "pause {}");
  room.rejected(kLee, R"(share { text: "x" })", v1::NOT_ALLOWED_FOR_ROLE);
}

TEST_CASE("the overlay check comes before the turn check") {
  Room room;
  room.open();
  room.ok(A, "pause {}");
  room.rejected(B, R"(share { text: "x" })", v1::PAUSED);
}

TEST_CASE("texts over the table's kTextBytes are too long") {
  const std::size_t bound = limits::kTextBytes.bound;
  Room room;
  room.open();
  room.ok(A, R"(share { text: "x" })");
  room.advance_s(2);
  const auto rejection = room.rejected(
      B, "reflect { kind: MIRROR text: \"" + std::string(bound + 1, 'a') + "\" }", v1::TOO_LONG);
  CHECK(rejection.message().find(std::to_string(bound)) != std::string::npos);
  room.ok(B, "reflect { kind: MIRROR text: \"" + std::string(bound, 'a') + "\" }");
}

TEST_CASE("the chunk limit counts characters, not bytes") {
  Room room(kAppointmentSpeakerListener);  // chunk_max_chars: 20
  room.ok(B, "accept_invitation {}");
  room.open();
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += "\xC3\xA9";  // é
  room.ok(B, "share { text: \"" + twenty + "\" }");
}

TEST_CASE("rejections carry warm messages that name the rule") {
  Room room;
  room.open();
  auto r = room.rejected(B, R"(share { text: "x" })", v1::NOT_YOUR_TURN);
  CHECK(r.message().find("turn") != std::string::npos);
  room.ok(A, "time_out {}");
  r = room.rejected(B, "return {}", v1::ONLY_CALLER);
  CHECK(r.message().find("Only the partner who called the time-out") != std::string::npos);
}

TEST_CASE("hints flag always and never, I feel that, and you statements without blocking") {
  Room room;
  room.consent_both();
  auto d = room.ok(A, R"(open { intention: "You never listen and I feel like a ghost" })");
  CHECK(has_hint(d, v1::ALWAYS_NEVER));
  CHECK(has_hint(d, v1::FEEL_THAT));
  CHECK(has_hint(d, v1::YOU_STATEMENT));
  d = room.ok(A, R"(share { text: "I feel lonely when dinner is late" })");
  CHECK(d.hints.empty());
  // Any case, at a word's start only (not inside "Kayou NEVER").
  std::vector<v1::Hint> hints;
  add_hints("Kayou NEVER does", false, hints);
  CHECK(hints.empty());
  add_hints("Well, YOU ALWAYS forget", false, hints);
  CHECK(hints.size() == 1);
}

TEST_CASE("hints flag because in the feelings stage only") {
  Room room(kAftermathLike);
  room.open();
  auto d = room.ok(A, R"(share { text: "I felt hurt because you left" })");
  CHECK(has_hint(d, v1::FEELING_BECAUSE));
  CHECK(d.hints[0].message().size() > 10);
  room.ok(A, "no_more {}");
  d = room.ok(B, R"(share { text: "I left because I was tired" })");
  CHECK_FALSE(has_hint(d, v1::FEELING_BECAUSE));
}

TEST_CASE("events of one decision are numbered contiguously with time and actor") {
  Room room;
  room.consent_both();
  const auto before = room.state.last_seq;
  Decision d = decide(room.state, parse_command(R"(open { intention: "i" })"), A, room.now);
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].seq() == before + 1);
  CHECK(d.events[1].seq() == before + 2);
  CHECK(d.events[1].at_ms() == room.now);
  CHECK(d.events[1].actor().role() == v1::PARTNER_A);
  CHECK(room.state.last_seq == before);  // decide never mutates
}

TEST_CASE("replaying the events rebuilds an equal state") {
  Room room(kAftermathLike);
  room.consent_both(R"(observers: "dr-lee" retention_days: 3)");
  room.ok(kLee, "join {}");
  room.ok(A, R"(open { intention: "i" })");
  room.ok(A, R"(share { text: "x" })");
  room.ok(B, R"(ask { text: "q" })");
  room.ok(A, "pause {}");
  room.advance_s(200);
  room.ok(A, "ready {}");
  room.ok(B, "ready {}");
  room.ok(A, "retract { seq: 7 }");
  room.advance_s(100);
  room.ok(A, "no_more {}");
  room.ok(B, "request_advice {}");
  room.ok(B, R"(revoke_observer { observer: "dr-lee" })");
  RoomState replayed;
  for (const v1::Event& e : room.events) evolve(replayed, e);
  CHECK(replayed == room.state);
  RoomState partial;
  evolve(partial, room.events[0]);
  CHECK_FALSE(partial == room.state);
}

TEST_CASE("the view lists exactly the speaker's and listener's actions") {
  Room room;
  room.open();
  using V = std::vector<v1::Action>;
  CHECK(room.allowed(A) ==
        V{v1::ACTION_CONSENT, v1::ACTION_APPROVE_OBSERVER, v1::ACTION_SHARE,
          v1::ACTION_PASS_FLOOR, v1::ACTION_SIGNAL, v1::ACTION_REPAIR, v1::ACTION_RETRACT,
          v1::ACTION_PAUSE, v1::ACTION_TIME_OUT, v1::ACTION_LEAVE});
  CHECK(room.allowed(B) == V{v1::ACTION_CONSENT, v1::ACTION_APPROVE_OBSERVER,
                             v1::ACTION_SIGNAL, v1::ACTION_REPAIR, v1::ACTION_PAUSE,
                             v1::ACTION_TIME_OUT, v1::ACTION_LEAVE});
  auto v = view(room.state, B);
  CHECK(v.speaker() == v1::PARTNER_A);
  CHECK(v.listener() == v1::PARTNER_B);
  CHECK(v.prompt() == "Listen");
  CHECK(v.stage_name() == "share");
  CHECK(v.chunk_max_chars() == limits::kChunkMaxChars.default_value);
}

TEST_CASE("the view of a time-out shows the caller, the return time and the cap") {
  Room room;
  room.open();
  room.ok(B, "time_out {}");
  auto v = view(room.state, A);
  CHECK(v.phase() == v1::PHASE_TIMED_OUT);
  CHECK(v.saved_phase() == v1::PHASE_SPEAKING);
  CHECK(v.overlay_caller() == v1::PARTNER_B);
  CHECK(v.overlay_ends_at_ms() == room.now + 20 * 60'000);
  CHECK(v.cap_at_ms() == room.now + 24 * 3600'000LL);
  CHECK_FALSE(room.allows(A, v1::ACTION_RETURN));
  CHECK(room.allows(B, v1::ACTION_RETURN));
  CHECK(room.allows(B, v1::ACTION_EXTEND));
  CHECK_FALSE(room.allows(A, v1::ACTION_REPAIR));
  CHECK(room.allows(A, v1::ACTION_SIGNAL));
}

TEST_CASE("the view of an invitation shows its expiry and who may answer") {
  Room room(kAppointmentSpeakerListener);
  auto v = view(room.state, B);
  CHECK(v.invitation_expires_at_ms() == room.now + 3600'000);
  CHECK(room.allows(B, v1::ACTION_ACCEPT_INVITATION));
  CHECK(room.allows(B, v1::ACTION_PROPOSE_TIME));
  CHECK_FALSE(room.allows(A, v1::ACTION_ACCEPT_INVITATION));
  CHECK_FALSE(room.allows(A, v1::ACTION_CONSENT));
}

TEST_CASE("timing resolution applies the defaults of the limits table when the template leaves them zero") {
  using namespace limits;
  const ResolvedTiming t = resolve_timing(v1::Timing{});
  CHECK(t.reflection_beat_ms == kReflectionBeatMs.default_value);
  CHECK(t.pause_default_s == kPauseDefaultS.default_value);
  CHECK(t.pause_max_s == kPauseMaxS.default_value);
  CHECK(t.time_out_min_s == kTimeOutMinS.default_value);
  CHECK(t.time_out_default_s == kTimeOutMinS.default_value);  // the minimum
  CHECK(t.time_out_cap_s == kTimeOutCapS.default_value);
  CHECK(t.appointment_window_s == kAppointmentWindowS.default_value);
  CHECK(t.consult_break_default_s == kConsultBreakDefaultS.default_value);
  CHECK(t.consult_break_max_s == kConsultBreakMaxS.default_value);
  CHECK(ResolvedTiming{} == t);
}

TEST_CASE("timing resolution clamps every value into the floor and bound of the limits table") {
  using namespace limits;
  v1::Timing beyond;
  beyond.set_reflection_beat_ms(kReflectionBeatMs.bound + 1);
  beyond.set_time_out_min_s(kTimeOutMinS.floor - 1);
  beyond.set_time_out_cap_s(kTimeOutCapS.bound + 1);
  beyond.set_pause_max_s(kPauseMaxS.bound + 1);
  beyond.set_appointment_window_s(kAppointmentWindowS.bound + 1);
  beyond.set_consult_break_max_s(kConsultBreakMaxS.bound + 1);
  const ResolvedTiming c = resolve_timing(beyond);
  CHECK(c.reflection_beat_ms == kReflectionBeatMs.bound);
  CHECK(c.time_out_min_s == kTimeOutMinS.floor);
  CHECK(c.time_out_cap_s == kTimeOutCapS.bound);
  CHECK(c.pause_max_s == kPauseMaxS.bound);
  CHECK(c.appointment_window_s == kAppointmentWindowS.bound);
  CHECK(c.consult_break_max_s == kConsultBreakMaxS.bound);
  v1::Stage stage;
  CHECK(chunk_max_chars(stage) == kChunkMaxChars.default_value);
  stage.set_chunk_max_chars(kChunkMaxChars.bound + 1);
  CHECK(chunk_max_chars(stage) == kChunkMaxChars.bound);
}

TEST_CASE("every limit of the table has a name, and its default lies within its floor and bound") {
  for (const Limit& limit : limits::kAll) {
    CAPTURE(limit.name);
    CHECK(!limit.name.empty());
    CHECK(limit.floor <= limit.bound);
    if (limit.default_value != 0) {
      CHECK(limit.default_value >= limit.floor);
      CHECK(limit.default_value <= limit.bound);
    }
  }
}

TEST_CASE("README's limits table is the limits table: same names, defaults, floors and bounds") {
  std::ifstream in(std::string(MEND_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::map<std::string, std::string> rows;  // "`name`" -> the row
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) == 0) rows[line.substr(2, line.find(" |", 2) - 2)] = line;
  }
  for (const Limit& limit : limits::kAll) {
    CAPTURE(limit.name);
    const auto row = rows.find("`" + std::string(limit.name) + "`");
    REQUIRE(row != rows.end());
    const std::string expected = "| `" + std::string(limit.name) + "` | " +
                                 std::to_string(limit.default_value) + " | " +
                                 std::to_string(limit.floor) + " | " +
                                 std::to_string(limit.bound) + " | " + std::string(limit.unit) +
                                 " |";
    CHECK(row->second.rfind(expected, 0) == 0);
  }
}

}  // namespace
}  // namespace mend::engine::testing
