// The shard a room lives on (server/rooms/shard.h).
#include "server/rooms/shard.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

namespace {

using mend::rooms::shard_of;

TEST_CASE("a room's shard is a stable hash of its id: the same in every run and build") {
  // FNV-1a 64: fixed values, so a change of the function is a deliberate one.
  static_assert(shard_of("", 7) == 14695981039346656037ull % 7);
  CHECK(shard_of("room-1", 2) == shard_of(std::string("room-1"), 2));
  CHECK(shard_of("a", 1000) == 12638187200555641996ull % 1000);
}

TEST_CASE("with one shard every room lives on it, with several the rooms spread over all") {
  CHECK(shard_of("any-room", 0) == 0);
  CHECK(shard_of("any-room", 1) == 0);
  std::set<std::size_t> used;
  for (int i = 0; i < 64; ++i) {
    const std::size_t shard = shard_of("room-" + std::to_string(i), 4);
    CHECK(shard < 4);
    used.insert(shard);
  }
  CHECK(used.size() == 4);
}

}  // namespace
