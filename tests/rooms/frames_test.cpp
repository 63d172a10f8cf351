#include <doctest/doctest.h>

#include <google/protobuf/util/message_differencer.h>

#include "server/rooms/frames.h"

namespace mend::rooms {
namespace {

TEST_CASE("a frame assembled from pre-encoded items parses as the same ServerFrame") {
  v1::ServerFrame expected;
  v1::ServerItem* result = expected.add_items();
  result->mutable_result()->set_command_id("c1");
  result->mutable_result()->set_accepted(true);
  v1::Event event;
  event.set_seq(7);
  event.mutable_shared()->set_text(std::string(300, 'x'));  // multi-byte length varint
  *expected.add_items()->mutable_event() = event;
  expected.mutable_view()->set_last_seq(7);
  expected.mutable_view()->set_topic("dishes");

  std::string frame;
  frames::add_item(frame, frames::item(expected.items(0)));
  frames::add_item(frame, frames::event_item(event));
  frames::add_view(frame, expected.view().SerializeAsString());

  v1::ServerFrame parsed;
  REQUIRE(parsed.ParseFromString(frame));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, expected));
}

}  // namespace
}  // namespace mend::rooms
