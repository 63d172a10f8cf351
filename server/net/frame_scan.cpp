#include "server/net/frame_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

namespace mend::net {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

// Field numbers of proto/mend/v1/frames.proto and conversation.proto.
constexpr int kServerFrameItems = 1;
constexpr int kItemEvent = 3;
constexpr int kItemReplayDone = 7;
constexpr int kEventSeq = 1;
constexpr int kReplayDoneLastSeq = 1;

bool is_length_delimited(std::uint32_t tag) {
  return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

// Reads the first varint field `field` of the embedded message at the current position.
bool read_varint_field(CodedInputStream& in, int field, std::uint64_t& value) {
  while (std::uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == field &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      return in.ReadVarint64(&value);
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  return false;
}

void scan_item(CodedInputStream& in, FrameFacts& facts) {
  while (std::uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if (is_length_delimited(tag) &&
        (field == kItemEvent || field == kItemReplayDone)) {
      std::uint32_t size = 0;
      if (!in.ReadVarint32(&size)) return;
      const auto limit = in.PushLimit(static_cast<int>(size));
      std::uint64_t seq = 0;
      if (read_varint_field(in, field == kItemEvent ? kEventSeq : kReplayDoneLastSeq, seq) &&
          seq > facts.max_seq) {
        facts.max_seq = seq;
      }
      in.Skip(in.BytesUntilLimit());
      in.PopLimit(limit);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return;
    }
  }
}

}  // namespace

FrameFacts scan_server_frame(std::string_view bytes) {
  FrameFacts facts;
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (std::uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == kServerFrameItems && is_length_delimited(tag)) {
      std::uint32_t size = 0;
      if (!in.ReadVarint32(&size)) break;
      const auto limit = in.PushLimit(static_cast<int>(size));
      scan_item(in, facts);
      in.Skip(in.BytesUntilLimit());
      in.PopLimit(limit);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      break;
    }
  }
  return facts;
}

}  // namespace mend::net
