// Lifecycle of loaded rooms (DESIGN.md section 6): load on demand, idle eviction, timers of
// unloaded rooms (wake schedule), the timer sweep after a restart, and shutdown.
#include "server/rooms/room.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "server/rooms/shard.h"
#include "server/rooms/tokens.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {
// With leases: how long a room without connections or work stays loaded (and leased).
constexpr engine::TimeMs kLeasedIdleEvictMs = 10'000;
}  // namespace

// ---------------------------------------------------------------------------------------------
// RoomContext: registry and wake schedule

const asio::any_io_executor& RoomContext::executor_of(std::string_view id) const {
  return shards[shard_of(id, shards.size())];
}

asio::any_io_executor RoomContext::strand_for(std::string_view id) const {
  return serial_executor(executor_of(id), one_thread_per_shard);
}

std::shared_ptr<Room> RoomContext::find_or_load(const std::string& id) {
  if (!is_valid_room_id(id)) return nullptr;
  std::shared_ptr<Room> room;
  {
    std::lock_guard lock(registry_mutex);
    auto it = registry.find(id);
    if (it != registry.end()) return it->second;
    room = std::make_shared<Room>(id, shared_from_this());
    registry.emplace(id, room);
  }
  room->load();
  return room;
}

std::vector<std::shared_ptr<Room>> RoomContext::loaded_rooms() {
  std::vector<std::shared_ptr<Room>> rooms;
  std::lock_guard lock(registry_mutex);
  rooms.reserve(registry.size());
  for (auto& [id, room] : registry) rooms.push_back(room);
  return rooms;
}

void RoomContext::schedule_wake(const std::string& id, engine::TimeMs at) {
  std::lock_guard lock(wake_mutex_);
  wake_schedule_.emplace(at, id);
}

std::vector<std::string> RoomContext::take_due_wakes(engine::TimeMs now) {
  std::vector<std::string> due;
  std::lock_guard lock(wake_mutex_);
  auto end = wake_schedule_.upper_bound({now, std::string(1, '\x7f')});
  for (auto it = wake_schedule_.begin(); it != end; ++it) due.push_back(it->second);
  wake_schedule_.erase(wake_schedule_.begin(), end);
  return due;
}

std::size_t RoomContext::scheduled_wakes() {
  std::lock_guard lock(wake_mutex_);
  return wake_schedule_.size();
}

void RoomContext::housekeeping() {
  const engine::TimeMs now = clock();
  if (config.room_idle_evict_ms > 0) {
    // With leases a room nobody is attached to gives its lease back soon: it may have been
    // loaded here for an HTTP request while the router sends its participants elsewhere.
    const engine::TimeMs idle_ms =
        config.lease_ms > 0 ? std::min(config.room_idle_evict_ms, kLeasedIdleEvictMs)
                            : config.room_idle_evict_ms;
    for (auto& room : loaded_rooms()) room->evict_if_idle(now, idle_ms);
  }
  for (const std::string& id : take_due_wakes(now)) {
    // Loading runs the due ticks (Room::on_loaded -> pump); an already loaded room has its own
    // timer and ignores this.
    if (auto room = find_or_load(id)) room->run_due_timers();
  }
}

// ---------------------------------------------------------------------------------------------
// Room: eviction

void Room::evict_if_idle(engine::TimeMs now, engine::TimeMs idle_ms) {
  asio::post(strand_, [self = shared_from_this(), now, idle_ms] {
    if (self->status_ != Status::kReady || !self->core_->idle() ||
        !self->waiting_for_load_.empty() || !self->exclusive_.empty() ||
        !self->audit_appends_in_flight_.empty()) {
      return;
    }
    if (now - self->last_active_ms_ < idle_ms) return;
    self->evict();
  });
}

void Room::evict() {
  // From now on, find_or_load creates a successor that loads the room from the store; the
  // store holds everything (no append is in flight), and operations still reaching this
  // object follow it there (on_strand).
  ctx_->forget(id_, this);
  status_ = Status::kEvicted;
  if (const auto deadline = core_->deadline()) ctx_->schedule_wake(id_, *deadline);
  timer_.cancel();
  armed_deadline_.reset();
  core_.reset();
  ctx_->metrics.rooms_loaded_delta(-1);
  ctx_->metrics.room_evicted();
  spdlog::debug("room {}: unloaded after being idle", id_);
  release_lease();  // another node may serve it at once
}

void Room::unload_now(CloseCode code, const std::string& close_reason,
                      const ServiceError& refusal) {
  ctx_->forget(id_, this);
  status_ = Status::kEvicted;
  close_connections(code, close_reason);
  auto queued = std::move(exclusive_);
  exclusive_.clear();
  for (auto& [id, op] : queued) op.refuse(refusal);
  timer_.cancel();
  armed_deadline_.reset();
  lease_timer_.cancel();
  core_.reset();
  ctx_->metrics.rooms_loaded_delta(-1);
}

void Room::reload_after_doubt(const store::StoreError& error) {
  if (status_ != Status::kReady) return;
  spdlog::warn("room {}: a rewrite of its history may or may not have committed ({}); closing "
               "its connections ({}) and loading it again from the store",
               id_, store::to_string(error.code), static_cast<int>(CloseCode::kRoomReloaded));
  if (const auto deadline = core_->deadline()) ctx_->schedule_wake(id_, *deadline);
  // The lease stays this node's: the successor takes it again at the same epoch.
  unload_now(CloseCode::kRoomReloaded, "the conversation is being reloaded",
             unavailable_error());
}

// ---------------------------------------------------------------------------------------------
// RoomServiceImpl: housekeeping, timer sweep, stop

struct RoomServiceImpl::Housekeeper : std::enable_shared_from_this<Housekeeper> {
  explicit Housekeeper(const asio::any_io_executor& executor)
      : strand(asio::make_strand(executor)), timer(strand) {}

  void arm(std::weak_ptr<RoomContext> weak, engine::TimeMs interval_ms) {
    timer.expires_after(std::chrono::milliseconds(std::max<engine::TimeMs>(1, interval_ms)));
    timer.async_wait([self = shared_from_this(), weak = std::move(weak),
                      interval_ms](const boost::system::error_code& ec) {
      if (ec || self->stopped.load()) return;
      auto context = weak.lock();
      if (!context) return;
      context->housekeeping();
      self->arm(weak, interval_ms);
    });
  }

  void stop() {
    stopped.store(true);
    asio::post(strand, [self = shared_from_this()] { self->timer.cancel(); });
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
};

void RoomServiceImpl::start_housekeeping() {
  if (housekeeper_) return;
  housekeeper_ = std::make_shared<Housekeeper>(context_->executor);
  asio::post(housekeeper_->strand,
             [keeper = housekeeper_, weak = std::weak_ptr<RoomContext>(context_),
              interval = context_->config.housekeeping_interval_ms] {
               if (!keeper->stopped.load()) keeper->arm(weak, interval);
             });
}

void RoomServiceImpl::housekeeping() { context_->housekeeping(); }

std::size_t RoomServiceImpl::scheduled_wakes() const { return context_->scheduled_wakes(); }

void RoomServiceImpl::audit_held(const std::string& room_id,
                                 std::function<void(std::size_t)> done) {
  std::shared_ptr<Room> room;
  {
    std::lock_guard lock(context_->registry_mutex);
    const auto it = context_->registry.find(room_id);
    if (it != context_->registry.end()) room = it->second;
  }
  if (!room) return done(0);
  room->audit_held(std::move(done));
}

void RoomServiceImpl::stop_housekeeping() {
  if (housekeeper_) housekeeper_->stop();
}

void RoomServiceImpl::stop(std::function<void()> done) {
  stop_housekeeping();
  sweeper_->stop();
  auto rooms = context_->loaded_rooms();
  if (rooms.empty()) {
    if (done) asio::post(context_->executor, std::move(done));
    return;
  }
  // `done` runs once every room has released its connections (which hold the service).
  auto left = std::make_shared<std::atomic<std::size_t>>(rooms.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& room : rooms) {
    room->shut_down([left, shared_done] {
      if (left->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
    });
  }
}

void Room::shut_down(std::function<void()> done) {
  // Straight to the strand (not on_strand): a room still loading has no connection to close.
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->close_connections(CloseCode::kServerShutdown, "the server is restarting");
    self->timer_.cancel();
    // Drain: another node takes the room over at once instead of after the lease expired.
    self->release_lease(std::move(done));
  });
}

namespace {

// Reads the stored rooms one at a time and records each armed timer (loading at once a room
// whose timer is already due). Keeps itself alive through its pending callbacks.
class TimerSweep : public std::enable_shared_from_this<TimerSweep> {
 public:
  TimerSweep(std::shared_ptr<RoomContext> context, std::function<void(std::size_t)> done)
      : context_(std::move(context)), done_(std::move(done)) {}

  void start() {
    context_->store->list_rooms([self = shared_from_this()](store::ListRoomsResult listed) {
      asio::post(self->context_->executor, [self, listed = std::move(listed)]() mutable {
        if (listed.error) {
          spdlog::error("timer sweep: cannot list rooms: {}",
                        store::to_string(listed.error->code));
          return self->finish();
        }
        self->rooms_ = std::move(listed.rooms);
        self->next();
      });
    });
  }

 private:
  void next() {
    while (index_ < rooms_.size()) {
      const std::string& id = rooms_[index_].room_id;
      bool loaded = false;
      {
        std::lock_guard lock(context_->registry_mutex);
        loaded = context_->registry.contains(id);
      }
      if (!loaded) break;  // a loaded room runs its own timer
      ++index_;
    }
    if (index_ >= rooms_.size()) return finish();
    std::string id = rooms_[index_++].room_id;
    context_->store->load(id, 0, [self = shared_from_this(), id](store::LoadResult loaded) {
      asio::post(self->context_->executor, [self, id, loaded = std::move(loaded)] {
        self->examine(id, loaded);
        self->next();
      });
    });
  }

  void examine(const std::string& id, const store::LoadResult& loaded) {
    ++examined_;
    if (loaded.error) {
      if (loaded.error->code != store::StoreErrorCode::kNotFound) {
        spdlog::error("timer sweep: room {}: load failed: {}", id,
                      store::to_string(loaded.error->code));
      }
      return;
    }
    engine::RoomState state;
    for (const v1::Event& event : loaded.events) engine::evolve(state, event);
    const auto deadline = engine::next_deadline(state);
    if (!deadline) return;
    if (*deadline <= context_->clock()) {
      context_->find_or_load(id);  // loading runs the due ticks
    } else {
      context_->schedule_wake(id, *deadline);
    }
  }

  void finish() {
    spdlog::info("timer sweep: {} stored rooms examined, {} timers scheduled", examined_,
                 context_->scheduled_wakes());
    if (done_) done_(examined_);
  }

  std::shared_ptr<RoomContext> context_;
  std::function<void(std::size_t)> done_;
  std::vector<store::RoomInfo> rooms_;
  std::size_t index_ = 0;
  std::size_t examined_ = 0;
};

}  // namespace

void RoomServiceImpl::recover_timers(std::function<void(std::size_t)> done) {
  std::make_shared<TimerSweep>(context_, std::move(done))->start();
}

}  // namespace mend::rooms
