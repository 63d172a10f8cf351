// Raw bytes to a real mendd on 127.0.0.1 over a plain socket: for requests no HTTP library
// would send (bad framing, bare LF, NUL), and for reading exactly what the server answers
// and whether it then closes. Every read is bounded (kRawWait). Header-only; thread safety:
// one RawHttp per thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mend::testing {

inline constexpr std::chrono::seconds kRawWait{10};

// What the server sent before it closed the connection (or before kRawWait passed).
struct RawAnswer {
  std::string bytes;
  bool closed = false;  // the server closed (FIN or reset) rather than going quiet

  // "HTTP/1.1 400 Bad Request" -> 400; 0 when nothing (or not HTTP) came back.
  int status() const {
    if (bytes.size() < 12 || !bytes.starts_with("HTTP/1.")) return 0;
    return std::stoi(bytes.substr(9, 3));
  }
  bool has(std::string_view text) const { return bytes.find(text) != std::string::npos; }
};

// What to read of the answer: all of it (until the server closes), or only its head (for an
// accepted WebSocket upgrade, which stays open).
enum class Read : std::uint8_t { kUntilClose, kHead };

// Opens a connection to `address`:`port`, sends `request` whole, half-closes nothing, and
// reads until the server closes (or, with Read::kHead, until the answer's head is complete)
// or kRawWait passes.
inline RawAnswer raw_exchange(int port, std::string_view request,
                              const char* address = "127.0.0.1", Read read = Read::kUntilClose) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval wait{static_cast<time_t>(kRawWait.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address, &to.sin_addr);
  RawAnswer answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      answer.bytes.append(chunk, static_cast<std::size_t>(n));
      if (read == Read::kHead && answer.has("\r\n\r\n")) break;
      continue;
    }
    answer.closed = n == 0 || errno == ECONNRESET;
    break;
  }
  ::close(fd);
  return answer;
}

}  // namespace mend::testing

namespace mend::testing {

// A valid CreateRoomRequest (a shipped template).
inline constexpr std::string_view kCreateRoomBody =
    R"({"template":"imago-dialogue","topic":"the holidays","partnerAName":"Sam",)"
    R"("partnerBName":"Alex"})";

// POST /v1/rooms with `extra_headers` (each ending in \r\n) and kCreateRoomBody.
inline std::string create_room_request(int port, std::string_view extra_headers) {
  return "POST /v1/rooms HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nConnection: close\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(kCreateRoomBody.size()) + "\r\n\r\n" +
         std::string(kCreateRoomBody);
}

}  // namespace mend::testing
