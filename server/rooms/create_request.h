// The rules of a CreateRoomRequest (DESIGN.md section 8, POST /v1/rooms) that need no template
// and no store: names, topic, observers, invite lifetime, series id. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mend/v1/api.pb.h"

namespace mend::rooms {

// Longest observer name (bytes); part of the wire contract, not configurable.
inline constexpr std::size_t kMaxObserverNameBytes = 64;

// The configurable bounds of a room creation request (RoomServiceConfig holds the values).
struct CreateRoomLimits {
  std::size_t max_name_bytes = 64;     // each partner name
  std::size_t max_topic_bytes = 4000;
  std::size_t max_observers = 16;
  std::uint32_t max_invite_ttl_s = 90 * 24 * 3600;
};

// The human message of the first rule `request` breaks (every rule is INVALID_ARGUMENT, 400),
// or nullopt when it keeps them all. The template name is not checked here.
std::optional<std::string> check_create_room_request(const v1::CreateRoomRequest& request,
                                                     const CreateRoomLimits& limits);

// Whether `name` is a well-formed observer name: 1 to kMaxObserverNameBytes of
// [A-Za-z0-9 ._-].
bool is_valid_observer_name(std::string_view name);
// A series id (CreateRoomRequest.series_id): 1 to kMaxObserverNameBytes of [A-Za-z0-9._-];
// safe in a URL path.
bool is_valid_series_id(std::string_view id);

}  // namespace mend::rooms
