#include "server/net/proxy_protocol.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

namespace mend::net::proxy {

namespace asio = boost::asio;

namespace {

constexpr std::array<unsigned char, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                        0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";

// v2 byte 12: version 2 in the high nibble; command LOCAL (0) or PROXY (1) in the low one.
constexpr unsigned char kV2Local = 0x20;
constexpr unsigned char kV2Proxy = 0x21;
// v2 byte 13, high nibble: the address family.
constexpr unsigned char kFamilyInet = 0x1;
constexpr unsigned char kFamilyInet6 = 0x2;
constexpr std::size_t kInetAddressBytes = 12;   // src, dst (4 each), ports (2 each)
constexpr std::size_t kInet6AddressBytes = 36;  // src, dst (16 each), ports (2 each)

Parsed refused(const char* reason) {
  Parsed parsed;
  parsed.verdict = Parsed::Verdict::kRefused;
  parsed.reason = reason;
  return parsed;
}

Parsed need(std::size_t bytes) {
  Parsed parsed;
  parsed.need = bytes;
  return parsed;
}

Parsed done(std::size_t consumed, std::optional<asio::ip::address> source) {
  Parsed parsed;
  parsed.verdict = Parsed::Verdict::kDone;
  parsed.consumed = consumed;
  parsed.source = std::move(source);
  return parsed;
}

// Whether the first min(n, size) bytes of `bytes` and `prefix` agree.
bool agrees(std::span<const unsigned char> bytes, std::span<const unsigned char> prefix) {
  const std::size_t n = std::min(bytes.size(), prefix.size());
  return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), prefix.begin());
}

std::span<const unsigned char> as_bytes(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

Parsed parse_v2(std::span<const unsigned char> bytes) {
  if (bytes.size() < kV2FixedBytes) return need(kV2FixedBytes);
  const unsigned char command = bytes[12];
  const auto family = static_cast<unsigned char>(bytes[13] >> 4);
  const std::size_t length = (std::size_t{bytes[14]} << 8) | bytes[15];
  if (command != kV2Local && command != kV2Proxy) return refused(kInvalid);
  if (length > kV2MaxLength) return refused(kInvalid);
  const std::size_t total = kV2FixedBytes + length;
  if (bytes.size() < total) return need(total);
  if (command == kV2Local) return done(total, std::nullopt);
  const auto body = bytes.subspan(kV2FixedBytes, length);
  if (family == kFamilyInet) {
    if (body.size() < kInetAddressBytes) return refused(kInvalid);
    asio::ip::address_v4::bytes_type source{};
    std::copy_n(body.begin(), source.size(), source.begin());
    return done(total, asio::ip::address_v4(source));
  }
  if (family == kFamilyInet6) {
    if (body.size() < kInet6AddressBytes) return refused(kInvalid);
    asio::ip::address_v6::bytes_type source{};
    std::copy_n(body.begin(), source.size(), source.begin());
    return done(total, asio::ip::address_v6(source));
  }
  return done(total, std::nullopt);  // UNSPEC or UNIX: no client address to use
}

// One space-separated field of a v1 line, advancing `rest`.
std::string_view next_field(std::string_view& rest) {
  const std::size_t space = rest.find(' ');
  std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  return field;
}

bool is_port(std::string_view field) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), port);
  return ec == std::errc{} && end == field.data() + field.size() && !field.empty() &&
         field.size() <= 5 && port <= 65535;
}

Parsed parse_v1(std::span<const unsigned char> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t end = text.find("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= kV1MaxBytes) return refused(kInvalid);
    return need(bytes.size() + 1);  // a byte at a time: nothing after the CRLF is read
  }
  const std::size_t total = end + 2;
  if (total > kV1MaxBytes) return refused(kInvalid);
  std::string_view rest = text.substr(kV1Prefix.size(), end - kV1Prefix.size());
  const std::string_view protocol = next_field(rest);
  if (protocol == "UNKNOWN") return done(total, std::nullopt);  // the rest is to be ignored
  if (protocol != "TCP4" && protocol != "TCP6") return refused(kInvalid);
  const std::string source_text(next_field(rest));
  const std::string destination_text(next_field(rest));
  const std::string_view source_port = next_field(rest);
  const std::string_view destination_port = next_field(rest);
  if (!rest.empty() || !is_port(source_port) || !is_port(destination_port)) {
    return refused(kInvalid);
  }
  boost::system::error_code source_ec;
  boost::system::error_code destination_ec;
  const auto source = asio::ip::make_address(source_text, source_ec);
  const auto destination = asio::ip::make_address(destination_text, destination_ec);
  const bool v4 = protocol == "TCP4";
  if (source_ec || destination_ec || source.is_v4() != v4 || destination.is_v4() != v4) {
    return refused(kInvalid);
  }
  return done(total, source);
}

}  // namespace

Parsed parse(std::span<const unsigned char> bytes) {
  const bool v2 = agrees(bytes, kV2Signature);
  const bool v1 = agrees(bytes, as_bytes(kV1Prefix));
  if (!v1 && !v2) return refused(kMissing);
  if (bytes.size() < kFirstRead) return need(kFirstRead);
  return v2 ? parse_v2(bytes) : parse_v1(bytes);
}

std::optional<AddressRange> parse_range(std::string_view text) {
  const std::size_t slash = text.find('/');
  boost::system::error_code ec;
  const auto network = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  const unsigned bits = network.is_v4() ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, parse_ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (parse_ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
        prefix > bits) {
      return std::nullopt;
    }
  }
  return AddressRange{network, prefix};
}

asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

bool contains(const AddressRange& range, const asio::ip::address& address) {
  const auto candidate = unmapped(address);
  if (candidate.is_v4() != range.network.is_v4()) return false;
  const auto prefix_equal = [prefix = range.prefix](const auto& a, const auto& b) {
    unsigned left = prefix;
    for (std::size_t i = 0; i < a.size() && left > 0; ++i) {
      const unsigned bits = std::min(left, 8U);
      const auto mask = static_cast<unsigned char>(0xFF << (8 - bits));
      if ((a[i] & mask) != (b[i] & mask)) return false;
      left -= bits;
    }
    return true;
  };
  if (candidate.is_v4()) {
    return prefix_equal(candidate.to_v4().to_bytes(), range.network.to_v4().to_bytes());
  }
  return prefix_equal(candidate.to_v6().to_bytes(), range.network.to_v6().to_bytes());
}

bool any_contains(const std::vector<AddressRange>& ranges, const asio::ip::address& address) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const AddressRange& range) { return contains(range, address); });
}

}  // namespace mend::net::proxy
