// A conversation's bounded lists (limits::kConversationMessages): refuse rather than drop.
#include <doctest/doctest.h>

#include "server/engine/limits.h"
#include "tests/engine/room_fixture.h"

namespace mend::engine::testing {
namespace {

const v1::Actor A = partner_a();
const v1::Actor B = partner_b();
const v1::Actor kLee = observer("dr-lee");

std::string seq_cmd(const char* name, std::uint64_t seq) {
  return std::string(name) + " { seq: " + std::to_string(seq) + " }";
}

TEST_CASE("a conversation holding its most messages refuses a new one CONVERSATION_FULL") {
  Room room(kAftermathLike);
  fill_messages(room);
  const v1::Rejection r = room.rejected(A, R"(share { text: "one more" })", v1::CONVERSATION_FULL);
  CHECK(r.message().find(count_text(limits::kConversationMessages.bound) + " messages") !=
        std::string::npos);
  CHECK(room.state.messages.size() == limits::kConversationMessages.bound);
  CHECK(!room.allows(A, v1::ACTION_SHARE));
  CHECK(!room.allows(B, v1::ACTION_ASK));
  room.rejected(B, R"(ask { text: "what was that like?" })", v1::CONVERSATION_FULL);
}

TEST_CASE("a full conversation drops nothing: its first message can still be taken back") {
  Room room(kAftermathLike);
  fill_messages(room);
  const std::uint64_t opening = room.state.messages.front().seq;
  room.ok(A, seq_cmd("retract", opening));
  CHECK(room.state.messages.size() == limits::kConversationMessages.bound);
  room.rejected(A, R"(share { text: "one more" })", v1::CONVERSATION_FULL);
}

TEST_CASE("pause, consent, signals, passing the floor, leaving and ending work in a full conversation") {
  Room room(kAftermathLike);
  fill_messages(room);
  room.ok(B, "signal { kind: LISTENING }");
  room.ok(B, "consent { terms { observers: \"dr-lee\" } }");
  room.ok(A, "consent { terms { observers: \"dr-lee\" } }");
  room.ok(A, "pause {}");
  room.ok(A, "return {}");
  room.ok(A, "pass_floor {}");  // the feelings stage ends; B speaks next
  room.ok(kLee, "join {}");
  room.ok(kLee, R"(note { text: "a long one" })");  // notes are not conversation messages
  room.ok(kLee, "end_session {}");
  CHECK(room.state.phase == v1::PHASE_CLOSED);
}

TEST_CASE("a partner leaves a full conversation") {
  Room room(kAftermathLike);
  fill_messages(room);
  room.ok(B, "leave {}");
  CHECK(room.state.closed_reason == v1::PARTNER_LEFT);
}

TEST_CASE("a conversation holding its most requests refuses a new request CONVERSATION_FULL") {
  Room room(kAppointmentSpeakerListener);
  fill_requests(room);
  const v1::Rejection r =
      room.rejected(B, "propose_time { start_at_ms: " + std::to_string(room.now + 60'000) + " }",
                    v1::CONVERSATION_FULL);
  CHECK(r.message().find(count_text(limits::kConversationMessages.bound) + " requests") !=
        std::string::npos);
  CHECK(!room.allows(B, v1::ACTION_PROPOSE_TIME));
  room.ok(A, seq_cmd("decline", room.state.requests.back().seq));  // answering adds nothing
  room.ok(B, "accept_invitation {}");
  CHECK(room.state.phase == v1::PHASE_CONSENT);
}

TEST_CASE("CONVERSATION_FULL is definitive: a retry gets it again") {
  CHECK(is_definitive(v1::CONVERSATION_FULL));
}

TEST_CASE("counts in refusal messages are written with thousands separated") {
  CHECK(count_text(12) == "12");
  CHECK(count_text(5'000) == "5,000");
  CHECK(count_text(65'536) == "65,536");
  CHECK(count_text(1'234'567) == "1,234,567");
}

}  // namespace
}  // namespace mend::engine::testing
