#include "server/store/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace mend::store {

std::int64_t LatencySnapshot::quantile_bound_us(double q) const {
  if (count == 0) return 0;
  const auto wanted = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kStoreLatencyBucketsUs.size(); ++i) {
    seen += buckets[i];
    if (seen >= wanted) return kStoreLatencyBucketsUs[i];
  }
  return -1;
}

void LatencyHistogram::observe(std::chrono::steady_clock::duration elapsed) {
  const std::int64_t us = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kStoreLatencyBucketsUs.begin(), kStoreLatencyBucketsUs.end(), us) -
      kStoreLatencyBucketsUs.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

LatencySnapshot LatencyHistogram::snapshot() const {
  LatencySnapshot out;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  out.sum_us = sum_us_.load(std::memory_order_relaxed);
  out.count = count_.load(std::memory_order_relaxed);
  return out;
}

void prometheus_histogram(std::ostringstream& out, const char* name, const char* help,
                          const LatencySnapshot& snapshot) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kStoreLatencyBucketsUs.size(); ++i) {
    cumulative += snapshot.buckets[i];
    out << name << "_bucket{le=\"" << static_cast<double>(kStoreLatencyBucketsUs[i]) / 1e6
        << "\"} " << cumulative << '\n';
  }
  cumulative += snapshot.buckets.back();
  out << name << "_bucket{le=\"+Inf\"} " << cumulative << '\n'
      << name << "_sum " << static_cast<double>(snapshot.sum_us) / 1e6 << '\n'
      << name << "_count " << snapshot.count << '\n';
}

}  // namespace mend::store
