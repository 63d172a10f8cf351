// SqliteStore beyond the shared contract: durability across reopen, group commit, encryption
// at rest, corruption and tamper detection, erasure, limits and graceful close.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/store/sqlite_store.h"
#include "server/store/sqlite_store_impl.h"
#include "store_support.h"

namespace mend::store {
namespace {

using namespace testing;
using std::filesystem::path;

constexpr auto kWaitLimit = std::chrono::seconds(30);

std::shared_ptr<SqliteStore> open_store(const path& dir, SqliteStoreOptions options = {}) {
  options.data_dir = dir;
  auto opened = SqliteStore::open(std::move(options));
  REQUIRE_MESSAGE(opened.store, (opened.error ? opened.error->message : ""));
  return opened.store;
}

StoreError open_error(const path& dir) {
  auto opened = SqliteStore::open(SqliteStoreOptions{.data_dir = dir});
  REQUIRE_FALSE(opened.store);
  REQUIRE(opened.error.has_value());
  return *opened.error;
}

path db_file(const path& dir) { return dir / SqliteStore::kDatabaseFile; }

// A gate a completion can wait at (bounded), opened by the test thread.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, kWaitLimit, [&] { return open_; }));
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts completions; wait() returns once `expected` have arrived (bounded).
class Completions {
 public:
  explicit Completions(std::size_t expected) : expected_(expected) {}
  void record(std::optional<StoreError> e) {
    {
      std::lock_guard lock(mutex_);
      failures_ += e ? 1 : 0;
      ++done_;
    }
    cv_.notify_all();
  }
  // A completion that records here (this object must outlive the call).
  StoreDone done() {
    return [this](std::optional<StoreError> e) { record(std::move(e)); };
  }
  std::size_t wait() {  // returns the number of failures
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, kWaitLimit, [&] { return done_ >= expected_; }));
    return failures_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t expected_;
  std::size_t done_ = 0;
  std::size_t failures_ = 0;
};

// Holds the store's writer in the completion of a first append (after its commit) until
// release(): the writes submitted meanwhile queue up, as they do under load while a commit's
// fsync is running. `done` gets the first append's outcome after the release. Call release()
// before this object goes away.
class HeldWriter {
 public:
  // Returns once the writer is held (bounded).
  HeldWriter(Store& store, AppendRequest first, StoreDone done) {
    store.append(std::move(first), [this, done = std::move(done)](std::optional<StoreError> e) {
      in_callback_.open();
      release_.wait();
      done(std::move(e));
    });
    in_callback_.wait();
  }
  void release() { release_.open(); }

 private:
  Gate in_callback_;
  Gate release_;
};

// A room with enough content to span several database pages.
void write_conversation(Store& store, const std::string& room, std::uint64_t count) {
  REQUIRE_FALSE(append(store, room, 0, {event(1, "opening words of " + room)}));
  for (std::uint64_t seq = 2; seq <= count; ++seq) {
    const std::string id = "c" + std::to_string(seq);
    REQUIRE_FALSE(append(store, room, seq - 1,
                         {event(seq, "turn " + std::to_string(seq) + std::string(200, '.'))},
                         RecordedResult{{room, "A", id}, accepted(id, seq, seq)}));
  }
}

// The seal a clean close leaves beside the database file (sqlite_schema.h).
path seal_file(const path& dir) {
  path seal = db_file(dir);
  seal += ".seal";
  return seal;
}

// Opens a store on `dir`, lets `fill` write to it and closes it cleanly (which seals the file).
void write_and_close(const path& dir, const std::function<void(SqliteStore&)>& fill) {
  auto store = open_store(dir);
  fill(*store);
}

// The files of a running store as a crash leaves them: room "r" with 80 events closed cleanly
// in `dir`, reopened, an 81st event committed (in the WAL), and every file of `dir` copied to
// `crashed` while that store still runs. Returns the seal of the clean close.
std::string copy_left_by_crash(const path& dir, const path& crashed) {
  auto store = open_store(dir);
  write_conversation(*store, "r", 80);
  store->close();
  std::string seal = read_file(seal_file(dir));
  store = open_store(dir);
  REQUIRE_FALSE(append(*store, "r", 80, events(81, 1)));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::filesystem::copy_file(entry.path(), crashed / entry.path().filename());
  }
  return seal;
}

TEST_CASE("committed events and command results survive close and reopen") {
  TempDir dir;
  const CommandKey key{"r", "B", "c-42"};
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, {event(1, "hello")}));
    REQUIRE_FALSE(append(*store, "r", 1, {event(2, "again"), event(3)},
                         RecordedResult{key, accepted("c-42", 2, 3)}));
    store->close();
  }
  auto store = open_store(dir.path());
  LoadResult loaded = load(*store, "r");
  REQUIRE_FALSE(loaded.error);
  REQUIRE(loaded.events.size() == 3);
  CHECK(loaded.events[1].shared().text() == "again");
  // A command retried after the restart gets its original result; its seq is not reused.
  FindResult found = find(*store, key);
  REQUIRE(found.result.has_value());
  CHECK(found.result->first_seq() == 2);
  CHECK(append(*store, "r", 1, events(2, 1))->code == StoreErrorCode::kConflict);
  CHECK_FALSE(append(*store, "r", 3, events(4, 1)));
}

TEST_CASE("durability normal stores and reloads the same way") {
  TempDir dir;
  {
    auto store = open_store(dir.path(), SqliteStoreOptions{.durability = Durability::kNormal});
    REQUIRE_FALSE(append(*store, "r", 0, {event(1, "hello")}));
  }  // destroyed without an explicit close: the destructor closes
  auto store = open_store(dir.path());
  CHECK(load(*store, "r").events.size() == 1);
}

TEST_CASE("group commit puts every append waiting at that moment into one transaction") {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kPerThread = 25;
  constexpr std::size_t kWaiting = kThreads * kPerThread;
  Completions completions(kWaiting + 1);
  HeldWriter held(*store, AppendRequest{"first", 0, {event(1)}, std::nullopt},
                  completions.done());
  std::atomic<std::size_t> submitted{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < kPerThread; ++i) {
        const std::string room = "room-" + std::to_string(t) + "-" + std::to_string(i);
        store->append(AppendRequest{room, 0, {event(1, "text")}, std::nullopt},
                      completions.done());
        if (++submitted == kWaiting) held.release();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(completions.wait() == 0);
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.appends_committed == kWaiting + 1);
  CHECK(stats.commits == 2);  // the first append, then all the waiting ones together
  CHECK(stats.largest_batch == kWaiting);
  CHECK(list(*store).rooms.size() == kWaiting + 1);
}

TEST_CASE("a group commit is capped at max_batch appends per transaction") {
  TempDir dir;
  auto store = open_store(dir.path(), SqliteStoreOptions{.max_batch = 10});
  Completions completions(31);
  HeldWriter held(*store, AppendRequest{"first", 0, {event(1)}, std::nullopt},
                  completions.done());
  for (int i = 0; i < 30; ++i) {
    store->append(AppendRequest{"r" + std::to_string(i), 0, {event(1)}, std::nullopt},
                  completions.done());
  }
  held.release();
  CHECK(completions.wait() == 0);
  CHECK(store->stats().commits == 4);
  CHECK(store->stats().largest_batch == 10);
}

// A clock the test moves (microseconds), for the store's latencies.
struct TestClock {
  std::shared_ptr<std::atomic<std::int64_t>> us = std::make_shared<std::atomic<std::int64_t>>(0);
  LatencyClock clock() const {
    return [us = us] {
      return std::chrono::steady_clock::time_point(std::chrono::microseconds(*us));
    };
  }
};

TEST_CASE("an append's wait in the writer's queue and its batch's time are measured") {
  TempDir dir;
  TestClock clock;
  auto store = open_store(dir.path(), SqliteStoreOptions{.clock = clock.clock()});
  Completions completions(2);
  HeldWriter held(*store, AppendRequest{"first", 0, {event(1)}, std::nullopt},
                  completions.done());
  store->append(AppendRequest{"second", 0, {event(1)}, std::nullopt}, completions.done());
  clock.us->store(4'000);  // the second waits 4 ms behind the first's completion
  held.release();
  CHECK(completions.wait() == 0);
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.queue_wait.count == 2);
  CHECK(stats.queue_wait.buckets[0] == 1);  // the first was taken at once
  CHECK(stats.queue_wait.sum_us == 4'000);
  CHECK(stats.queue_wait.quantile_bound_us(1.0) == 5'000);  // (3 ms, 5 ms]
  // Each batch was taken and committed while the clock stood still.
  CHECK(stats.batch.count == 2);
  CHECK(stats.batch.sum_us == 0);
  CHECK(stats.commit.count == stats.commits);
  CHECK(stats.commits == 2);
}

TEST_CASE("a transaction that waits for the write lock counts the wait and its length") {
  TempDir dir;
  TestClock clock;
  auto store = open_store(dir.path(), SqliteStoreOptions{.clock = clock.clock()});
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  CHECK(store->stats().writer_lock_waits == 0);
  CHECK(store->stats().writer_lock_wait.count == 0);
  // Another connection holds the write lock, as a TRUNCATE checkpoint does.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(db_file(dir.path()).c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  Completions completions(1);
  store->append(AppendRequest{"r", 1, {event(2)}, std::nullopt}, completions.done());
  const auto until = std::chrono::steady_clock::now() + kWaitLimit;
  while (store->stats().writer_lock_waits == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  REQUIRE(store->stats().writer_lock_waits == 1);
  clock.us->store(2'000);
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  CHECK(completions.wait() == 0);
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.writer_lock_waits == 1);
  CHECK(stats.writer_lock_wait.count == 1);
  CHECK(stats.writer_lock_wait.sum_us == 2'000);
}

TEST_CASE("the trip of a completion back to its room, as the room reports it, is measured") {
  TempDir dir;
  auto store = open_store(dir.path());
  store->completion_delivered(std::chrono::microseconds(2'500));
  Store& as_store = *store;  // the rooms report through the interface
  as_store.completion_delivered(std::chrono::microseconds(40));
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.completion_trip.count == 2);
  CHECK(stats.completion_trip.sum_us == 2'540);
  CHECK(stats.completion_trip.quantile_bound_us(0.5) == 50);
  CHECK(stats.completion_trip.quantile_bound_us(1.0) == 3'000);
}

// The writer keeps each room's last committed seq (sqlite::CommittedSeqs) instead of reading
// the room's row before every append: what it keeps must follow every outcome, or an append
// would land after a gap.
TEST_CASE("the writer's known seqs follow its transactions: committed, rolled back, erased") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 3)));  // known: r at 3
  // Any insert of an event of room "boom" fails, and so does the transaction that holds it.
  sql(db_file(dir.path()),
      "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.room_id = 'boom' "
      "BEGIN SELECT RAISE(ABORT, 'injected'); END");
  auto submit = [&](std::uint64_t expected, std::vector<v1::Event> appended,
                    const std::string& room = "r") {
    auto outcome = std::make_shared<std::promise<std::optional<StoreError>>>();
    store->append(AppendRequest{room, expected, std::move(appended), std::nullopt},
                  [outcome](std::optional<StoreError> e) { outcome->set_value(std::move(e)); });
    return outcome->get_future();
  };
  auto seqs_of_r = [&] {
    std::vector<std::uint64_t> seqs;
    for (const v1::Event& e : load(*store, "r").events) seqs.push_back(e.seq());
    return seqs;
  };

  SUBCASE("two appends of a room in one transaction, and a stale one beside them") {
    HeldWriter held(*store, AppendRequest{"h", 0, {event(1)}, std::nullopt},
                    [](std::optional<StoreError> e) { CHECK_FALSE(e); });
    auto fourth = submit(3, {event(4)});
    auto fifth = submit(4, {event(5)});
    auto stale = submit(3, {event(4)});
    held.release();
    CHECK_FALSE(fourth.get());
    CHECK_FALSE(fifth.get());
    const std::optional<StoreError> refused = stale.get();
    REQUIRE(refused.has_value());
    CHECK(refused->code == StoreErrorCode::kConflict);
    CHECK(seqs_of_r() == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  }
  SUBCASE("an append whose transaction rolled back leaves its room at the committed seq") {
    HeldWriter held(*store, AppendRequest{"h", 0, {event(1)}, std::nullopt},
                    [](std::optional<StoreError> e) { CHECK_FALSE(e); });
    auto fourth = submit(3, {event(4)});
    auto doomed = submit(0, {event(1)}, "boom");
    held.release();
    CHECK(fourth.get().has_value());  // rolled back with the whole transaction
    CHECK(doomed.get().has_value());
    const std::optional<StoreError> after_gap = append(*store, "r", 4, {event(5)});
    REQUIRE(after_gap.has_value());
    CHECK(after_gap->code == StoreErrorCode::kConflict);
    CHECK_FALSE(append(*store, "r", 3, {event(4)}));
    CHECK(seqs_of_r() == std::vector<std::uint64_t>{1, 2, 3, 4});
  }
  SUBCASE("a destroyed room refuses an append at its last seq") {
    REQUIRE_FALSE(destroy(*store, "r"));
    const std::optional<StoreError> refused = append(*store, "r", 3, {event(4)});
    REQUIRE(refused.has_value());
    CHECK(refused->code == StoreErrorCode::kConflict);
  }
}

TEST_CASE("audit appends waiting with appends share their group commit, in order") {
  TempDir dir;
  auto store = open_store(dir.path());
  Completions completions(4);
  HeldWriter held(*store, AppendRequest{"first", 0, {event(1)}, std::nullopt},
                  completions.done());
  const auto entry = [](v1::AuditKind kind, std::int64_t at_ms) {
    v1::AuditEntry e;
    e.set_kind(kind);
    e.set_at_ms(at_ms);
    return e;
  };
  store->append(AppendRequest{"r", 0, {event(1)}, std::nullopt}, completions.done());
  store->append_audit("r", {entry(v1::AUDIT_PARTICIPANT_CONNECTED, 5)}, completions.done());
  store->append_audit("r", {entry(v1::AUDIT_PARTICIPANT_DISCONNECTED, 6)}, completions.done());
  held.release();
  CHECK(completions.wait() == 0);
  CHECK(store->stats().commits == 2);  // the first append, then the append and both audits
  CHECK(store->stats().appends_committed == 2);
  std::promise<AuditLoadResult> loaded;
  store->load_audit("r", [&](AuditLoadResult r) { loaded.set_value(std::move(r)); });
  const AuditLoadResult audit = loaded.get_future().get();
  CHECK_FALSE(audit.error);
  REQUIRE(audit.entries.size() == 2);
  CHECK(audit.entries[0].kind() == v1::AUDIT_PARTICIPANT_CONNECTED);
  CHECK(audit.entries[1].kind() == v1::AUDIT_PARTICIPANT_DISCONNECTED);
}

TEST_CASE("no file of the data directory holds the plaintext of a conversation") {
  TempDir dir;
  const std::vector<std::string> texts = {
      "I felt invisible when you checked your phone at dinner",
      "What I hear you say is that you felt invisible at dinner",
      "Could we agree on phones away during dinner on weekdays"};
  const std::string observer = "Dr. Imaginary Kimberly";
  auto store = open_store(dir.path());
  v1::Event shared = event(1, texts[0]);
  v1::Event reflected = event(2);
  reflected.mutable_actor()->set_role(v1::PARTNER_B);
  reflected.mutable_reflected()->set_text(texts[1]);
  v1::Event proposed = event(3);
  proposed.mutable_actor()->set_role(v1::OBSERVER);
  proposed.mutable_actor()->set_observer(observer);
  proposed.mutable_proposed()->set_text(texts[2]);
  REQUIRE_FALSE(append(*store, "room-1", 0, {shared}));
  REQUIRE_FALSE(append(*store, "room-1", 1, {reflected},
                       RecordedResult{{"room-1", "B", "reflect-1"}, accepted("reflect-1", 2, 2)}));
  REQUIRE_FALSE(
      append(*store, "room-1", 2, {proposed},
             RecordedResult{{"room-1", "O:" + observer, "cmd-7"}, accepted("cmd-7", 3, 3)}));
  REQUIRE(load(*store, "room-1").events.size() == 3);
  auto scan = [&](const char* when) {
    INFO(when);
    CHECK(std::filesystem::exists(db_file(dir.path())));
    for (const std::string& text : texts) CHECK_FALSE(any_file_contains(dir.path(), text));
    CHECK_FALSE(any_file_contains(dir.path(), observer));
  };
  REQUIRE(std::filesystem::exists(dir.path() / "mend.db-wal"));
  scan("while open (db, -wal, -shm)");
  store->close();
  scan("after close");
  // The content-free metadata stays readable for metrics and audit.
  CHECK(sql(db_file(dir.path()), "SELECT kind FROM events WHERE room_id = 'room-1' AND seq = 2") ==
        std::to_string(v1::Event::kReflected));
  CHECK(sql(db_file(dir.path()), "SELECT actor_role FROM events WHERE seq = 3") ==
        std::to_string(v1::OBSERVER));
}

TEST_CASE("an altered event ciphertext is reported as CORRUPT on load") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, {event(1, "one"), event(2, "two")}));
  }
  // Flip one byte of seq 2's ciphertext (after the nonce).
  const std::string sealed = sql(db_file(dir.path()), "SELECT sealed FROM events WHERE seq = 2");
  std::string altered = sealed;
  altered[14] = static_cast<char>(altered[14] ^ 0x20);
  auto hex = [](const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
    return out;
  };
  sql(db_file(dir.path()), "UPDATE events SET sealed = x'" + hex(altered) + "' WHERE seq = 2");
  auto store = open_store(dir.path());  // quick_check cannot see inside a blob: open succeeds
  LoadResult loaded = load(*store, "r");
  REQUIRE(loaded.error.has_value());
  CHECK(loaded.error->code == StoreErrorCode::kCorrupt);
  CHECK(loaded.error->message.find("event 2") != std::string::npos);
  CHECK(loaded.events.empty());
}

TEST_CASE("a ciphertext moved to another seq is reported as CORRUPT on load") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, {event(1, "one"), event(2, "two")}));
    REQUIRE_FALSE(append(*store, "s", 0, {event(1, "other room")}));
  }
  const path file = db_file(dir.path());
  // Swap seqs 1 and 2; and give room s the ciphertext of room r's seq 1.
  sql(file, "UPDATE events SET seq = 1000 WHERE room_id = 'r' AND seq = 1");
  sql(file, "UPDATE events SET seq = 1 WHERE room_id = 'r' AND seq = 2");
  sql(file, "UPDATE events SET seq = 2 WHERE room_id = 'r' AND seq = 1000");
  sql(file,
      "UPDATE events SET sealed = (SELECT sealed FROM events WHERE room_id = 'r' AND seq = 2) "
      "WHERE room_id = 's'");
  auto store = open_store(dir.path());
  CHECK(load(*store, "r").error->code == StoreErrorCode::kCorrupt);
  CHECK(load(*store, "s").error->code == StoreErrorCode::kCorrupt);
}

TEST_CASE("bytes overwritten inside a stored event in the file are reported as CORRUPT") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, {event(1, std::string(300, 'x'))}));
  }
  const path file = db_file(dir.path());
  const std::string sealed = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  std::string bytes = read_file(file);
  const auto at = bytes.find(sealed);
  REQUIRE(at != std::string::npos);
  for (std::size_t i = 100; i < 110; ++i) bytes[at + i] = static_cast<char>(bytes[at + i] ^ 0x5a);
  write_file(file, bytes);
  auto store = open_store(dir.path());
  CHECK(load(*store, "r").error->code == StoreErrorCode::kCorrupt);
}

TEST_CASE("an altered command result is reported as CORRUPT") {
  TempDir dir;
  const CommandKey key{"r", "A", "c1"};
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, events(1, 1), RecordedResult{key, accepted("c1", 1, 1)}));
  }
  sql(db_file(dir.path()), "UPDATE results SET sealed = zeroblob(40)");
  auto store = open_store(dir.path());
  FindResult found = find(*store, key);
  REQUIRE(found.error.has_value());
  CHECK(found.error->code == StoreErrorCode::kCorrupt);
}

TEST_CASE("a truncated database file is refused at open with a message naming the file") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    write_conversation(*store, "r", 80);
  }
  const path file = db_file(dir.path());
  const std::string whole = read_file(file);
  REQUIRE(whole.size() >= 8 * 4096);
  SUBCASE("cut inside a page") { std::filesystem::resize_file(file, whole.size() / 2 + 123); }
  SUBCASE("cut at a page boundary") { std::filesystem::resize_file(file, whole.size() - 2 * 4096); }
  SUBCASE("cut inside the header") { std::filesystem::resize_file(file, 50); }
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kCorrupt);
  CHECK(error.message.find(file.string()) != std::string::npos);
  CHECK(error.message.find("truncated") != std::string::npos);
}

TEST_CASE(
    "a database file with overwritten bytes is refused at open with a message naming the file") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    write_conversation(*store, "r", 80);
  }
  const path file = db_file(dir.path());
  std::string bytes = read_file(file);
  SUBCASE("a b-tree page header") {
    for (std::size_t i = 0; i < 12; ++i) bytes[4096 + i] = static_cast<char>(0xff);
  }
  SUBCASE("the file header") {
    for (std::size_t i = 0; i < 16; ++i) bytes[i] = static_cast<char>(0xa5);
  }
  SUBCASE("a whole page in the middle") {
    for (std::size_t i = 0; i < 4096; ++i)
      bytes[(bytes.size() / 4096 / 2) * 4096 + i] = static_cast<char>(i * 7);
  }
  write_file(file, bytes);
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kCorrupt);
  CHECK(error.message.find(file.string()) != std::string::npos);
}

TEST_CASE("destroy_room leaves neither the room key nor the ciphertext in any file") {
  TempDir dir;
  auto store = open_store(dir.path());
  write_conversation(*store, "gone", 20);
  write_conversation(*store, "kept", 5);
  const path file = db_file(dir.path());
  const std::string wrapped = sql(file, "SELECT wrapped_key FROM room_keys WHERE room_id = 'gone'");
  const std::string sealed =
      sql(file, "SELECT sealed FROM events WHERE room_id = 'gone' AND seq = 7");
  const std::string result = sql(file, "SELECT sealed FROM results WHERE room_id = 'gone' LIMIT 1");
  REQUIRE(wrapped.size() == 60);
  REQUIRE(sealed.size() > 200);
  REQUIRE(any_file_contains(dir.path(), wrapped));
  REQUIRE(any_file_contains(dir.path(), sealed));
  REQUIRE_FALSE(destroy(*store, "gone"));
  CHECK(store->stats().checkpoints_incomplete == 0);
  CHECK_FALSE(any_file_contains(dir.path(), wrapped));
  CHECK_FALSE(any_file_contains(dir.path(), sealed));
  CHECK_FALSE(any_file_contains(dir.path(), result));
  CHECK(sql(file, "SELECT count(*) FROM events WHERE room_id = 'gone'") == "0");
  CHECK(load(*store, "kept").events.size() == 5);
  store->close();
  store = open_store(dir.path());
  CHECK(load(*store, "gone").error->code == StoreErrorCode::kNotFound);
  CHECK(append(*store, "gone", 0, events(1, 1))->code == StoreErrorCode::kConflict);
}

TEST_CASE("rewrite_events leaves no copy of the replaced ciphertext in any file") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0, {event(1, "private " + std::string(100, 'p')), event(2)}));
  const path file = db_file(dir.path());
  const std::string before = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  REQUIRE_FALSE(rewrite(*store, "r", {event(1, "[erased]")}));
  CHECK_FALSE(any_file_contains(dir.path(), before));
  CHECK(load(*store, "r").events[0].shared().text() == "[erased]");
}

TEST_CASE("a rewrite completes only after a reader that kept the WAL from truncation is done") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0, {event(1, "private " + std::string(100, 'p')), event(2)}));
  const path file = db_file(dir.path());
  const std::string before = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  // Another connection reads a snapshot that includes the WAL: no TRUNCATE can finish.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> reader(raw, &sqlite3_close);
  REQUIRE(sqlite3_exec(raw, "BEGIN; SELECT count(*) FROM events;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);

  std::promise<std::optional<StoreError>> rewritten;
  store->rewrite_events("r", {event(1, "[erased]")},
                        [&](std::optional<StoreError> e) { rewritten.set_value(std::move(e)); });
  auto done = rewritten.get_future();
  REQUIRE_FALSE(append(*store, "other", 0, events(1, 1)));  // queued after: the rewrite committed
  CHECK(load(*store, "r").events[0].shared().text() == "[erased]");
  // The truncation is retried every 5 ms meanwhile; none can finish while the reader reads.
  CHECK(done.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
  CHECK(store->stats().wal_truncations == 0);

  REQUIRE(sqlite3_exec(raw, "COMMIT;", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(done.wait_for(kWaitLimit) == std::future_status::ready);  // the next retry succeeds
  CHECK_FALSE(done.get());
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.wal_truncations == 1);
  CHECK_FALSE(any_file_contains(dir.path(), before));
  // While the passes could not copy everything, the truncation was put off four times in a
  // row before each attempt (a TRUNCATE holds the write lock while it copies what is left):
  // of the runs before the last, every fifth attempted and failed (counted). The last run
  // completes the rewrite before it is timed, so it may be missing from the count.
  CHECK(stats.checkpoints_incomplete * 5 <= stats.checkpoint.count);
}

TEST_CASE("rewrites share the appends' group commit and a rejected one undoes only itself") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0,
                       {event(1, "first words"), event(2, "second words"), event(3)}));
  const path file = db_file(dir.path());
  // A lost row below the room's last seq: the rewrite of seqs 1 and 2 changes seq 1 first,
  // then finds seq 2 missing (kCorrupt), and must leave seq 1 as it was.
  sql(file, "DELETE FROM events WHERE room_id = 'r' AND seq = 2");
  const std::string first_before = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  HeldWriter held(*store, AppendRequest{"a", 0, {event(1)}, std::nullopt},
                  [](std::optional<StoreError> e) { CHECK_FALSE(e); });
  std::promise<std::optional<StoreError>> corrupt;
  std::promise<std::optional<StoreError>> unknown;
  std::promise<std::optional<StoreError>> appended;
  store->rewrite_events("r", {event(1, "[erased]"), event(2, "[erased]")},
                        [&](std::optional<StoreError> e) { corrupt.set_value(std::move(e)); });
  store->rewrite_events("nobody", {event(1, "[erased]")},
                        [&](std::optional<StoreError> e) { unknown.set_value(std::move(e)); });
  store->append(AppendRequest{"a", 1, {event(2)}, std::nullopt},
                [&](std::optional<StoreError> e) { appended.set_value(std::move(e)); });
  held.release();
  const std::optional<StoreError> corrupt_error = corrupt.get_future().get();
  REQUIRE(corrupt_error.has_value());
  CHECK(corrupt_error->code == StoreErrorCode::kCorrupt);
  const std::optional<StoreError> unknown_error = unknown.get_future().get();
  REQUIRE(unknown_error.has_value());
  CHECK(unknown_error->code == StoreErrorCode::kNotFound);
  CHECK_FALSE(appended.get_future().get());
  CHECK(store->stats().commits == 3);  // "r", "a" alone, then the two rewrites and "a" again
  CHECK(sql(file, "SELECT sealed FROM events WHERE seq = 1") == first_before);
  CHECK(load(*store, "a").events.size() == 2);
}

TEST_CASE("a rewrite soon after the last WAL truncation completes when the interval ends and "
          "its ciphertext has left the files") {
  TempDir dir;
  auto clock_now = std::make_shared<std::atomic<std::int64_t>>(0);  // seconds
  SqliteStoreOptions options{.wal_truncate_interval = std::chrono::hours(1)};
  options.clock = [clock_now] {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(clock_now->load()));
  };
  clock_now->store(24 * 3600);
  auto store = open_store(dir.path(), std::move(options));
  REQUIRE_FALSE(append(*store, "r", 0,
                       {event(1, "private " + std::string(100, 'p')),
                        event(2, "also private " + std::string(100, 'q'))}));
  const path file = db_file(dir.path());
  const std::string first = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  const std::string second = sql(file, "SELECT sealed FROM events WHERE seq = 2");
  REQUIRE_FALSE(rewrite(*store, "r", {event(1, "[erased]")}));
  CHECK(store->stats().wal_truncations == 1);  // the first one: at once, before completing
  CHECK_FALSE(any_file_contains(dir.path(), first));

  std::promise<std::optional<StoreError>> rewritten;
  store->rewrite_events("r", {event(2, "[erased]")},
                        [&](std::optional<StoreError> e) { rewritten.set_value(std::move(e)); });
  auto done = rewritten.get_future();
  // Committed (later writes and reads see it), but not complete within the hour.
  REQUIRE_FALSE(append(*store, "other", 0, events(1, 1)));
  CHECK(load(*store, "r").events[1].shared().text() == "[erased]");
  CHECK(done.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  CHECK(store->stats().wal_truncations == 1);

  clock_now->fetch_add(3600);
  REQUIRE(done.wait_for(kWaitLimit) == std::future_status::ready);
  CHECK_FALSE(done.get());
  CHECK(store->stats().wal_truncations == 2);
  CHECK(store->stats().checkpoints_incomplete == 0);
  CHECK_FALSE(any_file_contains(dir.path(), second));
}

TEST_CASE("a commit hands its WAL frames to the OS in one write, not two per frame") {
  TempDir dir;
  const path file = db_file(dir.path());
  std::string message;
  auto writer = sqlite::Db::open(file, message);  // the store's connections open so
  REQUIRE(writer);
  REQUIRE_FALSE(writer->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB);"
                             "INSERT INTO t VALUES ('first')"));
  const std::uint64_t before = sqlite::wal_writes(*writer);
  const auto wal_bytes_before = std::filesystem::file_size(path(file.string() + "-wal"));
  // Rows of 1 KB: several pages of the table (under 64 KiB in all: one piece), a frame each.
  REQUIRE_FALSE(writer->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                             "WHERE i < 20) INSERT INTO t SELECT 'row' || i || zeroblob(1000) "
                             "FROM n"));
  CHECK(sqlite::wal_writes(*writer) - before == 1);
  const auto page_size = std::stoull(sql(file, "PRAGMA page_size"));
  CHECK(std::filesystem::file_size(path(file.string() + "-wal")) - wal_bytes_before >
        4 * (page_size + 24));  // more than four frames went out in that one write
  CHECK(sql(file, "SELECT count(*) FROM t") == "21");  // another connection reads them all
}

// A transaction too large for the page cache writes (gathers) frames before its end; when it
// rolls back, they must not reach the file later, after another connection emptied the WAL.
TEST_CASE("the gathered frames of a rolled-back transaction never reach the WAL file") {
  TempDir dir;
  const path file = db_file(dir.path());
  std::string message;
  auto writer = sqlite::Db::open(file, message);
  auto other = sqlite::Db::open(file, message);
  REQUIRE(writer);
  REQUIRE(other);
  // The WAL emptied, so that the rollback reads its pages back from the database file alone
  // (a read of the WAL would write the gathered frames first).
  REQUIRE_FALSE(writer->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB);"
                             "PRAGMA cache_size = 4; PRAGMA wal_checkpoint(TRUNCATE);"));
  const std::uint64_t before = sqlite::wal_writes(*writer);
  REQUIRE_FALSE(writer->exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                             "FROM n WHERE i < 40) INSERT INTO t SELECT 'rolled back' || "
                             "zeroblob(2000) FROM n; ROLLBACK;"));
  REQUIRE(sqlite::wal_writes(*writer) - before == 1);  // the WAL's header, synced: the frames wait
  sqlite::drop_unwritten_wal(*writer);
  REQUIRE_FALSE(other->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  REQUIRE_FALSE(writer->exec("INSERT INTO t VALUES ('kept')"));
  const std::string wal = read_file(path(file.string() + "-wal"));
  CHECK(wal.find("kept") != std::string::npos);
  CHECK(wal.find("rolled back") == std::string::npos);
}

TEST_CASE("the checkpointer copies a WAL past its frame threshold into the file, the writer the "
          "rest") {
  TempDir dir;
  auto store = open_store(dir.path(), SqliteStoreOptions{.checkpoint_frames = 1'000});
  // Each append writes a few pages (events, results, rooms): 600 pass 1,000 WAL frames.
  write_conversation(*store, "r", 600);
  store->close();  // a checkpoint requested before close() still runs
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.background_checkpoints >= 1);
  CHECK(stats.checkpoints_incomplete == 0);
  CHECK(stats.appends_committed == 600);
  // Its runs are timed, and the frames it copied counted (the request came at 1,000 frames).
  CHECK(stats.checkpoint.count >= 1);
  CHECK(stats.checkpoint_frames >= 1'000);
  // The writer copies only what a pass left (at most one per pass), never the whole WAL.
  CHECK(stats.writer_checkpoints <= stats.background_checkpoints);
}

// Under a steady stream of commits the WAL must not grow without bound: once a checkpoint
// copied all of it, the writer starts it over and overwrites it in place. The checkpointer
// copies beside the writer and leaves what came during its pass; the writer copies that rest
// itself once it is small, or all of it once the WAL passes 4 x checkpoint_frames. Either way
// the file never holds much more than that bound.
TEST_CASE("under a steady stream of appends the WAL starts over and stays within its bound") {
  TempDir dir;
  constexpr int kCheckpointFrames = 50;
  // No sync per commit (the bound is about frames, not syncs): 1,500 synced commits took 8.6 s.
  auto store = open_store(dir.path(), SqliteStoreOptions{.durability = Durability::kNormal,
                                                         .checkpoint_frames = kCheckpointFrames});
  constexpr std::uint64_t kAppends = 1'500;  // each writes a few pages: thousands of frames
  write_conversation(*store, "r", kAppends);
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.wal_restarts >= 1);
  CHECK(stats.background_checkpoints + stats.writer_checkpoints >= 1);
  CHECK(stats.checkpoint.count + stats.writer_checkpoint.count >= 1);
  CHECK(stats.writer_checkpoint.count >= stats.writer_checkpoints);
  CHECK(stats.checkpoint_frames >= kAppends);  // each append wrote at least one frame
  CHECK(stats.wal_truncations == 0);  // no rewrite: the restarts alone keep it short
  const auto page_size = std::stoull(sql(db_file(dir.path()), "PRAGMA page_size"));
  const auto wal_bytes = std::filesystem::file_size(path(db_file(dir.path()).string() + "-wal"));
  // The bound plus the commit that passed it (a few pages): a frame is a page and a 24-byte
  // header.
  constexpr int kSlackFrames = 16;
  CHECK(wal_bytes <= 32 + (4 * kCheckpointFrames + kSlackFrames) * (page_size + 24));
  store->close();
  CHECK(load(*open_store(dir.path()), "r").events.size() == kAppends);
}

// The WAL's frames, from its file's size: right for a WAL that never started over.
int wal_frames_in_file(const path& dir, std::uint64_t page_size) {
  const auto bytes = std::filesystem::file_size(path(db_file(dir).string() + "-wal"));
  return bytes < 32 ? 0 : static_cast<int>((bytes - 32) / (page_size + 24));
}

// No checkpoint takes the write lock from the writer to start the WAL over: what the
// checkpointer's pass left (here, what a reader's snapshot kept from it; under load, the
// commits during the pass), the writer copies between two of its transactions, and its next
// transaction starts the WAL over.
TEST_CASE("the writer copies the little a checkpointer pass left, and the WAL starts over") {
  TempDir dir;
  constexpr int kCheckpointFrames = 200;  // the writer copies at most 50 frames left
  constexpr int kNearThreshold = kCheckpointFrames - 12;
  auto store = open_store(dir.path(), SqliteStoreOptions{.checkpoint_frames = kCheckpointFrames});
  const auto page_size = std::stoull(sql(db_file(dir.path()), "PRAGMA page_size"));
  std::uint64_t seq = 0;
  const auto append_one = [&] {  // a few frames each (one room's last leaves)
    REQUIRE_FALSE(append(*store, "r", seq, events(seq + 1, 1)));
    ++seq;
  };
  while (wal_frames_in_file(dir.path(), page_size) < kNearThreshold) append_one();
  // A reader's snapshot: the checkpointer's pass cannot copy the frames after it.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db_file(dir.path()).c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> reader(raw, &sqlite3_close);
  REQUIRE(sqlite3_exec(raw, "BEGIN; SELECT count(*) FROM events;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  while (wal_frames_in_file(dir.path(), page_size) < kCheckpointFrames) append_one();
  const auto until = std::chrono::steady_clock::now() + kWaitLimit;
  while (store->stats().background_checkpoints == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  REQUIRE(store->stats().background_checkpoints == 1);
  REQUIRE(sqlite3_exec(raw, "COMMIT;", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(store->stats().wal_restarts == 0);
  // The next commit leaves a few frames more to copy; the writer copies them after it.
  for (int i = 0; i < 20 && store->stats().writer_checkpoints == 0; ++i) append_one();
  append_one();
  const SqliteStoreStats stats = store->stats();
  CHECK(stats.writer_checkpoints == 1);
  CHECK(stats.wal_restarts == 1);
  CHECK(stats.background_checkpoints == 1);  // nothing was left for another pass
  CHECK(stats.writer_lock_waits == 0);
  CHECK(stats.checkpoints_incomplete == 0);
}

// The writer stalls the commits behind it while it copies: only a small rest (at most a run
// step of the checkpointer, see checkpoint_due) and only once the WAL is long.
TEST_CASE("the writer finishes a long WAL only when the checkpointer left at most a run step") {
  using sqlite::writer_finishes_wal;
  constexpr int kFrames = 1'000;
  CHECK(writer_finishes_wal(1'100, 100, kFrames));
  CHECK(writer_finishes_wal(1'000, 250, kFrames));
  CHECK_FALSE(writer_finishes_wal(1'000, 251, kFrames));  // the checkpointer's next pass
  CHECK_FALSE(writer_finishes_wal(999, 10, kFrames));     // short: no copy yet
  CHECK_FALSE(writer_finishes_wal(1'100, 0, kFrames));    // all copied: it starts over anyway
}

TEST_CASE("while the WAL stays in place the checkpointer runs once per quarter threshold") {
  using sqlite::checkpoint_due;
  constexpr int kFrames = 1'000;
  CHECK_FALSE(checkpoint_due(999, kFrames, 0));
  CHECK(checkpoint_due(1'000, kFrames, 0));
  // A run found 1,200 frames and left the WAL in place: the next from 1,450 on.
  CHECK_FALSE(checkpoint_due(1'449, kFrames, 1'200));
  CHECK(checkpoint_due(1'450, kFrames, 1'200));
  // A run that began on a short WAL (a truncation's) does not lower the threshold.
  CHECK_FALSE(checkpoint_due(999, kFrames, 10));
}

TEST_CASE("an interrupted destroy_room is finished at the next open") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    write_conversation(*store, "r", 3);
  }
  // The state after the key-shredding transaction committed and before the rows went.
  const path file = db_file(dir.path());
  sql(file, "DELETE FROM room_keys WHERE room_id = 'r'");
  sql(file, "UPDATE rooms SET destroyed = 1 WHERE room_id = 'r'");
  auto store = open_store(dir.path());
  CHECK(sql(file, "SELECT count(*) FROM events") == "0");
  CHECK(sql(file, "SELECT count(*) FROM results") == "0");
  CHECK(load(*store, "r").error->code == StoreErrorCode::kNotFound);
}

// A fault inside an erasure's transaction (here: storing its audit entry fails, injected with
// a trigger) leaves nothing of it: no rewrite, no shredded key, no entry. Without the fault
// the erasure and its entry are both there, also after a reopen.
TEST_CASE("an erasure and its audit entry commit together or not at all") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0, {event(1, "keep me"), event(2)}));
  const path file = db_file(dir.path());
  sql(file,
      "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit "
      "BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
  const auto erased_contributions = audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED, 2);
  const auto erased_room = audit_entry(v1::AUDIT_ROOM_ERASED, 3);
  CHECK(rewrite_audited(*store, "r", {event(1, "[erased]")}, {erased_contributions})->code ==
        StoreErrorCode::kUnavailable);
  CHECK(destroy_audited(*store, "r", {erased_room})->code == StoreErrorCode::kUnavailable);
  CHECK(append_audited(*store, "r", 2, events(3, 1), {audit_entry(v1::AUDIT_CONSENT_GIVEN)})
            ->code == StoreErrorCode::kUnavailable);
  LoadResult loaded = load(*store, "r");
  REQUIRE_FALSE(loaded.error);
  REQUIRE(loaded.events.size() == 2);
  CHECK(loaded.events[0].shared().text() == "keep me");
  CHECK(sql(file, "SELECT count(*) FROM room_keys WHERE room_id = 'r'") == "1");
  CHECK(sql(file, "SELECT count(*) FROM audit") == "0");

  sql(file, "DROP TRIGGER refuse_audit");
  REQUIRE_FALSE(rewrite_audited(*store, "r", {event(1, "[erased]")}, {erased_contributions}));
  CHECK(load(*store, "r").events[0].shared().text() == "[erased]");
  REQUIRE_FALSE(destroy_audited(*store, "r", {erased_room}));
  store->close();
  store = open_store(dir.path());
  CHECK(load(*store, "r").error->code == StoreErrorCode::kNotFound);
  AuditLoadResult audit = audit_log(*store, "r");
  REQUIRE_FALSE(audit.error);
  REQUIRE(audit.entries.size() == 2);
  CHECK(audit.entries[0].kind() == v1::AUDIT_CONTRIBUTIONS_ERASED);
  CHECK(audit.entries[0].epoch() == 2);
  CHECK(audit.entries[1].kind() == v1::AUDIT_ROOM_ERASED);
  CHECK(audit.entries[1].epoch() == 3);
}

TEST_CASE("a master key file that does not match the database is refused at open") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  }
  write_file(dir.path() / SqliteStore::kMasterKeyFile, std::string(32, 'w'));
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kCorrupt);
  CHECK(error.message.find("master key") != std::string::npos);
}

TEST_CASE("an existing database without its master key file is refused, and no new key is made") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  }
  const path key_file = dir.path() / SqliteStore::kMasterKeyFile;
  std::filesystem::remove(key_file);
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kInvalid);
  CHECK(error.message.find(key_file.string()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(key_file));
}

TEST_CASE("a master key file elsewhere is used when configured") {
  TempDir dir;
  TempDir keys;
  const path key_file = keys.path() / "mend.key";
  {
    auto store = open_store(dir.path(), SqliteStoreOptions{.master_key_file = key_file});
    REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  }
  CHECK(std::filesystem::exists(key_file));
  CHECK_FALSE(std::filesystem::exists(dir.path() / SqliteStore::kMasterKeyFile));
  auto store = open_store(dir.path(), SqliteStoreOptions{.master_key_file = key_file});
  CHECK(load(*store, "r").events.size() == 1);
}

TEST_CASE("a database of a newer schema version is refused at open") {
  TempDir dir;
  open_store(dir.path()).reset();
  sql(db_file(dir.path()), "PRAGMA user_version = 99");
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kInvalid);
  CHECK(error.message.find("schema version 99") != std::string::npos);
}

// Schema 5 kept each room's last seq and times in its row, rewritten by every append; schema
// 6 reads them from the room's events. The 5 is made from a 6 by adding the old columns back
// with wrong values: the migration drops them and nothing read depends on them.
TEST_CASE("a database of schema 5 is migrated, its rooms' seqs and times read from their events") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE_FALSE(append(*store, "r", 0, events(1, 3)));
  }
  const path file = db_file(dir.path());
  for (const char* column : {"last_seq", "first_at_ms", "last_at_ms"}) {
    sql(file,
        std::string("ALTER TABLE rooms ADD COLUMN ") + column + " INTEGER NOT NULL DEFAULT 7");
  }
  sql(file, "PRAGMA user_version = 5");
  auto store = open_store(dir.path());
  CHECK(sql(file, "PRAGMA user_version") == std::to_string(SqliteStore::kSchemaVersion));
  CHECK(sql(file, "SELECT count(*) FROM pragma_table_info('rooms') WHERE name = 'last_seq'") ==
        "0");
  REQUIRE_FALSE(append(*store, "r", 3, events(4, 1)));
  CHECK(append(*store, "r", 3, events(4, 1))->code == StoreErrorCode::kConflict);
  CHECK(load(*store, "r").events.size() == 4);
  const ListRoomsResult listed = list(*store);
  REQUIRE(listed.rooms.size() == 1);
  CHECK(listed.rooms[0].last_seq == 4);
  CHECK(listed.rooms[0].first_at_ms == event(1).at_ms());
  CHECK(listed.rooms[0].last_at_ms == event(4).at_ms());
}

TEST_CASE("a SQLite file of another application is refused at open") {
  TempDir dir;
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db_file(dir.path()).c_str(), &raw) == SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');", nullptr,
               nullptr, nullptr);
  sqlite3_close(raw);
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kInvalid);
  INFO(error.message);
  CHECK(error.message.find("not a mend database") != std::string::npos);
}

TEST_CASE("writes over the pending limit are refused with UNAVAILABLE and the rest complete") {
  TempDir dir;
  auto store = open_store(dir.path(), SqliteStoreOptions{.max_pending_writes = 2});
  Completions completions(3);
  // The writer is busy and its queue is empty.
  HeldWriter held(*store, AppendRequest{"first", 0, {event(1)}, std::nullopt},
                  completions.done());
  for (const char* room : {"a", "b"}) {
    store->append(AppendRequest{room, 0, {event(1)}, std::nullopt}, completions.done());
  }
  CHECK(append(*store, "c", 0, events(1, 1))->code == StoreErrorCode::kUnavailable);
  CHECK(store->stats().pending_writes == 2);
  held.release();
  CHECK(completions.wait() == 0);
  CHECK(store->stats().writes_refused == 1);
}

TEST_CASE("close completes every pending append before it returns, then refuses calls") {
  TempDir dir;
  constexpr std::size_t kAppends = 200;
  {
    auto store = open_store(dir.path());
    std::atomic<std::size_t> ok{0};
    for (std::size_t seq = 1; seq <= kAppends; ++seq) {
      store->append(AppendRequest{"r", seq - 1, {event(seq)}, std::nullopt},
                    [&](std::optional<StoreError> e) { ok += e ? 0 : 1; });
    }
    store->close();
    CHECK(ok == kAppends);
    CHECK(append(*store, "r", kAppends, events(kAppends + 1, 1))->code ==
          StoreErrorCode::kUnavailable);
    CHECK(load(*store, "r").error->code == StoreErrorCode::kUnavailable);
    store->close();  // idempotent
  }
  auto store = open_store(dir.path());
  CHECK(load(*store, "r").events.size() == kAppends);
}

TEST_CASE("reads are not blocked by a busy writer and see only committed appends") {
  TempDir dir;
  auto store = open_store(dir.path());
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  Completions completions(2);
  // Seq 2 is committed; the writer is held.
  HeldWriter held(*store, AppendRequest{"r", 1, {event(2)}, std::nullopt},
                  completions.done());
  store->append(AppendRequest{"r", 2, {event(3)}, std::nullopt}, completions.done());
  CHECK(load(*store, "r").events.size() == 2);  // seq 3 is queued, not committed
  held.release();
  CHECK(completions.wait() == 0);
  CHECK(load(*store, "r").events.size() == 3);
}

// The child side of the kill -9 test: `rooms` rooms append one event at a time forever; each
// acknowledged (completed) append is reported on `ack_fd` as {room, seq}. Never returns.
[[noreturn]] void append_until_killed(const path& dir, Durability durability, int ack_fd) {
  SqliteStoreOptions options;
  options.data_dir = dir;
  options.durability = durability;
  auto opened = SqliteStore::open(options);
  if (!opened.store) _exit(3);
  struct Loop {
    std::shared_ptr<SqliteStore> store;
    int fd;
    void next(std::uint32_t room, std::uint32_t seq) {
      const std::string id = "room-" + std::to_string(room);
      store->append(AppendRequest{id,
                                  seq - 1u,
                                  {event(seq, "words " + std::to_string(seq))},
                                  RecordedResult{{id, "A", "c" + std::to_string(seq)},
                                                 accepted("c" + std::to_string(seq), seq, seq)}},
                    [this, room, seq](std::optional<StoreError> e) {
                      if (e) _exit(4);
                      const std::array<std::uint32_t, 2> ack{room, seq};
                      if (::write(fd, ack.data(), sizeof ack) != sizeof ack) _exit(5);
                      next(room, seq + 1);
                    });
    }
  };
  static Loop loop{opened.store, ack_fd};
  for (std::uint32_t room = 0; room < 4; ++room) loop.next(room, 1);
  for (;;) ::pause();  // until SIGKILL
}

// Reads acks until `count` arrived (or the time limit), then returns the highest seq per room.
std::map<std::uint32_t, std::uint32_t> read_acks(int fd, std::size_t count, bool drain) {
  std::map<std::uint32_t, std::uint32_t> highest;
  std::size_t received = 0;
  const auto until = std::chrono::steady_clock::now() + kWaitLimit;
  while (drain || received < count) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, drain ? 0 : 1000) <= 0) {
      if (drain || std::chrono::steady_clock::now() > until) break;
      continue;
    }
    std::array<std::uint32_t, 2> ack{};
    const auto n = ::read(fd, ack.data(), sizeof ack);
    if (n != static_cast<ssize_t>(sizeof ack)) break;  // EOF after the kill
    highest[ack[0]] = std::max(highest[ack[0]], ack[1]);
    ++received;
  }
  return highest;
}

TEST_CASE("every acknowledged append survives kill -9 of the writing process") {
  Durability durability = Durability::kFull;
  SUBCASE("durability full") {}
  SUBCASE("durability normal") { durability = Durability::kNormal; }
  TempDir dir;
  std::array<int, 2> fds{};
  REQUIRE(::pipe(fds.data()) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    append_until_killed(dir.path(), durability, fds[1]);
  }
  ::close(fds[1]);
  auto acked = read_acks(fds[0], 400, false);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  for (const auto& [room, seq] : read_acks(fds[0], 0, true))
    acked[room] = std::max(acked[room], seq);
  ::close(fds[0]);
  REQUIRE(acked.size() == 4);

  auto store = open_store(dir.path());
  for (const auto& [room, seq] : acked) {
    const std::string id = "room-" + std::to_string(room);
    LoadResult loaded = load(*store, id);
    REQUIRE_FALSE(loaded.error);
    REQUIRE(loaded.events.size() >= seq);  // every acknowledged append is there
    for (std::size_t i = 0; i < loaded.events.size(); ++i) CHECK(loaded.events[i].seq() == i + 1);
    CHECK(find(*store, CommandKey{id, "A", "c" + std::to_string(seq)}).result->last_seq() == seq);
    const std::uint64_t last = loaded.events.size();
    CHECK(append(*store, id, last - 1, events(last, 1))->code == StoreErrorCode::kConflict);
    CHECK_FALSE(append(*store, id, last, events(last + 1, 1)));  // no seq is reused
  }
}

TEST_CASE("a truncated database file beside a WAL left by a crash is refused at open") {
  TempDir dir;
  TempDir crashed;
  copy_left_by_crash(dir.path(), crashed.path());
  const path file = db_file(crashed.path());
  REQUIRE(std::filesystem::file_size(crashed.path() / "mend.db-wal") > 0);
  SUBCASE("whole, it opens") {
    auto store = open_store(crashed.path());
    CHECK(load(*store, "r").events.size() == 81);
    return;
  }
  SUBCASE("truncated, it is refused") {
    std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
    const StoreError error = open_error(crashed.path());
    CHECK(error.code == StoreErrorCode::kCorrupt);
    CHECK(error.message.find(file.string()) != std::string::npos);
  }
}

// --- The seal of a clean close (sqlite_schema.h): start-up without a second quick_check.

TEST_CASE("a cleanly closed database opens on its seal without a second integrity check") {
  TempDir dir;
  write_and_close(dir.path(), [](SqliteStore& store) {
    write_conversation(store, "r", 40);
    CHECK_FALSE(store.stats().integrity_from_seal);  // a new database: checked whole
  });
  REQUIRE(std::filesystem::exists(seal_file(dir.path())));
  auto store = open_store(dir.path());
  CHECK(store->stats().integrity_from_seal);
  CHECK_FALSE(std::filesystem::exists(seal_file(dir.path())));  // an open store changes its file
  CHECK(load(*store, "r").events.size() == 40);
  store->close();
  CHECK(std::filesystem::exists(seal_file(dir.path())));
}

TEST_CASE("one changed byte after a clean close brings the whole integrity check back") {
  TempDir dir;
  write_and_close(dir.path(), [](SqliteStore& store) {
    REQUIRE_FALSE(append(store, "r", 0, {event(1, std::string(300, 'x'))}));
  });
  REQUIRE(std::filesystem::exists(seal_file(dir.path())));
  const path file = db_file(dir.path());
  // Inside a ciphertext: quick_check passes, the load finds it (AES-GCM).
  const std::string sealed = sql(file, "SELECT sealed FROM events WHERE seq = 1");
  std::string bytes = read_file(file);
  const auto at = bytes.find(sealed);
  REQUIRE(at != std::string::npos);
  bytes[at + 100] = static_cast<char>(bytes[at + 100] ^ 0x01);
  write_file(file, bytes);
  auto store = open_store(dir.path());
  CHECK_FALSE(store->stats().integrity_from_seal);
  CHECK(load(*store, "r").error->code == StoreErrorCode::kCorrupt);
}

TEST_CASE("a b-tree page damaged after a clean close is refused although a seal is there") {
  TempDir dir;
  write_and_close(dir.path(), [](SqliteStore& store) { write_conversation(store, "r", 80); });
  REQUIRE(std::filesystem::exists(seal_file(dir.path())));
  const path file = db_file(dir.path());
  std::string bytes = read_file(file);
  for (std::size_t i = 0; i < 12; ++i) bytes[4096 + i] = static_cast<char>(0xff);
  write_file(file, bytes);
  const StoreError error = open_error(dir.path());
  CHECK(error.code == StoreErrorCode::kCorrupt);
  CHECK(error.message.find(file.string()) != std::string::npos);
}

TEST_CASE("a seal does not vouch for a file with a WAL left by a crash beside it") {
  TempDir dir;
  TempDir crashed;
  // With the old seal: the file itself may still be byte for byte the sealed one (the new
  // pages are in the WAL).
  const std::string seal = copy_left_by_crash(dir.path(), crashed.path());
  write_file(seal_file(crashed.path()), seal);
  REQUIRE(std::filesystem::file_size(crashed.path() / "mend.db-wal") > 0);
  auto store = open_store(crashed.path());
  CHECK_FALSE(store->stats().integrity_from_seal);
  CHECK(load(*store, "r").events.size() == 81);
}

TEST_CASE("a malformed or foreign seal is ignored: the whole check runs") {
  TempDir dir;
  TempDir other;
  write_and_close(dir.path(), [](SqliteStore& store) { write_conversation(store, "r", 10); });
  write_and_close(other.path(), [](SqliteStore& store) { write_conversation(store, "s", 12); });
  SUBCASE("malformed") { write_file(seal_file(dir.path()), "mend-seal 1 xxh3-128 nonsense\n"); }
  SUBCASE("another database's seal") {
    write_file(seal_file(dir.path()), read_file(seal_file(other.path())));
  }
  auto store = open_store(dir.path());
  CHECK_FALSE(store->stats().integrity_from_seal);
  CHECK(load(*store, "r").events.size() == 10);
}

TEST_CASE("the store's counters render as Prometheus series with their values") {
  SqliteStoreStats stats;
  stats.commits = 7;
  stats.appends_committed = 11;
  stats.wal_restarts = 3;
  stats.wal_truncations = 2;
  stats.pending_writes = 5;
  stats.checkpoint_frames = 4;
  stats.locked_checkpoint_frames = 6;
  stats.writer_lock_waits = 1;
  stats.queue_wait.buckets[0] = 2;  // two at most 50 us
  stats.queue_wait.buckets[6] = 1;  // one in (2 ms, 3 ms]
  stats.queue_wait.sum_us = 2'600;
  stats.queue_wait.count = 3;
  stats.commit.buckets.back() = 1;  // above the last bound
  stats.commit.count = 1;
  const std::string text = prometheus_text(stats);
  CHECK(text.find("\nmend_store_commits_total 7\n") != std::string::npos);
  CHECK(text.find("\nmend_store_appends_total 11\n") != std::string::npos);
  CHECK(text.find("\nmend_store_wal_restarts_total 3\n") != std::string::npos);
  CHECK(text.find("\nmend_store_wal_truncations_total 2\n") != std::string::npos);
  CHECK(text.find("# TYPE mend_store_pending_writes gauge\nmend_store_pending_writes 5\n") !=
        std::string::npos);
  CHECK(text.find("\nmend_store_checkpoint_frames_total 4\n") != std::string::npos);
  CHECK(text.find("\nmend_store_locked_checkpoint_frames_total 6\n") != std::string::npos);
  CHECK(text.find("\nmend_store_writer_lock_waits_total 1\n") != std::string::npos);
  CHECK(text.find("# TYPE mend_store_queue_wait_seconds histogram\n"
                  "mend_store_queue_wait_seconds_bucket{le=\"5e-05\"} 2\n") != std::string::npos);
  CHECK(text.find("\nmend_store_queue_wait_seconds_bucket{le=\"0.002\"} 2\n"
                  "mend_store_queue_wait_seconds_bucket{le=\"0.003\"} 3\n") != std::string::npos);
  CHECK(text.find("\nmend_store_queue_wait_seconds_bucket{le=\"+Inf\"} 3\n"
                  "mend_store_queue_wait_seconds_sum 0.0026\n"
                  "mend_store_queue_wait_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("\nmend_store_commit_seconds_bucket{le=\"1\"} 0\n"
                  "mend_store_commit_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
  for (const char* name : {"mend_store_batch_seconds", "mend_store_completion_trip_seconds",
                           "mend_store_writer_lock_wait_seconds", "mend_store_checkpoint_seconds",
                           "mend_store_writer_checkpoint_seconds"}) {
    CHECK(text.find(std::string("\n# TYPE ") + name + " histogram\n") != std::string::npos);
  }
}

// The query plan of `statement` on `db`, one step per line ("SEARCH events USING ...").
std::string query_plan(sqlite::Db& db, const std::string& statement) {
  sqlite::Statement explain(db, ("EXPLAIN QUERY PLAN " + statement).c_str());
  REQUIRE_MESSAGE(explain.ok(), db.last_error());
  std::string plan;
  while (explain.step() == SQLITE_ROW) plan += explain.column_text(3) + "\n";
  return plan;
}

// Every statement a connection prepared that names events or results, with its plan.
std::vector<std::pair<std::string, std::string>> plans_of_keyed_tables(sqlite::Db& db) {
  std::vector<std::string> statements;
  for (sqlite3_stmt* s = sqlite3_next_stmt(db.get(), nullptr); s != nullptr;
       s = sqlite3_next_stmt(db.get(), s)) {
    const std::string text = sqlite3_sql(s);
    if (text.find("events") != std::string::npos || text.find("results") != std::string::npos) {
      statements.push_back(text);
    }
  }
  std::vector<std::pair<std::string, std::string>> plans;
  for (const std::string& statement : statements) {
    plans.emplace_back(statement, query_plan(db, statement));
  }
  return plans;
}

TEST_CASE("every statement on events and results seeks by a key: no scan, no sort") {
  TempDir dir;
  open_store(dir.path()).reset();
  std::string message;
  auto writer_db = sqlite::Db::open(db_file(dir.path()), message);
  auto reader_db = sqlite::Db::open(db_file(dir.path()), message);
  REQUIRE(writer_db);
  REQUIRE(reader_db);
  sqlite::WriterConnection writer(std::move(writer_db));
  sqlite::ReaderConnection reader(std::move(reader_db));
  REQUIRE(writer.ok());
  REQUIRE(reader.ok());
  auto plans = plans_of_keyed_tables(*writer.db);
  auto reader_plans = plans_of_keyed_tables(*reader.db);
  plans.insert(plans.end(), reader_plans.begin(), reader_plans.end());
  REQUIRE(plans.size() >= 10);  // the writer's and the readers' statements were found
  for (const auto& [statement, plan] : plans) {
    INFO(statement, "\n", plan);
    CHECK(plan.find("TEMP B-TREE") == std::string::npos);
    std::istringstream steps(plan);
    // Only the list of rooms scans a table: the rooms (r), by design.
    for (std::string step; std::getline(steps, step);) {
      CHECK((!step.starts_with("SCAN") || step == "SCAN r"));
    }
  }
}

}  // namespace
}  // namespace mend::store
