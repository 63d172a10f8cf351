// The bounded queues between a durable store's callers and its writer or reader threads
// (internal to server/store), and the Prometheus rendering both stores' counters share.
// Thread safety: every method of WorkQueue may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "server/store/store.h"

namespace mend::store {

template <typename T>
class WorkQueue {
 public:
  explicit WorkQueue(std::size_t limit = 1) : limit_(limit) {}
  void set_limit(std::size_t limit) { limit_ = limit; }

  // Queues `item` (moved from only then), or says why not: closed, or `limit` items waiting.
  std::optional<StoreError> push(T& item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return StoreError{StoreErrorCode::kUnavailable, "the store is closed"};
      if (items_.size() >= limit_) {
        return StoreError{StoreErrorCode::kUnavailable, "too many pending calls"};
      }
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return std::nullopt;
  }

  // Waits for work; then the first item and, while `joins(next)` holds and `joins(first)` did,
  // the items after it, up to `max` in all. Empty once closed and drained.
  template <typename Joins>
  std::vector<T> pop_batch(std::size_t max, Joins joins) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    std::vector<T> batch;
    if (items_.empty()) return batch;
    const bool grouping = joins(items_.front());
    do {
      batch.push_back(std::move(items_.front()));
      items_.pop_front();
    } while (grouping && !items_.empty() && batch.size() < max && joins(items_.front()));
    return batch;
  }

  // One item, waiting for it; nullopt once closed and drained.
  std::optional<T> pop() {
    std::vector<T> one = pop_batch(1, [](const T&) { return false; });
    if (one.empty()) return std::nullopt;
    return std::move(one.front());
  }

  // Refuses new items; the queued ones are still handed out.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  std::size_t limit_;
  bool closed_ = false;
};

// One Prometheus series: HELP, TYPE and the value.
inline void prometheus_series(std::ostringstream& out, const char* type, const char* name,
                              const char* help, std::uint64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
}

}  // namespace mend::store
