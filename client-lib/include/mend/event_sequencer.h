// Exactly-once, in-order delivery of a room's events to the application across reconnects.
// Pure bookkeeping: which seq was delivered last, which room epoch it belongs to, and whether
// an incoming event is new.
//
// Events of one room carry seq 1, 2, 3 ... Some seqs are never sent to a given participant
// (another participant's private note, events before an observer was admitted), so a gap is
// normal and is not an error; anything at or below the last delivered seq is a duplicate
// (a replay overlapping what was already delivered) and is dropped.
//
// Thread safety: not synchronized; the Client uses it from its own strand only.
#pragma once

#include <cstdint>

namespace mend::client {

class EventSequencer {
 public:
  // Starts from a position the application persisted earlier (0, 0 for a fresh start).
  explicit EventSequencer(std::uint64_t epoch = 0, std::uint64_t last_delivered = 0)
      : epoch_(epoch), last_delivered_(last_delivered) {}

  // The values for the next Hello: room_epoch and resume_after_seq.
  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t last_delivered() const { return last_delivered_; }

  // What to do with a Welcome.
  enum class WelcomeOutcome {
    kResume,  // recovered: events after last_delivered() follow; keep going
    kReset,   // not recovered: the application must drop what it had and take the full view
  };
  // Records the Welcome's epoch. When not `recovered`, the position jumps to
  // `view_last_seq` (the full view already contains everything up to it).
  WelcomeOutcome on_welcome(std::uint64_t epoch, bool recovered, std::uint64_t view_last_seq);

  // True when the event with `seq` must be delivered now (and records it as delivered);
  // false for a duplicate or stale event (seq <= last delivered, or seq 0).
  bool accept(std::uint64_t seq);

 private:
  std::uint64_t epoch_;
  std::uint64_t last_delivered_;
};

}  // namespace mend::client
