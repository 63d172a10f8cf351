// LatencyHistogram: an HDR-like log-linear histogram of non-negative integer values (mend-load
// records microseconds). Values below 128 are exact; above, each power-of-two range is split
// into 64 equal buckets, so a reported percentile is at most ~1.6% above the true value.
// Memory is fixed (a few thousand counters) whatever the number of samples.
// Thread safety: not synchronized; guard it with a mutex or use one per thread and merge().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace mend::load {

class LatencyHistogram {
 public:
  // Values above this are recorded as this (about 19 hours in microseconds).
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << 36) - 1;

  void record(std::uint64_t value);
  void merge(const LatencyHistogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const;

  // The value at or below which `percent` (0..100) of the samples lie: the highest value of
  // the bucket holding that rank, capped at max(). 0 when empty.
  std::uint64_t percentile(double percent) const;

  // Bucket arithmetic, public for tests.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t highest_in_bucket(std::size_t bucket);

 private:
  static constexpr unsigned kSubBits = 6;                        // 64 buckets per octave
  static constexpr std::uint64_t kExact = std::uint64_t{2} << kSubBits;  // 0..127 exact
  static constexpr std::size_t kBuckets = kExact + (36 - kSubBits) * (std::size_t{1} << kSubBits);

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace mend::load
