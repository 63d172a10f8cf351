#include "mend/backoff.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace mend::client {

RandomSource system_random() {
  return [] {
    std::uint64_t value = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) != 1) {
      // OpenSSL's CSPRNG failing is not recoverable; ids and jitter must never repeat silently.
      throw std::runtime_error("mend-client: RAND_bytes failed");
    }
    return value;
  };
}

namespace {

BackoffPolicy clamp(BackoffPolicy policy) {
  policy.initial = std::max(policy.initial, std::chrono::milliseconds{0});
  policy.max = std::max(policy.max, policy.initial);
  policy.multiplier = std::max(policy.multiplier, 1.0);
  policy.jitter = std::clamp(policy.jitter, 0.0, 1.0);
  return policy;
}

// Uniform in [0, 1) from 53 random bits.
double unit_interval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, RandomSource random)
    : policy_(clamp(policy)), random_(std::move(random)) {}

std::optional<std::chrono::milliseconds> Backoff::next() {
  if (policy_.max_attempts != 0 && attempts_ >= policy_.max_attempts) return std::nullopt;
  const double grown = static_cast<double>(policy_.initial.count()) *
                       std::pow(policy_.multiplier, static_cast<double>(attempts_));
  const double bounded = std::min(grown, static_cast<double>(policy_.max.count()));
  const double jittered = bounded * (1.0 - policy_.jitter * unit_interval(random_()));
  ++attempts_;
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(jittered))};
}

}  // namespace mend::client
