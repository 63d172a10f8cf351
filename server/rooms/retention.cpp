#include "server/rooms/retention.h"

#include <atomic>
#include <set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/rooms/room.h"

namespace mend::rooms {

RetentionSweeper::RetentionSweeper(std::shared_ptr<RoomContext> context, FindOrLoad find_or_load,
                                   std::size_t max_rooms_per_sweep)
    : ctx_(std::move(context)),
      find_or_load_(std::move(find_or_load)),
      max_rooms_per_sweep_(std::max<std::size_t>(1, max_rooms_per_sweep)) {}

void RetentionSweeper::sweep(std::function<void(SweepReport)> done) {
  auto finish = [done = std::move(done)](SweepReport report) {
    if (done) done(report);
  };
  ctx_->store->list_rooms([self = shared_from_this(),
                           finish = std::move(finish)](store::ListRoomsResult listed) mutable {
    SweepReport report;
    if (listed.error) {
      spdlog::warn("retention sweep: cannot list rooms: {}", store::to_string(listed.error->code));
      report.failed = true;
      return finish(report);
    }
    report.rooms_listed = listed.rooms.size();
    const engine::TimeMs now = self->ctx_->clock();
    struct Candidate {
      std::string room_id;
      std::uint64_t last_seq;
      std::shared_ptr<Room> room;
    };
    std::vector<Candidate> candidates;
    {
      std::lock_guard lock(self->mutex_);
      if (self->stopped_) return finish(report);
      std::set<std::string> listed_ids;
      for (const store::RoomInfo& info : listed.rooms) {
        listed_ids.insert(info.room_id);
        auto mark = self->marks_.find(info.room_id);
        const bool unchanged = mark != self->marks_.end() && mark->second.last_seq == info.last_seq;
        if (unchanged && (!mark->second.due_ms || *mark->second.due_ms > now)) continue;
        if (candidates.size() >= self->max_rooms_per_sweep_) continue;
        // Loading happens under the lock so stop() (from the service's destructor) cannot
        // overtake it.
        if (auto room = self->find_or_load_(info.room_id)) {
          candidates.push_back({info.room_id, info.last_seq, std::move(room)});
        }
      }
      std::erase_if(self->marks_, [&](const auto& entry) { return !listed_ids.contains(entry.first); });
    }
    report.rooms_checked = candidates.size();
    if (candidates.empty()) return finish(report);
    auto remaining = std::make_shared<std::atomic<std::size_t>>(candidates.size());
    auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
    for (Candidate& candidate : candidates) {
      candidate.room->check_retention(
          now, [self, room_id = candidate.room_id, last_seq = candidate.last_seq, remaining,
                shared_finish, report](std::optional<engine::TimeMs> due_ms) {
            {
              std::lock_guard lock(self->mutex_);
              self->marks_[room_id] = Mark{last_seq, due_ms};
            }
            if (remaining->fetch_sub(1) == 1) (*shared_finish)(report);
          });
    }
  });
}

void RetentionSweeper::start(std::chrono::milliseconds interval) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || timer_) return;
    timer_ = std::make_unique<boost::asio::steady_timer>(ctx_->executor);
  }
  arm(interval);
}

void RetentionSweeper::arm(std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  if (stopped_ || !timer_) return;
  timer_->expires_after(interval);
  timer_->async_wait([weak = weak_from_this(), interval](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    self->sweep([weak, interval](SweepReport) {
      if (auto again = weak.lock()) again->arm(interval);
    });
  });
}

void RetentionSweeper::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  if (timer_) timer_->cancel();
}

}  // namespace mend::rooms
