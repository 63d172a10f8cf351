// Pacer: the open-loop schedule of `--rate`. Participants that have a command ready enqueue a
// "go" callback; one thread releases them in arrival order at the target rate (evenly spaced,
// checked every millisecond). When nobody is ready at a slot, up to 5 ms of slots are carried
// over; older slots are missed (the rate was not reachable with that many rooms) and counted.
// Thread safety: enqueue() and missed() are safe from any thread; start()/stop() from one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace mend::load {

class Pacer {
 public:
  explicit Pacer(double commands_per_second) : rate_(commands_per_second) {}
  ~Pacer() { stop(); }
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  void start();
  // Stops the thread; callbacks still queued are dropped (not called).
  void stop();
  // `go` runs on the pacer's thread when its slot comes; it must not block (post work).
  void enqueue(std::function<void()> go);
  std::uint64_t missed() const { return missed_.load(std::memory_order_relaxed); }
  std::size_t waiting() const;

 private:
  void run();

  double rate_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> ready_;
  bool stop_ = false;
  std::atomic<std::uint64_t> missed_{0};
  std::thread thread_;
};

}  // namespace mend::load
