#include "server/net/http_api.h"

#include <openssl/crypto.h>

#include <limits>

#include <boost/beast/http/field.hpp>
#include <boost/beast/version.hpp>

#include "mend/v1/api.pb.h"
#include "server/net/json_body.h"
#include "server/net/shared_state.h"
#include "server/net/static_files.h"

namespace mend::net {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kRoomsPrefix = "/v1/rooms/";
constexpr std::string_view kSeriesPrefix = "/v1/series/";
constexpr const char* kJson = "application/json";
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse make_response(const HttpRequest& request, http::status status,
                           const char* content_type, std::string body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::server, "mendd");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse json_response(const HttpRequest& request, http::status status,
                           const google::protobuf::Message& message) {
  return make_response(request, status, kJson, to_json(message));
}

http::status status_of(int code) {
  const auto status = http::int_to_status(static_cast<unsigned>(code));
  return status == http::status::unknown ? http::status::internal_server_error : status;
}

// The bearer credential of the Authorization header, or empty.
std::string_view bearer(const HttpRequest& request) {
  auto it = request.find(http::field::authorization);
  if (it == request.end()) return {};
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || value.substr(0, kScheme.size()) != kScheme) return {};
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

bool same_secret(std::string_view a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The API key the request carries, when it matches one of the server's keys.
std::optional<std::string> matching_api_key(const ServerState& state,
                                            const HttpRequest& request) {
  const std::string_view presented = bearer(request);
  if (presented.empty()) return std::nullopt;
  for (const auto& key : state.deps.api_keys) {
    if (same_secret(presented, key)) return key;
  }
  return std::nullopt;
}

HttpResponse method_not_allowed(ServerState& state, const HttpRequest& request) {
  return error_response(state, request, http::status::method_not_allowed, kErrMethodNotAllowed,
                        "This method is not supported on this path.");
}

// Who creates rooms (and whose caseload it is): "key:<API key>" when the server has API keys
// (the request must carry one: else 401 and nullopt), else "ip:<peer address>".
std::optional<std::string> creator_of(ServerState& state, const HttpRequest& request,
                                      const RequestContext& context,
                                      const std::function<void(HttpResponse)>& respond) {
  if (state.deps.api_keys.empty()) return "ip:" + context.peer.to_string();
  auto key = matching_api_key(state, request);
  if (!key) {
    respond(error_response(state, request, http::status::unauthorized, kErrUnauthenticated,
                           "This needs a valid API key (Authorization: Bearer <key>)."));
    return std::nullopt;
  }
  return "key:" + *key;
}

template <typename T>
http::status always_ok(const T&) {
  return http::status::ok;
}

// Answers a RoomService call's result as JSON (status `ok_status(value)`) or its ServiceError.
template <typename T>
std::function<void(rooms::Result<T>)> answer_json(const std::shared_ptr<ServerState>& state,
                                                  const HttpRequest& request,
                                                  std::function<void(HttpResponse)> respond,
                                                  http::status (*ok_status)(const T&) = &always_ok<T>) {
  return [state, request_head = HttpRequest(request.base()), ok_status,
          respond = std::move(respond)](rooms::Result<T> result) {
    if (result.error || !result.value) {
      const auto error = result.error.value_or(
          rooms::ServiceError{"INTERNAL", "Something went wrong on our side.", 500});
      return respond(service_error_response(*state, request_head, error));
    }
    respond(json_response(request_head, ok_status(*result.value), *result.value));
  };
}

// GET /v1/rooms: the caseload of the request's creator (issue 14).
void list_rooms(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
                const RequestContext& context, std::function<void(HttpResponse)> respond) {
  auto creator = creator_of(*state, request, context, respond);
  if (!creator) return;
  state->deps.rooms->list_rooms_for(*creator, answer_json<v1::ListRoomsResponse>(state, request, std::move(respond)));
}

// GET /v1/series/{id}/insights (issue 14).
void series_insights(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
                     const RequestContext& context, std::string_view rest,
                     std::function<void(HttpResponse)> respond) {
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.substr(slash + 1) != "insights") {
    return respond(error_response(*state, request, http::status::not_found, kErrNotFound,
                                  "There is nothing at this path."));
  }
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    return respond(method_not_allowed(*state, request));
  }
  auto creator = creator_of(*state, request, context, respond);
  if (!creator) return;
  state->deps.rooms->get_series_insights(
      *creator, std::string(rest.substr(0, slash)),
      answer_json<v1::GetSeriesInsightsResponse>(state, request, std::move(respond)));
}

void create_room(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
                 const RequestContext& context, std::function<void(HttpResponse)> respond) {
  auto creator = creator_of(*state, request, context, respond);
  if (!creator) return;
  v1::CreateRoomRequest body;
  if (!parse_json_body(request.body(), body)) {
    return respond(error_response(*state, request, http::status::bad_request, kErrInvalidJson,
                                  "The body is not a valid CreateRoomRequest JSON object."));
  }
  state->deps.rooms->create_room_for(
      body, *creator, state->config.rooms_per_api_key,
      [state, request_head = HttpRequest(request.base()),
       respond = std::move(respond)](rooms::Result<v1::CreateRoomResponse> result) {
        if (result.error || !result.value) {
          const auto error = result.error.value_or(
              rooms::ServiceError{"INTERNAL", "The room could not be created.", 500});
          return respond(service_error_response(*state, request_head, error));
        }
        respond(json_response(request_head, http::status::created, *result.value));
      });
}

void get_room(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
              std::string_view room_id, std::function<void(HttpResponse)> respond) {
  const std::string_view token = bearer(request);
  auto who = token.empty() ? std::nullopt : state->deps.verify_token(token, state->now_ms());
  if (!who) {
    return respond(error_response(*state, request, http::status::unauthorized,
                                  kErrUnauthenticated,
                                  "A valid invite token is needed (Authorization: Bearer)."));
  }
  if (who->room_id != room_id) {
    return respond(error_response(*state, request, http::status::not_found, "UNKNOWN_ROOM",
                                  "There is no such room for this invite."));
  }
  state->deps.rooms->get_view(*who, answer_json<v1::GetRoomResponse>(state, request, std::move(respond)));
}

// The participant of the request's invite token for `room_id`, or nullopt after answering
// UNAUTHENTICATED (401) or UNKNOWN_ROOM (404, a token of another room).
// With `expired_ok` only the signature counts: the token is verified as of the earliest time.
std::optional<rooms::Participant> authenticate(const std::shared_ptr<ServerState>& state,
                                               const HttpRequest& request,
                                               std::string_view room_id,
                                               const std::function<void(HttpResponse)>& respond,
                                               bool expired_ok = false) {
  const std::string_view token = bearer(request);
  const std::int64_t at_ms =
      expired_ok ? std::numeric_limits<std::int64_t>::min() : state->now_ms();
  auto who = token.empty() ? std::nullopt : state->deps.verify_token(token, at_ms);
  if (!who) {
    respond(error_response(*state, request, http::status::unauthorized, kErrUnauthenticated,
                           "A valid invite token is needed (Authorization: Bearer)."));
    return std::nullopt;
  }
  if (who->room_id != room_id) {
    respond(error_response(*state, request, http::status::not_found, "UNKNOWN_ROOM",
                           "There is no such room for this invite."));
    return std::nullopt;
  }
  return who;
}

// Runs a RoomService privacy call for the token's participant and answers with its result
// (status `ok_status(value)`) or its ServiceError. `expired_ok`: see authenticate.
template <typename T>
void call_rooms(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
                std::string_view room_id, std::function<void(HttpResponse)> respond,
                void (rooms::RoomService::*op)(const rooms::Participant&,
                                               std::function<void(rooms::Result<T>)>),
                http::status (*ok_status)(const T&), bool expired_ok = false) {
  auto who = authenticate(state, request, room_id, respond, expired_ok);
  if (!who) return;
  ((*state->deps.rooms).*op)(*who, answer_json<T>(state, request, std::move(respond), ok_status));
}

http::status erase_room_status(const v1::EraseRoomResponse& response) {
  return response.status() == v1::ROOM_ERASURE_STATUS_ERASED ? http::status::ok
                                                             : http::status::accepted;
}

// /v1/rooms/{id}[/contributions|/audit|/access|/transcript|/insights|/summary] (DESIGN 7, 8;
// issue 14).
void route_room(const std::shared_ptr<ServerState>& state, const HttpRequest& request,
                std::string_view rest, std::function<void(HttpResponse)> respond) {
  const std::size_t slash = rest.find('/');
  const std::string_view room_id = rest.substr(0, slash);
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const auto method = request.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool del = method == http::verb::delete_;
  using RS = rooms::RoomService;
  if (sub.empty()) {
    if (get) return get_room(state, request, room_id, std::move(respond));
    if (del) {
      return call_rooms<v1::EraseRoomResponse>(state, request, room_id, std::move(respond),
                                               &RS::erase_room, &erase_room_status);
    }
  } else if (sub == "contributions") {
    if (del) {
      return call_rooms<v1::EraseContributionsResponse>(
          state, request, room_id, std::move(respond), &RS::erase_contributions,
          &always_ok<v1::EraseContributionsResponse>);
    }
  } else if (sub == "audit") {
    if (get) {
      return call_rooms<v1::GetAuditResponse>(state, request, room_id, std::move(respond),
                                              &RS::get_audit, &always_ok<v1::GetAuditResponse>);
    }
  } else if (sub == "access") {
    // A partner's right to read, export and erase outlives the invite: an expired token is
    // exchanged for a new one (the room checks that the caller is a partner).
    if (method == http::verb::post) {
      return call_rooms<v1::RenewAccessResponse>(state, request, room_id, std::move(respond),
                                                 &RS::renew_access,
                                                 &always_ok<v1::RenewAccessResponse>,
                                                 /*expired_ok=*/true);
    }
  } else if (sub == "insights") {
    if (get) {
      return call_rooms<v1::GetInsightsResponse>(state, request, room_id, std::move(respond),
                                                 &RS::get_insights,
                                                 &always_ok<v1::GetInsightsResponse>);
    }
  } else if (sub == "summary") {
    if (get) {
      return call_rooms<v1::GetSummaryResponse>(state, request, room_id, std::move(respond),
                                                &RS::get_summary,
                                                &always_ok<v1::GetSummaryResponse>);
    }
  } else if (sub == "transcript") {
    if (get) {
      return call_rooms<v1::GetTranscriptResponse>(state, request, room_id, std::move(respond),
                                                   &RS::get_transcript,
                                                   &always_ok<v1::GetTranscriptResponse>);
    }
  } else {
    return respond(error_response(*state, request, http::status::not_found, kErrNotFound,
                                  "There is nothing at this path."));
  }
  respond(method_not_allowed(*state, request));
}

}  // namespace

HttpResponse error_response(ServerState& state, const HttpRequest& request, http::status status,
                            const std::string& code, const std::string& message) {
  state.metrics.rejection(code);
  v1::ErrorResponse body;
  body.set_code(code);
  body.set_message(message);
  return json_response(request, status, body);
}

HttpResponse service_error_response(ServerState& state, const HttpRequest& request,
                                    const rooms::ServiceError& error) {
  HttpResponse response =
      error_response(state, request, status_of(error.http_status), error.code, error.message);
  if (error.retry_after_s > 0) {
    response.set(http::field::retry_after, std::to_string(error.retry_after_s));
  }
  return response;
}

void handle_http(const std::shared_ptr<ServerState>& state, HttpRequest request,
                 const RequestContext& context, std::function<void(HttpResponse)> respond) {
  state->metrics.http_request();
  const std::string_view path = target_path(request.target());
  const auto method = request.method();
  const bool get = method == http::verb::get || method == http::verb::head;

  if (path == "/healthz") {
    if (!get) return respond(method_not_allowed(*state, request));
    return respond(make_response(request, http::status::ok, kJson, R"({"status":"ok"})"));
  }
  if (path == "/readyz") {
    if (!get) return respond(method_not_allowed(*state, request));
    if (state->unready.load()) {
      return respond(error_response(*state, request, http::status::service_unavailable,
                                    kErrUnavailable, "The server is shutting down."));
    }
    return respond(make_response(request, http::status::ok, kJson, R"({"status":"ready"})"));
  }
  if (path == "/metrics") {
    if (!get) return respond(method_not_allowed(*state, request));
    std::string text = state->metrics.render_prometheus();
    if (state->deps.extra_metrics) text += state->deps.extra_metrics();
    return respond(make_response(request, http::status::ok, kPrometheusText, std::move(text)));
  }
  if (path == "/v1/templates") {
    if (!get) return respond(method_not_allowed(*state, request));
    return respond(json_response(request, http::status::ok, state->deps.rooms->list_templates()));
  }
  if (path == "/v1/rooms") {
    if (get) return list_rooms(state, request, context, std::move(respond));
    if (method != http::verb::post) return respond(method_not_allowed(*state, request));
    if (state->draining.load()) {
      return respond(error_response(*state, request, http::status::service_unavailable,
                                    kErrUnavailable, "The server is shutting down."));
    }
    return create_room(state, request, context, std::move(respond));
  }
  if (path.size() > kRoomsPrefix.size() && path.substr(0, kRoomsPrefix.size()) == kRoomsPrefix) {
    return route_room(state, request, path.substr(kRoomsPrefix.size()), std::move(respond));
  }
  if (path.size() > kSeriesPrefix.size() && path.substr(0, kSeriesPrefix.size()) == kSeriesPrefix) {
    return series_insights(state, request, context, path.substr(kSeriesPrefix.size()), std::move(respond));
  }
  if (!state->deps.web_dir.empty() && is_app_path(path)) {
    return respond(serve_app(state->deps.web_dir, request));
  }
  respond(error_response(*state, request, http::status::not_found, kErrNotFound,
                         "There is nothing at this path."));
}

}  // namespace mend::net
