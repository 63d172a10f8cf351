// bench-store: append throughput and p50/p99 commit latency of SqliteStore.
//
// For each durability (full, normal) and each number of concurrent rooms, every room appends
// one event at a time, as rooms do: a Shared event of ~120 bytes with its CommandResult, the
// next append issued from the completion of the previous one. Runs for --seconds per case in a
// fresh store under --dir (default: a temporary directory, removed afterwards).
//
// Usage: bench-store [--dir DIR] [--seconds N] [--rooms 1,100,1000] [--durability full|normal|both]
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "server/store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using mend::store::Durability;

struct Config {
  std::filesystem::path dir;
  double seconds = 3.0;
  std::vector<std::size_t> rooms = {1, 100, 1000};
  std::vector<Durability> durabilities = {Durability::kFull, Durability::kNormal};
};

struct Room {
  std::string id;
  std::uint64_t last_seq = 0;
  Clock::time_point issued;
  std::vector<double> latencies_ms;
};

// One closed-loop run: every room keeps exactly one append in flight until the deadline.
class Run {
 public:
  Run(mend::store::SqliteStore& store, std::size_t rooms, Clock::time_point deadline)
      : store_(store), deadline_(deadline), rooms_(rooms) {
    for (std::size_t i = 0; i < rooms; ++i) rooms_[i].id = "bench-room-" + std::to_string(i);
  }

  void start() {
    in_flight_ = rooms_.size();
    for (Room& room : rooms_) issue(room);
  }

  void wait() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return in_flight_ == 0; });
  }

  std::vector<double> latencies() const {
    std::vector<double> all;
    for (const Room& room : rooms_)
      all.insert(all.end(), room.latencies_ms.begin(), room.latencies_ms.end());
    return all;
  }
  std::uint64_t failures() const { return failures_; }

 private:
  void issue(Room& room) {
    const std::uint64_t seq = room.last_seq + 1;
    mend::v1::Event event;
    event.set_seq(seq);
    event.set_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq));
    event.mutable_actor()->set_role(seq % 2 == 0 ? mend::v1::PARTNER_B : mend::v1::PARTNER_A);
    event.mutable_shared()->set_text(std::string(120, 'w'));
    mend::store::AppendRequest request{room.id, room.last_seq, {std::move(event)}, std::nullopt};
    if (seq > 1) {
      mend::v1::CommandResult result;
      result.set_command_id("c" + std::to_string(seq));
      result.set_accepted(true);
      result.set_first_seq(seq);
      result.set_last_seq(seq);
      request.result = mend::store::RecordedResult{{room.id, "A", result.command_id()}, result};
    }
    room.issued = Clock::now();
    store_.append(std::move(request), [this, &room](std::optional<mend::store::StoreError> e) {
      completed(room, e.has_value());
    });
  }

  void completed(Room& room, bool failed) {
    const auto now = Clock::now();
    if (failed) {
      ++failures_;
    } else {
      ++room.last_seq;
      room.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(now - room.issued).count());
    }
    if (now < deadline_ && !failed) return issue(room);
    std::lock_guard lock(mutex_);
    if (--in_flight_ == 0) idle_.notify_all();
  }

  mend::store::SqliteStore& store_;
  Clock::time_point deadline_;
  std::vector<Room> rooms_;
  std::atomic<std::uint64_t> failures_{0};
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t in_flight_ = 0;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

bool run_case(const Config& config, Durability durability, std::size_t rooms) {
  const std::filesystem::path dir =
      config.dir /
      ("case-" + std::to_string(rooms) + (durability == Durability::kFull ? "-full" : "-normal"));
  std::filesystem::remove_all(dir);
  mend::store::SqliteStoreOptions options;
  options.data_dir = dir;
  options.durability = durability;
  auto opened = mend::store::SqliteStore::open(options);
  if (!opened.store) {
    std::fprintf(stderr, "bench-store: %s\n", opened.error->message.c_str());
    return false;
  }
  const auto begin = Clock::now();
  Run run(*opened.store, rooms,
          begin + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(config.seconds)));
  run.start();
  run.wait();
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  const auto stats = opened.store->stats();
  opened.store->close();
  std::vector<double> latencies = run.latencies();
  std::sort(latencies.begin(), latencies.end());
  const double commits = static_cast<double>(std::max<std::uint64_t>(stats.commits, 1));
  std::printf("%-10s %6zu %9zu %10.0f %9llu %10.1f %9.2f %9.2f %9.2f\n",
              durability == Durability::kFull ? "full" : "normal", rooms, latencies.size(),
              static_cast<double>(latencies.size()) / elapsed,
              static_cast<unsigned long long>(stats.commits),
              static_cast<double>(stats.appends_committed) / commits, percentile(latencies, 0.50),
              percentile(latencies, 0.99), latencies.empty() ? 0.0 : latencies.back());
  std::filesystem::remove_all(dir);
  return run.failures() == 0;
}

bool parse(int argc, char** argv, Config& config) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--dir") {
      config.dir = value;
    } else if (flag == "--seconds") {
      config.seconds = std::stod(value);
    } else if (flag == "--rooms") {
      config.rooms.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');)
        config.rooms.push_back(std::stoul(item));
    } else if (flag == "--durability") {
      config.durabilities.clear();
      if (value == "full" || value == "both") config.durabilities.push_back(Durability::kFull);
      if (value == "normal" || value == "both") config.durabilities.push_back(Durability::kNormal);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && config.seconds > 0 && !config.rooms.empty() &&
         !config.durabilities.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  if (!parse(argc, argv, config)) {
    std::fprintf(stderr,
                 "usage: bench-store [--dir DIR] [--seconds N] [--rooms 1,100,1000] "
                 "[--durability full|normal|both]\n");
    return 2;
  }
  std::string temp;
  if (config.dir.empty()) {
    temp = (std::filesystem::temp_directory_path() / "mend-bench-store-XXXXXX").string();
    if (mkdtemp(temp.data()) == nullptr) return 1;
    config.dir = temp;
  }
  std::printf("%-10s %6s %9s %10s %9s %10s %9s %9s %9s\n", "durability", "rooms", "appends",
              "appends/s", "commits", "per-commit", "p50_ms", "p99_ms", "max_ms");
  bool ok = true;
  for (Durability durability : config.durabilities) {
    for (std::size_t rooms : config.rooms) ok = run_case(config, durability, rooms) && ok;
  }
  if (!temp.empty()) std::filesystem::remove_all(temp);
  return ok ? 0 : 1;
}
