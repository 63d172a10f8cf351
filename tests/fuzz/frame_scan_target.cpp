// Fuzz target: the wire-level scan of a ServerFrame (server/net/frame_scan.h), which reads
// bytes without Protobuf's parser. Input: any bytes. Properties: the scan never crashes or
// reads out of bounds, whatever the bytes; for a frame in canonical encoding it finds the
// highest event seq and ReplayDone.last_seq exactly.
#include <algorithm>

#include "mend/v1/frames.pb.h"
#include "server/net/frame_scan.h"
#include "tests/fuzz/fuzz_target.h"

namespace mend::fuzz {
namespace {

std::uint64_t max_seq_of(const v1::ServerFrame& frame) {
  std::uint64_t max = 0;
  for (const auto& item : frame.items()) {
    if (item.has_event()) max = std::max<std::uint64_t>(max, item.event().seq());
    if (item.has_replay_done()) max = std::max<std::uint64_t>(max, item.replay_done().last_seq());
  }
  return max;
}

}  // namespace

std::vector<std::string> seeds() {
  v1::ServerFrame frame;
  frame.add_items()->mutable_event()->set_seq(7);
  frame.add_items()->mutable_result()->set_command_id("c1");
  frame.add_items()->mutable_replay_done()->set_last_seq(9);
  v1::ServerFrame empty;
  empty.mutable_view();
  return {frame.SerializeAsString(), empty.SerializeAsString(), "\x0a\xff\xff\xff\xff\x0f"};
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  (void)net::scan_server_frame(fuzz::as_text(data, size));
  v1::ServerFrame frame;
  if (!frame.ParseFromArray(data, static_cast<int>(size))) return 0;
  const std::string canonical = frame.SerializeAsString();
  fuzz::require(net::scan_server_frame(canonical).max_seq == fuzz::max_seq_of(frame),
                "the scan finds the highest seq of a canonical frame");
  return 0;
}
