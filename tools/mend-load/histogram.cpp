#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mend::load {

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
  value = std::min(value, kMaxValue);
  if (value < kExact) return static_cast<std::size_t>(value);
  // value >> shift lies in [64, 127]: 64 sub-buckets per octave.
  const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - (kSubBits + 1);
  const std::uint64_t sub = (value >> shift) - (std::uint64_t{1} << kSubBits);
  return static_cast<std::size_t>(kExact + (shift - 1) * (std::uint64_t{1} << kSubBits) + sub);
}

std::uint64_t LatencyHistogram::highest_in_bucket(std::size_t bucket) {
  if (bucket < kExact) return bucket;
  const std::size_t above = bucket - kExact;
  const unsigned shift = static_cast<unsigned>(above >> kSubBits) + 1;
  const std::uint64_t sub = (above & ((std::size_t{1} << kSubBits) - 1)) +
                            (std::uint64_t{1} << kSubBits);
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::record(std::uint64_t value) {
  value = std::min(value, kMaxValue);
  ++counts_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::clear() { *this = LatencyHistogram{}; }

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_in_bucket(i), max_);
  }
  return max_;
}

}  // namespace mend::load
