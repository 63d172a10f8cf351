// Nothing of a conversation reaches mendd's logs (DESIGN 3 and 7): the real mendd at every log
// level (trace), in both formats, through a whole conversation with rejected commands and bad
// HTTP requests, a SIGKILL and restart, an erasure of contributions, a transcript export and
// the erasure of the room. Everything it wrote is scanned for the texts, the topic, the names
// and the invite tokens.
#include "tests/privacy/privacy_support.h"

#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

#include "tests/common/mendd_process.h"

namespace mend::testing {
namespace {

namespace fs = std::filesystem;

// Every secret of the conversation: the texts each command carries, the topic and the names.
const std::vector<std::string> kTexts = {
    "TOPIC-SECRET-CREATED", "NAME-A-SECRET",       "NAME-B-SECRET",      "NAME-OBS-SECRET",
    "INTENTION-SECRET",     "TOPIC-SECRET-OPENED", "SHARE-SECRET",       "MIRROR-SECRET",
    "CORRECTION-SECRET",    "NOTE-SECRET",         "REJECTED-SECRET",    "BAD-JSON-SECRET",
    "AFTER-RESTART-SECRET"};

// The speaker-listener template with a 25 ms reflection beat (no test waits 2 s).
void write_fast_template(const fs::path& dir) {
  std::ifstream in(shipped_templates_dir() + "/speaker-listener.textpb");
  std::stringstream text;
  text << in.rdbuf();
  v1::Template tmpl;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text.str(), &tmpl));
  tmpl.mutable_timing()->set_reflection_beat_ms(25);
  std::string out;
  REQUIRE(google::protobuf::TextFormat::PrintToString(tmpl, &out));
  std::ofstream(dir / "speaker-listener.textpb") << out;
}

client::HttpResponse request(const std::string& base, const std::string& method,
                             const std::string& target, const std::string& token,
                             const std::string& body = {}) {
  client::HttpClient http({base, {}, {}, kBound});
  auto answer = http.request(method, target, body, token);
  REQUIRE(answer.ok());
  return *answer.value;
}

// Sends a mirror, again while the reflection beat has not passed (TOO_SOON, bounded).
void mirror(Party& listener, const std::string& text) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto outcome = listener.send(cmd([&](v1::Command& c) {
      c.mutable_reflect()->set_kind(v1::MIRROR);
      c.mutable_reflect()->set_text(text);
    }), false);
    if (outcome.accepted()) return;
    REQUIRE(outcome.rejection_code() == v1::TOO_SOON);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(outcome.result.rejection().retry_after_ms()));
  }
  FAIL("the mirror was never accepted");
}

// One whole conversation against `mendd`, with the failures a real one meets; returns the
// invite tokens it used.
std::vector<std::string> hold_conversation(MenddProcess& mendd) {
  const std::string base = mendd.http_url();
  // Bad requests first: an unknown template, malformed JSON holding a secret, a forged token.
  request(base, "POST", "/v1/rooms", "",
          R"({"template":"no-such","topic":"TOPIC-SECRET-CREATED","partnerAName":"NAME-A-SECRET"})");
  request(base, "POST", "/v1/rooms", "", R"({"topic": "BAD-JSON-SECRET)");

  client::HttpClient http({base, {}, {}, kBound});
  v1::CreateRoomRequest create;
  create.set_template_("speaker-listener");
  create.set_topic("TOPIC-SECRET-CREATED");
  create.set_partner_a_name("NAME-A-SECRET");
  create.set_partner_b_name("NAME-B-SECRET");
  create.add_observers("NAME-OBS-SECRET");
  auto created = http.create_room(create);
  REQUIRE(created.ok());
  const v1::CreateRoomResponse room = *created.value;
  std::vector<std::string> tokens;
  for (const auto& invite : room.invites()) tokens.push_back(invite.token());
  const std::string path = "/v1/rooms/" + room.room_id();
  request(base, "GET", path, tokens[0] + "forged");
  request(base, "GET", path + "/transcript", tokens[2]);  // not approved yet: 403

  auto a = std::make_unique<Party>(mendd.ws_url(), tokens[0]);
  auto b = std::make_unique<Party>(mendd.ws_url(), tokens[1]);
  REQUIRE(a->online());
  REQUIRE(b->online());
  a->send(consent(30, {"NAME-OBS-SECRET"}, true));
  b->send(consent(30, {"NAME-OBS-SECRET"}, true));
  {
    Party observer(mendd.ws_url(), tokens[2]);
    REQUIRE(observer.online());
    observer.send(cmd([](v1::Command& c) { c.mutable_join(); }));
    observer.send(cmd([](v1::Command& c) { c.mutable_note()->set_text("NOTE-SECRET"); }));
  }
  a->send(cmd([](v1::Command& c) {
    c.mutable_open()->set_intention("INTENTION-SECRET");
    c.mutable_open()->set_topic("TOPIC-SECRET-OPENED");
  }));
  a->send(cmd([](v1::Command& c) { c.mutable_share()->set_text("SHARE-SECRET"); }));
  const auto rejected = b->send(
      cmd([](v1::Command& c) { c.mutable_share()->set_text("REJECTED-SECRET"); }), false);
  CHECK_FALSE(rejected.accepted());
  mirror(*b, "MIRROR-SECRET");
  const auto corrected =
      a->send(cmd([](v1::Command& c) { c.mutable_correct()->set_text("CORRECTION-SECRET"); }));

  // A crash: the partners' SDKs reconnect and resume once mendd is back.
  mendd.kill9();
  mendd.start(mendd.port());
  REQUIRE(a->wait([&] { return a->welcomes.size() >= 2; }));
  REQUIRE(b->wait([&] { return b->welcomes.size() >= 2; }));
  a->send(cmd([&](v1::Command& c) { c.mutable_retract()->set_seq(corrected.result.first_seq()); }));
  mirror(*b, "AFTER-RESTART-SECRET");

  CHECK(request(base, "GET", path + "/transcript", tokens[1]).status == 200);
  CHECK(request(base, "GET", path + "/transcript", tokens[2]).status == 200);
  CHECK(request(base, "DELETE", path + "/contributions", tokens[0]).status == 200);
  CHECK(request(base, "GET", path + "/audit", tokens[1]).status == 200);
  CHECK(request(base, "POST", path + "/access", tokens[1]).status == 200);
  CHECK(request(base, "DELETE", path, tokens[0]).status == 202);
  CHECK(request(base, "DELETE", path, tokens[1]).status == 200);
  REQUIRE(a->wait([&] { return a->closed.has_value(); }));
  return tokens;
}

void check_logs_hold_nothing_of_the_conversation(const std::string& format) {
  TempDir data("logs");
  TempDir templates("logs-templates");
  write_fast_template(templates.path());
  MenddProcess mendd({"--data-dir", data.path().string(), "--templates-dir",
                      templates.path().string(), "--log-format", format, "--log-level", "trace"});
  mendd.keep_whole_log();
  mendd.start(0);
  const std::vector<std::string> tokens = hold_conversation(mendd);
  CHECK(mendd.terminate() == 0);

  const std::string log = mendd.log();
  INFO("format " << format << ", log:\n" << log);
  CHECK(contains(log, "listening on"));  // the scan saw the log of both runs
  CHECK(contains(log, "erased at both partners' request"));
  for (const std::string& secret : kTexts) {
    INFO("secret: " << secret);
    CHECK_FALSE(contains(log, secret));
  }
  for (const std::string& token : tokens) {
    CHECK_FALSE(contains(log, token));
    // Not even a part of one (the signature half or the payload half).
    CHECK_FALSE(contains(log, token.substr(0, token.find('.'))));
    CHECK_FALSE(contains(log, token.substr(token.find('.') + 1)));
  }
}

TEST_CASE("mendd logs nothing of a conversation at any level: no text, topic, name or invite "
          "token (text format)") {
  check_logs_hold_nothing_of_the_conversation("text");
}

TEST_CASE("mendd logs nothing of a conversation at any level: no text, topic, name or invite "
          "token (JSON format)") {
  check_logs_hold_nothing_of_the_conversation("json");
}

}  // namespace
}  // namespace mend::testing
