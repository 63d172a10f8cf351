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

void append_message(std::string& out, int field, const google::protobuf::MessageLite& message) {
  const std::size_t size = message.ByteSizeLong();
  out.reserve(out.size() + kFieldHeaderMax + size);
  append_varint(out, (static_cast<std::uint32_t>(field) << 3) | kLengthDelimited);
  append_varint(out, size);
  const std::size_t at = out.size();
  out.resize(at + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + at));
}

std::string event_item(const v1::Event& event) {
  std::string out;
  append_message(out, v1::ServerItem::kEventFieldNumber, event);
  return out;
}

std::string result_item(const v1::CommandResult& result) {
  std::string out;
  append_message(out, v1::ServerItem::kResultFieldNumber, result);
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
