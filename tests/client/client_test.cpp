// mend::client::Client against a scripted server: Hello contents, resume after a drop without
// gaps or duplicates, command retries with the same id, close codes, heartbeats, reset.
#include "fake_server.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "mend/client.h"

namespace mc = mend::client;
namespace v1 = mend::v1;
using mend::testing::FakeConnection;
using mend::testing::FakeServer;
using mend::testing::get_within;
using namespace std::chrono_literals;

namespace {

// What the client told the application, with bounded waits on it.
class Recorder {
 public:
  mc::ClientHandlers handlers() {
    mc::ClientHandlers h;
    h.on_event = [this](const v1::Event& event) {
      update([&] { seqs_.push_back(event.seq()); });
    };
    h.on(v1::Event::kShared, [this](const v1::Event&) { update([&] { ++shared_; }); });
    h.on_view = [this](const v1::RoomView& view) {
      update([&] { view_seq_ = view.last_seq(); });
    };
    h.on_reset = [this](const v1::RoomView& view) {
      update([&] { resets_.push_back(view.last_seq()); });
    };
    h.on_closed = [this](const mc::ClientError& error) { update([&] { closed_ = error; }); };
    h.on_state = [this](mc::ConnectionState state, const mc::ClientError&) {
      update([&] { states_.push_back(state); });
    };
    return h;
  }

  bool wait_for_seqs(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, mend::testing::kWaitBound,
                             [&] { return seqs_.size() >= count; });
  }
  // The view is published after every item of a frame was handled.
  bool wait_for_view_seq(std::uint64_t seq) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, mend::testing::kWaitBound, [&] { return view_seq_ >= seq; });
  }
  bool wait_for_closed() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, mend::testing::kWaitBound,
                             [&] { return closed_.has_value(); });
  }
  // Waits until one of `states` was reached; the first of them, or nullopt after the bound.
  std::optional<mc::ConnectionState> wait_for_one_of(std::vector<mc::ConnectionState> states) {
    std::unique_lock lock(mutex_);
    std::optional<mc::ConnectionState> reached;
    changed_.wait_for(lock, mend::testing::kWaitBound, [&] {
      for (mc::ConnectionState state : states_) {
        if (std::find(states.begin(), states.end(), state) != states.end()) {
          reached = state;
          return true;
        }
      }
      return false;
    });
    return reached;
  }
  bool wait_for_state(mc::ConnectionState state) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, mend::testing::kWaitBound, [&] {
      return std::find(states_.begin(), states_.end(), state) != states_.end();
    });
  }

  std::vector<std::uint64_t> seqs() {
    std::lock_guard lock(mutex_);
    return seqs_;
  }
  int shared() {
    std::lock_guard lock(mutex_);
    return shared_;
  }
  std::vector<std::uint64_t> resets() {
    std::lock_guard lock(mutex_);
    return resets_;
  }
  std::optional<mc::ClientError> closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  template <typename F>
  void update(F&& change) {
    {
      std::lock_guard lock(mutex_);
      change();
    }
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::uint64_t> seqs_;
  int shared_ = 0;
  std::uint64_t view_seq_ = 0;
  std::vector<std::uint64_t> resets_;
  std::optional<mc::ClientError> closed_;
  std::vector<mc::ConnectionState> states_;
};

mc::ClientOptions options_for(const FakeServer& server) {
  mc::ClientOptions options;
  options.url = server.url();
  options.token = "token-for-tests";
  options.client_name = "client-tests";
  options.backoff = {1ms, 5ms, 2.0, 0.0, 0};
  options.random = [] { return std::uint64_t{42}; };
  return options;
}

v1::Command confirm_command() {
  v1::Command command;
  command.mutable_confirm();
  return command;
}

// Accepts a connection, checks its Hello, answers with `welcome`.
std::shared_ptr<FakeConnection> accept_and_welcome(FakeServer& server, const v1::ServerFrame& welcome,
                                                   v1::Hello* hello_out = nullptr) {
  auto connection = get_within(server.accept());
  REQUIRE(connection);
  auto hello = get_within(connection->read());
  REQUIRE(hello);
  REQUIRE(hello->has_hello());
  if (hello_out != nullptr) *hello_out = hello->hello();
  REQUIRE(get_within(connection->send(welcome)));
  return connection;
}

}  // namespace

TEST_CASE("the first frame is Hello with the token and the client name and no resume position") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  v1::Hello hello;
  accept_and_welcome(server, mend::testing::welcome_frame(7, true, 0), &hello);
  CHECK(hello.token() == "token-for-tests");
  CHECK(hello.client_name() == "client-tests");
  CHECK(hello.room_epoch() == 0);
  CHECK(hello.resume_after_seq() == 0);
  REQUIRE(recorder.wait_for_state(mc::ConnectionState::kOnline));
  CHECK(client.room_id() == "room-1");
  CHECK(client.participant()->role() == v1::PARTNER_B);
}

TEST_CASE("after a dropped connection the client resumes after the last delivered seq "
          "without gap or duplicate") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(7, true, 0));
  REQUIRE(get_within(first->send(mend::testing::events_frame(1, 3))));
  REQUIRE(recorder.wait_for_seqs(3));
  REQUIRE(get_within(first->drop()));

  v1::Hello hello;
  auto second = accept_and_welcome(server, mend::testing::welcome_frame(7, true, 3), &hello);
  CHECK(hello.room_epoch() == 7);
  CHECK(hello.resume_after_seq() == 3);
  // An overlapping replay (2, 3) then new events: only 4 and 5 are new.
  REQUIRE(get_within(second->send(mend::testing::events_frame(2, 5))));
  REQUIRE(recorder.wait_for_view_seq(5));
  CHECK(recorder.seqs() == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(recorder.shared() == 5);
  CHECK(client.last_delivered_seq() == 5);
  CHECK(client.view()->last_seq() == 5);
}

TEST_CASE("a command unanswered before a drop is sent again with the same command_id and "
          "resolves once") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  auto outcome = client.send(confirm_command());
  auto sent = get_within(first->read());
  REQUIRE(sent);
  REQUIRE(sent->has_command());
  const std::string id = sent->command().command_id();
  CHECK(id.size() == 32);
  REQUIRE(get_within(first->drop()));

  auto second = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  auto retried = get_within(second->read());
  REQUIRE(retried);
  REQUIRE(retried->has_command());
  CHECK(retried->command().command_id() == id);
  CHECK(retried->command().has_confirm());

  v1::ServerFrame answer;
  mend::testing::add_result(answer, id, true);
  mend::testing::add_result(answer, id, true);  // a duplicate answer resolves nothing
  REQUIRE(get_within(second->send(answer)));
  const mc::CommandOutcome result = get_within(std::move(outcome));
  CHECK(result.accepted());
  CHECK(result.result.command_id() == id);
}

TEST_CASE("a command sent while offline goes out after the next welcome") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  auto outcome = client.send(confirm_command());  // before start(): queued
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  auto sent = get_within(connection->read());
  REQUIRE(sent);
  REQUIRE(sent->has_command());
  v1::ServerFrame answer;
  mend::testing::add_result(answer, sent->command().command_id(), false);
  REQUIRE(get_within(connection->send(answer)));
  const mc::CommandOutcome result = get_within(std::move(outcome));
  CHECK(result.error.ok());
  CHECK(result.rejection_code() == v1::NOT_YOUR_TURN);
}

TEST_CASE("an explicit command_id is kept as given") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  v1::Command command = confirm_command();
  command.set_command_id("my-own-id");
  auto outcome = client.send(command);
  auto sent = get_within(connection->read());
  REQUIRE(sent);
  CHECK(sent->command().command_id() == "my-own-id");
}

TEST_CASE("events in a frame are delivered and the view is updated before the command resolves") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  std::promise<std::pair<std::size_t, std::uint64_t>> seen;
  client.send(confirm_command(), [&](mc::CommandOutcome) {
    seen.set_value({recorder.seqs().size(), client.view()->last_seq()});
  });
  auto sent = get_within(connection->read());
  REQUIRE(sent);
  v1::ServerFrame answer;
  mend::testing::add_result(answer, sent->command().command_id(), true);
  mend::testing::add_event(answer, 1);
  mend::testing::add_event(answer, 2);
  REQUIRE(get_within(connection->send(answer)));
  const auto [events, view_seq] = get_within(seen.get_future());
  CHECK(events == 2);
  CHECK(view_seq == 2);
}

TEST_CASE("a view the application holds stays whole after later frames replaced it") {
  // A published view shares the frame it came in (decoded on an arena of its own): holding
  // it must keep that frame alive, whatever arrives after.
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  v1::ServerFrame welcome = mend::testing::welcome_frame(3, true, 0);
  welcome.mutable_items(0)->mutable_welcome()->mutable_view()->set_topic(
      "How we spend our evenings, long enough to live outside the string itself");
  auto connection = accept_and_welcome(server, welcome);
  REQUIRE(recorder.wait_for_state(mc::ConnectionState::kOnline));
  const std::shared_ptr<const v1::RoomView> held = client.view();
  REQUIRE(held);
  for (std::uint64_t seq = 1; seq <= 4; ++seq) {
    REQUIRE(get_within(connection->send(mend::testing::events_frame(seq, seq))));
  }
  REQUIRE(recorder.wait_for_view_seq(4));
  CHECK(client.view()->last_seq() == 4);
  CHECK(held->last_seq() == 0);
  CHECK(held->phase() == v1::PHASE_SPEAKING);
  CHECK(held->topic() == "How we spend our evenings, long enough to live outside the string itself");
}

TEST_CASE("a heartbeat is answered with the cumulative last seq received") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  v1::ServerFrame frame = mend::testing::events_frame(1, 4);
  frame.add_items()->mutable_heartbeat()->set_last_seq(4);
  REQUIRE(get_within(connection->send(frame)));
  auto ack = get_within(connection->read());
  REQUIRE(ack);
  REQUIRE(ack->has_heartbeat_ack());
  CHECK(ack->heartbeat_ack().last_seq_received() == 4);
}

TEST_CASE("a quiet client sends its cumulative position unasked so it is never taken for silent") {
  FakeServer server;
  Recorder recorder;
  mc::ClientOptions options = options_for(server);
  options.keepalive_interval = 20ms;
  mc::Client client(std::move(options), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  REQUIRE(get_within(connection->send(mend::testing::events_frame(1, 2))));
  REQUIRE(recorder.wait_for_view_seq(2));
  std::optional<v1::ClientFrame> ack;
  do {
    ack = get_within(connection->read());
    REQUIRE(ack);
    REQUIRE(ack->has_heartbeat_ack());
  } while (ack->heartbeat_ack().last_seq_received() < 2);
  CHECK(ack->heartbeat_ack().last_seq_received() == 2);
}

TEST_CASE("a welcome that could not recover asks the application to reset and continues after "
          "the view") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  REQUIRE(get_within(first->send(mend::testing::events_frame(1, 2))));
  REQUIRE(recorder.wait_for_seqs(2));
  REQUIRE(get_within(first->drop()));
  auto second = accept_and_welcome(server, mend::testing::welcome_frame(2, false, 10));
  REQUIRE(get_within(second->send(mend::testing::events_frame(9, 11))));
  REQUIRE(recorder.wait_for_seqs(3));
  CHECK(recorder.resets() == std::vector<std::uint64_t>{10});
  CHECK(recorder.seqs() == std::vector<std::uint64_t>{1, 2, 11});
  CHECK(client.epoch() == 2);
}

TEST_CASE("a terminal close code is reported and fails pending commands and the client does not reconnect") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  auto outcome = client.send(confirm_command());
  REQUIRE(get_within(connection->read()));
  get_within(connection->close(4501));
  REQUIRE(recorder.wait_for_closed());
  CHECK(recorder.closed()->code == mc::ErrorCode::kTerminalClose);
  CHECK(recorder.closed()->close_code == 4501);
  const mc::CommandOutcome result = get_within(std::move(outcome));
  CHECK(result.error.code == mc::ErrorCode::kTerminalClose);
  CHECK(client.state() == mc::ConnectionState::kClosed);
  // Commands after a terminal close fail at once with the same error.
  CHECK(get_within(client.send(confirm_command())).error.close_code == 4501);
}

TEST_CASE("a resumable close code (4009 replaced) leads to a reconnect and resume") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  REQUIRE(get_within(first->send(mend::testing::events_frame(1, 1))));
  REQUIRE(recorder.wait_for_seqs(1));
  get_within(first->close(4009));
  v1::Hello hello;
  accept_and_welcome(server, mend::testing::welcome_frame(1, true, 1), &hello);
  CHECK(hello.resume_after_seq() == 1);
  CHECK_FALSE(recorder.closed().has_value());
}

// Starts a client and closes its first connection with `code`: the error it closed with for
// good, or nullopt when it reconnected instead.
std::optional<mc::ClientError> reaction_to_close(std::uint16_t code) {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  get_within(first->close(code));
  const auto reached =
      recorder.wait_for_one_of({mc::ConnectionState::kWaiting, mc::ConnectionState::kClosed});
  REQUIRE(reached.has_value());
  if (*reached == mc::ConnectionState::kClosed) {
    REQUIRE(recorder.wait_for_closed());  // the state is reported before the closing error
    return recorder.closed();
  }
  REQUIRE(get_within(server.accept()));  // it reconnects
  return std::nullopt;
}

TEST_CASE("each close code gets its documented reaction: 4500-4999 and the old 4400 are "
          "terminal, other 4000-4499 codes and 1000 resume") {
  for (const std::uint16_t code : {4500, 4400, 4501, 4503, 4504, 4529}) {
    CAPTURE(code);
    const auto closed = reaction_to_close(code);
    REQUIRE(closed.has_value());
    CHECK(closed->code == mc::ErrorCode::kTerminalClose);
    CHECK(closed->close_code == code);
  }
  for (const std::uint16_t code : {4001, 4002, 4008, 4009, 4499, 1000, 1011}) {
    CAPTURE(code);
    CHECK_FALSE(reaction_to_close(code).has_value());
  }
}

TEST_CASE("a 1009 close fails the largest unanswered command with frame_too_large and the "
          "others are resent after the reconnect") {
  FakeServer server;
  Recorder recorder;
  mc::ClientOptions options = options_for(server);
  options.max_command_bytes = 1u << 20;  // the server's limit is lower than the SDK believes
  mc::Client client(std::move(options), recorder.handlers());
  REQUIRE(client.start().ok());
  auto first = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  v1::Command small = confirm_command();
  small.set_command_id("small-command");
  v1::Command large;
  large.mutable_share()->set_text(std::string(100'000, 'x'));
  large.set_command_id("large-command");
  auto small_outcome = client.send(small);
  auto large_outcome = client.send(large);
  REQUIRE(get_within(first->read()));
  REQUIRE(get_within(first->read()));
  get_within(first->close(1009));
  const mc::CommandOutcome failed = get_within(std::move(large_outcome));
  CHECK(failed.error.code == mc::ErrorCode::kFrameTooLarge);
  CHECK(std::string(mc::error_code_name(failed.error.code)) == "frame_too_large");
  auto second = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  auto resent = get_within(second->read());
  REQUIRE(resent);
  CHECK(resent->command().command_id() == "small-command");
  v1::ServerFrame answer;
  mend::testing::add_result(answer, "small-command", true);
  REQUIRE(get_within(second->send(answer)));
  CHECK(get_within(std::move(small_outcome)).accepted());
  CHECK_FALSE(recorder.closed().has_value());
}

TEST_CASE("a 1009 close with no command unanswered is terminal: the repeat would be the same") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  get_within(connection->close(1009));
  REQUIRE(recorder.wait_for_closed());
  CHECK(recorder.closed()->close_code == 1009);
}

TEST_CASE("a command over max_command_bytes fails at once with frame_too_large and is not sent") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  REQUIRE(client.start().ok());
  auto connection = accept_and_welcome(server, mend::testing::welcome_frame(1, true, 0));
  v1::Command large;
  large.mutable_share()->set_text(std::string(70'000, 'x'));  // over the default 64 KiB
  const mc::CommandOutcome outcome = get_within(client.send(large));
  CHECK(outcome.error.code == mc::ErrorCode::kFrameTooLarge);
  v1::Command small = confirm_command();
  small.set_command_id("after-the-large-one");
  auto small_outcome = client.send(small);
  auto sent = get_within(connection->read());
  REQUIRE(sent);
  CHECK(sent->command().command_id() == "after-the-large-one");
}

TEST_CASE("reconnecting gives up after max_attempts failures and says so") {
  std::string url;
  {
    FakeServer gone;  // a port that was ours and is closed now
    url = gone.url();
  }
  Recorder recorder;
  mc::ClientOptions options;
  options.url = url;
  options.token = "t";
  options.backoff = {1ms, 2ms, 2.0, 0.0, 3};
  mc::Client client(std::move(options), recorder.handlers());
  REQUIRE(client.start().ok());
  REQUIRE(recorder.wait_for_closed());
  CHECK(recorder.closed()->code == mc::ErrorCode::kGaveUp);
}

TEST_CASE("start refuses malformed URLs and empty tokens and unreadable CA files") {
  mc::ClientOptions bad_url;
  bad_url.url = "not a url";
  bad_url.token = "t";
  CHECK(mc::Client(bad_url, {}).start().code == mc::ErrorCode::kInvalidArgument);
  mc::ClientOptions no_token;
  no_token.url = "ws://127.0.0.1:1";
  CHECK(mc::Client(no_token, {}).start().code == mc::ErrorCode::kInvalidArgument);
  mc::ClientOptions bad_ca;
  bad_ca.url = "wss://127.0.0.1:1";
  bad_ca.token = "t";
  bad_ca.ca_file = "/nonexistent/ca.pem";
  CHECK(mc::Client(bad_ca, {}).start().code == mc::ErrorCode::kInvalidArgument);
}

TEST_CASE("stop fails pending commands with kStopped and is idempotent") {
  FakeServer server;
  Recorder recorder;
  mc::Client client(options_for(server), recorder.handlers());
  auto outcome = client.send(confirm_command());
  client.stop();
  client.stop();
  CHECK(get_within(std::move(outcome)).error.code == mc::ErrorCode::kStopped);
  CHECK(client.state() == mc::ConnectionState::kClosed);
}
