// WebSocket connections of DESIGN.md section 5 against a real listener on 127.0.0.1.
#include "tests/net/net_support.h"

#include <cstddef>
#include <vector>

#include <doctest/doctest.h>

#include "server/net/op_memory.h"

namespace mend::net::testing {
namespace {

// A write's operation is larger than what Asio's own cache recycles: the thread keeps a few
// such blocks for the next ones; smaller operations stay with Asio's allocator, and nothing is
// kept per connection.
TEST_CASE("operations too large for Asio's cache reuse the thread's few kept blocks") {
  struct Write {  // about a WebSocket write's operation
    std::byte bytes[1'264];
  };
  struct Read {  // what Asio recycles itself
    std::byte bytes[512];
  };
  static_assert(OpAllocator<Write>::cached(1));
  static_assert(!OpAllocator<Read>::cached(1));
  static_assert(!OpAllocator<std::byte>::cached(OpBlockCache::kBlockBytes + 1));
  OpBlockCache& cache = OpBlockCache::of_this_thread();
  OpAllocator<Write> writes;
  std::vector<Write*> held;  // this thread's kept blocks, if any: the test starts without
  while (cache.kept() > 0) held.push_back(writes.allocate(1));
  Write* first = writes.allocate(1);
  writes.deallocate(first, 1);
  CHECK(cache.kept() == 1);
  OpAllocator<std::byte> rebound(writes);  // as Asio rebinds it
  CHECK(rebound == writes);
  Write* again = OpAllocator<Write>(rebound).allocate(1);
  CHECK(again == first);  // the kept block, reused
  CHECK(cache.kept() == 0);
  writes.deallocate(again, 1);
  OpAllocator<Read> reads;  // Asio's own allocator: the cache neither gives nor keeps
  Read* read = reads.allocate(1);
  CHECK(cache.kept() == 1);
  reads.deallocate(read, 1);
  CHECK(cache.kept() == 1);
  // At most kBlocks are kept; the others are freed.
  std::vector<Write*> many;
  for (std::size_t i = 0; i < OpBlockCache::kBlocks + 4; ++i) many.push_back(writes.allocate(1));
  CHECK(cache.kept() == 0);
  for (Write* block : many) writes.deallocate(block, 1);
  CHECK(cache.kept() == OpBlockCache::kBlocks);
  for (Write* block : held) writes.deallocate(block, 1);
}

constexpr std::uint16_t kMalformed = 4500;
constexpr std::uint16_t kUnauthenticated = 4501;

// A connected client that has said Hello as `role` and read its Welcome.
std::unique_ptr<WsClient> attached_client(TestServer& server, v1::Role role) {
  auto client = std::make_unique<WsClient>();
  REQUIRE_FALSE(client->connect(server.port()));
  REQUIRE_FALSE(client->hello(token_for(role)));
  auto welcome = client->read_frame();
  REQUIRE(welcome);
  REQUIRE(welcome->items_size() == 2);
  CHECK(welcome->items(0).has_welcome());
  return client;
}

TEST_CASE("an upgrade without the mend.v1 subprotocol is refused") {
  TestServer server;
  WsClient none;
  CHECK(none.connect(server.port(), "") == websocket::error::upgrade_declined);
  CHECK(none.upgrade_status() == 400);
  WsClient other;
  CHECK(other.connect(server.port(), "chat.v2") == websocket::error::upgrade_declined);
  WsClient listed;
  CHECK_FALSE(listed.connect(server.port(), "chat.v2, mend.v1"));
}

TEST_CASE("hello with a valid token attaches and commands reach the room") {
  TestServer server;
  auto client = attached_client(server, v1::PARTNER_A);
  v1::ClientFrame command;
  command.mutable_command()->set_command_id("c-1");
  command.mutable_command()->mutable_confirm();
  REQUIRE_FALSE(client->send(command));
  auto result = client->read_frame();
  REQUIRE(result);
  CHECK(result->items(0).result().command_id() == "c-1");
  CHECK(server.server().metrics().connections(ConnectionRole::kPartnerA) == 1);
}

TEST_CASE("messages longer than the session's first read arrive whole and in order, also when "
          "fragmented") {
  TestServer server;
  auto client = attached_client(server, v1::PARTNER_A);
  auto command = [](const char* id, std::size_t text_bytes) {
    v1::ClientFrame frame;
    frame.mutable_command()->set_command_id(id);
    frame.mutable_command()->mutable_share()->set_text(std::string(text_bytes, 'a'));
    return frame;
  };
  // Written before any answer is read, so they may reach the server in one segment.
  REQUIRE_FALSE(client->send(command("long", 5000)));
  REQUIRE_FALSE(client->send(command("short", 10)));
  const std::string fragmented = command("fragmented", 3000).SerializeAsString();
  REQUIRE_FALSE(client->write_binary_in_frames(fragmented, 700));
  REQUIRE_FALSE(client->send(command("last", 600)));
  for (const char* id : {"long", "short", "fragmented", "last"}) {
    auto result = client->read_frame();
    REQUIRE(result);
    CHECK(result->items(0).result().command_id() == id);
  }
}

TEST_CASE("a Typing frame reaches the rooms' typing relay with the sender's identity") {
  TestServer server;
  auto client = attached_client(server, v1::PARTNER_B);
  v1::ClientFrame typing;
  typing.mutable_typing()->set_typing(true);
  REQUIRE_FALSE(client->send(typing));
  v1::ClientFrame command;  // travels the same ordered path: its result proves the typing arrived
  command.mutable_command()->set_command_id("after-typing");
  REQUIRE_FALSE(client->send(command));
  REQUIRE(client->read_frame());
  CHECK(server.fake().last_typing() == 1 + 2 * static_cast<int>(v1::PARTNER_B) + 1);
}

TEST_CASE("a text frame is closed with 4500 (malformed, terminal)") {
  TestServer server;
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  REQUIRE_FALSE(client.write_text("hello"));
  CHECK(client.read_until_close() == kMalformed);
}

TEST_CASE("bytes that are not a ClientFrame are closed with 4500 (malformed, terminal)") {
  TestServer server;
  auto client = attached_client(server, v1::PARTNER_A);
  REQUIRE_FALSE(client->write_binary(std::string("\xff\xff\xff\xff", 4)));
  CHECK(client->read_until_close() == kMalformed);
}

TEST_CASE("a frame over read_message_max is closed with 1009 (message too big)") {
  NetConfig config = test_config();
  config.read_message_max = 1024;
  TestServer server(config);
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  client.write_binary(std::string(1025, 'x'));
  CHECK(client.read_until_close() ==
        static_cast<std::uint16_t>(websocket::close_code::too_big));
}

TEST_CASE("no Hello within the hello timeout is closed with 4501") {
  NetConfig config = test_config();
  config.hello_timeout = 100ms;
  TestServer server(config);
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  CHECK(client.read_until_close() == kUnauthenticated);
}

TEST_CASE("a first frame that is not Hello is closed with 4501") {
  TestServer server;
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  v1::ClientFrame command;
  command.mutable_command()->set_command_id("too-early");
  REQUIRE_FALSE(client.send(command));
  CHECK(client.read_until_close() == kUnauthenticated);
}

TEST_CASE("a forged token is closed with 4501") {
  TestServer server;
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  REQUIRE_FALSE(client.hello(token_for(v1::PARTNER_A, kNowMs + 1000, std::string(32, 'f'))));
  CHECK(client.read_until_close() == kUnauthenticated);
  WsClient garbage;
  REQUIRE_FALSE(garbage.connect(server.port()));
  REQUIRE_FALSE(garbage.hello("not-a-token"));
  CHECK(garbage.read_until_close() == kUnauthenticated);
}

TEST_CASE("an expired token is closed with 4501") {
  TestServer server;
  WsClient client;
  REQUIRE_FALSE(client.connect(server.port()));
  REQUIRE_FALSE(client.hello(token_for(v1::PARTNER_A, kNowMs - 1)));
  CHECK(client.read_until_close() == kUnauthenticated);
}

TEST_CASE("after server silence a Heartbeat carries the last seq sent") {
  NetConfig config = test_config();
  config.heartbeat_interval = 100ms;
  TestServer server(config);
  auto client = attached_client(server, v1::PARTNER_A);
  auto heartbeat = client->read_frame();
  REQUIRE(heartbeat);
  REQUIRE(heartbeat->items(0).has_heartbeat());
  CHECK(heartbeat->items(0).heartbeat().last_seq() == 7);  // the fake's ReplayDone
}

TEST_CASE("a client that only answers Heartbeats is kept past the silence timeout") {
  // The next Heartbeat is armed when a write completes, not only at the write-stall deadline.
  NetConfig config = test_config();
  config.heartbeat_interval = 50ms;
  config.client_silence_timeout = 200ms;
  config.write_stall_timeout = 20s;
  TestServer server(config);
  auto client = attached_client(server, v1::PARTNER_A);
  // Twenty Heartbeats span five silence timeouts; each is answered with an ack.
  for (int answered = 0; answered < 20;) {
    auto frame = client->read_frame();
    REQUIRE(frame);
    if (!frame->items(0).has_heartbeat()) continue;
    v1::ClientFrame ack;
    ack.mutable_heartbeat_ack()->set_last_seq_received(frame->items(0).heartbeat().last_seq());
    REQUIRE_FALSE(client->send(ack));
    ++answered;
  }
}

TEST_CASE("a silent client is closed with 4002 after the silence timeout") {
  NetConfig config = test_config();
  config.client_silence_timeout = 200ms;
  TestServer server(config);
  auto client = attached_client(server, v1::PARTNER_A);
  CHECK(client->read_until_close() == static_cast<std::uint16_t>(rooms::CloseCode::kClientSilent));
}

TEST_CASE("the room closing a connection sends its close code") {
  TestServer server;
  auto client = attached_client(server, v1::OBSERVER);
  server.fake().recipient(v1::OBSERVER)->close(rooms::CloseCode::kConsentRevoked, "revoked");
  CHECK(client->read_until_close() == 4503);
}

std::shared_ptr<const std::string> event_frame(std::uint64_t seq, std::size_t padding = 0) {
  v1::ServerFrame frame;
  frame.add_items()->mutable_event()->set_seq(seq);
  return std::make_shared<const std::string>(frame.SerializeAsString() +
                                             std::string(padding, '\0'));
}

// Reads `count` frames carrying events 1..count, in order.
void expect_events(WsClient& client, std::uint64_t count) {
  for (std::uint64_t seq = 1; seq <= count; ++seq) {
    auto frame = client.read_frame();
    REQUIRE(frame);
    REQUIRE(frame->items_size() == 1);
    CHECK(frame->items(0).event().seq() == seq);
  }
}

// The next read ends with the server's close frame carrying `code` (no other frame first).
void expect_close(WsClient& client, std::uint16_t code) {
  auto last = client.read();
  CHECK(last.ec == websocket::error::closed);
  CHECK(client.close_code() == code);
}

// Closes other than 4008 write what was queued before the decision, then the close frame:
// e.g. ContentErased before 4503 when the room is erased.
TEST_CASE("frames queued before the room closes a connection arrive before its close code") {
  TestServer server;
  auto client = attached_client(server, v1::PARTNER_A);
  auto recipient = server.fake().recipient(v1::PARTNER_A);
  REQUIRE(recipient);
  constexpr std::uint64_t kFrames = 50;
  for (std::uint64_t seq = 1; seq <= kFrames; ++seq) recipient->send({event_frame(seq), seq});
  recipient->close(rooms::CloseCode::kConsentRevoked, "the conversation was erased");
  recipient->send({event_frame(kFrames + 1), kFrames + 1});  // after the decision: never sent
  expect_events(*client, kFrames);
  expect_close(*client, 4503);
}

TEST_CASE("draining writes the frames queued before it to every connection, then 4001") {
  TestServer server;
  auto first = attached_client(server, v1::PARTNER_A);
  auto second = attached_client(server, v1::PARTNER_B);
  constexpr std::uint64_t kFrames = 50;
  for (v1::Role role : {v1::PARTNER_A, v1::PARTNER_B}) {
    auto recipient = server.fake().recipient(role);
    REQUIRE(recipient);
    for (std::uint64_t seq = 1; seq <= kFrames; ++seq) recipient->send({event_frame(seq), seq});
  }
  auto drained = std::make_shared<std::promise<bool>>();
  server.server().drain([drained](bool all_closed) { drained->set_value(all_closed); });
  for (WsClient* client : {first.get(), second.get()}) {
    expect_events(*client, kFrames);
    expect_close(*client, 4001);
  }
  auto done = drained->get_future();
  REQUIRE(done.wait_for(kWait) == std::future_status::ready);
  CHECK(done.get());
}

TEST_CASE("a peer that reads nothing cannot hold a closing connection past the write-stall "
          "timeout") {
  NetConfig config = test_config();
  config.write_stall_timeout = 300ms;
  config.max_queued_bytes = 256 * 1024 * 1024;
  config.max_queued_frames = 100'000;
  TestServer server(config);
  auto stuck = attached_client(server, v1::PARTNER_A);
  auto recipient = server.fake().recipient(v1::PARTNER_A);
  REQUIRE(recipient);
  auto gone = server.fake().detached(v1::PARTNER_A);
  // Far more than the kernel's socket buffers hold: the writes stall while the client reads
  // nothing.
  auto big = event_frame(1, 60 * 1024);
  for (int i = 0; i < 1000; ++i) recipient->send({big, 0});
  const auto decided = std::chrono::steady_clock::now();
  recipient->close(rooms::CloseCode::kConsentRevoked, "the conversation was erased");
  REQUIRE(gone.wait_for(kWait) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - decided < 2s);
  CHECK(server.server().metrics().slow_consumer_closes() == 0);
}

TEST_CASE("a slow consumer is closed with 4008 while another connection is unaffected") {
  NetConfig config = test_config();
  config.max_queued_bytes = 256 * 1024;
  TestServer server(config);
  auto slow = attached_client(server, v1::PARTNER_A);
  auto other = attached_client(server, v1::PARTNER_B);
  auto slow_recipient = server.fake().recipient(v1::PARTNER_A);
  REQUIRE(slow_recipient);

  // The slow client reads nothing. Far more than the kernel's socket buffers and the queue
  // bound together: the bound is reached whatever the buffers hold.
  v1::ServerFrame big;
  big.add_items()->mutable_event()->set_seq(8);
  auto frame = std::make_shared<const std::string>(big.SerializeAsString() +
                                                   std::string(60 * 1024, '\0'));
  for (int i = 0; i < 2000; ++i) slow_recipient->send({frame, 0});

  v1::ServerFrame small;
  small.add_items()->mutable_event()->set_seq(9);
  server.fake().recipient(v1::PARTNER_B)
      ->send({std::make_shared<const std::string>(small.SerializeAsString()), 0});
  auto delivered = other->read_frame();
  REQUIRE(delivered);
  CHECK(delivered->items(0).event().seq() == 9);

  CHECK(slow->read_until_close(10s) == 4008);
  CHECK(server.server().metrics().slow_consumer_closes() == 1);
}

TEST_CASE("during the drain grace /readyz answers 503 while everything else is still served, "
          "then clients are closed with 4001") {
  NetConfig config = test_config();
  config.drain_grace = 2s;
  TestServer server(config);
  auto first = attached_client(server, v1::PARTNER_A);
  KeepAliveHttp probe(server.port());
  CHECK(probe.get("/readyz") == 200);
  std::promise<bool> drained;
  server.server().drain([&drained](bool all_closed) { drained.set_value(all_closed); });
  CHECK(probe.get("/readyz") == 503);
  CHECK(http_call(server.port(), http::verb::get, "/v1/templates").status == 200);
  auto second = attached_client(server, v1::PARTNER_B);  // the listener still accepts
  CHECK_FALSE(server.server().draining());
  CHECK(first->read_until_close() == 4001);
  CHECK(second->read_until_close() == 4001);
  auto done = drained.get_future();
  REQUIRE(done.wait_for(kWait) == std::future_status::ready);
  CHECK(done.get());
}

TEST_CASE("draining closes connections with 4001 and fails readiness") {
  TestServer server;
  auto first = attached_client(server, v1::PARTNER_A);
  auto second = attached_client(server, v1::PARTNER_B);
  KeepAliveHttp probe(server.port());
  CHECK(probe.get("/readyz") == 200);
  std::promise<bool> drained;
  server.server().drain([&drained](bool all_closed) { drained.set_value(all_closed); });
  CHECK(first->read_until_close() == 4001);
  CHECK(second->read_until_close() == 4001);
  auto done = drained.get_future();
  REQUIRE(done.wait_for(kWait) == std::future_status::ready);
  CHECK(done.get());
  CHECK(server.server().draining());
  CHECK(probe.get("/readyz") == 503);
}

}  // namespace
}  // namespace mend::net::testing
