// The durable stores' latency histograms (internal to server/store): where an append's time
// goes between its submission and its completion's handler (queue wait, the batch's work, the
// commit, the trip back to the room) and what the checkpoints cost, for GET /metrics
// (mend_store_*_seconds) and for tests, which read them in the stores' stats().
//
// Thread safety: observe() and snapshot() may run concurrently from any thread (relaxed
// atomics: a snapshot is not one atomic cut, each bucket is exact).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <sstream>

namespace mend::store {

// The store's clock for its latencies (tests inject one); empty: steady_clock.
using LatencyClock = std::function<std::chrono::steady_clock::time_point()>;

inline std::chrono::steady_clock::time_point now_on(const LatencyClock& clock) {
  return clock ? clock() : std::chrono::steady_clock::now();
}

// Upper bounds (microseconds) of the buckets; +Inf is implied. Finer than the rooms' command
// latency around the durable p99 target (3 ms) and the fsync (~0.5 ms).
inline constexpr std::array<std::int64_t, 14> kStoreLatencyBucketsUs = {
    50, 100, 250, 500, 1'000, 2'000, 3'000, 5'000, 10'000, 20'000, 50'000, 100'000, 250'000,
    1'000'000};

struct LatencySnapshot {
  // Non-cumulative counts; the last slot counts what lay above the last bound.
  std::array<std::uint64_t, kStoreLatencyBucketsUs.size() + 1> buckets{};
  std::uint64_t sum_us = 0;
  std::uint64_t count = 0;

  // The upper bound (us) of the bucket holding the q-quantile (0 < q <= 1): at least a
  // fraction q of the observations took at most that long. 0 when empty; -1 when it lies
  // above the last bound.
  std::int64_t quantile_bound_us(double q) const;
};

class LatencyHistogram {
 public:
  // A negative duration (a clock moved back) counts as zero.
  void observe(std::chrono::steady_clock::duration elapsed);
  LatencySnapshot snapshot() const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  std::array<Counter, kStoreLatencyBucketsUs.size() + 1> buckets_{};
  Counter sum_us_{0};
  Counter count_{0};
};

// One Prometheus histogram (`name` ends in _seconds): HELP, TYPE, cumulative buckets, sum and
// count.
void prometheus_histogram(std::ostringstream& out, const char* name, const char* help,
                          const LatencySnapshot& snapshot);

}  // namespace mend::store
