// Process-wide counters of the network layer, rendered in the Prometheus text format
// (GET /metrics). One instance per Server, shared by every session. The command latency
// histogram (mend_command_latency_seconds) is the rooms' (server/rooms/metrics.h).
// Thread safety: every method may be called from any thread (atomics; one mutex guards the
// by-code rejection map, which is touched only on errors).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "mend/v1/roles.pb.h"

namespace mend::net {

// Connection roles as counted by mend_connections.
enum class ConnectionRole : std::uint8_t { kHttp, kUnauthenticated, kPartnerA, kPartnerB, kObserver };
inline constexpr std::size_t kConnectionRoleCount = 5;

ConnectionRole role_of(v1::Role role);

class Metrics {
 public:
  void connection_opened(ConnectionRole role);
  void connection_closed(ConnectionRole role);
  void frame_in() { frames_in_.fetch_add(1, std::memory_order_relaxed); }
  void frame_out() { frames_out_.fetch_add(1, std::memory_order_relaxed); }
  void http_request() { http_requests_.fetch_add(1, std::memory_order_relaxed); }
  // `code` is a stable code: an HTTP ErrorResponse code, "CLOSE_4500", "RATE_LIMITED", ...
  void rejection(const std::string& code);
  void queued_bytes_added(std::int64_t bytes) {
    queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void slow_consumer_closed() { slow_consumer_closes_.fetch_add(1, std::memory_order_relaxed); }
  void write_stall_closed() { write_stall_closes_.fetch_add(1, std::memory_order_relaxed); }
  // A frame handed to a room, or to a connection, on another shard (another thread) than the
  // one handing it: the thread hand-offs that sharding avoids (README "--threads").
  void cross_shard_post() { cross_shard_posts_.fetch_add(1, std::memory_order_relaxed); }

  std::int64_t connections(ConnectionRole role) const;
  std::uint64_t rejections(const std::string& code) const;
  std::uint64_t slow_consumer_closes() const { return slow_consumer_closes_.load(); }
  std::uint64_t cross_shard_posts() const { return cross_shard_posts_.load(); }

  // The Prometheus text exposition (version 0.0.4) of every metric.
  std::string render_prometheus() const;

 private:
  std::array<std::atomic<std::int64_t>, kConnectionRoleCount> connections_{};
  std::atomic<std::uint64_t> frames_in_{0};
  std::atomic<std::uint64_t> frames_out_{0};
  std::atomic<std::uint64_t> http_requests_{0};
  std::atomic<std::int64_t> queued_bytes_{0};
  std::atomic<std::uint64_t> slow_consumer_closes_{0};
  std::atomic<std::uint64_t> write_stall_closes_{0};
  std::atomic<std::uint64_t> cross_shard_posts_{0};
  mutable std::mutex rejections_mutex_;
  std::map<std::string, std::uint64_t> rejections_;
};

}  // namespace mend::net
