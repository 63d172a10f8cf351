// A scripted WebSocket server on 127.0.0.1 (ephemeral port) for testing the SDK's behaviour
// frame by frame: the test accepts connections, reads ClientFrames and sends ServerFrames,
// closes with any code or drops the TCP connection. Every operation returns a future that the
// test waits on with a bounded timeout (get_within).
#pragma once

#include "mend/proto.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace mend::testing {

inline constexpr std::chrono::seconds kWaitBound{10};

// Waits at most `bound` for the future; throws (failing the test) when it is not ready.
template <typename T>
T get_within(std::future<T>& future, std::chrono::milliseconds bound = kWaitBound) {
  if (future.wait_for(bound) != std::future_status::ready) {
    throw std::runtime_error("timed out waiting for a future");
  }
  return future.get();
}
template <typename T>
T get_within(std::future<T>&& future, std::chrono::milliseconds bound = kWaitBound) {
  return get_within(future, bound);
}

class FakeConnection : public std::enable_shared_from_this<FakeConnection> {
 public:
  using Stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  explicit FakeConnection(Stream stream) : ws_(std::move(stream)) {}

  // The next ClientFrame; nullopt when the connection failed or closed.
  std::future<std::optional<v1::ClientFrame>> read() {
    auto promise = std::make_shared<std::promise<std::optional<v1::ClientFrame>>>();
    auto future = promise->get_future();
    boost::asio::post(ws_.get_executor(), [self = shared_from_this(), promise] {
      self->buffer_.clear();
      self->ws_.async_read(self->buffer_, [self, promise](boost::beast::error_code ec, std::size_t) {
        if (ec) return promise->set_value(std::nullopt);
        v1::ClientFrame frame;
        const auto data = self->buffer_.cdata();
        if (!frame.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
          return promise->set_value(std::nullopt);
        }
        promise->set_value(std::move(frame));
      });
    });
    return future;
  }

  std::future<bool> send(const v1::ServerFrame& frame) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    auto bytes = std::make_shared<std::string>(frame.SerializeAsString());
    boost::asio::post(ws_.get_executor(), [self = shared_from_this(), promise, bytes] {
      self->ws_.binary(true);
      self->ws_.async_write(boost::asio::buffer(*bytes),
                            [promise, bytes](boost::beast::error_code ec, std::size_t) {
                              promise->set_value(!ec);
                            });
    });
    return future;
  }

  // Starts the closing handshake with `code` (the client's answer completes it).
  std::future<bool> close(std::uint16_t code) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    boost::asio::post(ws_.get_executor(), [self = shared_from_this(), promise, code] {
      self->ws_.async_close(boost::beast::websocket::close_reason(static_cast<boost::beast::websocket::close_code>(code), "test"),
                            [promise](boost::beast::error_code ec) { promise->set_value(!ec); });
    });
    return future;
  }

  // Drops the TCP connection without a closing handshake.
  std::future<bool> drop() {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    boost::asio::post(ws_.get_executor(), [self = shared_from_this(), promise] {
      boost::beast::get_lowest_layer(self->ws_).close();
      promise->set_value(true);
    });
    return future;
  }

 private:
  Stream ws_;
  boost::beast::flat_buffer buffer_;
};

class FakeServer {
 public:
  FakeServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeServer() {
    boost::asio::post(io_, [this] { acceptor_.close(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v1/connect";
  }

  // The next WebSocket connection, upgraded with subprotocol mend.v1.
  std::future<std::shared_ptr<FakeConnection>> accept() {
    auto promise = std::make_shared<std::promise<std::shared_ptr<FakeConnection>>>();
    auto future = promise->get_future();
    boost::asio::post(io_, [this, promise] {
      acceptor_.async_accept([promise](boost::beast::error_code ec,
                                       boost::asio::ip::tcp::socket socket) {
        if (ec) return promise->set_value(nullptr);
        auto ws = std::make_shared<FakeConnection::Stream>(std::move(socket));
        ws->set_option(boost::beast::websocket::stream_base::decorator(
            [](boost::beast::websocket::response_type& response) {
              response.set(boost::beast::http::field::sec_websocket_protocol, "mend.v1");
            }));
        ws->async_accept([promise, ws](boost::beast::error_code accept_ec) {
          if (accept_ec) return promise->set_value(nullptr);
          promise->set_value(std::make_shared<FakeConnection>(std::move(*ws)));
        });
      });
    });
    return future;
  }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

// Frame builders.
inline v1::ServerFrame welcome_frame(std::uint64_t epoch, bool recovered, std::uint64_t last_seq) {
  v1::ServerFrame frame;
  v1::Welcome& welcome = *frame.add_items()->mutable_welcome();
  welcome.mutable_participant()->set_role(v1::PARTNER_B);
  welcome.set_epoch(epoch);
  welcome.set_recovered(recovered);
  welcome.set_room_id("room-1");
  welcome.mutable_view()->set_last_seq(last_seq);
  welcome.mutable_view()->set_phase(v1::PHASE_SPEAKING);
  return frame;
}

inline void add_event(v1::ServerFrame& frame, std::uint64_t seq) {
  v1::Event& event = *frame.add_items()->mutable_event();
  event.set_seq(seq);
  event.mutable_actor()->set_role(v1::PARTNER_A);
  event.mutable_shared()->set_text("chunk");
  frame.mutable_view()->set_last_seq(seq);
}

inline v1::ServerFrame events_frame(std::uint64_t first, std::uint64_t last) {
  v1::ServerFrame frame;
  for (std::uint64_t seq = first; seq <= last; ++seq) add_event(frame, seq);
  return frame;
}

inline void add_result(v1::ServerFrame& frame, const std::string& command_id, bool accepted) {
  v1::CommandResult& result = *frame.add_items()->mutable_result();
  result.set_command_id(command_id);
  result.set_accepted(accepted);
  if (!accepted) result.mutable_rejection()->set_code(v1::NOT_YOUR_TURN);
}

}  // namespace mend::testing
