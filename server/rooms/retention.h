// The retention sweep (DESIGN.md section 7): content is kept for the stricter of the two
// partners' consented retention_days after the conversation closed, then purged (every text
// becomes "[erased]"; the events, their seqs, metrics and the audit log stay). Rooms with
// retention_days 0 are purged by the room itself at close; the sweep catches every other
// room, and rooms whose purge at close was interrupted (crash, store failure).
//
// A sweep lists the stored rooms (Store::list_rooms, content-free), loads the ones that may be
// due and asks each to purge if its retention ended at the clock's now. It remembers, per room
// and last seq, when the room is due (or that nothing will be due until the room changes), so
// a room is loaded again only when it changed or fell due. At most max_rooms_per_sweep rooms
// are loaded per sweep; the rest wait for the next one.
//
// Thread safety: every method may be called from any thread. Ownership: held by
// RoomServiceImpl through a shared_ptr; stop() (from its destructor) ends the periodic sweeps
// and makes later completions no-ops.
#pragma once

// Protobuf headers before Asio (see room_service_impl.h: TRY_AGAIN).
#include "mend/v1/conversation.pb.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "server/engine/state.h"

namespace mend::rooms {

class Room;
struct RoomContext;

struct SweepReport {
  std::size_t rooms_listed = 0;   // rooms in the store
  std::size_t rooms_checked = 0;  // rooms loaded and asked to purge if due
  bool failed = false;            // the store could not list the rooms
};

class RetentionSweeper : public std::enable_shared_from_this<RetentionSweeper> {
 public:
  using FindOrLoad = std::function<std::shared_ptr<Room>(const std::string& room_id)>;

  RetentionSweeper(std::shared_ptr<RoomContext> context, FindOrLoad find_or_load,
                   std::size_t max_rooms_per_sweep);

  // One sweep at the context clock's now; `done` (optional) runs once it finished, on any
  // thread: every due room was purged (or failed to, then it is due again next sweep).
  void sweep(std::function<void(SweepReport)> done);

  // Sweeps every `interval` on the context's executor until stop().
  void start(std::chrono::milliseconds interval);

  // Ends the periodic sweeps; completions after it do nothing. Idempotent.
  void stop();

 private:
  struct Mark {
    std::uint64_t last_seq = 0;
    std::optional<engine::TimeMs> due_ms;  // nullopt: nothing due until last_seq changes
  };
  void arm(std::chrono::milliseconds interval);

  const std::shared_ptr<RoomContext> ctx_;
  const FindOrLoad find_or_load_;
  const std::size_t max_rooms_per_sweep_;
  std::mutex mutex_;
  bool stopped_ = false;
  std::map<std::string, Mark> marks_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace mend::rooms
