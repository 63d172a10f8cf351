// Sessions of one accepted TCP connection (internal to server/net): TLS detection, HTTP
// request/response with keep-alive, and the WebSocket connection of one participant.
#pragma once

#include "server/net/shared_state.h"

#include <memory>

#include <boost/asio/ip/tcp.hpp>


namespace mend::net {

// Takes over an accepted socket (whose executor runs its handlers one at a time:
// ServerState::connection_executor): detects TLS, enforces the
// loopback rule for plaintext (on the TCP peer, the hop that carries the plaintext), then serves
// HTTP and WebSocket on it. `client`: the address every per-address rule sees (the TCP peer, or
// the client a trusted proxy named: proxy_protocol.h).
void start_session(std::shared_ptr<ServerState> state, boost::asio::ip::tcp::socket socket,
                   IpLimiter::Slot slot, boost::asio::ip::address client);

// Where the WebSocket of a connection upgraded for a room is served (README "--threads"): on
// the room's shard, the connection moved there when it was accepted on another one, unless its
// stream cannot move now (a TLS stream with ciphertext of its own being written or waiting to
// be: TlsStream::rebindable() false). Such a stream stays on its accept shard and works there;
// its frames then cross shards.
enum class ShardChoice { kAcceptShard, kRoomShard };
ShardChoice choose_shard(bool on_room_shard, bool stream_movable);

}  // namespace mend::net
