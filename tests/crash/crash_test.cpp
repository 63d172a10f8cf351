// Crash test (DESIGN.md section 6): several conversations run through the SDK against a real
// mendd (sqlite store, durability full) that is killed with SIGKILL at random moments and
// started again on the same data directory. After each kill the store (a copy of the files as
// the crash left them) and, after each restart, the clients are checked:
// - every command answered accepted is stored exactly once with its original seq (its recorded
//   CommandResult is the one the client got, and the event at that seq is its Signaled);
// - seqs are gap-free and never reused (what was stored before stays byte for byte);
// - every client resumes (Welcome.recovered, never a reset) and has received every event
//   exactly once, in order;
// - a command sent again with the same command_id (the SDK's retries after a reconnect, and
//   explicit re-sends here) gets its original result and is applied once.
// The seed is printed; MEND_CRASH_SEED=<n> replays one, MEND_CRASH_KILLS=<n> sets the kills.
#include "mend/proto.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mend/client.h"
#include "mend/http_client.h"
#include "server/store/sqlite_store.h"
#include "tests/crash/mendd_runner.h"

namespace mend::testing {
namespace {

namespace mc = mend::client;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr int kDefaultKills = 20;
constexpr int kMaxLoadMs = 400;
#else
constexpr int kDefaultKills = 25;
constexpr int kMaxLoadMs = 300;
#endif
constexpr int kRooms = 3;
constexpr std::size_t kMaxPendingPerPlayer = 4;
constexpr auto kQuiesceBound = 60s;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::uint64_t env_seed() {
  const char* value = std::getenv("MEND_CRASH_SEED");
  if (value != nullptr && *value != '\0') return std::strtoull(value, nullptr, 10);
  return std::random_device{}();
}

fs::path make_temp_dir() {
  char pattern[] = "/tmp/mend-crash-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

struct TempDir {
  fs::path path = make_temp_dir();
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// What one command's answer said.
struct Outcome {
  v1::SignalKind kind = v1::SIGNAL_KIND_UNSPECIFIED;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
};

struct Wakeup {
  std::mutex mutex;
  std::condition_variable changed;
  void notify() {
    { std::lock_guard lock(mutex); }
    changed.notify_all();
  }
  void wait_for(std::chrono::milliseconds bound) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, bound);
  }
};

v1::Command signal_command(const std::string& id, v1::SignalKind kind) {
  v1::Command command;
  command.set_command_id(id);
  command.mutable_signal()->set_kind(kind);
  return command;
}

// One partner of one room: an SDK client that sends signals with its own command ids and
// records every event and answer.
class Player {
 public:
  Player(Wakeup& wakeup, int room, std::string participant, const std::string& url,
         std::string token)
      : wakeup_(wakeup), room_(room), participant_(std::move(participant)) {
    mc::ClientOptions options;
    options.url = url;
    options.token = std::move(token);
    options.client_name = "mend-crash-test";
    options.backoff = {5ms, 50ms, 2.0, 0.5, 0};
    options.connect_timeout = 5s;
    mc::ClientHandlers handlers;
    handlers.on_event = [this](const v1::Event& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
    };
    handlers.on_reset = [this](const v1::RoomView&) {
      std::lock_guard lock(mutex_);
      ++resets_;
    };
    handlers.on_welcome = [this](const v1::Welcome& welcome) {
      std::lock_guard lock(mutex_);
      ++welcomes_;
      if (!welcome.recovered() && welcomes_ > 1) ++resets_;
    };
    client_.emplace(std::move(options), std::move(handlers));
  }

  void start() { REQUIRE(client_->start().ok()); }
  void stop() { client_->stop(); }

  const std::string& participant() const { return participant_; }
  int room() const { return room_; }

  // Sends the next signal when fewer than kMaxPendingPerPlayer wait for an answer.
  void send_next() {
    std::string id;
    v1::SignalKind kind;
    {
      std::lock_guard lock(mutex_);
      if (pending_.size() >= kMaxPendingPerPlayer) return;
      const int n = next_++;
      id = "r" + std::to_string(room_) + "-" + participant_ + "-" + std::to_string(n);
      kind = static_cast<v1::SignalKind>(1 + n % 5);
      pending_.emplace(id, kind);
    }
    client_->send(signal_command(id, kind), [this, id, kind](mc::CommandOutcome outcome) {
      {
        std::lock_guard lock(mutex_);
        pending_.erase(id);
        if (!outcome.error.ok()) {
          if (outcome.error.code != mc::ErrorCode::kStopped) sdk_errors_.push_back(id);
        } else if (outcome.result.accepted()) {
          accepted_[id] = Outcome{kind, outcome.result.first_seq(), outcome.result.last_seq()};
        } else {
          ++rejected_;
        }
      }
      wakeup_.notify();
    });
  }

  // Sends `id` again (same id, same body) and waits for the answer.
  mc::CommandOutcome resend(const std::string& id, v1::SignalKind kind) {
    auto future = client_->send(signal_command(id, kind));
    if (future.wait_for(30s) != std::future_status::ready) {
      mc::CommandOutcome timed_out;
      timed_out.error.code = mc::ErrorCode::kTimeout;
      return timed_out;
    }
    return future.get();
  }

  struct Snapshot {
    std::map<std::string, Outcome> accepted;
    std::map<std::string, v1::SignalKind> pending;
    std::vector<v1::Event> events;
    std::vector<std::string> sdk_errors;
    int resets = 0;
    int welcomes = 0;
    std::uint64_t rejected = 0;
  };
  Snapshot snapshot() {
    std::lock_guard lock(mutex_);
    return Snapshot{accepted_, pending_, events_, sdk_errors_, resets_, welcomes_, rejected_};
  }
  bool idle() {
    std::lock_guard lock(mutex_);
    return pending_.empty();
  }
  std::uint64_t delivered() { return client_->last_delivered_seq(); }
  bool online() { return client_->state() == mc::ConnectionState::kOnline; }

 private:
  Wakeup& wakeup_;
  const int room_;
  const std::string participant_;
  std::mutex mutex_;
  std::vector<v1::Event> events_;
  std::map<std::string, Outcome> accepted_;
  std::map<std::string, v1::SignalKind> pending_;
  std::vector<std::string> sdk_errors_;
  int resets_ = 0;
  int welcomes_ = 0;
  std::uint64_t rejected_ = 0;
  int next_ = 0;
  std::optional<mc::Client> client_;
};

v1::Actor actor_of(const std::string& participant) {
  v1::Actor actor;
  actor.set_role(participant == "A" ? v1::PARTNER_A : v1::PARTNER_B);
  return actor;
}

bool is_signal_of(const v1::Event& event, const std::string& participant, v1::SignalKind kind) {
  return event.has_signaled() && event.signaled().kind() == kind &&
         event.actor().role() == actor_of(participant).role();
}

std::size_t signals_of(const std::vector<v1::Event>& events, const std::string& participant) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
    return e.has_signaled() && e.actor().role() == actor_of(participant).role();
  }));
}

// Calls a store operation and waits for its completion.
template <typename R, typename F>
R wait_store(F&& call) {
  std::promise<R> promise;
  auto future = promise.get_future();
  call([&promise](R result) { promise.set_value(std::move(result)); });
  return future.get();
}

class CrashRun {
 public:
  explicit CrashRun(std::uint64_t seed) : rng_(seed) {}

  void run(int kills) {
    server_.emplace(std::vector<std::string>{
        "--data-dir", data_.path.string(), "--templates-dir",
        std::string(MEND_SOURCE_DIR) + "/server/templates", "--store", "sqlite",
        "--durability", "full", "--threads", "2", "--commands-per-second", "100000",
        "--command-burst", "100000", "--log-level", "info", "--log-format", "text"});
    server_->start(0);
    port_ = server_->port();
    create_rooms();
    for (auto& player : players_) player->start();

    for (int kill = 1; kill <= kills; ++kill) {
      load_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, kMaxLoadMs)(rng_)));
      server_->kill9();
      check_store_after_kill(kill);
      server_->start(port_);
      resend_some_accepted(kill);
      quiesce(kill);
      check_clients(kill);
    }
    load_for(100ms);
    quiesce(kills + 1);
    check_clients(kills + 1);
    for (auto& player : players_) player->stop();
    const int exit_code = server_->terminate();
    CHECK_MESSAGE(exit_code == 0, "mendd exit code " << exit_code << "; log tail:\n"
                                                      << server_->log());
    check_store(data_.path, kills + 1, /*pending_allowed=*/false);
    std::cout << "crash test: " << kills << " kills, " << total_accepted() << " commands accepted, "
              << unanswered_at_kill_ << " unanswered when killed (then answered after the "
              << "restart), " << resent_ << " re-sent explicitly with the same id\n";
  }

 private:
  struct Room {
    std::string id;
    Player* a = nullptr;
    Player* b = nullptr;
    std::vector<std::string> stored;  // serialized events verified in the store (seq i+1)
  };

  void create_rooms() {
    mc::HttpClient http({"http://127.0.0.1:" + std::to_string(port_), {}, {}, 10s});
    const std::string url = "ws://127.0.0.1:" + std::to_string(port_) + "/v1/connect";
    for (int r = 0; r < kRooms; ++r) {
      v1::CreateRoomRequest request;
      request.set_template_("speaker-listener");
      request.set_partner_a_name("Alex");
      request.set_partner_b_name("Sam");
      auto created = http.create_room(request);
      REQUIRE(created.ok());
      Room room;
      room.id = created.value->room_id();
      for (const v1::Invite& invite : created.value->invites()) {
        const bool is_a = invite.participant().role() == v1::PARTNER_A;
        auto player = std::make_unique<Player>(wakeup_, r, is_a ? "A" : "B", url, invite.token());
        (is_a ? room.a : room.b) = player.get();
        players_.push_back(std::move(player));
      }
      REQUIRE(room.a != nullptr);
      REQUIRE(room.b != nullptr);
      rooms_.push_back(std::move(room));
    }
  }

  void load_for(std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
      for (auto& player : players_) player->send_next();
      wakeup_.wait_for(2ms);  // pacing: woken early by any answer
    }
  }

  // Until every command was answered and every client has every event of its room.
  void quiesce(int kill) {
    const auto deadline = std::chrono::steady_clock::now() + kQuiesceBound;
    auto settled = [&] {
      for (const Room& room : rooms_) {
        if (!room.a->idle() || !room.b->idle()) return false;
        const std::uint64_t last = expected_last_seq(room);
        if (room.a->delivered() < last || room.b->delivered() < last) return false;
      }
      return true;
    };
    while (!settled()) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL("after kill " << kill << " the clients did not settle within "
                           << kQuiesceBound.count() << " s; server log tail:\n"
                           << server_->log());
      }
      wakeup_.wait_for(20ms);
    }
  }

  // The highest seq any answer named (at least 1: RoomCreated).
  static std::uint64_t expected_last_seq(const Room& room) {
    std::uint64_t last = 1;
    for (Player* player : {room.a, room.b}) {
      for (const auto& [id, outcome] : player->snapshot().accepted) {
        last = std::max(last, outcome.last_seq);
      }
    }
    return last;
  }

  void check_clients(int kill) {
    INFO("after kill " << kill << " (clients)");
    for (const Room& room : rooms_) {
      auto a = room.a->snapshot();
      auto b = room.b->snapshot();
      for (auto* s : {&a, &b}) {
        CHECK(s->sdk_errors.empty());
        CHECK(s->resets == 0);  // every resume recovered: nothing acknowledged was lost
        // Every event exactly once, in order, without gaps.
        for (std::size_t i = 0; i < s->events.size(); ++i) {
          REQUIRE(s->events[i].seq() == i + 1);
        }
      }
      REQUIRE(a.events.size() == b.events.size());
      for (std::size_t i = 0; i < a.events.size(); ++i) {
        REQUIRE(a.events[i].SerializeAsString() == b.events[i].SerializeAsString());
      }
      for (auto [player, s] : {std::pair{room.a, &a}, std::pair{room.b, &b}}) {
        for (const auto& [id, outcome] : s->accepted) {
          INFO("command " << id);
          REQUIRE(outcome.first_seq == outcome.last_seq);
          REQUIRE(outcome.first_seq >= 1);
          REQUIRE(outcome.first_seq <= a.events.size());
          CHECK(is_signal_of(a.events[outcome.first_seq - 1], player->participant(),
                             outcome.kind));
        }
        // Applied once: one Signaled event per accepted command, none for anything else.
        CHECK(signals_of(a.events, player->participant()) == s->accepted.size());
      }
    }
  }

  // Opens a copy of the files as the crash left them (mendd recovers the original itself).
  void check_store_after_kill(int kill) {
    TempDir copy;
    for (const auto& entry : fs::directory_iterator(data_.path)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("mend.db", 0) == 0 || name == "master.key") {
        fs::copy_file(entry.path(), copy.path / name);
      }
    }
    fs::permissions(copy.path / "master.key", fs::perms::owner_read | fs::perms::owner_write);
    for (auto& player : players_) unanswered_at_kill_ += player->snapshot().pending.size();
    check_store(copy.path, kill, /*pending_allowed=*/true);
  }

  void check_store(const fs::path& dir, int kill, bool pending_allowed) {
    INFO("after kill " << kill << " (store)");
    store::SqliteStoreOptions options;
    options.data_dir = dir;
    auto opened = store::SqliteStore::open(options);
    REQUIRE_MESSAGE(opened.store, (opened.error ? opened.error->message : std::string()));
    auto& db = *opened.store;
    for (Room& room : rooms_) {
      auto loaded = wait_store<store::LoadResult>(
          [&](auto done) { db.load(room.id, 0, std::move(done)); });
      REQUIRE_FALSE(loaded.error);
      const auto& events = loaded.events;
      for (std::size_t i = 0; i < events.size(); ++i) REQUIRE(events[i].seq() == i + 1);
      // Never rewritten, never reused: what was verified before is still there, unchanged.
      REQUIRE(events.size() >= room.stored.size());
      for (std::size_t i = 0; i < room.stored.size(); ++i) {
        REQUIRE(events[i].SerializeAsString() == room.stored[i]);
      }
      room.stored.clear();
      for (const auto& event : events) room.stored.push_back(event.SerializeAsString());

      for (Player* player : {room.a, room.b}) {
        const auto s = player->snapshot();
        for (const auto& [id, outcome] : s.accepted) {
          INFO("command " << id);
          REQUIRE(outcome.last_seq <= events.size());
          CHECK(is_signal_of(events[outcome.first_seq - 1], player->participant(), outcome.kind));
          auto found = wait_store<store::FindResult>([&](auto done) {
            db.find_result(store::CommandKey{room.id, player->participant(), id},
                           std::move(done));
          });
          REQUIRE_FALSE(found.error);
          REQUIRE(found.result);
          CHECK(found.result->accepted());
          CHECK(found.result->first_seq() == outcome.first_seq);
          CHECK(found.result->last_seq() == outcome.last_seq);
        }
        // Exactly once: the answered ones, plus at most the unanswered (committed or not).
        const std::size_t stored_signals = signals_of(events, player->participant());
        CHECK(stored_signals >= s.accepted.size());
        CHECK(stored_signals <= s.accepted.size() + (pending_allowed ? s.pending.size() : 0));
      }
    }
    db.close();
  }

  // Sends two accepted commands again with their ids: the original answer, nothing applied.
  void resend_some_accepted(int kill) {
    for (int i = 0; i < 2; ++i) {
      Player& player = *players_[std::uniform_int_distribution<std::size_t>(
          0, players_.size() - 1)(rng_)];
      const auto accepted = player.snapshot().accepted;
      if (accepted.empty()) continue;
      auto it = accepted.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, accepted.size() - 1)(rng_));
      INFO("after kill " << kill << ": re-sending " << it->first);
      const mc::CommandOutcome outcome = player.resend(it->first, it->second.kind);
      REQUIRE(outcome.error.ok());
      CHECK(outcome.result.accepted());
      CHECK(outcome.result.first_seq() == it->second.first_seq);
      CHECK(outcome.result.last_seq() == it->second.last_seq);
      ++resent_;
    }
  }

  std::size_t total_accepted() {
    std::size_t total = 0;
    for (auto& player : players_) total += player->snapshot().accepted.size();
    return total;
  }

  std::mt19937_64 rng_;
  TempDir data_;
  std::optional<MenddRunner> server_;
  int port_ = 0;
  Wakeup wakeup_;
  std::vector<std::unique_ptr<Player>> players_;
  std::vector<Room> rooms_;
  std::size_t resent_ = 0;
  std::size_t unanswered_at_kill_ = 0;
};

TEST_CASE("after SIGKILL at random moments accepted commands survive once and clients resume "
          "without gaps or duplicates") {
  const std::uint64_t seed = env_seed();
  const int kills = std::max(1, env_int("MEND_CRASH_KILLS", kDefaultKills));
  std::cout << "crash test: seed " << seed << " (MEND_CRASH_SEED=" << seed << " replays it), "
            << kills << " kills\n";
  CrashRun run(seed);
  run.run(kills);
}

// A data directory with one room in it, made by a real mendd that stopped cleanly.
void make_data_dir(const fs::path& dir) {
  MenddRunner server({"--data-dir", dir.string(), "--templates-dir",
                      std::string(MEND_SOURCE_DIR) + "/server/templates", "--log-level", "info"});
  server.start(0);
  mc::HttpClient http({"http://127.0.0.1:" + std::to_string(server.port()), {}, {}, 10s});
  v1::CreateRoomRequest request;
  request.set_template_("speaker-listener");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  REQUIRE(http.create_room(request).ok());
  REQUIRE(server.terminate() == 0);
}

std::pair<int, std::string> start_on(const fs::path& dir) {
  return MenddRunner::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir", dir.string(),
                                   "--templates-dir",
                                   std::string(MEND_SOURCE_DIR) + "/server/templates"});
}

TEST_CASE("mendd refuses to start on a damaged database with a clear message and exit code 3") {
  TempDir dir;
  make_data_dir(dir.path);
  const fs::path db = dir.path / store::SqliteStore::kDatabaseFile;
  {
    // Overwrite the middle of the file (pages of the schema and the events).
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(db));
    REQUIRE(size > 4096);
    file.seekp(size / 2);
    const std::string garbage(4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const auto [code, output] = start_on(dir.path);
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

TEST_CASE("mendd refuses to start on a truncated database") {
  TempDir dir;
  make_data_dir(dir.path);
  const fs::path db = dir.path / store::SqliteStore::kDatabaseFile;
  fs::resize_file(db, 100);
  const auto [code, output] = start_on(dir.path);
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

TEST_CASE("mendd refuses to start when the master key does not open the stored rooms") {
  TempDir dir;
  make_data_dir(dir.path);
  const fs::path key = dir.path / store::SqliteStore::kMasterKeyFile;
  {
    std::fstream file(key, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    REQUIRE_FALSE(bytes.empty());
    for (char& c : bytes) c = static_cast<char>(c ^ 0x5a);
    file.seekp(0);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto [code, output] = start_on(dir.path);
  INFO(output);
  CHECK(code == 3);
  CHECK(output.find("cannot open the event store") != std::string::npos);
}

}  // namespace
}  // namespace mend::testing
