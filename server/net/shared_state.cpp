#include "server/net/shared_state.h"

#include <chrono>

#include "server/rooms/shard.h"

namespace mend::net {

std::optional<IpLimiter::Slot> IpLimiter::acquire(const boost::asio::ip::address& address) {
  std::string key = address.to_string();
  std::lock_guard lock(mutex_);
  auto& count = open_[key];
  if (count >= limit_) {
    if (count == 0) open_.erase(key);
    return std::nullopt;
  }
  ++count;
  return Slot(shared_from_this(), std::move(key));
}

void IpLimiter::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(key);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);
}

std::uint64_t SessionRegistry::add(std::weak_ptr<Closable> session) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::vector<std::shared_ptr<Closable>> SessionRegistry::next_batch(std::size_t max) {
  std::vector<std::shared_ptr<Closable>> batch;
  std::lock_guard lock(mutex_);
  for (auto it = sessions_.upper_bound(batch_cursor_); it != sessions_.end(); ++it) {
    if (batch.size() == max) break;
    batch_cursor_ = it->first;
    if (auto session = it->second.lock()) batch.push_back(std::move(session));
  }
  return batch;
}

boost::asio::io_context& ServerState::shard_of_room(std::string_view room_id) const {
  return *shards[rooms::shard_of(room_id, shards.size())];
}

boost::asio::any_io_executor ServerState::connection_executor(
    boost::asio::io_context& shard) const {
  return rooms::serial_executor(shard.get_executor(), one_thread_per_shard);
}

std::int64_t ServerState::now_ms() const {
  if (deps.now_ms) return deps.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mend::net
