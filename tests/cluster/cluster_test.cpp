// Three mendd nodes on one PostgreSQL behind HAProxy (nodes.h), driven only through the C++ SDK
// and HTTP: a conversation survives the SIGKILL of the node serving it; a node paused past its
// lease cannot write when it resumes and closes its clients; the connect URL's room must be the
// token's; a rolling restart of every node and a restart of PostgreSQL under mend-load (the real
// tool) lose and double nothing. Waits are bounded polls of a condition; nothing sleeps as an
// assertion.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/cluster/nodes.h"
#include "tests/common/json_number.h"
#include "tests/common/subprocess.h"
#include "tests/integration/harness.h"

namespace v1 = mend::v1;
namespace mc = mend::client;
using mend::testing::Changes;
using mend::testing::cmd;
using mend::testing::contiguous_from_one;
using mend::testing::create_room;
using mend::testing::json_number;
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

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What PostgreSQL holds of the rooms created since `since_ms`: their events, and the sum of
// their last seqs (equal when no room's log has a hole).
struct Stored {
  std::uint64_t events = 0;
  std::uint64_t last_seqs = 0;
};
Stored stored_since(const Nodes& nodes, std::int64_t since_ms) {
  const std::string since = std::to_string(since_ms);
  return {std::stoull(nodes.value("SELECT count(*) FROM {schema}.events e JOIN {schema}.rooms r "
                                  "USING (room_id) WHERE r.first_at_ms >= " + since)),
          std::stoull(nodes.value("SELECT coalesce(sum(last_seq), 0) FROM {schema}.rooms WHERE "
                                  "first_at_ms >= " + since))};
}

// mend-load (the real tool) through HAProxy, running until finish(): a few speaker-listener
// rooms with think time (the templates' reflection beat paces them too), one I/O thread.
class LoadProcess {
 public:
  explicit LoadProcess(const Nodes& nodes)
      : process_({MEND_LOAD_PATH, "--server", nodes.ws_url(), "--rooms", "8", "--template",
                  "speaker-listener", "--think-ms", "50", "--warmup", "0", "--duration", "240",
                  "--seed", "13", "--threads", "1", "--json", "--quiet"},
                 mend::testing::Subprocess::Output::kStdoutOnly) {}

  // SIGTERM: mend-load ends its run, waits for its commands in flight, and prints its JSON
  // result; returns its exit code (0: something accepted, nothing lost or doubled) and that.
  std::pair<int, std::string> finish() {
    process_.signal(SIGTERM);
    std::string json = process_.read_until(mend::testing::Subprocess::Clock::now() + 40s);
    return {process_.wait_exit(10s), std::move(json)};
  }

 private:
  mend::testing::Subprocess process_;
};

// The run's result says nothing was lost or doubled, and PostgreSQL holds exactly what the
// partners saw of the rooms created since `since_ms`.
void check_whole(const Nodes& nodes, const std::string& json, std::int64_t since_ms) {
  INFO(json);
  CHECK(json_number(json, "gaps") == 0);
  CHECK(json_number(json, "duplicates") == 0);
  CHECK(json_number(json, "missing") == 0);
  // Every command got its answer by the end of the run: both partners of every room are
  // served by one node again.
  CHECK(json_number(json, "unanswered") == 0);
  CHECK(json_number(json, "resets") == 0);
  const Stored stored = stored_since(nodes, since_ms);
  CHECK(stored.events == stored.last_seqs);
  CHECK(stored.events == static_cast<std::uint64_t>(json_number(json, "events_delivered")));
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

TEST_CASE("a rolling restart of all three nodes under mend-load loses and doubles no command, "
          "and the conversations go on") {
  Nodes& nodes = the_nodes();
  const std::int64_t since = now_unix_ms();
  LoadProcess load(nodes);
  REQUIRE(eventually([&] { return stored_since(nodes, since).events >= 30; }, 30s));

  const auto started = std::chrono::steady_clock::now();
  std::uint64_t drained = 0;  // partners' connections the drains moved to other nodes
  for (int i = 0; i < Nodes::kCount; ++i) {
    drained += nodes.metric(i, "mend_connections{role=\"partner_a\"}") +
               nodes.metric(i, "mend_connections{role=\"partner_b\"}");
    const Nodes::Drained drained_node = nodes.drain_and_restart(i);
    CHECK(drained_node.exit_code == 0);  // a clean drain; back and routed before the next
    // Out of HAProxy's hash before the node stopped accepting: both partners of a room it
    // served reconnect to the node the hash picks next, never one each to a node picked at
    // random (a couple split across two nodes, one refused with 4010 until the other lets go).
    CHECK(drained_node.marked_down_in_grace);
  }
  MESSAGE("rolling restart (drain, start, ready and routed again) of " << Nodes::kCount
          << " nodes: "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - started)
                 .count()
          << " ms; partners' connections drained: " << drained);
  CHECK(drained > 0);
  // The conversations go on: commands are accepted and stored after the last restart.
  const std::uint64_t after_restarts = stored_since(nodes, since).events;
  CHECK(eventually([&] { return stored_since(nodes, since).events >= after_restarts + 20; },
                   30s));

  const auto [exit_code, json] = load.finish();
  CHECK(exit_code == 0);
  MESSAGE("mend-load: " << json);
  check_whole(nodes, json, since);
}

TEST_CASE("PostgreSQL restarted under mend-load: clients are told UNAVAILABLE, nothing is lost or "
          "doubled, and the conversations go on") {
  Nodes& nodes = the_nodes();
  const std::string unavailable = "mend_commands_total{result=\"UNAVAILABLE\"}";
  const std::int64_t since = now_unix_ms();
  LoadProcess load(nodes);
  REQUIRE(eventually([&] { return stored_since(nodes, since).events >= 30; }, 30s));

  const std::uint64_t told_before = nodes.metric_sum(unavailable);
  const auto stopped_at = std::chrono::steady_clock::now();
  mend::testing::pg().stop();  // fast shutdown: the nodes' sessions are terminated
  // Down until a node has answered a command UNAVAILABLE (the load sends some every second).
  CHECK(eventually([&] { return nodes.metric_sum(unavailable) > told_before; }, 15s));
  mend::testing::pg().start();  // the same cluster on the same port
  const auto down = std::chrono::steady_clock::now() - stopped_at;
  const std::uint64_t after_restart = stored_since(nodes, since).events;
  // The conversations go on, and every node is ready.
  CHECK(eventually([&] { return stored_since(nodes, since).events >= after_restart + 20; }, 30s));
  const auto back = std::chrono::steady_clock::now() - stopped_at - down;
  for (int i = 0; i < Nodes::kCount; ++i) {
    const mc::HttpClient http({nodes.node(i).http_url(), {}, {}, 2s});
    const auto ready = http.request("GET", "/readyz");
    CHECK(ready.ok());
    if (ready.ok()) CHECK(ready.value->status == 200);
  }
  MESSAGE("PostgreSQL down for "
          << std::chrono::duration_cast<std::chrono::milliseconds>(down).count()
          << " ms; 20 more events stored "
          << std::chrono::duration_cast<std::chrono::milliseconds>(back).count()
          << " ms after it was back; commands answered UNAVAILABLE by the nodes: "
          << nodes.metric_sum(unavailable) - told_before);

  const auto [exit_code, json] = load.finish();
  CHECK(exit_code == 0);
  MESSAGE("mend-load: " << json);
  CHECK(json_number(json, "UNAVAILABLE") > 0);  // the clients were told, and retried
  check_whole(nodes, json, since);
}
