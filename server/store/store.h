// The event store: the durable log of every room (DESIGN.md section 6).
//
// A room's history is its events, seq 1, 2, 3 ... without gaps. The room host
// (server/rooms/) is the only writer of a room: it appends the events a command or a timer
// produced with the seq it expects the store to be at, and hears of them again only through
// the completion callback. Nothing is applied or delivered before that callback reports
// success ("an accepted command is durable before anyone hears of it").
//
// Every call completes asynchronously through its callback, so a durable store can queue the
// work for a writer thread and commit several rooms' appends in one transaction (group
// commit). Completion contract, for every implementation:
// - the callback is called exactly once, on any thread (the store's writer thread, or inline
//   before the call returns): callers must not hold a lock across a call and must hop to their
//   own executor in the callback;
// - appends to one room complete in the order they were issued;
// - a successful append is visible to every later `load` and `find_result`.
//
// Errors are values (StoreError with a stable code); no exception leaves a store call.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"

namespace mend::store {

enum class StoreErrorCode {
  kConflict,     // append: the room is not at expected_last_seq (another writer, or a bug)
  kNotFound,     // load: no such room
  kUnavailable,  // the store could not do it now (I/O error, shutting down); retry later
  kInvalid,      // the request breaks the contract (seqs not contiguous, empty append)
};

// Stable name of a code, e.g. "CONFLICT", for logs and metrics.
const char* to_string(StoreErrorCode code);

struct StoreError {
  StoreErrorCode code;
  std::string message;  // for logs; never contains message content
};

// Identifies one command for exactly-once effect: client command ids are chosen by clients,
// so they are scoped by room and by participant.
struct CommandKey {
  std::string room_id;
  std::string participant;  // a stable participant key, e.g. "A", "B", "O:Dr. Kim"
  std::string command_id;   // 1..64 bytes
  bool operator==(const CommandKey&) const = default;
};

// The CommandResult of an accepted command, recorded atomically with its events.
struct RecordedResult {
  CommandKey key;
  v1::CommandResult result;
};

struct AppendRequest {
  std::string room_id;
  // The room's last seq before this append (0 when the room is created). The first event
  // must have seq expected_last_seq + 1 and the events must be contiguous.
  std::uint64_t expected_last_seq = 0;
  std::vector<v1::Event> events;  // at least one
  // Set for a command's append: stored in the same commit as the events.
  std::optional<RecordedResult> result;
};

// nullopt on success: the events (and the result) are committed.
using AppendDone = std::function<void(std::optional<StoreError>)>;

struct LoadResult {
  std::vector<v1::Event> events;  // in seq order
  std::optional<StoreError> error;
};
using LoadDone = std::function<void(LoadResult)>;

struct FindResult {
  std::optional<v1::CommandResult> result;  // nullopt: no command with that key was recorded
  std::optional<StoreError> error;
};
using FindDone = std::function<void(FindResult)>;

// Thread safety: every method may be called from any thread concurrently.
class Store {
 public:
  virtual ~Store() = default;

  // Appends a room's events (and a command's result) atomically. Fails with kConflict, and
  // stores nothing, when the room's last seq is not request.expected_last_seq (for a new
  // room: when the room id already exists), or when the result's key is already recorded.
  virtual void append(AppendRequest request, AppendDone done) = 0;

  // The room's events with seq > after_seq (after_seq 0: all). kNotFound for an unknown room.
  virtual void load(std::string room_id, std::uint64_t after_seq, LoadDone done) = 0;

  // The recorded CommandResult of `key`, if that command was accepted and committed.
  virtual void find_result(CommandKey key, FindDone done) = 0;
};

}  // namespace mend::store
