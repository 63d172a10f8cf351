// TLS detection on the one port, and the generated key material (DESIGN.md section 7).
#include "tests/net/net_support.h"

#include <sys/stat.h>

#include <filesystem>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include "server/rooms/room_service.h"
#include "tests/common/temp_dir.h"

namespace mend::net::testing {
namespace {

namespace fs = std::filesystem;
namespace ssl = asio::ssl;

using ::mend::testing::TempDir;

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

std::shared_ptr<ssl::context> server_context(const TlsFiles& files) {
  auto context = make_tls_context(files);
  REQUIRE(std::holds_alternative<std::shared_ptr<ssl::context>>(context));
  return std::get<std::shared_ptr<ssl::context>>(context);
}

// GET /healthz over TLS, verifying the server against `ca`. Returns the HTTP status, or 0
// when the handshake failed.
unsigned https_healthz(unsigned short port, const fs::path& ca, int max_version = 0) {
  asio::io_context ioc;
  ssl::context context(ssl::context::tls_client);
  context.load_verify_file(ca.string());
  context.set_verify_mode(ssl::verify_peer);
  if (max_version != 0) {
    SSL_CTX_set_min_proto_version(context.native_handle(), 0);
    SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
    SSL_CTX_set_security_level(context.native_handle(), 0);
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  static char kHost[] = "localhost";  // SNI (SSL_set_tlsext_host_name is an old-style cast)
  SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           kHost);
  SSL_set1_host(stream.native_handle(), "localhost");
  http::request<http::empty_body> request{http::verb::get, "/healthz", 11};
  request.set(http::field::host, "localhost");
  request.set(http::field::connection, "close");
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  bool answered = false;  // a default response says 200: count only a response read whole
  beast::get_lowest_layer(stream).expires_after(kWait);
  beast::get_lowest_layer(stream).async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (ec) return;
        stream.async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
          if (hec) return;
          http::async_write(stream, request, [&](beast::error_code wec, std::size_t) {
            if (wec) return;
            http::async_read(stream, buffer, response,
                             [&](beast::error_code rec, std::size_t) { answered = !rec; });
          });
        });
      });
  ioc.run();
  return answered ? response.result_int() : 0;
}

TEST_CASE("first start generates a certificate and key with mode 0600, then reuses them") {
  TempDir dir;
  auto files = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(files));
  const auto& tls = std::get<TlsFiles>(files);
  CHECK(mode_of(tls.certificate) == 0600);
  CHECK(mode_of(tls.private_key) == 0600);
  const auto written = fs::last_write_time(tls.certificate);
  auto again = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(again));
  CHECK(fs::last_write_time(std::get<TlsFiles>(again).certificate) == written);
}

TEST_CASE("TLS on the same port verifies against the generated certificate as CA") {
  TempDir dir;
  auto files = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(files));
  const auto& tls = std::get<TlsFiles>(files);
  TestServer server(test_config(), {}, server_context(tls));
  CHECK(https_healthz(server.port(), tls.certificate) == 200);
  // Plaintext from loopback on the same port still works.
  CHECK(http_call(server.port(), http::verb::get, "/healthz").status == 200);
}

TEST_CASE("TLS 1.1 is refused") {
  TempDir dir;
  auto files = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(files));
  const auto& tls = std::get<TlsFiles>(files);
  TestServer server(test_config(), {}, server_context(tls));
  CHECK(https_healthz(server.port(), tls.certificate, TLS1_1_VERSION) == 0);
}

TEST_CASE("a TLS client of a server without TLS is refused, plaintext is served") {
  TempDir dir;
  auto files = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(files));
  TestServer server;  // no TLS context
  CHECK(https_healthz(server.port(), std::get<TlsFiles>(files).certificate) == 0);
  CHECK(http_call(server.port(), http::verb::get, "/healthz").status == 200);
}


// A wss client of the real server: connect, upgrade to /v1/connect, then Hello.
class WssClient {
 public:
  WssClient(unsigned short port, const fs::path& ca) : context_(ssl::context::tls_client) {
    context_.load_verify_file(ca.string());
    context_.set_verify_mode(ssl::verify_peer);
    ws_.emplace(ioc_, context_);
    ws_->read_message_max(16 * 1024 * 1024);
    ws_->set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(http::field::sec_websocket_protocol, "mend.v1");
    }));
    beast::get_lowest_layer(*ws_).expires_after(kWait);
    beast::get_lowest_layer(*ws_).async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [this](beast::error_code ec) {
          if (ec) return finish(ec);
          ws_->next_layer().async_handshake(ssl::stream_base::client, [this](beast::error_code h) {
            if (h) return finish(h);
            beast::get_lowest_layer(*ws_).expires_never();
            ws_->async_handshake("localhost", "/v1/connect",
                                 [this](beast::error_code u) { finish(u); });
          });
        });
    connected = run();
  }

  beast::error_code write(const std::string& bytes) {
    ws_->binary(true);
    ws_->async_write(asio::buffer(bytes), [this](beast::error_code ec, std::size_t) {
      finish(ec);
    });
    return run();
  }

  beast::error_code read(std::string& out) {
    buffer_.clear();
    ws_->async_read(buffer_, [this](beast::error_code ec, std::size_t) { finish(ec); });
    const auto ec = run();
    out = beast::buffers_to_string(buffer_.data());
    return ec;
  }

  beast::error_code close() {
    ws_->async_close(websocket::close_code::normal, [this](beast::error_code ec) { finish(ec); });
    return run();
  }

  std::uint16_t close_code() const { return ws_->reason().code; }

  beast::error_code connected;

 private:
  void finish(beast::error_code ec) {
    result_ = ec;
    done_ = true;
  }

  beast::error_code run() {
    done_ = false;
    result_ = asio::error::timed_out;
    ioc_.restart();
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done_ && std::chrono::steady_clock::now() < deadline) ioc_.run_one_for(50ms);
    return done_ ? result_ : beast::error_code(asio::error::timed_out);
  }

  asio::io_context ioc_;
  ssl::context context_;
  std::optional<websocket::stream<ssl::stream<beast::tcp_stream>>> ws_;
  beast::flat_buffer buffer_;
  beast::error_code result_;
  bool done_ = false;
};

// Generated key material in `dir`.
TlsFiles generated_tls(const TempDir& dir) {
  auto files = ensure_self_signed_certificate(dir.path());
  REQUIRE(std::holds_alternative<TlsFiles>(files));
  return std::get<TlsFiles>(files);
}

// A TLS server and a wss client attached as `role` (Hello sent, its first ServerFrame read).
struct AttachedWss {
  explicit AttachedWss(v1::Role role)
      : tls(generated_tls(dir)),
        server(test_config(), {}, server_context(tls)),
        client(server.port(), tls.certificate) {
    REQUIRE_FALSE(client.connected);
    v1::ClientFrame hello;
    hello.mutable_hello()->set_token(token_for(role));
    REQUIRE_FALSE(client.write(hello.SerializeAsString()));
    REQUIRE_FALSE(client.read(first_frame));
  }

  TempDir dir;
  TlsFiles tls;
  TestServer server;
  WssClient client;
  std::string first_frame;
};

TEST_CASE("a wss connection attaches, exchanges frames and closes with the closing handshake") {
  AttachedWss wss(v1::PARTNER_A);
  v1::ServerFrame welcome;
  REQUIRE(welcome.ParseFromString(wss.first_frame));
  REQUIRE(welcome.items_size() >= 1);
  CHECK(welcome.items(0).has_welcome());
  // Frames larger than one TLS record each way (the fake rooms echo the command id).
  const std::string long_id(60 * 1024, 't');
  v1::ClientFrame command;
  command.mutable_command()->set_command_id(long_id);
  REQUIRE_FALSE(wss.client.write(command.SerializeAsString()));
  std::string bytes;
  REQUIRE_FALSE(wss.client.read(bytes));
  v1::ServerFrame result;
  REQUIRE(result.ParseFromString(bytes));
  REQUIRE(result.items_size() == 1);
  CHECK(result.items(0).result().command_id() == long_id);
  auto detached = wss.server.fake().detached(v1::PARTNER_A);
  CHECK_FALSE(wss.client.close());
  CHECK(detached.wait_for(kWait) == std::future_status::ready);
}

TEST_CASE("the room's close code reaches a wss client through the closing handshake") {
  AttachedWss wss(v1::PARTNER_B);
  auto recipient = wss.server.fake().recipient(v1::PARTNER_B);
  REQUIRE(recipient);
  recipient->close(rooms::CloseCode::kConsentRevoked, "consent revoked");
  std::string bytes;
  CHECK(wss.client.read(bytes) == websocket::error::closed);
  CHECK(wss.client.close_code() == static_cast<std::uint16_t>(rooms::CloseCode::kConsentRevoked));
}

TEST_CASE("garbage after a TLS record header is a TLS_HANDSHAKE rejection") {
  TempDir dir;
  TestServer server(test_config(), {}, server_context(generated_tls(dir)));
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kWait);
  // A record header and a ClientHello header pass async_detect_ssl; the rest is garbage.
  const std::string garbage = std::string("\x16\x03\x01\x00\x40\x01\x00\x00\x3c", 9) +
                              std::string(60, 'g');
  std::array<char, 256> answer{};
  beast::error_code end;
  stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()),
                       [&](beast::error_code ec) {
                         REQUIRE_FALSE(ec);
                         asio::async_write(stream, asio::buffer(garbage),
                                           [&](beast::error_code, std::size_t) {});
                         asio::async_read(stream, asio::buffer(answer),
                                          [&](beast::error_code ec2, std::size_t) { end = ec2; });
                       });
  ioc.run();
  CHECK(end == asio::error::eof);  // an alert, then the server closed the connection
  CHECK(answer[0] == 21);
  CHECK(server.server().metrics().rejections("TLS_HANDSHAKE") == 1);
}

}  // namespace
}  // namespace mend::net::testing
