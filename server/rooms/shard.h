// Which shard (I/O thread with its own io_context, see README "--threads") a room lives on.
// One place for the rule: the rooms put a room's strand there and the network layer moves the
// connections that name the room in their connect path there, so a command is read, decided
// and fanned out to those connections on one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

namespace mend::rooms {

// FNV-1a (64 bit) of the room id modulo `shards`: stable across runs, builds and platforms.
// `shards` 0 or 1: 0.
constexpr std::size_t shard_of(std::string_view room_id, std::size_t shards) {
  if (shards <= 1) return 0;
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : room_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<std::size_t>(hash % shards);
}

// The executor that runs one room's (or one connection's) handlers one at a time on `shard`:
// the shard's own when exactly one thread runs it (that thread already serializes them; a
// strand would only add a queue and a lock to every handler), else a strand of it.
inline boost::asio::any_io_executor serial_executor(const boost::asio::any_io_executor& shard,
                                                    bool one_thread) {
  if (one_thread) return shard;
  return boost::asio::make_strand(shard);
}

}  // namespace mend::rooms
