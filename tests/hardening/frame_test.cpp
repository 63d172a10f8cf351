// Malformed WebSocket frames through the real mendd over a raw socket: the connection closes
// with 4500 and the log stays quiet (protobuf's own complaint is a debug line, not a line on
// stderr per bad frame).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>

#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

// A client's WebSocket frame (FIN, binary, masked) carrying `payload` (< 126 bytes).
std::string masked_binary_frame(const std::string& payload) {
  const std::array<unsigned char, 4> mask = {0x1f, 0x2e, 0x3d, 0x4c};
  std::string frame = {'\x82', static_cast<char>(0x80 | payload.size())};
  for (unsigned char byte : mask) frame.push_back(static_cast<char>(byte));
  for (std::size_t i = 0; i < payload.size(); ++i) {
    frame.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i % 4]));
  }
  return frame;
}

TEST_CASE("a frame with invalid UTF-8 in a text field is closed with 4500 and not logged at info") {
  Mendd mendd;
  const int port = mendd.port();
  // ClientFrame{hello{client_name: "\xff\xfe"}}: proto3 refuses a string that is not UTF-8.
  const std::string client_frame = {'\x0a', '\x04', '\x22', '\x02', '\xff', '\xfe'};
  const std::string request =
      "GET /v1/connect HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: mend.v1\r\n\r\n";
  for (int attempt = 0; attempt < 5; ++attempt) {
    RawConnection connection(port);
    connection.send(request);
    RawAnswer answer;
    connection.read(answer, Read::kHead);
    REQUIRE(answer.status() == 101);
    connection.send(masked_binary_frame(client_frame));
    connection.read(answer, Read::kCloseFrame);
    CHECK(answer.close_code() == 4500);
  }
  const std::string log = mendd.log();
  CHECK(log.find("UTF-8") == std::string::npos);
  CHECK(log.find("protobuf") == std::string::npos);
}

}  // namespace
}  // namespace mend::testing
