// RoomState: everything the engine knows about one room, rebuilt by replaying its events.
// Plain data with value semantics; compare with == (replay must rebuild an equal state).
#pragma once

#include <cstdint>

namespace mend::engine {

// PLACEHOLDER: the engine implementation defines the full state here.
struct RoomState {
  std::uint64_t last_seq = 0;
  bool operator==(const RoomState&) const = default;
};

}  // namespace mend::engine
