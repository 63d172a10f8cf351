#include "server/rooms/create_request.h"

#include <set>

namespace mend::rooms {

std::optional<std::string> check_create_room_request(const v1::CreateRoomRequest& request,
                                                     const CreateRoomLimits& limits) {
  if (request.partner_a_name().size() > limits.max_name_bytes ||
      request.partner_b_name().size() > limits.max_name_bytes) {
    return "Partner names can be at most " + std::to_string(limits.max_name_bytes) +
           " bytes long.";
  }
  if (request.topic().size() > limits.max_topic_bytes) return "The topic is too long.";
  if (static_cast<std::size_t>(request.observers_size()) > limits.max_observers) {
    return "Too many observers for one room.";
  }
  std::set<std::string_view> seen;
  for (const std::string& name : request.observers()) {
    if (!is_valid_observer_name(name)) {
      return "Observer names use 1 to " + std::to_string(kMaxObserverNameBytes) +
             " letters, digits, spaces, '.', '_' or '-'.";
    }
    if (!seen.insert(name).second) return "Observer names must be unique.";
  }
  if (request.invite_ttl_s() > limits.max_invite_ttl_s) return "The invite lifetime is too long.";
  if (!request.series_id().empty() && !is_valid_series_id(request.series_id())) {
    return "A series id uses 1 to " + std::to_string(kMaxObserverNameBytes) +
           " letters, digits, '.', '_' or '-'.";
  }
  return std::nullopt;
}

namespace {

// 1 to kMaxObserverNameBytes ASCII letters, digits, '.', '_', '-' (and spaces where `spaces`).
bool is_valid_name(std::string_view name, bool spaces) {
  if (name.empty() || name.size() > kMaxObserverNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (spaces && c == ' ') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool is_valid_observer_name(std::string_view name) { return is_valid_name(name, true); }

bool is_valid_series_id(std::string_view id) { return is_valid_name(id, false); }

}  // namespace mend::rooms
