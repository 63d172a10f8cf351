// RoomView.retractable of each partner, kept encoded between views (issue 12: a view per
// recipient per command must not cost O(messages)).
//
// The list names every message its partner may still retract, so it grows with the
// conversation (up to conversation.messages). Built whole for every view it made each command
// cost O(messages) per recipient; here it is extended by the messages added since the last
// view and rebuilt only after a retraction or a rebuilt state. The bytes it returns are the
// field as engine::view would encode it (packed varints); a view built with
// engine::ViewLists::kWithoutRetractable plus these bytes parses as engine::view's.
// Thread safety: none (one per room core).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "server/engine/view_parts.h"

namespace mend::rooms {

class RetractableLists {
 public:
  // The encoded RoomView.retractable field of `role` at `state` ("" when it has no element, as
  // Protobuf leaves an empty packed field out). `role` must be a partner. O(messages added since
  // the last call) unless invalidated.
  std::string_view field(const engine::RoomState& state, v1::Role role);
  // Call whenever a message already in state.messages may have changed (a retraction) or the
  // state was replaced (rebuilt from a rewritten log): the next field() rebuilds.
  void invalidate();

 private:
  struct List {
    std::string elements;      // the packed varints
    std::string field;         // tag, length, elements; "" when there is no element
    std::size_t scanned = 0;   // state.messages[0, scanned) are in `elements`
    bool field_stale = false;  // `elements` grew since `field` was encoded
  };
  std::array<List, 2> lists_;  // partner A, partner B
};

}  // namespace mend::rooms
