// Fuzz target: the PROXY protocol header reader (server/net/proxy_protocol.h), which runs on
// the first bytes of every connection from a --proxy-protocol-from peer.
//
// Input: the bytes a peer sent.
// Properties: nothing crashes or reads out of bounds; kNeedMore asks for more bytes than given,
// never more than kMaxHeaderBytes; kDone consumes at most what was given, and the same verdict
// and address come from exactly the consumed bytes (so the reader, which reads only what
// parse asks for, sees what parse saw); every prefix of a header is kNeedMore, never kDone.
#include "server/net/proxy_protocol.h"
#include "tests/fuzz/fuzz_target.h"

#include <span>

namespace mend::fuzz {

std::vector<std::string> seeds() {
  using namespace std::string_literals;
  const std::string v2 = "\r\n\r\n\0\r\nQUIT\n"s;
  return {
      "PROXY TCP4 192.0.2.1 198.51.100.2 51000 8480\r\nGET / HTTP/1.1\r\n\r\n",
      "PROXY TCP6 2001:db8::1 2001:db8::2 51000 8480\r\n",
      "PROXY UNKNOWN\r\n",
      "PROXY TCP4 192.0.2.1\r\n",
      v2 + "\x21\x11\x00\x0c"s + "\xc0\x00\x02\x01\xc6\x33\x64\x02\xc7\x38\x21\x20"s + "GET /",
      v2 + "\x21\x21\x00\x24"s + std::string(32, '\x20') + "\x01\x02\x03\x04"s,
      v2 + "\x20\x00\x00\x00"s,
      v2 + "\x21\x11\x00\x03"s + "\x01\x02\x03"s,
      v2 + "\x21\x11\x02\x01"s,
      "GET / HTTP/1.1\r\n\r\n",
  };
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using mend::fuzz::require;
  namespace proxy = mend::net::proxy;
  using Verdict = proxy::Parsed::Verdict;
  const std::span<const unsigned char> bytes(data, size);
  const proxy::Parsed parsed = proxy::parse(bytes);
  switch (parsed.verdict) {
    case Verdict::kNeedMore:
      require(parsed.need > size, "kNeedMore asks for more than it was given");
      require(parsed.need <= proxy::kMaxHeaderBytes, "kNeedMore stays within the header bound");
      break;
    case Verdict::kRefused:
      require(parsed.reason != nullptr, "a refusal has a reason");
      break;
    case Verdict::kDone: {
      require(parsed.consumed > 0 && parsed.consumed <= size, "kDone consumes what it was given");
      const proxy::Parsed exact = proxy::parse(bytes.first(parsed.consumed));
      require(exact.verdict == Verdict::kDone && exact.consumed == parsed.consumed &&
                  exact.source == parsed.source,
              "the header alone parses the same");
      const proxy::Parsed prefix = proxy::parse(bytes.first(parsed.consumed - 1));
      require(prefix.verdict == Verdict::kNeedMore, "a header cut short needs more");
      break;
    }
  }
  return 0;
}
