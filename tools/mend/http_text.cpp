#include "http_text.h"

#include <google/protobuf/util/json_util.h>

#include "cli_args.h"
#include "time_text.h"

namespace mend::cli {
namespace {

std::string invite_label(const v1::CreateRoomResponse& response, int index) {
  const v1::Actor& who = response.invites(index).participant();
  switch (who.role()) {
    case v1::PARTNER_A: return "Partner A";
    case v1::PARTNER_B: return "Partner B";
    case v1::OBSERVER: return "Observer " + who.observer();
    default: return "Invite " + std::to_string(index + 1);
  }
}

std::optional<v1::ErrorResponse> parse_error_body(const std::string& body) {
  v1::ErrorResponse error;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(body, &error, options).ok()) {
    return std::nullopt;
  }
  return error;
}

}  // namespace

std::string render_templates(const v1::ListTemplatesResponse& response) {
  if (response.templates().empty()) return "This server has no templates.\n";
  std::string text;
  for (const auto& summary : response.templates()) {
    text += summary.name() + "  (" + summary.title() + ")\n";
    if (!summary.stages().empty()) {
      text += "    stages: ";
      for (int i = 0; i < summary.stages_size(); ++i) {
        text += (i == 0 ? "" : ", ") + summary.stages(i);
      }
      text += summary.problem_solving() ? "; then problem solving\n" : "\n";
    }
    if (!summary.description().empty()) text += "    " + summary.description() + "\n";
  }
  return text;
}

std::string render_created(const v1::CreateRoomResponse& response, const std::string& server,
                           int utc_offset_s) {
  const std::string ws = websocket_url(server);
  std::string text = "Room " + response.room_id() + " is ready.\n";
  text += "Give each person their own invite; an invite is a key, keep it private.\n";
  for (int i = 0; i < response.invites_size(); ++i) {
    const auto& invite = response.invites(i);
    text += "\n" + invite_label(response, i) + ":\n";
    text += "  token:   " + invite.token() + "\n";
    if (invite.expires_at_ms() != 0) {
      text += "  expires: " + format_date_time(invite.expires_at_ms(), utc_offset_s) + "\n";
    }
    text += "  join:    mend join --server " + ws + " --token " + invite.token() + "\n";
  }
  return text;
}

std::string describe_http_error(const client::ClientError& error) {
  std::string text = error.message.empty() ? client::error_code_name(error.code) : error.message;
  if (error.code == client::ErrorCode::kHttpStatus) {
    text += " (HTTP " + std::to_string(error.http_status);
    if (!error.server_code.empty()) text += ", " + error.server_code;
    text += ")";
  }
  return text;
}

bool endpoint_unsupported(const client::HttpResponse& response) {
  if (response.status == 405 || response.status == 501) return true;
  if (response.status != 404) return false;
  const auto error = parse_error_body(response.body);
  return !error || error->code().empty() || error->code() == "NOT_FOUND";
}

ApiAnswer interpret_api_answer(const client::HttpResponse& response, const std::string& what) {
  if (response.status >= 200 && response.status < 300) {
    return {true, response.body.empty() ? "Done." : response.body};
  }
  if (endpoint_unsupported(response)) {
    return {false, "Not supported by this server: it does not offer " + what +
                       " yet (HTTP " + std::to_string(response.status) + ")."};
  }
  std::string text = "The server did not accept this (HTTP " + std::to_string(response.status);
  if (const auto error = parse_error_body(response.body)) {
    if (!error->code().empty()) text += ", " + error->code();
    text += ")";
    if (!error->message().empty()) text += ": " + error->message();
  } else {
    text += ")";
  }
  return {false, text};
}

}  // namespace mend::cli
