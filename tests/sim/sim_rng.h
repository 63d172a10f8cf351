// A small seeded random source for the simulation: splitmix64, identical on every platform
// and standard library (std distributions are not), so a printed seed reproduces a run anywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mend::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0. The modulo bias is irrelevant for a simulation.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

  // Uniform in [lo, hi], lo <= hi.
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return span == 0 ? static_cast<std::int64_t>(next()) : lo + static_cast<std::int64_t>(below(span));
  }

  // True with probability `percent` / 100.
  bool percent(unsigned percent) { return below(100) < percent; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(below(items.size()))];
  }

 private:
  std::uint64_t state_;
};

// Derives an independent seed (e.g. one per sequence) from a base seed and an index.
inline std::uint64_t derive_seed(std::uint64_t base, std::uint64_t index) {
  Rng rng(base ^ (index * 0xd1b54a32d192ed03ULL));
  rng.next();
  return rng.next();
}

}  // namespace mend::sim
