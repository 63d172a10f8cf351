// What a request must satisfy before it is routed or upgraded (README "Security"). Internal to
// server/net; pure functions of the request and the configuration, so the rules are tested
// without sockets and the session only executes the answer.
//
// - HTTP/1.1 framing (RFC 9112): a request Beast's parser could not read is answered 400 (431
//   when its header is over the limit, 413 when its body is) and the connection closes, never
//   a silent close. Beast already refuses bare LF, NUL and other control bytes in a header,
//   Content-Length beside Transfer-Encoding and two different Content-Lengths; it accepts a
//   Transfer-Encoding whose last coding is not `chunked` (and then reads no body, leaving the
//   bytes a proxy would take for a body to be read as the next request): refuse_framing
//   answers that 400 and closes.
// - Requests from other web pages (DESIGN 7): state-changing requests (every method but GET,
//   HEAD and OPTIONS) and WebSocket upgrades pass when they carry no Origin (not a browser),
//   come from the server's own origin (the scheme of the connection and its Host header), or
//   from an origin of --allowed-origins; other origins get 403 ORIGIN_NOT_ALLOWED.
// - CORS, for --allowed-origins only (a page the operator trusts on another origin uses the HTTP
//   API through the SDK): a preflight (OPTIONS with Origin and Access-Control-Request-Method)
//   from such an origin is answered 204 with the methods and headers the API takes; from any
//   other origin 403 ORIGIN_NOT_ALLOWED. Every answer to a request from such an origin names it
//   in Access-Control-Allow-Origin (never `*`, never credentials: the API takes bearer tokens in
//   Authorization, not cookies). mendd's own origin needs none of it.
// - A request with a body (POST, PUT, PATCH) must say Content-Type: application/json (415
//   UNSUPPORTED_MEDIA_TYPE): a page cannot send that cross-origin without a CORS preflight.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/status.hpp>

#include "server/net/http_api.h"

namespace mend::net {

inline constexpr const char* kErrHeadersTooLarge = "HEADERS_TOO_LARGE";
inline constexpr const char* kErrOriginNotAllowed = "ORIGIN_NOT_ALLOWED";
inline constexpr const char* kErrUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";

// How a request is refused: the ErrorResponse to send, and whether the connection closes
// after it (always for framing: the rest of the stream cannot be trusted).
struct Refusal {
  boost::beast::http::status status;
  const char* code;
  std::string message;
  bool close = false;
};

// The refusal for a request the parser gave up on, or nullopt when there is nobody to answer
// (the peer closed or reset the connection, or a timeout expired).
std::optional<Refusal> refuse_unreadable(const boost::beast::error_code& ec,
                                         std::size_t header_limit);

// Checks a parsed request in order: framing, origin, content type. `chunked` is what the
// parser decided; `tls` whether it came over TLS (the scheme of the server's own origin);
// `allowed_origins` normalized by normalize_origin.
std::optional<Refusal> check_request(const HttpRequest& request, bool chunked, bool tls,
                                     const std::vector<std::string>& allowed_origins);

// 403 ORIGIN_NOT_ALLOWED: a request from a web page of an origin mendd does not serve.
Refusal origin_not_allowed();

// The request's Origin as sent, when its normalized form is one of `allowed_origins`
// (normalized); nullopt without Origin or for any other origin (mendd's own included:
// same-origin needs no CORS).
std::optional<std::string> cors_origin(const HttpRequest& request,
                                       const std::vector<std::string>& allowed_origins);

// Whether `request` is a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
bool is_preflight(const HttpRequest& request);

// The answer to a preflight: 204 with the allowed methods and headers when `origin` (from
// cors_origin) is set, else nullopt (the caller refuses it with ORIGIN_NOT_ALLOWED).
std::optional<HttpResponse> preflight_answer(const HttpRequest& request,
                                             const std::optional<std::string>& origin);

// Names `origin` in Access-Control-Allow-Origin (with Vary: Origin, and Retry-After readable by
// the page) on an answer to a request from it.
void add_cors_headers(HttpResponse& response, const std::string& origin);

// "scheme://host:port" in lower case with the port made explicit, for an origin as browsers
// send it ("https://example.org", "http://127.0.0.1:8480"); nullopt when `origin` is not an
// http(s) origin (a path, userinfo, "null", another scheme).
std::optional<std::string> normalize_origin(std::string_view origin);

}  // namespace mend::net
