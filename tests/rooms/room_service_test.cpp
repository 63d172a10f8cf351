// RoomServiceImpl through its public API: a fake Recipient per connection, a ManualClock,
// a store whose appends can be held back, and the io_context run in the test thread.
#include "mend/v1/frames.pb.h"

#include <algorithm>

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "server/rooms/room_service_impl.h"
#include "server/store/memory_store.h"
#include "tests/rooms/room_test_support.h"

namespace mend::rooms {
namespace {

constexpr engine::TimeMs kStart = 1'700'000'000'000;
const char* const kObserver = "Dr. Kim";

// A connection as the rooms see it: records every frame (parsed) and the close code.
class FakeRecipient final : public Recipient {
 public:
  void send(OutFrame frame) override {
    REQUIRE_FALSE(closed.has_value());  // never sent to after close
    v1::ServerFrame parsed;
    REQUIRE(parsed.ParseFromString(*frame.bytes));
    last_seqs.push_back(frame.last_seq);
    raw.push_back(std::move(frame.bytes));
    frames.push_back(std::move(parsed));
  }
  void close(CloseCode code, std::string /*reason*/) override { closed = code; }

  std::vector<v1::ServerItem> items() const {
    std::vector<v1::ServerItem> out;
    for (const auto& f : frames) out.insert(out.end(), f.items().begin(), f.items().end());
    return out;
  }
  std::vector<v1::Event> events() const {
    std::vector<v1::Event> out;
    for (const auto& item : items()) {
      if (item.has_event()) out.push_back(item.event());
    }
    return out;
  }
  std::vector<v1::CommandResult> results() const {
    std::vector<v1::CommandResult> out;
    for (const auto& item : items()) {
      if (item.has_result()) out.push_back(item.result());
    }
    return out;
  }
  bool saw(v1::Event::BodyCase body) const {
    for (const auto& e : events()) {
      if (e.body_case() == body) return true;
    }
    return false;
  }
  void clear() {
    raw.clear();
    frames.clear();
  }

  std::vector<std::shared_ptr<const std::string>> raw;
  std::vector<std::uint64_t> last_seqs;  // OutFrame.last_seq of each frame
  std::vector<v1::ServerFrame> frames;
  std::optional<CloseCode> closed;
};

// A MemoryStore whose appends wait (uncommitted, uncompleted) while `hold` is set, until
// release(); or fail while `fail` is set.
class HeldStore final : public store::Store {
 public:
  void append(store::AppendRequest request, store::AppendDone done) override {
    if (fail) return done(store::StoreError{store::StoreErrorCode::kUnavailable, "test"});
    if (commit_then_fail) {  // an I/O error whose commit reached the disk anyway
      return inner.append(std::move(request), [done = std::move(done)](auto) {
        done(store::StoreError{store::StoreErrorCode::kUnavailable, "test"});
      });
    }
    if (!hold) return inner.append(std::move(request), std::move(done));
    held.emplace_back(std::move(request), std::move(done));
  }
  void load(std::string room_id, std::uint64_t after_seq, store::LoadDone done) override {
    if (hold_loads) {
      return held_loads.push_back([this, room_id = std::move(room_id), after_seq,
                                   done = std::move(done)]() mutable {
        load(std::move(room_id), after_seq, std::move(done));
      });
    }
    if (list_recorded) return inner.load(std::move(room_id), after_seq, std::move(done));
    inner.load(std::move(room_id), after_seq, [done = std::move(done)](store::LoadResult loaded) {
      loaded.recorded = nullptr;  // a store that cannot say what the room recorded
      done(std::move(loaded));
    });
  }
  void find_result(store::CommandKey key, store::FindDone done) override {
    ++finds;
    inner.find_result(std::move(key), std::move(done));
  }
  void record_rejection(store::RecordedResult rejection, std::uint64_t lease_epoch,
                        store::StoreDone done) override {
    inner.record_rejection(std::move(rejection), lease_epoch, std::move(done));
  }
  void list_rooms(store::ListRoomsDone done) override { inner.list_rooms(std::move(done)); }
  void append_audit(std::string room_id, std::vector<v1::AuditEntry> entries,
                    store::StoreDone done) override {
    if (fail_audit) return done(store::StoreError{store::StoreErrorCode::kUnavailable, "test"});
    if (hold_audit) return held_audit.push_back({std::move(room_id), std::move(entries), std::move(done)});
    inner.append_audit(std::move(room_id), std::move(entries), std::move(done));
  }
  void destroy_room(std::string room_id, store::StoreDone done) override {
    inner.destroy_room(std::move(room_id), std::move(done));
  }
  void rewrite_events(std::string room_id, std::vector<v1::Event> events,
                      store::StoreDone done) override {
    inner.rewrite_events(std::move(room_id), std::move(events), std::move(done));
  }
  void destroy_room_audited(std::string room_id, std::vector<v1::AuditEntry> audit,
                            std::uint64_t lease_epoch, store::StoreDone done) override {
    inner.destroy_room_audited(std::move(room_id), std::move(audit), lease_epoch,
                               std::move(done));
  }
  void rewrite_events_audited(std::string room_id, std::vector<v1::Event> events,
                              std::vector<v1::AuditEntry> audit, std::uint64_t lease_epoch,
                              store::StoreDone done) override {
    if (rewrite_commit_then_fail) {  // committed, but the answer says it failed
      return inner.rewrite_events_audited(
          std::move(room_id), std::move(events), std::move(audit), lease_epoch,
          [done = std::move(done)](auto) {
            done(store::StoreError{store::StoreErrorCode::kUnavailable, "test"});
          });
    }
    inner.rewrite_events_audited(std::move(room_id), std::move(events), std::move(audit),
                                 lease_epoch, std::move(done));
  }
  void load_audit(std::string room_id, store::AuditLoadDone done) override {
    inner.load_audit(std::move(room_id), std::move(done));
  }
  void completion_delivered(std::chrono::steady_clock::duration /*trip*/) override {
    ++completions_delivered;
  }
  void release() {
    auto pending = std::move(held);
    held.clear();
    for (auto& [request, done] : pending) inner.append(std::move(request), std::move(done));
  }

  // Completes the held audit appends (committed now).
  void release_audit() {
    auto pending = std::move(held_audit);
    held_audit.clear();
    for (auto& held : pending) {
      inner.append_audit(std::move(held.room_id), std::move(held.entries), std::move(held.done));
    }
  }

  // Answers the held loads (read now).
  void release_loads() {
    hold_loads = false;
    auto pending = std::move(held_loads);
    held_loads.clear();
    for (auto& load : pending) load();
  }

  struct HeldAudit {
    std::string room_id;
    std::vector<v1::AuditEntry> entries;
    store::StoreDone done;
  };
  store::MemoryStore inner;
  bool hold = false;
  bool hold_audit = false;
  bool hold_loads = false;  // loads wait (unanswered) until release_loads()
  std::vector<std::function<void()>> held_loads;  // separate audit appends wait (uncommitted) until release_audit()
  std::vector<HeldAudit> held_audit;
  bool fail = false;
  bool commit_then_fail = false;
  bool rewrite_commit_then_fail = false;  // rewrites commit and answer kUnavailable
  bool list_recorded = true;  // false: loads leave LoadResult::recorded empty
  std::size_t finds = 0;  // find_result calls (dedupe reads)
  std::size_t completions_delivered = 0;  // completion trips the rooms reported
  bool fail_audit = false;  // separate audit appends fail (entries committed with a change don't)
  std::vector<std::pair<store::AppendRequest, store::AppendDone>> held;
};

struct Fixture {
  explicit Fixture(RoomServiceConfig config = {})
      : service(std::make_unique<RoomServiceImpl>(io.get_executor(), store, catalog(),
                                                  TokenSigner(std::string(32, 'k')),
                                                  clock.clock(), config)) {}

  // Runs every ready handler (pending timers stay pending).
  void drain() {
    do {
      io.restart();
    } while (io.poll() > 0);
  }

  void run_due_timers() {
    service->run_due_timers();
    drain();
  }

  void housekeeping() {
    service->housekeeping();
    drain();
  }

  v1::CreateRoomResponse create(std::vector<std::string> observers = {kObserver}) {
    v1::CreateRoomRequest request;
    request.set_template_("speaker-listener");
    request.set_partner_a_name("Alex");
    request.set_partner_b_name("Blake");
    for (auto& o : observers) request.add_observers(o);
    Result<v1::CreateRoomResponse> result;
    service->create_room(request, [&](Result<v1::CreateRoomResponse> r) { result = std::move(r); });
    drain();
    REQUIRE(result.value.has_value());
    room_id = result.value->room_id();
    return *result.value;
  }

  Participant who(v1::Role role, std::string observer = {}) const {
    Participant p;
    p.room_id = room_id;
    p.actor.set_role(role);
    p.actor.set_observer(std::move(observer));
    return p;
  }
  Participant a() const { return who(v1::PARTNER_A); }
  Participant b() const { return who(v1::PARTNER_B); }
  Participant obs() const { return who(v1::OBSERVER, kObserver); }

  // Attaches a new connection; `refused` gets the close code when the room refuses it.
  std::shared_ptr<FakeRecipient> attach(const Participant& p, std::uint64_t resume_after = 0,
                                        std::uint64_t epoch = 0,
                                        std::optional<CloseCode>* refused = nullptr) {
    auto recipient = std::make_shared<FakeRecipient>();
    v1::Hello hello;
    hello.set_room_epoch(epoch);
    hello.set_resume_after_seq(resume_after);
    std::optional<CloseCode> outcome = CloseCode::kMalformed;  // "done not called"
    service->attach(p, hello, recipient, [&](std::optional<CloseCode> c) { outcome = c; });
    drain();
    if (refused != nullptr) {
      *refused = outcome;
    } else {
      REQUIRE_FALSE(outcome.has_value());
    }
    return recipient;
  }

  void submit(const Participant& p, const std::string& id, const std::string& text) {
    service->submit(p, command(id, text));
    drain();
  }

  // Both partners consent (both must be attached: commands of a participant without a
  // connection are dropped).
  void consent_both() {
    submit(a(), "ca", "consent {}");
    submit(b(), "cb", "consent {}");
  }

  std::uint64_t stored_events() const { return store->inner.event_count(room_id); }

  // A second service over the same store, as after a restart.
  std::unique_ptr<RoomServiceImpl> restart() {
    return std::make_unique<RoomServiceImpl>(io.get_executor(), store, catalog(),
                                             TokenSigner(std::string(32, 'k')), clock.clock());
  }
  // Attaches `p` to `other` (a restarted service), resuming after `resume_after`.
  std::shared_ptr<FakeRecipient> attach_to(RoomService& other, const Participant& p,
                                           std::uint64_t resume_after) {
    auto recipient = std::make_shared<FakeRecipient>();
    v1::Hello hello;
    hello.set_room_epoch(1);
    hello.set_resume_after_seq(resume_after);
    bool attached = false;
    other.attach(p, hello, recipient, [&](std::optional<CloseCode> c) { attached = !c; });
    drain();
    REQUIRE(attached);
    return recipient;
  }

  boost::asio::io_context io;
  ManualClock clock{kStart};
  std::shared_ptr<HeldStore> store = std::make_shared<HeldStore>();
  std::unique_ptr<RoomServiceImpl> service;
  std::string room_id;
};

// The connection's last CommandResult (fails without one). Scanned from the newest frame: the
// long tests call this after every command.
v1::CommandResult last_result(const FakeRecipient& r) {
  for (auto frame = r.frames.rbegin(); frame != r.frames.rend(); ++frame) {
    for (auto item = frame->items().rbegin(); item != frame->items().rend(); ++item) {
      if (item->has_result()) return item->result();
    }
  }
  FAIL("no result was sent");
  return {};
}

// Both partners approve the observer (room in CONSENT; both partners attached: commands of a
// participant without a connection are dropped).
void approve_observer(Fixture& f) {
  f.submit(f.a(), "approve-a", R"(approve_observer { observer: "Dr. Kim" })");
  f.submit(f.b(), "approve-b", R"(approve_observer { observer: "Dr. Kim" })");
}

// The connections of everyone in a room.
struct Everyone {
  std::shared_ptr<FakeRecipient> a;
  std::shared_ptr<FakeRecipient> b;
  std::shared_ptr<FakeRecipient> o;
};

// In a created room (in CONSENT): attaches both partners, lets both approve the observer and
// attaches the observer.
Everyone attach_everyone(Fixture& f) {
  Everyone everyone;
  everyone.a = f.attach(f.a());
  everyone.b = f.attach(f.b());
  approve_observer(f);
  everyone.o = f.attach(f.obs());
  return everyone;
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("creating a room stores seq 1 and returns one invite per partner and observer") {
  Fixture f;
  const auto response = f.create({"Dr. Kim", "coach_2"});
  CHECK(is_valid_room_id(response.room_id()));
  CHECK(f.stored_events() == 1);
  REQUIRE(response.invites_size() == 4);
  CHECK(response.invites(0).participant().role() == v1::PARTNER_A);
  CHECK(response.invites(1).participant().role() == v1::PARTNER_B);
  CHECK(response.invites(3).participant().observer() == "coach_2");
  for (const auto& invite : response.invites()) {
    CHECK(invite.expires_at_ms() == kStart + 7LL * 24 * 3600 * 1000);
    auto claims = f.service->tokens().verify(invite.token(), kStart);
    REQUIRE(std::holds_alternative<TokenClaims>(claims));
    CHECK(std::get<TokenClaims>(claims).room_id == response.room_id());
    CHECK(std::get<TokenClaims>(claims).participant.observer() ==
          invite.participant().observer());
  }
}

TEST_CASE("room creation refuses unknown templates and bad or duplicate observer names") {
  Fixture f;
  auto try_create = [&](const std::string& tmpl, std::vector<std::string> observers) {
    v1::CreateRoomRequest request;
    request.set_template_(tmpl);
    for (auto& o : observers) request.add_observers(o);
    Result<v1::CreateRoomResponse> result;
    f.service->create_room(request, [&](Result<v1::CreateRoomResponse> r) { result = r; });
    f.drain();
    REQUIRE(result.error.has_value());
    return result.error->code;
  };
  CHECK(try_create("no-such-template", {}) == "UNKNOWN_TEMPLATE");
  CHECK(try_create("speaker-listener", {"Dr/Kim"}) == "INVALID_ARGUMENT");
  CHECK(try_create("speaker-listener", {""}) == "INVALID_ARGUMENT");
  CHECK(try_create("speaker-listener", {std::string(65, 'k')}) == "INVALID_ARGUMENT");
  CHECK(try_create("speaker-listener", {"Dr. Kim", "Dr. Kim"}) == "INVALID_ARGUMENT");
}

TEST_CASE("the templates are listed with their stage titles") {
  Fixture f;
  const auto list = f.service->list_templates();
  REQUIRE(list.templates_size() == 5);
  for (const auto& t : list.templates()) CHECK(t.stages_size() > 0);
}

TEST_CASE("attach sends Welcome, then the replay, then ReplayDone") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  const auto items = a->items();
  REQUIRE(items.size() >= 3);
  REQUIRE(items[0].has_welcome());
  const v1::Welcome& welcome = items[0].welcome();
  CHECK(welcome.recovered());
  CHECK(welcome.epoch() == 1);
  CHECK(welcome.room_id() == f.room_id);
  CHECK(welcome.server_time_ms() == kStart);
  CHECK(welcome.participant().role() == v1::PARTNER_A);
  CHECK(welcome.view().you().role() == v1::PARTNER_A);
  REQUIRE(items[1].has_event());
  CHECK(items[1].event().seq() == 1);
  CHECK(items[1].event().has_room_created());
  CHECK(items[2].has_replay_done());
  CHECK(items[2].replay_done().last_seq() == 1);
  CHECK(items[3].has_presence());  // live from here on
}

TEST_CASE("resuming after seq N replays exactly the events after N") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  f.submit(f.a(), "s1", "signal { kind: LISTENING }");
  f.submit(f.b(), "s2", "signal { kind: FEELING_HEARD }");
  f.submit(f.a(), "s3", "signal { kind: TAKE_YOUR_TIME }");
  REQUIRE(f.stored_events() == 4);

  auto again = f.attach(f.a(), /*resume_after=*/2, /*epoch=*/1);
  CHECK(again->items()[0].welcome().recovered());
  std::vector<std::uint64_t> seqs;
  for (const auto& e : again->events()) seqs.push_back(e.seq());
  CHECK(seqs == std::vector<std::uint64_t>{3, 4});
}

TEST_CASE("a resume that cannot be replayed whole is not recovered and replays everything") {
  Fixture f;
  f.create();
  f.attach(f.a());
  f.submit(f.a(), "s1", "signal { kind: LISTENING }");
  for (auto [resume_after, epoch] : {std::pair<std::uint64_t, std::uint64_t>{9, 1}, {1, 7}}) {
    auto again = f.attach(f.a(), resume_after, epoch);
    const auto items = again->items();
    REQUIRE(items[0].has_welcome());
    CHECK_FALSE(items[0].welcome().recovered());
    CHECK(items[0].welcome().view().last_seq() == 2);
    std::vector<std::uint64_t> seqs;
    for (const auto& e : again->events()) seqs.push_back(e.seq());
    CHECK(seqs == std::vector<std::uint64_t>{1, 2});
  }
}

TEST_CASE("replays carry several events per frame") {
  RoomServiceConfig config;
  config.replay_events_per_frame = 2;
  Fixture f(config);
  f.create();
  f.attach(f.a());
  for (int i = 0; i < 4; ++i) f.submit(f.a(), "s" + std::to_string(i), "signal { kind: LISTENING }");
  auto again = f.attach(f.a());
  // Welcome | 1 2 | 3 4 | 5 ReplayDone | Presence
  REQUIRE(again->frames.size() == 5);
  CHECK(again->frames[1].items_size() == 2);
  CHECK(again->frames[3].items_size() == 2);
  CHECK(again->frames[3].items(1).has_replay_done());
}

TEST_CASE("a command's result and its events reach the sender in one frame") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  a->clear();
  f.submit(f.a(), "c1", "consent { terms { retention_days: 30 } }");
  REQUIRE(a->frames.size() == 1);
  const v1::ServerFrame& frame = a->frames[0];
  REQUIRE(frame.items_size() >= 2);
  const v1::CommandResult& result = frame.items(0).result();
  CHECK(result.command_id() == "c1");
  CHECK(result.accepted());
  CHECK(result.first_seq() == 2);
  CHECK(frame.items(1).event().seq() == 2);
  CHECK(frame.items(1).event().has_consent_given());
  CHECK(result.last_seq() == frame.items(frame.items_size() - 1).event().seq());
  CHECK(frame.view().you().role() == v1::PARTNER_A);
  CHECK(frame.view().last_seq() == result.last_seq());
}

TEST_CASE("the room tells the store when an append's completion reached it (its trip back)") {
  Fixture f;
  f.create();
  f.attach(f.a());
  const std::size_t before = f.store->completions_delivered;
  f.submit(f.a(), "c1", "consent { terms { retention_days: 30 } }");
  CHECK(f.store->completions_delivered == before + 1);
}

TEST_CASE("the other partner gets the events with its own view and no result") {
  Fixture f;
  f.create();
  f.attach(f.a());
  auto b = f.attach(f.b());
  b->clear();
  f.submit(f.a(), "c1", "consent { terms { retention_days: 30 } }");
  REQUIRE(b->frames.size() == 1);
  CHECK(b->results().empty());
  CHECK(b->frames[0].items(0).event().has_consent_given());
  CHECK(b->frames[0].view().you().role() == v1::PARTNER_B);
}

TEST_CASE("recipients with identical frames share one encoding") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  // B's arrival: one Presence frame, encoded once, to both.
  REQUIRE(a->frames.back().items(0).has_presence());
  REQUIRE(b->frames.back().items(0).has_presence());
  CHECK(a->raw.back() == b->raw.back());
  CHECK(b->frames.back().items(0).presence().online_size() == 2);
}

TEST_CASE("a retried command_id gets the original result and is applied once") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  const auto first = last_result(*a);
  b->clear();
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(f.stored_events() == 2);
  CHECK(last_result(*a).SerializeAsString() == first.SerializeAsString());
  CHECK(b->frames.empty());
  // Also across a reconnect.
  auto again = f.attach(f.a(), 2, 1);
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(last_result(*again).first_seq() == 2);
  CHECK(f.stored_events() == 2);
  CHECK(f.service->metrics().snapshot().commands_deduplicated == 2);
}

TEST_CASE("a definitive rejection is the command's final result: a retry gets it again after "
          "the phase changed, across a reconnect and a restart") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  const std::string open = R"(open { topic: "chores" intention: "be heard" })";
  f.submit(f.a(), "o1", open);  // still in CONSENT
  const auto original = last_result(*a);
  REQUIRE(original.rejection().code() == v1::WRONG_PHASE);
  f.consent_both();  // OPENING: the same open would now be accepted under a new id
  const std::uint64_t stored = f.stored_events();
  f.submit(f.a(), "o1", open);
  CHECK(last_result(*a).SerializeAsString() == original.SerializeAsString());
  auto again = f.attach(f.a(), stored, 1);
  f.submit(f.a(), "o1", open);
  CHECK(last_result(*again).SerializeAsString() == original.SerializeAsString());
  auto restarted = f.restart();
  auto after_restart = f.attach_to(*restarted, f.a(), stored);
  restarted->submit(f.a(), command("o1", open));
  f.drain();
  CHECK(last_result(*after_restart).SerializeAsString() == original.SerializeAsString());
  CHECK(f.stored_events() == stored);
  CHECK(f.service->metrics().snapshot().commands_deduplicated == 2);
  restarted->submit(f.a(), command("o2", open));
  f.drain();
  CHECK(last_result(*after_restart).accepted());
}

TEST_CASE("a transient rejection (TOO_SOON) is decided again when retried under its command_id") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.consent_both();
  f.submit(f.a(), "open", R"(open { topic: "chores" intention: "be heard" })");
  f.submit(f.a(), "s1", R"(share { text: "I feel tired in the evenings" })");
  REQUIRE(last_result(*a).accepted());
  const std::string mirror = R"(reflect { kind: MIRROR text: "You feel tired" })";
  f.submit(f.b(), "m1", mirror);
  const auto too_soon = last_result(*b);
  REQUIRE(too_soon.rejection().code() == v1::TOO_SOON);
  f.clock.advance(too_soon.rejection().retry_after_ms());
  f.submit(f.b(), "m1", mirror);
  CHECK(last_result(*b).accepted());
}

TEST_CASE("a room created by this server reads the store only for command_ids it recorded") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  f.submit(f.b(), "c1", "signal { kind: LISTENING }");  // another participant's own c1
  f.submit(f.a(), "c2", "signal { kind: OVERWHELMED }");
  CHECK(f.store->finds == 0);
  CHECK(f.stored_events() == 4);
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(f.store->finds == 1);
  CHECK(last_result(*a).first_seq() == 2);
  CHECK(f.stored_events() == 4);
}

TEST_CASE("a room loaded from the store asks it only about command ids it may have recorded "
          "before it loaded, or about every one when the load did not list them") {
  for (const bool listed : {true, false}) {
    CAPTURE(listed);
    Fixture f;
    f.store->list_recorded = listed;
    f.create();
    f.attach(f.a());
    f.submit(f.a(), "c1", "signal { kind: LISTENING }");
    auto restarted = f.restart();
    auto recipient = f.attach_to(*restarted, f.a(), 0);
    restarted->submit(f.a(), command("c2", "signal { kind: LISTENING }"));
    f.drain();
    CHECK(f.store->finds == (listed ? 0 : 1));
    CHECK(last_result(*recipient).first_seq() == 3);
    restarted->submit(f.a(), command("c1", "signal { kind: LISTENING }"));  // a late retry
    f.drain();
    CHECK(f.store->finds == (listed ? 1 : 2));
    CHECK(last_result(*recipient).first_seq() == 2);  // its original result
    CHECK(f.stored_events() == 3);
  }
}

TEST_CASE("after an append with an unknown outcome the room reads the store for dedupe") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.store->commit_then_fail = true;
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(last_result(*a).rejection().code() == v1::UNAVAILABLE);
  f.store->commit_then_fail = false;
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");  // stored after all: its result
  CHECK(f.store->finds == 1);
  CHECK(last_result(*a).accepted());
  CHECK(last_result(*a).first_seq() == 2);
  CHECK(f.stored_events() == 2);
}

TEST_CASE("a command_id must be 1 to 64 bytes") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.submit(f.a(), "", "signal { kind: LISTENING }");
  CHECK(last_result(*a).rejection().code() == v1::INVALID_ARGUMENT);
  f.submit(f.a(), std::string(65, 'x'), "signal { kind: LISTENING }");
  CHECK(last_result(*a).rejection().code() == v1::INVALID_ARGUMENT);
  f.submit(f.a(), std::string(64, 'x'), "signal { kind: LISTENING }");
  CHECK(last_result(*a).accepted());
}

TEST_CASE("engine rejections reach only the sender") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  b->clear();
  f.submit(f.a(), "o1", R"(open { intention: "to understand" })");  // still in CONSENT
  CHECK_FALSE(last_result(*a).accepted());
  CHECK(last_result(*a).rejection().code() == v1::WRONG_PHASE);
  CHECK(b->frames.empty());
  CHECK(f.stored_events() == 1);
}

TEST_CASE("a newer connection of the same participant replaces the older with 4009") {
  Fixture f;
  f.create();
  auto first = f.attach(f.a());
  auto second = f.attach(f.a());
  CHECK(first->closed == CloseCode::kReplaced);
  CHECK_FALSE(second->closed.has_value());
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(last_result(*second).accepted());
  // The old connection's late detach does not detach the new one.
  f.service->detach(f.a(), first.get());
  f.drain();
  f.submit(f.a(), "c2", "signal { kind: LISTENING }");
  CHECK(last_result(*second).command_id() == "c2");
}

TEST_CASE("an observer not approved by both partners is refused with 4503") {
  Fixture f;
  f.create();
  f.attach(f.a());
  std::optional<CloseCode> refused;
  f.attach(f.obs(), 0, 0, &refused);
  CHECK(refused == CloseCode::kConsentRevoked);
  f.submit(f.a(), "approve-a", R"(approve_observer { observer: "Dr. Kim" })");
  f.attach(f.obs(), 0, 0, &refused);
  CHECK(refused == CloseCode::kConsentRevoked);
}

TEST_CASE("an observer whose approval is revoked is disconnected with 4503") {
  Fixture f;
  f.create();
  const auto [a, b, o] = attach_everyone(f);
  CHECK_FALSE(o->closed.has_value());
  f.submit(f.a(), "revoke", R"(revoke_observer { observer: "Dr. Kim" })");
  CHECK(a->saw(v1::Event::kObserverRevoked));
  CHECK(o->closed == CloseCode::kConsentRevoked);
  CHECK(a->frames.back().items(0).presence().online_size() == 2);
}

// With separate audit writes failing, the entries that record a change still reach the store:
// they are committed with the change itself (DESIGN 7), never in a second write.
TEST_CASE("erasures and consent revocations store their audit entries in the same commit") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  approve_observer(f);
  f.store->fail_audit = true;
  f.submit(f.a(), "revoke", R"(revoke_observer { observer: "Dr. Kim" })");
  REQUIRE(last_result(*a).accepted());
  f.store->fail_audit = false;
  f.consent_both();
  f.submit(f.a(), "open", R"(open { topic: "chores" intention: "be heard" })");
  REQUIRE(last_result(*a).accepted());
  f.store->fail_audit = true;

  Result<v1::EraseContributionsResponse> erased;
  f.service->erase_contributions(f.a(), [&](auto r) { erased = std::move(r); });
  f.drain();
  REQUIRE(erased.value.has_value());
  CHECK(erased.value->erased_events() > 0);
  auto erase_room = [&f](const Participant& p) {
    Result<v1::EraseRoomResponse> answer;
    f.service->erase_room(p, [&answer](auto r) { answer = std::move(r); });
    f.drain();
    return answer;
  };
  // A first request that could not be stored is not answered REQUESTED and does not count.
  auto unstored = erase_room(f.a());
  REQUIRE(unstored.error.has_value());
  CHECK(unstored.error->code == "UNAVAILABLE");
  auto told = [&a] {
    const auto items = a->items();
    return std::count_if(items.begin(), items.end(),
                         [](const v1::ServerItem& i) { return i.has_room_erasure_requested(); });
  };
  CHECK(told() == 0);
  f.store->fail_audit = false;
  auto first = erase_room(f.a());
  REQUIRE(first.value.has_value());
  CHECK(first.value->status() == v1::ROOM_ERASURE_STATUS_REQUESTED);
  CHECK(told() == 1);
  // The second request commits with the erasure.
  f.store->fail_audit = true;
  auto second = erase_room(f.b());
  REQUIRE(second.value.has_value());
  CHECK(second.value->status() == v1::ROOM_ERASURE_STATUS_ERASED);
  CHECK(second.value->requested_by_size() == 2);
  store::AuditLoadResult audit;
  f.store->inner.load_audit(f.room_id, [&](store::AuditLoadResult r) { audit = std::move(r); });
  auto find = [&](v1::AuditKind kind) -> const v1::AuditEntry* {
    for (const auto& entry : audit.entries) {
      if (entry.kind() == kind) return &entry;
    }
    return nullptr;
  };
  CHECK(find(v1::AUDIT_CONSENT_REVOKED) != nullptr);
  const v1::AuditEntry* contributions = find(v1::AUDIT_CONTRIBUTIONS_ERASED);
  REQUIRE(contributions != nullptr);
  CHECK(contributions->epoch() == erased.value->epoch());
  CHECK(contributions->count() == erased.value->erased_events());
  std::size_t requests = 0;
  for (const auto& entry : audit.entries) {
    requests += entry.kind() == v1::AUDIT_ROOM_ERASURE_REQUESTED ? 1 : 0;
  }
  CHECK(requests == 2);
  const v1::AuditEntry* room = find(v1::AUDIT_ROOM_ERASED);
  REQUIRE(room != nullptr);
  CHECK(room->epoch() == erased.value->epoch() + 1);
  CHECK(f.store->inner.event_count(f.room_id) == 0);
}

// An I/O error on a rewrite's commit leaves its outcome unknown: the core's memory may hold
// texts the store has erased. The room is reloaded from the store instead of serving them.
TEST_CASE("a rewrite that committed but answered an error reloads the room: its clients are "
          "told to reconnect (4011) and nothing it erased is replayed from memory") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.consent_both();
  f.submit(f.a(), "open", R"(open { topic: "the chores" intention: "to be heard" })");
  REQUIRE(last_result(*a).accepted());
  const std::uint64_t last_seq = f.stored_events();

  f.store->rewrite_commit_then_fail = true;
  Result<v1::EraseContributionsResponse> erased;
  f.service->erase_contributions(f.a(), [&](auto r) { erased = std::move(r); });
  f.drain();
  f.store->rewrite_commit_then_fail = false;
  REQUIRE(erased.error.has_value());
  CHECK(erased.error->code == "UNAVAILABLE");
  CHECK(a->closed == CloseCode::kRoomReloaded);
  CHECK(b->closed == CloseCode::kRoomReloaded);

  // The partner resumes from the start: everything comes from the reloaded room.
  auto again = f.attach(f.b(), 0, 2);
  CHECK(again->events().size() == last_seq);
  for (const auto& bytes : again->raw) {
    CHECK(bytes->find("to be heard") == std::string::npos);
    CHECK(bytes->find("the chores") == std::string::npos);
  }
  // The reloaded room is at the erasure's epoch, and a second erasure finds nothing left.
  Result<v1::EraseContributionsResponse> retried;
  f.service->erase_contributions(f.a(), [&](auto r) { retried = std::move(r); });
  f.drain();
  REQUIRE(retried.value.has_value());
  CHECK(retried.value->erased_events() == 0);
  CHECK(retried.value->epoch() == 2);
}

TEST_CASE("a private note reaches only its author") {
  Fixture f;
  f.create();
  auto [a, b, o] = attach_everyone(f);
  f.submit(f.obs(), "j", "join {}");
  CHECK(b->saw(v1::Event::kObserverJoined));
  a->clear();
  b->clear();
  o->clear();
  f.submit(f.obs(), "n", R"(note { text: "they seem calmer" })");
  CHECK(last_result(*o).accepted());
  CHECK(o->saw(v1::Event::kNoteTaken));
  CHECK(a->frames.empty());
  CHECK(b->frames.empty());
}

TEST_CASE("a pause ends by timer and the check-in reaches both partners") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.consent_both();
  f.submit(f.a(), "p", "pause {}");
  REQUIRE(last_result(*a).accepted());
  const auto before = f.stored_events();
  f.clock.advance(119'999);
  f.run_due_timers();
  CHECK(f.stored_events() == before);
  f.clock.advance(1);
  f.run_due_timers();
  CHECK(f.stored_events() == before + 1);
  CHECK(a->saw(v1::Event::kCheckInStarted));
  CHECK(b->saw(v1::Event::kCheckInStarted));
  CHECK(b->frames.back().view().phase() == v1::PHASE_CHECK_IN);
}

TEST_CASE("due timers run before the next command") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  f.consent_both();
  f.submit(f.a(), "p", "pause {}");
  f.clock.advance(120'000);
  f.submit(f.a(), "s", "signal { kind: LISTENING }");  // no run_due_timers call
  const auto events = a->events();
  REQUIRE(events.size() >= 2);
  CHECK(events[events.size() - 2].has_check_in_started());
  CHECK(events.back().has_signaled());
}

TEST_CASE("timers that fell due while a room was not loaded run when it loads") {
  Fixture f;
  f.create();
  f.attach(f.a());
  f.attach(f.b());
  f.consent_both();
  f.submit(f.a(), "p", "pause {}");
  const auto before = f.stored_events();
  f.clock.advance(600'000);
  auto restarted = f.restart();
  bool loaded = false;
  restarted->get_view(f.a(), [&](Result<v1::GetRoomResponse> r) { loaded = r.value.has_value(); });
  f.drain();
  REQUIRE(loaded);
  CHECK(f.stored_events() == before + 1);  // CheckInStarted, appended by the new service
}

TEST_CASE("nothing is answered or fanned out before the store completed the append") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  a->clear();
  b->clear();
  f.store->hold = true;
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  f.submit(f.a(), "c2", "signal { kind: OVERWHELMED }");  // queued behind c1
  CHECK(a->frames.empty());
  CHECK(b->frames.empty());
  CHECK(f.store->held.size() == 1);
  f.store->hold = false;
  f.store->release();
  f.drain();
  REQUIRE(a->results().size() == 2);
  CHECK(a->results()[0].command_id() == "c1");
  CHECK(a->results()[1].first_seq() == 3);
  CHECK(b->events().size() == 2);
}

TEST_CASE("a failed append is answered UNAVAILABLE and applies nothing") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  f.store->fail = true;
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  CHECK(last_result(*a).rejection().code() == v1::UNAVAILABLE);
  f.store->fail = false;
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");  // the retry succeeds at seq 2
  CHECK(last_result(*a).accepted());
  CHECK(last_result(*a).first_seq() == 2);
}

TEST_CASE("commands over a room's queue bound are rejected UNAVAILABLE") {
  RoomServiceConfig config;
  config.max_queued_commands_per_room = 2;
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  f.store->hold = true;
  for (int i = 0; i < 4; ++i) f.submit(f.a(), "c" + std::to_string(i), "signal { kind: LISTENING }");
  // c0 in flight, c1 and c2 queued, c3 over the bound.
  REQUIRE(a->results().size() == 1);
  CHECK(a->results()[0].command_id() == "c3");
  CHECK(a->results()[0].rejection().code() == v1::UNAVAILABLE);
  f.store->hold = false;
  f.store->release();
  f.drain();
  CHECK(a->results().size() == 4);
}

TEST_CASE("commands over the participant's rate are rejected RATE_LIMITED with a retry time") {
  RoomServiceConfig config;
  config.commands_per_second = 2;
  config.command_burst = 3;
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  for (int i = 0; i < 3; ++i) f.submit(f.a(), "c" + std::to_string(i), "signal { kind: LISTENING }");
  CHECK(last_result(*a).accepted());
  f.submit(f.a(), "c3", "signal { kind: LISTENING }");
  CHECK(last_result(*a).rejection().code() == v1::RATE_LIMITED);
  CHECK(last_result(*a).rejection().retry_after_ms() == 500);
  f.clock.advance(500);
  f.submit(f.a(), "c3", "signal { kind: LISTENING }");
  CHECK(last_result(*a).accepted());
}

TEST_CASE("a steady flood far over the rate is closed 4529 once its refusals persist over the "
          "window, though one command passes at each refill") {
  RoomServiceConfig config;
  config.commands_per_second = 5;
  config.command_burst = 5;
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  int sent = 0;
  int accepted = 0;
  while (!a->closed && sent < 30'000) {  // 1,000 commands/s for at most 30 s
    f.submit(f.a(), "flood-" + std::to_string(sent++), "signal { kind: LISTENING }");
    if (!a->closed && last_result(*a).accepted()) ++accepted;
    f.clock.advance(1);
  }
  CHECK(a->closed == CloseCode::kRateLimitAbuse);
  CHECK(accepted >= 5);  // passes between refusals do not excuse the flood
  const std::uint32_t threshold = config.rate_limit_abuse_refusals;
  CHECK(sent - accepted == static_cast<int>(threshold));
  CHECK_FALSE(b->closed);
}

TEST_CASE("a client that waits retry_after_ms after each refusal is never closed for abuse") {
  RoomServiceConfig config;
  config.commands_per_second = 5;
  config.command_burst = 5;
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  for (int i = 0; i < 2'000; ++i) {  // 400 s at the rate, refused about once per refill
    f.submit(f.a(), "polite-" + std::to_string(i), "signal { kind: LISTENING }");
    REQUIRE_FALSE(a->closed);
    const v1::CommandResult result = last_result(*a);
    if (!result.accepted()) f.clock.advance(result.rejection().retry_after_ms());
  }
  CHECK_FALSE(a->closed);
}

TEST_CASE("a connection closed for shutdown first gets the result of its command whose commit "
          "was under way, and its undecided commands are dropped") {
  Fixture f;
  f.create();
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.store->hold = true;
  f.submit(f.a(), "committing", "signal { kind: LISTENING }");
  f.submit(f.a(), "queued", "signal { kind: OVERWHELMED }");
  REQUIRE(f.store->held.size() == 1);
  f.service->close_after_answers(f.a(), a, CloseCode::kServerShutdown, "shutting down");
  f.drain();
  CHECK_FALSE(a->closed);
  f.submit(f.a(), "after-the-close", "signal { kind: LISTENING }");
  f.store->hold = false;
  f.store->release();
  f.drain();
  REQUIRE(a->results().size() == 1);
  CHECK(a->results()[0].command_id() == "committing");
  CHECK(a->results()[0].accepted());
  CHECK(a->closed == CloseCode::kServerShutdown);
  CHECK(f.stored_events() == 2);  // neither the queued command nor the later one was decided
  CHECK_FALSE(b->closed);
}

TEST_CASE("a connection closed for rate-limit abuse first gets the result of its command whose "
          "commit was under way") {
  RoomServiceConfig config;
  config.commands_per_second = 1;
  config.command_burst = 1;
  config.rate_limit_abuse_refusals = 3;
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  f.store->hold = true;
  f.submit(f.a(), "committing", "signal { kind: LISTENING }");
  for (int i = 0; i < 3; ++i) f.submit(f.a(), "flood-" + std::to_string(i), "signal { kind: LISTENING }");
  CHECK_FALSE(a->closed);
  f.store->hold = false;
  f.store->release();
  f.drain();
  CHECK(a->closed == CloseCode::kRateLimitAbuse);
  bool answered = false;
  for (const auto& result : a->results()) answered |= result.command_id() == "committing";
  CHECK(answered);
}

TEST_CASE("unknown rooms are refused with 4504 and 404") {
  Fixture f;
  f.room_id = new_room_id();
  std::optional<CloseCode> refused;
  f.attach(f.a(), 0, 0, &refused);
  CHECK(refused == CloseCode::kUnknownRoom);
  Result<v1::GetRoomResponse> view;
  f.service->get_view(f.a(), [&](Result<v1::GetRoomResponse> r) { view = std::move(r); });
  f.drain();
  REQUIRE(view.error.has_value());
  CHECK(view.error->code == "UNKNOWN_ROOM");
  CHECK(view.error->http_status == 404);
}

TEST_CASE("get_view returns the caller's view") {
  Fixture f;
  f.create();
  Result<v1::GetRoomResponse> view;
  f.service->get_view(f.b(), [&](Result<v1::GetRoomResponse> r) { view = std::move(r); });
  f.drain();
  REQUIRE(view.value.has_value());
  CHECK(view.value->room_id() == f.room_id);
  CHECK(view.value->view().you().role() == v1::PARTNER_B);
  CHECK(view.value->view().phase() == v1::PHASE_CONSENT);
}

TEST_CASE("a room is rebuilt from the store by a new service") {
  Fixture f;
  f.create();
  f.attach(f.a());
  f.submit(f.a(), "c1", "consent {}");
  auto restarted = f.restart();
  auto recipient = f.attach_to(*restarted, f.a(), 1);
  CHECK(recipient->items()[0].welcome().recovered());
  CHECK(recipient->items()[0].welcome().view().a_consented());
  REQUIRE(recipient->events().size() == 1);
  CHECK(recipient->events()[0].seq() == 2);
  restarted->submit(f.a(), v1::Command(command("c1", "consent {}")));
  f.drain();
  CHECK(last_result(*recipient).first_seq() == 2);  // the dedupe survived the restart
}

TEST_CASE("metrics count commands, events and frames") {
  Fixture f;
  f.create();
  f.attach(f.a());
  f.submit(f.a(), "c1", "signal { kind: LISTENING }");
  f.submit(f.a(), "o1", R"(open { intention: "x" })");
  const auto m = f.service->metrics().snapshot();
  CHECK(m.commands_accepted == 1);
  CHECK(m.commands_rejected[v1::WRONG_PHASE] == 1);
  CHECK(m.events_appended == 1);  // seq 1 is the room's creation, not a command's append
  CHECK(m.frames_encoded > 0);
  CHECK(m.latency_count == 2);
  CHECK(m.participants_attached == 1);
  const std::string text = f.service->metrics().prometheus_text();
  CHECK(text.find("mend_commands_total{result=\"WRONG_PHASE\"} 1") != std::string::npos);
  CHECK(text.find("mend_command_latency_seconds_count 2") != std::string::npos);
}


// ---------------------------------------------------------------------------------------------
// Lifecycle: idle eviction, reload on demand, timers of unloaded rooms (DESIGN.md section 6)

constexpr engine::TimeMs kIdle = 60'000;

RoomServiceConfig evicting() {
  RoomServiceConfig config;
  config.room_idle_evict_ms = kIdle;
  return config;
}

// Both partners consent (and A sends `then`), then both leave (no connection).
void consent_and_leave(Fixture& f, const std::string& then = {}) {
  auto a = f.attach(f.a());
  auto b = f.attach(f.b());
  f.consent_both();
  if (!then.empty()) f.submit(f.a(), "then", then);
  f.service->detach(f.a(), a.get());
  f.service->detach(f.b(), b.get());
  f.drain();
}

TEST_CASE("a room without connections is unloaded after the idle time and reloaded on demand") {
  Fixture f(evicting());
  f.create();
  consent_and_leave(f);
  f.clock.advance(kIdle - 1);
  f.housekeeping();
  CHECK(f.service->metrics().snapshot().rooms_loaded == 1);
  f.clock.advance(1);
  f.housekeeping();
  CHECK(f.service->metrics().snapshot().rooms_loaded == 0);
  CHECK(f.service->metrics().snapshot().rooms_evicted == 1);

  auto a = f.attach(f.a(), /*resume_after=*/2, /*epoch=*/1);  // loads it again
  CHECK(f.service->metrics().snapshot().rooms_loaded == 1);
  const auto items = a->items();
  REQUIRE_FALSE(items.empty());
  const v1::Welcome& welcome = items[0].welcome();
  CHECK(welcome.recovered());
  CHECK(welcome.view().a_consented());
  CHECK(welcome.view().b_consented());
  REQUIRE_FALSE(a->events().empty());  // the replay after seq 2 comes from the store
  CHECK(a->events()[0].seq() == 3);
  const auto before = f.stored_events();
  f.submit(f.a(), "ca", "consent {}");  // retried after the reload: the original result
  CHECK(last_result(*a).accepted());
  CHECK(last_result(*a).first_seq() == 2);
  CHECK(f.stored_events() == before);
}

TEST_CASE("a room with a connection stays loaded however long it is quiet") {
  Fixture f(evicting());
  f.create();
  auto a = f.attach(f.a());
  f.clock.advance(10 * kIdle);
  f.housekeeping();
  CHECK(f.service->metrics().snapshot().rooms_loaded == 1);
  CHECK(f.service->metrics().snapshot().rooms_evicted == 0);
}

TEST_CASE("the timer of an unloaded room fires at its deadline: the room is loaded for it") {
  Fixture f(evicting());
  f.create();
  consent_and_leave(f, "pause {}");  // the pause ends 120 s after it began
  f.clock.advance(kIdle);
  f.housekeeping();
  REQUIRE(f.service->metrics().snapshot().rooms_loaded == 0);
  CHECK(f.service->scheduled_wakes() == 1);
  const auto before = f.stored_events();
  f.clock.advance(120'000 - kIdle - 1);
  f.housekeeping();
  CHECK(f.stored_events() == before);
  f.clock.advance(1);
  f.housekeeping();
  CHECK(f.stored_events() == before + 1);  // CheckInStarted{PAUSE_ENDED}
  CHECK(f.service->scheduled_wakes() == 0);
  auto a = f.attach(f.a());
  CHECK(a->items()[0].welcome().view().phase() == v1::PHASE_CHECK_IN);
}

TEST_CASE("after a restart the armed timers of stored rooms are found and fire") {
  Fixture f;
  f.create();
  consent_and_leave(f, "pause {}");
  const std::string paused = f.room_id;
  const auto before = f.stored_events();
  f.create();  // a second room, with no timer armed
  auto restarted = f.restart();
  std::optional<std::size_t> examined;
  restarted->recover_timers([&](std::size_t n) { examined = n; });
  f.drain();
  REQUIRE(examined == 2u);
  CHECK(restarted->scheduled_wakes() == 1);  // the pause's end
  CHECK(restarted->metrics().snapshot().rooms_loaded == 0);
  f.clock.advance(120'000);
  restarted->housekeeping();
  f.drain();
  CHECK(restarted->scheduled_wakes() == 0);
  CHECK(restarted->metrics().snapshot().rooms_loaded == 1);  // the paused room, ticked
  CHECK(f.store->inner.event_count(paused) == before + 1);
}

TEST_CASE("a timer already due at a restart runs as soon as the stored rooms are examined") {
  Fixture f;
  f.create();
  consent_and_leave(f, "pause {}");
  const auto before = f.stored_events();
  f.clock.advance(10 * 60'000);  // the server was down past the pause's end
  auto restarted = f.restart();
  restarted->recover_timers();
  f.drain();
  CHECK(f.stored_events() == before + 1);
}

TEST_CASE("an operation that reaches a room while it is unloaded runs on the reloaded room") {
  Fixture f(evicting());
  f.create();
  consent_and_leave(f);
  f.clock.advance(kIdle);
  f.service->housekeeping();  // the eviction is queued on the room's strand ...
  auto recipient = std::make_shared<FakeRecipient>();
  bool attached = false;
  f.service->attach(f.a(), v1::Hello{}, recipient,  // ... and this attach right behind it
                    [&](std::optional<CloseCode> c) { attached = !c; });
  f.drain();
  REQUIRE(attached);
  CHECK(f.service->metrics().snapshot().rooms_evicted == 1);
  CHECK(f.service->metrics().snapshot().rooms_loaded == 1);
  CHECK(recipient->items()[0].welcome().view().a_consented());
  CHECK(recipient->events().size() == f.stored_events());
}

// ---------------------------------------------------------------------------------------------
// Typing indicators (DESIGN 5: ephemeral, no seq, never stored)

std::vector<v1::TypingNotice> typing_notices(const FakeRecipient& r) {
  std::vector<v1::TypingNotice> out;
  for (const auto& frame : r.frames) {
    for (const auto& item : frame.items()) {
      if (item.has_typing()) out.push_back(item.typing());
    }
  }
  return out;
}

// The fixture of the typing tests: a room in OPENING (A opens: A has a text action, B has
// none) with both partners and the approved observer attached, their frames so far cleared.
struct TypingRoom : Everyone {
  Fixture room;  // not `f`: doctest names the test body f()
  TypingRoom() {
    room.create();
    static_cast<Everyone&>(*this) = attach_everyone(room);
    room.submit(room.a(), "ca", R"(consent { terms { observers: "Dr. Kim" } })");
    room.submit(room.b(), "cb", R"(consent { terms { observers: "Dr. Kim" } })");
    REQUIRE(b->frames.back().view().phase() == v1::PHASE_OPENING);
    REQUIRE_FALSE(o->closed.has_value());
    a->clear();
    b->clear();
    o->clear();
  }
  void typing(const Participant& p, bool typing) {
    room.service->typing(p, typing);
    room.drain();
  }
};

TEST_CASE_FIXTURE(TypingRoom,
                  "a partner's typing reaches the other partner and the admitted observer, "
                  "never the sender, with no seq, no view and nothing stored") {
  const auto stored = room.stored_events();
  typing(room.a(), true);
  for (auto* other : {b.get(), o.get()}) {
    REQUIRE(other->frames.size() == 1);
    CHECK(other->frames[0].items_size() == 1);
    CHECK_FALSE(other->frames[0].has_view());
    const auto notices = typing_notices(*other);
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].who().role() == v1::PARTNER_A);
    CHECK(notices[0].typing());
  }
  CHECK(a->frames.empty());
  CHECK(b->raw[0] == o->raw[0]);  // encoded once
  typing(room.a(), false);
  REQUIRE(typing_notices(*b).size() == 2);
  CHECK_FALSE(typing_notices(*b)[1].typing());
  CHECK(room.stored_events() == stored);

  // A later connection replays the stored history: no typing in it.
  auto again = room.attach(room.b());
  CHECK(typing_notices(*again).empty());
}

TEST_CASE_FIXTURE(TypingRoom, "typing is relayed at most once per second per partner, and the "
                              "excess is dropped") {
  for (int i = 0; i < 50; ++i) typing(room.a(), true);
  CHECK(typing_notices(*b).size() == 1);
  room.clock.advance(999);
  typing(room.a(), true);
  CHECK(typing_notices(*b).size() == 1);
  room.clock.advance(1);
  typing(room.a(), true);
  CHECK(typing_notices(*b).size() == 2);
  // Stopping is relayed once, only after a relayed start: flipping cannot flood either.
  typing(room.a(), false);
  typing(room.a(), false);
  typing(room.a(), true);  // within the second: dropped
  typing(room.a(), false);
  CHECK(typing_notices(*b).size() == 3);
}

TEST_CASE_FIXTURE(TypingRoom,
                  "typing is dropped while the partner's view offers no text action, and from "
                  "observers") {
  typing(room.obs(), true);  // observers never type to the partners
  CHECK(a->frames.empty());
  CHECK(b->frames.empty());
  CHECK(o->frames.empty());
  // Once A opened (in speaker-listener either partner may), B, the listener while A speaks,
  // has no text to type; A (speaking) does.
  room.submit(room.a(), "open",
              R"(open { intention: "to understand each other" topic: "Weekends" })");
  REQUIRE(last_result(*a).accepted());
  REQUIRE(b->frames.back().view().phase() == v1::PHASE_SPEAKING);
  a->clear();
  typing(room.b(), true);
  CHECK(a->frames.empty());
  typing(room.a(), true);
  CHECK(typing_notices(*b).size() == 1);
}

TEST_CASE_FIXTURE(TypingRoom, "typing of a participant without a connection is dropped") {
  room.service->detach(room.a(), a.get());
  room.drain();
  b->clear();
  typing(room.a(), true);
  CHECK(typing_notices(*b).empty());
}

}  // namespace
}  // namespace mend::rooms

namespace mend::rooms {
namespace {

TEST_CASE("a long-lived room keeps none of its audit log in memory, however many connects, and a "
          "read from the store has every connect and waits for the entries appended before it") {
  Fixture f;
  f.create();
  constexpr int kVisits = 50;
  for (int i = 0; i < kVisits; ++i) {
    auto visit = f.attach(f.a());
    f.service->detach(f.a(), visit.get());
    f.drain();
  }
  // The room holds nothing of its audit log in memory once its appends completed.
  std::optional<std::size_t> held;
  f.service->audit_held(f.room_id, [&](std::size_t n) { held = n; });
  f.drain();
  CHECK(held == 0);
  f.store->hold_audit = true;
  auto last = f.attach(f.a());  // its entry waits in the store, uncommitted
  REQUIRE(f.store->held_audit.size() == 1);
  Result<v1::GetAuditResponse> audit;
  bool answered = false;
  f.service->get_audit(f.b(), [&](Result<v1::GetAuditResponse> r) {
    audit = std::move(r);
    answered = true;
  });
  f.drain();
  CHECK_FALSE(answered);  // a read now would miss the last connect
  f.store->hold_audit = false;
  f.store->release_audit();
  f.drain();
  REQUIRE(answered);
  REQUIRE(audit.value.has_value());
  auto count = [&](v1::AuditKind kind) {
    return std::count_if(audit.value->entries().begin(), audit.value->entries().end(),
                         [kind](const v1::AuditEntry& e) { return e.kind() == kind; });
  };
  CHECK(count(v1::AUDIT_PARTICIPANT_CONNECTED) == kVisits + 1);
  CHECK(count(v1::AUDIT_PARTICIPANT_DISCONNECTED) == kVisits);
  f.service->audit_held(f.room_id, [&](std::size_t n) { held = n; });
  f.drain();
  CHECK(held == 0);
}

TEST_CASE("an observer whose approval is withdrawn while the summary's log is read does not get "
          "the summary") {
  RoomServiceConfig config;
  config.log_window_events = 2;  // the summary reads the whole log from the store
  Fixture f(config);
  f.create();
  auto a = f.attach(f.a());
  f.attach(f.b());
  approve_observer(f);
  const std::string terms =
      R"(consent { terms { observers: "Dr. Kim" summary_to_observer: true } })";
  f.submit(f.a(), "ca", terms);
  f.submit(f.b(), "cb", terms);
  f.submit(f.a(), "open", R"(open { topic: "chores" intention: "be heard" })");
  f.submit(f.a(), "leave", "leave {}");
  REQUIRE(last_result(*a).accepted());
  f.store->hold_loads = true;
  std::optional<Result<v1::GetSummaryResponse>> summary;
  f.service->get_summary(f.obs(), [&](Result<v1::GetSummaryResponse> r) { summary = std::move(r); });
  f.drain();
  REQUIRE(f.store->held_loads.size() == 1);
  REQUIRE_FALSE(summary.has_value());
  f.submit(f.a(), "revoke", R"(revoke_observer { observer: "Dr. Kim" })");
  REQUIRE(last_result(*a).accepted());
  f.store->release_loads();
  f.drain();
  REQUIRE(summary.has_value());
  CHECK_FALSE(summary->value.has_value());
  REQUIRE(summary->error.has_value());
  CHECK(summary->error->code == "OBSERVER_NOT_APPROVED");
}

}  // namespace
}  // namespace mend::rooms
