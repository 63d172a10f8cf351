#include "server/rooms/room_quota.h"

namespace mend::rooms {

RoomQuota::Admission RoomQuota::try_reserve(const std::string& creator, std::uint32_t limit) {
  std::lock_guard lock(mutex_);
  if (!loaded_) return Admission::kNotLoaded;
  auto& count = rooms_[creator];
  if (count >= limit) return Admission::kRefused;
  ++count;
  return Admission::kAdmitted;
}

void RoomQuota::release(const std::string& creator) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(creator);
  if (it == rooms_.end() || it->second == 0) return;
  if (--it->second == 0) rooms_.erase(it);
}

void RoomQuota::load(const std::vector<store::RoomInfo>& rooms) {
  std::lock_guard lock(mutex_);
  if (loaded_) return;
  loaded_ = true;
  for (const auto& room : rooms) {
    if (!room.creator.empty()) ++rooms_[room.creator];
  }
}

}  // namespace mend::rooms
