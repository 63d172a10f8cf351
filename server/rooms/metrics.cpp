#include "server/rooms/metrics.h"

#include <algorithm>
#include <sstream>

namespace mend::rooms {

namespace {

std::uint64_t load(const std::atomic<std::uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

void counter(std::ostringstream& out, const char* name, const char* help, std::uint64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
      << name << ' ' << value << '\n';
}

void gauge(std::ostringstream& out, const char* name, const char* help, std::int64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
      << name << ' ' << value << '\n';
}

}  // namespace

void RoomMetrics::command_rejected(v1::RejectionCode code) {
  const auto slot = static_cast<std::size_t>(code);
  add(commands_rejected_[slot < kRejectionCodeSlots ? slot : 0]);
}

void RoomMetrics::command_latency(std::chrono::microseconds latency) {
  const std::int64_t us = std::max<std::int64_t>(0, latency.count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kLatencyBucketsUs.begin(), kLatencyBucketsUs.end(), us) -
      kLatencyBucketsUs.begin());
  add(latency_buckets_[bucket]);
  add(latency_sum_us_, static_cast<std::uint64_t>(us));
  add(latency_count_);
}

RoomMetricsSnapshot RoomMetrics::snapshot() const {
  RoomMetricsSnapshot s;
  s.commands_accepted = load(commands_accepted_);
  for (std::size_t i = 0; i < kRejectionCodeSlots; ++i) s.commands_rejected[i] = load(commands_rejected_[i]);
  s.commands_deduplicated = load(commands_deduplicated_);
  s.events_appended = load(events_appended_);
  s.frames_encoded = load(frames_encoded_);
  s.frame_bytes_encoded = load(frame_bytes_encoded_);
  s.frames_sent = load(frames_sent_);
  s.store_errors = load(store_errors_);
  s.rooms_created = load(rooms_created_);
  s.rooms_evicted = load(rooms_evicted_);
  s.rooms_loaded = rooms_loaded_.load(std::memory_order_relaxed);
  s.participants_attached = attached_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < latency_buckets_.size(); ++i) s.latency_buckets[i] = load(latency_buckets_[i]);
  s.latency_sum_us = load(latency_sum_us_);
  s.latency_count = load(latency_count_);
  return s;
}

std::string RoomMetrics::prometheus_text() const {
  const RoomMetricsSnapshot s = snapshot();
  std::ostringstream out;
  out << "# HELP mend_commands_total Commands by result: accepted or the rejection code.\n"
         "# TYPE mend_commands_total counter\n"
      << "mend_commands_total{result=\"accepted\"} " << s.commands_accepted << '\n';
  for (std::size_t i = 1; i < kRejectionCodeSlots; ++i) {
    if (s.commands_rejected[i] == 0 || !v1::RejectionCode_IsValid(static_cast<int>(i))) continue;
    out << "mend_commands_total{result=\""
        << v1::RejectionCode_Name(static_cast<v1::RejectionCode>(i)) << "\"} "
        << s.commands_rejected[i] << '\n';
  }
  counter(out, "mend_commands_deduplicated_total",
          "Retried command ids answered with the stored result.", s.commands_deduplicated);
  counter(out, "mend_events_appended_total", "Events committed by the store.", s.events_appended);
  counter(out, "mend_frames_encoded_total", "Server frames encoded (shared frames once).",
          s.frames_encoded);
  counter(out, "mend_frame_bytes_encoded_total", "Bytes of encoded server frames.",
          s.frame_bytes_encoded);
  counter(out, "mend_frames_sent_total", "Frames handed to connections.", s.frames_sent);
  counter(out, "mend_store_errors_total", "Store operations that failed.", s.store_errors);
  counter(out, "mend_rooms_created_total", "Rooms created.", s.rooms_created);
  counter(out, "mend_rooms_evicted_total", "Idle rooms unloaded from memory.", s.rooms_evicted);
  gauge(out, "mend_rooms_loaded", "Rooms in memory.", s.rooms_loaded);
  gauge(out, "mend_participants_attached", "Live connections attached to rooms.",
        s.participants_attached);
  out << "# HELP mend_command_latency_seconds From submit to the sender's CommandResult.\n"
         "# TYPE mend_command_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    cumulative += s.latency_buckets[i];
    out << "mend_command_latency_seconds_bucket{le=\""
        << static_cast<double>(kLatencyBucketsUs[i]) / 1e6 << "\"} " << cumulative << '\n';
  }
  cumulative += s.latency_buckets.back();
  out << "mend_command_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
      << "mend_command_latency_seconds_sum " << static_cast<double>(s.latency_sum_us) / 1e6 << '\n'
      << "mend_command_latency_seconds_count " << s.latency_count << '\n';
  return out.str();
}

}  // namespace mend::rooms
