// Room: the partners' refusal counts that outlive a restart (issue 14). The core counts them
// (RoomCore::count_refusal); this file reads the stored counts when the room is loaded and
// stores the core's new counts as deltas (Store::add_refusals), at most one write in flight.
// Deltas only add: a write that failed is merged into the next, a count read before a write
// landed is low until the next load, and the stored totals never count a refusal twice.
#include "server/rooms/room.h"

#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace mend::rooms {

namespace asio = boost::asio;

void Room::load_refusals_then(store::LoadResult loaded) {
  if (loaded.error) return load_audit_then_finish(std::move(loaded));
  auto shared_loaded = std::make_shared<store::LoadResult>(std::move(loaded));
  ctx_->store->load_refusals(
      id_, [self = shared_from_this(), shared_loaded](store::RefusalsResult read) mutable {
        asio::post(self->strand_, [self, shared_loaded, read = std::move(read)]() mutable {
          if (read.error) {
            // The insights show fewer refusals until the room is loaded again; nothing stored
            // is lost.
            spdlog::warn("room {}: refusal counts not loaded: {}", self->id_,
                         store::to_string(read.error->code));
          }
          for (const store::RefusalCount& stored : read.refusals) {
            self->stored_refusals_[{stored.partner, stored.code}] +=
                static_cast<std::uint32_t>(stored.count);
          }
          self->load_audit_then_finish(std::move(*shared_loaded));
        });
      });
}

void Room::flush_refusals() {
  if (!core_ || refusals_in_flight_) return;
  for (const auto& [key, count] : core_->take_unstored_refusals()) unstored_refusals_[key] += count;
  if (unstored_refusals_.empty()) return;
  std::vector<store::RefusalCount> deltas;
  for (const auto& [key, count] : unstored_refusals_) {
    deltas.push_back(store::RefusalCount{key.first, key.second, count});
  }
  refusals_in_flight_ = true;
  ctx_->store->add_refusals(
      id_, std::move(deltas),
      [self = shared_from_this(), sent = std::exchange(unstored_refusals_, {})](
          std::optional<store::StoreError> error) mutable {
        asio::post(self->strand_, [self, sent = std::move(sent), error = std::move(error)] {
          self->refusals_in_flight_ = false;
          if (!error) return self->flush_refusals();  // what was counted meanwhile
          if (error->code == store::StoreErrorCode::kNotFound) return;  // the room is gone
          spdlog::warn("room {}: refusal counts not stored yet: {}", self->id_,
                       store::to_string(error->code));
          // Kept for the next write (after the room's next step).
          for (const auto& [key, count] : sent) self->unstored_refusals_[key] += count;
        });
      });
}

}  // namespace mend::rooms
