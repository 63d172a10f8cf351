#include "tests/engine/room_fixture.h"

#include <doctest/doctest.h>

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

}  // namespace mend::engine::testing
