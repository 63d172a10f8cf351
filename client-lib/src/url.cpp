#include "mend/url.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace mend::client {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Splits "host[:port]" or "[v6]:port" into host and port; false when malformed.
bool split_authority(std::string_view authority, ServerUrl& url) {
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (!all_digits(port)) return false;
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (!all_digits(port)) return false;
    }
  }
  if (url.host.empty()) return false;
  if (!port.empty()) {
    if (port.size() > 5 || std::stoul(std::string(port)) > 65535) return false;
    url.port = std::string(port);
  } else {
    url.port = url.tls ? "443" : "80";
  }
  return true;
}

}  // namespace

std::string ServerUrl::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::optional<ServerUrl> parse_server_url(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const std::string scheme = lower(text.substr(0, scheme_end));
  ServerUrl url;
  if (scheme == "wss" || scheme == "https") {
    url.tls = true;
  } else if (scheme != "ws" && scheme != "http") {
    return std::nullopt;
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (rest.find_first_of("?#@") != std::string_view::npos) return std::nullopt;
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!split_authority(authority, url)) return std::nullopt;
  return url;
}

namespace {

// Decodes unpadded base64url; nullopt on a character outside its alphabet.
std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '-') value = 62;
    if (c == '_') value = 63;
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> room_of_token(std::string_view token) {
  // Payload: version 1 | role (1) | expires_at_ms (8) | room id length (1) | room id | ...
  constexpr std::size_t kRoomLengthAt = 10;
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto payload = base64url_decode(token.substr(0, dot));
  if (!payload || payload->size() <= kRoomLengthAt || (*payload)[0] != 1) return std::nullopt;
  const auto length = static_cast<unsigned char>((*payload)[kRoomLengthAt]);
  if (length == 0 || payload->size() < kRoomLengthAt + 1 + length) return std::nullopt;
  return payload->substr(kRoomLengthAt + 1, length);
}

std::string connect_target(std::string_view target, std::string_view token) {
  constexpr std::string_view kConnect = "/v1/connect";
  if (target != "/" && target != kConnect) return std::string(target);
  const auto room = room_of_token(token);
  // Room ids are URL-safe (letters, digits, '-', '_'); anything else stays out of the path.
  const bool safe = room && std::all_of(room->begin(), room->end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_';
  });
  return safe ? std::string(kConnect) + "/" + *room : std::string(kConnect);
}

}  // namespace mend::client
