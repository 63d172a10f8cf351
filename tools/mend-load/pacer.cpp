#include "pacer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace mend::load {

void Pacer::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void Pacer::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    ready_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Pacer::enqueue(std::function<void()> go) {
  std::lock_guard lock(mutex_);
  if (!stop_) ready_.push_back(std::move(go));
}

std::size_t Pacer::waiting() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

void Pacer::run() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const double carry_cap = std::max(1.0, rate_ * 0.005);  // 5 ms of slots
  double released = 0;  // slots used or given up since start
  std::vector<std::function<void()>> batch;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(1), [this] { return stop_; });
    if (stop_) break;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    double due = elapsed * rate_ - released;
    const auto take = static_cast<std::size_t>(
        std::min(static_cast<double>(ready_.size()), std::max(0.0, std::floor(due))));
    for (std::size_t i = 0; i < take; ++i) {
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    released += static_cast<double>(take);
    due -= static_cast<double>(take);
    if (due > carry_cap) {  // nobody was ready for these slots
      const double lost = std::floor(due - carry_cap);
      released += lost;
      missed_.fetch_add(static_cast<std::uint64_t>(lost), std::memory_order_relaxed);
    }
    lock.unlock();
    for (auto& go : batch) go();
    batch.clear();
    lock.lock();
  }
}

}  // namespace mend::load
