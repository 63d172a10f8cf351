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

// The room id an invite token is for, read from its payload without verifying it (the server
// verifies; the id is not a secret): nullopt when `token` is not of the invite format.
std::optional<std::string> room_of_token(std::string_view token);

// The path a client connects to: /v1/connect/{room} for a URL without a path or with the path
// /v1/connect, so that a router (HAProxy) can send every participant of a room to the same
// node; plain /v1/connect when the token names no room; any other path unchanged.
std::string connect_target(std::string_view target, std::string_view token);

}  // namespace mend::client
