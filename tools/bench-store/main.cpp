// bench-store: append throughput and p50/p99 commit latency of SqliteStore.
//
// For each durability (full, normal) and each number of concurrent rooms, every room appends
// one event at a time, as rooms do: a Shared event of ~120 bytes with its CommandResult, the
// next append issued from the completion of the previous one. Runs for --seconds per case in a
// fresh store under --dir (default: a temporary directory, removed afterwards).
//
// Usage: bench-store [--dir DIR] [--seconds N] [--rooms 1,100,1000] [--durability full|normal|both]
// (see --help)

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "command_line.h"
#include "scratch_dir.h"
#include "server/store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using mend::store::Durability;
namespace po = boost::program_options;

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

// "1,100,1000" -> {1, 100, 1000}; nullopt when an item is not a positive whole number.
std::optional<std::vector<std::size_t>> room_counts(const std::string& list) {
  std::vector<std::size_t> counts;
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    std::size_t count = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), count);
    if (ec != std::errc() || end != item.data() + item.size() || count == 0) return std::nullopt;
    counts.push_back(count);
  }
  if (counts.empty()) return std::nullopt;
  return counts;
}

po::options_description describe() {
  po::options_description d(
      "bench-store: append throughput and p50/p99 commit latency of SqliteStore.\n\n"
      "usage: bench-store [options]\n\noptions");
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("dir", po::value<std::string>()->value_name("DIR"),
     "where the stores go (default: a temporary directory, removed afterwards)")
    ("seconds", po::value<double>()->value_name("N")->default_value(3.0, "3"),
     "seconds per case")
    ("rooms", po::value<std::string>()->value_name("LIST")->default_value("1,100,1000"),
     "comma-separated counts of concurrent rooms, one case each")
    ("durability", po::value<std::string>()->value_name("MODE")->default_value("both"),
     "full | normal | both");
  // clang-format on
  return d;
}

// The configuration, or the exit code after --help (0) or a usage error (2, said on stderr).
std::variant<Config, int> parse(int argc, char** argv) {
  auto parsed = mend::tools::parse_command_line("bench-store", argc, argv, describe());
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  auto usage_error = [](const std::string& reason) {
    return mend::tools::usage_error("bench-store", reason);
  };
  Config config;
  if (vm.count("dir")) config.dir = vm["dir"].as<std::string>();
  config.seconds = vm["seconds"].as<double>();
  if (!(config.seconds > 0)) return usage_error("--seconds must be more than 0");
  const auto rooms = room_counts(vm["rooms"].as<std::string>());
  if (!rooms) return usage_error("--rooms wants positive counts separated by commas");
  config.rooms = *rooms;
  const std::string& durability = vm["durability"].as<std::string>();
  config.durabilities.clear();
  if (durability == "full" || durability == "both") config.durabilities.push_back(Durability::kFull);
  if (durability == "normal" || durability == "both") {
    config.durabilities.push_back(Durability::kNormal);
  }
  if (config.durabilities.empty()) return usage_error("--durability is full, normal or both");
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  Config config = std::get<Config>(std::move(parsed));
  const auto scratch = mend::tools::ScratchDir::make(config.dir, "mend-bench-store", false);
  if (!scratch) return 1;
  config.dir = scratch->path();
  std::printf("%-10s %6s %9s %10s %9s %10s %9s %9s %9s\n", "durability", "rooms", "appends",
              "appends/s", "commits", "per-commit", "p50_ms", "p99_ms", "max_ms");
  bool ok = true;
  for (Durability durability : config.durabilities) {
    for (std::size_t rooms : config.rooms) ok = run_case(config, durability, rooms) && ok;
  }
  return ok ? 0 : 1;
}
