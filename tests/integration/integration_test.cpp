// The real mendd, driven only through the SDK (mend-client) on 127.0.0.1: whole conversations,
// observers, rejections over the wire, resume after disconnects, retried command ids, tokens
// and TLS.
#include "harness.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/common/mendd_process.h"

namespace v1 = mend::v1;
namespace mc = mend::client;
using mend::testing::Changes;
using mend::testing::cmd;
using mend::testing::contiguous_from_one;
using mend::testing::count_kind;
using mend::testing::create_room;
using mend::testing::kBound;
using mend::testing::Mendd;
using mend::testing::MenddProcess;
using mend::testing::Participant;
using mend::testing::phase_is;
using mend::testing::play_until;
using mend::testing::strictly_increasing;
using namespace std::chrono_literals;

namespace {

const char* kObserver = "Dr Lee";

mc::AutopilotScript approving(const char* observer) {
  mc::AutopilotScript script;
  script.terms.add_observers(observer);
  script.terms.set_retention_days(30);
  return script;
}

void check_rejected(const mc::CommandOutcome& outcome, v1::RejectionCode code) {
  INFO("expected " << v1::RejectionCode_Name(code) << ", got "
                   << v1::RejectionCode_Name(outcome.rejection_code()) << " / "
                   << mc::error_code_name(outcome.error.code));
  CHECK(outcome.error.ok());
  CHECK_FALSE(outcome.accepted());
  CHECK(outcome.rejection_code() == code);
  CHECK_FALSE(outcome.result.rejection().message().empty());
}

v1::Command signal() {
  return cmd([](v1::Command& c) { c.mutable_signal()->set_kind(v1::LISTENING); });
}

// Both partners of a speaker-listener room, played to the first SPEAKING phase (A holds the
// floor, nothing shared yet).
struct SpeakingRoom {
  Changes changes;
  Participant a;
  Participant b;
  SpeakingRoom(Mendd& server, const v1::CreateRoomResponse& room)
      : SpeakingRoom(server.ws_url(), room) {}
  SpeakingRoom(const std::string& ws_url, const v1::CreateRoomResponse& room)
      : a(changes, ws_url, room.invites(0).token()), b(changes, ws_url, room.invites(1).token()) {
    a.start();
    b.start();
    REQUIRE(play_until(changes, {&a, &b}, [&] { return phase_is(a, v1::PHASE_SPEAKING); }));
  }
};

bool caught_up(Participant& follower, Participant& leader) {
  return follower.client().last_delivered_seq() >= leader.client().last_delivered_seq();
}

}  // namespace

TEST_CASE("two partners hold a whole imago dialogue while an observer admitted by both partners' "
          "approval watches until revoked and is disconnected with 4503") {
  Mendd server;
  const auto room = create_room(server.http_url(), "imago-dialogue", {kObserver});
  Changes changes;
  Participant a(changes, server.ws_url(), room.invites(0).token(), approving(kObserver));
  Participant b(changes, server.ws_url(), room.invites(1).token(), approving(kObserver));
  a.start();
  b.start();

  // Consent approves the observer on both sides; then the observer may join.
  REQUIRE(play_until(changes, {&a, &b}, [&] {
    const v1::RoomView view = a.view();
    for (const auto& p : view.participants()) {
      if (p.name() == kObserver) return p.approved_by_a() && p.approved_by_b();
    }
    return false;
  }));
  // (mendd refuses an observer's connection with 4503 until both partners approved it.)
  Participant observer(changes, server.ws_url(), room.invites(2).token());
  observer.start();
  REQUIRE(observer.send(cmd([](v1::Command& c) { c.mutable_join(); })).accepted());
  check_rejected(observer.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("hi"); })),
                 v1::NOT_ALLOWED_FOR_ROLE);
  // The first speaker's turn up to "no more", watched by the observer.
  REQUIRE(play_until(changes, {&a, &b}, [&] {
    return count_kind(a.events(), v1::Event::kMoreAnswered) >= 1 &&
           count_kind(observer.events(), v1::Event::kReflected) >= 1;
  }));
  CHECK(count_kind(observer.events(), v1::Event::kShared) >= 1);

  // Partner A revokes: the observer is disconnected at once, for good.
  const auto revoked = a.send(cmd([](v1::Command& c) {
    c.mutable_revoke_observer()->set_observer(kObserver);
  }));
  REQUIRE(revoked.accepted());
  REQUIRE(changes.wait_until([&] { return observer.closed().has_value(); }, kBound));
  CHECK(observer.closed()->code == mc::ErrorCode::kTerminalClose);
  CHECK(observer.closed()->close_code == 4503);
  CHECK(count_kind(a.events(), v1::Event::kObserverRevoked) == 1);

  REQUIRE(play_until(changes, {&a, &b}, [&] {
    return phase_is(a, v1::PHASE_CLOSED) && phase_is(b, v1::PHASE_CLOSED);
  }));
  CHECK(a.view().closed_reason() == v1::COMPLETED);
  CHECK(count_kind(a.events(), v1::Event::kRolesSwitched) == 1);
  CHECK(count_kind(b.events(), v1::Event::kConversationClosed) == 1);
  CHECK(strictly_increasing(a.events()));
  CHECK(strictly_increasing(b.events()));
  CHECK(contiguous_from_one(a.events()));
  CHECK(a.client().last_delivered_seq() == b.client().last_delivered_seq());
}

TEST_CASE("rejections travel over the wire with their stable codes") {
  Mendd server;
  const auto room = create_room(server.http_url(), "speaker-listener");
  Changes changes;
  Participant a(changes, server.ws_url(), room.invites(0).token());
  Participant b(changes, server.ws_url(), room.invites(1).token());
  a.start();
  b.start();
  REQUIRE(changes.wait_until([&] { return a.online() && b.online(); }, kBound));

  SUBCASE("before consent and opening") {
    check_rejected(a.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("hi"); })),
                   v1::WRONG_PHASE);
    check_rejected(a.send(cmd([](v1::Command& c) { c.mutable_note()->set_text("mine"); })),
                   v1::NOT_ALLOWED_FOR_ROLE);
    for (Participant* partner : {&a, &b}) {
      REQUIRE(partner->send(cmd([](v1::Command& c) { c.mutable_consent(); })).accepted());
    }
    // Either partner may open a speaker-listener conversation, with words.
    check_rejected(b.send(cmd([](v1::Command& c) { c.mutable_open()->set_intention(" "); })),
                   v1::EMPTY);
    check_rejected(a.send(cmd([](v1::Command& c) { c.mutable_open()->set_intention("   "); })),
                   v1::EMPTY);
  }

  SUBCASE("while the speaker holds the floor, and during a pause") {
    for (Participant* partner : {&a, &b}) {
      REQUIRE(partner->send(cmd([](v1::Command& c) { c.mutable_consent(); })).accepted());
    }
    REQUIRE(a.send(cmd([](v1::Command& c) { c.mutable_open()->set_intention("to understand"); }))
                .accepted());
    check_rejected(b.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("me first"); })),
                   v1::NOT_YOUR_TURN);
    REQUIRE(a.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("I miss you."); }))
                .accepted());
    const auto early = b.send(cmd([](v1::Command& c) {
      c.mutable_reflect()->set_kind(v1::MIRROR);
      c.mutable_reflect()->set_text("You miss me.");
    }));
    check_rejected(early, v1::TOO_SOON);
    CHECK(early.result.rejection().retry_after_ms() > 0);
    CHECK(early.result.rejection().retry_after_ms() <= 2000);

    REQUIRE(a.send(cmd([](v1::Command& c) { c.mutable_pause(); })).accepted());
    check_rejected(b.send(cmd([](v1::Command& c) {
                     c.mutable_reflect()->set_kind(v1::MIRROR);
                     c.mutable_reflect()->set_text("You miss me.");
                   })),
                   v1::PAUSED);
    check_rejected(b.send(cmd([](v1::Command& c) { c.mutable_return_(); })), v1::ONLY_CALLER);
    REQUIRE(a.send(cmd([](v1::Command& c) { c.mutable_return_(); })).accepted());
    CHECK(a.view().phase() == v1::PHASE_MIRRORING);
  }
}

TEST_CASE("a partner who drops mid-conversation resumes with no gap and no duplicate") {
  Mendd server;
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server, room);

  SUBCASE("offline on purpose while the other partner acts") {
    r.b.client().set_online(false);
    REQUIRE(r.changes.wait_until(
        [&] { return r.b.client().state() == mc::ConnectionState::kOffline; }, kBound));
    for (int i = 0; i < 3; ++i) REQUIRE(r.a.send(signal()).accepted());
    r.b.client().set_online(true);
  }
  SUBCASE("an abrupt drop while the other partner acts") {
    r.b.client().drop_connection();
    for (int i = 0; i < 3; ++i) REQUIRE(r.a.send(signal()).accepted());
  }
  REQUIRE(r.changes.wait_until([&] { return caught_up(r.b, r.a); }, kBound));
  CHECK(r.b.welcomes() >= 2);
  CHECK(contiguous_from_one(r.b.events()));
  CHECK(r.b.events().size() == r.a.events().size());
  CHECK(count_kind(r.b.events(), v1::Event::kSignaled) == 3);

  // The conversation goes on after the resume.
  REQUIRE(play_until(r.changes, {&r.a, &r.b},
                     [&] { return count_kind(r.a.events(), v1::Event::kReflected) >= 1; }));
}

TEST_CASE("a resume replays a gap of ten times the outgoing queue bound in one connection, "
          "with the live frames that arrive meanwhile after it, in order") {
  constexpr std::size_t kQueueBound = 64 * 1024;
  Mendd server({"--max-queued-bytes", std::to_string(kQueueBound), "--commands-per-second",
                "1000", "--command-burst", "1000", "--store", "memory"});
  const auto room = create_room(server.http_url(), "dreams-within-conflict");
  SpeakingRoom r(server, room);
  REQUIRE(r.a.view().speaker() == v1::PARTNER_A);  // B listens and may ask questions
  const auto ask = [&r](int i) {
    return r.b.send(cmd([i](v1::Command& c) {
      c.mutable_ask()->set_text("Question " + std::to_string(i) + ": " + std::string(3900, 'q'));
    }));
  };

  r.a.client().set_online(false);
  REQUIRE(r.changes.wait_until(
      [&] { return r.a.client().state() == mc::ConnectionState::kOffline; }, kBound));
  const int welcomes = r.a.welcomes();
  std::size_t gap_bytes = 0;
  int asked = 0;
  while (gap_bytes < 10 * kQueueBound) {
    const auto outcome = ask(asked++);
    REQUIRE(outcome.accepted());
    gap_bytes += 3900;
  }
  r.a.client().set_online(true);
  for (int live = 0; live < 20; ++live) REQUIRE(ask(asked++).accepted());  // during the replay
  REQUIRE(r.changes.wait_until([&] { return caught_up(r.a, r.b); }, kBound));
  CHECK(r.a.welcomes() == welcomes + 1);  // one resume, never cut by the bound (4008)
  CHECK(contiguous_from_one(r.a.events()));
  CHECK(count_kind(r.a.events(), v1::Event::kAsked) == static_cast<std::size_t>(asked));
  CHECK(r.a.events().size() == r.b.events().size());
}

TEST_CASE("a retried command_id is applied once and answered with the original result") {
  Mendd server;
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server, room);

  v1::Command first = signal();
  first.set_command_id("retried-command-0001");
  const auto original = r.a.send(first);
  REQUIRE(original.accepted());
  const auto again = r.a.send(first);
  REQUIRE(again.accepted());
  CHECK(again.result.first_seq() == original.result.first_seq());
  CHECK(again.result.last_seq() == original.result.last_seq());

  // A command in flight when the connection drops is sent again by the SDK with its id.
  auto in_flight = r.a.client().send(signal());
  r.a.client().drop_connection();
  REQUIRE(in_flight.wait_for(kBound) == std::future_status::ready);
  CHECK(in_flight.get().accepted());

  const auto marker = r.a.send(cmd([](v1::Command& c) {
    c.mutable_signal()->set_kind(v1::FEELING_HEARD);
  }));
  REQUIRE(marker.accepted());
  REQUIRE(r.changes.wait_until(
      [&] { return r.b.client().last_delivered_seq() >= marker.result.last_seq(); }, kBound));
  CHECK(count_kind(r.b.events(), v1::Event::kSignaled) == 3);  // once, once, and the marker
  CHECK(contiguous_from_one(r.b.events()));
}

TEST_CASE("a retried definitive rejection gets its original result across a reconnect and a "
          "restart, while a transient one is decided again") {
  mend::testing::TempDir dir("rejections");
  MenddProcess server({"--data-dir", dir.path().string(), "--templates-dir",
                       mend::testing::shipped_templates_dir(), "--log-format", "text"});
  server.start(0);
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server.ws_url(), room);

  // Definitive: content during a pause is PAUSED, and stays PAUSED after the pause ended.
  REQUIRE(r.a.send(cmd([](v1::Command& c) { c.mutable_pause(); })).accepted());
  v1::Command held_back = cmd([](v1::Command& c) { c.mutable_share()->set_text("After all"); });
  held_back.set_command_id("held-back-during-pause");
  const auto original = r.a.send(held_back);
  check_rejected(original, v1::PAUSED);
  REQUIRE(r.a.send(cmd([](v1::Command& c) { c.mutable_return_(); })).accepted());
  const auto same = [&](const mc::CommandOutcome& outcome) {
    return outcome.error.ok() &&
           outcome.result.SerializeAsString() == original.result.SerializeAsString();
  };
  CHECK(same(r.a.send(held_back)));
  r.a.client().drop_connection();
  CHECK(same(r.a.send(held_back)));

  // Transient: a mirror before the reflection beat is TOO_SOON.
  REQUIRE(r.a.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("I am tired"); }))
              .accepted());
  v1::Command mirror = cmd([](v1::Command& c) {
    c.mutable_reflect()->set_kind(v1::MIRROR);
    c.mutable_reflect()->set_text("You are tired");
  });
  mirror.set_command_id("mirror-before-the-beat");
  const auto too_soon = r.b.send(mirror);
  check_rejected(too_soon, v1::TOO_SOON);

  const int welcomes_a = r.a.welcomes();
  const int welcomes_b = r.b.welcomes();
  server.kill9();
  server.start(server.port());
  REQUIRE(r.changes.wait_until(
      [&] { return r.a.welcomes() > welcomes_a && r.b.welcomes() > welcomes_b; }, kBound));
  CHECK(same(r.a.send(held_back)));
  // The server's reflection beat: a known, bounded time, given by the server.
  std::this_thread::sleep_for(std::chrono::milliseconds(too_soon.result.rejection().retry_after_ms()));
  const auto decided_again = r.b.send(mirror);
  CHECK(decided_again.accepted());
  REQUIRE(r.changes.wait_until(
      [&] { return r.a.client().last_delivered_seq() >= decided_again.result.last_seq(); },
      kBound));
  CHECK(count_kind(r.a.events(), v1::Event::kShared) == 1);  // the held-back share never landed
  CHECK(server.terminate() == 0);
}

TEST_CASE("partners' refusals counted by code survive a restart of mendd (insights)") {
  mend::testing::TempDir dir("refusals");
  MenddProcess server({"--data-dir", dir.path().string(), "--templates-dir",
                       mend::testing::shipped_templates_dir(), "--log-format", "text"});
  server.start(0);
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server.ws_url(), room);
  for (const char* words : {"me first", "me first, really"}) {
    check_rejected(r.b.send(cmd([&](v1::Command& c) { c.mutable_share()->set_text(words); })),
                   v1::NOT_YOUR_TURN);
  }
  // Accepted after them: the room stores the counts no later than this command's events.
  REQUIRE(r.a.send(cmd([](v1::Command& c) { c.mutable_share()->set_text("I am tired"); }))
              .accepted());
  server.kill9();
  server.start(server.port());
  mc::HttpClient http({server.http_url(), {}, {}, 10s});
  const auto read = http.get_insights(room.room_id(), room.invites(0).token());
  REQUIRE(read.ok());
  const v1::Insights& insights = read.value->insights();
  REQUIRE(insights.partner_b().refusals_size() == 1);
  CHECK(insights.partner_b().refusals(0).code() == v1::NOT_YOUR_TURN);
  CHECK(insights.partner_b().refusals(0).count() == 2);
  CHECK(insights.partner_a().refusals_size() == 0);
  CHECK(server.terminate() == 0);
}

// The value of an unlabelled series in Prometheus text, or -1 when it is absent.
// Connects to plain /v1/connect (no room in the path), says Hello with `token` and returns the
// first frame the server sends.
v1::ServerFrame hello_on_plain_connect(int port, const std::string& token) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  asio::io_context ioc;
  websocket::stream<asio::ip::tcp::socket> ws(ioc);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)});
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
    request.set(beast::http::field::sec_websocket_protocol, "mend.v1");
  }));
  ws.handshake("127.0.0.1", "/v1/connect");
  ws.binary(true);
  v1::ClientFrame hello;
  hello.mutable_hello()->set_token(token);
  ws.write(asio::buffer(hello.SerializeAsString()));
  beast::flat_buffer buffer;
  ws.read(buffer);
  v1::ServerFrame frame;
  frame.ParseFromString(beast::buffers_to_string(buffer.data()));
  return frame;
}

double metric_value(const std::string& text, const std::string& name) {
  const std::string prefix = "\n" + name + " ";
  const auto at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size()));
}

TEST_CASE("/metrics reports the durable store's commits, appends and checkpoints") {
  Mendd server;
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server, room);
  REQUIRE(r.a.send(signal()).accepted());
  const auto scraped = mc::HttpClient({server.http_url(), {}, {}, 10s}).request("GET", "/metrics");
  REQUIRE(scraped.ok());
  REQUIRE(scraped.value->status == 200);
  const std::string& text = scraped.value->body;
  CHECK(metric_value(text, "mend_store_commits_total") >= 1);
  // Room creation, the joins and the signal, each committed before it was answered.
  CHECK(metric_value(text, "mend_store_appends_total") >= 3);
  CHECK(metric_value(text, "mend_store_appends_rejected_total") == 0);
  CHECK(metric_value(text, "mend_store_wal_restarts_total") >= 0);
  CHECK(metric_value(text, "mend_store_checkpoints_incomplete_total") >= 0);
  CHECK(text.find("# TYPE mend_store_pending_writes gauge") != std::string::npos);
}

TEST_CASE("with two shards a whole conversation through the SDK hands no frame to another shard "
          "over ws and wss, while partners on plain /v1/connect cross shards and are still "
          "welcomed") {
  Mendd server({"--threads", "2"});
  auto cross_shard_posts = [&] {
    const auto scraped =
        mc::HttpClient({server.http_url(), {}, {}, 10s}).request("GET", "/metrics");
    REQUIRE(scraped.ok());
    return metric_value(scraped.value->body, "mend_cross_shard_posts_total");
  };
  {
    // The SDK connects to /v1/connect/{room}: both partners are served on the room's shard.
    const auto room = create_room(server.http_url(), "speaker-listener");
    SpeakingRoom r(server, room);
    REQUIRE(play_until(r.changes, {&r.a, &r.b}, [&] {
      return phase_is(r.a, v1::PHASE_CLOSED) && phase_is(r.b, v1::PHASE_CLOSED);
    }));
    CHECK(cross_shard_posts() == 0);
  }
  {
    // Over TLS the connection moves with its TLS state.
    const auto room =
        create_room(server.https_url(), "speaker-listener", {}, 0, server.certificate());
    Changes changes;
    Participant a(changes, server.wss_url(), room.invites(0).token(), {}, server.certificate());
    Participant b(changes, server.wss_url(), room.invites(1).token(), {}, server.certificate());
    a.start();
    b.start();
    REQUIRE(play_until(changes, {&a, &b}, [&] { return phase_is(a, v1::PHASE_SPEAKING); }));
    REQUIRE(a.send(signal()).accepted());
    REQUIRE(changes.wait_until([&] { return caught_up(b, a); }, kBound));
    CHECK(cross_shard_posts() == 0);
  }
  // The SDK always names the room, so these two speak the protocol themselves. Connections are
  // accepted round-robin over the shards: of two consecutive ones, one is not on the room's.
  const auto room = create_room(server.http_url(), "speaker-listener");
  for (int partner = 0; partner < 2; ++partner) {
    const v1::ServerFrame first =
        hello_on_plain_connect(server.port(), room.invites(partner).token());
    REQUIRE(first.items_size() > 0);
    CHECK(first.items(0).has_welcome());
  }
  CHECK(cross_shard_posts() > 0);
}

TEST_CASE("forged and expired tokens end the connection for good with 4501") {
  Mendd server;
  Changes changes;
  SUBCASE("forged") {
    const auto room = create_room(server.http_url(), "speaker-listener");
    std::string forged = room.invites(0).token();
    forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
    Participant p(changes, server.ws_url(), forged);
    p.start();
    REQUIRE(changes.wait_until([&] { return p.closed().has_value(); }, kBound));
    CHECK(p.closed()->code == mc::ErrorCode::kTerminalClose);
    CHECK(p.closed()->close_code == 4501);
    CHECK(p.welcomes() == 0);
  }
  SUBCASE("expired") {
    const auto room = create_room(server.http_url(), "speaker-listener", {}, 1);
    // The invite's own expiry time, a known deadline (not a condition to poll).
    const auto expires = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(room.invites(0).expires_at_ms()));
    std::this_thread::sleep_until(expires + 50ms);
    Participant p(changes, server.ws_url(), room.invites(0).token());
    p.start();
    REQUIRE(changes.wait_until([&] { return p.closed().has_value(); }, kBound));
    CHECK(p.closed()->close_code == 4501);
  }
}

TEST_CASE("TLS on the same port verified against the server's generated certificate") {
  Mendd server;
  const auto room =
      create_room(server.https_url(), "speaker-listener", {}, 0, server.certificate());
  Changes changes;
  SUBCASE("trusted with the certificate as CA") {
    Participant a(changes, server.wss_url(), room.invites(0).token(), {}, server.certificate());
    a.start();
    REQUIRE(changes.wait_until([&] { return a.online(); }, kBound));
    CHECK(a.view().you().role() == v1::PARTNER_A);
  }
  SUBCASE("refused without it") {
    mc::ClientOptions options;
    options.url = server.wss_url();
    options.token = room.invites(0).token();
    options.backoff.max_attempts = 1;
    std::promise<mc::ClientError> closed;
    mc::ClientHandlers handlers;
    handlers.on_closed = [&closed](const mc::ClientError& error) { closed.set_value(error); };
    mc::Client client(std::move(options), std::move(handlers));
    REQUIRE(client.start().ok());
    auto future = closed.get_future();
    REQUIRE(future.wait_for(kBound) == std::future_status::ready);
    CHECK(future.get().code == mc::ErrorCode::kGaveUp);
  }
}

TEST_CASE("the HTTP helper lists templates and reads a participant's view") {
  Mendd server;
  mc::HttpClient http({server.http_url(), {}, {}, 10s});
  const auto templates = http.list_templates();
  REQUIRE(templates.ok());
  std::vector<std::string> names;
  for (const auto& t : templates.value->templates()) names.push_back(t.name());
  CHECK(std::find(names.begin(), names.end(), "imago-dialogue") != names.end());
  CHECK(std::find(names.begin(), names.end(), "speaker-listener") != names.end());

  const auto room = create_room(server.http_url(), "speaker-listener");
  const auto view = http.get_room(room.room_id(), room.invites(1).token());
  REQUIRE(view.ok());
  CHECK(view.value->view().you().role() == v1::PARTNER_B);
  const auto refused = http.get_room(room.room_id(), "forged");
  CHECK(refused.error.code == mc::ErrorCode::kHttpStatus);
  CHECK(refused.error.http_status == 401);

  v1::CreateRoomRequest unknown;
  unknown.set_template_("no-such-template");
  const auto bad = http.create_room(unknown);
  CHECK(bad.error.code == mc::ErrorCode::kHttpStatus);
  CHECK_FALSE(bad.error.server_code.empty());
}

TEST_CASE("the conversation example plays a whole imago dialogue to CLOSED and exits 0") {
  Mendd server;
  CHECK(mend::testing::run_program({MEND_EXAMPLE_PATH, "--server", server.http_url()}, 120s) == 0);
}

TEST_CASE("a partner's typing reaches the other partner and is never stored nor replayed") {
  Mendd server;
  const auto room = create_room(server.http_url(), "speaker-listener");
  SpeakingRoom r(server, room);  // A holds the floor: A may share, so A's typing is relayed
  const std::uint64_t last_seq = r.a.view().last_seq();
  REQUIRE(r.changes.wait_until([&] { return caught_up(r.b, r.a); }, kBound));

  r.a.client().send_typing(true);
  REQUIRE(r.changes.wait_until([&] { return !r.b.typing_notices().empty(); }, kBound));
  const auto started = r.b.typing_notices();
  REQUIRE(started.size() == 1);
  CHECK(started[0].who().role() == v1::PARTNER_A);
  CHECK(started[0].typing());
  r.a.client().send_typing(false);
  REQUIRE(r.changes.wait_until([&] { return r.b.typing_notices().size() == 2; }, kBound));
  CHECK_FALSE(r.b.typing_notices()[1].typing());
  CHECK(r.a.typing_notices().empty());  // never echoed to the sender

  // No seq was taken: the next command's event follows the last stored one.
  const auto marker = r.a.send(signal());
  REQUIRE(marker.accepted());
  CHECK(marker.result.first_seq() == last_seq + 1);

  // A new connection of B replays the whole stored history: no typing in it.
  r.b.client().set_online(false);  // else the two connections of B would replace each other
  REQUIRE(r.changes.wait_until(
      [&] { return r.b.client().state() == mc::ConnectionState::kOffline; }, kBound));
  Participant fresh(r.changes, server.ws_url(), room.invites(1).token());
  fresh.start();
  REQUIRE(r.changes.wait_until(
      [&] { return fresh.client().last_delivered_seq() >= marker.result.last_seq(); }, kBound));
  CHECK(contiguous_from_one(fresh.events()));
  CHECK(fresh.events().size() == marker.result.last_seq());
  CHECK(fresh.typing_notices().empty());
}
