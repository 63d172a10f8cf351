// LoadStats: the counters and the latency histogram every room driver writes into while a run
// goes on. reset() starts the measured window (after the warm-up); snapshot() reads it. The
// integrity counts (integrity()) run over the whole run and are never reset.
// Thread safety: every method is safe from any thread (atomics, and a mutex for the histogram
// and the rejection counts).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "histogram.h"
#include "report.h"

namespace mend::load {

class LoadStats {
 public:
  struct Snapshot {
    std::uint64_t commands = 0, accepted = 0, rejected = 0, errors = 0, completed = 0;
    std::int64_t connections = 0;
    std::map<std::string, std::uint64_t> rejections;
    LatencyHistogram latency_us;
  };

  void accepted() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    accepted_total_.fetch_add(1, std::memory_order_relaxed);
  }
  void rejected(const std::string& code) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    ++rejections_[code];
  }
  void error() { errors_.fetch_add(1, std::memory_order_relaxed); }
  void completed() { completed_.fetch_add(1, std::memory_order_relaxed); }
  void connection_up() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_down() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  // Integrity (whole run).
  void gap(std::uint64_t seqs) { gaps_.fetch_add(seqs, std::memory_order_relaxed); }
  void duplicate() { duplicates_.fetch_add(1, std::memory_order_relaxed); }
  void missing(std::uint64_t commands) { missing_.fetch_add(commands, std::memory_order_relaxed); }
  void reset_seen() { resets_.fetch_add(1, std::memory_order_relaxed); }
  void delivered(std::uint64_t events) { delivered_.fetch_add(events, std::memory_order_relaxed); }
  void sent() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void answered_or_failed() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  Integrity integrity() const {
    Integrity i;
    i.gaps = gaps_;
    i.duplicates = duplicates_;
    i.missing = missing_;
    i.resets = resets_;
    i.events_delivered = delivered_;
    i.commands_accepted = accepted_total_;
    const std::int64_t flying = in_flight_;
    i.unanswered = flying < 0 ? 0 : static_cast<std::uint64_t>(flying);
    return i;
  }

  void latency_us(std::uint64_t micros) {
    std::lock_guard lock(mutex_);
    latency_.record(micros);
  }

  std::uint64_t answered() const {
    return accepted_.load(std::memory_order_relaxed) + rejected_.load(std::memory_order_relaxed);
  }
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  std::uint64_t p99_us() const {
    std::lock_guard lock(mutex_);
    return latency_.percentile(99);
  }

  // Starts a new window: counts and latencies from zero (connections are a gauge and stay).
  void reset() {
    std::lock_guard lock(mutex_);
    accepted_ = rejected_ = errors_ = completed_ = 0;
    rejections_.clear();
    latency_.clear();
  }

  Snapshot snapshot() const {
    std::lock_guard lock(mutex_);
    Snapshot s;
    s.accepted = accepted_;
    s.rejected = rejected_;
    s.commands = s.accepted + s.rejected;
    s.errors = errors_;
    s.completed = completed_;
    s.connections = connections_;
    s.rejections = rejections_;
    s.latency_us = latency_;
    return s;
  }

 private:
  std::atomic<std::uint64_t> accepted_{0}, rejected_{0}, errors_{0}, completed_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> gaps_{0}, duplicates_{0}, missing_{0}, resets_{0}, delivered_{0},
      accepted_total_{0};
  std::atomic<std::int64_t> in_flight_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> rejections_;
  LatencyHistogram latency_;
};

}  // namespace mend::load
