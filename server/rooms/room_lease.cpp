// Room leases for several nodes on one store (issue 13; RoomServiceConfig::lease_ms): a room is
// served by the node that holds its lease. The store judges expiry by its own clock and fences
// every append whose epoch is no longer the room's; this file takes, renews and gives back the
// lease, stops serving the room the moment the lease is known lost, and hands the room over
// when another node was asked for it (the router sends the room's clients there now).
#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "server/rooms/room.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {
// Renewals per lease time: a renewal may fail or come late twice before the lease lapses.
constexpr engine::TimeMs kRenewalsPerLease = 3;
}  // namespace

void Room::on_lease_taken(store::LeaseResult lease) {
  if (lease.error) {
    store::LoadResult failed;
    failed.error = std::move(lease.error);
    return on_loaded(std::move(failed), 1);  // kFailed: UNAVAILABLE, the next access retries
  }
  if (!lease.held) {
    status_ = Status::kElsewhere;
    elsewhere_ms_ = lease.remaining_ms;
    spdlog::debug("room {}: served by node {} (its lease runs {} ms more)", id_, lease.holder,
                  lease.remaining_ms);
    ctx_->forget(id_, this);  // the next access asks for the lease again
    auto waiting = std::move(waiting_for_load_);
    waiting_for_load_.clear();
    for (auto& op : waiting) op();
    return;
  }
  lease_epoch_ = lease.epoch;
  spdlog::debug("room {}: lease taken (epoch {})", id_, lease.epoch);
  load_events();
}

void Room::arm_lease_renewal() {
  const engine::TimeMs period = std::max<engine::TimeMs>(1, ctx_->config.lease_ms / kRenewalsPerLease);
  lease_timer_.expires_after(std::chrono::milliseconds(period));
  lease_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->status_ != Status::kReady) return;
    const auto asked = std::chrono::steady_clock::now();
    self->ctx_->store->acquire_lease(
        self->id_, self->ctx_->config.node_id, std::chrono::milliseconds(self->ctx_->config.lease_ms),
        [self, asked](store::LeaseResult lease) {
          asio::post(self->strand_, [self, asked, lease = std::move(lease)]() mutable {
            self->on_lease_renewed(std::move(lease), asked);
          });
        });
  });
}

void Room::on_lease_renewed(store::LeaseResult lease,
                            std::chrono::steady_clock::time_point asked) {
  if (status_ != Status::kReady || lease_epoch_ == 0) return;
  if (!lease.error && lease.held && lease.epoch == lease_epoch_) {
    if (lease.wanted_elsewhere) {
      // The router sends this room's clients to another node now (e.g. this node took the
      // room while its hash node restarted, and it is back): keeping the room would keep a
      // partner reconnecting there refused for as long as anyone is connected here. Hand it
      // over: the clients here reconnect through the router, and the lease goes back at once.
      lose_lease("another node is asked for it; handing it over");
      return release_lease();
    }
    lease_asked_at_ = asked;
    return arm_lease_renewal();
  }
  if (!lease.error) {
    // Not held, or held again under a new epoch after it lapsed: another node may have
    // written meanwhile, so this state is stale either way.
    return lose_lease("its lease moved to another node");
  }
  // The store did not answer (e.g. PostgreSQL restarting): the lease still runs lease_ms from
  // the last renewal asked; keep serving (every append is fenced anyway) until then.
  const auto held_for = std::chrono::steady_clock::now() - lease_asked_at_;
  if (held_for < std::chrono::milliseconds(ctx_->config.lease_ms)) {
    spdlog::warn("room {}: lease renewal failed ({}); retrying", id_,
                 store::to_string(lease.error->code));
    return arm_lease_renewal();
  }
  lose_lease("its lease could not be renewed in time");
}

void Room::lose_lease(const char* why) {
  if (status_ != Status::kReady) return;
  spdlog::warn("room {}: {}; closing its connections ({}) and unloading", id_, why,
               static_cast<int>(CloseCode::kRoomElsewhere));
  // The successor asks for the lease again (and is refused while the other node holds it);
  // nothing of this object writes again. Privacy operations queued behind the work in flight
  // never run here: their HTTP callers get the "try again" answer now rather than waiting for
  // their timeout. (The one running, if any, answers the same way when its store call
  // returns: unserved_error().)
  lease_lost_ = true;
  unload_now(CloseCode::kRoomElsewhere, "the conversation moved to another server",
             elsewhere_error());
}

void Room::release_lease(std::function<void()> then) {
  lease_timer_.cancel();
  if (lease_epoch_ == 0) {
    if (then) then();
    return;
  }
  // lease_epoch_ stays: an append this object might still issue is fenced (the release fences
  // the epoch).
  ctx_->store->release_lease(
      id_, ctx_->config.node_id, lease_epoch_,
      [self = shared_from_this(), then = std::move(then)](std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, error = std::move(error), then = std::move(then)] {
          if (error) {
            spdlog::warn("room {}: lease not released ({}); it expires on its own", self->id_,
                         store::to_string(error->code));
          }
          if (then) then();
        });
      });
}

ServiceError Room::unserved_error() const {
  return lease_lost_ ? elsewhere_error() : unavailable_error();
}

ServiceError Room::elsewhere_error() const {
  // Retry-After in whole seconds, at least 1: by then the router (consistent hashing) sends
  // the caller to the owner, or the owner's lease expired and this node takes the room over.
  const auto seconds = static_cast<int>(std::clamp<std::int64_t>((elsewhere_ms_ + 999) / 1000, 1, 60));
  return ServiceError{"ROOM_ELSEWHERE",
                      "This conversation is being served by another server right now. Please try "
                      "again in a moment.",
                      503, seconds};
}

}  // namespace mend::rooms
