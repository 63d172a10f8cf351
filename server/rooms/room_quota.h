// Rooms per creator (--rooms-per-api-key), counted from the store so that a restart does not
// start the count over: the counts are loaded once from list_rooms (every stored room with the
// creator digest of its first append), then kept in memory as rooms are created. An erased
// room no longer counts. Internal to server/rooms.
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/store/store.h"

namespace mend::rooms {

class RoomQuota {
 public:
  enum class Admission : std::uint8_t { kAdmitted, kRefused, kNotLoaded };

  // Reserves one room for `creator` (a digest) when it holds fewer than `limit`; kNotLoaded
  // until load() ran (the caller loads, then asks again).
  Admission try_reserve(const std::string& creator, std::uint32_t limit);
  // Gives back a reservation whose room was not created.
  void release(const std::string& creator);
  // Counts the stored rooms per creator. Only the first call counts (a second concurrent
  // load found the same rooms).
  void load(const std::vector<store::RoomInfo>& rooms);

 private:
  std::mutex mutex_;
  bool loaded_ = false;
  std::map<std::string, std::uint32_t> rooms_;  // creator digest -> rooms created and reserved
};

}  // namespace mend::rooms
