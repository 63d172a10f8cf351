// Limits and timings of the network layer (DESIGN.md sections 5, 7, 8). Every limit and timing
// of server/net is a field here with its default; mendd maps flags and MEND_* variables onto
// them and tests shorten the timings. A plain value type: copy it freely.
// (Commands per second are limited per participant by the rooms: RoomServiceConfig.)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace mend::net {

using Millis = std::chrono::milliseconds;

// Defaults, named once (DESIGN 5 and 8).
inline constexpr std::size_t kReadMessageMax = 64 * 1024;      // one ClientFrame
inline constexpr std::size_t kMaxQueuedBytes = 1024 * 1024;    // per connection, outgoing
inline constexpr std::size_t kMaxQueuedFrames = 1024;          // per connection, outgoing
inline constexpr std::size_t kMaxHttpBodyBytes = 64 * 1024;    // POST bodies
inline constexpr Millis kHelloTimeout{10'000};                 // upgrade -> Hello
inline constexpr Millis kHeartbeatInterval{25'000};            // server silence -> Heartbeat
inline constexpr Millis kClientSilenceTimeout{60'000};         // client silence -> close
inline constexpr Millis kWriteStallTimeout{20'000};            // one write in flight too long
inline constexpr Millis kHandshakeTimeout{10'000};             // TLS, HTTP request, WS upgrade
inline constexpr Millis kHttpIdleTimeout{30'000};              // keep-alive between requests
inline constexpr std::uint32_t kMaxConnectionsPerIp = 64;
inline constexpr std::uint32_t kRoomsPerApiKey = 1000;         // per key, or per IP without keys
inline constexpr std::size_t kDrainBatch = 200;                // connections closed per step
inline constexpr Millis kDrainBatchInterval{50};
inline constexpr Millis kDrainTimeout{25'000};                 // within SIGTERM's 30 s
// SIGTERM: /readyz fails this long while everything else is still served, so a load balancer
// sees "not ready" before "connection refused". Off by default: set it to the balancer's
// health-check interval (times its failure threshold).
inline constexpr Millis kDrainGrace{0};

// An address range of --proxy-protocol-from: a CIDR block (a single address: all its bits).
struct AddressRange {
  boost::asio::ip::address network;
  unsigned prefix = 0;
};

struct NetConfig {
  std::size_t read_message_max = kReadMessageMax;
  std::size_t max_queued_bytes = kMaxQueuedBytes;
  std::size_t max_queued_frames = kMaxQueuedFrames;
  std::size_t max_http_body_bytes = kMaxHttpBodyBytes;
  Millis hello_timeout = kHelloTimeout;
  Millis heartbeat_interval = kHeartbeatInterval;
  Millis client_silence_timeout = kClientSilenceTimeout;
  Millis write_stall_timeout = kWriteStallTimeout;
  Millis handshake_timeout = kHandshakeTimeout;
  Millis http_idle_timeout = kHttpIdleTimeout;
  std::uint32_t max_connections_per_ip = kMaxConnectionsPerIp;
  std::uint32_t rooms_per_api_key = kRoomsPerApiKey;
  bool allow_plaintext = false;  // plaintext from non-loopback peers
  // Peers (proxies) whose connections start with a PROXY protocol header naming the client
  // (proxy_protocol.h); empty: none, no header is ever read.
  std::vector<AddressRange> proxy_protocol_from;
  // Origins (normalize_origin form) whose pages may change state and open WebSockets besides
  // the server's own (request_checks.h).
  std::vector<std::string> allowed_origins;
  std::size_t drain_batch = kDrainBatch;
  Millis drain_batch_interval = kDrainBatchInterval;
  Millis drain_timeout = kDrainTimeout;  // counted from the end of the grace
  Millis drain_grace = kDrainGrace;
};

}  // namespace mend::net
