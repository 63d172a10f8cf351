// TLS detection on the one port, and the generated key material (DESIGN.md section 7).
#include "tests/net/net_support.h"

#include <sys/stat.h>

#include <filesystem>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <doctest/doctest.h>
#include <openssl/ssl.h>

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

TEST_CASE("the token secret is 32 random bytes in a 0600 file, stable across starts") {
  TempDir dir;
  const auto path = dir.path() / kTokenSecretFile;
  auto first = load_or_create_secret(path);
  REQUIRE(std::holds_alternative<std::string>(first));
  CHECK(std::get<std::string>(first).size() == kTokenSecretBytes);
  CHECK(mode_of(path) == 0600);
  auto second = load_or_create_secret(path);
  REQUIRE(std::holds_alternative<std::string>(second));
  CHECK(std::get<std::string>(second) == std::get<std::string>(first));
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

}  // namespace
}  // namespace mend::net::testing
