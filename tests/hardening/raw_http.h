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

#include <cctype>
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
  // Whether a whole response has arrived: its head and the Content-Length bytes after it.
  bool has_whole_response() const {
    const auto head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    std::string head = bytes.substr(0, head_end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto field = head.find("\r\ncontent-length:");
    if (field == std::string::npos) return true;
    const std::size_t length = std::stoul(head.substr(field + 17));
    return bytes.size() >= head_end + 4 + length;
  }
  // After an accepted upgrade: the code of the server's WebSocket close frame when it is the
  // first frame after the head and has arrived; 0 otherwise.
  int close_code() const {
    const auto head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string::npos) return 0;
    const std::size_t at = head_end + 4;
    if (bytes.size() < at + 4 || static_cast<unsigned char>(bytes[at]) != 0x88) return 0;
    return static_cast<unsigned char>(bytes[at + 2]) << 8 | static_cast<unsigned char>(bytes[at + 3]);
  }
};

// What to read of the answer: all of it (until the server closes), only its head (for an
// accepted WebSocket upgrade, which stays open), one whole response (head and Content-Length
// body, for a refusal on a connection the server keeps alive), or up to the server's
// WebSocket close frame (which waits for the client's close frame before it closes the
// connection).
enum class Read : std::uint8_t { kUntilClose, kHead, kResponse, kCloseFrame };

// One connection to `address`:`port` (closed by the destructor): sends bytes whole and reads
// answers, each read bounded by kRawWait.
class RawConnection {
 public:
  explicit RawConnection(int port, const char* address = "127.0.0.1")
      : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval wait{static_cast<time_t>(kRawWait.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, address, &to.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send(std::string_view bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  }

  // Appends to `answer` until the server closes (or what `read` asks for has arrived) or
  // kRawWait passes.
  void read(RawAnswer& answer, Read read) {
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        answer.bytes.append(chunk, static_cast<std::size_t>(n));
        if (read == Read::kHead && answer.has("\r\n\r\n")) break;
        if (read == Read::kResponse && answer.has_whole_response()) break;
        if (read == Read::kCloseFrame && answer.close_code() != 0) break;
        continue;
      }
      answer.closed = n == 0 || errno == ECONNRESET;
      break;
    }
  }

 private:
  int fd_;
};

// Opens a connection, sends `request` whole, half-closes nothing, and reads until the server
// closes (or until what `read` asks for has arrived) or kRawWait passes.
inline RawAnswer raw_exchange(int port, std::string_view request,
                              const char* address = "127.0.0.1", Read read = Read::kUntilClose) {
  RawConnection connection(port, address);
  connection.send(request);
  RawAnswer answer;
  connection.read(answer, read);
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
