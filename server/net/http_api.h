// The HTTP API of DESIGN.md section 8, independent of the transport: POST /v1/rooms,
// GET /v1/templates, GET /v1/rooms/{id}, /healthz, /readyz, /metrics; and the privacy
// endpoints of section 7 (invite token as bearer): DELETE /v1/rooms/{id} (whole-room erasure,
// 202 until both partners asked, then 200), DELETE /v1/rooms/{id}/contributions,
// GET /v1/rooms/{id}/audit, GET /v1/rooms/{id}/transcript. JSON bodies use the
// Protobuf JSON mapping of proto/mend/v1/api.proto; every error is an ErrorResponse with a
// stable code. Internal to server/net.
// Thread safety: handle_http may be called from any thread; `respond` is called exactly once,
// possibly on another thread (a RoomService executor).
#pragma once

#include "mend/v1/api.pb.h"

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/rooms/room_service.h"

namespace mend::net {

struct ServerState;

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Stable error codes of the HTTP API (besides those RoomService returns).
inline constexpr const char* kErrUnauthenticated = "UNAUTHENTICATED";
inline constexpr const char* kErrNotFound = "NOT_FOUND";
inline constexpr const char* kErrMethodNotAllowed = "METHOD_NOT_ALLOWED";
inline constexpr const char* kErrInvalidJson = "INVALID_JSON";
inline constexpr const char* kErrBodyTooLarge = "BODY_TOO_LARGE";
inline constexpr const char* kErrUnavailable = "UNAVAILABLE";
inline constexpr const char* kErrSubprotocol = "SUBPROTOCOL_REQUIRED";
inline constexpr const char* kErrTlsRequired = "TLS_REQUIRED";
inline constexpr const char* kErrBadRequest = "BAD_REQUEST";

struct RequestContext {
  boost::asio::ip::address peer;
};

// Answers one (non-upgrade) request.
void handle_http(const std::shared_ptr<ServerState>& state, HttpRequest request,
                 const RequestContext& context, std::function<void(HttpResponse)> respond);

// An ErrorResponse JSON answer. Counts the code in mend_rejections_total.
HttpResponse error_response(ServerState& state, const HttpRequest& request,
                            boost::beast::http::status status, const std::string& code,
                            const std::string& message);

// error_response for a RoomService error: its HTTP status, and Retry-After when it says one.
HttpResponse service_error_response(ServerState& state, const HttpRequest& request,
                                    const rooms::ServiceError& error);

// The path of a request target without its query string.
std::string_view target_path(std::string_view target);

}  // namespace mend::net
