// HTTP/1.1 strictness (RFC 9112; README "Security"), over raw sockets to the real mendd: a
// request whose framing a proxy could read differently is answered 400 and the connection
// closed; a header over the limit 431; never a silent close.
#include <doctest/doctest.h>

#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

struct Case {
  const char* what;
  std::string request;
};

std::string head(int port) { return "POST /v1/rooms HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n"; }

void check_refused(int port, const Case& c, int status, std::string_view code) {
  CAPTURE(c.what);
  const RawAnswer answer = raw_exchange(port, c.request);
  INFO("answer: " << answer.bytes);
  CHECK(answer.status() == status);
  CHECK(answer.has("\"code\":\"" + std::string(code) + "\""));
  CHECK(answer.has("Connection: close"));
  CHECK(answer.closed);
}

TEST_CASE("a request whose body framing is ambiguous is answered 400 and the connection closed") {
  Mendd mendd;
  const int port = mendd.port();
  const std::string json = "Content-Type: application/json\r\n";
  const std::string body = "{\"template\":\"imago-dialogue\"}";
  const std::string chunk = "1d\r\n" + body + "\r\n0\r\n\r\n";
  const Case cases[] = {
      {"Transfer-Encoding whose last coding is not chunked (xchunked)",
       head(port) + json + "Transfer-Encoding: xchunked\r\n\r\n" + chunk},
      {"Transfer-Encoding chunked, identity",
       head(port) + json + "Transfer-Encoding: chunked, identity\r\n\r\n" + chunk},
      {"Transfer-Encoding gzip, chunked (a coding mendd does not decode)",
       head(port) + json + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunk},
      {"Content-Length and Transfer-Encoding",
       head(port) + json + "Content-Length: 29\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
      {"Transfer-Encoding and Content-Length",
       head(port) + json + "Transfer-Encoding: chunked\r\nContent-Length: 29\r\n\r\n" + chunk},
      {"two different Content-Lengths",
       head(port) + json + "Content-Length: 29\r\nContent-Length: 5\r\n\r\n" + body},
      {"a bare LF ending a header line",
       head(port) + json + "X-Probe: 1\nContent-Length: 29\r\n\r\n" + body},
      {"a bare LF ending the request line",
       "GET /healthz HTTP/1.1\nHost: 127.0.0.1\r\n\r\n"},
      {"NUL in a header value",
       head(port) + json + std::string("X-Probe: a\0b\r\n", 14) + "Content-Length: 29\r\n\r\n" +
           body},
  };
  for (const Case& c : cases) check_refused(port, c, 400, "BAD_REQUEST");
}

TEST_CASE("a request header over the limit is answered 431 and the connection closed") {
  Mendd mendd;
  const Case over{"a 9 KiB header field", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Probe: " +
                                              std::string(9 * 1024, 'a') + "\r\n\r\n"};
  check_refused(mendd.port(), over, 431, "HEADERS_TOO_LARGE");
}

TEST_CASE("a chunked request body and a plain Content-Length are still read") {
  Mendd mendd;
  const int port = mendd.port();
  const std::string body(kCreateRoomBody);
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const RawAnswer chunked = raw_exchange(
      port, head(port) + "Content-Type: application/json\r\nConnection: close\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n" +
                size + "\r\n" + body + "\r\n0\r\n\r\n");
  CHECK(chunked.status() == 201);
  const RawAnswer plain =
      raw_exchange(port, create_room_request(port, "Content-Type: application/json\r\n"));
  CHECK(plain.status() == 201);
}

}  // namespace
}  // namespace mend::testing
