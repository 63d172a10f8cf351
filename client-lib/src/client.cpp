#include "mend/client.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/websocket/error.hpp>
#include <google/protobuf/arena.h>

#include "mend/event_sequencer.h"
#include "mend/url.h"
#include "tls.h"
#include "transport.h"

namespace mend::client {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

const char* connection_state_name(ConnectionState state) {
  switch (state) {
    case ConnectionState::kIdle: return "idle";
    case ConnectionState::kConnecting: return "connecting";
    case ConnectionState::kOnline: return "online";
    case ConnectionState::kWaiting: return "waiting";
    case ConnectionState::kOffline: return "offline";
    case ConnectionState::kClosed: return "closed";
  }
  return "unknown";
}

namespace {

ClientError make_error(ErrorCode code, std::string message, std::uint16_t close_code = 0) {
  ClientError error;
  error.code = code;
  error.close_code = close_code;
  error.message = std::move(message);
  return error;
}

CommandOutcome failed(const ClientError& error) {
  CommandOutcome outcome;
  outcome.error = error;
  return outcome;
}

// A frame decoded on an arena of its own: its messages are carved out of a few blocks instead of
// one allocation per string and list, and the view it carries is published by sharing the frame
// (an aliasing shared_ptr), not by copying it.
struct DecodedFrame {
  static google::protobuf::ArenaOptions arena_options() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 4096;  // a frame with a view and a few events, in one block
    return options;
  }

  google::protobuf::Arena arena{arena_options()};
  v1::ServerFrame* frame = google::protobuf::Arena::CreateMessage<v1::ServerFrame>(&arena);
};
using DecodedFramePtr = std::shared_ptr<const DecodedFrame>;

}  // namespace

// Everything below runs on `strand_` unless said otherwise. The published_* members are the
// only state read from other threads (under `mutex_`).
class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(ClientOptions options, ClientHandlers handlers, net::any_io_executor executor)
      : options_(std::move(options)),
        handlers_(std::move(handlers)),
        strand_(net::make_strand(std::move(executor))),
        random_(options_.random ? options_.random : system_random()),
        backoff_(options_.backoff, random_),
        sequencer_(options_.room_epoch, options_.resume_after_seq),
        pending_(options_.max_pending_commands),
        resolver_(strand_),
        retry_timer_(strand_),
        keepalive_timer_(strand_),
        published_last_seq_(options_.resume_after_seq),
        published_epoch_(options_.room_epoch) {}

  // Any thread. Validates synchronously, then connects on the strand.
  ClientError start() {
    {
      std::lock_guard lock(mutex_);
      if (started_) return make_error(ErrorCode::kInvalidArgument, "start() was already called");
      started_ = true;
    }
    auto url = parse_server_url(options_.url);
    if (!url) return make_error(ErrorCode::kInvalidArgument, "malformed server URL");
    if (options_.token.empty()) return make_error(ErrorCode::kInvalidArgument, "empty token");
    url->target = connect_target(url->target, options_.token);
    if (url->tls) {
      ClientError error;
      tls_ = detail::make_tls_context(options_.ca_file, error);
      if (!tls_) return error;
    }
    url_ = std::move(*url);
    net::post(strand_, [self = shared_from_this()] { self->connect(); });
    return {};
  }

  // Any thread: runs inline when already on the strand, else waits for the strand.
  void stop() {
    if (strand_.running_in_this_thread()) return stop_here();
    std::promise<void> done;
    auto finished = done.get_future();
    net::post(strand_, [self = shared_from_this(), &done] {
      self->stop_here();
      done.set_value();
    });
    finished.wait();
  }

  void submit(v1::Command command, CommandCompletion done) {
    if (closed_) return done(failed(closed_error_));
    if (command.body_case() == v1::Command::BODY_NOT_SET) {
      return done(failed(make_error(ErrorCode::kInvalidArgument, "the command has no body")));
    }
    if (command.command_id().empty()) command.set_command_id(make_command_id(random_));
    const std::string id = command.command_id();
    if (ClientError error = pending_.admissible(id); !error.ok()) return done(failed(error));
    v1::ClientFrame frame;
    *frame.mutable_command() = command;
    if (frame.ByteSizeLong() > options_.max_command_bytes) {
      return done(failed(make_error(ErrorCode::kFrameTooLarge,
                                    "the command is larger than the server accepts (" +
                                        std::to_string(frame.ByteSizeLong()) + " bytes)")));
    }
    pending_.add(std::move(command), std::move(done));
    if (welcomed_) {
      pending_.record_send(id);
      write(frame);
    }
  }

  void typing(bool is_typing) {
    if (closed_ || !welcomed_) return;
    v1::ClientFrame frame;
    frame.mutable_typing()->set_typing(is_typing);
    write(frame);
  }

  void set_online(bool online) {
    if (closed_ || online == online_wanted_ || !started_on_strand_) {
      online_wanted_ = online;
      return;
    }
    online_wanted_ = online;
    if (online) {
      backoff_.reset();
      connect();
      return;
    }
    retry_timer_.cancel();
    release_transport(/*graceful=*/true);
    set_state(ConnectionState::kOffline, {});
  }

  void drop_connection() {
    if (closed_ || !transport_) return;
    lost(generation_, make_error(ErrorCode::kNetwork, "connection dropped by the application"));
  }

  net::strand<net::any_io_executor>& strand() { return strand_; }

  // Published state, any thread.
  std::shared_ptr<const v1::RoomView> view() const {
    std::lock_guard lock(mutex_);
    return published_view_;
  }
  ConnectionState state() const {
    std::lock_guard lock(mutex_);
    return published_state_;
  }
  std::optional<v1::Actor> participant() const {
    std::lock_guard lock(mutex_);
    return published_participant_;
  }
  std::string room_id() const {
    std::lock_guard lock(mutex_);
    return published_room_id_;
  }
  std::uint64_t last_delivered_seq() const { return published_last_seq_.load(); }
  std::uint64_t epoch() const { return published_epoch_.load(); }

 private:
  bool current(std::uint64_t generation) const { return !closed_ && generation == generation_; }

  void connect() {
    started_on_strand_ = true;
    if (closed_ || !online_wanted_) return;
    retry_timer_.cancel();
    release_transport(/*graceful=*/false);
    const std::uint64_t generation = generation_;
    set_state(ConnectionState::kConnecting, {});
    transport_ = detail::make_transport(
        strand_, tls_ ? &*tls_ : nullptr, url_,
        {options_.connect_timeout, options_.idle_timeout, options_.max_frame_bytes,
         options_.client_name});
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = shared_from_this(), generation](beast::error_code ec,
                                                tcp::resolver::results_type endpoints) {
          if (!self->current(generation)) return;
          if (ec) return self->lost(generation, self->network_error("resolve", ec));
          self->transport_->open(endpoints, [self, generation](beast::error_code open_ec) {
            if (!self->current(generation)) return;
            if (open_ec) return self->lost(generation, self->network_error("connect", open_ec));
            self->opened(generation);
          });
        });
  }

  ClientError network_error(const char* step, const beast::error_code& ec) const {
    return make_error(ErrorCode::kNetwork, std::string(step) + " failed: " + ec.message());
  }

  // Ends the current transport (if any); every callback of it becomes stale.
  void release_transport(bool graceful) {
    ++generation_;
    keepalive_timer_.cancel();
    welcomed_ = false;
    writing_ = false;
    write_queue_.clear();
    if (!transport_) return;
    auto transport = std::move(transport_);
    if (graceful && transport_open_) {
      transport->close([transport](beast::error_code) {});
    } else {
      transport->abort();
    }
    transport_open_ = false;
  }

  void opened(std::uint64_t generation) {
    transport_open_ = true;
    v1::ClientFrame frame;
    v1::Hello& hello = *frame.mutable_hello();
    hello.set_token(options_.token);
    hello.set_room_epoch(sequencer_.epoch());
    hello.set_resume_after_seq(sequencer_.last_delivered());
    hello.set_client_name(options_.client_name);
    write(frame);
    read_next(generation);
  }

  void read_next(std::uint64_t generation) {
    transport_->read([self = shared_from_this(), generation, transport = transport_](
                         beast::error_code ec, const beast::flat_buffer& buffer) {
      if (!self->current(generation)) return;
      if (ec) return self->read_failed(generation, *transport, ec);
      auto decoded = std::make_shared<DecodedFrame>();
      const auto data = buffer.cdata();
      if (!decoded->frame->ParseFromArray(data.data(), static_cast<int>(data.size()))) {
        return self->lost(generation, make_error(ErrorCode::kProtocol, "undecodable frame"));
      }
      self->handle_frame(generation, std::move(decoded));
      if (self->current(generation)) self->read_next(generation);
    });
  }

  void read_failed(std::uint64_t generation, const detail::Transport& transport,
                   const beast::error_code& ec) {
    if (ec != beast::websocket::error::closed) {
      return lost(generation, network_error("read", ec));
    }
    const std::uint16_t code = transport.close_code();
    const std::string reason = transport.close_reason();
    if (code == kCloseFrameTooLarge && fail_largest_sent_command()) {
      return lost(generation, make_error(ErrorCode::kFrameTooLarge,
                                         "the server refused a frame as too large (1009)", code));
    }
    if (!is_resumable_close(code)) {
      return close_for_good(make_error(ErrorCode::kTerminalClose,
                                       "the server closed the connection for good (" +
                                           std::to_string(code) + " " + reason + ")",
                                       code));
    }
    lost(generation, make_error(ErrorCode::kNetwork, "the server closed the connection (" +
                                                         std::to_string(code) + " " + reason + ")",
                                code));
  }

  // After a 1009 close: fails the largest command sent and not answered (the one that was over
  // the server's limit), so it is not resent forever. False when none was waiting.
  bool fail_largest_sent_command() {
    const v1::Command* largest = nullptr;
    for (const v1::Command* command : pending_.in_order()) {
      if (pending_.sends(command->command_id()) == 0) continue;
      if (largest == nullptr || command->ByteSizeLong() > largest->ByteSizeLong()) {
        largest = command;
      }
    }
    if (largest == nullptr) return false;
    auto done = pending_.resolve(largest->command_id());
    (*done)(failed(make_error(ErrorCode::kFrameTooLarge,
                              "the server refused this command as too large (1009)",
                              kCloseFrameTooLarge)));
    return true;
  }

  // The connection of `generation` is gone: wait out the backoff delay, then reconnect.
  void lost(std::uint64_t generation, const ClientError& why) {
    if (!current(generation)) return;
    release_transport(/*graceful=*/false);
    if (!online_wanted_) return;
    const auto delay = backoff_.next();
    if (!delay) {
      return close_for_good(make_error(ErrorCode::kGaveUp, "gave up reconnecting: " + why.message,
                                       why.close_code));
    }
    set_state(ConnectionState::kWaiting, why);
    retry_timer_.expires_after(*delay);
    retry_timer_.async_wait(
        [self = shared_from_this(), generation = generation_](beast::error_code ec) {
          if (ec || !self->current(generation)) return;
          self->connect();
        });
  }

  void handle_frame(std::uint64_t generation, const DecodedFramePtr& decoded) {
    const v1::ServerFrame& frame = *decoded->frame;
    std::vector<std::pair<CommandCompletion, CommandOutcome>> answered;
    for (const v1::ServerItem& item : frame.items()) {
      if (!current(generation)) return;
      handle_item(decoded, item, answered);
    }
    if (!current(generation)) return;
    if (frame.has_view()) publish_view({decoded, &frame.view()});
    for (auto& [done, outcome] : answered) {
      if (closed_) return;
      done(std::move(outcome));
    }
  }

  // `item` is one of `decoded`'s.
  void handle_item(const DecodedFramePtr& decoded, const v1::ServerItem& item,
                   std::vector<std::pair<CommandCompletion, CommandOutcome>>& answered) {
    switch (item.body_case()) {
      case v1::ServerItem::kWelcome: return welcome(decoded, item.welcome());
      case v1::ServerItem::kResult: {
        if (auto done = pending_.resolve(item.result().command_id())) {
          CommandOutcome outcome;
          outcome.result = item.result();
          answered.emplace_back(std::move(*done), std::move(outcome));
        }
        return;
      }
      case v1::ServerItem::kEvent: return deliver(item.event());
      case v1::ServerItem::kHeartbeat: {
        v1::ClientFrame ack;
        ack.mutable_heartbeat_ack()->set_last_seq_received(sequencer_.last_delivered());
        return write(ack);
      }
      case v1::ServerItem::kPresence:
        if (handlers_.on_presence) handlers_.on_presence(item.presence());
        return;
      case v1::ServerItem::kTyping:
        if (handlers_.on_typing) handlers_.on_typing(item.typing());
        return;
      case v1::ServerItem::kReplayDone:
        if (handlers_.on_replay_done) handlers_.on_replay_done(item.replay_done().last_seq());
        return;
      case v1::ServerItem::kContentErased:
        if (handlers_.on_content_erased) handlers_.on_content_erased(item.content_erased());
        return;
      case v1::ServerItem::kInsights:
        if (handlers_.on_insights) handlers_.on_insights(item.insights());
        return;
      case v1::ServerItem::kRoomErasureRequested:
        if (handlers_.on_room_erasure_requested) {
          handlers_.on_room_erasure_requested(item.room_erasure_requested());
        }
        return;
      case v1::ServerItem::BODY_NOT_SET: return;
    }
  }

  // `welcome` is one of `decoded`'s items.
  void welcome(const DecodedFramePtr& decoded, const v1::Welcome& welcome) {
    welcomed_ = true;
    backoff_.reset();
    const auto outcome =
        sequencer_.on_welcome(welcome.epoch(), welcome.recovered(), welcome.view().last_seq());
    published_epoch_.store(sequencer_.epoch());
    published_last_seq_.store(sequencer_.last_delivered());
    {
      std::lock_guard lock(mutex_);
      published_participant_ = welcome.participant();
      published_room_id_ = welcome.room_id();
      published_view_ = std::shared_ptr<const v1::RoomView>(decoded, &welcome.view());
    }
    set_state(ConnectionState::kOnline, {});
    schedule_keepalive(generation_);
    if (handlers_.on_welcome) handlers_.on_welcome(welcome);
    if (outcome == EventSequencer::WelcomeOutcome::kReset && handlers_.on_reset) {
      handlers_.on_reset(welcome.view());
    }
    if (handlers_.on_view) handlers_.on_view(welcome.view());
    resend_pending();
  }

  void schedule_keepalive(std::uint64_t generation) {
    if (options_.keepalive_interval.count() <= 0) return;
    keepalive_timer_.expires_after(options_.keepalive_interval);
    keepalive_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (ec || !self->current(generation) || !self->welcomed_) return;
      const auto quiet = std::chrono::steady_clock::now() - self->last_write_;
      if (quiet >= self->options_.keepalive_interval) {
        v1::ClientFrame ack;
        ack.mutable_heartbeat_ack()->set_last_seq_received(self->sequencer_.last_delivered());
        self->write(ack);
      }
      self->schedule_keepalive(generation);
    });
  }

  void resend_pending() {
    for (const v1::Command* command : pending_.in_order()) {
      v1::ClientFrame frame;
      *frame.mutable_command() = *command;
      pending_.record_send(command->command_id());
      write(frame);
    }
  }

  void deliver(const v1::Event& event) {
    if (!sequencer_.accept(event.seq())) return;
    published_last_seq_.store(sequencer_.last_delivered());
    if (handlers_.on_event) handlers_.on_event(event);
    if (auto it = handlers_.by_kind.find(static_cast<int>(event.body_case()));
        it != handlers_.by_kind.end() && it->second) {
      it->second(event);
    }
  }

  // `view` shares the frame it was decoded from.
  void publish_view(std::shared_ptr<const v1::RoomView> view) {
    const v1::RoomView& current = *view;
    std::shared_ptr<const v1::RoomView> previous;  // its frame is freed outside the lock
    {
      std::lock_guard lock(mutex_);
      previous = std::exchange(published_view_, std::move(view));
    }
    if (handlers_.on_view) handlers_.on_view(current);
  }

  void write(const v1::ClientFrame& frame) {
    if (!transport_) return;
    last_write_ = std::chrono::steady_clock::now();
    write_queue_.push_back(std::make_shared<const std::string>(frame.SerializeAsString()));
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    transport_->write(write_queue_.front(),
                      [self = shared_from_this(), generation = generation_](beast::error_code ec) {
                        if (!self->current(generation)) return;
                        if (ec) return self->lost(generation, self->network_error("write", ec));
                        self->write_queue_.pop_front();
                        self->writing_ = false;
                        if (!self->write_queue_.empty()) self->write_next();
                      });
  }

  void fail_pending(const ClientError& error) {
    for (CommandCompletion& done : pending_.take_all()) done(failed(error));
  }

  void close_for_good(const ClientError& error) {
    if (closed_) return;
    retry_timer_.cancel();
    resolver_.cancel();
    release_transport(/*graceful=*/false);
    closed_ = true;
    closed_error_ = error;
    fail_pending(error);
    set_state(ConnectionState::kClosed, error);
    if (handlers_.on_closed) handlers_.on_closed(error);
  }

  void stop_here() {
    if (closed_) return;
    retry_timer_.cancel();
    resolver_.cancel();
    release_transport(/*graceful=*/true);
    closed_ = true;
    closed_error_ = make_error(ErrorCode::kStopped, "the client was stopped");
    fail_pending(closed_error_);
    std::lock_guard lock(mutex_);
    published_state_ = ConnectionState::kClosed;
  }

  void set_state(ConnectionState state, const ClientError& why) {
    {
      std::lock_guard lock(mutex_);
      if (published_state_ == state) return;
      published_state_ = state;
    }
    if (handlers_.on_state) handlers_.on_state(state, why);
  }

  ClientOptions options_;
  ClientHandlers handlers_;
  net::strand<net::any_io_executor> strand_;
  RandomSource random_;
  ServerUrl url_;
  std::optional<net::ssl::context> tls_;

  // Strand-only state.
  Backoff backoff_;
  EventSequencer sequencer_;
  PendingCommands pending_;
  tcp::resolver resolver_;
  net::steady_timer retry_timer_;
  net::steady_timer keepalive_timer_;
  std::chrono::steady_clock::time_point last_write_{};
  std::shared_ptr<detail::Transport> transport_;
  bool transport_open_ = false;
  std::uint64_t generation_ = 0;  // bumped whenever a transport ends; stale callbacks see it
  bool welcomed_ = false;
  bool online_wanted_ = true;
  bool started_on_strand_ = false;
  bool closed_ = false;
  ClientError closed_error_;
  std::deque<std::shared_ptr<const std::string>> write_queue_;
  bool writing_ = false;

  // Published state.
  mutable std::mutex mutex_;
  bool started_ = false;
  ConnectionState published_state_ = ConnectionState::kIdle;
  std::shared_ptr<const v1::RoomView> published_view_;
  std::optional<v1::Actor> published_participant_;
  std::string published_room_id_;
  std::atomic<std::uint64_t> published_last_seq_;
  std::atomic<std::uint64_t> published_epoch_;
};

struct Client::ThreadOwner {
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::thread thread;

  void run() {
    thread = std::thread([this] {
      for (;;) {
        try {
          io.run();
          return;
        } catch (...) {
          // A handler threw; the contract says they must not. Keep the client alive.
        }
      }
    });
  }
};

Client::Client(ClientOptions options, ClientHandlers handlers) {
  net::any_io_executor executor;
  if (options.executor) {
    executor = *options.executor;
  } else {
    own_thread_ = std::make_unique<ThreadOwner>();
    executor = own_thread_->io.get_executor();
  }
  impl_ = std::make_shared<Impl>(std::move(options), std::move(handlers), std::move(executor));
  if (own_thread_) own_thread_->run();
}

Client::~Client() {
  impl_->stop();
  if (own_thread_) {
    own_thread_->work.reset();
    own_thread_->thread.join();
  }
}

ClientError Client::start() { return impl_->start(); }
void Client::stop() { impl_->stop(); }

std::future<CommandOutcome> Client::send(v1::Command command) {
  auto promise = std::make_shared<std::promise<CommandOutcome>>();
  auto future = promise->get_future();
  send(std::move(command),
       [promise](CommandOutcome outcome) { promise->set_value(std::move(outcome)); });
  return future;
}

void Client::send(v1::Command command, CommandCompletion done) {
  net::post(impl_->strand(), [impl = impl_, command = std::move(command),
                              done = std::move(done)]() mutable {
    impl->submit(std::move(command), std::move(done));
  });
}

void Client::send_typing(bool typing) {
  net::post(impl_->strand(), [impl = impl_, typing] { impl->typing(typing); });
}

void Client::set_online(bool online) {
  net::post(impl_->strand(), [impl = impl_, online] { impl->set_online(online); });
}

void Client::drop_connection() {
  net::post(impl_->strand(), [impl = impl_] { impl->drop_connection(); });
}

std::shared_ptr<const v1::RoomView> Client::view() const { return impl_->view(); }
ConnectionState Client::state() const { return impl_->state(); }
std::optional<v1::Actor> Client::participant() const { return impl_->participant(); }
std::string Client::room_id() const { return impl_->room_id(); }
std::uint64_t Client::last_delivered_seq() const { return impl_->last_delivered_seq(); }
std::uint64_t Client::epoch() const { return impl_->epoch(); }

}  // namespace mend::client
