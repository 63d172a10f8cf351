// What `mend templates`, `mend create`, `mend transcript|audit|erase` print, as pure
// functions of the server's answers.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "mend/proto.h"

#include <string>

#include "mend/client_error.h"
#include "mend/http_client.h"

namespace mend::cli {

// One block per template: name and title, stages, description.
std::string render_templates(const v1::ListTemplatesResponse& response);

// The room id, then for each invite: who it is for, its token, when it expires and a
// ready-to-paste `mend join --server WS_URL --token TOKEN` command. `server` is the URL the
// room was created at (converted with websocket_url).
std::string render_created(const v1::CreateRoomResponse& response, const std::string& server,
                           int utc_offset_s);

// An SDK error of an HTTP call in plain words (with the server's code when it sent one).
std::string describe_http_error(const client::ClientError& error);

// Whether an HTTP answer means "this server does not offer this endpoint" (404 without a room
// error code, 405, 501), as opposed to an error about the room or the token.
bool endpoint_unsupported(const client::HttpResponse& response);

// The outcome of a raw API call (transcript, audit, erase) for people: ok with the body to
// print, or an error message. `what` names the feature ("transcripts").
struct ApiAnswer {
  bool ok = false;
  std::string text;
};
ApiAnswer interpret_api_answer(const client::HttpResponse& response, const std::string& what);

}  // namespace mend::cli
