// The TLS profile (README "Security"): TLS 1.2 only with ECDHE and an AEAD cipher (the
// "intermediate" profile), TLS 1.3 as OpenSSL offers it. Probed suite by suite with a client
// that offers exactly one, against the real mendd and its generated P-256 certificate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include "tests/common/mendd_process.h"

namespace mend::testing {
namespace {

struct CtxFree { void operator()(SSL_CTX* p) const { SSL_CTX_free(p); } };
struct SslFree { void operator()(SSL* p) const { SSL_free(p); } };

// Whether a TLS 1.2 handshake offering only `suite` succeeds (TLS 1.3 when `tls13`).
bool handshake(int port, const char* suite, bool tls13 = false) {
  std::unique_ptr<SSL_CTX, CtxFree> context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(context.get(), 0);  // offer what is asked, judge the server
  const int version = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(context.get(), version);
  SSL_CTX_set_max_proto_version(context.get(), version);
  if (!tls13 && SSL_CTX_set_cipher_list(context.get(), suite) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval wait{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  bool done = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
    SSL_set_fd(ssl.get(), fd);
    done = SSL_connect(ssl.get()) == 1;
    if (done) SSL_shutdown(ssl.get());
  }
  ::close(fd);
  return done;
}

TEST_CASE("TLS 1.2 offers only ECDHE suites with AEAD ciphers (no CBC)") {
  Mendd mendd;
  for (const char* cbc : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                          "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"}) {
    CAPTURE(cbc);
    CHECK_FALSE(handshake(mendd.port(), cbc));
  }
  for (const char* aead : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                           "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    CAPTURE(aead);
    CHECK(handshake(mendd.port(), aead));
  }
  CHECK(handshake(mendd.port(), nullptr, true));
}

}  // namespace
}  // namespace mend::testing
