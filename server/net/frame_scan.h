// A wire-level scan of an encoded ServerFrame, without decoding it: the highest event seq it
// carries (Event.seq, ReplayDone.last_seq). A connection uses it for Heartbeat{last_seq}, so
// frames encoded once for many recipients are never decoded per recipient.
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace mend::net {

struct FrameFacts {
  std::uint64_t max_seq = 0;  // 0 when the frame carries no event
};

// Returns the facts of the well-formed prefix of `bytes`; malformed input is not an error here
// (the frame was produced by the server).
FrameFacts scan_server_frame(std::string_view bytes);

}  // namespace mend::net
