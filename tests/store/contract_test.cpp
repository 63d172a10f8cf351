// The Store contract (server/store/store.h), checked against every implementation: memory and
// SQLite in store_tests, PostgreSQL in postgres_store_tests (this file compiled again with
// MEND_CONTRACT_POSTGRES, beside one test cluster for the whole binary).
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>

#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "store_support.h"

namespace mend::store::contract {

struct MemoryFixture {
  std::shared_ptr<Store> store = std::make_shared<MemoryStore>();
};

struct SqliteFixture {
  SqliteFixture() {
    auto opened = SqliteStore::open(SqliteStoreOptions{.data_dir = dir.path()});
    REQUIRE_MESSAGE(opened.store, opened.error->message);
    store = std::move(opened.store);
  }
  testing::TempDir dir;
  std::shared_ptr<Store> store;
};

}  // namespace mend::store::contract

TYPE_TO_STRING(mend::store::contract::MemoryFixture);
TYPE_TO_STRING(mend::store::contract::SqliteFixture);

#ifdef MEND_CONTRACT_POSTGRES
#include "pg_fixture.h"
#endif

namespace mend::store::contract {
namespace {

using namespace testing;

#ifdef MEND_CONTRACT_POSTGRES
#define STORE_CONTRACT(name) TEST_CASE_TEMPLATE(name, Fixture, PostgresFixture)
#else
#define STORE_CONTRACT(name) TEST_CASE_TEMPLATE(name, Fixture, MemoryFixture, SqliteFixture)
#endif

STORE_CONTRACT("appended events load back in seq order with their content") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, {event(1, "first words"), event(2)}));
  REQUIRE_FALSE(append(*f.store, "r", 2, {event(3, "more words")}));
  LoadResult loaded = load(*f.store, "r");
  REQUIRE_FALSE(loaded.error);
  REQUIRE(loaded.events.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) CHECK(loaded.events[i].seq() == i + 1);
  CHECK(loaded.events[0].shared().text() == "first words");
  CHECK(loaded.events[0].actor().role() == v1::PARTNER_A);
  CHECK(loaded.events[0].at_ms() == event(1).at_ms());
  CHECK(loaded.events[2].shared().text() == "more words");
}

STORE_CONTRACT(
    "load after a seq returns only the later events, and NOT_FOUND for an unknown room") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 5)));
  LoadResult loaded = load(*f.store, "r", 3);
  REQUIRE(loaded.events.size() == 2);
  CHECK(loaded.events[0].seq() == 4);
  CHECK(load(*f.store, "r", 5).events.empty());
  loaded = load(*f.store, "nope");
  REQUIRE(loaded.error.has_value());
  CHECK(loaded.error->code == StoreErrorCode::kNotFound);
}

STORE_CONTRACT("an append at the wrong seq is a conflict and stores nothing") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 2)));
  CHECK(append(*f.store, "r", 0, events(1, 1))->code == StoreErrorCode::kConflict);  // exists
  CHECK(append(*f.store, "r", 1, events(2, 1))->code == StoreErrorCode::kConflict);  // behind
  CHECK(append(*f.store, "r", 3, events(4, 1))->code == StoreErrorCode::kConflict);  // ahead
  CHECK(append(*f.store, "x", 3, events(4, 1))->code == StoreErrorCode::kConflict);  // no room
  CHECK(load(*f.store, "r").events.size() == 2);
  CHECK(load(*f.store, "x").error->code == StoreErrorCode::kNotFound);
}

STORE_CONTRACT("an append without events or with a gap in its seqs is invalid") {
  Fixture f;
  CHECK(append(*f.store, "r", 0, {})->code == StoreErrorCode::kInvalid);
  CHECK(append(*f.store, "r", 0, {event(1), event(3)})->code == StoreErrorCode::kInvalid);
  CHECK(append(*f.store, "r", 0, {event(2)})->code == StoreErrorCode::kInvalid);
  CHECK(load(*f.store, "r").error->code == StoreErrorCode::kNotFound);
}

STORE_CONTRACT("a command's result is recorded with its events and found by its key") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  const CommandKey key{"r", "A", "c1"};
  REQUIRE_FALSE(append(*f.store, "r", 1, events(2, 2), RecordedResult{key, accepted("c1", 2, 3)}));
  FindResult found = find(*f.store, key);
  REQUIRE_FALSE(found.error);
  REQUIRE(found.result.has_value());
  CHECK(found.result->command_id() == "c1");
  CHECK(found.result->first_seq() == 2);
  CHECK(found.result->last_seq() == 3);
  CHECK_FALSE(find(*f.store, CommandKey{"r", "B", "c1"}).result);  // ids are per participant
  CHECK_FALSE(find(*f.store, CommandKey{"r", "A", "c2"}).result);
  CHECK_FALSE(find(*f.store, CommandKey{"other", "A", "c1"}).result);  // and per room
}

STORE_CONTRACT(
    "a retried command's result cannot be recorded twice and its events are not stored") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  const CommandKey key{"r", "O:Dr. Kim", "c1"};
  REQUIRE_FALSE(append(*f.store, "r", 1, events(2, 1), RecordedResult{key, accepted("c1", 2, 2)}));
  CHECK(append(*f.store, "r", 2, events(3, 1), RecordedResult{key, accepted("c1", 3, 3)})->code ==
        StoreErrorCode::kConflict);
  CHECK(load(*f.store, "r").events.size() == 2);
  CHECK(find(*f.store, key).result->first_seq() == 2);
}

STORE_CONTRACT("a load of the whole room lists the commands it recorded, so that a command id it "
               "never saw needs no lookup") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  REQUIRE_FALSE(append(*f.store, "r", 1, events(2, 1),
                       RecordedResult{CommandKey{"r", "A", "c1"}, accepted("c1", 2, 2)}));
  REQUIRE_FALSE(record_rejection(*f.store, CommandKey{"r", "B", "c2"}, v1::NOT_YOUR_TURN));
  LoadResult loaded = load(*f.store, "r");
  REQUIRE_FALSE(loaded.error);
  REQUIRE(loaded.recorded != nullptr);
  CHECK(loaded.recorded->size() == 2);
  CHECK(loaded.recorded->may_contain(CommandKey{"r", "A", "c1"}));
  CHECK(loaded.recorded->may_contain(CommandKey{"r", "B", "c2"}));
  // 64-bit digests: a false "may contain" only costs a lookup, and is this unlikely.
  CHECK_FALSE(loaded.recorded->may_contain(CommandKey{"r", "A", "c2"}));
  CHECK_FALSE(loaded.recorded->may_contain(CommandKey{"r", "B", "c1"}));
  CHECK_FALSE(loaded.recorded->may_contain(CommandKey{"r", "A", "c3"}));
  // A load of the later events only (a resume, a resync) does not list them.
  CHECK(load(*f.store, "r", 1).recorded == nullptr);
}

STORE_CONTRACT("a recorded rejection is found by its key and cannot be recorded twice") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  const CommandKey key{"r", "B", "c1"};
  REQUIRE_FALSE(record_rejection(*f.store, key, v1::NOT_YOUR_TURN));
  FindResult found = find(*f.store, key);
  REQUIRE(found.result.has_value());
  CHECK_FALSE(found.result->accepted());
  CHECK(found.result->rejection().code() == v1::NOT_YOUR_TURN);
  CHECK_FALSE(find(*f.store, CommandKey{"r", "A", "c1"}).result);
  CHECK(record_rejection(*f.store, key)->code == StoreErrorCode::kConflict);
  // Nor can the rejected command be accepted later under the same id.
  CHECK(append(*f.store, "r", 1, events(2, 1), RecordedResult{key, accepted("c1", 2, 2)})->code ==
        StoreErrorCode::kConflict);
  CHECK(record_rejection(*f.store, CommandKey{"nope", "B", "c1"})->code ==
        StoreErrorCode::kNotFound);
  CHECK(load(*f.store, "r").events.size() == 1);  // a rejection stores no event
}

STORE_CONTRACT("recorded rejections are bounded per participant: the oldest are forgotten") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  const CommandKey accepted_key{"r", "A", "kept"};
  REQUIRE_FALSE(append(*f.store, "r", 1, events(2, 1),
                       RecordedResult{accepted_key, accepted("kept", 2, 2)}));
  const auto key = [](const std::string& participant, std::size_t i) {
    return CommandKey{"r", participant, "c" + std::to_string(i)};
  };
  REQUIRE_FALSE(record_rejection(*f.store, key("B", 0)));
  // Issued together (they share group commits), completed in order: the last one waits.
  std::atomic<std::size_t> failed = 0;
  for (std::size_t i = 0; i + 1 < kRejectionsKeptPerParticipant + 2; ++i) {
    f.store->record_rejection(RecordedResult{key("A", i), rejected("c", v1::WRONG_PHASE)}, 0,
                              [&failed](std::optional<StoreError> error) {
                                if (error) ++failed;
                              });
  }
  REQUIRE_FALSE(record_rejection(*f.store, key("A", kRejectionsKeptPerParticipant + 1)));
  REQUIRE(failed == 0);
  CHECK_FALSE(find(*f.store, key("A", 0)).result);
  CHECK_FALSE(find(*f.store, key("A", 1)).result);
  CHECK(find(*f.store, key("A", 2)).result);
  CHECK(find(*f.store, key("A", kRejectionsKeptPerParticipant + 1)).result);
  CHECK(find(*f.store, key("B", 0)).result);     // another participant's are not counted
  CHECK(find(*f.store, accepted_key).result);    // accepted results are never forgotten
}

STORE_CONTRACT("appends to one room complete in the order they were issued") {
  Fixture f;
  std::mutex mutex;
  std::vector<std::uint64_t> completed;
  std::vector<std::optional<StoreError>> errors;
  constexpr std::uint64_t kAppends = 20;
  for (std::uint64_t seq = 1; seq <= kAppends; ++seq) {
    f.store->append(AppendRequest{"r", seq - 1, {event(seq)}, std::nullopt},
                    [&, seq](std::optional<StoreError> e) {
                      std::lock_guard lock(mutex);
                      completed.push_back(seq);
                      errors.push_back(std::move(e));
                    });
  }
  // The final append to the same room completes after the earlier ones: waiting for it waits
  // for all of them.
  REQUIRE_FALSE(append(*f.store, "r", kAppends, {event(kAppends + 1)}));
  std::lock_guard lock(mutex);
  REQUIRE(completed.size() == kAppends);
  for (std::uint64_t i = 0; i < kAppends; ++i) {
    CHECK(completed[i] == i + 1);
    CHECK_FALSE(errors[i]);
  }
}

STORE_CONTRACT("a destroyed room is unknown and its id and seqs are never reused") {
  Fixture f;
  const CommandKey key{"r", "A", "c1"};
  REQUIRE_FALSE(append(*f.store, "r", 0, {event(1, "words to forget")},
                       RecordedResult{key, accepted("c1", 1, 1)}));
  REQUIRE_FALSE(append(*f.store, "keep", 0, events(1, 1)));
  REQUIRE_FALSE(destroy(*f.store, "r"));
  CHECK(load(*f.store, "r").error->code == StoreErrorCode::kNotFound);
  CHECK_FALSE(find(*f.store, key).result);
  CHECK(append(*f.store, "r", 0, events(1, 1))->code == StoreErrorCode::kConflict);
  CHECK(append(*f.store, "r", 1, events(2, 1))->code == StoreErrorCode::kConflict);
  CHECK(destroy(*f.store, "r")->code == StoreErrorCode::kNotFound);
  CHECK(destroy(*f.store, "never")->code == StoreErrorCode::kNotFound);
  CHECK(rewrite(*f.store, "r", {event(1)})->code == StoreErrorCode::kNotFound);
  ListRoomsResult listed = list(*f.store);
  REQUIRE(listed.rooms.size() == 1);
  CHECK(listed.rooms[0].room_id == "keep");
  CHECK(load(*f.store, "keep").events.size() == 1);
}

STORE_CONTRACT("rewrite_events replaces the content of stored events and keeps their seqs") {
  Fixture f;
  REQUIRE_FALSE(
      append(*f.store, "r", 0, {event(1, "keep this"), event(2, "erase this"), event(3)}));
  REQUIRE_FALSE(rewrite(*f.store, "r", {event(2, "[erased]")}));
  LoadResult loaded = load(*f.store, "r");
  REQUIRE(loaded.events.size() == 3);
  CHECK(loaded.events[0].shared().text() == "keep this");
  CHECK(loaded.events[1].seq() == 2);
  CHECK(loaded.events[1].shared().text() == "[erased]");
  CHECK(loaded.events[2].has_floor_passed());
  REQUIRE_FALSE(append(*f.store, "r", 3, events(4, 1)));  // the room goes on at its seq
}

STORE_CONTRACT("a rewrite naming an unknown seq is invalid and changes nothing") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, {event(1, "one"), event(2, "two")}));
  CHECK(rewrite(*f.store, "r", {})->code == StoreErrorCode::kInvalid);
  CHECK(rewrite(*f.store, "r", {event(1, "x"), event(3, "x")})->code == StoreErrorCode::kInvalid);
  CHECK(rewrite(*f.store, "r", {event(0, "x")})->code == StoreErrorCode::kInvalid);
  CHECK(rewrite(*f.store, "r", {event(1, "x"), event(1, "y")})->code == StoreErrorCode::kInvalid);
  CHECK(rewrite(*f.store, "nope", {event(1, "x")})->code == StoreErrorCode::kNotFound);
  LoadResult loaded = load(*f.store, "r");
  REQUIRE(loaded.events.size() == 2);
  CHECK(loaded.events[0].shared().text() == "one");
  CHECK(loaded.events[1].shared().text() == "two");
}

// An erasure and the audit entry that records it are one commit (DESIGN 7): both or neither.

STORE_CONTRACT("rewrite_events_audited stores the rewrite and its audit entry together") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, {event(1, "erase this"), event(2)}));
  REQUIRE_FALSE(rewrite_audited(*f.store, "r", {event(1, "[erased]")},
                                {audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED, 2)}));
  CHECK(load(*f.store, "r").events[0].shared().text() == "[erased]");
  AuditLoadResult audit = audit_log(*f.store, "r");
  REQUIRE_FALSE(audit.error);
  REQUIRE(audit.entries.size() == 1);
  CHECK(audit.entries[0].kind() == v1::AUDIT_CONTRIBUTIONS_ERASED);
  CHECK(audit.entries[0].epoch() == 2);
}

STORE_CONTRACT("a rewrite_events_audited that fails stores neither the rewrite nor its entry") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, {event(1, "one"), event(2, "two")}));
  const auto entry = audit_entry(v1::AUDIT_CONTRIBUTIONS_ERASED, 2);
  // The second seq is not stored: the first one's rewrite must not stay either.
  CHECK(rewrite_audited(*f.store, "r", {event(1, "x"), event(3, "x")}, {entry})->code ==
        StoreErrorCode::kInvalid);
  CHECK(rewrite_audited(*f.store, "nope", {event(1, "x")}, {entry})->code ==
        StoreErrorCode::kNotFound);
  CHECK(load(*f.store, "r").events[0].shared().text() == "one");
  CHECK(audit_log(*f.store, "r").entries.empty());
  CHECK(audit_log(*f.store, "nope").entries.empty());
}

STORE_CONTRACT("destroy_room_audited destroys the room and stores its audit entry together") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 3)));
  const auto entry = audit_entry(v1::AUDIT_ROOM_ERASED, 2);
  REQUIRE_FALSE(destroy_audited(*f.store, "r", {entry}));
  CHECK(load(*f.store, "r").error->code == StoreErrorCode::kNotFound);
  AuditLoadResult audit = audit_log(*f.store, "r");
  REQUIRE(audit.entries.size() == 1);
  CHECK(audit.entries[0].kind() == v1::AUDIT_ROOM_ERASED);
  // Destroying it again fails and records nothing.
  CHECK(destroy_audited(*f.store, "r", {entry})->code == StoreErrorCode::kNotFound);
  CHECK(destroy_audited(*f.store, "never", {entry})->code == StoreErrorCode::kNotFound);
  CHECK(audit_log(*f.store, "r").entries.size() == 1);
  CHECK(audit_log(*f.store, "never").entries.empty());
}

STORE_CONTRACT("an append's audit entries are stored with its events, and not when it fails") {
  Fixture f;
  REQUIRE_FALSE(append_audited(*f.store, "r", 0, events(1, 2),
                               {audit_entry(v1::AUDIT_CONSENT_GIVEN)}));
  CHECK(append_audited(*f.store, "r", 5, events(6, 1), {audit_entry(v1::AUDIT_CONSENT_REVOKED)})
            ->code == StoreErrorCode::kConflict);
  REQUIRE_FALSE(append_audited(*f.store, "r", 2, events(3, 1), {}));
  CHECK(load(*f.store, "r").events.size() == 3);
  AuditLoadResult audit = audit_log(*f.store, "r");
  REQUIRE(audit.entries.size() == 1);
  CHECK(audit.entries[0].kind() == v1::AUDIT_CONSENT_GIVEN);
}

STORE_CONTRACT("list_rooms gives every live room with its last seq and times") {
  Fixture f;
  CHECK(list(*f.store).rooms.empty());
  REQUIRE_FALSE(append(*f.store, "b", 0, events(1, 3)));
  REQUIRE_FALSE(append(*f.store, "a", 0, events(1, 1)));
  ListRoomsResult listed = list(*f.store);
  REQUIRE_FALSE(listed.error);
  REQUIRE(listed.rooms.size() == 2);
  CHECK(listed.rooms[0].room_id == "a");
  CHECK(listed.rooms[1].room_id == "b");
  CHECK(listed.rooms[1].last_seq == 3);
  CHECK(listed.rooms[1].first_at_ms == event(1).at_ms());
  CHECK(listed.rooms[1].last_at_ms == event(3).at_ms());
}

STORE_CONTRACT("list_rooms gives each room the creator of its first append (the room quota)") {
  Fixture f;
  auto create = [&](const std::string& room, std::string creator) {
    AppendRequest request{room, 0, events(1, 1), std::nullopt};
    request.creator = std::move(creator);
    return append(*f.store, std::move(request));
  };
  REQUIRE_FALSE(create("a", std::string("digest\0one", 10)));
  REQUIRE_FALSE(create("b", ""));
  AppendRequest later{"a", 1, events(2, 1), std::nullopt};
  later.creator = "another";  // ignored: only the first append names the creator
  REQUIRE_FALSE(append(*f.store, std::move(later)));
  ListRoomsResult listed = list(*f.store);
  REQUIRE(listed.rooms.size() == 2);
  CHECK(listed.rooms[0].creator == std::string("digest\0one", 10));
  CHECK(listed.rooms[1].creator.empty());
}

// Synchronous add_refusals / load_refusals (every store may complete on another thread).
std::optional<StoreError> add_refusals(Store& store, const std::string& room,
                                       std::vector<RefusalCount> deltas) {
  std::promise<std::optional<StoreError>> promise;
  store.add_refusals(room, std::move(deltas),
                     [&](std::optional<StoreError> failed) { promise.set_value(failed); });
  return promise.get_future().get();
}

RefusalsResult load_refusals(Store& store, const std::string& room) {
  std::promise<RefusalsResult> promise;
  store.load_refusals(room, [&](RefusalsResult result) { promise.set_value(std::move(result)); });
  return promise.get_future().get();
}

STORE_CONTRACT("refusal counts add up per partner and code and load back in order") {
  Fixture f;
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  CHECK(load_refusals(*f.store, "r").refusals.empty());
  REQUIRE_FALSE(add_refusals(*f.store, "r",
                             {{v1::PARTNER_B, v1::TOO_SOON, 2}, {v1::PARTNER_A, v1::NOT_YOUR_TURN, 1}}));
  REQUIRE_FALSE(add_refusals(*f.store, "r", {{v1::PARTNER_B, v1::TOO_SOON, 3}}));
  RefusalsResult loaded = load_refusals(*f.store, "r");
  REQUIRE_FALSE(loaded.error);
  const std::vector<RefusalCount> expected = {{v1::PARTNER_A, v1::NOT_YOUR_TURN, 1},
                                              {v1::PARTNER_B, v1::TOO_SOON, 5}};
  CHECK(loaded.refusals == expected);
}

STORE_CONTRACT("refusal counts: unknown room not found, invalid deltas refused, erased with "
               "the room") {
  Fixture f;
  CHECK(add_refusals(*f.store, "nowhere", {{v1::PARTNER_A, v1::TOO_SOON, 1}})->code ==
        StoreErrorCode::kNotFound);
  CHECK(load_refusals(*f.store, "nowhere").error->code == StoreErrorCode::kNotFound);
  REQUIRE_FALSE(append(*f.store, "r", 0, events(1, 1)));
  CHECK(add_refusals(*f.store, "r", {})->code == StoreErrorCode::kInvalid);
  CHECK(add_refusals(*f.store, "r", {{v1::PARTNER_A, v1::TOO_SOON, 0}})->code ==
        StoreErrorCode::kInvalid);
  CHECK(add_refusals(*f.store, "r", {{v1::OBSERVER, v1::TOO_SOON, 1}})->code ==
        StoreErrorCode::kInvalid);
  CHECK(load_refusals(*f.store, "r").refusals.empty());  // nothing of a refused call stored
  REQUIRE_FALSE(add_refusals(*f.store, "r", {{v1::PARTNER_A, v1::TOO_SOON, 4}}));
  REQUIRE_FALSE(destroy(*f.store, "r"));
  CHECK(load_refusals(*f.store, "r").error->code == StoreErrorCode::kNotFound);
  CHECK(add_refusals(*f.store, "r", {{v1::PARTNER_A, v1::TOO_SOON, 1}})->code ==
        StoreErrorCode::kNotFound);
}

}  // namespace
}  // namespace mend::store::contract
