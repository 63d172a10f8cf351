// A wire-level scan of an encoded ServerFrame, without decoding it: the highest event seq it
// carries (Event.seq, ReplayDone.last_seq) and the command_id of each CommandResult. A
// connection uses it for Heartbeat{last_seq} and the command latency histogram, so frames
// encoded once for many recipients are never decoded per recipient.
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace mend::net {

struct FrameFacts {
  std::uint64_t max_seq = 0;  // 0 when the frame carries no event
};

// Scans `bytes`; calls `on_result` with each CommandResult.command_id (a view into `bytes`).
// Returns facts of the well-formed prefix; malformed input is not an error here (the frame was
// produced by the server).
FrameFacts scan_server_frame(std::string_view bytes,
                             const std::function<void(std::string_view)>& on_result);

}  // namespace mend::net
