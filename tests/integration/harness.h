// Integration harness: SDK participants (Client + Autopilot + what they saw) and a driver that
// lets autopilots play until a condition holds. Waits are bounded; nothing sleeps to wait for a
// condition (the only timed wait is the server's own reflection beat, Rejection.retry_after_ms).
#pragma once

#include "mend/proto.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mend/autopilot.h"
#include "mend/client.h"
#include "mend/http_client.h"

namespace mend::testing {

namespace mc = mend::client;
using namespace std::chrono_literals;

inline constexpr auto kBound = 15s;          // one command, one expected change
inline constexpr auto kConversationBound = 120s;

// Shared signal for "something changed in some participant".
struct Changes {
  std::mutex mutex;
  std::condition_variable changed;
  void notify() {
    { std::lock_guard lock(mutex); }
    changed.notify_all();
  }
  // Waits until `ready()` (checked under no lock of ours) or `bound` passes.
  bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    std::unique_lock lock(mutex);
    while (!ready()) {
      if (changed.wait_until(lock, deadline) == std::cv_status::timeout) return ready();
    }
    return true;
  }
};

class Participant {
 public:
  Participant(Changes& changes, std::string url, std::string token,
              mc::AutopilotScript script = {}, std::string ca_file = {})
      : changes_(changes), pilot_(std::move(script)) {
    mc::ClientOptions options;
    options.url = std::move(url);
    options.token = std::move(token);
    options.ca_file = std::move(ca_file);
    options.client_name = "mend-integration-tests";
    options.backoff = {10ms, 100ms, 2.0, 0.5, 0};
    mc::ClientHandlers handlers;
    handlers.on_event = [this](const v1::Event& event) {
      record([&] { events_.push_back(event); });
    };
    handlers.on_view = [this](const v1::RoomView&) { record([] {}); };
    handlers.on_typing = [this](const v1::TypingNotice& notice) {
      record([&] { typing_.push_back(notice); });
    };
    handlers.on_closed = [this](const mc::ClientError& error) { record([&] { closed_ = error; }); };
    handlers.on_state = [this](mc::ConnectionState state, const mc::ClientError& why) {
      record([&] {
        if (state == mc::ConnectionState::kOnline) ++welcomes_;
        if (why.close_code != 0) close_codes_.push_back(why.close_code);
      });
    };
    client_.emplace(std::move(options), std::move(handlers));
  }

  mc::Client& client() { return *client_; }
  mc::Autopilot& pilot() { return pilot_; }

  void start() { REQUIRE(client_->start().ok()); }

  std::vector<v1::Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Every TypingNotice received (ephemeral items, in arrival order).
  std::vector<v1::TypingNotice> typing_notices() {
    std::lock_guard lock(mutex_);
    return typing_;
  }
  std::optional<mc::ClientError> closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  int welcomes() {
    std::lock_guard lock(mutex_);
    return welcomes_;
  }
  // The first seq of every command step() sent that was accepted (CommandResult.first_seq).
  std::vector<std::uint64_t> accepted_seqs() {
    std::lock_guard lock(mutex_);
    return accepted_seqs_;
  }
  // The close code of every connection the server closed (resumable ones included).
  std::vector<std::uint16_t> close_codes() {
    std::lock_guard lock(mutex_);
    return close_codes_;
  }
  v1::RoomView view() {
    auto view = client_->view();
    return view ? *view : v1::RoomView{};
  }
  bool online() { return client_->state() == mc::ConnectionState::kOnline; }

  // Sends and waits (bounded) for the outcome.
  mc::CommandOutcome send(v1::Command command) {
    auto future = client_->send(std::move(command));
    REQUIRE(future.wait_for(kBound) == std::future_status::ready);
    return future.get();
  }

  // Lets the autopilot take one step. Returns true when it sent something that was accepted
  // (or will be after the reflection beat, which it waits out here).
  bool step() {
    auto view = client_->view();
    if (!view || !online()) return false;
    auto command = pilot_.next(*view);
    if (!command) return false;
    const mc::CommandOutcome outcome = send(std::move(*command));
    if (outcome.accepted()) {
      record([&] { accepted_seqs_.push_back(outcome.result.first_seq()); });
      return true;
    }
    if (outcome.rejection_code() == v1::TOO_SOON) {
      // The server's reflection beat: a known, bounded time, given by the server.
      std::this_thread::sleep_for(
          std::chrono::milliseconds(outcome.result.rejection().retry_after_ms()));
      return true;
    }
    return false;  // the view was a moment old; the next view tells what to do
  }

 private:
  template <typename F>
  void record(F&& change) {
    {
      std::lock_guard lock(mutex_);
      change();
    }
    changes_.notify();
  }

  Changes& changes_;
  mc::Autopilot pilot_;
  std::mutex mutex_;
  std::vector<v1::Event> events_;
  std::vector<v1::TypingNotice> typing_;
  std::optional<mc::ClientError> closed_;
  int welcomes_ = 0;
  std::vector<std::uint16_t> close_codes_;
  std::vector<std::uint64_t> accepted_seqs_;
  std::optional<mc::Client> client_;
};

// Lets every participant's autopilot play until `done()`, bounded by `bound`.
inline bool play_until(Changes& changes, const std::vector<Participant*>& players,
                       const std::function<bool()>& done,
                       std::chrono::milliseconds bound = kConversationBound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    bool acted = false;
    for (Participant* player : players) acted = player->step() || acted;
    if (!acted) changes.wait_until(done, 100ms);  // woken by any view change
  }
  return true;
}

inline bool phase_is(Participant& p, v1::Phase phase) { return p.view().phase() == phase; }

// Every seq from 1 to the last, each once (partners see every event of a room without notes).
inline bool contiguous_from_one(const std::vector<v1::Event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].seq() != i + 1) return false;
  }
  return true;
}

// Seqs are strictly increasing: no duplicate, no reordering.
inline bool strictly_increasing(const std::vector<v1::Event>& events) {
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (events[i].seq() <= events[i - 1].seq()) return false;
  }
  return true;
}

inline std::size_t count_kind(const std::vector<v1::Event>& events, v1::Event::BodyCase kind) {
  return static_cast<std::size_t>(std::count_if(
      events.begin(), events.end(), [kind](const v1::Event& e) { return e.body_case() == kind; }));
}

inline v1::CreateRoomResponse create_room(const std::string& base_url, const std::string& name,
                                          std::vector<std::string> observers = {},
                                          std::uint32_t invite_ttl_s = 0,
                                          const std::string& ca_file = {}) {
  mc::HttpClient http({base_url, {}, ca_file, 10s});
  v1::CreateRoomRequest request;
  request.set_template_(name);
  request.set_topic("How we spend our evenings");
  request.set_partner_a_name("Alex");
  request.set_partner_b_name("Sam");
  for (auto& observer : observers) request.add_observers(observer);
  request.set_invite_ttl_s(invite_ttl_s);
  auto created = http.create_room(request);
  INFO("create_room: " << created.error.message << " " << created.error.server_code);
  REQUIRE(created.ok());
  REQUIRE(created.value->invites_size() == static_cast<int>(2 + observers.size()));
  return *created.value;
}

// Command builders.
inline v1::Command cmd(const std::function<void(v1::Command&)>& fill) {
  v1::Command command;
  fill(command);
  return command;
}

}  // namespace mend::testing
