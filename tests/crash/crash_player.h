// One partner of one room in the crash test: an SDK client (mend::client::Client) driven by a
// ConversationPilot, recording every event, its latest view, and every command it sent with
// the answer. Header-only, for tests/crash only.
//
// Thread safety: step(), next_due() and resend() are called from the test thread; the
// client's handlers run on the client's thread; snapshot(), idle() and phase() from any
// thread. Everything shared is guarded by one mutex.
#pragma once

#include "mend/proto.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "mend/client.h"
#include "tests/crash/conversation_pilot.h"

namespace mend::testing {

using Clock = std::chrono::steady_clock;

inline constexpr int kMaxThinkMs = 8;         // a pilot's pause between its moves
inline constexpr int kMaxSignalsPending = 2;  // signals sent besides the conversation
inline constexpr std::chrono::seconds kResendBound{30};

// Server time: milliseconds since the Unix epoch (for the times commands carry).
inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Wakes the test thread when any client received an answer or a view.
struct Wakeup {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t generation = 0;
  void notify() {
    {
      std::lock_guard lock(mutex);
      ++generation;
    }
    changed.notify_all();
  }
  // Until notified or `until`, whichever comes first.
  void wait_until(Clock::time_point until) {
    std::unique_lock lock(mutex);
    const std::uint64_t seen = generation;
    changed.wait_until(lock, until, [&] { return generation != seen; });
  }
};

// A command sent and its answer.
struct Answered {
  v1::Command command;
  v1::CommandResult result;
};

// One partner of one room: an SDK client driven by a ConversationPilot. It records every
// event, its latest view, and every command with its answer. step() and resend() run on the
// test thread; the client's handlers on the client's thread.
class Player {
 public:
  Player(Wakeup& wakeup, int room, std::string participant, const std::string& url,
         std::string token, std::uint64_t seed)
      : wakeup_(wakeup),
        participant_(std::move(participant)),
        id_prefix_("r" + std::to_string(room) + "-" + participant_ + "-"),
        pilot_(seed),
        think_rng_(seed ^ 0x9e3779b97f4a7c15ULL) {
    client::ClientOptions options;
    options.url = url;
    options.token = std::move(token);
    options.client_name = "mend-crash-test";
    options.backoff = {std::chrono::milliseconds(5), std::chrono::milliseconds(50), 2.0, 0.5, 0};
    options.connect_timeout = std::chrono::seconds(5);
    client::ClientHandlers handlers;
    handlers.on_event = [this](const v1::Event& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
    };
    handlers.on_view = [this](const v1::RoomView& view) {
      {
        std::lock_guard lock(mutex_);
        view_ = view;
      }
      wakeup_.notify();
    };
    handlers.on_reset = [this](const v1::RoomView&) {
      std::lock_guard lock(mutex_);
      ++resets_;
    };
    handlers.on_welcome = [this](const v1::Welcome& welcome) {
      std::lock_guard lock(mutex_);
      ++welcomes_;
      if (!welcome.recovered() && welcomes_ > 1) ++resets_;
    };
    client_.emplace(std::move(options), std::move(handlers));
  }

  void start() { REQUIRE(client_->start().ok()); }
  // Stops and destroys the client (its thread); what it recorded stays.
  void stop() {
    if (client_) {
      client_->stop();
      client_.reset();
    }
  }

  const std::string& participant() const { return participant_; }

  // Sends what the pilot suggests when this partner's previous move was answered and its
  // thinking time (or a TOO_SOON's retry_after_ms) passed; sometimes a signal besides.
  void step(Clock::time_point now) {
    if (!client_) return;
    const auto view = client_->view();
    if (!view) return;
    bool conversation_free = false;
    int signals = 0;
    {
      std::lock_guard lock(mutex_);
      if (!conversation_pending_) {
        if (!due_) due_ = now + std::chrono::milliseconds(retry_ms_ > 0 ? retry_ms_ : think());
        retry_ms_ = 0;
        conversation_free = now >= *due_;
      }
      signals = signals_pending_;
    }
    if (!conversation_free) return;
    if (auto command = pilot_.next(*view, wall_ms())) {
      send(std::move(*command), /*conversation=*/true);
    } else {
      std::lock_guard lock(mutex_);
      due_ = now + std::chrono::milliseconds(think());
    }
    if (signals < kMaxSignalsPending) {
      if (auto signal = pilot_.maybe_signal(*view)) send(std::move(*signal), false);
    }
  }

  // When step() has something to do next (at the latest).
  Clock::time_point next_due(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (conversation_pending_ || !due_) return now + std::chrono::milliseconds(5);
    return std::max(now, *due_);
  }

  // Sends an answered command again, same id and body; waits for the answer.
  client::CommandOutcome resend(const v1::Command& command) {
    auto future = client_->send(command);
    if (future.wait_for(kResendBound) != std::future_status::ready) {
      client::CommandOutcome timed_out;
      timed_out.error.code = client::ErrorCode::kTimeout;
      return timed_out;
    }
    return future.get();
  }

  struct Snapshot {
    std::vector<v1::Event> events;
    v1::RoomView view;
    std::map<std::string, Answered> answered;
    std::map<std::string, v1::Command> pending;
    std::vector<std::string> sdk_errors;
    int resets = 0;
    int welcomes = 0;
    // Welcomed, and the view shows the state after the last event received (not between an
    // event and the view of the same frame).
    bool consistent() const { return view.last_seq() >= 1 && view.last_seq() == events.size(); }
  };
  Snapshot snapshot() {
    std::lock_guard lock(mutex_);
    return Snapshot{events_, view_, answered_, pending_, sdk_errors_, resets_, welcomes_};
  }
  bool idle() {
    std::lock_guard lock(mutex_);
    return pending_.empty();
  }
  v1::Phase phase() {
    std::lock_guard lock(mutex_);
    return view_.phase();
  }

 private:
  int think() { return std::uniform_int_distribution<int>(1, kMaxThinkMs)(think_rng_); }

  void send(v1::Command command, bool conversation) {
    const std::string id = id_prefix_ + std::to_string(next_id_++);
    command.set_command_id(id);
    {
      std::lock_guard lock(mutex_);
      pending_[id] = command;
      if (conversation) {
        conversation_pending_ = true;
      } else {
        ++signals_pending_;
      }
    }
    client_->send(std::move(command), [this, id, conversation](client::CommandOutcome outcome) {
      on_answer(id, conversation, std::move(outcome));
    });
  }

  void on_answer(const std::string& id, bool conversation, client::CommandOutcome outcome) {
    {
      std::lock_guard lock(mutex_);
      auto sent = pending_.extract(id);
      if (sent.empty()) {
        sdk_errors_.push_back(id + ": answered but never sent");
        return;
      }
      if (conversation) {
        conversation_pending_ = false;
        due_.reset();
      } else {
        --signals_pending_;
      }
      if (!outcome.error.ok()) {
        if (outcome.error.code != client::ErrorCode::kStopped) {
          sdk_errors_.push_back(id + ": " + outcome.error.message);
        }
      } else {
        if (!outcome.result.accepted() && outcome.result.rejection().code() == v1::TOO_SOON) {
          const auto retry_after = static_cast<int>(outcome.result.rejection().retry_after_ms());
          retry_ms_ = std::max(1, retry_after);
        }
        answered_[id] = Answered{std::move(sent.mapped()), std::move(outcome.result)};
      }
    }
    wakeup_.notify();
  }

  Wakeup& wakeup_;
  const std::string participant_;
  const std::string id_prefix_;
  ConversationPilot pilot_;        // test thread only
  std::mt19937_64 think_rng_;      // test thread only
  std::uint64_t next_id_ = 0;      // test thread only
  std::mutex mutex_;
  std::vector<v1::Event> events_;
  v1::RoomView view_;
  std::map<std::string, Answered> answered_;
  std::map<std::string, v1::Command> pending_;
  bool conversation_pending_ = false;
  int signals_pending_ = 0;
  std::optional<Clock::time_point> due_;
  int retry_ms_ = 0;
  std::vector<std::string> sdk_errors_;
  int resets_ = 0;
  int welcomes_ = 0;
  std::optional<client::Client> client_;
};

}  // namespace mend::testing
