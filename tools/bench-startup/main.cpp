// bench-startup: how long mendd takes to start on a large store and serve the first join.
//
// 1. Fills a data directory through the store API (SqliteStore): --rooms rooms with
//    --events events in all (RoomCreated, then partners' Signaled events made by the engine),
//    and the token secret mendd will use. Skipped with --reuse when the directory is filled.
// 2. Starts mendd on it (--listen 127.0.0.1:0) and measures, from the spawn: the "listening"
//    log line, the first Welcome of an SDK client joining one of the rooms (as partner A), the
//    end of that client's replay, and the end of mendd's background timer sweep; and prints
//    mendd's "event store opened in N ms (which check)" line. A store that mendd (or the fill)
//    closed cleanly is sealed (mend.db.seal): the next start hashes the file instead of
//    running quick_check. Delete mend.db.seal to measure a start with the whole quick_check
//    (as after a crash).
// 3. Stops mendd with SIGTERM.
//
// Usage: bench-startup --mendd PATH [--dir DIR] [--events 1000000] [--rooms 1000]
//                      [--templates DIR] [--reuse] [--keep]   (see --help)
#include "mend/proto.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "command_line.h"
#include "scratch_dir.h"
#include "mend/client.h"
#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "server/rooms/tokens.h"
#include "server/store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace po = boost::program_options;

struct Config {
  fs::path mendd;
  fs::path dir;
  fs::path templates = fs::path(MEND_SOURCE_DIR) / "server/templates";
  std::uint64_t events = 1'000'000;
  std::size_t rooms = 1000;
  bool reuse = false;
  bool keep = false;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The events of one room: RoomCreated, then Signaled events alternating A and B.
std::vector<mend::v1::Event> room_events(const mend::v1::Template& tmpl, std::uint64_t count,
                                         mend::engine::TimeMs now) {
  mend::engine::RoomSetup setup;
  setup.topic = "Weekends";
  setup.partner_a_name = "Alex";
  setup.partner_b_name = "Sam";
  std::vector<mend::v1::Event> events;
  mend::engine::RoomState state;
  events.push_back(mend::engine::create_room(tmpl, setup, now));
  mend::engine::evolve(state, events.back());
  while (events.size() < count) {
    mend::v1::Command command;
    command.set_command_id("c" + std::to_string(events.size()));
    command.mutable_signal()->set_kind(
        static_cast<mend::v1::SignalKind>(1 + events.size() % 5));
    mend::v1::Actor actor;
    actor.set_role(events.size() % 2 ? mend::v1::PARTNER_A : mend::v1::PARTNER_B);
    auto decision = mend::engine::decide(state, command, actor, now);
    if (!decision.accepted()) {
      std::fprintf(stderr, "bench-startup: the engine refused a signal: %s\n",
                   decision.rejection->message().c_str());
      std::exit(1);
    }
    for (auto& event : decision.events) {
      mend::engine::evolve(state, event);
      events.push_back(std::move(event));
    }
  }
  return events;
}

// Fills `config.dir`; returns the id of the first room.
std::optional<std::string> fill(const Config& config, const mend::v1::Template& tmpl) {
  mend::store::SqliteStoreOptions options;
  options.data_dir = config.dir;
  options.durability = mend::store::Durability::kNormal;  // filling, not measuring
  auto opened = mend::store::SqliteStore::open(options);
  if (!opened.store) {
    std::fprintf(stderr, "bench-startup: %s\n", opened.error->message.c_str());
    return std::nullopt;
  }
  auto& store = *opened.store;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::uint64_t per_room = std::max<std::uint64_t>(1, config.events / config.rooms);
  constexpr std::size_t kChunk = 500;  // events per append
  const auto begin = Clock::now();
  std::string first;
  std::uint64_t written = 0;
  for (std::size_t r = 0; r < config.rooms; ++r) {
    const std::string id = mend::rooms::new_room_id();
    if (first.empty()) first = id;
    const auto events = room_events(tmpl, per_room, now);
    std::vector<std::future<bool>> appends;
    for (std::size_t at = 0; at < events.size(); at += kChunk) {
      mend::store::AppendRequest request;
      request.room_id = id;
      request.expected_last_seq = at;
      request.events.assign(events.begin() + static_cast<std::ptrdiff_t>(at),
                            events.begin() + static_cast<std::ptrdiff_t>(
                                                 std::min(events.size(), at + kChunk)));
      auto promise = std::make_shared<std::promise<bool>>();
      appends.push_back(promise->get_future());
      store.append(std::move(request), [promise](std::optional<mend::store::StoreError> e) {
        if (e) std::fprintf(stderr, "bench-startup: append: %s\n", e->message.c_str());
        promise->set_value(!e);
      });
    }
    for (auto& done : appends) {
      if (!done.get()) return std::nullopt;
    }
    written += events.size();
  }
  store.close();
  std::printf("filled %s: %zu rooms, %llu events in %.1f s\n", config.dir.c_str(), config.rooms,
              static_cast<unsigned long long>(written), seconds_since(begin));
  return first;
}

// The first room of a filled directory (bench-startup writes its id next to the database).
fs::path first_room_file(const Config& config) { return config.dir / "bench-first-room"; }

struct Mendd {
  pid_t pid = -1;
  int out = -1;
};

Mendd spawn(const Config& config) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::exit(1);
  Mendd m;
  m.pid = ::fork();
  if (m.pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    const std::string mendd = config.mendd.string();
    const std::string dir = config.dir.string();
    const std::string templates = config.templates.string();
    ::execl(mendd.c_str(), mendd.c_str(), "--listen", "127.0.0.1:0", "--data-dir", dir.c_str(),
            "--templates-dir", templates.c_str(), "--log-level", "info", nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  m.out = fds[0];
  return m;
}

// Reads mendd's output, noting when the port and the sweep's end appear.
class OutputWatch {
 public:
  OutputWatch(int fd, Clock::time_point start) : fd_(fd), start_(start) {
    thread_ = std::thread([this] { read(); });
  }
  ~OutputWatch() { thread_.join(); }

  int wait_port() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(120), [&] { return port_ != 0 || eof_; });
    return port_;
  }
  std::optional<double> wait_sweep(std::chrono::seconds bound) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, bound, [&] { return sweep_s_.has_value() || eof_; });
    return sweep_s_;
  }
  double listen_s() {
    std::lock_guard lock(mutex_);
    return listen_s_;
  }
  std::string output() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  void read() {
    static const std::regex kPort(R"(listening on 127\.0\.0\.1:([1-9][0-9]*))");
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        eof_ = true;
        changed_.notify_all();
        return;
      }
      text_.append(chunk, static_cast<std::size_t>(n));
      std::smatch match;
      if (port_ == 0 && std::regex_search(text_, match, kPort)) {
        port_ = std::stoi(match[1].str());
        listen_s_ = seconds_since(start_);
      }
      if (!sweep_s_ && text_.find("timer sweep:") != std::string::npos) {
        sweep_s_ = seconds_since(start_);
      }
      changed_.notify_all();
    }
  }

  int fd_;
  Clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;
  int port_ = 0;
  double listen_s_ = 0;
  std::optional<double> sweep_s_;
  bool eof_ = false;
  std::thread thread_;
};

po::options_description describe() {
  po::options_description d(
      "bench-startup: how long mendd takes to start on a large store and serve the first "
      "join.\n\nusage: bench-startup --mendd PATH [options]\n\noptions");
  const Config defaults;
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("mendd", po::value<std::string>()->value_name("PATH")->required(), "the mendd binary")
    ("dir", po::value<std::string>()->value_name("DIR"),
     "data directory to fill and start on (default: a temporary one, removed afterwards)")
    ("events", po::value<std::uint64_t>()->value_name("N")->default_value(defaults.events),
     "events in the store, over all rooms")
    ("rooms", po::value<std::size_t>()->value_name("N")->default_value(defaults.rooms),
     "rooms in the store")
    ("templates", po::value<std::string>()->value_name("DIR")
        ->default_value(defaults.templates.string(), "<source>/server/templates"),
     "conversation templates")
    ("reuse", po::bool_switch(), "start on --dir as filled by an earlier run (if it was)")
    ("keep", po::bool_switch(), "keep the temporary data directory");
  // clang-format on
  return d;
}

// The configuration, or the exit code after --help (0) or a usage error (2, said on stderr).
std::variant<Config, int> parse(int argc, char** argv) {
  auto parsed = mend::tools::parse_command_line("bench-startup", argc, argv, describe());
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  auto usage_error = [](const std::string& reason) {
    return mend::tools::usage_error("bench-startup", reason);
  };
  Config config;
  config.mendd = vm["mendd"].as<std::string>();
  if (vm.count("dir")) config.dir = vm["dir"].as<std::string>();
  config.templates = vm["templates"].as<std::string>();
  config.events = vm["events"].as<std::uint64_t>();
  config.rooms = vm["rooms"].as<std::size_t>();
  config.reuse = vm["reuse"].as<bool>();
  config.keep = vm["keep"].as<bool>();
  if (config.rooms == 0) return usage_error("--rooms must be at least 1");
  if (config.events < config.rooms) return usage_error("--events must be at least --rooms");
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  Config config = std::get<Config>(std::move(parsed));
  const auto scratch = mend::tools::ScratchDir::make(config.dir, "mend-bench-startup", config.keep);
  if (!scratch) return 1;
  config.dir = scratch->path();
  auto catalog = mend::engine::TemplateCatalog::load(config.templates);
  if (!catalog.catalog) {
    std::fprintf(stderr, "bench-startup: cannot load templates from %s\n",
                 config.templates.c_str());
    return 1;
  }
  const mend::v1::Template* tmpl = catalog.catalog->find("speaker-listener");
  if (tmpl == nullptr) return 1;

  std::string room_id;
  if (config.reuse && fs::exists(first_room_file(config))) {
    std::FILE* f = std::fopen(first_room_file(config).c_str(), "r");
    char buffer[64] = {};
    if (f == nullptr || std::fgets(buffer, sizeof buffer, f) == nullptr) return 1;
    std::fclose(f);
    room_id = buffer;
  } else {
    auto first = fill(config, *tmpl);
    if (!first) return 1;
    room_id = *first;
    std::FILE* f = std::fopen(first_room_file(config).c_str(), "w");
    if (f == nullptr) return 1;
    std::fputs(room_id.c_str(), f);
    std::fclose(f);
  }
  auto signer = mend::rooms::TokenSigner::from_file(config.dir / mend::rooms::kTokenSecretFile);
  if (!std::holds_alternative<mend::rooms::TokenSigner>(signer)) return 1;
  mend::v1::Actor partner_a;
  partner_a.set_role(mend::v1::PARTNER_A);
  const std::string token =
      std::get<mend::rooms::TokenSigner>(signer).sign({room_id, partner_a, 4'000'000'000'000});

  // Page cache: the database was just written; a cold start would read it from disk first.
  const auto start = Clock::now();
  Mendd mendd = spawn(config);
  int exit_code = 0;
  {
    OutputWatch watch(mendd.out, start);
    const int port = watch.wait_port();
    if (port == 0) {
      std::fprintf(stderr, "bench-startup: mendd did not start:\n%s\n", watch.output().c_str());
      exit_code = 1;
    } else {
      std::promise<double> welcomed;
      std::promise<double> replayed;
      bool welcome_seen = false;
      bool replay_seen = false;
      std::uint64_t events = 0;
      mend::client::ClientOptions options;
      options.url = "ws://127.0.0.1:" + std::to_string(port) + "/v1/connect";
      options.token = token;
      options.client_name = "bench-startup";
      mend::client::ClientHandlers handlers;
      handlers.on_welcome = [&](const mend::v1::Welcome&) {
        if (!welcome_seen) welcomed.set_value(seconds_since(start));
        welcome_seen = true;
      };
      handlers.on_event = [&](const mend::v1::Event&) { ++events; };
      handlers.on_replay_done = [&](std::uint64_t) {
        if (!replay_seen) replayed.set_value(seconds_since(start));
        replay_seen = true;
      };
      mend::client::Client client(std::move(options), std::move(handlers));
      client.start();
      auto welcome_future = welcomed.get_future();
      auto replay_future = replayed.get_future();
      if (welcome_future.wait_for(std::chrono::seconds(120)) != std::future_status::ready ||
          replay_future.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
        std::fprintf(stderr, "bench-startup: no Welcome within 120 s\n");
        exit_code = 1;
      } else {
        const double welcome_s = welcome_future.get();
        const double replay_s = replay_future.get();
        client.stop();
        const auto sweep_s = watch.wait_sweep(std::chrono::seconds(600));
        // mendd's own account of opening the store (how long, and which integrity check ran).
        const std::string output = watch.output();
        const auto opened = output.find("event store opened in");
        if (opened != std::string::npos) {
          const auto end = output.find('\n', opened);
          std::printf("mendd: %s\n", output.substr(opened, end - opened).c_str());
        }
        std::printf("mendd start -> listening:            %8.3f s\n", watch.listen_s());
        std::printf("mendd start -> first Welcome:        %8.3f s\n", welcome_s);
        std::printf("mendd start -> its replay done:      %8.3f s (%llu events)\n", replay_s,
                    static_cast<unsigned long long>(events));
        if (sweep_s) {
          std::printf("mendd start -> timer sweep finished: %8.3f s (every stored room read)\n",
                      *sweep_s);
        }
      }
    }
    ::kill(mendd.pid, SIGTERM);
    int status = 0;
    ::waitpid(mendd.pid, &status, 0);
  }
  ::close(mendd.out);
  return exit_code;
}
