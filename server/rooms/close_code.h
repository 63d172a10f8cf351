#pragma once

#include <cstdint>

namespace mend::rooms {

// Every WebSocket close code mendd sends (DESIGN.md section 5), in one place. 4000-4499: reconnect
// and resume; 4500-4999: terminal. README lists every code. Beast itself closes a frame over
// read_message_max with 1009.
enum class CloseCode : std::uint16_t {
  kServerShutdown = 4001,
  kClientSilent = 4002,  // no frame from the client within the silence bound
  kSlowConsumer = 4008,
  kReplaced = 4009,
  // Several nodes on PostgreSQL: the room is served by another node now (its lease is held
  // elsewhere, or this node lost it). Reconnect: the router sends the client to the owner.
  kRoomElsewhere = 4010,
  // The server could not tell whether a rewrite of the stored history (an erasure, a purge)
  // committed, so it reloads the room from the store. Reconnect and resume.
  kRoomReloaded = 4011,
  kMalformed = 4500,  // malformed frames: a retry would only repeat them
  kUnauthenticated = 4501,
  kConsentRevoked = 4503,  // observer consent revoked, or room erased
  kUnknownRoom = 4504,
  kRoomMismatch = 4505,  // /v1/connect/{room} names another room than the Hello's token
  kRateLimitAbuse = 4529,
};

}  // namespace mend::rooms
