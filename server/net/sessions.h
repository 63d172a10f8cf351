// Sessions of one accepted TCP connection (internal to server/net): TLS detection, HTTP
// request/response with keep-alive, and the WebSocket connection of one participant.
#pragma once

#include "server/net/shared_state.h"

#include <memory>

#include <boost/asio/ip/tcp.hpp>


namespace mend::net {

// Takes over an accepted socket (whose executor is its own strand): detects TLS, enforces the
// loopback rule for plaintext, then serves HTTP and WebSocket on it.
void start_session(std::shared_ptr<ServerState> state, boost::asio::ip::tcp::socket socket,
                   IpLimiter::Slot slot);

}  // namespace mend::net
