// State shared by the Server and its sessions (the chat-multi example's shared_state, grown
// up). Internal to server/net. Every member is safe to use from any thread.
#pragma once

#include "server/net/server.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include "server/net/config.h"
#include "server/net/metrics.h"

namespace mend::net {

// Counts open TCP connections per peer address (limit: max_connections_per_ip).
class IpLimiter : public std::enable_shared_from_this<IpLimiter> {
 public:
  explicit IpLimiter(std::uint32_t limit) : limit_(limit) {}

  // A slot held for the life of one connection; releasing it (destruction) frees the count.
  class Slot {
   public:
    Slot() = default;
    Slot(std::shared_ptr<IpLimiter> owner, std::string key)
        : owner_(std::move(owner)), key_(std::move(key)) {}
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&& other) noexcept {
      release();
      owner_ = std::move(other.owner_);
      key_ = std::move(other.key_);
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

   private:
    void release() {
      if (owner_) owner_->release(key_);
      owner_.reset();
    }
    std::shared_ptr<IpLimiter> owner_;
    std::string key_;
  };

  // A slot for `address`, or nullopt when that address already holds `limit` connections.
  std::optional<Slot> acquire(const boost::asio::ip::address& address);

 private:
  void release(const std::string& key);
  const std::uint32_t limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint32_t> open_;
};

// A WebSocket session as the drain sees it.
class Closable {
 public:
  virtual ~Closable() = default;
  // Closes with 4001 (server shutdown); returns at once, from any thread.
  virtual void close_for_shutdown() = 0;
};

// The live WebSocket sessions, for the graceful drain.
class SessionRegistry {
 public:
  std::uint64_t add(std::weak_ptr<Closable> session);
  void remove(std::uint64_t id);
  std::size_t size() const;
  // Up to `max` sessions not handed out by an earlier call (in id order).
  std::vector<std::shared_ptr<Closable>> next_batch(std::size_t max);

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::uint64_t batch_cursor_ = 0;  // ids up to here were handed out
  std::map<std::uint64_t, std::weak_ptr<Closable>> sessions_;
};

struct ServerState {
  // `shard_contexts`: at least one, not owned: they outlive the state. `one_thread_each`:
  // each is run by exactly one thread; otherwise there is a single one, run by any number.
  ServerState(std::vector<boost::asio::io_context*> shard_contexts, bool one_thread_each,
              NetConfig cfg, ServerDeps d)
      : shards(std::move(shard_contexts)),
        one_thread_per_shard(one_thread_each),
        ioc(*shards.front()),
        config(cfg),
        deps(std::move(d)),
        ip_limiter(std::make_shared<IpLimiter>(cfg.max_connections_per_ip)) {}

  std::int64_t now_ms() const;
  // The shard room `room_id` lives on (rooms/shard.h): its connections are served there.
  boost::asio::io_context& shard_of_room(std::string_view room_id) const;

  // The executor of a connection served on `shard` (rooms::serial_executor: the shard's own
  // when one thread runs it, else a strand of its own).
  boost::asio::any_io_executor connection_executor(boost::asio::io_context& shard) const;

  const std::vector<boost::asio::io_context*> shards;
  const bool one_thread_per_shard;
  boost::asio::io_context& ioc;  // the first shard: listener, drain and other server-wide work
  const NetConfig config;
  const ServerDeps deps;
  Metrics metrics;
  std::atomic<bool> unready{false};   // /readyz fails (from the start of a drain's grace)
  std::atomic<bool> draining{false};  // connections are refused and closed (after the grace)
  std::shared_ptr<IpLimiter> ip_limiter;
  SessionRegistry websockets;
};

}  // namespace mend::net
