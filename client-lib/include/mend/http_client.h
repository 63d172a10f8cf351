// mend::client::HttpClient: the server's HTTP API (DESIGN 8) for rooms and templates, with
// JSON bodies in the Protobuf JSON mapping of proto/mend/v1/api.proto.
//
// Usage:
//   mend::client::HttpClient http({.base_url = "http://127.0.0.1:8480"});
//   mend::v1::CreateRoomRequest request;
//   request.set_template_("imago-dialogue");
//   auto created = http.create_room(request);
//   if (!created.ok()) { /* created.error.code, .http_status, .server_code, .message */ }
//
// Calls are blocking and bounded by HttpOptions::timeout; each call opens its own connection
// (HTTP/1.1, TLS for https:// with certificate and host name verification).
// Thread safety: all methods are const and safe to call concurrently from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "mend/client_error.h"
#include "mend/proto.h"

namespace mend::client {

struct HttpOptions {
  // http://host:port or https://host:port (a path prefix is allowed, e.g. behind a proxy).
  std::string base_url = "http://127.0.0.1:8480";
  // Sent as "Authorization: Bearer <api_key>" on create_room when not empty.
  std::string api_key;
  // https: PEM file with CA certificates to trust in addition to the system's.
  std::string ca_file;
  // Bound on one whole call: connect, TLS, request and response.
  std::chrono::milliseconds timeout{10'000};
};

// A value or an error: `error.ok()` iff `value` is set.
template <typename T>
struct HttpResult {
  ClientError error;
  std::optional<T> value;
  bool ok() const { return error.ok() && value.has_value(); }
};

// One raw HTTP exchange, for endpoints without a typed call here.
struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);

  // POST /v1/rooms. Errors: kHttpStatus with the server's code (e.g. "UNKNOWN_TEMPLATE",
  // "UNAUTHENTICATED"), kNetwork, kTimeout, kProtocol (unparseable answer), kInvalidArgument.
  HttpResult<v1::CreateRoomResponse> create_room(const v1::CreateRoomRequest& request) const;

  // GET /v1/templates.
  HttpResult<v1::ListTemplatesResponse> list_templates() const;

  // GET /v1/rooms/{room_id} with the caller's invite token: the caller's view.
  HttpResult<v1::GetRoomResponse> get_room(std::string_view room_id,
                                           std::string_view invite_token) const;

  // GET /v1/rooms/{room_id}/insights with the caller's invite token: the conversation's
  // content-free insights (partners; observers while both partners approve them; else
  // kHttpStatus with OBSERVER_NOT_APPROVED).
  HttpResult<v1::GetInsightsResponse> get_insights(std::string_view room_id,
                                                   std::string_view invite_token) const;

  // GET /v1/rooms/{room_id}/summary: the summary of a closed conversation (audited). Errors
  // with kHttpStatus: CONVERSATION_NOT_CLOSED (409), OBSERVER_NOT_APPROVED and
  // SUMMARY_NOT_SHARED (403).
  HttpResult<v1::GetSummaryResponse> get_summary(std::string_view room_id,
                                                 std::string_view invite_token) const;

  // Any request (e.g. GET /healthz). `bearer` is sent as Authorization when not empty.
  // Errors only for transport failures; any status is returned as a response.
  HttpResult<HttpResponse> request(std::string_view method, std::string_view target,
                                   std::string body = {}, std::string_view bearer = {}) const;

 private:
  // GET /v1/rooms/{room_id}[/{part}], decoded as T.
  template <typename T>
  HttpResult<T> get_room_part(std::string_view room_id, std::string_view part,
                              std::string_view invite_token) const;

  HttpOptions options_;
};

}  // namespace mend::client
