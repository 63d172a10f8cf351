// --proxy-protocol-from (README "Configuration"): behind HAProxy (send-proxy-v2) every
// connection comes from the proxy's address; the per-address limits must count the clients the
// PROXY headers name. Raw sockets to the real mendd on 127.0.0.1, listed as the proxy.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>

#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

using namespace std::string_literals;

// A PROXY v2 header (PROXY command, TCP over IPv4) naming `client` as the source.
std::string proxy_v2(const char* client) {
  in_addr source{};
  ::inet_pton(AF_INET, client, &source);
  std::string header = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"s;
  header.append(reinterpret_cast<const char*>(&source), 4);
  header += "\x7f\x00\x00\x01\xc3\x50\x21\x20"s;  // destination 127.0.0.1, ports 50000, 8480
  return header;
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: mend\r\n\r\n";
const std::string kHealthzClose =
    "GET /healthz HTTP/1.1\r\nHost: mend\r\nConnection: close\r\n\r\n";

TEST_CASE("behind a listed proxy each client named by the PROXY header has its own connection "
          "limit, and a connection without a header is refused") {
  Mendd mendd({"--store", "memory", "--proxy-protocol-from", "127.0.0.1",
               "--max-connections-per-ip", "1"});
  // Client A holds its one connection open (keep-alive, answered: admitted).
  RawConnection first_a(mendd.port());
  first_a.send(proxy_v2("192.0.2.1") + kHealthz);
  RawAnswer held;
  first_a.read(held, Read::kHead);
  REQUIRE(held.status() == 200);

  // Client B, through the same proxy address, is not counted against A.
  const RawAnswer b = raw_exchange(mendd.port(), proxy_v2("192.0.2.2") + kHealthzClose);
  CHECK(b.status() == 200);
  // A second connection of A is over A's limit: closed unanswered.
  const RawAnswer second_a = raw_exchange(mendd.port(), proxy_v2("192.0.2.1") + kHealthzClose);
  CHECK(second_a.bytes.empty());
  CHECK(second_a.closed);
  // The listed proxy's connection must start with a header: plain HTTP is closed unanswered.
  const RawAnswer bare = raw_exchange(mendd.port(), kHealthzClose);
  CHECK(bare.bytes.empty());
  CHECK(bare.closed);

  const RawAnswer metrics = raw_exchange(
      mendd.port(), proxy_v2("192.0.2.3") +
                        "GET /metrics HTTP/1.1\r\nHost: mend\r\nConnection: close\r\n\r\n");
  CHECK(metrics.has(R"(mend_rejections_total{code="PROXY_HEADER_MISSING"} 1)"));
  CHECK(metrics.has(R"(mend_rejections_total{code="TOO_MANY_CONNECTIONS"} 1)"));
}

TEST_CASE("a PROXY header from a peer that is not listed is not read as one") {
  Mendd mendd({"--store", "memory", "--max-connections-per-ip", "1"});
  // The header's bytes are the start of the HTTP request: a malformed request, never a client
  // address taken on trust.
  const RawAnswer answer = raw_exchange(mendd.port(), proxy_v2("192.0.2.1") + kHealthzClose);
  CHECK(answer.status() != 200);
}

}  // namespace
}  // namespace mend::testing
