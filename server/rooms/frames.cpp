#include "server/rooms/frames.h"

#include <cstdint>

namespace mend::rooms::frames {

namespace {

constexpr std::uint32_t kLengthDelimited = 2;

}  // namespace

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_field(std::string& out, int field, std::string_view bytes) {
  append_varint(out, (static_cast<std::uint32_t>(field) << 3) | kLengthDelimited);
  append_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_item(const v1::Event& event) {
  std::string out;
  append_field(out, v1::ServerItem::kEventFieldNumber, event.SerializeAsString());
  return out;
}

std::string item(const v1::ServerItem& item) { return item.SerializeAsString(); }

void add_item(std::string& frame, std::string_view item_bytes) {
  append_field(frame, v1::ServerFrame::kItemsFieldNumber, item_bytes);
}

void add_view(std::string& frame, std::string_view view_bytes) {
  append_field(frame, v1::ServerFrame::kViewFieldNumber, view_bytes);
}

}  // namespace mend::rooms::frames
