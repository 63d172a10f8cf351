// The PROXY protocol (HAProxy's doc/proxy-protocol.txt, versions 1 and 2): the header a proxy
// in front of mendd (HAProxy's `send-proxy-v2`) writes before the client's first byte, naming
// the client's address. Accepted only from the peers of --proxy-protocol-from (NetConfig):
// behind a proxy every connection comes from the proxy's address, and the per-address rules
// (connection limit, room quota without API keys) must see the client's instead. A header from
// any other peer is never looked for, so never trusted.
//
// parse() is a pure, bounds-checked reader (fuzzed: tests/fuzz; proxy_protocol.cpp, in
// mend_net_http); read_proxy_header() (proxy_header_reader.cpp, in mend_net) runs it on a
// freshly accepted socket, reading exactly the header's bytes and nothing after them, then
// hands the socket on. Thread safety: parse and the range functions are pure;
// read_proxy_header's socket must not be used by anyone else until `done`.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/net/config.h"

namespace mend::net::proxy {

// v1: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", at most 107 bytes with its CRLF.
inline constexpr std::size_t kV1MaxBytes = 107;
// v2: 12-byte signature, version/command, family/protocol, 2-byte length, then `length` bytes
// (addresses, then TLVs, which mendd ignores). Longer headers are refused.
inline constexpr std::size_t kV2FixedBytes = 16;
inline constexpr std::size_t kV2MaxLength = 512;
inline constexpr std::size_t kMaxHeaderBytes = kV2FixedBytes + kV2MaxLength;
// The first read: no valid header of either version is shorter, so nothing after it is read.
inline constexpr std::size_t kFirstRead = 8;

// Stable reasons (the metric mend_rejections_total{reason}) of a connection from a listed peer
// that is closed before anything else is read.
inline constexpr const char* kMissing = "PROXY_HEADER_MISSING";  // no header (or none in time)
inline constexpr const char* kInvalid = "PROXY_HEADER_INVALID";  // a malformed header

struct Parsed {
  enum class Verdict { kNeedMore, kDone, kRefused };
  Verdict verdict = Verdict::kNeedMore;
  // kNeedMore: how many bytes (in all, from the first) to have before calling again; never
  // beyond the header's end.
  std::size_t need = kFirstRead;
  // kDone: the header's length; the client's bytes follow it.
  std::size_t consumed = 0;
  // kDone: the client's address; nullopt when the header names none (v2 LOCAL, e.g. the
  // proxy's own health check; v1 UNKNOWN; a family other than IPv4/IPv6): use the peer's.
  std::optional<boost::asio::ip::address> source;
  // kRefused: kMissing or kInvalid.
  const char* reason = nullptr;
};

// Examines the first `bytes` received on a connection (any length, including zero).
Parsed parse(std::span<const unsigned char> bytes);

// "10.0.0.5", "10.0.0.0/8", "fd00::/8": the range, or nullopt when it is not one.
std::optional<AddressRange> parse_range(std::string_view text);
// Whether `address` (an IPv4-mapped IPv6 address counts as its IPv4 address) is in `range`.
bool contains(const AddressRange& range, const boost::asio::ip::address& address);
bool any_contains(const std::vector<AddressRange>& ranges, const boost::asio::ip::address& address);
// `address` itself, or the IPv4 address an IPv4-mapped IPv6 address stands for.
boost::asio::ip::address unmapped(const boost::asio::ip::address& address);

// Reads the header from `socket` (within `timeout`), then calls `done` on the socket's
// executor with the socket and the client's address (the header's, else the peer's), or with
// a refusal reason (kMissing, kInvalid) and the socket to drop.
using HeaderDone = std::function<void(boost::asio::ip::tcp::socket socket,
                                      boost::asio::ip::address client, const char* refused)>;
void read_proxy_header(boost::asio::ip::tcp::socket socket, Millis timeout, HeaderDone done);

}  // namespace mend::net::proxy
