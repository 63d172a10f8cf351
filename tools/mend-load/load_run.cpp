#include <algorithm>
#include <chrono>
#include <csignal>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "couple.h"
#include "proc_stats.h"
#include "runs.h"

namespace mend::load {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// Couples waiting for a (new) room, served by a few worker threads (HTTP calls block).
class RoomQueue {
 public:
  void push(std::uint32_t index) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(index);
    }
    wake_.notify_one();
  }
  // Blocks for the next index; nullopt once stopped.
  std::optional<std::uint32_t> pop() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (stopped_) return std::nullopt;
    const std::uint32_t index = queue_.front();
    queue_.pop_front();
    return index;
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::uint32_t> queue_;
  bool stopped_ = false;
};

// After the window: commands already sent get their answers (a reconnecting client resends
// them) and every partner catches up with its room, so that the integrity figures judge every
// sent command and every stored event. Bounded.
constexpr std::chrono::seconds kSettleBound{15};
// The warm-up lasts at least --warmup and until every room has opened once (room creation and
// handshakes are not what a window measures), but at most this much longer.
constexpr std::chrono::seconds kOpeningBound{120};
constexpr std::chrono::milliseconds kPoll{100};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void print_progress(const LoadOptions& options, double elapsed, bool warming,
                    std::uint64_t per_second, const LoadStats& stats) {
  if (options.quiet) return;
  std::fprintf(stderr, "[%6.1f s] %s %7llu cmds/s  p99 %8.3f ms  %6lld connections  %llu errors\n",
               elapsed, warming ? "warm-up " : "measured",
               static_cast<unsigned long long>(per_second),
               static_cast<double>(stats.p99_us()) / 1000.0,
               static_cast<long long>(stats.connections()),
               static_cast<unsigned long long>(stats.errors()));
}

}  // namespace

LoadReport run_load(const LoadOptions& options, const Setup& setup) {
  net::io_context io;
  auto work = net::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (unsigned i = 0; i < options.threads; ++i) io_threads.emplace_back([&io] { io.run(); });

  client::HttpClient http({setup.http_base_url, setup.api_key, setup.ca_file,
                           std::chrono::seconds(10)});
  LoadStats stats;
  std::atomic<bool> stopping{false};
  // SIGINT or SIGTERM ends the window early; the run reports as usual.
  std::atomic<bool> interrupted{false};
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&interrupted](const boost::system::error_code& ec, int) {
    if (!ec) interrupted = true;
  });
  std::unique_ptr<Pacer> pacer;
  if (options.rate > 0) pacer = std::make_unique<Pacer>(options.rate);
  RoomQueue rooms;
  RunContext context{io,           options,   stats,           http, setup.websocket_url,
                     setup.ca_file, pacer.get(), stopping,
                     [&rooms](std::uint32_t index) { rooms.push(index); }};

  std::random_device entropy;
  std::mt19937_64 seeds(options.seed != 0 ? options.seed : (std::uint64_t{entropy()} << 32) ^ entropy());
  std::vector<std::shared_ptr<Couple>> couples;
  for (std::uint32_t i = 0; i < options.rooms; ++i) {
    couples.push_back(std::make_shared<Couple>(context, i, seeds()));
  }
  // opened[i]: couple i has opened a room once. Each index is in the queue at most once, so one
  // worker at a time writes its byte; the main thread reads only the counter.
  std::vector<std::uint8_t> opened(options.rooms, 0);
  std::atomic<std::uint32_t> rooms_opened{0};
  std::vector<std::thread> workers;
  const unsigned worker_count = std::min<unsigned>(8, options.rooms);
  for (unsigned w = 0; w < worker_count; ++w) {
    workers.emplace_back([&] {
      while (const auto index = rooms.pop()) {
        Couple& couple = *couples[*index];
        couple.close_room();
        if (stopping) break;
        if (!couple.open_room()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          if (!stopping) rooms.push(*index);
        } else if (opened[*index] == 0) {
          opened[*index] = 1;
          ++rooms_opened;
        }
      }
    });
  }
  if (pacer) pacer->start();
  for (std::uint32_t i = 0; i < options.rooms; ++i) rooms.push(i);

  const auto start = Clock::now();
  const auto warm_end = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.warmup_s));
  const auto window = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.duration_s));
  auto end = warm_end + window;
  std::optional<ProcessSample> server_start;
  Clock::time_point measured_from = warm_end;
  bool warming = options.warmup_s > 0;
  std::uint32_t rooms_open_at_window = 0;
  if (!warming) {
    server_start = setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;
    measured_from = Clock::now();
  }
  std::uint64_t last_answered = 0;
  auto next_tick = start + std::chrono::seconds(1);
  while ((warming || Clock::now() < end) && !interrupted) {
    const auto now = Clock::now();
    const auto wake = std::min({next_tick, warming && now < warm_end ? warm_end : end, now + kPoll});
    std::this_thread::sleep_until(wake);
    const auto woke = Clock::now();
    const bool all_open = rooms_opened.load() >= options.rooms;
    if (warming && woke >= warm_end && (all_open || woke >= warm_end + kOpeningBound)) {
      rooms_open_at_window = rooms_opened.load();
      end = Clock::now() + window;
      stats.reset();
      last_answered = 0;
      server_start = setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;
      measured_from = Clock::now();
      warming = false;
    }
    if (Clock::now() >= next_tick) {
      const std::uint64_t answered = stats.answered();
      print_progress(options, seconds_since(start), warming, answered - last_answered, stats);
      last_answered = answered;
      next_tick += std::chrono::seconds(1);
    }
  }
  const auto snapshot = stats.snapshot();
  const double seconds = seconds_since(measured_from);
  const auto server_end = setup.server_pid ? sample_process(*setup.server_pid) : std::nullopt;

  stopping = true;
  rooms.stop();
  for (auto& t : workers) t.join();
  if (pacer) pacer->stop();
  const auto settle_end = Clock::now() + kSettleBound;
  auto settled = [&] {
    return stats.in_flight() <= 0 &&
           std::all_of(couples.begin(), couples.end(), [](const auto& c) { return c->caught_up(); });
  };
  while (!settled() && Clock::now() < settle_end) std::this_thread::sleep_for(kPoll);
  const Integrity unanswered = stats.integrity();  // before close_room fails what is left
  for (auto& couple : couples) couple->close_room();
  signals.cancel();
  couples.clear();
  work.reset();
  io.stop();
  for (auto& t : io_threads) t.join();

  LoadReport report;
  report.server = options.server;
  for (const auto& name : options.templates) {
    report.templates += (report.templates.empty() ? "" : ",") + name;
  }
  report.rooms = options.rooms;
  report.observers = options.observers;
  report.think_ms = options.rate > 0 ? 0 : options.think_ms;
  report.target_rate = options.rate;
  report.seconds = seconds;
  report.warmup_seconds = std::chrono::duration<double>(measured_from - start).count();
  report.rooms_open_at_window = rooms_open_at_window;
  report.commands = snapshot.commands;
  report.accepted = snapshot.accepted;
  report.rejected = snapshot.rejected;
  report.rejections = snapshot.rejections;
  report.errors = snapshot.errors;
  report.conversations_completed = snapshot.completed;
  report.connections = snapshot.connections < 0 ? 0 : static_cast<std::uint64_t>(snapshot.connections);
  report.latency = summarize(snapshot.latency_us);
  report.chunks_per_turn = options.chunks_per_turn;
  report.integrity = stats.integrity();
  report.integrity.unanswered = unanswered.unanswered;
  if (server_start && server_end) {
    report.server_usage =
        usage_between(*setup.server_pid, *server_start, *server_end, snapshot.commands);
  }
  return report;
}

}  // namespace mend::load
