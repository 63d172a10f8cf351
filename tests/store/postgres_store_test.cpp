// PostgresStore beyond the shared contract (contract_test.cpp): connection loss and restarts,
// commits in doubt, two writers of one room, schema and master key checks, what is at rest.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "commit_cutter.h"
#include "server/store/crypto.h"
#include "pg_fixture.h"
#include "store_support.h"

namespace mend::store::testing {
namespace {

std::shared_ptr<PostgresStore> open_store(const PostgresStoreOptions& options) {
  auto opened = PostgresStore::open(options);
  REQUIRE_MESSAGE(opened.store, opened.error->message);
  return opened.store;
}

// A command's append: one Shared event whose text names the command, with its result.
std::optional<StoreError> append_command(Store& store, const std::string& room,
                                         std::uint64_t last_seq, const std::string& command_id) {
  const std::uint64_t seq = last_seq + 1;
  return append(store, room, last_seq, {event(seq, "said by " + command_id)},
                RecordedResult{CommandKey{room, "A", command_id}, accepted(command_id, seq, seq)});
}

// Every command's text in the room's log, with how often it appears.
std::map<std::string, int> stored_commands(Store& store, const std::string& room) {
  LoadResult loaded = load(store, room);
  REQUIRE_FALSE(loaded.error);
  std::map<std::string, int> seen;
  for (const v1::Event& e : loaded.events) {
    if (e.has_shared()) ++seen[e.shared().text()];
  }
  return seen;
}

TEST_CASE("a commit whose answer was lost is resolved after reconnecting: stored once, acknowledged") {
  CommitCutter cutter(cluster().port());
  TempDir dir("pg-key");
  PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  options.url = "host=127.0.0.1 port=" + std::to_string(cutter.port()) + " user=mend " +
                "dbname=postgres options='-csearch_path=" +
                options.url.substr(options.url.find("search_path=") + 12);
  auto store = open_store(options);
  REQUIRE_FALSE(append_command(*store, "r", 0, "c1"));
  cutter.cut_next_commit();
  CHECK_FALSE(append_command(*store, "r", 1, "c2"));  // in doubt, found committed: success
  CHECK(cutter.cuts() == 1);
  CHECK(store->stats().in_doubt == 1);
  CHECK(store->stats().in_doubt_committed == 1);
  std::map<std::string, int> seen = stored_commands(*store, "r");
  CHECK(seen.size() == 2);
  CHECK(seen["said by c2"] == 1);
  // The store goes on appending on its new connection.
  CHECK_FALSE(append_command(*store, "r", 2, "c3"));
  CHECK(find(*store, CommandKey{"r", "A", "c2"}).result.has_value());
}

TEST_CASE("PostgreSQL restarted while appending: every acknowledged command stored once, none "
          "doubled, the others told UNAVAILABLE") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  REQUIRE_FALSE(append(*store, "r", 0, {event(1)}));
  std::atomic<bool> restarted{false};
  std::atomic<int> acknowledged{0};
  std::atomic<int> unavailable{0};
  std::atomic<bool> unexpected{false};
  std::set<std::string> acked;
  std::promise<void> twenty;
  std::thread writer([&] {
    std::uint64_t last = 1;
    // Each command is retried with its own id until it is acknowledged; after an UNAVAILABLE
    // the client asks the dedupe lookup whether it was stored, as the room host does.
    for (int i = 0; i < 400 && (i < 40 || !restarted || acknowledged < 60); ++i) {
      const std::string id = "c" + std::to_string(i);
      for (int attempt = 0; attempt < 500; ++attempt) {
        auto failed = append_command(*store, "r", last, id);
        if (!failed) {
          ++last;
          if (++acknowledged == 20) twenty.set_value();
          acked.insert(id);
          break;
        }
        if (failed->code != StoreErrorCode::kUnavailable) {
          unexpected = true;
          return;
        }
        ++unavailable;
        FindResult found = find(*store, CommandKey{"r", "A", id});
        if (found.result) {  // stored after all (its answer was lost): never append it again
          last = found.result->last_seq();
          acked.insert(id);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a client's retry pace
      }
    }
  });
  REQUIRE(twenty.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  cluster().stop();
  cluster().start();
  restarted = true;
  writer.join();
  CHECK_FALSE(unexpected);
  CHECK(unavailable > 0);  // the clients were told to retry
  std::map<std::string, int> seen = stored_commands(*store, "r");
  CHECK(seen.size() == acked.size());
  for (const std::string& id : acked) CHECK(seen["said by " + id] == 1);
  CHECK(store->stats().reconnects >= 1);
}

TEST_CASE("two stores on one database: the second writer of the same seq gets a conflict") {
  TempDir dir("pg-key");
  const PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  auto first = open_store(options);
  auto second = open_store(options);
  REQUIRE_FALSE(append(*first, "r", 0, events(1, 2)));
  REQUIRE_FALSE(append(*first, "r", 2, {event(3, "from the first")}));
  CHECK(append(*second, "r", 2, {event(3, "from the second")})->code == StoreErrorCode::kConflict);
  CHECK(append(*second, "r", 0, events(1, 1))->code == StoreErrorCode::kConflict);
  LoadResult loaded = load(*second, "r");
  REQUIRE(loaded.events.size() == 3);
  CHECK(loaded.events[2].shared().text() == "from the first");
}

// Appends one event to each room at once (each completion checked), and waits for them all.
void append_to_all(Store& store, int rooms, std::uint64_t last_seq) {
  std::atomic<int> done{0};
  for (int room = 0; room < rooms; ++room) {
    store.append(AppendRequest{"r" + std::to_string(room), last_seq, events(last_seq + 1, 1),
                               std::nullopt},
                 [&](std::optional<StoreError> failed) {
                   CHECK_FALSE(failed);
                   ++done;
                 });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (done < rooms && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(done == rooms);
}

TEST_CASE("many rooms' appends share one commit") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  constexpr int kRooms = 200;
  append_to_all(*store, kRooms, 0);
  CHECK(store->stats().commits < kRooms);
  CHECK(store->stats().largest_batch > 1);
}

TEST_CASE("a group commit costs two round trips however many writes it holds, and one more "
          "only to read the keys of rooms not cached") {
  TempDir dir("pg-key");
  const PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  constexpr int kRooms = 100;
  {
    auto creator = open_store(options);
    append_to_all(*creator, kRooms, 0);
    const PostgresStoreStats stats = creator->stats();
    CHECK(stats.round_trips == 2 * stats.commits);  // new rooms: their keys are made
  }
  auto store = open_store(options);  // its key cache is empty
  append_to_all(*store, kRooms, 1);
  const PostgresStoreStats first = store->stats();
  CHECK(first.appends_committed == kRooms);
  CHECK(first.round_trips > 2 * first.commits);
  CHECK(first.round_trips <= 3 * first.commits);
  append_to_all(*store, kRooms, 2);  // every key cached now
  const PostgresStoreStats second = store->stats();
  CHECK(second.round_trips - first.round_trips == 2 * (second.commits - first.commits));
  CHECK(load(*store, "r7").events.size() == 3);
}

TEST_CASE("a read costs one round trip: a load of the whole room with its recorded results, and "
          "a result lookup once the room's key is known") {
  TempDir dir("pg-key");
  const PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  {
    auto writer = open_store(options);
    REQUIRE_FALSE(append_command(*writer, "r", 0, "c1"));
    REQUIRE_FALSE(append_command(*writer, "r", 1, "c2"));
  }
  auto store = open_store(options);  // its readers know no key yet
  const std::uint64_t before_find = store->stats().read_round_trips;
  REQUIRE(find(*store, CommandKey{"r", "A", "c1"}).result);
  CHECK(store->stats().read_round_trips - before_find == 2);  // the key first, once
  const std::uint64_t before_load = store->stats().read_round_trips;
  LoadResult loaded = load(*store, "r");
  REQUIRE_FALSE(loaded.error);
  CHECK(loaded.recorded != nullptr);
  CHECK(store->stats().read_round_trips - before_load == 1);
  const std::uint64_t before = store->stats().read_round_trips;
  const FindResult second = find(*store, CommandKey{"r", "A", "c2"});
  REQUIRE(second.result);
  CHECK(second.result->first_seq() == 2);
  CHECK_FALSE(find(*store, CommandKey{"r", "A", "never"}).result);
  CHECK(store->stats().read_round_trips - before == 2);
  // An erased room has no results, its key forgotten by the readers.
  REQUIRE_FALSE(destroy_audited(*store, "r", {audit_entry(v1::AUDIT_ROOM_ERASED)}, 0));
  CHECK_FALSE(find(*store, CommandKey{"r", "A", "c1"}).result);
}

TEST_CASE("content is sealed at rest: no text, command id or participant in the database") {
  TempDir dir("pg-key");
  const std::string schema = fresh_schema();
  auto store = open_store(pg_options(schema, dir.path()));
  REQUIRE_FALSE(append(*store, "r", 0, {event(1, "a very private sentence")},
                       RecordedResult{CommandKey{"r", "Participant-Name", "command-xyz"},
                                      accepted("command-xyz", 1, 1)}));
  store->close();
  // Raises (failing the test) if any column of any row holds one of the strings.
  for (const char* needle : {"a very private sentence", "command-xyz", "Participant-Name"}) {
    CHECK_NOTHROW(cluster().sql(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM " + schema + ".events e WHERE position('" +
        needle + "'::bytea IN e.sealed) > 0) OR EXISTS (SELECT 1 FROM " + schema +
        ".results r WHERE position('" + needle + "'::bytea IN r.sealed) > 0 OR position('" +
        needle + "'::bytea IN r.lookup) > 0) THEN RAISE 'found in clear'; END IF; END $$"));
  }
}

TEST_CASE("a database of a newer schema version is refused") {
  TempDir dir("pg-key");
  const std::string schema = fresh_schema();
  open_store(pg_options(schema, dir.path()))->close();
  cluster().sql("UPDATE " + schema + ".mend_schema SET version = 99");
  auto opened = PostgresStore::open(pg_options(schema, dir.path()));
  REQUIRE_FALSE(opened.store);
  CHECK(opened.error->code == StoreErrorCode::kInvalid);
  CHECK(opened.error->message.find("newer") != std::string::npos);
}

TEST_CASE("a master key that does not unwrap the rooms' keys is refused, and none is created for "
          "a database with rooms") {
  TempDir dir("pg-key");
  TempDir other("pg-key");
  const std::string schema = fresh_schema();
  auto store = open_store(pg_options(schema, dir.path()));
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  store->close();
  auto absent = PostgresStore::open(pg_options(schema, other.path()));
  REQUIRE_FALSE(absent.store);
  CHECK(absent.error->code == StoreErrorCode::kInvalid);
  CHECK_FALSE(std::filesystem::exists(other.path() / "master.key"));
  auto key = crypto::random_key();
  REQUIRE(key);
  write_file(other.path() / "master.key", std::string(key->view()));
  std::filesystem::permissions(other.path() / "master.key", std::filesystem::perms::owner_read);
  auto wrong = PostgresStore::open(pg_options(schema, other.path()));
  REQUIRE_FALSE(wrong.store);
  CHECK(wrong.error->code == StoreErrorCode::kCorrupt);
}

TEST_CASE("an unreachable database: open fails without the connection string in its message, "
          "and calls of an open store fail at once with UNAVAILABLE") {
  TempDir dir("pg-key");
  PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  PostgresStoreOptions wrong = options;
  wrong.url = "postgresql://mend:hunter2-secret@127.0.0.1:1/nowhere";
  auto opened = PostgresStore::open(wrong);
  REQUIRE_FALSE(opened.store);
  CHECK(opened.error->code == StoreErrorCode::kUnavailable);
  CHECK(opened.error->message.find("hunter2") == std::string::npos);

  auto store = open_store(options);
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  cluster().stop();
  const auto before = std::chrono::steady_clock::now();
  CHECK(append(*store, "r", 1, events(2, 1))->code == StoreErrorCode::kUnavailable);
  CHECK(load(*store, "r").error->code == StoreErrorCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  cluster().start();
  // Back: the next calls reconnect (after the backoff) and succeed.
  std::optional<StoreError> failed = append(*store, "r", 1, events(2, 1));
  for (int i = 0; i < 100 && failed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    failed = append(*store, "r", 1, events(2, 1));
  }
  CHECK_FALSE(failed);
  CHECK(load(*store, "r").events.size() == 2);
}

// A connection that failed while PostgreSQL was down waits out its backoff before it tries
// again, unless another connection of the store got through meanwhile: then PostgreSQL is
// back, and the next call must not fail for the rest of the backoff.
TEST_CASE("once one connection of the store reaches PostgreSQL again, the others stop waiting "
          "out their reconnect backoff") {
  TempDir dir("pg-key");
  PostgresStoreOptions options = pg_options(fresh_schema(), dir.path());
  options.reader_threads = 1;
  options.reconnect_backoff = std::chrono::minutes(10);  // longer than the test may take
  auto store = open_store(options);
  REQUIRE_FALSE(append(*store, "r", 0, events(1, 1)));
  REQUIRE(load(*store, "r").events.size() == 1);
  cluster().stop();
  // The writer's connection breaks and its reconnect fails: it backs off for ten minutes.
  REQUIRE(append(*store, "r", 1, events(2, 1))->code == StoreErrorCode::kUnavailable);
  cluster().start();
  // The reader never failed to connect: it reconnects at once (a read runs again once on a
  // new connection).
  REQUIRE(load(*store, "r").events.size() == 1);
  // So the writer tries again now instead of in ten minutes.
  CHECK_FALSE(append(*store, "r", 1, events(2, 1)));
  CHECK(load(*store, "r").events.size() == 2);
}

}  // namespace
}  // namespace mend::store::testing

namespace mend::store::testing {
namespace {

LeaseResult acquire(Store& store, const std::string& room, const std::string& node,
                    std::chrono::milliseconds ttl) {
  std::promise<LeaseResult> promise;
  auto future = promise.get_future();
  store.acquire_lease(room, node, ttl, [&](LeaseResult result) { promise.set_value(result); });
  REQUIRE(future.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return future.get();
}

std::optional<StoreError> release(Store& store, const std::string& room, const std::string& node,
                                  std::uint64_t epoch) {
  std::promise<std::optional<StoreError>> promise;
  auto future = promise.get_future();
  store.release_lease(room, node, epoch,
                      [&](std::optional<StoreError> result) { promise.set_value(result); });
  REQUIRE(future.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return future.get();
}

std::optional<StoreError> append_fenced(Store& store, const std::string& room,
                                        std::uint64_t expected, std::uint64_t epoch) {
  AppendRequest request{room, expected, events(expected + 1, 1), std::nullopt};
  request.lease_epoch = epoch;
  return append(store, std::move(request));
}

std::optional<StoreError> audit_fenced(Store& store, const std::string& room,
                                       v1::AuditKind kind, std::uint64_t epoch) {
  std::promise<std::optional<StoreError>> promise;
  auto future = promise.get_future();
  store.append_audit_fenced(room, {audit_entry(kind)}, epoch,
                            [&](std::optional<StoreError> result) { promise.set_value(result); });
  REQUIRE(future.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return future.get();
}

constexpr std::chrono::milliseconds kLong{60'000};
constexpr std::chrono::milliseconds kExpired{0};  // a lease that has run out at once

// Two nodes' stores on one fresh database: node 1 holds room "r" under a lease that has run
// out already (old_lease) and stored its seq 1; take_over() gives the room to node 2 (taken).
struct Takeover {
  Takeover() {
    old_lease = acquire(*node1, "r", "node-1", kExpired);
    REQUIRE(old_lease.held);
    REQUIRE_FALSE(append_fenced(*node1, "r", 0, old_lease.epoch));  // still the current epoch
  }
  void take_over() {
    taken = acquire(*node2, "r", "node-2", kLong);
    REQUIRE(taken.held);
  }

  TempDir dir{"pg-key"};
  std::string schema = fresh_schema();
  PostgresStoreOptions options = pg_options(schema, dir.path());
  std::shared_ptr<PostgresStore> node1 = open_store(options);
  std::shared_ptr<PostgresStore> node2 = open_store(options);
  LeaseResult old_lease;
  LeaseResult taken;
};

TEST_CASE("a room's lease is held by one node at a time and renewed with the same epoch") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  LeaseResult first = acquire(*store, "r", "node-1", kLong);
  REQUIRE_FALSE(first.error);
  CHECK(first.held);
  CHECK(first.epoch == 1);
  CHECK(first.remaining_ms > 50'000);
  LeaseResult other = acquire(*store, "r", "node-2", kLong);
  REQUIRE_FALSE(other.error);
  CHECK_FALSE(other.held);
  CHECK(other.holder == "node-1");
  CHECK(other.remaining_ms > 50'000);
  LeaseResult renewed = acquire(*store, "r", "node-1", kLong);
  CHECK(renewed.held);
  CHECK(renewed.epoch == 1);
}

TEST_CASE("an expired lease is taken over with a new epoch, and appends of the old epoch are "
          "fenced and store nothing") {
  Takeover rooms;
  rooms.take_over();
  CHECK(rooms.taken.epoch == rooms.old_lease.epoch + 1);
  CHECK(append_fenced(*rooms.node1, "r", 1, rooms.old_lease.epoch)->code ==
        StoreErrorCode::kFenced);
  REQUIRE_FALSE(append_fenced(*rooms.node2, "r", 1, rooms.taken.epoch));
  CHECK(load(*rooms.node2, "r").events.size() == 2);
  // The old holder cannot take the room back while the new lease runs.
  CHECK_FALSE(acquire(*rooms.node1, "r", "node-1", kLong).held);
  CHECK(append_fenced(*rooms.node1, "r", 2, 0) == std::nullopt);  // unfenced: a single-node append
}

TEST_CASE("a node refused a lease marks the room wanted: the holder's renewals say so until the "
          "want runs out, and a takeover clears it") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  REQUIRE(acquire(*store, "r", "node-1", kLong).held);
  CHECK_FALSE(acquire(*store, "r", "node-1", kLong).wanted_elsewhere);
  CHECK_FALSE(acquire(*store, "r", "node-2", kLong).held);  // wanted for kLong
  const LeaseResult renewed = acquire(*store, "r", "node-1", kLong);
  CHECK(renewed.held);
  CHECK(renewed.wanted_elsewhere);
  CHECK_FALSE(acquire(*store, "r", "node-3", kExpired).held);  // a want that ran out at once
  CHECK_FALSE(acquire(*store, "r", "node-1", kLong).wanted_elsewhere);
  // Taken over (released), the room is no longer wanted.
  CHECK_FALSE(acquire(*store, "r", "node-2", kLong).held);
  REQUIRE_FALSE(release(*store, "r", "node-1", renewed.epoch));
  REQUIRE(acquire(*store, "r", "node-2", kLong).held);
  CHECK_FALSE(acquire(*store, "r", "node-2", kLong).wanted_elsewhere);
}

TEST_CASE("a released lease is taken over at once (graceful drain)") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  LeaseResult lease = acquire(*store, "r", "node-1", kLong);
  REQUIRE(lease.held);
  REQUIRE_FALSE(release(*store, "r", "node-1", lease.epoch + 7));  // not that lease: no-op
  CHECK_FALSE(acquire(*store, "r", "node-2", kLong).held);
  REQUIRE_FALSE(release(*store, "r", "node-1", lease.epoch));
  LeaseResult taken = acquire(*store, "r", "node-2", kLong);
  CHECK(taken.held);
  CHECK(taken.epoch > lease.epoch);
}

TEST_CASE("a takeover waits for the old holder's append in flight, which commits first") {
  Takeover rooms;
  PostgresStore& node1 = *rooms.node1;
  // Many appends of the old holder race one takeover: each is either committed before it (and
  // then loaded by the new holder) or fenced; none lands after it.
  std::atomic<int> committed{0};
  std::atomic<int> fenced{0};
  std::promise<void> all_done;
  constexpr int kAppends = 50;
  std::atomic<int> completed{0};
  for (int i = 0; i < kAppends; ++i) {
    AppendRequest request{"r", static_cast<std::uint64_t>(i + 1),
                          events(static_cast<std::uint64_t>(i + 2), 1), std::nullopt};
    request.lease_epoch = rooms.old_lease.epoch;
    node1.append(std::move(request), [&](std::optional<StoreError> failed) {
      if (!failed) ++committed;
      if (failed && failed->code == StoreErrorCode::kFenced) ++fenced;
      if (++completed == kAppends) all_done.set_value();
    });
  }
  rooms.take_over();
  const std::size_t seen_at_takeover = load(*rooms.node2, "r").events.size();
  REQUIRE(all_done.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(committed + fenced == kAppends);
  CHECK(load(*rooms.node2, "r").events.size() == seen_at_takeover);
  CHECK(seen_at_takeover == static_cast<std::size_t>(committed + 1));
}

TEST_CASE("a node that lost the lease can neither rewrite nor erase the room: fenced, nothing "
          "changed") {
  Takeover rooms;
  PostgresStore& node1 = *rooms.node1;
  PostgresStore& node2 = *rooms.node2;
  const std::uint64_t old_epoch = rooms.old_lease.epoch;
  // While the epoch is current a fenced rewrite commits.
  REQUIRE_FALSE(rewrite_audited(node1, "r", {event(1, "[erased]")},
                                {audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED)}, old_epoch));
  rooms.take_over();
  const std::uint64_t epoch = rooms.taken.epoch;
  REQUIRE_FALSE(append_fenced(node2, "r", 1, epoch));
  const std::size_t audit_before = audit_log(node2, "r").entries.size();

  const auto rewritten = rewrite_audited(node1, "r", {event(2, "[erased]")},
                                         {audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED)},
                                         old_epoch);
  REQUIRE(rewritten);
  CHECK(rewritten->code == StoreErrorCode::kFenced);
  const auto destroyed =
      destroy_audited(node1, "r", {audit_entry(v1::AUDIT_ROOM_ERASED)}, old_epoch);
  REQUIRE(destroyed);
  CHECK(destroyed->code == StoreErrorCode::kFenced);

  LoadResult loaded = load(node2, "r");
  REQUIRE_FALSE(loaded.error);
  REQUIRE(loaded.events.size() == 2);
  CHECK(loaded.events[1].SerializeAsString() == event(2, "").SerializeAsString());
  CHECK(audit_log(node2, "r").entries.size() == audit_before);
  // The holder of the current epoch may.
  CHECK_FALSE(rewrite_audited(node2, "r", {event(2, "[erased]")}, {}, epoch));
  CHECK_FALSE(destroy_audited(node2, "r", {audit_entry(v1::AUDIT_ROOM_ERASED)}, epoch));
}

TEST_CASE("a node that lost the lease cannot record a privacy operation in the audit log: "
          "fenced, nothing stored") {
  Takeover rooms;
  // While the epoch is current the entry commits (a first request to erase the room).
  REQUIRE_FALSE(
      audit_fenced(*rooms.node1, "r", v1::AUDIT_ROOM_ERASURE_REQUESTED, rooms.old_lease.epoch));
  rooms.take_over();
  const std::size_t audit_before = audit_log(*rooms.node2, "r").entries.size();

  // The other partner's request, and an erasure of contributions that found nothing to erase.
  for (const v1::AuditKind kind : {v1::AUDIT_ROOM_ERASURE_REQUESTED, v1::AUDIT_CONTRIBUTIONS_ERASED}) {
    const auto recorded = audit_fenced(*rooms.node1, "r", kind, rooms.old_lease.epoch);
    REQUIRE(recorded);
    CHECK(recorded->code == StoreErrorCode::kFenced);
  }
  CHECK(audit_log(*rooms.node2, "r").entries.size() == audit_before);
  // The holder of the current epoch may; so may an unfenced (single-node) append.
  CHECK_FALSE(audit_fenced(*rooms.node2, "r", v1::AUDIT_CONTRIBUTIONS_ERASED, rooms.taken.epoch));
  CHECK_FALSE(audit_fenced(*rooms.node1, "r", v1::AUDIT_TRANSCRIPT_EXPORTED, 0));
  CHECK(audit_log(*rooms.node2, "r").entries.size() == audit_before + 2);
}

// Throws (through PostgreSQL's RAISE) unless `schema` holds exactly `expected` stored results
// (accepted or rejected) of room "r".
void check_results_stored(const std::string& schema, int expected) {
  cluster().sql("DO $$ BEGIN IF (SELECT count(*) FROM " + schema +
                ".results WHERE room_id = 'r') <> " + std::to_string(expected) +
                " THEN RAISE 'another number of stored results'; END IF; END $$");
}

TEST_CASE("a node that lost the lease cannot store a command's rejection: fenced, the row "
          "absent, and a retry on the new owner is decided there") {
  Takeover rooms;
  // While the epoch is current a fenced rejection commits.
  REQUIRE_FALSE(record_rejection(*rooms.node1, CommandKey{"r", "A", "c1"}, v1::NOT_YOUR_TURN,
                                 rooms.old_lease.epoch));
  rooms.take_over();
  const CommandKey key{"r", "B", "c2"};
  const auto recorded = record_rejection(*rooms.node1, key, v1::NOT_YOUR_TURN, rooms.old_lease.epoch);
  REQUIRE(recorded);
  CHECK(recorded->code == StoreErrorCode::kFenced);
  CHECK_FALSE(find(*rooms.node2, key).result);
  CHECK_NOTHROW(check_results_stored(rooms.schema, 1));
  // The holder of the current epoch decides the retry and stores its own answer.
  REQUIRE_FALSE(record_rejection(*rooms.node2, key, v1::WRONG_PHASE, rooms.taken.epoch));
  const FindResult found = find(*rooms.node2, key);
  REQUIRE(found.result);
  CHECK(found.result->rejection().code() == v1::WRONG_PHASE);
  CHECK_NOTHROW(check_results_stored(rooms.schema, 2));
}

TEST_CASE("a database of schema version 7 is migrated to 8: its rejections are fenced") {
  TempDir dir("pg-key");
  const std::string schema = fresh_schema();
  open_store(pg_options(schema, dir.path()))->close();
  // Back to version 7: as a node of the previous version left it.
  cluster().sql("DROP FUNCTION " + schema + ".mend_fenced_reject; UPDATE " + schema +
                ".mend_schema SET version = 7");
  auto store = open_store(pg_options(schema, dir.path()));
  const LeaseResult lease = acquire(*store, "r", "node-1", kLong);
  REQUIRE(lease.held);
  REQUIRE_FALSE(append_fenced(*store, "r", 0, lease.epoch));
  CHECK_FALSE(record_rejection(*store, CommandKey{"r", "A", "c1"}, v1::WRONG_PHASE, lease.epoch));
  const auto stale = record_rejection(*store, CommandKey{"r", "A", "c2"}, v1::WRONG_PHASE,
                                      lease.epoch + 1);
  REQUIRE(stale);
  CHECK(stale->code == StoreErrorCode::kFenced);
}

TEST_CASE("a room erased by another node: the key this node cached can neither read the old "
          "content nor seal a stored row, and leaves its memory") {
  Takeover rooms;
  PostgresStore& node1 = *rooms.node1;
  PostgresStore& node2 = *rooms.node2;
  // Node 1 caches the room's key: it wrote the room and read a result of it.
  const CommandKey key{"r", "A", "c2"};
  REQUIRE_FALSE(append_command(node1, "r", 1, "c2"));
  REQUIRE(find(node1, key).result);
  REQUIRE(node1.holds_key("r"));
  rooms.take_over();
  REQUIRE_FALSE(destroy_audited(node2, "r", {audit_entry(v1::AUDIT_ROOM_ERASED)}, rooms.taken.epoch));
  CHECK(node1.holds_key("r"));  // node 1 has not heard of the erasure yet

  SUBCASE("a read of a result finds none (the room is checked in the same round trip)") {
    const FindResult found = find(node1, key);
    CHECK_FALSE(found.error);
    CHECK_FALSE(found.result);
  }
  SUBCASE("an append of the old lease epoch is fenced") {
    CHECK(append_fenced(node1, "r", 2, rooms.old_lease.epoch)->code == StoreErrorCode::kFenced);
  }
  SUBCASE("an unfenced append is refused: the room was destroyed") {
    CHECK(append_command(node1, "r", 2, "c3")->code == StoreErrorCode::kConflict);
  }
  SUBCASE("a rejection is refused: unknown room") {
    CHECK(record_rejection(node1, CommandKey{"r", "B", "c4"})->code == StoreErrorCode::kNotFound);
  }
  SUBCASE("a renewal finds the lease held elsewhere") {
    CHECK_FALSE(acquire(node1, "r", "node-1", kLong).held);
  }
  CHECK_FALSE(node1.holds_key("r"));
  CHECK(load(node1, "r").error->code == StoreErrorCode::kNotFound);
  CHECK_NOTHROW(check_results_stored(rooms.schema, 0));
  CHECK_NOTHROW(cluster().sql("DO $$ BEGIN IF EXISTS (SELECT 1 FROM " + rooms.schema +
                              ".events) THEN RAISE 'an event was stored'; END IF; END $$"));
}

TEST_CASE("a renewal keeps a room's key cached; a lease taken anew after it lapsed, or released, "
          "drops it, and a write of a released epoch is fenced") {
  TempDir dir("pg-key");
  auto store = open_store(pg_options(fresh_schema(), dir.path()));
  const LeaseResult lapsing = acquire(*store, "r", "node-1", kExpired);
  REQUIRE(lapsing.held);
  REQUIRE_FALSE(append_fenced(*store, "r", 0, lapsing.epoch));
  REQUIRE(store->holds_key("r"));
  // Lapsed: another node may have served (and erased) the room meanwhile.
  const LeaseResult anew = acquire(*store, "r", "node-1", kLong);
  REQUIRE(anew.held);
  CHECK(anew.epoch == lapsing.epoch + 1);
  CHECK_FALSE(store->holds_key("r"));
  REQUIRE_FALSE(load(*store, "r").error);
  CHECK_FALSE(store->holds_key("r"));  // a load caches no key (it also serves non-owners)
  REQUIRE_FALSE(append_fenced(*store, "r", 1, anew.epoch));  // the owner's write reads it again
  CHECK(store->holds_key("r"));
  CHECK(acquire(*store, "r", "node-1", kLong).epoch == anew.epoch);  // a renewal
  CHECK(store->holds_key("r"));
  REQUIRE_FALSE(release(*store, "r", "node-1", anew.epoch));
  CHECK_FALSE(store->holds_key("r"));
  // A write of the released epoch, issued before the release and run after it, is fenced: it
  // neither commits nor keeps the key.
  CHECK(append_fenced(*store, "r", 2, anew.epoch)->code == StoreErrorCode::kFenced);
  CHECK_FALSE(store->holds_key("r"));
}

}  // namespace
}  // namespace mend::store::testing
