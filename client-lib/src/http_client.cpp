#include "mend/http_client.h"

#include <utility>

#include <google/protobuf/util/json_util.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "mend/url.h"
#include "tls.h"

namespace mend::client {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

ClientError make_error(ErrorCode code, std::string message) {
  ClientError error;
  error.code = code;
  error.message = std::move(message);
  return error;
}

ClientError transport_error(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return make_error(ErrorCode::kTimeout, "the call timed out");
  return make_error(ErrorCode::kNetwork, ec.message());
}

// Runs one exchange on `stream` (connected, TLS done). The io_context runs until it finished.
template <class Stream>
HttpResult<HttpResponse> exchange(net::io_context& io, Stream& stream,
                                  http::request<http::string_body>& request) {
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::async_write(stream, request, [&](beast::error_code write_ec, std::size_t) {
    if (write_ec) {
      ec = write_ec;
      return;
    }
    http::async_read(stream, buffer, response,
                     [&](beast::error_code read_ec, std::size_t) { ec = read_ec; });
  });
  io.run();
  io.restart();
  if (ec) return {transport_error(ec), std::nullopt};
  HttpResponse out;
  out.status = static_cast<int>(response.result_int());
  out.content_type = std::string(response[http::field::content_type]);
  out.body = std::move(response.body());
  return {{}, std::move(out)};
}

template <typename T>
HttpResult<T> decode(HttpResult<HttpResponse> raw) {
  if (!raw.ok()) return {raw.error, std::nullopt};
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  if (raw.value->status < 200 || raw.value->status > 299) {
    ClientError error = make_error(ErrorCode::kHttpStatus,
                                   "HTTP status " + std::to_string(raw.value->status));
    error.http_status = raw.value->status;
    v1::ErrorResponse body;
    if (google::protobuf::util::JsonStringToMessage(raw.value->body, &body, parse).ok()) {
      error.server_code = body.code();
      if (!body.message().empty()) error.message = body.message();
    }
    return {std::move(error), std::nullopt};
  }
  T value;
  if (!google::protobuf::util::JsonStringToMessage(raw.value->body, &value, parse).ok()) {
    return {make_error(ErrorCode::kProtocol, "the answer is not the expected JSON"),
            std::nullopt};
  }
  return {{}, std::move(value)};
}

std::string to_json(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

}  // namespace

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {}

HttpResult<HttpResponse> HttpClient::request(std::string_view method, std::string_view target,
                                             std::string body, std::string_view bearer) const {
  auto url = parse_server_url(options_.base_url);
  if (!url) return {make_error(ErrorCode::kInvalidArgument, "malformed base URL"), std::nullopt};
  std::string path = url->target == "/" ? std::string() : url->target;
  if (!path.empty() && path.back() == '/') path.pop_back();
  path += target;

  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  if (req.method() == http::verb::unknown) {
    return {make_error(ErrorCode::kInvalidArgument, "unknown HTTP method"), std::nullopt};
  }
  req.target(path);
  req.version(11);
  req.set(http::field::host, url->host_header());
  req.set(http::field::user_agent, "mend-client/0.1");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + std::string(bearer));
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();

  net::io_context io{1};
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(url->host, url->port, ec);
  if (ec) return {transport_error(ec), std::nullopt};

  if (!url->tls) {
    beast::tcp_stream stream(io);
    stream.expires_after(options_.timeout);
    stream.async_connect(endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
      ec = connect_ec;
    });
    io.run();
    io.restart();
    if (ec) return {transport_error(ec), std::nullopt};
    return exchange(io, stream, req);
  }

  ClientError error;
  auto context = detail::make_tls_context(options_.ca_file, error);
  if (!context) return {error, std::nullopt};
  net::ssl::stream<beast::tcp_stream> stream(io, *context);
  if (!detail::prepare_tls_stream(stream, url->host)) {
    return {make_error(ErrorCode::kInvalidArgument, "cannot use this host name for TLS"),
            std::nullopt};
  }
  beast::get_lowest_layer(stream).expires_after(options_.timeout);
  beast::get_lowest_layer(stream).async_connect(
      endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
        if (connect_ec) {
          ec = connect_ec;
          return;
        }
        stream.async_handshake(net::ssl::stream_base::client,
                               [&](beast::error_code tls_ec) { ec = tls_ec; });
      });
  io.run();
  io.restart();
  if (ec) return {transport_error(ec), std::nullopt};
  return exchange(io, stream, req);
}

HttpResult<v1::CreateRoomResponse> HttpClient::create_room(
    const v1::CreateRoomRequest& request) const {
  return decode<v1::CreateRoomResponse>(
      this->request("POST", "/v1/rooms", to_json(request), options_.api_key));
}

HttpResult<v1::ListTemplatesResponse> HttpClient::list_templates() const {
  return decode<v1::ListTemplatesResponse>(request("GET", "/v1/templates"));
}

template <typename T>
HttpResult<T> HttpClient::get_room_part(std::string_view room_id, std::string_view part,
                                        std::string_view invite_token) const {
  if (room_id.empty() || room_id.find_first_of("/?#% ") != std::string_view::npos) {
    return {make_error(ErrorCode::kInvalidArgument, "malformed room id"), std::nullopt};
  }
  std::string target = "/v1/rooms/" + std::string(room_id);
  if (!part.empty()) target += "/" + std::string(part);
  return decode<T>(request("GET", target, {}, invite_token));
}

HttpResult<v1::GetRoomResponse> HttpClient::get_room(std::string_view room_id,
                                                     std::string_view invite_token) const {
  return get_room_part<v1::GetRoomResponse>(room_id, "", invite_token);
}

HttpResult<v1::GetInsightsResponse> HttpClient::get_insights(std::string_view room_id,
                                                             std::string_view invite_token) const {
  return get_room_part<v1::GetInsightsResponse>(room_id, "insights", invite_token);
}

HttpResult<v1::GetSummaryResponse> HttpClient::get_summary(std::string_view room_id,
                                                           std::string_view invite_token) const {
  return get_room_part<v1::GetSummaryResponse>(room_id, "summary", invite_token);
}

}  // namespace mend::client
