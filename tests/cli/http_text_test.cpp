// What the one-shot commands print.
#include <doctest/doctest.h>

#include "http_text.h"

using namespace mend::cli;
namespace v1 = mend::v1;
namespace mc = mend::client;

TEST_CASE("create prints the room, each invite's token and a ready-to-paste join command") {
  v1::CreateRoomResponse response;
  response.set_room_id("r-1");
  auto* a = response.add_invites();
  a->mutable_participant()->set_role(v1::PARTNER_A);
  a->set_token("tokA");
  a->set_expires_at_ms(1'767'261'600'000);
  auto* observer = response.add_invites();
  observer->mutable_participant()->set_role(v1::OBSERVER);
  observer->mutable_participant()->set_observer("counselor");
  observer->set_token("tokO");
  const std::string text = render_created(response, "http://127.0.0.1:9000", 0);
  CHECK(text.find("Room r-1 is ready.") != std::string::npos);
  CHECK(text.find("Partner A:\n  token:   tokA\n  expires: 2026-01-01 10:00\n") !=
        std::string::npos);
  CHECK(text.find("mend join --server ws://127.0.0.1:9000/v1/connect --token tokA") !=
        std::string::npos);
  CHECK(text.find("Observer counselor:") != std::string::npos);
  CHECK(text.find("--token tokO") != std::string::npos);
}

TEST_CASE("templates are listed with their stages") {
  v1::ListTemplatesResponse response;
  auto* summary = response.add_templates();
  summary->set_name("imago-dialogue");
  summary->set_title("Imago dialogue");
  summary->add_stages("dialogue");
  summary->set_description("A slow, caring dialogue.");
  const std::string text = render_templates(response);
  CHECK(text.find("imago-dialogue  (Imago dialogue)") == 0);
  CHECK(text.find("stages: dialogue") != std::string::npos);
  CHECK(render_templates({}) == "This server has no templates.\n");
}

TEST_CASE("a 404 without a room error means the server does not offer the endpoint") {
  mc::HttpResponse response;
  response.status = 404;
  response.body = R"({"code":"NOT_FOUND","message":"There is nothing at this path."})";
  CHECK(endpoint_unsupported(response));
  const ApiAnswer answer = interpret_api_answer(response, "transcripts");
  CHECK_FALSE(answer.ok);
  CHECK(answer.text == "Not supported by this server: it does not offer transcripts yet (HTTP 404).");
  response.status = 405;
  response.body = R"({"code":"METHOD_NOT_ALLOWED"})";
  CHECK(endpoint_unsupported(response));
}

TEST_CASE("a 404 about the room is reported as such, with the server's code and words") {
  mc::HttpResponse response;
  response.status = 404;
  response.body = R"({"code":"UNKNOWN_ROOM","message":"There is no such room for this invite."})";
  CHECK_FALSE(endpoint_unsupported(response));
  CHECK(interpret_api_answer(response, "transcripts").text ==
        "The server did not accept this (HTTP 404, UNKNOWN_ROOM): There is no such room for "
        "this invite.");
}

TEST_CASE("a successful answer is printed as the server sent it") {
  mc::HttpResponse response;
  response.status = 200;
  response.body = R"({"events":[]})";
  const ApiAnswer answer = interpret_api_answer(response, "transcripts");
  CHECK(answer.ok);
  CHECK(answer.text == R"({"events":[]})");
}

TEST_CASE("HTTP errors of the SDK name the status and the server's code") {
  mc::ClientError error;
  error.code = mc::ErrorCode::kHttpStatus;
  error.http_status = 400;
  error.server_code = "UNKNOWN_TEMPLATE";
  error.message = "There is no template of that name.";
  CHECK(describe_http_error(error) ==
        "There is no template of that name. (HTTP 400, UNKNOWN_TEMPLATE)");
}
