#include "server/net/sessions.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <unistd.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "mend/v1/frames.pb.h"
#include "server/net/http_api.h"
#include "server/net/op_memory.h"
#include "server/net/request_checks.h"
#include "server/net/static_files.h"
#include "server/net/tls_stream.h"
#include "server/rooms/fifo.h"
#include "server/rooms/tokens.h"

namespace mend::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

using PlainStream = beast::tcp_stream;

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

constexpr std::string_view kSubprotocol = "mend.v1";
constexpr std::string_view kConnectPath = "/v1/connect";

// The room named by a WebSocket upgrade's path: "" for /v1/connect, the id for
// /v1/connect/{room} (the router hashes on it; the token in Hello stays the credential);
// nullopt for any other path or a malformed id.
std::optional<std::string> connect_room(std::string_view path) {
  if (path == kConnectPath) return std::string();
  if (!path.starts_with(kConnectPath) || path.size() <= kConnectPath.size() + 1 ||
      path[kConnectPath.size()] != '/') {
    return std::nullopt;
  }
  const std::string_view room = path.substr(kConnectPath.size() + 1);
  if (!rooms::is_valid_room_id(room)) return std::nullopt;
  return std::string(room);
}
constexpr std::uint32_t kHttpHeaderLimit = 8 * 1024;
constexpr std::size_t kReadBufferKeep = 4 * 1024;  // shrink the read buffer above this
// A message's first read asks for at most this much of the read buffer: Beast would prepare
// 1,536 bytes before any byte arrives, which every idle connection's pending read then holds.
// The rest of a longer message is read in a second pass.
constexpr std::size_t kFirstReadBytes = 512;

// The canned answer to plaintext from a non-loopback peer (no request was parsed yet).
constexpr std::string_view kTlsRequiredResponse =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: 84\r\n\r\n"
    R"({"code":"TLS_REQUIRED","message":"This server accepts plaintext only from loopback."})";

bool is_loopback(const asio::ip::address& address) {
  if (address.is_loopback()) return true;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return false;
}

// Whether the upgrade request offers the mend.v1 subprotocol.
bool offers_subprotocol(const HttpRequest& request) {
  auto it = request.find(http::field::sec_websocket_protocol);
  if (it == request.end()) return false;
  std::string_view offered(it->value().data(), it->value().size());
  while (!offered.empty()) {
    const auto comma = offered.find(',');
    std::string_view token = offered.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == kSubprotocol) return true;
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return false;
}

constexpr const char* kShutdownReason = "server shutting down; reconnect";

std::string close_metric(std::uint16_t code) { return "CLOSE_" + std::to_string(code); }

// ------------------------------------------------------------------------------------------
// WebSocket connection of one participant.

template <class Stream>
class WsSession final : public rooms::Recipient,
                        public Closable,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, std::shared_ptr<ServerState> state, IpLimiter::Slot slot)
      : state_(std::move(state)),
        slot_(std::move(slot)),
        ws_(std::move(stream)),
        timer_(ws_.get_executor()),
        home_(static_cast<asio::io_context&>(
                  asio::query(ws_.get_executor(), asio::execution::context))) {
    state_->metrics.connection_opened(role_);
  }

  ~WsSession() override {
    state_->metrics.connection_closed(role_);
    state_->metrics.queued_bytes_added(-static_cast<std::int64_t>(queued_bytes_.load()));
  }

  // `room`: the room of the connect path ("" for plain /v1/connect): the Hello's token must be
  // for it.
  void run(HttpRequest request, std::string room) {
    connect_room_ = std::move(room);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{state_->config.handshake_timeout,
                                                   websocket::stream_base::none(), false});
    websocket::permessage_deflate deflate;  // off: binary frames; memory (DESIGN 5)
    deflate.server_enable = false;
    deflate.client_enable = false;
    ws_.set_option(deflate);
    ws_.read_message_max(state_->config.read_message_max);
    ws_.auto_fragment(false);
    ws_.binary(true);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::server, "mendd");
      response.set(http::field::sec_websocket_protocol, kSubprotocol);
    }));
    registry_id_ = state_->websockets.add(this->weak_from_this());
    auto self = this->shared_from_this();
    ws_.async_accept(request, [self](beast::error_code ec) { self->on_accept(ec); });
  }

  // rooms::Recipient: any thread.
  void send(rooms::OutFrame frame) override {
    if (!frame.bytes || send_closed_.load(std::memory_order_acquire)) return;
    count_if_cross_shard();
    if (!account(frame.bytes->size())) {
      if (!send_closed_.exchange(true)) {
        asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
          self->state_->metrics.slow_consumer_closed();
          self->start_close(static_cast<std::uint16_t>(rooms::CloseCode::kSlowConsumer),
                            "outgoing queue over its bound");
        });
      }
      return;
    }
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
                 self->enqueue(std::move(frame));
               });
  }

  // A frame of an attach's Welcome, replay and ReplayDone: queued in order with the others
  // but outside the live bound, so a resume of any length completes in one connection; the
  // queue is written one frame per write completion (flow control), the replay first.
  void send_replay(rooms::OutFrame frame) override {
    if (!frame.bytes || send_closed_.load(std::memory_order_acquire)) return;
    count_if_cross_shard();
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
                 self->enqueue(std::move(frame), /*counted=*/false);
               });
  }

  void close(rooms::CloseCode code, std::string reason) override {
    send_closed_.store(true, std::memory_order_release);
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), code, reason = std::move(reason)] {
                 self->start_close(static_cast<std::uint16_t>(code), reason);
               });
  }

  // An attached participant first hears the result of its command whose commit is under way
  // (the room closes it after answering); any other connection closes at once.
  void close_for_shutdown() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      const auto code = rooms::CloseCode::kServerShutdown;
      if (self->phase_ == Phase::kAttached && self->participant_) {
        return self->state_->deps.rooms->close_after_answers(*self->participant_, self, code,
                                                             kShutdownReason);
      }
      self->start_close(static_cast<std::uint16_t>(code), kShutdownReason);
    });
  }

 private:
  enum class Phase : std::uint8_t { kHandshake, kAwaitingHello, kAttaching, kAttached,
                                    kClosing, kFinished };
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    bool counted;  // accounted against the live bound (replay frames are not)
  };

  // A frame handed to this connection from a thread that does not run its shard (any thread).
  void count_if_cross_shard() {
    if (!home_.get_executor().running_in_this_thread()) state_->metrics.cross_shard_post();
  }

  // A frame of this connection handed to its room, which lives on another shard (on the
  // strand).
  void count_if_room_elsewhere() {
    if (room_elsewhere_) state_->metrics.cross_shard_post();
  }

  // Queue accounting (any thread). False when the frame would exceed the bound.
  bool account(std::size_t bytes) {
    const auto total_bytes = queued_bytes_.fetch_add(bytes) + bytes;
    const auto total_frames = queued_frames_.fetch_add(1) + 1;
    if (total_bytes > state_->config.max_queued_bytes ||
        total_frames > state_->config.max_queued_frames) {
      unaccount(bytes);
      return false;
    }
    state_->metrics.queued_bytes_added(static_cast<std::int64_t>(bytes));
    return true;
  }

  void unaccount(std::size_t bytes) {
    queued_bytes_.fetch_sub(bytes);
    queued_frames_.fetch_sub(1);
  }

  void unaccount_sent(std::size_t bytes) {
    unaccount(bytes);
    state_->metrics.queued_bytes_added(-static_cast<std::int64_t>(bytes));
  }

  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    phase_ = Phase::kAwaitingHello;
    const auto now = SteadyClock::now();
    opened_ = last_read_ = last_sent_ = now;
    if (state_->draining.load()) {
      start_close(static_cast<std::uint16_t>(rooms::CloseCode::kServerShutdown),
                  kShutdownReason);
    }
    do_read();
    schedule();
  }

  void do_read() {
    if (reading_ || phase_ == Phase::kFinished) return;
    reading_ = true;
    auto read_done = [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    };
    const std::size_t limit = buffer_.size() == 0 ? kFirstReadBytes : 0;  // 0: as Beast sees fit
    ws_.async_read_some(buffer_, limit,
                        asio::bind_allocator(OpAllocator<std::byte>(), std::move(read_done)));
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        state_->metrics.rejection("FRAME_TOO_LARGE");
      }
      return finish();
    }
    last_read_ = SteadyClock::now();
    if (!ws_.is_message_done()) return do_read();  // the rest of this message
    state_->metrics.frame_in();
    if (phase_ == Phase::kClosing) {
      buffer_.consume(buffer_.size());
      return do_read();  // drain until the peer's close frame
    }
    if (!ws_.got_binary()) {
      buffer_.consume(buffer_.size());
      start_close(static_cast<std::uint16_t>(rooms::CloseCode::kMalformed),
                  "binary frames only");
      return do_read();
    }
    v1::ClientFrame frame;
    const auto data = buffer_.cdata();
    const bool parsed = frame.ParseFromArray(data.data(), static_cast<int>(data.size()));
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > kReadBufferKeep) buffer_.shrink_to_fit();
    if (!parsed) {
      start_close(static_cast<std::uint16_t>(rooms::CloseCode::kMalformed),
                  "frame is not a ClientFrame");
    } else {
      handle(std::move(frame));
    }
    if (phase_ != Phase::kAttaching) do_read();
  }

  void handle(v1::ClientFrame frame) {
    if (phase_ == Phase::kAwaitingHello) return handle_hello(frame);
    switch (frame.body_case()) {
      case v1::ClientFrame::kCommand:
        return handle_command(std::move(*frame.mutable_command()));
      case v1::ClientFrame::kHeartbeatAck:
        return;  // its arrival refreshed the silence deadline; the rooms need nothing of it
      case v1::ClientFrame::kTyping:
        count_if_room_elsewhere();
        return state_->deps.rooms->typing(*participant_, frame.typing().typing());
      case v1::ClientFrame::kHello:
        return start_close(static_cast<std::uint16_t>(rooms::CloseCode::kMalformed),
                           "Hello was already received");
      case v1::ClientFrame::BODY_NOT_SET:
        return start_close(static_cast<std::uint16_t>(rooms::CloseCode::kMalformed),
                           "frame without a body");
    }
  }

  void handle_hello(const v1::ClientFrame& frame) {
    const auto unauthenticated = static_cast<std::uint16_t>(rooms::CloseCode::kUnauthenticated);
    if (!frame.has_hello()) return start_close(unauthenticated, "the first frame must be Hello");
    auto who = frame.hello().token().empty()
                   ? std::nullopt
                   : state_->deps.verify_token(frame.hello().token(), state_->now_ms());
    if (!who) return start_close(unauthenticated, "invalid or expired token");
    if (!connect_room_.empty() && connect_room_ != who->room_id) {
      state_->metrics.rejection("ROOM_MISMATCH");
      return start_close(static_cast<std::uint16_t>(rooms::CloseCode::kRoomMismatch),
                         "the token is for another room than the connect URL");
    }
    std::string().swap(connect_room_);  // checked: the participant names the room from now on
    participant_ = std::move(*who);
    room_elsewhere_ = &state_->shard_of_room(participant_->room_id) != &home_;
    set_role(role_of(participant_->actor.role()));
    phase_ = Phase::kAttaching;
    std::weak_ptr<WsSession> weak = this->weak_from_this();
    auto executor = ws_.get_executor();
    count_if_room_elsewhere();
    state_->deps.rooms->attach(
        *participant_, frame.hello(), this->shared_from_this(),
        [weak, executor](std::optional<rooms::CloseCode> refused) {
          asio::post(executor, [weak, refused] {
            if (auto self = weak.lock()) self->on_attached(refused);
          });
        });
  }

  void on_attached(std::optional<rooms::CloseCode> refused) {
    if (phase_ != Phase::kAttaching) {
      // Closed meanwhile: the room must not keep this recipient.
      if (!refused && participant_) state_->deps.rooms->detach(*participant_, this);
      return;
    }
    if (refused) {
      start_close(static_cast<std::uint16_t>(*refused), "refused by the room");
      return do_read();
    }
    attached_ = true;
    phase_ = Phase::kAttached;
    do_read();
    schedule();
  }

  void handle_command(v1::Command command) {
    // Rate limits (RATE_LIMITED, then 4529) are per participant, in the rooms.
    count_if_room_elsewhere();
    state_->deps.rooms->submit(*participant_, std::move(command));
  }

  // Queues a frame produced by this session (on the strand).
  void send_local(const v1::ServerFrame& frame) {
    auto bytes = std::make_shared<const std::string>(frame.SerializeAsString());
    if (send_closed_.load()) return;
    if (!account(bytes->size())) {
      send_closed_.store(true);
      state_->metrics.slow_consumer_closed();
      return start_close(static_cast<std::uint16_t>(rooms::CloseCode::kSlowConsumer),
                         "outgoing queue over its bound");
    }
    enqueue(rooms::OutFrame{std::move(bytes), 0});
  }

  // Frames posted before a close decision reach here before its start_close (one strand, in
  // posting order), so they are queued and written first (see start_close); after it, dropped.
  // `counted`: the frame was accounted against the live bound (account()).
  void enqueue(rooms::OutFrame frame, bool counted = true) {
    if (phase_ >= Phase::kClosing) {
      if (counted) unaccount_sent(frame.bytes->size());
      return;
    }
    last_seq_sent_ = std::max(last_seq_sent_, frame.last_seq);
    queue_.push_back(Outgoing{std::move(frame.bytes), counted});
    if (!writing_) do_write();
  }

  void forget(const Outgoing& outgoing) {
    if (outgoing.counted) unaccount_sent(outgoing.frame->size());
  }

  void do_write() {
    writing_ = true;
    write_started_ = SteadyClock::now();
    auto write_done = [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_write(ec);
    };
    ws_.async_write(asio::buffer(*queue_.front().frame),
                    asio::bind_allocator(OpAllocator<std::byte>(), std::move(write_done)));
    schedule();
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    forget(queue_.front());
    rooms::pop_front(queue_);
    if (ec || phase_ == Phase::kFinished) return drop_queue();  // the read side ends it
    state_->metrics.frame_out();
    last_sent_ = SteadyClock::now();
    if (!queue_.empty()) return do_write();
    if (phase_ == Phase::kClosing) send_close_frame();
    schedule();  // the queue is empty: the next Heartbeat is due again
  }

  void drop_queue() {
    for (const Outgoing& outgoing : queue_) forget(outgoing);
    rooms::clear(queue_);
  }

  // Closes with `code`. Nothing queued after this decision is sent. The frames queued before
  // it are written first, then the close frame (e.g. ContentErased before 4503, the last
  // events before 4001), except for a slow consumer (4008): then only the write in flight
  // completes before the close frame. Either way the closing is bounded by the write-stall
  // timeout (a stuck peer is dropped, see on_timer).
  void start_close(std::uint16_t code, const std::string& reason) {
    send_closed_.store(true);
    // During the upgrade only the drain can ask; on_accept closes then (it checks draining).
    if (phase_ == Phase::kHandshake || phase_ >= Phase::kClosing) return;
    if (code != static_cast<std::uint16_t>(rooms::CloseCode::kServerShutdown)) {
      state_->metrics.rejection(close_metric(code));
    }
    spdlog::debug("ws session {}: closing with {} ({})", registry_id_, code, reason);
    phase_ = Phase::kClosing;
    close_started_ = SteadyClock::now();
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    const bool flush = code != static_cast<std::uint16_t>(rooms::CloseCode::kSlowConsumer);
    if (writing_) {
      if (!flush) {
        // Keep the frame in flight (its bytes are owned by the queue); drop the rest.
        auto in_flight = std::move(queue_.front());
        rooms::pop_front(queue_);
        drop_queue();
        queue_.push_back(std::move(in_flight));
      }
      // on_write continues with the queue, then the close frame.
    } else if (flush && !queue_.empty()) {
      do_write();
    } else {
      drop_queue();
      send_close_frame();
    }
    schedule();
  }

  void send_close_frame() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {
      if (!self->reading_) self->finish();
    });
  }

  // Tears the TCP connection down without a close handshake (stalled peer).
  void hard_close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  void finish() {
    if (phase_ == Phase::kFinished) return;
    phase_ = Phase::kFinished;
    send_closed_.store(true);
    timer_.cancel();
    if (!writing_) drop_queue();
    state_->websockets.remove(registry_id_);
    if (attached_ && participant_) state_->deps.rooms->detach(*participant_, this);
    attached_ = false;
    hard_close();
  }

  void set_role(ConnectionRole role) {
    state_->metrics.connection_closed(role_);
    role_ = role;
    state_->metrics.connection_opened(role_);
  }

  // ---- one timer for every deadline of this connection ----

  SteadyClock::time_point next_deadline() const {
    auto next = SteadyClock::time_point::max();
    const auto& config = state_->config;
    if (writing_) next = std::min(next, write_started_ + config.write_stall_timeout);
    switch (phase_) {
      case Phase::kAwaitingHello:
      case Phase::kAttaching:
        next = std::min(next, opened_ + config.hello_timeout);
        break;
      case Phase::kAttached:
        next = std::min(next, last_read_ + config.client_silence_timeout);
        if (!writing_ && queue_.empty()) {
          next = std::min(next, last_sent_ + config.heartbeat_interval);
        }
        break;
      case Phase::kClosing:
        next = std::min(next, close_started_ + config.write_stall_timeout);
        break;
      default:
        break;
    }
    return next;
  }

  void schedule() {
    if (phase_ == Phase::kFinished) return;
    const auto next = next_deadline();
    if (next == SteadyClock::time_point::max() || next >= timer_deadline_) return;
    timer_deadline_ = next;
    timer_.expires_at(next);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      self->timer_deadline_ = SteadyClock::time_point::max();
      self->on_timer();
    });
  }

  void on_timer() {
    if (phase_ == Phase::kFinished) return;
    const auto now = SteadyClock::now();
    const auto& config = state_->config;
    if (writing_ && now >= write_started_ + config.write_stall_timeout) {
      state_->metrics.write_stall_closed();
      spdlog::info("ws session {}: write stalled, dropping the connection", registry_id_);
      return hard_close();
    }
    if (phase_ == Phase::kClosing && now >= close_started_ + config.write_stall_timeout) {
      return hard_close();
    }
    if ((phase_ == Phase::kAwaitingHello || phase_ == Phase::kAttaching) &&
        now >= opened_ + config.hello_timeout) {
      start_close(static_cast<std::uint16_t>(rooms::CloseCode::kUnauthenticated),
                  "no Hello in time");
    } else if (phase_ == Phase::kAttached) {
      if (now >= last_read_ + config.client_silence_timeout) {
        start_close(static_cast<std::uint16_t>(rooms::CloseCode::kClientSilent),
                    "no frames from the client");
      } else if (!writing_ && queue_.empty() && now >= last_sent_ + config.heartbeat_interval) {
        send_heartbeat();
      }
    }
    schedule();
  }

  void send_heartbeat() {
    v1::ServerFrame frame;
    frame.add_items()->mutable_heartbeat()->set_last_seq(last_seq_sent_);
    send_local(frame);
  }

  std::shared_ptr<ServerState> state_;
  IpLimiter::Slot slot_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  asio::steady_timer timer_;
  asio::io_context& home_;  // the shard this connection runs on
  SteadyClock::time_point timer_deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point opened_{}, last_read_{}, last_sent_{}, write_started_{},
      close_started_{};
  rooms::Fifo<Outgoing> queue_;  // allocates nothing while empty (server/rooms/fifo.h)
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<std::size_t> queued_frames_{0};
  std::atomic<bool> send_closed_{false};
  std::optional<rooms::Participant> participant_;
  bool room_elsewhere_ = false;  // participant_'s room runs on another shard than home_
  std::string connect_room_;  // until Hello: the room of the connect path, "" if none
  websocket::close_reason close_reason_;
  std::uint64_t registry_id_ = 0;
  std::uint64_t last_seq_sent_ = 0;
  ConnectionRole role_ = ConnectionRole::kUnauthenticated;
  Phase phase_ = Phase::kHandshake;
  bool reading_ = false;
  bool writing_ = false;
  bool attached_ = false;
  bool close_sent_ = false;
};

// ------------------------------------------------------------------------------------------
// HTTP with keep-alive, upgrading /v1/connect.

template <class Stream>
class HttpSession final : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, beast::flat_buffer&& buffer, std::shared_ptr<ServerState> state,
              IpLimiter::Slot slot, asio::ip::address peer)
      : stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        state_(std::move(state)),
        slot_(std::move(slot)),
        peer_(std::move(peer)) {
    state_->metrics.connection_opened(ConnectionRole::kHttp);
  }
  ~HttpSession() { state_->metrics.connection_closed(ConnectionRole::kHttp); }

  void run() {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(state_->config.handshake_timeout);
      stream_.async_handshake(
          buffer_.data(),  // the bytes async_detect_ssl read
          [self = this->shared_from_this()](beast::error_code ec, std::size_t used) {
            if (ec) {
              self->state_->metrics.rejection("TLS_HANDSHAKE");
              return;
            }
            self->buffer_.consume(used);
            self->do_read();
          });
    } else {
      do_read();
    }
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->config.max_http_body_bytes);
    parser_->header_limit(kHttpHeaderLimit);
    beast::get_lowest_layer(stream_).expires_after(
        first_request_ ? state_->config.handshake_timeout : state_->config.http_idle_timeout);
    first_request_ = false;
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_eof();
    if (ec) {
      auto refusal = refuse_unreadable(ec, kHttpHeaderLimit);
      if (refusal) refuse(HttpRequest(parser_->get().base()), std::move(*refusal));
      return;
    }
    const bool chunked = parser_->chunked();
    HttpRequest request = parser_->release();
    auto cors = cors_origin(request, state_->config.allowed_origins);
    if (auto refusal =
            check_request(request, chunked, kIsTls<Stream>, state_->config.allowed_origins)) {
      return refuse(std::move(request), std::move(*refusal), cors);
    }
    if (is_preflight(request)) return answer_preflight(std::move(request), cors);
    if (websocket::is_upgrade(request)) return upgrade(std::move(request));
    spdlog::debug("http {} {}", std::string_view(request.method_string()),
                  target_path(request.target()));
    auto executor = stream_.get_executor();
    handle_http(state_, std::move(request), RequestContext{peer_},
                [self = this->shared_from_this(), executor,
                 cors = std::move(cors)](HttpResponse response) {
                  asio::post(executor, [self, cors, response = std::move(response)]() mutable {
                    self->write(std::move(response), cors);
                  });
                });
  }

  void answer_preflight(HttpRequest request, const std::optional<std::string>& cors) {
    if (auto answer = preflight_answer(request, cors)) return write(std::move(*answer));
    refuse(std::move(request), origin_not_allowed());
  }

  void upgrade(HttpRequest request) {
    auto room = connect_room(target_path(request.target()));
    if (!room) {
      return write(error_response(*state_, request, http::status::not_found, kErrNotFound,
                                  "WebSocket connections go to /v1/connect/{room}."));
    }
    if (state_->draining.load()) {
      return write(error_response(*state_, request, http::status::service_unavailable,
                                  kErrUnavailable, "The server is shutting down."));
    }
    if (!offers_subprotocol(request)) {
      return write(error_response(*state_, request, http::status::bad_request, kErrSubprotocol,
                                  "The WebSocket subprotocol mend.v1 is required."));
    }
    if (!room->empty()) return upgrade_on_shard(std::move(request), std::move(*room));
    std::make_shared<WsSession<Stream>>(std::move(stream_), state_, std::move(slot_))
        ->run(std::move(request), std::move(*room));
  }

  // Serves the WebSocket of `room` on the room's shard: when this connection was accepted on
  // another one, its socket is released here and adopted there before the handshake, so its
  // reads, the room's decisions and the fan-out to it run on one thread. A TLS stream with
  // ciphertext of its own in flight stays where it is (its frames then cross shards).
  void upgrade_on_shard(HttpRequest request, std::string room) {
    asio::io_context& target = state_->shard_of_room(room);
    bool movable = true;
    if constexpr (kIsTls<Stream>) movable = stream_.rebindable();
    if (choose_shard(target.get_executor().running_in_this_thread(), movable) ==
        ShardChoice::kAcceptShard) {
      std::make_shared<WsSession<Stream>>(std::move(stream_), state_, std::move(slot_))
          ->run(std::move(request), std::move(room));
      return;
    }
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    const auto protocol = socket.local_endpoint(ec).protocol();
    if (ec) return;  // the peer is gone
    const auto native = socket.release(ec);
    if (ec) return;
    tcp::socket moved(state_->connection_executor(target));
    moved.assign(protocol, native, ec);
    if (ec) {
      ::close(native);
      return;
    }
    auto executor = moved.get_executor();
    auto stream = [&] {
      if constexpr (kIsTls<Stream>) {
        stream_.rebind(beast::tcp_stream(std::move(moved)));
        return std::move(stream_);
      } else {
        return Stream(std::move(moved));
      }
    }();
    asio::post(executor, [state = state_, slot = std::move(slot_), stream = std::move(stream),
                          request = std::move(request), room = std::move(room)]() mutable {
      std::make_shared<WsSession<Stream>>(std::move(stream), state, std::move(slot))
          ->run(std::move(request), std::move(room));
    });
  }

  void refuse(HttpRequest request, Refusal refusal,
              const std::optional<std::string>& cors = std::nullopt) {
    if (request.version() != 10) request.version(11);  // a head the parser gave up on
    if (refusal.close) request.keep_alive(false);
    write(error_response(*state_, request, refusal.status, refusal.code, refusal.message), cors);
  }

  // `cors`: the allowed origin the request came from (cors_origin), named in the answer.
  void write(HttpResponse response, const std::optional<std::string>& cors = std::nullopt) {
    add_security_headers(response);
    if (cors) add_cors_headers(response, *cors);
    const bool keep_alive = response.keep_alive() && !state_->draining.load();
    response.keep_alive(keep_alive);
    auto message = std::make_shared<HttpResponse>(std::move(response));
    beast::get_lowest_layer(stream_).expires_after(state_->config.handshake_timeout);
    http::async_write(stream_, *message,
                      [self = this->shared_from_this(), message, keep_alive](
                          beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!keep_alive) return self->do_eof();
                        self->do_read();
                      });
  }

  void do_eof() {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(state_->config.handshake_timeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  IpLimiter::Slot slot_;
  asio::ip::address peer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool first_request_ = true;
};

// ------------------------------------------------------------------------------------------
// TLS detection and the loopback rule.

class DetectSession final : public std::enable_shared_from_this<DetectSession> {
 public:
  DetectSession(tcp::socket&& socket, std::shared_ptr<ServerState> state, IpLimiter::Slot slot,
                asio::ip::address client)
      : stream_(std::move(socket)),
        state_(std::move(state)),
        slot_(std::move(slot)),
        client_(std::move(client)) {}

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->peer_ = self->stream_.socket().remote_endpoint(ec).address();
      if (ec) return;
      self->stream_.expires_after(self->state_->config.handshake_timeout);
      beast::async_detect_ssl(self->stream_, self->buffer_,
                              [self](beast::error_code detect_ec, bool is_tls) {
                                self->on_detect(detect_ec, is_tls);
                              });
    });
  }

 private:
  void on_detect(beast::error_code ec, bool is_tls) {
    if (ec) return;
    if (is_tls) {
      if (!state_->deps.tls) {
        state_->metrics.rejection("TLS_UNAVAILABLE");
        return;
      }
      std::make_shared<HttpSession<TlsStream>>(TlsStream(std::move(stream_), *state_->deps.tls),
                                               std::move(buffer_), state_, std::move(slot_),
                                               client_)
          ->run();
      return;
    }
    if (!state_->config.allow_plaintext && !is_loopback(peer_)) return refuse_plaintext();
    std::make_shared<HttpSession<PlainStream>>(std::move(stream_), std::move(buffer_), state_,
                                               std::move(slot_), client_)
        ->run();
  }

  void refuse_plaintext() {
    state_->metrics.rejection(kErrTlsRequired);
    asio::async_write(stream_, asio::buffer(kTlsRequiredResponse),
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                      });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> state_;
  IpLimiter::Slot slot_;
  beast::flat_buffer buffer_;
  asio::ip::address peer_;    // the TCP peer: the loopback rule
  asio::ip::address client_;  // the per-address rules
};

}  // namespace

void start_session(std::shared_ptr<ServerState> state, tcp::socket socket,
                   IpLimiter::Slot slot, asio::ip::address client) {
  std::make_shared<DetectSession>(std::move(socket), std::move(state), std::move(slot),
                                  std::move(client))
      ->run();
}

ShardChoice choose_shard(bool on_room_shard, bool stream_movable) {
  return on_room_shard || !stream_movable ? ShardChoice::kAcceptShard : ShardChoice::kRoomShard;
}

}  // namespace mend::net
