#include "server/rooms/retractable_lists.h"

#include "server/engine/invariant.h"
#include "server/rooms/frames.h"

namespace mend::rooms {

std::string_view RetractableLists::field(const engine::RoomState& state, v1::Role role) {
  MEND_INVARIANT(role == v1::PARTNER_A || role == v1::PARTNER_B,
                 "RetractableLists: only partners' views list retractable seqs");
  List& list = lists_[role == v1::PARTNER_A ? 0 : 1];
  if (list.scanned > state.messages.size()) list = List{};  // a state that lost messages
  for (; list.scanned < state.messages.size(); ++list.scanned) {
    const engine::ContentMessage& message = state.messages[list.scanned];
    if (!engine::may_retract(message, role)) continue;
    frames::append_varint(list.elements, message.seq);
    list.field_stale = true;
  }
  if (list.field_stale) {
    list.field.clear();
    frames::append_field(list.field, v1::RoomView::kRetractableFieldNumber, list.elements);
    list.field_stale = false;
  }
  return list.field;
}

void RetractableLists::invalidate() { lists_ = {}; }

}  // namespace mend::rooms
