#include "server/net/metrics.h"

#include <fmt/format.h>

namespace mend::net {
namespace {

constexpr std::array<const char*, kConnectionRoleCount> kRoleLabels = {
    "http", "unauthenticated", "partner_a", "partner_b", "observer"};

std::size_t index(ConnectionRole role) { return static_cast<std::size_t>(role); }

}  // namespace

ConnectionRole role_of(v1::Role role) {
  switch (role) {
    case v1::PARTNER_A: return ConnectionRole::kPartnerA;
    case v1::PARTNER_B: return ConnectionRole::kPartnerB;
    case v1::OBSERVER: return ConnectionRole::kObserver;
    default: return ConnectionRole::kUnauthenticated;
  }
}

void Metrics::connection_opened(ConnectionRole role) {
  connections_[index(role)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::connection_closed(ConnectionRole role) {
  connections_[index(role)].fetch_sub(1, std::memory_order_relaxed);
}

void Metrics::rejection(const std::string& code) {
  std::lock_guard lock(rejections_mutex_);
  ++rejections_[code];
}

std::int64_t Metrics::connections(ConnectionRole role) const {
  return connections_[index(role)].load();
}

std::uint64_t Metrics::rejections(const std::string& code) const {
  std::lock_guard lock(rejections_mutex_);
  auto it = rejections_.find(code);
  return it == rejections_.end() ? 0 : it->second;
}

std::string Metrics::render_prometheus() const {
  std::string out;
  auto append = [&out](std::string_view text) { out.append(text); };
  append("# HELP mend_connections Open connections by role (http: not upgraded yet).\n");
  append("# TYPE mend_connections gauge\n");
  for (std::size_t i = 0; i < kConnectionRoleCount; ++i) {
    out += fmt::format("mend_connections{{role=\"{}\"}} {}\n", kRoleLabels[i],
                       connections_[i].load());
  }
  append("# HELP mend_frames_in_total WebSocket frames received.\n");
  append("# TYPE mend_frames_in_total counter\n");
  out += fmt::format("mend_frames_in_total {}\n", frames_in_.load());
  append("# HELP mend_frames_out_total WebSocket frames sent.\n");
  append("# TYPE mend_frames_out_total counter\n");
  out += fmt::format("mend_frames_out_total {}\n", frames_out_.load());
  append("# HELP mend_http_requests_total HTTP requests handled.\n");
  append("# TYPE mend_http_requests_total counter\n");
  out += fmt::format("mend_http_requests_total {}\n", http_requests_.load());
  append("# HELP mend_rejections_total Refused requests, frames and connections by code.\n");
  append("# TYPE mend_rejections_total counter\n");
  {
    std::lock_guard lock(rejections_mutex_);
    for (const auto& [code, count] : rejections_) {
      out += fmt::format("mend_rejections_total{{code=\"{}\"}} {}\n", code, count);
    }
  }
  append("# HELP mend_queued_bytes Bytes waiting in connections' outgoing queues.\n");
  append("# TYPE mend_queued_bytes gauge\n");
  out += fmt::format("mend_queued_bytes {}\n", queued_bytes_.load());
  append("# HELP mend_slow_consumer_closes_total Connections closed 4008 (queue over bound).\n");
  append("# TYPE mend_slow_consumer_closes_total counter\n");
  out += fmt::format("mend_slow_consumer_closes_total {}\n", slow_consumer_closes_.load());
  append("# HELP mend_write_stall_closes_total Connections dropped after a stalled write.\n");
  append("# TYPE mend_write_stall_closes_total counter\n");
  out += fmt::format("mend_write_stall_closes_total {}\n", write_stall_closes_.load());
  append("# HELP mend_cross_shard_posts_total Frames handed to a room or a connection on another "
         "shard.\n");
  append("# TYPE mend_cross_shard_posts_total counter\n");
  out += fmt::format("mend_cross_shard_posts_total {}\n", cross_shard_posts_.load());
  return out;
}

}  // namespace mend::net
