// Three mendd nodes on one PostgreSQL behind HAProxy (nodes.h), driven only through the C++ SDK
// and HTTP: a conversation survives the SIGKILL of the node serving it; a node paused past its
// lease cannot write when it resumes and closes its clients; the connect URL's room must be the
// token's. Waits are bounded polls of a condition; nothing sleeps as an assertion.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/cluster/nodes.h"
#include "tests/integration/harness.h"

namespace v1 = mend::v1;
namespace mc = mend::client;
using mend::testing::Changes;
using mend::testing::cmd;
using mend::testing::contiguous_from_one;
using mend::testing::create_room;
using mend::testing::Nodes;
using mend::testing::Participant;
using mend::testing::phase_is;
using mend::testing::play_until;
using mend::testing::the_nodes;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kRoomElsewhere = 4010;
constexpr std::uint16_t kRoomMismatch = 4505;

v1::Command listening() {
  return cmd([](v1::Command& c) { c.mutable_signal()->set_kind(v1::LISTENING); });
}

// Polls `condition` every 20 ms for at most `bound`.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);  // the poll interval
  }
  return true;
}

}  // namespace

TEST_CASE("a conversation through HAProxy survives the SIGKILL of the node serving it: every "
          "acknowledged command once, no gap, finished on another node") {
  Nodes& nodes = the_nodes();
  const auto room = create_room(nodes.http_url(), "speaker-listener");
  const std::string& room_id = room.room_id();
  Changes changes;
  // The SDK connects to /v1/connect/{room}: HAProxy sends both partners to one node.
  Participant a(changes, nodes.ws_url(), room.invites(0).token());
  Participant b(changes, nodes.ws_url(), room.invites(1).token());
  a.start();
  b.start();
  REQUIRE(play_until(changes, {&a, &b}, [&] { return phase_is(a, v1::PHASE_SPEAKING); }));
  const int owner = nodes.owner(room_id);
  REQUIRE(owner >= 0);

  // SIGKILL the owner; B's command waits in its SDK and is accepted by the new owner.
  const auto killed_at = std::chrono::steady_clock::now();
  nodes.node(owner).kill9();
  const mc::CommandOutcome after = b.send(listening());
  const auto failover = std::chrono::steady_clock::now() - killed_at;
  REQUIRE(after.accepted());
  MESSAGE("failover (SIGKILL of the owner to the first accepted command on the new owner): "
          << std::chrono::duration_cast<std::chrono::milliseconds>(failover).count()
          << " ms with leases of " << Nodes::kLeaseMs << " ms");
  const int new_owner = nodes.owner(room_id);
  CHECK(new_owner >= 0);
  CHECK(new_owner != owner);
  CHECK(failover < std::chrono::milliseconds(Nodes::kLeaseMs) + 5s);

  REQUIRE(play_until(changes, {&a, &b}, [&] { return phase_is(a, v1::PHASE_CLOSED); }, 40s));
  REQUIRE(eventually([&] { return b.client().last_delivered_seq() >= a.client().last_delivered_seq() &&
                                  a.client().last_delivered_seq() >= b.client().last_delivered_seq(); },
                     5s));
  for (Participant* p : {&a, &b}) {
    const auto events = p->events();
    CHECK(contiguous_from_one(events));  // resumed with no gap and no duplicate
    CHECK(p->welcomes() >= 2);           // reconnected once at least
  }
  const auto events = a.events();
  CHECK(nodes.stored_events(room_id) == events.size());
  std::multiset<std::uint64_t> seen;
  for (const auto& event : events) seen.insert(event.seq());
  // Every acknowledged command's events are there once, and no two commands claim one seq.
  std::multiset<std::uint64_t> acknowledged = {after.result.first_seq()};
  for (Participant* p : {&a, &b}) {
    for (std::uint64_t seq : p->accepted_seqs()) acknowledged.insert(seq);
  }
  for (std::uint64_t seq : acknowledged) {
    CHECK(seen.count(seq) == 1);
    CHECK(acknowledged.count(seq) == 1);
  }
  a.client().stop();
  b.client().stop();
}

TEST_CASE("a node paused past its lease cannot write when it resumes and closes its clients with "
          "4010") {
  Nodes& nodes = the_nodes();
  const auto room = create_room(nodes.http_url(), "speaker-listener");
  const std::string& room_id = room.room_id();
  // Both partners straight to node 0 (not through HAProxy, which would cut them off when the
  // node fails its health checks): node 0 serves the room.
  const int paused = 0;
  Changes changes;
  Participant a(changes, nodes.node(paused).ws_url(), room.invites(0).token());
  Participant b(changes, nodes.node(paused).ws_url(), room.invites(1).token());
  a.start();
  b.start();
  REQUIRE(play_until(changes, {&a, &b}, [&] { return phase_is(a, v1::PHASE_SPEAKING); }));
  REQUIRE(nodes.owner(room_id) == paused);

  nodes.node(paused).signal(SIGSTOP);
  // A command sent now waits in the paused node's socket.
  auto waiting = b.client().send(listening());
  // Someone else reads the room through HAProxy: once the lease expired (and HAProxy saw node 0
  // fail its checks), another node takes the room over.
  mc::HttpClient http({nodes.http_url(), {}, {}, 3s});
  REQUIRE(eventually([&] { return http.get_room(room_id, room.invites(0).token()).ok(); }, 15s));
  const int taker = nodes.owner(room_id);
  CHECK(taker >= 0);
  CHECK(taker != paused);
  const auto stored = nodes.stored_events(room_id);

  nodes.node(paused).signal(SIGCONT);
  REQUIRE(eventually(
      [&] {
        const auto codes = a.close_codes();
        return std::find(codes.begin(), codes.end(), kRoomElsewhere) != codes.end();
      },
      10s));
  REQUIRE(eventually(
      [&] {
        const auto codes = b.close_codes();
        return std::find(codes.begin(), codes.end(), kRoomElsewhere) != codes.end();
      },
      10s));
  // The command that waited in the resumed node's socket was not stored there.
  CHECK(nodes.stored_events(room_id) == stored);
  CHECK(nodes.owner(room_id) == taker);
  a.client().stop();
  b.client().stop();
  CHECK(waiting.wait_for(5s) == std::future_status::ready);  // failed by stop(), never accepted
  if (waiting.wait_for(0s) == std::future_status::ready) CHECK_FALSE(waiting.get().accepted());
}

TEST_CASE("a connect URL naming another room than the token's is refused for good with 4505") {
  Nodes& nodes = the_nodes();
  const auto first = create_room(nodes.http_url(), "speaker-listener");
  const auto second = create_room(nodes.http_url(), "speaker-listener");
  Changes changes;
  Participant a(changes, nodes.ws_url() + "/v1/connect/" + second.room_id(),
                first.invites(0).token());
  a.start();
  REQUIRE(changes.wait_until([&] { return a.closed().has_value(); }, 10s));
  CHECK(a.closed()->code == mc::ErrorCode::kTerminalClose);
  CHECK(a.closed()->close_code == kRoomMismatch);
}
