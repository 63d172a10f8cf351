// Reconnect delays: exponential backoff with jitter, bounded in size and (optionally) count.
// Pure: no clock, no I/O; the random source is injected so schedules are reproducible.
//
// Thread safety: a Backoff is not synchronized; the Client uses it from its own strand only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace mend::client {

// Returns 64 uniformly random bits on each call. Must be callable from the client's thread.
using RandomSource = std::function<std::uint64_t()>;

// A RandomSource backed by OpenSSL's CSPRNG (RAND_bytes). The default for delays and
// command ids.
RandomSource system_random();

struct BackoffPolicy {
  // Delay before the first reconnect attempt after a drop, before jitter.
  std::chrono::milliseconds initial{200};
  // Upper bound of any delay (before jitter shortens it).
  std::chrono::milliseconds max{10'000};
  // Growth per consecutive failed attempt; must be >= 1.
  double multiplier = 2.0;
  // Fraction of each delay that is randomized, in [0, 1]: the delay is d * (1 - jitter * u)
  // with u uniform in [0, 1). 0 gives a fixed schedule, 1 is "full jitter".
  double jitter = 0.5;
  // Consecutive failed attempts after which the client gives up (ErrorCode::kGaveUp);
  // 0 means never give up.
  std::uint32_t max_attempts = 0;
};

// The schedule of one reconnect episode. next() is called once per attempt; reset() after a
// connection succeeded (the server sent Welcome).
class Backoff {
 public:
  // `random` must not be empty. Out-of-range policy values are clamped (multiplier >= 1,
  // jitter in [0, 1], max >= initial).
  Backoff(BackoffPolicy policy, RandomSource random);

  // The delay before the next attempt, or nullopt when max_attempts attempts were made.
  std::optional<std::chrono::milliseconds> next();

  // Starts over at `initial` with zero attempts.
  void reset() { attempts_ = 0; }

  std::uint32_t attempts() const { return attempts_; }

 private:
  BackoffPolicy policy_;
  RandomSource random_;
  std::uint32_t attempts_ = 0;
};

}  // namespace mend::client
