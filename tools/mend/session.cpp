#include "session.h"

#include "mend/proto.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "describe.h"
#include "line_commands.h"
#include "mend/client.h"
#include "render.h"
#include "time_text.h"

namespace mend::cli {
namespace {

namespace mc = mend::client;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How often the timer thread looks at countdowns and due re-sends.
constexpr auto kTimerPeriod = 250ms;
// Input lines longer than this are cut (the server's text limit is far below).
constexpr std::size_t kMaxLineBytes = 64 * 1024;

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int local_utc_offset_s() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return static_cast<int>(local.tm_gmtoff);
}

// How long between two countdown lines, by the time left: calm far away, closer near the end.
std::int64_t countdown_interval_ms(std::int64_t left_ms) {
  if (left_ms > 10 * 60'000) return 5 * 60'000;
  if (left_ms > 2 * 60'000) return 60'000;
  if (left_ms > 20'000) return 15'000;
  return 5'000;
}

std::string who_am_i(const v1::RoomView& view) {
  const v1::Actor& you = view.you();
  if (you.role() == v1::OBSERVER) return you.observer() + ", observing";
  return partner_name(view, you.role()) +
         (you.role() == v1::PARTNER_A ? " (partner A)" : " (partner B)");
}

std::string closed_reason(const mc::ClientError& error) {
  switch (error.close_code) {
    case 4501: return "This invite is not valid any more (it may have expired).";
    case 4503:
      return "You are not (or no longer) welcomed by both partners as an observer, or the "
             "room was erased. You can join again once both partners approve you.";
    case 4529: return "The server closed the connection: too many commands too fast.";
    case 4500:
    case 4400: return "The server could not read what this program sent.";
    default: break;
  }
  if (error.code == mc::ErrorCode::kGaveUp) return "Could not reach the server; giving up.";
  return "The server closed the connection: " + error.message;
}

class Session {
 public:
  Session(const JoinOptions& options, std::ostream& output)
      : output_(output), utc_offset_s_(local_utc_offset_s()), renderer_(utc_offset_s_) {
    mc::ClientOptions client_options;
    client_options.url = options.url;
    client_options.token = options.token;
    client_options.ca_file = options.ca_file;
    client_options.client_name = "mend-cli/0.1";
    if (::pipe(wake_pipe_) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
    client_.emplace(std::move(client_options), handlers());
  }

  ~Session() {
    stop_timer();
    client_.reset();  // no handler runs after this
    for (const int fd : wake_pipe_) {
      if (fd >= 0) ::close(fd);
    }
  }

  int run(int input_fd) {
    if (const mc::ClientError error = client_->start()) {
      print({"Cannot connect: " + error.message});
      return 2;
    }
    print({"Connecting... (type /help for commands, Ctrl-D to leave this screen)"});
    timer_ = std::thread([this] { timer_loop(); });
    read_input(input_fd);
    stop_timer();
    client_->stop();
    return closed_for_good_.load() ? 1 : 0;
  }

 private:
  // ---- output ---------------------------------------------------------------------------

  void print(const std::vector<std::string>& lines) {
    std::lock_guard lock(output_mutex_);
    for (const std::string& line : lines) output_ << line << '\n';
    output_.flush();
  }

  std::int64_t server_now_ms() const { return system_now_ms() + skew_ms_.load(); }

  std::shared_ptr<const v1::RoomView> view() const { return client_->view(); }

  // ---- handlers (the SDK's thread) ------------------------------------------------------

  mc::ClientHandlers handlers() {
    mc::ClientHandlers handlers;
    handlers.on_welcome = [this](const v1::Welcome& welcome) { on_welcome(welcome); };
    handlers.on_reset = [this](const v1::RoomView& view) {
      renderer_.reset();
      print({"(Part of the history could not be recovered; here is where things stand.)"});
      print(describe_opening(view));
    };
    handlers.on_event = [this](const v1::Event& event) { on_event(event); };
    handlers.on_view = [this](const v1::RoomView& view) { on_view(view); };
    handlers.on_replay_done = [this](std::uint64_t) {
      replaying_ = false;
      if (const auto current = view()) on_view(*current);
    };
    handlers.on_presence = [this](const v1::Presence& presence) { on_presence(presence); };
    handlers.on_state = [this](mc::ConnectionState state, const mc::ClientError&) {
      if (state == mc::ConnectionState::kWaiting && !lost_shown_) {
        lost_shown_ = true;
        print({"Connection lost; reconnecting. Nothing is lost."});
      }
    };
    handlers.on_closed = [this](const mc::ClientError& error) {
      closed_for_good_ = true;
      print({closed_reason(error)});
      wake_input();
    };
    return handlers;
  }

  void on_welcome(const v1::Welcome& welcome) {
    skew_ms_ = welcome.server_time_ms() - system_now_ms();
    replaying_ = true;
    lost_shown_ = false;
    observer_ = welcome.participant().role() == v1::OBSERVER;
    if (welcomes_++ == 0) {
      print({"Connected as " + who_am_i(welcome.view()) + "."});
    } else {
      print({"Reconnected; picking up where you left off."});
    }
  }

  void on_event(const v1::Event& event) {
    const auto current = view();
    const v1::RoomView empty;
    print(renderer_.render(event, current ? *current : empty));
  }

  void on_view(const v1::RoomView& view) {
    if (replaying_) return;
    std::vector<std::string> lines;
    if (view.prompt() != last_prompt_) {
      last_prompt_ = view.prompt();
      if (!last_prompt_.empty()) lines.push_back("Prompt: " + last_prompt_);
    }
    std::vector<std::string> block = status_block(view, server_now_ms(), utc_offset_s_);
    if (block != last_block_) {
      last_block_ = block;
      lines.insert(lines.end(), block.begin(), block.end());
    }
    if (!lines.empty()) print(lines);
    maybe_join(view);
  }

  void on_presence(const v1::Presence& presence) {
    std::set<std::string> online;
    const auto current = view();
    if (!current) return;
    for (const v1::Actor& actor : presence.online()) {
      if (actor.role() == current->you().role() && actor.observer() == current->you().observer()) {
        continue;
      }
      online.insert(actor_name(*current, actor));
    }
    std::vector<std::string> lines;
    for (const std::string& name : online) {
      if (!online_.contains(name)) lines.push_back(name + " is here.");
    }
    for (const std::string& name : online_) {
      if (!online.contains(name)) lines.push_back(name + " is offline for now.");
    }
    online_ = std::move(online);
    print(lines);
  }

  // An observer enters the room as soon as both partners welcomed it.
  void maybe_join(const v1::RoomView& view) {
    if (!observer_ || !allows(view, v1::ACTION_JOIN) || join_tried_at_seq_ == view.last_seq()) {
      return;
    }
    join_tried_at_seq_ = view.last_seq();
    v1::Command join;
    join.mutable_join();
    print({"Both partners welcomed you; joining the room."});
    send(std::move(join));
  }

  // ---- commands -------------------------------------------------------------------------

  void send(v1::Command command) {
    v1::Command copy = command;
    client_->send(std::move(command), [this, copy = std::move(copy)](mc::CommandOutcome outcome) {
      on_outcome(copy, outcome);
    });
  }

  void on_outcome(const v1::Command& command, const mc::CommandOutcome& outcome) {
    if (!outcome.error.ok()) {
      if (outcome.error.code != mc::ErrorCode::kStopped) {
        print({"Could not send this: " + outcome.error.message});
      }
      return;
    }
    const v1::CommandResult& result = outcome.result;
    if (result.accepted()) {
      std::vector<std::string> lines;
      for (const v1::Hint& hint : result.hints()) lines.push_back(describe_hint(hint));
      print(lines);
      return;
    }
    const v1::Rejection& rejection = result.rejection();
    if (rejection.code() == v1::TOO_SOON && command.has_reflect()) {
      schedule_resend(command, rejection.retry_after_ms());
      return;
    }
    print({describe_rejection(rejection)});
  }

  // A reflection sent before the reflection beat goes out again once the beat has passed.
  void schedule_resend(v1::Command command, std::uint32_t after_ms) {
    command.clear_command_id();  // a new attempt, not a retry of the refused one
    print({"Take a breath: your reflection goes out in " +
           format_duration(std::chrono::seconds((after_ms + 999) / 1000)) + "."});
    std::lock_guard lock(timer_mutex_);
    resends_.push_back({Clock::now() + std::chrono::milliseconds(after_ms), std::move(command)});
    timer_wake_.notify_all();
  }

  // ---- timer thread ---------------------------------------------------------------------

  struct Resend {
    Clock::time_point due;
    v1::Command command;
  };

  void timer_loop() {
    std::unique_lock lock(timer_mutex_);
    while (!timer_stop_) {
      timer_wake_.wait_for(lock, kTimerPeriod);
      if (timer_stop_) return;
      std::vector<v1::Command> due;
      const auto now = Clock::now();
      for (auto it = resends_.begin(); it != resends_.end();) {
        if (it->due <= now) {
          due.push_back(std::move(it->command));
          it = resends_.erase(it);
        } else {
          ++it;
        }
      }
      lock.unlock();
      for (v1::Command& command : due) send(std::move(command));
      show_countdown();
      lock.lock();
    }
  }

  void show_countdown() {
    const auto current = view();
    if (!current || replaying_) return;
    const std::int64_t now = server_now_ms();
    const auto text = describe_countdown(*current, now, utc_offset_s_);
    if (!text) {
      countdown_deadline_ = 0;
      return;
    }
    const std::int64_t deadline = current->phase() == v1::PHASE_INVITED
                                      ? current->appointment_at_ms()
                                      : current->overlay_ends_at_ms();
    const std::int64_t local_now = system_now_ms();
    if (deadline != countdown_deadline_ ||
        local_now - countdown_shown_at_ms_ >= countdown_interval_ms(deadline - now)) {
      countdown_deadline_ = deadline;
      countdown_shown_at_ms_ = local_now;
      print({"   " + *text});
    }
  }

  void stop_timer() {
    {
      std::lock_guard lock(timer_mutex_);
      timer_stop_ = true;
    }
    timer_wake_.notify_all();
    if (timer_.joinable()) timer_.join();
  }

  // ---- input ----------------------------------------------------------------------------

  void wake_input() {
    const char byte = 1;
    if (wake_pipe_[1] >= 0) [[maybe_unused]] auto n = ::write(wake_pipe_[1], &byte, 1);
  }

  void read_input(int input_fd) {
    std::string pending;
    char chunk[4096];
    bool done = false;
    while (!done && !closed_for_good_) {
      pollfd fds[2] = {{input_fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      if (::poll(fds, wake_pipe_[0] >= 0 ? 2 : 1, -1) < 0) continue;
      if (fds[1].revents != 0 || closed_for_good_) break;
      const ssize_t n = ::read(input_fd, chunk, sizeof chunk);
      if (n <= 0) break;  // end of input (Ctrl-D) or error
      pending.append(chunk, static_cast<std::size_t>(n));
      std::size_t newline;
      while (!done && (newline = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        done = !handle_line(line);
      }
      if (pending.size() > kMaxLineBytes) pending.clear();
    }
  }

  // Returns false when the session should end.
  bool handle_line(const std::string& line) {
    const auto current = view();
    LineContext context{current.get(), server_now_ms(), utc_offset_s_};
    LineAction action = interpret_line(line, context);
    switch (action.kind) {
      case LineAction::Kind::kNothing: return true;
      case LineAction::Kind::kSend: send(std::move(action.command)); return true;
      case LineAction::Kind::kHelp: print({help_text(observer_)}); return true;
      case LineAction::Kind::kStatus:
        if (current) {
          print(describe_opening(*current));
          print(status_block(*current, server_now_ms(), utc_offset_s_));
          if (auto text = describe_countdown(*current, server_now_ms(), utc_offset_s_)) {
            print({"   " + *text});
          }
        }
        return true;
      case LineAction::Kind::kQuit: return false;
      case LineAction::Kind::kReconnect:
        client_->drop_connection();  // on_state tells about the reconnection
        return true;
      case LineAction::Kind::kMessage: print({action.message}); return true;
    }
    return true;
  }

  std::ostream& output_;
  std::mutex output_mutex_;
  const int utc_offset_s_;
  std::atomic<std::int64_t> skew_ms_{0};
  std::atomic<bool> closed_for_good_{false};
  std::atomic<bool> replaying_{true};
  std::atomic<bool> observer_{false};
  int wake_pipe_[2] = {-1, -1};

  // Used on the SDK's thread only.
  EventRenderer renderer_;
  int welcomes_ = 0;
  bool lost_shown_ = false;
  std::string last_prompt_;
  std::vector<std::string> last_block_;
  std::set<std::string> online_;
  std::uint64_t join_tried_at_seq_ = 0;

  // Used on the timer thread only.
  std::int64_t countdown_deadline_ = 0;
  std::int64_t countdown_shown_at_ms_ = 0;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  bool timer_stop_ = false;
  std::vector<Resend> resends_;
  std::thread timer_;

  std::optional<mc::Client> client_;
};

}  // namespace

int run_join(const JoinOptions& options, int input_fd, std::ostream& output) {
  Session session(options, output);
  return session.run(input_fd);
}

}  // namespace mend::cli
