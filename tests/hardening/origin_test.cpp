// Requests from other web pages (DESIGN 7; README "Security"): JSON bodies only as
// application/json; state-changing requests and WebSocket upgrades only without Origin, from
// mendd's own origin or from --allowed-origins.
#include <doctest/doctest.h>

#include "server/app/config.h"
#include "server/net/request_checks.h"
#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

namespace http = boost::beast::http;

std::string upgrade_request(int port, std::string_view extra_headers) {
  return "GET /v1/connect HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mend.v1\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string own_origin(int port) {
  return "Origin: http://127.0.0.1:" + std::to_string(port) + "\r\n";
}

constexpr std::string_view kJson = "Content-Type: application/json\r\n";

TEST_CASE("a JSON endpoint refuses a body that is not declared application/json (415)") {
  Mendd mendd;
  const int port = mendd.port();
  for (std::string_view type : {"Content-Type: text/plain\r\n",
                                "Content-Type: application/x-www-form-urlencoded\r\n",
                                "Content-Type: multipart/form-data; boundary=x\r\n", ""}) {
    CAPTURE(type);
    const RawAnswer answer = raw_exchange(port, create_room_request(port, type));
    CHECK(answer.status() == 415);
    CHECK(answer.has(R"("code":"UNSUPPORTED_MEDIA_TYPE")"));
  }
  const RawAnswer charset = raw_exchange(
      port, create_room_request(port, "Content-Type: Application/JSON; charset=utf-8\r\n"));
  CHECK(charset.status() == 201);
}

TEST_CASE("a state-changing request from another web page's origin is refused (403)") {
  Mendd mendd;
  const int port = mendd.port();
  for (std::string_view origin :
       {"Origin: http://evil.example\r\n", "Origin: null\r\n",
        "Origin: http://127.0.0.1\r\n",  // another port is another origin
        "Origin: https://127.0.0.1:PORT\r\n"}) {
    std::string header(origin);
    if (auto at = header.find("PORT"); at != std::string::npos) {
      header.replace(at, 4, std::to_string(port));
    }
    CAPTURE(header);
    const RawAnswer answer = raw_exchange(port, create_room_request(port, header + std::string(kJson)));
    CHECK(answer.status() == 403);
    CHECK(answer.has(R"("code":"ORIGIN_NOT_ALLOWED")"));
    CHECK_FALSE(answer.has("Access-Control-Allow-Origin"));
  }
  const std::string erase = "DELETE /v1/rooms/r1 HTTP/1.1\r\nHost: 127.0.0.1:" +
                            std::to_string(port) +
                            "\r\nConnection: close\r\nOrigin: http://evil.example\r\n\r\n";
  CHECK(raw_exchange(port, erase).status() == 403);
  const std::string read = "GET /v1/templates HTTP/1.1\r\nHost: 127.0.0.1:" +
                           std::to_string(port) +
                           "\r\nConnection: close\r\nOrigin: http://evil.example\r\n\r\n";
  CHECK(raw_exchange(port, read).status() == 200);  // reading changes nothing
}

TEST_CASE("a request without Origin or from mendd's own origin creates a room") {
  Mendd mendd;
  const int port = mendd.port();
  CHECK(raw_exchange(port, create_room_request(port, kJson)).status() == 201);
  CHECK(raw_exchange(port, create_room_request(port, own_origin(port) + std::string(kJson)))
            .status() == 201);
}

TEST_CASE("--allowed-origins lets the pages of those origins create rooms, and no others") {
  Mendd mendd({"--allowed-origins", "https://app.example.org, http://localhost:3000"});
  const int port = mendd.port();
  for (std::string_view origin : {"Origin: https://app.example.org\r\n",
                                  "Origin: https://APP.example.org:443\r\n",
                                  "Origin: http://localhost:3000\r\n"}) {
    CAPTURE(origin);
    CHECK(raw_exchange(port, create_room_request(port, std::string(origin) + std::string(kJson)))
              .status() == 201);
  }
  CHECK(raw_exchange(port, create_room_request(
                               port, "Origin: http://app.example.org\r\n" + std::string(kJson)))
            .status() == 403);
}

std::string preflight_request(int port, std::string_view origin) {
  return "OPTIONS /v1/rooms HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nConnection: close\r\nOrigin: " + std::string(origin) +
         "\r\nAccess-Control-Request-Method: POST\r\n"
         "Access-Control-Request-Headers: content-type, authorization\r\n\r\n";
}

TEST_CASE("a page of an allowed origin passes the CORS preflight and reads the API's answers") {
  Mendd mendd({"--allowed-origins", "https://app.example.org"});
  const int port = mendd.port();
  const RawAnswer preflight =
      raw_exchange(port, preflight_request(port, "https://app.example.org"));
  CHECK(preflight.status() == 204);
  // Named exactly as the page sent it (browsers compare the two), not in mendd's normalized form.
  CHECK(preflight.has("Access-Control-Allow-Origin: https://app.example.org\r\n"));
  CHECK(preflight.has("Access-Control-Allow-Methods: GET, POST, DELETE\r\n"));
  CHECK(preflight.has("Access-Control-Allow-Headers: Authorization, Content-Type\r\n"));
  CHECK(preflight.has("Vary: Origin\r\n"));
  CHECK_FALSE(preflight.has("Access-Control-Allow-Credentials"));

  const RawAnswer created = raw_exchange(
      port, create_room_request(port, "Origin: https://app.example.org\r\n" + std::string(kJson)));
  CHECK(created.status() == 201);
  CHECK(created.has("Access-Control-Allow-Origin: https://app.example.org\r\n"));
  CHECK(created.has("Access-Control-Expose-Headers: Retry-After\r\n"));
  // A refusal is readable by the page too (it can show the message).
  const RawAnswer refused = raw_exchange(
      port, create_room_request(
                port, "Origin: https://app.example.org\r\nContent-Type: text/plain\r\n"));
  CHECK(refused.status() == 415);
  CHECK(refused.has("Access-Control-Allow-Origin: https://app.example.org\r\n"));

  // Another origin's preflight is refused; mendd's own origin needs no CORS headers.
  const RawAnswer foreign = raw_exchange(port, preflight_request(port, "http://evil.example"));
  CHECK(foreign.status() == 403);
  CHECK(foreign.has(R"("code":"ORIGIN_NOT_ALLOWED")"));
  CHECK_FALSE(foreign.has("Access-Control-Allow-Origin"));
  const RawAnswer own =
      raw_exchange(port, create_room_request(port, own_origin(port) + std::string(kJson)));
  CHECK(own.status() == 201);
  CHECK_FALSE(own.has("Access-Control-Allow-Origin"));
}

TEST_CASE("a WebSocket upgrade from another web page's origin is refused (403)") {
  Mendd mendd({"--allowed-origins", "https://app.example.org"});
  const int port = mendd.port();
  // The refusal keeps the connection alive (the request did not ask to close it): read one
  // whole response.
  const RawAnswer foreign = raw_exchange(
      port, upgrade_request(port, "Origin: http://evil.example\r\n"), "127.0.0.1", Read::kResponse);
  CHECK(foreign.status() == 403);
  CHECK(foreign.has(R"("code":"ORIGIN_NOT_ALLOWED")"));
  auto upgraded = [port](const std::string& origin) {
    return raw_exchange(port, upgrade_request(port, origin), "127.0.0.1", Read::kHead).status();
  };
  CHECK(upgraded(own_origin(port)) == 101);
  CHECK(upgraded("Origin: https://app.example.org\r\n") == 101);
  CHECK(upgraded("") == 101);
}

TEST_CASE("mendd's own origin follows the connection's scheme and the Host header") {
  auto upgrade = [](std::string_view host, std::string_view origin) {
    net::HttpRequest request{http::verb::get, "/v1/connect", 11};
    request.set(http::field::host, host);
    request.set(http::field::upgrade, "websocket");
    request.set(http::field::connection, "Upgrade");
    request.set(http::field::origin, origin);
    return request;
  };
  auto passes = [](const net::HttpRequest& request, bool tls) {
    return !net::check_request(request, false, tls, {}).has_value();
  };
  CHECK(passes(upgrade("mend.example.org", "https://mend.example.org"), true));
  CHECK(passes(upgrade("mend.example.org:443", "https://mend.example.org"), true));
  CHECK(passes(upgrade("[::1]:8480", "http://[::1]:8480"), false));
  CHECK_FALSE(passes(upgrade("mend.example.org", "https://mend.example.org"), false));
  CHECK_FALSE(passes(upgrade("mend.example.org", "https://mend.example.org.evil.example"), true));
  CHECK_FALSE(passes(upgrade("mend.example.org", "https://user@mend.example.org"), true));
}

TEST_CASE("--allowed-origins takes origins only (also as MEND_ALLOWED_ORIGINS)") {
  const char* bad[] = {"mendd", "--allowed-origins", "https://app.example.org/path"};
  auto refused = app::parse_config(3, bad, {}, "templates");
  REQUIRE(std::holds_alternative<app::Exit>(refused));
  CHECK(std::get<app::Exit>(refused).code == 2);
  const char* none[] = {"mendd"};
  auto parsed = app::parse_config(1, none, {"MEND_ALLOWED_ORIGINS=https://a.example, http://b.example:81"},
                                  "templates");
  REQUIRE(std::holds_alternative<app::AppConfig>(parsed));
  CHECK(std::get<app::AppConfig>(parsed).net.allowed_origins ==
        std::vector<std::string>{"https://a.example:443", "http://b.example:81"});
}

}  // namespace
}  // namespace mend::testing
