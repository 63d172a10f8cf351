// Test support for server/net: a fake RoomService, a real Server on 127.0.0.1 (ephemeral
// port) run by a background thread, and small raw Beast clients with bounded waits.
#pragma once

#include "mend/v1/api.pb.h"
#include "mend/v1/frames.pb.h"
#include "server/rooms/room_service.h"
#include "server/rooms/tokens.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "server/net/server.h"

namespace mend::net::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

inline constexpr auto kWait = 5s;  // upper bound of every wait in these tests
inline constexpr std::int64_t kNowMs = 1'800'000'000'000;
inline const std::string kSecret(32, 's');
inline constexpr const char* kRoomId = "0123456789abcdef0123456789abcdef";

std::string token_for(v1::Role role, std::int64_t expires_at_ms = kNowMs + 3'600'000,
                      const std::string& secret = kSecret);

// A RoomService that answers like the real one, with recipients the test can reach.
class FakeRooms final : public rooms::RoomService {
 public:
  void create_room(const v1::CreateRoomRequest& request,
                   std::function<void(rooms::Result<v1::CreateRoomResponse>)> done) override;
  // Counts rooms per creator in memory (the real service counts from its store).
  void create_room_for(const v1::CreateRoomRequest& request, const std::string& creator,
                       std::uint32_t limit,
                       std::function<void(rooms::Result<v1::CreateRoomResponse>)> done) override;
  v1::ListTemplatesResponse list_templates() const override;
  void get_view(const rooms::Participant& who,
                std::function<void(rooms::Result<v1::GetRoomResponse>)> done) override;
  void attach(const rooms::Participant& who, const v1::Hello& hello,
              std::shared_ptr<rooms::Recipient> recipient,
              std::function<void(std::optional<rooms::CloseCode>)> done) override;
  void detach(const rooms::Participant& who, const rooms::Recipient* recipient) override;
  void submit(const rooms::Participant& who, v1::Command command) override;
  void typing(const rooms::Participant& who, bool typing) override;

  std::shared_ptr<rooms::Recipient> recipient(v1::Role role);
  // Resolves when `role` is detached.
  std::future<void> detached(v1::Role role);
  // Typing frames that reached the rooms: 1 + 2 * role + typing of the last one (0: none).
  int last_typing() const { return last_typing_.load(); }

 private:
  mutable std::mutex mutex_;
  std::map<int, std::shared_ptr<rooms::Recipient>> recipients_;
  std::map<int, std::promise<void>> detach_promises_;
  std::map<std::string, std::uint32_t> rooms_per_creator_;
  std::atomic<int> last_typing_{0};
};

NetConfig test_config();

// A Server on 127.0.0.1:<ephemeral> served by one background thread.
class TestServer {
 public:
  explicit TestServer(NetConfig config = test_config(), std::vector<std::string> api_keys = {},
                      std::shared_ptr<asio::ssl::context> tls = nullptr,
                      std::shared_ptr<rooms::RoomService> rooms = nullptr,
                      TokenVerifier verifier = nullptr, std::filesystem::path web_dir = {});
  ~TestServer();

  unsigned short port() const { return port_; }
  Server& server() { return *server_; }
  FakeRooms& fake() { return *fake_; }

 private:
  asio::io_context ioc_;
  // Keeps ioc_.run() going when a test's own drain has ended every connection, so the
  // destructor's drain still runs.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::shared_ptr<FakeRooms> fake_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  std::thread thread_;
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::string content_type;
};

// One request on a new connection (Connection: close).
HttpResult http_call(unsigned short port, http::verb method, const std::string& target,
                     const std::string& body = {}, const std::string& bearer = {});

// One keep-alive HTTP connection for several GETs.
class KeepAliveHttp {
 public:
  explicit KeepAliveHttp(unsigned short port) : port_(port) {}
  unsigned get(const std::string& target);  // the status, 0 when no answer

 private:
  unsigned short port_;
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// A raw WebSocket client with bounded waits (its own io_context, run by the calling thread).
class WsClient {
 public:
  // Connects and upgrades; `subprotocol` empty offers none. Returns the upgrade error.
  beast::error_code connect(unsigned short port, const std::string& subprotocol = "mend.v1");
  unsigned upgrade_status() const { return upgrade_response_.result_int(); }

  beast::error_code write_binary(const std::string& bytes);
  // One binary message sent as WebSocket frames of at most `frame_bytes` bytes each.
  beast::error_code write_binary_in_frames(const std::string& bytes, std::size_t frame_bytes);
  beast::error_code write_text(const std::string& text);
  beast::error_code send(const v1::ClientFrame& frame) {
    return write_binary(frame.SerializeAsString());
  }
  beast::error_code hello(const std::string& token);

  struct Read {
    beast::error_code ec;
    std::string data;
    bool timed_out = false;
  };
  Read read(std::chrono::milliseconds timeout = kWait);
  // Reads the next ServerFrame; fails the test on a close or a timeout.
  std::optional<v1::ServerFrame> read_frame();
  // Reads (and discards frames) until the server closes; returns its close code, or 0.
  std::uint16_t read_until_close(std::chrono::milliseconds timeout = kWait);
  // The server's close code after a read ended with websocket::error::closed.
  std::uint16_t close_code() const { return ws_.reason().code; }

 private:
  template <class Op>
  beast::error_code run(Op op, std::chrono::milliseconds timeout);

  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  websocket::response_type upgrade_response_;
};

}  // namespace mend::net::testing
