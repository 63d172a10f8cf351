// RoomServiceImpl: the caseload and a series' insights (issue 14). The store lists the rooms
// with the digest of their creator. A room loaded here answers its content-free entry on its
// strand (with who is attached here); every other room (served by another node, or by none) is
// read from the store and replayed into a throwaway RoomCore, without taking its lease or
// loading it: the listing does not depend on which node answers, and does not pull rooms to
// the node that lists them.
#include "server/rooms/room_service_impl.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

#include "server/rooms/room.h"

namespace mend::rooms {

namespace asio = boost::asio;

namespace {

// Collects the entries of `expected` rooms, then answers once, on the service's executor.
struct Gathering {
  using Done = std::function<void(std::optional<ServiceError>, std::vector<CaseloadEntry>)>;
  Gathering(asio::any_io_executor executor_, std::size_t expected, Done done_)
      : executor(std::move(executor_)), remaining(expected), done(std::move(done_)) {}

  void add(std::optional<CaseloadEntry> entry) {
    std::lock_guard lock(mutex);
    if (entry) entries.push_back(std::move(*entry));
    if (--remaining != 0) return;
    std::sort(entries.begin(), entries.end(), [](const CaseloadEntry& x, const CaseloadEntry& y) {
      return x.status.room_id() < y.status.room_id();
    });
    asio::post(executor, [done = std::move(done), entries = std::move(entries)]() mutable {
      done(std::nullopt, std::move(entries));
    });
  }

  asio::any_io_executor executor;
  std::mutex mutex;
  std::size_t remaining;
  std::vector<CaseloadEntry> entries;
  Done done;
};

ServiceError unavailable() {
  return ServiceError{"UNAVAILABLE", "The rooms could not be listed just now. Please try again.", 503};
}

// The entry of room `id` as stored (events and refusal counts; nobody attached); nullopt when
// the room is gone or cannot be read now (left out of the listing, as a room that failed to
// load was before).
void stored_caseload_entry(const std::shared_ptr<RoomContext>& context, const std::string& id,
                           std::function<void(std::optional<CaseloadEntry>)> done) {
  context->store->load(id, 0, [context, id, done = std::move(done)](store::LoadResult loaded) mutable {
    if (loaded.error || loaded.events.empty()) return done(std::nullopt);
    auto shared_events = std::make_shared<std::vector<v1::Event>>(std::move(loaded.events));
    context->store->load_refusals(
        id, [context, id, shared_events, done = std::move(done)](store::RefusalsResult read) {
          RoomCore core(id, context->config);
          RoomCore::RefusalCounts counts;
          for (const store::RefusalCount& stored : read.refusals) {
            counts[{stored.partner, stored.code}] += static_cast<std::uint32_t>(stored.count);
          }
          core.add_stored_refusals(counts);
          // The effects (due timers, withdrawals) are the owner's to carry out: dropped here.
          (void)core.load(std::move(*shared_events), 1, false, context->clock());
          done(make_caseload_entry(id, core));
        });
  });
}

}  // namespace

void RoomServiceImpl::caseload_of(
    const std::string& creator,
    std::function<void(std::optional<ServiceError>, std::vector<CaseloadEntry>)> done) {
  const std::string digest = context_->signer.keyed_digest(creator);
  context_->store->list_rooms([context = context_, digest,
                               done = std::move(done)](store::ListRoomsResult listed) mutable {
    if (listed.error) {
      return asio::post(context->executor, [done = std::move(done)] { done(unavailable(), {}); });
    }
    std::vector<std::string> ids;
    for (const store::RoomInfo& room : listed.rooms) {
      if (room.creator == digest) ids.push_back(room.room_id);
    }
    if (ids.empty()) {
      return asio::post(context->executor, [done = std::move(done)] { done(std::nullopt, {}); });
    }
    auto gathering = std::make_shared<Gathering>(context->executor, ids.size(), std::move(done));
    for (const std::string& id : ids) {
      auto add = [gathering](std::optional<CaseloadEntry> entry) { gathering->add(std::move(entry)); };
      std::shared_ptr<Room> loaded_here;
      {
        std::lock_guard lock(context->registry_mutex);
        if (auto it = context->registry.find(id); it != context->registry.end()) {
          loaded_here = it->second;
        }
      }
      if (!loaded_here) {
        stored_caseload_entry(context, id, std::move(add));
        continue;
      }
      loaded_here->caseload_entry([context, id, add](std::optional<CaseloadEntry> entry) mutable {
        if (entry) return add(std::move(entry));
        stored_caseload_entry(context, id, std::move(add));  // not ready here after all
      });
    }
  });
}

void RoomServiceImpl::list_rooms_for(const std::string& creator,
                                     std::function<void(Result<v1::ListRoomsResponse>)> done) {
  caseload_of(creator, [done = std::move(done)](std::optional<ServiceError> error,
                                                std::vector<CaseloadEntry> entries) {
    if (error) return done({std::nullopt, std::move(error)});
    v1::ListRoomsResponse response;
    for (CaseloadEntry& entry : entries) *response.add_rooms() = std::move(entry.status);
    done({std::move(response), std::nullopt});
  });
}

void RoomServiceImpl::get_series_insights(
    const std::string& creator, const std::string& series_id,
    std::function<void(Result<v1::GetSeriesInsightsResponse>)> done) {
  caseload_of(creator, [series_id, done = std::move(done)](std::optional<ServiceError> error,
                                                           std::vector<CaseloadEntry> entries) {
    if (error) return done({std::nullopt, std::move(error)});
    std::vector<CaseloadEntry*> series;
    for (CaseloadEntry& entry : entries) {
      if (entry.status.series_id() == series_id) series.push_back(&entry);
    }
    if (series.empty()) {
      return done({std::nullopt, ServiceError{"UNKNOWN_SERIES", "There is no series of that id for this key.", 404}});
    }
    std::stable_sort(series.begin(), series.end(), [](const CaseloadEntry* x, const CaseloadEntry* y) {
      return x->status.created_ms() < y->status.created_ms();
    });
    v1::GetSeriesInsightsResponse response;
    response.set_series_id(series_id);
    for (CaseloadEntry* entry : series) *response.add_conversations() = std::move(entry->insights);
    done({std::move(response), std::nullopt});
  });
}

}  // namespace mend::rooms
