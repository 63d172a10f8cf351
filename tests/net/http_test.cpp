// HTTP routes of DESIGN.md section 8 against a real listener on 127.0.0.1.
#include "tests/net/net_support.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

namespace mend::net::testing {
namespace {

v1::ErrorResponse error_of(const HttpResult& result) {
  v1::ErrorResponse error;
  CHECK(google::protobuf::util::JsonStringToMessage(result.body, &error).ok());
  return error;
}

constexpr const char* kCreateBody = R"({"template":"speaker-listener","partnerAName":"Ana"})";

TEST_CASE("healthz answers ok and readyz is ready while serving") {
  TestServer server;
  CHECK(http_call(server.port(), http::verb::get, "/healthz").status == 200);
  CHECK(http_call(server.port(), http::verb::get, "/readyz").status == 200);
}

TEST_CASE("metrics are Prometheus text with connections by role and rejections by code") {
  TestServer server;
  http_call(server.port(), http::verb::get, "/nowhere");
  const auto result = http_call(server.port(), http::verb::get, "/metrics");
  CHECK(result.status == 200);
  CHECK(result.content_type.find("text/plain") == 0);
  CHECK(result.body.find("mend_connections{role=\"partner_a\"} 0") != std::string::npos);
  CHECK(result.body.find("mend_rejections_total{code=\"NOT_FOUND\"} 1") != std::string::npos);
  CHECK(result.body.find("mend_frames_in_total") != std::string::npos);
  CHECK(result.body.find("mend_queued_bytes") != std::string::npos);
  CHECK(result.body.find("mend_slow_consumer_closes_total") != std::string::npos);
}

TEST_CASE("creating a room returns its id and invites as JSON") {
  TestServer server;
  const auto result = http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody);
  CHECK(result.status == 201);
  v1::CreateRoomResponse response;
  CHECK(google::protobuf::util::JsonStringToMessage(result.body, &response).ok());
  CHECK(response.room_id() == kRoomId);
  CHECK(response.invites_size() == 1);
}

TEST_CASE("an unknown template is refused with UNKNOWN_TEMPLATE") {
  TestServer server;
  const auto result = http_call(server.port(), http::verb::post, "/v1/rooms",
                                R"({"template":"no-such-template"})");
  CHECK(result.status == 404);
  CHECK(error_of(result).code() == "UNKNOWN_TEMPLATE");
}

TEST_CASE("a body that is not CreateRoomRequest JSON is refused with INVALID_JSON") {
  TestServer server;
  for (const char* body : {"{not json", R"({"template": 5})", R"({"unknownField": 1})", ""}) {
    const auto result = http_call(server.port(), http::verb::post, "/v1/rooms", body);
    CHECK(result.status == 400);
    CHECK(error_of(result).code() == "INVALID_JSON");
  }
}

TEST_CASE("a body over the limit is refused with BODY_TOO_LARGE") {
  NetConfig config = test_config();
  config.max_http_body_bytes = 1024;
  TestServer server(config);
  const auto result = http_call(server.port(), http::verb::post, "/v1/rooms",
                                std::string(2048, ' '));
  CHECK(result.status == 413);
  CHECK(error_of(result).code() == "BODY_TOO_LARGE");
}

TEST_CASE("with API keys configured, creating a room needs one") {
  TestServer server(test_config(), {"key-one"});
  auto missing = http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody);
  CHECK(missing.status == 401);
  CHECK(error_of(missing).code() == "UNAUTHENTICATED");
  auto wrong = http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody, "key-two");
  CHECK(wrong.status == 401);
  auto right = http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody, "key-one");
  CHECK(right.status == 201);
}

TEST_CASE("an API key cannot create more rooms than its limit") {
  NetConfig config = test_config();
  config.rooms_per_api_key = 1;
  TestServer server(config, {"key-one"});
  CHECK(http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody, "key-one").status ==
        201);
  auto over = http_call(server.port(), http::verb::post, "/v1/rooms", kCreateBody, "key-one");
  CHECK(over.status == 429);
  CHECK(error_of(over).code() == "ROOM_QUOTA_EXCEEDED");
}

TEST_CASE("templates are listed") {
  TestServer server;
  const auto result = http_call(server.port(), http::verb::get, "/v1/templates");
  CHECK(result.status == 200);
  v1::ListTemplatesResponse response;
  CHECK(google::protobuf::util::JsonStringToMessage(result.body, &response).ok());
  CHECK(response.templates_size() == 1);
}

TEST_CASE("a room's view needs a valid invite token for that room") {
  TestServer server;
  const std::string path = std::string("/v1/rooms/") + kRoomId;
  auto no_token = http_call(server.port(), http::verb::get, path);
  CHECK(no_token.status == 401);
  CHECK(error_of(no_token).code() == "UNAUTHENTICATED");
  auto forged = http_call(server.port(), http::verb::get, path, {},
                          token_for(v1::PARTNER_A, kNowMs + 1000, std::string(32, 'x')));
  CHECK(forged.status == 401);
  auto other_room = http_call(server.port(), http::verb::get, "/v1/rooms/another", {},
                              token_for(v1::PARTNER_A));
  CHECK(other_room.status == 404);
  auto ok = http_call(server.port(), http::verb::get, path, {}, token_for(v1::PARTNER_B));
  CHECK(ok.status == 200);
  v1::GetRoomResponse response;
  CHECK(google::protobuf::util::JsonStringToMessage(ok.body, &response).ok());
  CHECK(response.room_id() == kRoomId);
}

TEST_CASE("unknown paths are NOT_FOUND and wrong methods METHOD_NOT_ALLOWED") {
  TestServer server;
  auto unknown = http_call(server.port(), http::verb::get, "/v2/anything");
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown).code() == "NOT_FOUND");
  auto wrong_method = http_call(server.port(), http::verb::delete_, "/v1/rooms");  // GET lists the caseload
  CHECK(wrong_method.status == 405);
  CHECK(error_of(wrong_method).code() == "METHOD_NOT_ALLOWED");
}

TEST_CASE("connections over the per-address limit are refused while others stay served") {
  NetConfig config = test_config();
  config.max_connections_per_ip = 2;
  TestServer server(config);
  // Two keep-alive connections, each proven admitted by one answered request.
  asio::io_context ioc;
  std::vector<std::unique_ptr<beast::tcp_stream>> held;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), server.port());
  auto request_on = [&](beast::tcp_stream& stream) {
    http::request<http::empty_body> request{http::verb::get, "/healthz", 11};
    request.set(http::field::host, "127.0.0.1");
    http::response<http::string_body> response;
    beast::flat_buffer buffer;
    bool answered = false;  // a default response says 200
    stream.expires_after(kWait);
    stream.async_connect(endpoint, [&](beast::error_code cec) {
      if (cec) return;
      http::async_write(stream, request, [&](beast::error_code wec, std::size_t) {
        if (wec) return;
        http::async_read(stream, buffer, response,
                         [&](beast::error_code rec, std::size_t) { answered = !rec; });
      });
    });
    ioc.restart();
    ioc.run();
    return answered ? response.result_int() : 0U;
  };
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<beast::tcp_stream>(ioc));
    CHECK(request_on(*held.back()) == 200);
  }
  beast::tcp_stream third(ioc);
  CHECK(request_on(third) == 0);
  held.clear();
  ioc.restart();
  ioc.run();
}

}  // namespace
}  // namespace mend::net::testing
