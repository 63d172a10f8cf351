#include <doctest/doctest.h>

#include "server/store/memory_store.h"

namespace mend::store {
namespace {

std::vector<v1::Event> events(std::uint64_t first, std::uint64_t count) {
  std::vector<v1::Event> out;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    v1::Event e;
    e.set_seq(seq);
    out.push_back(e);
  }
  return out;
}

std::optional<StoreError> append(Store& store, std::string room, std::uint64_t expected,
                                 std::vector<v1::Event> evs,
                                 std::optional<RecordedResult> result = std::nullopt) {
  std::optional<StoreError> out;
  bool called = false;
  store.append(AppendRequest{std::move(room), expected, std::move(evs), std::move(result)},
               [&](std::optional<StoreError> e) {
                 out = std::move(e);
                 called = true;
               });
  REQUIRE(called);
  return out;
}

TEST_CASE("an append at the wrong seq is a conflict and stores nothing") {
  MemoryStore store;
  CHECK_FALSE(append(store, "r", 0, events(1, 2)));
  CHECK(append(store, "r", 0, events(1, 1))->code == StoreErrorCode::kConflict);  // exists
  CHECK(append(store, "r", 1, events(2, 1))->code == StoreErrorCode::kConflict);
  CHECK(append(store, "r", 2, events(4, 1))->code == StoreErrorCode::kInvalid);  // gap
  CHECK(append(store, "x", 3, events(4, 1))->code == StoreErrorCode::kConflict);  // no room
  CHECK(store.event_count("r") == 2);
}

TEST_CASE("load returns the events after a seq, and NOT_FOUND for an unknown room") {
  MemoryStore store;
  REQUIRE_FALSE(append(store, "r", 0, events(1, 5)));
  LoadResult loaded;
  store.load("r", 3, [&](LoadResult r) { loaded = std::move(r); });
  REQUIRE(loaded.events.size() == 2);
  CHECK(loaded.events[0].seq() == 4);
  store.load("nope", 0, [&](LoadResult r) { loaded = std::move(r); });
  REQUIRE(loaded.error.has_value());
  CHECK(loaded.error->code == StoreErrorCode::kNotFound);
}

TEST_CASE("a command's result is recorded with its events and found by key") {
  MemoryStore store;
  REQUIRE_FALSE(append(store, "r", 0, events(1, 1)));
  v1::CommandResult result;
  result.set_command_id("c1");
  result.set_accepted(true);
  const CommandKey key{"r", "A", "c1"};
  REQUIRE_FALSE(append(store, "r", 1, events(2, 1), RecordedResult{key, result}));
  FindResult found;
  store.find_result(key, [&](FindResult r) { found = std::move(r); });
  REQUIRE(found.result.has_value());
  CHECK(found.result->command_id() == "c1");
  store.find_result(CommandKey{"r", "B", "c1"}, [&](FindResult r) { found = std::move(r); });
  CHECK_FALSE(found.result.has_value());  // ids are per participant
  CHECK(append(store, "r", 2, events(3, 1), RecordedResult{key, result})->code ==
        StoreErrorCode::kConflict);
}

}  // namespace
}  // namespace mend::store
