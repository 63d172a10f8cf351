#include "tests/engine/room_fixture.h"

#include <doctest/doctest.h>

#include "server/engine/limits.h"

namespace mend::engine::testing {

Decision Room::ok(const v1::Actor& actor, const std::string& command_text) {
  Decision d = run(actor, command_text);
  INFO("command: ", command_text);
  INFO("rejection: ", d.rejection ? d.rejection->ShortDebugString() : std::string("none"));
  CHECK(d.accepted());
  return d;
}

v1::Rejection Room::rejected(const v1::Actor& actor, const std::string& command_text,
                             v1::RejectionCode code) {
  Decision d = run(actor, command_text);
  INFO("command: ", command_text);
  INFO("expected: ", v1::RejectionCode_Name(code));
  REQUIRE_FALSE(d.accepted());
  CHECK(v1::RejectionCode_Name(d.rejection->code()) == v1::RejectionCode_Name(code));
  CHECK_FALSE(d.rejection->message().empty());
  CHECK(d.events.empty());
  return *d.rejection;
}

namespace {

// Runs `command` by `actor` until `list` (one of room.state's lists) holds its bound.
template <typename T>
void run_until_full(Room& room, const std::vector<T>& list, const v1::Command& command,
                    const v1::Actor& actor) {
  while (list.size() < limits::kConversationMessages.bound) {
    const Decision d = decide(room.state, command, actor, room.now);
    REQUIRE(d.accepted());
    for (const v1::Event& e : d.events) room.apply(e);
  }
}

}  // namespace

void fill_messages(Room& room) {
  room.open();
  run_until_full(room, room.state.messages,
                 parse_command(R"(share { text: "and another thing" })"), partner_a());
}

void fill_requests(Room& room) {
  run_until_full(room, room.state.requests,
                 parse_command("propose_time { start_at_ms: " +
                               std::to_string(room.now + 60'000) + " }"),
                 partner_b());
}

}  // namespace mend::engine::testing
