// The rooms' only source of time (ms since the Unix epoch), injected so tests are
// deterministic. The engine never reads a clock; the rooms pass `clock()` to it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "server/engine/engine.h"

namespace mend::rooms {

// Returns the current time in ms since the Unix epoch. Must be callable from any thread.
using Clock = std::function<engine::TimeMs()>;

// The wall clock (std::chrono::system_clock).
inline Clock system_clock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

// A clock that moves only when told to, for tests and simulations. The ManualClock must
// outlive every Clock obtained from it. Thread safety: all methods may run concurrently.
class ManualClock {
 public:
  explicit ManualClock(engine::TimeMs start) : now_(start) {}
  engine::TimeMs now() const { return now_.load(); }
  void set(engine::TimeMs now) { now_.store(now); }
  void advance(engine::TimeMs delta_ms) { now_.fetch_add(delta_ms); }
  Clock clock() const {
    return [this] { return now(); };
  }

 private:
  std::atomic<engine::TimeMs> now_;
};

}  // namespace mend::rooms
