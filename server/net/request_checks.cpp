#include "server/net/request_checks.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace mend::net {

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

namespace {

namespace http = boost::beast::http;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string_view field_value(const HttpRequest& request, http::field name) {
  auto it = request.find(name);
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

Refusal bad_framing(std::string message) {
  return Refusal{http::status::bad_request, kErrBadRequest, std::move(message), true};
}

// RFC 9112 6.1: a request body is framed by `chunked` alone; any other or extra coding would be
// read differently by a proxy in front of mendd.
std::optional<Refusal> refuse_framing(const HttpRequest& request, bool chunked) {
  const auto codings = request.count(http::field::transfer_encoding);
  if (codings == 0) return std::nullopt;
  if (codings == 1 && chunked &&
      lower(trim(field_value(request, http::field::transfer_encoding))) == "chunked") {
    return std::nullopt;
  }
  return bad_framing(
      "This server reads request bodies sent with Content-Length or with "
      "Transfer-Encoding: chunked alone, so it could not read this request.");
}

bool changes_state(const HttpRequest& request) {
  const auto method = request.method();
  return method != http::verb::get && method != http::verb::head &&
         method != http::verb::options;
}

std::optional<Refusal> refuse_origin(const HttpRequest& request, bool tls,
                                     const std::vector<std::string>& allowed_origins) {
  if (!changes_state(request) && !boost::beast::websocket::is_upgrade(request)) {
    return std::nullopt;
  }
  if (request.find(http::field::origin) == request.end()) return std::nullopt;  // no browser
  const auto origin = normalize_origin(field_value(request, http::field::origin));
  if (origin) {
    const auto own = normalize_origin(std::string(tls ? "https://" : "http://") +
                                      std::string(field_value(request, http::field::host)));
    if (own && *own == *origin) return std::nullopt;
    if (std::find(allowed_origins.begin(), allowed_origins.end(), *origin) !=
        allowed_origins.end()) {
      return std::nullopt;
    }
  }
  return origin_not_allowed();
}

std::optional<Refusal> refuse_content_type(const HttpRequest& request) {
  const auto method = request.method();
  const bool has_body = method == http::verb::post || method == http::verb::put ||
                        method == http::verb::patch;
  if (!has_body || request.body().empty()) return std::nullopt;
  std::string_view type = field_value(request, http::field::content_type);
  type = trim(type.substr(0, type.find(';')));
  if (lower(type) == "application/json") return std::nullopt;
  return Refusal{http::status::unsupported_media_type, kErrUnsupportedMediaType,
                 "Please send the body as JSON, with Content-Type: application/json."};
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  std::uint16_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

std::optional<Refusal> refuse_unreadable(const boost::beast::error_code& ec,
                                         std::size_t header_limit) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
    return std::nullopt;  // the transport: closed, reset, timed out
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec == http::error::header_limit) {
    return Refusal{http::status::request_header_fields_too_large, kErrHeadersTooLarge,
                   "The request's header is larger than this server reads (" +
                       std::to_string(header_limit / 1024) + " KiB).",
                   true};
  }
  if (ec == http::error::body_limit) {
    return Refusal{http::status::payload_too_large, kErrBodyTooLarge,
                   "The request body is too large.", true};
  }
  return bad_framing("This server could not read the request as HTTP/1.1.");
}

std::optional<Refusal> check_request(const HttpRequest& request, bool chunked, bool tls,
                                     const std::vector<std::string>& allowed_origins) {
  if (auto refused = refuse_framing(request, chunked)) return refused;
  if (auto refused = refuse_origin(request, tls, allowed_origins)) return refused;
  return refuse_content_type(request);
}

Refusal origin_not_allowed() {
  return Refusal{http::status::forbidden, kErrOriginNotAllowed,
                 "This server does not take requests from the web page that sent this one. "
                 "If that page should be able to use it, its operator can add the page's origin "
                 "to --allowed-origins."};
}

std::optional<std::string> cors_origin(const HttpRequest& request,
                                       const std::vector<std::string>& allowed_origins) {
  if (request.find(http::field::origin) == request.end()) return std::nullopt;
  const std::string_view sent = field_value(request, http::field::origin);
  const auto origin = normalize_origin(sent);
  if (!origin || std::find(allowed_origins.begin(), allowed_origins.end(), *origin) ==
                     allowed_origins.end()) {
    return std::nullopt;
  }
  return std::string(sent);  // browsers compare Access-Control-Allow-Origin with what they sent
}

bool is_preflight(const HttpRequest& request) {
  return request.method() == http::verb::options &&
         request.find(http::field::origin) != request.end() &&
         request.find(http::field::access_control_request_method) != request.end();
}

std::optional<HttpResponse> preflight_answer(const HttpRequest& request,
                                             const std::optional<std::string>& origin) {
  if (!origin) return std::nullopt;
  HttpResponse response(http::status::no_content, request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::access_control_allow_methods, "GET, POST, DELETE");
  response.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
  response.set(http::field::access_control_max_age, "600");
  response.set(http::field::cache_control, "no-store");
  add_cors_headers(response, *origin);
  response.prepare_payload();
  return response;
}

void add_cors_headers(HttpResponse& response, const std::string& origin) {
  response.set(http::field::access_control_allow_origin, origin);
  response.set(http::field::access_control_expose_headers, "Retry-After");
  response.set(http::field::vary, "Origin");
}

std::optional<std::string> normalize_origin(std::string_view origin) {
  const std::string text = lower(origin);
  std::string_view rest = text;
  std::string scheme;
  std::uint16_t port = 0;
  for (auto [name, default_port] : {std::pair{"http", 80}, std::pair{"https", 443}}) {
    const std::string prefix = std::string(name) + "://";
    if (rest.starts_with(prefix)) {
      scheme = name;
      port = static_cast<std::uint16_t>(default_port);
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  if (scheme.empty() || rest.empty() || rest.find_first_of("/?#@ \t\\") != std::string_view::npos) {
    return std::nullopt;
  }
  // host, [v6 host], either with ":port".
  const std::size_t host_end = rest.front() == '[' ? rest.find(']') + 1 : rest.find(':');
  if (host_end == 0) return std::nullopt;  // '[' without ']'
  std::string_view host = rest.substr(0, host_end);
  std::string_view after = host_end == std::string_view::npos ? "" : rest.substr(host_end);
  if (host.empty() || host == "[]") return std::nullopt;
  if (!after.empty()) {
    if (after.front() != ':') return std::nullopt;
    auto explicit_port = parse_port(after.substr(1));
    if (!explicit_port) return std::nullopt;
    port = *explicit_port;
  }
  return scheme + "://" + std::string(host) + ":" + std::to_string(port);
}

}  // namespace mend::net
