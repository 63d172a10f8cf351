// The PROXY protocol header reader (server/net/proxy_protocol.h): versions 1 and 2, what is
// refused, and the --proxy-protocol-from ranges.
#include <doctest/doctest.h>

#include <span>
#include <string>

#include "server/net/proxy_protocol.h"

namespace mend::net::proxy {
namespace {

using namespace std::string_literals;
using Verdict = Parsed::Verdict;

const std::string kV2 = "\r\n\r\n\0\r\nQUIT\n"s;

Parsed parse_text(const std::string& bytes) {
  return parse(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()),
                                              bytes.size()));
}

boost::asio::ip::address address(const char* text) { return boost::asio::ip::make_address(text); }

TEST_CASE("a v2 PROXY header over IPv4 names the client, and nothing after it is consumed") {
  const std::string header = kV2 + "\x21\x11\x00\x0c"s + "\xc0\x00\x02\x07"s +
                             "\xc6\x33\x64\x02"s + "\xc7\x38\x21\x20"s;
  const Parsed parsed = parse_text(header + "GET / HTTP/1.1\r\n");
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK(parsed.consumed == header.size());
  CHECK(parsed.source == address("192.0.2.7"));
}

TEST_CASE("a v2 PROXY header over IPv6 names the client, and TLVs after the addresses are "
          "skipped") {
  std::string body = "\x20\x01\x0d\xb8"s + std::string(11, '\0') + "\x05"s;  // 2001:db8::5
  body += std::string(16, '\0') + "\x01\x02\x03\x04"s + "\x04\x00\x01\x00"s;  // dst, ports, a TLV
  const std::string header = kV2 + "\x21\x21\x00"s + static_cast<char>(body.size()) + body;
  const Parsed parsed = parse_text(header);
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK(parsed.consumed == header.size());
  CHECK(parsed.source == address("2001:db8::5"));
}

TEST_CASE("a v2 LOCAL header (the proxy's own health check) names no client") {
  const Parsed parsed = parse_text(kV2 + "\x20\x00\x00\x00"s);
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK(parsed.consumed == 16);
  CHECK_FALSE(parsed.source.has_value());
}

TEST_CASE("a v1 PROXY header names the client, and UNKNOWN names none") {
  const std::string header = "PROXY TCP4 192.0.2.9 198.51.100.2 51000 8480\r\n";
  Parsed parsed = parse_text(header + "GET /");
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK(parsed.consumed == header.size());
  CHECK(parsed.source == address("192.0.2.9"));
  parsed = parse_text("PROXY TCP6 2001:db8::9 2001:db8::1 1 2\r\n");
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK(parsed.source == address("2001:db8::9"));
  parsed = parse_text("PROXY UNKNOWN whatever\r\n");
  REQUIRE(parsed.verdict == Verdict::kDone);
  CHECK_FALSE(parsed.source.has_value());
}

TEST_CASE("a header cut short asks for exactly the bytes up to its end, never beyond") {
  CHECK(parse_text("").need == kFirstRead);
  CHECK(parse_text("PRO").need == kFirstRead);
  const std::string v2 = kV2 + "\x21\x11\x00\x0c"s + std::string(12, '\x01');
  CHECK(parse_text(v2.substr(0, 8)).need == 16);
  CHECK(parse_text(v2.substr(0, 16)).need == 28);
  CHECK(parse_text(v2.substr(0, 27)).need == 28);
  // v1 has no length: a byte at a time up to its CRLF.
  CHECK(parse_text("PROXY TCP4 1").need == 13);
  for (std::size_t n = 0; n < v2.size(); ++n) {
    CHECK(parse_text(v2.substr(0, n)).verdict == Verdict::kNeedMore);
  }
}

TEST_CASE("a connection that does not start with a PROXY header is refused as missing") {
  for (const std::string& bytes : {"GET / HTTP/1.1\r\n"s, "\x16\x03\x01\x02\x00"s, "PROXX"s}) {
    const Parsed parsed = parse_text(bytes);
    REQUIRE(parsed.verdict == Verdict::kRefused);
    CHECK(std::string(parsed.reason) == kMissing);
  }
}

TEST_CASE("malformed PROXY headers are refused as invalid") {
  const std::vector<std::string> malformed = {
      kV2 + "\x11\x11\x00\x0c"s + std::string(12, '\0'),   // version 1 in a v2 signature
      kV2 + "\x22\x11\x00\x0c"s + std::string(12, '\0'),   // command 2
      kV2 + "\x21\x11\x00\x04"s + std::string(4, '\0'),    // IPv4 addresses cut short
      kV2 + "\x21\x21\x00\x0c"s + std::string(12, '\0'),   // IPv6 addresses cut short
      kV2 + "\x21\x11\xff\xff"s,                           // longer than kV2MaxLength
      "PROXY TCP4 192.0.2.1 198.51.100.2 51000\r\n",        // a port missing
      "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",        // IPv6 under TCP4
      "PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n",      // port out of range
      "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",          // not a protocol of v1
      "PROXY TCP4 " + std::string(120, '1'),                // no CRLF within 107 bytes
  };
  for (const std::string& bytes : malformed) {
    CAPTURE(bytes.size());
    const Parsed parsed = parse_text(bytes);
    REQUIRE(parsed.verdict == Verdict::kRefused);
    CHECK(std::string(parsed.reason) == kInvalid);
  }
}

TEST_CASE("--proxy-protocol-from takes addresses and CIDR blocks, IPv4-mapped peers included") {
  const auto one = parse_range("10.0.0.5");
  const auto block = parse_range("10.1.0.0/16");
  const auto v6 = parse_range("fd00::/8");
  REQUIRE(one);
  REQUIRE(block);
  REQUIRE(v6);
  CHECK(contains(*one, address("10.0.0.5")));
  CHECK_FALSE(contains(*one, address("10.0.0.6")));
  CHECK(contains(*block, address("10.1.200.3")));
  CHECK(contains(*block, address("::ffff:10.1.0.1")));
  CHECK_FALSE(contains(*block, address("10.2.0.1")));
  CHECK(contains(*v6, address("fd12::1")));
  CHECK_FALSE(contains(*v6, address("10.1.0.1")));
  CHECK(any_contains({*one, *block}, address("10.1.0.9")));
  CHECK_FALSE(any_contains({}, address("10.1.0.9")));
  for (const char* bad : {"", "10.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "host"}) {
    CHECK_FALSE(parse_range(bad).has_value());
  }
}

}  // namespace
}  // namespace mend::net::proxy
