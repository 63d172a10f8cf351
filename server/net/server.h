// mendd's network front (DESIGN.md sections 5, 7, 8): one listening port that detects TLS,
// serves the HTTP API and upgrades GET /v1/connect to WebSocket connections that talk to the
// rooms only through rooms::RoomService.
//
// Threading: the Server runs on one io_context that may be run by any number of threads, or on
// shards (io_contexts run by one thread each, see README "--threads"): connections are accepted
// round-robin over the shards, and a WebSocket upgrade that names its room
// (/v1/connect/{room}) is moved to the room's shard (rooms/shard.h) before its handshake, so its
// reads, the room and the fan-out to it share one thread (a TLS connection moves with its TLS
// state; one with ciphertext of its own still in flight stays, and its frames cross shards).
// Each connection runs its handlers one at a time: on its shard's one thread, or (a single
// io_context run by any number of threads) on a strand of its own. Server's methods may be
// called from any thread.
// Ownership: the Server shares its state with its sessions; sessions may outlive the Server
// object until the io_context has run their last handler or been destroyed.
#pragma once

#include "server/rooms/room_service.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "server/net/config.h"
#include "server/net/credentials.h"
#include "server/net/metrics.h"

namespace mend::net {

// Verifies an invite token at `now_ms` (ms since the Unix epoch): the participant it names,
// or nullopt when it is forged, malformed or expired. Must be thread-safe and never log it.
using TokenVerifier =
    std::function<std::optional<rooms::Participant>(std::string_view token, std::int64_t now_ms)>;

// Milliseconds since the Unix epoch (injected so tests can move time).
using WallClock = std::function<std::int64_t()>;

struct ServerDeps {
  std::shared_ptr<rooms::RoomService> rooms;  // required
  TokenVerifier verify_token;                 // required
  std::vector<std::string> api_keys;          // empty: POST /v1/rooms needs no API key
  // TLS server context (see make_tls_context); nullptr serves plaintext only (still subject
  // to the loopback rule), and TLS clients are refused.
  std::shared_ptr<boost::asio::ssl::context> tls;
  WallClock now_ms;                           // default: the system clock
  // More Prometheus text appended to GET /metrics (e.g. RoomMetrics::prometheus_text).
  std::function<std::string()> extra_metrics;
  // The built browser app (web/dist) served at `/` (see static_files.h); empty: no app, and
  // paths outside the API answer the API's JSON 404.
  std::filesystem::path web_dir;
};

// A TLS 1.2+ server context (no SSLv2/3, TLS 1.0/1.1) for the PEM files.
std::variant<std::shared_ptr<boost::asio::ssl::context>, SetupError> make_tls_context(
    const TlsFiles& files);

struct ServerState;  // shared with the sessions (server/net/shared_state.h)

class Server {
 public:
  Server(boost::asio::io_context& ioc, NetConfig config, ServerDeps deps);
  // `shards`: at least one io_context, each run by exactly one thread; not owned (they outlive
  // the Server and its sessions).
  Server(std::vector<boost::asio::io_context*> shards, NetConfig config, ServerDeps deps);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds `endpoint` (port 0: ephemeral) and starts accepting. Returns the bound endpoint.
  std::variant<boost::asio::ip::tcp::endpoint, SetupError> listen(
      const boost::asio::ip::tcp::endpoint& endpoint);

  // Graceful drain: /readyz fails at once; after drain_grace (everything else served as
  // before), the listener stops accepting and WebSocket clients are closed in batches with 4001
  // (reconnect), each after the result of its command in process (RoomService::
  // close_after_answers). `done(all_closed)` runs once, on an io_context thread, when no
  // WebSocket connection remains or drain_timeout (after the grace) has passed.
  void drain(std::function<void(bool all_closed)> done);

  bool draining() const;
  const Metrics& metrics() const;
  // Open WebSocket connections (any state).
  std::size_t websocket_connections() const;

 private:
  std::shared_ptr<ServerState> state_;
  struct Listener;
  std::shared_ptr<Listener> listener_;
};

}  // namespace mend::net
