// The SDK's pure parts: reconnect schedule, exactly-once sequencing, command retry bookkeeping,
// URL parsing and the autopilot.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "mend/autopilot.h"
#include "mend/backoff.h"
#include "mend/event_sequencer.h"
#include "mend/pending_commands.h"
#include "mend/url.h"

namespace mc = mend::client;
namespace v1 = mend::v1;
using std::chrono::milliseconds;

namespace {

mc::RandomSource constant(std::uint64_t bits) {
  return [bits] { return bits; };
}

v1::Command command_with_id(const std::string& id) {
  v1::Command command;
  command.set_command_id(id);
  command.mutable_confirm();
  return command;
}

}  // namespace

TEST_CASE("backoff without jitter doubles from the initial delay and stops growing at the max") {
  mc::Backoff backoff({milliseconds{100}, milliseconds{1000}, 2.0, 0.0, 0}, constant(0));
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(backoff.next()->count());
  CHECK(delays == std::vector<long>{100, 200, 400, 800, 1000, 1000});
}

TEST_CASE("backoff jitter shortens a delay by at most the jitter fraction") {
  const std::uint64_t all_ones = ~std::uint64_t{0};
  mc::Backoff longest({milliseconds{1000}, milliseconds{1000}, 2.0, 0.5, 0}, constant(0));
  mc::Backoff shortest({milliseconds{1000}, milliseconds{1000}, 2.0, 0.5, 0}, constant(all_ones));
  CHECK(longest.next()->count() == 1000);
  CHECK(shortest.next()->count() == 500);
}

TEST_CASE("backoff gives up after max_attempts and starts over after reset") {
  mc::Backoff backoff({milliseconds{10}, milliseconds{100}, 2.0, 0.0, 2}, constant(0));
  CHECK(backoff.next().has_value());
  CHECK(backoff.next().has_value());
  CHECK_FALSE(backoff.next().has_value());
  backoff.reset();
  CHECK(backoff.next()->count() == 10);
}

TEST_CASE("backoff clamps an unusable policy instead of misbehaving") {
  mc::Backoff backoff({milliseconds{50}, milliseconds{10}, 0.5, 7.0, 0}, constant(0));
  CHECK(backoff.next()->count() == 50);  // max raised to initial, multiplier raised to 1
  CHECK(backoff.next()->count() == 50);
}

TEST_CASE("sequencer delivers each seq once and in order and drops replays at or below the last") {
  mc::EventSequencer sequencer;
  CHECK(sequencer.accept(1));
  CHECK(sequencer.accept(2));
  CHECK_FALSE(sequencer.accept(2));
  CHECK_FALSE(sequencer.accept(1));
  CHECK(sequencer.accept(3));
  CHECK(sequencer.last_delivered() == 3);
}

TEST_CASE("sequencer accepts gaps: events invisible to this participant are never sent") {
  mc::EventSequencer sequencer;
  CHECK(sequencer.accept(1));
  CHECK(sequencer.accept(5));
  CHECK_FALSE(sequencer.accept(4));
  CHECK_FALSE(sequencer.accept(0));
}

TEST_CASE("sequencer resumes after a recovered welcome and jumps to the view after a reset") {
  mc::EventSequencer sequencer(3, 7);
  CHECK(sequencer.on_welcome(3, true, 9) == mc::EventSequencer::WelcomeOutcome::kResume);
  CHECK(sequencer.last_delivered() == 7);
  CHECK(sequencer.on_welcome(4, false, 12) == mc::EventSequencer::WelcomeOutcome::kReset);
  CHECK(sequencer.epoch() == 4);
  CHECK(sequencer.last_delivered() == 12);
  CHECK_FALSE(sequencer.accept(12));
  CHECK(sequencer.accept(13));
}

TEST_CASE("command ids are 32 hex characters from 128 random bits") {
  std::uint64_t next = 0x0123456789abcdefULL;
  const mc::RandomSource counter = [&next] { return next++; };
  const std::string first = mc::make_command_id(counter);
  const std::string second = mc::make_command_id(counter);
  CHECK(first.size() == 32);
  CHECK(first.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(first != second);
  std::set<std::string> ids;
  const mc::RandomSource system = mc::system_random();
  for (int i = 0; i < 100; ++i) ids.insert(mc::make_command_id(system));
  CHECK(ids.size() == 100);
}

TEST_CASE("pending commands are resent oldest first with their original ids") {
  mc::PendingCommands pending(8);
  REQUIRE(pending.add(command_with_id("a"), [](mc::CommandOutcome) {}).ok());
  REQUIRE(pending.add(command_with_id("b"), [](mc::CommandOutcome) {}).ok());
  REQUIRE(pending.add(command_with_id("c"), [](mc::CommandOutcome) {}).ok());
  pending.record_send("a");
  pending.record_send("a");
  pending.resolve("b");
  std::vector<std::string> order;
  for (const v1::Command* command : pending.in_order()) order.push_back(command->command_id());
  CHECK(order == std::vector<std::string>{"a", "c"});
  CHECK(pending.sends("a") == 2);
  CHECK(pending.sends("b") == 0);
}

TEST_CASE("a result resolves its command exactly once and a late duplicate resolves nothing") {
  mc::PendingCommands pending(8);
  int calls = 0;
  REQUIRE(pending.add(command_with_id("x"), [&calls](mc::CommandOutcome) { ++calls; }).ok());
  auto done = pending.resolve("x");
  REQUIRE(done.has_value());
  (*done)({});
  CHECK_FALSE(pending.resolve("x").has_value());
  CHECK(calls == 1);
  CHECK(pending.empty());
}

TEST_CASE("pending commands refuse a duplicate id or a bad id and anything over the limit") {
  mc::PendingCommands pending(2);
  CHECK(pending.add(command_with_id("a"), {}).ok());
  CHECK(pending.add(command_with_id("a"), {}).code == mc::ErrorCode::kInvalidArgument);
  CHECK(pending.add(command_with_id(""), {}).code == mc::ErrorCode::kInvalidArgument);
  CHECK(pending.add(command_with_id(std::string(65, 'z')), {}).code ==
        mc::ErrorCode::kInvalidArgument);
  CHECK(pending.add(command_with_id("b"), {}).ok());
  CHECK(pending.add(command_with_id("c"), {}).code == mc::ErrorCode::kTooManyPending);
  CHECK(pending.size() == 2);
}

TEST_CASE("take_all hands back every completion oldest first and empties the table") {
  mc::PendingCommands pending(8);
  std::vector<std::string> failed;
  for (const char* id : {"1", "2", "3"}) {
    pending.add(command_with_id(id), [&failed, id](mc::CommandOutcome) { failed.push_back(id); });
  }
  for (auto& done : pending.take_all()) done({});
  CHECK(failed == std::vector<std::string>{"1", "2", "3"});
  CHECK(pending.empty());
}

TEST_CASE("server URLs: schemes map to TLS and default ports and paths apply") {
  auto ws = mc::parse_server_url("ws://127.0.0.1:8480/v1/connect");
  REQUIRE(ws);
  CHECK_FALSE(ws->tls);
  CHECK(ws->host == "127.0.0.1");
  CHECK(ws->port == "8480");
  CHECK(ws->target == "/v1/connect");
  auto https = mc::parse_server_url("HTTPS://mend.example");
  REQUIRE(https);
  CHECK(https->tls);
  CHECK(https->port == "443");
  CHECK(https->target == "/");
  auto v6 = mc::parse_server_url("wss://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->host_header() == "[::1]:9000");
}

namespace {
// An invite token of the server's format (tokens.h) with a fake signature: the SDK reads the
// room id without verifying it.
std::string invite_token_for(const std::string& room) {
  std::string payload = {1, 1, 0, 0, 0, 0, 0, 0, 0, 1, static_cast<char>(room.size())};
  payload += room;
  payload.push_back(0);  // no observer name
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string encoded;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : payload) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      encoded.push_back(kAlphabet[(bits >> count) & 63]);
    }
  }
  if (count > 0) encoded.push_back(kAlphabet[(bits << (6 - count)) & 63]);
  return encoded + ".c2lnbmF0dXJl";
}
}  // namespace

TEST_CASE("the client connects to /v1/connect/{room} with the room read from its token") {
  const std::string room = "0123456789abcdef0123456789abcdef";
  const std::string token = invite_token_for(room);
  CHECK(mc::room_of_token(token) == room);
  CHECK(mc::connect_target("/", token) == "/v1/connect/" + room);
  CHECK(mc::connect_target("/v1/connect", token) == "/v1/connect/" + room);
  CHECK(mc::connect_target("/v1/connect/other", token) == "/v1/connect/other");  // as given
  CHECK(mc::connect_target("/mend/ws", token) == "/mend/ws");
  // Not a token of that format: plain /v1/connect (the server then refuses the token).
  CHECK_FALSE(mc::room_of_token("not-a-token"));
  CHECK_FALSE(mc::room_of_token("!!.sig"));
  CHECK(mc::connect_target("/", "not-a-token") == "/v1/connect");
  CHECK(mc::connect_target("/", invite_token_for("a/b")) == "/v1/connect");
}

TEST_CASE("server URLs with credentials or queries or bad ports are refused") {
  CHECK_FALSE(mc::parse_server_url("ftp://host"));
  CHECK_FALSE(mc::parse_server_url("ws://user:secret@host"));
  CHECK_FALSE(mc::parse_server_url("ws://host/v1/connect?token=abc"));
  CHECK_FALSE(mc::parse_server_url("ws://host:99999"));
  CHECK_FALSE(mc::parse_server_url("ws://host:port"));
  CHECK_FALSE(mc::parse_server_url("ws://:80"));
  CHECK_FALSE(mc::parse_server_url("127.0.0.1:8480"));
}

TEST_CASE("autopilot takes the step the view allows: listener mirrors then speaker confirms") {
  mc::Autopilot pilot;
  v1::RoomView listener;
  listener.mutable_you()->set_role(v1::PARTNER_B);
  listener.set_phase(v1::PHASE_MIRRORING);
  listener.set_expected_reflection(v1::MIRROR);
  listener.add_allowed_actions(v1::ACTION_SIGNAL);
  listener.add_allowed_actions(v1::ACTION_REFLECT);
  auto reflect = pilot.next(listener);
  REQUIRE(reflect);
  CHECK(reflect->reflect().kind() == v1::MIRROR);

  v1::RoomView speaker;
  speaker.mutable_you()->set_role(v1::PARTNER_A);
  speaker.set_phase(v1::PHASE_CONFIRMING);
  speaker.add_allowed_actions(v1::ACTION_CONFIRM);
  auto confirm = pilot.next(speaker);
  REQUIRE(confirm);
  CHECK(confirm->has_confirm());
}

TEST_CASE("autopilot shares once per turn then ends the turn and waits when nothing is its to do") {
  mc::Autopilot pilot;
  v1::RoomView view;
  view.mutable_you()->set_role(v1::PARTNER_A);
  view.set_phase(v1::PHASE_SPEAKING);
  view.set_speaker(v1::PARTNER_A);
  view.add_allowed_actions(v1::ACTION_SHARE);
  view.add_allowed_actions(v1::ACTION_PASS_FLOOR);
  CHECK(pilot.next(view)->has_share());
  CHECK(pilot.next(view)->has_pass_floor());

  v1::RoomView waiting;
  waiting.mutable_you()->set_role(v1::PARTNER_B);
  waiting.set_phase(v1::PHASE_SPEAKING);
  waiting.add_allowed_actions(v1::ACTION_SIGNAL);
  waiting.add_allowed_actions(v1::ACTION_PAUSE);
  CHECK_FALSE(pilot.next(waiting));
}
