// RoomServiceImpl: the caseload and a series' insights (issue 14). The store lists the rooms
// with the digest of their creator; each of the creator's rooms is loaded (or found loaded)
// and asked for its content-free entry on its strand.
#include "server/rooms/room_service_impl.h"

#include <algorithm>
#include <mutex>

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
      auto room = context->find_or_load(id);
      if (!room) {
        gathering->add(std::nullopt);
        continue;
      }
      room->caseload_entry([gathering](std::optional<CaseloadEntry> entry) { gathering->add(std::move(entry)); });
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
