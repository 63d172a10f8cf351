// The network layer wired to the real rooms (RoomServiceImpl, MemoryStore, TokenSigner,
// the shipped templates), as mendd wires them.
#include "tests/net/net_support.h"

#include "server/rooms/room_service_impl.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <thread>

#include "server/engine/templates.h"
#include "server/store/memory_store.h"

namespace mend::net::testing {
namespace {

struct RealRooms {
  RealRooms() {
    auto loaded = engine::TemplateCatalog::load(std::string(MEND_SOURCE_DIR) + "/server/templates");
    REQUIRE(loaded.catalog);
    service = std::make_shared<rooms::RoomServiceImpl>(
        ioc.get_executor(), std::make_shared<store::MemoryStore>(), std::move(*loaded.catalog),
        rooms::TokenSigner(kSecret), rooms::system_clock());
    thread = std::thread([this] { ioc.run(); });
  }
  ~RealRooms() {
    work.reset();
    ioc.stop();
    thread.join();
  }
  TokenVerifier verifier() {
    return [service = service](std::string_view token,
                               std::int64_t) -> std::optional<rooms::Participant> {
      auto verified = service->tokens().verify(
          token, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count());
      auto* claims = std::get_if<rooms::TokenClaims>(&verified);
      if (!claims) return std::nullopt;
      return rooms::Participant{claims->room_id, claims->participant};
    };
  }

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::shared_ptr<rooms::RoomServiceImpl> service;
  std::thread thread;
};

TEST_CASE("a room created over HTTP is joined over WebSocket with its invite") {
  RealRooms rooms;
  TestServer server(test_config(), {}, nullptr, rooms.service, rooms.verifier());
  const auto created = http_call(
      server.port(), http::verb::post, "/v1/rooms",
      R"({"template":"speaker-listener","partnerAName":"Ana","partnerBName":"Ben"})");
  REQUIRE(created.status == 201);
  v1::CreateRoomResponse room;
  REQUIRE(google::protobuf::util::JsonStringToMessage(created.body, &room).ok());
  REQUIRE(room.invites_size() >= 2);

  auto unknown = http_call(server.port(), http::verb::post, "/v1/rooms",
                           R"({"template":"no-such-template"})");
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find("UNKNOWN_TEMPLATE") != std::string::npos);

  auto view = http_call(server.port(), http::verb::get, "/v1/rooms/" + room.room_id(), {},
                        room.invites(1).token());
  CHECK(view.status == 200);

  {
  WsClient partner_b;
  REQUIRE_FALSE(partner_b.connect(server.port()));
  REQUIRE_FALSE(partner_b.hello(room.invites(1).token()));
  auto welcome = partner_b.read_frame();
  REQUIRE(welcome);
  REQUIRE(welcome->items_size() > 0);
  CHECK(welcome->items(0).welcome().participant().role() == v1::PARTNER_B);

  // Read through the replay to its end, then send a command and get the engine's result.
  bool replay_done = false;
  for (const auto& item : welcome->items()) replay_done = replay_done || item.has_replay_done();
  while (!replay_done) {
    auto frame = partner_b.read_frame();
    REQUIRE(frame);
    for (const auto& item : frame->items()) replay_done = replay_done || item.has_replay_done();
  }
  v1::ClientFrame accept;
  accept.mutable_command()->set_command_id("accept-1");
  accept.mutable_command()->mutable_accept_invitation();
  REQUIRE_FALSE(partner_b.send(accept));
  bool answered = false;
  while (!answered) {
    auto frame = partner_b.read_frame();
    REQUIRE(frame);
    for (const auto& item : frame->items()) {
      if (item.has_result() && item.result().command_id() == "accept-1") {
        answered = true;
        // The engine's own answer: this template's invitation needs no acceptance.
        CHECK(item.result().rejection().code() == v1::WRONG_PHASE);
      }
    }
  }
  const auto metrics = http_call(server.port(), http::verb::get, "/metrics");
  CHECK(metrics.body.find("mend_connections{role=\"partner_b\"} 1") != std::string::npos);
  }
  // The client is gone: wait (bounded) until the room let its session go, so the test ends
  // with no session and room holding each other (the server's context stops first).
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  bool released = false;
  while (!released && std::chrono::steady_clock::now() < deadline) {
    const auto now_metrics = http_call(server.port(), http::verb::get, "/metrics");
    released = now_metrics.body.find("mend_connections{role=\"partner_b\"} 0") != std::string::npos;
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(released);
}

}  // namespace
}  // namespace mend::net::testing
