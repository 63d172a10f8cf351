// Counters of the rooms, for GET /metrics (DESIGN.md section 9).
//
// The rooms update a RoomMetrics owned by RoomServiceImpl (RoomServiceImpl::metrics());
// net reads it with snapshot() or renders it with prometheus_text(). Lock-free (relaxed
// atomics): counters are monotonic, gauges current; a snapshot is not one atomic cut.
//
// Metric names (Prometheus text format, all prefixed `mend_`):
//   mend_commands_total{result="accepted"|"<RejectionCode name>"}  counter
//   mend_commands_deduplicated_total   retried command ids answered with the stored result
//   mend_events_appended_total         events committed by the store (commands and timers)
//   mend_frames_encoded_total          ServerFrames encoded (a frame shared by several
//                                      recipients counts once)
//   mend_frame_bytes_encoded_total     bytes of those frames
//   mend_frames_sent_total             Recipient::send calls (shared frames count per recipient)
//   mend_store_errors_total            appends / lookups the store failed
//   mend_rooms_created_total
//   mend_rooms_evicted_total           rooms unloaded after being idle (reloaded on demand)
//   mend_rooms_loaded                  gauge: rooms in memory
//   mend_participants_attached         gauge: live connections attached to rooms
//   mend_command_latency_seconds       histogram: submit() to the sender's CommandResult
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "mend/v1/conversation.pb.h"

namespace mend::rooms {

// Upper bounds (microseconds) of the latency histogram buckets; +Inf is implied.
inline constexpr std::array<std::int64_t, 10> kLatencyBucketsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000};
// RejectionCode values below this have their own counter (the enum is far below it).
inline constexpr std::size_t kRejectionCodeSlots = 64;

struct RoomMetricsSnapshot {
  std::uint64_t commands_accepted = 0;
  std::array<std::uint64_t, kRejectionCodeSlots> commands_rejected{};  // index: RejectionCode
  std::uint64_t commands_deduplicated = 0;
  std::uint64_t events_appended = 0;
  std::uint64_t frames_encoded = 0;
  std::uint64_t frame_bytes_encoded = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t rooms_created = 0;
  std::uint64_t rooms_evicted = 0;
  std::int64_t rooms_loaded = 0;
  std::int64_t participants_attached = 0;
  // Non-cumulative bucket counts (last slot: above the last bound), sum and count.
  std::array<std::uint64_t, kLatencyBucketsUs.size() + 1> latency_buckets{};
  std::uint64_t latency_sum_us = 0;
  std::uint64_t latency_count = 0;
};

// Thread safety: every method may be called concurrently from any thread.
class RoomMetrics {
 public:
  void command_accepted() { add(commands_accepted_); }
  void command_rejected(v1::RejectionCode code);
  void command_deduplicated() { add(commands_deduplicated_); }
  void events_appended(std::uint64_t n) { add(events_appended_, n); }
  void frame_encoded(std::size_t bytes) {
    add(frames_encoded_);
    add(frame_bytes_encoded_, bytes);
  }
  void frame_sent() { add(frames_sent_); }
  void store_error() { add(store_errors_); }
  void room_created() { add(rooms_created_); }
  void room_evicted() { add(rooms_evicted_); }
  void rooms_loaded_delta(std::int64_t d) { rooms_loaded_.fetch_add(d, std::memory_order_relaxed); }
  void attached_delta(std::int64_t d) { attached_.fetch_add(d, std::memory_order_relaxed); }
  void command_latency(std::chrono::microseconds latency);

  RoomMetricsSnapshot snapshot() const;
  // The metrics above in Prometheus text exposition format (with # HELP / # TYPE lines).
  std::string prometheus_text() const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  static void add(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  Counter commands_accepted_{0};
  std::array<Counter, kRejectionCodeSlots> commands_rejected_{};
  Counter commands_deduplicated_{0};
  Counter events_appended_{0};
  Counter frames_encoded_{0};
  Counter frame_bytes_encoded_{0};
  Counter frames_sent_{0};
  Counter store_errors_{0};
  Counter rooms_created_{0};
  Counter rooms_evicted_{0};
  std::atomic<std::int64_t> rooms_loaded_{0};
  std::atomic<std::int64_t> attached_{0};
  std::array<Counter, kLatencyBucketsUs.size() + 1> latency_buckets_{};
  Counter latency_sum_us_{0};
  Counter latency_count_{0};
};

}  // namespace mend::rooms
