// Server addresses as the SDK accepts them: ws://, wss://, http:// or https:// URLs.
//
// Thread safety: plain values and a pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mend::client {

struct ServerUrl {
  bool tls = false;       // wss:// or https://
  std::string host;       // without brackets for IPv6 literals
  std::string port;       // explicit, or 80 / 443 by scheme
  std::string target;     // path, "/" when the URL had none
  std::string host_header() const;  // "host:port" as sent in the Host header
};

// Parses `url`. Accepts the schemes ws, wss, http, https (case-insensitive); rejects user
// info, query strings and fragments (tokens never travel in URLs). Returns nullopt when the
// URL is malformed.
std::optional<ServerUrl> parse_server_url(std::string_view url);

}  // namespace mend::client
