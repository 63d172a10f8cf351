#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "server/rooms/frames.h"
#include "server/rooms/retractable_lists.h"
#include "server/rooms/view_scratch.h"

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

TEST_CASE("an item serialized in place has the bytes of the item serialized as a whole") {
  v1::ServerItem result;
  result.mutable_result()->set_command_id("c1");
  result.mutable_result()->mutable_rejection()->set_message(std::string(200, 'm'));
  CHECK(frames::result_item(result.result()) == result.SerializeAsString());
  v1::ServerItem event;
  event.mutable_event()->set_seq(9);
  event.mutable_event()->mutable_shared()->set_text(std::string(20'000, 'x'));  // 3-byte length
  CHECK(frames::event_item(event.event()) == event.SerializeAsString());
  std::string prefixed = "ab";
  frames::append_message(prefixed, v1::ServerItem::kEventFieldNumber, event.event());
  CHECK(prefixed == "ab" + event.SerializeAsString());
}

// Two views that differ in every kind of field: strings, sub-messages, repeated ones.
v1::RoomView full_view(int i) {
  v1::RoomView view;
  view.mutable_you()->set_role(v1::OBSERVER);
  view.mutable_you()->set_observer("dr-lee-" + std::to_string(i));
  view.set_topic(std::string(40, 't'));  // past the short-string buffer
  view.mutable_your_terms()->add_observers("dr-lee");
  view.mutable_effective_terms()->set_retention_days(7);
  for (int p = 0; p < 3; ++p) {
    v1::ParticipantView* participant = view.add_participants();
    participant->mutable_actor()->set_role(v1::PARTNER_A);
    participant->set_name("participant-name-" + std::to_string(p));
  }
  view.add_retractable(static_cast<std::uint64_t>(i));
  view.set_last_seq(static_cast<std::uint64_t>(i));
  return view;
}

v1::RoomView bare_view(int i) {
  v1::RoomView view;
  view.set_last_seq(static_cast<std::uint64_t>(i));
  return view;
}

TEST_CASE("a view scratch appends each view whole and alone, across the resets of its arena") {
  ViewScratch scratch(/*block_bytes=*/4096, /*reset_bytes=*/1024);
  for (int i = 0; i < 60; ++i) {
    const v1::RoomView expected = i % 2 == 0 ? full_view(i) : bare_view(i);
    std::string out = "prefix";
    scratch.append(out, [&expected](v1::RoomView& view) {
      CHECK(view.ByteSizeLong() == 0);  // empty: nothing of the view before
      view.CopyFrom(expected);
    });
    REQUIRE(out.starts_with("prefix"));
    v1::RoomView parsed;
    REQUIRE(parsed.ParseFromString(out.substr(6)));
    CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, expected));
  }
  CHECK(scratch.resets() > 1);
}

std::vector<std::uint64_t> listed(RetractableLists& lists, const engine::RoomState& state,
                                  v1::Role role) {
  v1::RoomView view;
  REQUIRE(view.ParseFromString(std::string(lists.field(state, role))));
  return {view.retractable().begin(), view.retractable().end()};
}

TEST_CASE("a partner's retractable list kept encoded between views lists exactly the messages "
          "it may retract, after new messages, a retraction and a replaced state") {
  using Seqs = std::vector<std::uint64_t>;
  engine::RoomState state;
  auto add = [&state](std::uint64_t seq, v1::Role author) {
    state.messages.push_back(engine::ContentMessage{seq, author, v1::Event::kShared, false});
  };
  RetractableLists lists;
  CHECK(lists.field(state, v1::PARTNER_B).empty());  // no element: no field, as Protobuf does
  add(1, v1::PARTNER_A);
  add(2, v1::PARTNER_B);
  add(300, v1::PARTNER_A);  // a two-byte varint
  CHECK(listed(lists, state, v1::PARTNER_A) == Seqs{1, 300});
  CHECK(listed(lists, state, v1::PARTNER_B) == Seqs{2});

  add(301, v1::PARTNER_A);  // only the new message is scanned
  CHECK(listed(lists, state, v1::PARTNER_A) == Seqs{1, 300, 301});

  state.messages[2].retracted = true;  // evolve of Retracted; the core invalidates
  lists.invalidate();
  CHECK(listed(lists, state, v1::PARTNER_A) == Seqs{1, 301});

  engine::RoomState shorter;  // a state with fewer messages than were scanned: rebuilt
  shorter.messages.push_back(engine::ContentMessage{1, v1::PARTNER_A, v1::Event::kShared, false});
  CHECK(listed(lists, shorter, v1::PARTNER_A) == Seqs{1});
}

}  // namespace
}  // namespace mend::rooms
