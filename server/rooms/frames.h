// Encoding of ServerFrames from pieces encoded once (DESIGN.md section 8: "a frame for several
// recipients is encoded once and shared").
//
// A ServerFrame is `repeated ServerItem items = 1; RoomView view = 2;`. In the Protobuf wire
// format a message is the concatenation of its fields, so an event is serialized once as a
// ServerItem and its bytes are copied into every recipient's frame; only the view differs.
// The output parses as an ordinary v1::ServerFrame.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mend/v1/frames.pb.h"

namespace mend::rooms::frames {

// The bytes of ServerItem{event: event}.
std::string event_item(const v1::Event& event);
// The bytes of ServerItem{result: result}, without copying `result` into a ServerItem.
std::string result_item(const v1::CommandResult& result);
// The bytes of `item` (any ServerItem).
std::string item(const v1::ServerItem& item);
// Appends an encoded ServerItem (from event_item / item) to an encoded ServerFrame.
void add_item(std::string& frame, std::string_view item_bytes);
// Sets the view of an encoded ServerFrame (call at most once, after the items).
void add_view(std::string& frame, std::string_view view_bytes);

// Protobuf wire format pieces. A varint (e.g. one element of a packed repeated field):
void append_varint(std::string& out, std::uint64_t value);
// A length-delimited field: an embedded message, bytes, or a packed repeated field's elements.
// A parser merges a repeated field's occurrences wherever they stand in the message.
void append_field(std::string& out, int field, std::string_view bytes);
// The field `field` holding `message`, serialized in place: one size computation, one
// reservation, no intermediate string.
void append_message(std::string& out, int field, const google::protobuf::MessageLite& message);
// An upper bound of the bytes append_field adds besides `bytes` (the tag and the length).
inline constexpr std::size_t kFieldHeaderMax = 2 * 10;

}  // namespace mend::rooms::frames
