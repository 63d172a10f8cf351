#include "tests/net/net_support.h"

#include <doctest/doctest.h>

namespace mend::net::testing {

std::string token_for(v1::Role role, std::int64_t expires_at_ms, const std::string& secret) {
  rooms::TokenClaims claims;
  claims.room_id = kRoomId;
  claims.participant.set_role(role);
  if (role == v1::OBSERVER) claims.participant.set_observer("Dana");
  claims.expires_at_ms = expires_at_ms;
  return rooms::TokenSigner(secret).sign(claims);
}

void FakeRooms::create_room(const v1::CreateRoomRequest& request,
                            std::function<void(rooms::Result<v1::CreateRoomResponse>)> done) {
  rooms::Result<v1::CreateRoomResponse> result;
  if (request.template_() != "speaker-listener") {
    result.error = rooms::ServiceError{"UNKNOWN_TEMPLATE", "No such template.", 404};
  } else {
    v1::CreateRoomResponse response;
    response.set_room_id(kRoomId);
    auto* invite = response.add_invites();
    invite->mutable_participant()->set_role(v1::PARTNER_A);
    invite->set_token(token_for(v1::PARTNER_A));
    result.value = response;
  }
  done(std::move(result));
}

void FakeRooms::create_room_for(const v1::CreateRoomRequest& request, const std::string& creator,
                                std::uint32_t limit,
                                std::function<void(rooms::Result<v1::CreateRoomResponse>)> done) {
  {
    std::lock_guard lock(mutex_);
    auto& created = rooms_per_creator_[creator];
    if (created >= limit) {
      return done({std::nullopt, rooms::ServiceError{"ROOM_QUOTA_EXCEEDED", "Limit.", 429}});
    }
    ++created;
  }
  create_room(request, std::move(done));
}

v1::ListTemplatesResponse FakeRooms::list_templates() const {
  v1::ListTemplatesResponse response;
  response.add_templates()->set_name("speaker-listener");
  return response;
}

void FakeRooms::get_view(const rooms::Participant& who,
                         std::function<void(rooms::Result<v1::GetRoomResponse>)> done) {
  v1::GetRoomResponse response;
  response.set_room_id(who.room_id);
  rooms::Result<v1::GetRoomResponse> result;
  result.value = response;
  done(std::move(result));
}

void FakeRooms::attach(const rooms::Participant& who, const v1::Hello&,
                       std::shared_ptr<rooms::Recipient> recipient,
                       std::function<void(std::optional<rooms::CloseCode>)> done) {
  {
    std::lock_guard lock(mutex_);
    recipients_[who.actor.role()] = recipient;
  }
  v1::ServerFrame frame;
  auto* welcome = frame.add_items()->mutable_welcome();
  *welcome->mutable_participant() = who.actor;
  welcome->set_room_id(who.room_id);
  welcome->set_recovered(true);
  frame.add_items()->mutable_replay_done()->set_last_seq(7);
  recipient->send({std::make_shared<const std::string>(frame.SerializeAsString()), 7});
  done(std::nullopt);
}

void FakeRooms::detach(const rooms::Participant& who, const rooms::Recipient* recipient) {
  std::lock_guard lock(mutex_);
  auto it = recipients_.find(who.actor.role());
  if (it != recipients_.end() && it->second.get() == recipient) recipients_.erase(it);
  auto promise = detach_promises_.find(who.actor.role());
  if (promise != detach_promises_.end()) {
    promise->second.set_value();
    detach_promises_.erase(promise);
  }
}

void FakeRooms::submit(const rooms::Participant& who, v1::Command command) {
  auto target = recipient(who.actor.role());
  if (!target) return;
  v1::ServerFrame frame;
  auto* result = frame.add_items()->mutable_result();
  result->set_command_id(command.command_id());
  result->set_accepted(true);
  target->send({std::make_shared<const std::string>(frame.SerializeAsString()), 0});
}

void FakeRooms::typing(const rooms::Participant& who, bool typing) {
  last_typing_.store(1 + 2 * static_cast<int>(who.actor.role()) + (typing ? 1 : 0));
}

std::shared_ptr<rooms::Recipient> FakeRooms::recipient(v1::Role role) {
  std::lock_guard lock(mutex_);
  auto it = recipients_.find(role);
  return it == recipients_.end() ? nullptr : it->second;
}

std::future<void> FakeRooms::detached(v1::Role role) {
  std::lock_guard lock(mutex_);
  return detach_promises_[role].get_future();
}

NetConfig test_config() {
  NetConfig config;
  config.hello_timeout = 2s;
  config.heartbeat_interval = 2s;
  config.client_silence_timeout = 4s;
  config.write_stall_timeout = 3s;
  config.handshake_timeout = 2s;
  config.http_idle_timeout = 2s;
  config.drain_batch_interval = 10ms;
  config.drain_timeout = 3s;
  return config;
}

TestServer::TestServer(NetConfig config, std::vector<std::string> api_keys,
                       std::shared_ptr<asio::ssl::context> tls,
                       std::shared_ptr<rooms::RoomService> rooms, TokenVerifier verifier,
                       std::filesystem::path web_dir)
    : fake_(std::make_shared<FakeRooms>()) {
  ServerDeps deps;
  deps.rooms = rooms ? rooms : fake_;
  deps.verify_token = verifier ? std::move(verifier)
                               : [](std::string_view token,
                                    std::int64_t now_ms) -> std::optional<rooms::Participant> {
    auto claims = rooms::TokenSigner(kSecret).verify(token, now_ms);
    auto* valid = std::get_if<rooms::TokenClaims>(&claims);
    if (!valid) return std::nullopt;
    return rooms::Participant{valid->room_id, valid->participant};
  };
  deps.api_keys = std::move(api_keys);
  deps.tls = std::move(tls);
  deps.now_ms = [] { return kNowMs; };
  deps.web_dir = std::move(web_dir);
  server_ = std::make_unique<Server>(ioc_, config, std::move(deps));
  auto bound = server_->listen(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  REQUIRE(std::holds_alternative<tcp::endpoint>(bound));
  port_ = std::get<tcp::endpoint>(bound).port();
  thread_ = std::thread([this] { ioc_.run(); });
}

TestServer::~TestServer() {
  // Drain first (unless the test did): a live session and its room hold each other until the
  // session detaches.
  if (!server_->draining()) {
    std::promise<void> drained;
    server_->drain([&drained](bool) { drained.set_value(); });
    drained.get_future().wait_for(kWait);
  }
  work_.reset();
  ioc_.stop();
  thread_.join();
}

HttpResult http_call(unsigned short port, http::verb method, const std::string& target,
                     const std::string& body, const std::string& bearer) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  HttpResult out;
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "close");
  if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty() || method == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  bool answered = false;  // a default response says 200: count only a response read whole
  stream.expires_after(kWait);
  stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                       [&](beast::error_code ec) {
                         if (ec) return;
                         http::async_write(stream, request, [&](beast::error_code wec,
                                                                std::size_t) {
                           if (wec) return;
                           http::async_read(stream, buffer, response,
                                            [&](beast::error_code rec, std::size_t) {
                                              answered = !rec;
                                            });
                         });
                       });
  ioc.run();
  out.status = answered ? response.result_int() : 0;
  out.body = response.body();
  out.content_type = std::string(response[http::field::content_type]);
  return out;
}

unsigned KeepAliveHttp::get(const std::string& target) {
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::response<http::string_body> response;
  bool answered = false;
  auto exchange = [&] {
    http::async_write(stream_, request, [&](beast::error_code wec, std::size_t) {
      if (wec) return;
      http::async_read(stream_, buffer_, response,
                       [&](beast::error_code rec, std::size_t) { answered = !rec; });
    });
  };
  stream_.expires_after(kWait);
  if (connected_) {
    exchange();
  } else {
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                          [&](beast::error_code ec) {
                            connected_ = !ec;
                            if (!ec) exchange();
                          });
  }
  ioc_.restart();
  ioc_.run();
  return answered ? response.result_int() : 0;
}

template <class Op>
beast::error_code WsClient::run(Op op, std::chrono::milliseconds timeout) {
  beast::error_code result = asio::error::timed_out;
  bool done = false;
  op([&](beast::error_code ec) {
    result = ec;
    done = true;
  });
  ioc_.restart();
  ioc_.run_for(timeout);
  if (!done) {
    beast::get_lowest_layer(ws_).cancel();
    ioc_.restart();
    ioc_.run();
    result = asio::error::timed_out;
  }
  return result;
}

beast::error_code WsClient::connect(unsigned short port, const std::string& subprotocol) {
  auto ec = run(
      [&](auto done) {
        beast::get_lowest_layer(ws_).async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), done);
      },
      kWait);
  if (ec) return ec;
  ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::request_type& req) {
    if (!subprotocol.empty()) req.set(http::field::sec_websocket_protocol, subprotocol);
  }));
  ws_.read_message_max(16 * 1024 * 1024);
  return run(
      [&](auto done) {
        ws_.async_handshake(upgrade_response_, "127.0.0.1", "/v1/connect", done);
      },
      kWait);
}

beast::error_code WsClient::write_binary(const std::string& bytes) {
  ws_.binary(true);
  return run([&](auto done) {
    ws_.async_write(asio::buffer(bytes), [done](beast::error_code ec, std::size_t) { done(ec); });
  }, kWait);
}

beast::error_code WsClient::write_binary_in_frames(const std::string& bytes,
                                                  std::size_t frame_bytes) {
  ws_.binary(true);
  for (std::size_t at = 0; at < bytes.size(); at += frame_bytes) {
    const std::size_t size = std::min(frame_bytes, bytes.size() - at);
    const bool fin = at + size == bytes.size();
    const beast::error_code failed = run([&](auto done) {
      ws_.async_write_some(fin, asio::buffer(bytes.data() + at, size),
                           [done](beast::error_code ec, std::size_t) { done(ec); });
    }, kWait);
    if (failed) return failed;
  }
  return {};
}

beast::error_code WsClient::write_text(const std::string& text) {
  ws_.text(true);
  return run([&](auto done) {
    ws_.async_write(asio::buffer(text), [done](beast::error_code ec, std::size_t) { done(ec); });
  }, kWait);
}

beast::error_code WsClient::hello(const std::string& token) {
  v1::ClientFrame frame;
  frame.mutable_hello()->set_token(token);
  frame.mutable_hello()->set_client_name("net-tests");
  return send(frame);
}

WsClient::Read WsClient::read(std::chrono::milliseconds timeout) {
  beast::flat_buffer buffer;
  Read out;
  out.ec = run([&](auto done) {
    ws_.async_read(buffer, [done](beast::error_code ec, std::size_t) { done(ec); });
  }, timeout);
  out.timed_out = out.ec == asio::error::timed_out;
  out.data = beast::buffers_to_string(buffer.data());
  return out;
}

std::optional<v1::ServerFrame> WsClient::read_frame() {
  auto result = read();
  if (result.ec) {
    FAIL_CHECK("expected a frame, got " << result.ec.message() << " code " << ws_.reason().code);
    return std::nullopt;
  }
  v1::ServerFrame frame;
  if (!frame.ParseFromString(result.data)) {
    FAIL_CHECK("not a ServerFrame");
    return std::nullopt;
  }
  return frame;
}

std::uint16_t WsClient::read_until_close(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto result = read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (result.ec == websocket::error::closed) return ws_.reason().code;
    if (result.ec) return 0;
  }
  return 0;
}

}  // namespace mend::net::testing
