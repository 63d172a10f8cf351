// Room leases at the rooms level: two RoomServiceImpl ("nodes"), each on its own io_context and
// its own PostgresStore, over one database (the binary's PostgreSQL, cluster_main.cpp). A node
// is "paused" by not running its io_context. Lease expiry is judged by PostgreSQL's clock, so
// these tests wait real time (a 1 s lease), always by bounded polling of a condition.
//
// A node's io_context runs only while the test runs it (run_for), and then for the whole span:
// a room's store calls complete on the store's threads, which hold no work on the io_context,
// so without the work guard io_context::run_for returns as soon as a renewal is in flight
// (about a third of a lease) instead of after the span.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "server/rooms/room_service_impl.h"
#include "server/store/postgres_store.h"
#include "tests/cluster/cluster_env.h"
#include "tests/rooms/room_test_support.h"

namespace mend::rooms {
namespace {

using namespace std::chrono_literals;

constexpr engine::TimeMs kStart = 1'700'000'000'000;
constexpr engine::TimeMs kLeaseMs = 1000;

class FakeRecipient final : public Recipient {
 public:
  void send(OutFrame frame) override {
    v1::ServerFrame parsed;
    REQUIRE(parsed.ParseFromString(*frame.bytes));
    for (const auto& item : parsed.items()) {
      if (item.has_result()) results.push_back(item.result());
      if (item.has_event()) events.push_back(item.event());
    }
  }
  void close(CloseCode code, std::string /*reason*/) override { closed = code; }

  std::vector<v1::CommandResult> results;
  std::vector<v1::Event> events;
  std::optional<CloseCode> closed;
};

// One node: a room service with leases on its own store and io_context.
struct Node {
  Node(const std::string& name, const std::string& schema, const std::filesystem::path& key_dir,
       const ManualClock& clock) {
    store::PostgresStoreOptions options;
    options.url = testing::pg().url(schema);
    options.master_key_file = key_dir / "master.key";
    auto opened = store::PostgresStore::open(std::move(options));
    REQUIRE_MESSAGE(opened.store, (opened.error ? opened.error->message : ""));
    store = opened.store;
    RoomServiceConfig config;
    config.node_id = name;
    config.lease_ms = kLeaseMs;
    service = std::make_unique<RoomServiceImpl>(io.get_executor(), store, catalog(),
                                                TokenSigner(std::string(32, 'k')), clock.clock(),
                                                config);
  }
  ~Node() {
    bool stopped = false;
    service->stop([&] { stopped = true; });
    const auto deadline = std::chrono::steady_clock::now() + 10s;  // no REQUIRE in a destructor
    while (!stopped && std::chrono::steady_clock::now() < deadline) run_for(5ms);
    service.reset();
    run_for(20ms);
    store->close();
  }

  // Runs this node for `span`, however long its work waits on the store's threads.
  void run_for(std::chrono::milliseconds span) {
    io.restart();
    const auto busy = boost::asio::make_work_guard(io);
    io.run_for(span);
  }
  // Runs this node until `condition` holds (REQUIREd within 10 s).
  template <typename Condition>
  void run_until(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) FAIL("not within 10 s");
      run_for(5ms);
    }
  }

  boost::asio::io_context io;
  std::shared_ptr<store::PostgresStore> store;
  std::unique_ptr<RoomServiceImpl> service;
};

struct TwoNodes {
  TwoNodes() : schema(testing::fresh_schema()), first("node-1", schema, dir.path(), clock),
               second("node-2", schema, dir.path(), clock) {}

  // A new room, created by `creator` (the quota key of create_room_for) when one is given.
  std::string create_room(Node& node, const std::string& creator = {}) {
    v1::CreateRoomRequest request;
    request.set_template_("speaker-listener");
    request.set_partner_a_name("Alex");
    request.set_partner_b_name("Blake");
    std::optional<Result<v1::CreateRoomResponse>> result;
    auto answer = [&](Result<v1::CreateRoomResponse> r) { result = r; };
    if (creator.empty()) {
      node.service->create_room(request, answer);
    } else {
      node.service->create_room_for(request, creator, 100, answer);
    }
    node.run_until([&] { return result.has_value(); });
    REQUIRE(result->value.has_value());
    return result->value->room_id();
  }

  static Participant who(const std::string& room, v1::Role role) {
    Participant p;
    p.room_id = room;
    p.actor.set_role(role);
    return p;
  }

  // Attaches `p` on `node`; the close code when refused, nullopt when attached.
  std::optional<CloseCode> attach(Node& node, const Participant& p,
                                  const std::shared_ptr<FakeRecipient>& recipient) {
    v1::Hello hello;
    std::optional<std::optional<CloseCode>> outcome;
    node.service->attach(p, hello, recipient, [&](std::optional<CloseCode> c) { outcome = c; });
    node.run_until([&] { return outcome.has_value(); });
    return *outcome;
  }

  // Submits and waits for the command's result.
  v1::CommandResult submit(Node& node, const Participant& p, FakeRecipient& recipient,
                           const std::string& id, const std::string& text) {
    node.service->submit(p, command(id, text));
    node.run_until([&] {
      for (const auto& r : recipient.results) {
        if (r.command_id() == id) return true;
      }
      return false;
    });
    for (const auto& r : recipient.results) {
      if (r.command_id() == id) return r;
    }
    return {};
  }

  // The stored events of `room`, read through `node`'s store.
  std::vector<v1::Event> stored(Node& node, const std::string& room) {
    std::optional<store::LoadResult> loaded;
    node.store->load(room, 0, [&](store::LoadResult l) { loaded = std::move(l); });
    node.run_until([&] { return loaded.has_value(); });
    REQUIRE_FALSE(loaded->error.has_value());
    return loaded->events;
  }

  // The recorded result of `key`, read through `node`'s store.
  std::optional<v1::CommandResult> found(Node& node, const store::CommandKey& key) {
    std::optional<store::FindResult> result;
    node.store->find_result(key, [&](store::FindResult r) { result = std::move(r); });
    node.run_until([&] { return result.has_value(); });
    REQUIRE_FALSE(result->error.has_value());
    return result->result;
  }

  // How many entries of `kind` the audit log of `room` holds, read through `node`'s store.
  std::size_t audited(Node& node, const std::string& room, v1::AuditKind kind) {
    std::optional<store::AuditLoadResult> audit;
    node.store->load_audit(room, [&](store::AuditLoadResult r) { audit = std::move(r); });
    node.run_until([&] { return audit.has_value(); });
    REQUIRE_FALSE(audit->error.has_value());
    return static_cast<std::size_t>(std::count_if(
        audit->entries.begin(), audit->entries.end(),
        [kind](const v1::AuditEntry& entry) { return entry.kind() == kind; }));
  }

  struct Erasures {
    std::optional<Result<v1::EraseContributionsResponse>> contributions;
    std::optional<Result<v1::EraseRoomResponse>> room;
    // Both were answered ROOM_ELSEWHERE (503, with a Retry-After).
    void check_elsewhere() const {
      for (const auto* error : {&contributions->error, &room->error}) {
        REQUIRE(error->has_value());
        CHECK((*error)->code == "ROOM_ELSEWHERE");
        CHECK((*error)->http_status == 503);
        CHECK((*error)->retry_after_s >= 1);
      }
    }
  };
  // Asks `node` to erase `p`'s contributions and then the room; waits for both answers.
  Erasures erase_both(Node& node, const Participant& p) {
    Erasures answers;
    node.service->erase_contributions(p, [&](Result<v1::EraseContributionsResponse> r) {
      answers.contributions = std::move(r);
    });
    node.service->erase_room(p, [&](Result<v1::EraseRoomResponse> r) { answers.room = std::move(r); });
    node.run_until([&] { return answers.contributions.has_value() && answers.room.has_value(); });
    return answers;
  }

  struct Attached {
    std::string room;
    Participant a;
    std::shared_ptr<FakeRecipient> recipient;
  };
  // A new room created through `node` (by `creator`, see create_room), partner A attached there.
  Attached partner_a_on(Node& node, const std::string& creator = {}) {
    Attached attached{create_room(node, creator), {}, std::make_shared<FakeRecipient>()};
    attached.a = who(attached.room, v1::PARTNER_A);
    REQUIRE_FALSE(attach(node, attached.a, attached.recipient).has_value());
    return attached;
  }
  Attached partner_a_on_first() { return partner_a_on(first); }

  // Waits (real time, bounded) until `node` takes `room` over: an attach is no longer refused.
  std::shared_ptr<FakeRecipient> attach_when_expired(Node& node, const Participant& p) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      auto recipient = std::make_shared<FakeRecipient>();
      const auto refused = attach(node, p, recipient);
      if (!refused) return recipient;
      REQUIRE(*refused == CloseCode::kRoomElsewhere);
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(50ms);  // the poll interval; the condition is the attach
    }
  }

  mend::testing::TempDir dir{"lease-key"};
  ManualClock clock{kStart};
  std::string schema;
  Node first;
  Node second;
};

TEST_CASE("a room is served by one node: another node refuses it ROOM_ELSEWHERE while the lease runs") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const Participant& a = attached.a;
  const auto& on_first = attached.recipient;
  // The owner renews while it serves: the room stays its own past the end of its first lease
  // (twice the lease time: six renewals).
  const auto started = std::chrono::steady_clock::now();
  nodes.first.run_for(std::chrono::milliseconds(2 * kLeaseMs));
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(2 * kLeaseMs));
  CHECK_FALSE(on_first->closed.has_value());

  auto on_second = std::make_shared<FakeRecipient>();
  CHECK(nodes.attach(nodes.second, a, on_second) == CloseCode::kRoomElsewhere);

  std::optional<Result<v1::GetRoomResponse>> view;
  nodes.second.service->get_view(a, [&](Result<v1::GetRoomResponse> r) { view = r; });
  nodes.second.run_until([&] { return view.has_value(); });
  REQUIRE(view->error.has_value());
  CHECK(view->error->code == "ROOM_ELSEWHERE");
  CHECK(view->error->http_status == 503);
  CHECK(view->error->retry_after_s >= 1);
}

TEST_CASE("a room another node is asked for is handed over at the owner's next renewal: its "
          "clients are told to reconnect (4010) and the other node serves it without waiting "
          "for expiry") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const Participant& a = attached.a;
  const auto& on_first = attached.recipient;
  CHECK(nodes.submit(nodes.first, a, *on_first, "c1", "consent {}").accepted());
  // B is sent to the second node (the router's choice now): refused while the first holds it.
  const Participant b = TwoNodes::who(attached.room, v1::PARTNER_B);
  CHECK(nodes.attach(nodes.second, b, std::make_shared<FakeRecipient>()) ==
        CloseCode::kRoomElsewhere);
  nodes.first.run_until([&] { return on_first->closed.has_value(); });
  CHECK(*on_first->closed == CloseCode::kRoomElsewhere);
  // Given back, not expired: the second node takes it at once and both partners meet there.
  auto b_on_second = std::make_shared<FakeRecipient>();
  CHECK_FALSE(nodes.attach(nodes.second, b, b_on_second).has_value());
  auto a_on_second = std::make_shared<FakeRecipient>();
  CHECK_FALSE(nodes.attach(nodes.second, a, a_on_second).has_value());
  CHECK(nodes.submit(nodes.second, a, *a_on_second, "c1", "consent {}").accepted());  // a retry
  CHECK(nodes.stored(nodes.second, attached.room).size() == 2);  // created, A's consent: once
}

TEST_CASE("after the owner's lease expired another node takes the room over and carries on") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const std::string& room = attached.room;
  const Participant& a = attached.a;
  const auto& on_first = attached.recipient;
  CHECK(nodes.submit(nodes.first, a, *on_first, "c1", "consent {}").accepted());
  // The first node stops running (as if it died): its lease is not renewed.
  auto on_second = nodes.attach_when_expired(nodes.second, a);
  CHECK(nodes.submit(nodes.second, a, *on_second, "c1", "consent {}").accepted());  // a retry
  const auto events = nodes.stored(nodes.second, room);
  REQUIRE(events.size() == 2);  // created, A's consent: once
  CHECK(nodes.submit(nodes.second, a, *on_second, "c2", "signal { kind: LISTENING }").accepted());
}

TEST_CASE("a node that lost its lease closes its clients with 4010 and never writes again") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const std::string& room = attached.room;
  const Participant& a = attached.a;
  const auto& on_first = attached.recipient;
  // The first node is paused past its lease; the second takes the room over.
  auto on_second = nodes.attach_when_expired(nodes.second, a);
  const std::size_t stored_before = nodes.stored(nodes.second, room).size();
  // Resumed, the first node still has commands to run: a definitive rejection (still in
  // CONSENT), whose record is fenced, and an append; or its renewal is refused first. Either
  // way its client is told to reconnect and nothing is stored, not even the rejection.
  const std::string open = R"(open { topic: "chores" intention: "be heard" })";
  nodes.first.service->submit(a, command("late-open", open));
  nodes.first.service->submit(a, command("late", "consent {}"));
  nodes.first.run_until([&] { return on_first->closed.has_value(); });
  CHECK(*on_first->closed == CloseCode::kRoomElsewhere);
  CHECK(on_first->results.empty());
  nodes.first.run_for(100ms);
  CHECK(nodes.stored(nodes.second, room).size() == stored_before);
  CHECK_FALSE(nodes.found(nodes.second, store::CommandKey{room, "A", "late-open"}).has_value());
  // The retry is decided by the node that serves the room (and is rejected there, the same way).
  CHECK(nodes.submit(nodes.second, a, *on_second, "late-open", open).rejection().code() ==
        v1::WRONG_PHASE);
}

TEST_CASE("a node that stops releases its leases: another node takes its rooms over at once") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const Participant& a = attached.a;
  const auto& on_first = attached.recipient;
  bool stopped = false;
  nodes.first.service->stop([&] { stopped = true; });
  nodes.first.run_until([&] { return stopped; });
  CHECK(on_first->closed == CloseCode::kServerShutdown);
  // No waiting for expiry: the first attach on the second node succeeds.
  CHECK_FALSE(nodes.attach(nodes.second, a, std::make_shared<FakeRecipient>()).has_value());
}

TEST_CASE("a timer of a taken-over room fires once") {
  TwoNodes nodes;
  const std::string room = nodes.create_room(nodes.first);
  const auto a = TwoNodes::who(room, v1::PARTNER_A);
  const auto b = TwoNodes::who(room, v1::PARTNER_B);
  auto a1 = std::make_shared<FakeRecipient>();
  auto b1 = std::make_shared<FakeRecipient>();
  REQUIRE_FALSE(nodes.attach(nodes.first, a, a1).has_value());
  REQUIRE_FALSE(nodes.attach(nodes.first, b, b1).has_value());
  CHECK(nodes.submit(nodes.first, a, *a1, "ca", "consent {}").accepted());
  CHECK(nodes.submit(nodes.first, b, *b1, "cb", "consent {}").accepted());
  CHECK(nodes.submit(nodes.first, a, *a1, "p", "pause {}").accepted());
  const auto count_pause_ends = [&] {
    std::size_t ends = 0;
    for (const auto& e : nodes.stored(nodes.second, room)) {
      if (e.actor().role() == v1::SYSTEM) ++ends;
    }
    return ends;
  };
  const std::size_t system_before = count_pause_ends();
  // The pause's deadline passes while the first node is paused; the second takes over and
  // runs the due timer on load.
  nodes.clock.advance(11 * 60 * 1000);
  auto a2 = nodes.attach_when_expired(nodes.second, a);
  nodes.second.run_until([&] { return count_pause_ends() > system_before; });
  const std::size_t system_after = count_pause_ends();
  // The first node wakes with the same timer due: it may not write it again.
  nodes.first.service->run_due_timers();
  nodes.first.run_until([&] { return a1->closed.has_value(); });
  nodes.first.run_for(100ms);
  CHECK(count_pause_ends() == system_after);
}

TEST_CASE("privacy operations queued on a node that loses its lease are answered ROOM_ELSEWHERE, not dropped") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const Participant& a = attached.a;
  auto on_second = nodes.attach_when_expired(nodes.second, a);
  // Resumed, the first node has a command to run (its append goes out and is fenced, or its
  // renewal is refused first) and two erasures queued behind that command.
  nodes.first.service->submit(a, command("late", "consent {}"));
  nodes.erase_both(nodes.first, a).check_elsewhere();
  // Nothing was erased: the second node still serves the whole room.
  CHECK(nodes.submit(nodes.second, a, *on_second, "c1", "consent {}").accepted());
}

TEST_CASE("a node that lost its lease stores neither an erasure that finds nothing to erase nor a "
          "request to erase the room: both answered ROOM_ELSEWHERE") {
  TwoNodes nodes;
  const auto attached = nodes.partner_a_on_first();
  const Participant& a = attached.a;
  auto on_second = nodes.attach_when_expired(nodes.second, a);
  // Resumed, the first node is asked to erase A's contributions (A has none: only the audit
  // entry would be stored) and then the room (A's request would be its first).
  nodes.erase_both(nodes.first, a).check_elsewhere();
  CHECK(nodes.audited(nodes.second, attached.room, v1::AUDIT_CONTRIBUTIONS_ERASED) == 0);
  CHECK(nodes.audited(nodes.second, attached.room, v1::AUDIT_ROOM_ERASURE_REQUESTED) == 0);
  // The node serving the room records the request.
  std::optional<Result<v1::EraseRoomResponse>> asked;
  nodes.second.service->erase_room(a, [&](Result<v1::EraseRoomResponse> r) { asked = std::move(r); });
  nodes.second.run_until([&] { return asked.has_value(); });
  CHECK(asked->value.has_value());
  CHECK(nodes.audited(nodes.second, attached.room, v1::AUDIT_ROOM_ERASURE_REQUESTED) == 1);
}

TEST_CASE("a counselor's caseload lists the rooms another node serves, with their stored status") {
  TwoNodes nodes;
  const std::string creator = "key:counselor";
  const auto first = nodes.partner_a_on(nodes.first, creator);
  const auto second = nodes.partner_a_on(nodes.second, creator);
  const std::string& on_first = first.room;
  const std::string& on_second = second.room;
  CHECK(nodes.submit(nodes.second, second.a, *second.recipient, "c", "consent {}").accepted());

  for (Node* node : {&nodes.first, &nodes.second}) {
    std::optional<Result<v1::ListRoomsResponse>> listed;
    node->service->list_rooms_for(creator, [&](Result<v1::ListRoomsResponse> r) { listed = r; });
    node->run_until([&] { return listed.has_value(); });
    REQUIRE(listed->value.has_value());
    REQUIRE(listed->value->rooms_size() == 2);
    for (const v1::RoomStatus& status : listed->value->rooms()) {
      const bool here = (node == &nodes.first) == (status.room_id() == on_first);
      CHECK(status.a_consented() == (status.room_id() == on_second));
      // Who is connected is known only where the room is served.
      CHECK(status.connected_size() == (here ? 1 : 0));
    }
  }
  // Listing took no lease: each room stays with the node that serves it.
  CHECK(nodes.attach(nodes.second, first.a, std::make_shared<FakeRecipient>()) ==
        CloseCode::kRoomElsewhere);
  CHECK(nodes.attach(nodes.first, second.a, std::make_shared<FakeRecipient>()) ==
        CloseCode::kRoomElsewhere);
}

}  // namespace
}  // namespace mend::rooms
