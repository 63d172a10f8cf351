#include "transport.h"

#include <type_traits>
#include <utility>

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "mend/client.h"
#include "tls.h"

namespace mend::client::detail {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = ssl::stream<beast::tcp_stream>;

template <class NextLayer>
class WebSocketTransport final : public Transport,
                                 public std::enable_shared_from_this<WebSocketTransport<NextLayer>> {
 public:
  static constexpr bool kTls = std::is_same_v<NextLayer, TlsStream>;

  WebSocketTransport(net::any_io_executor executor, ssl::context* tls, ServerUrl url,
                     TransportSettings settings)
      : ws_(make_stream(std::move(executor), tls)),
        url_(std::move(url)),
        settings_(std::move(settings)) {}

  void open(const tcp::resolver::results_type& endpoints, Done done) override {
    auto& lowest = beast::get_lowest_layer(ws_);
    lowest.expires_after(settings_.connect_timeout);
    lowest.async_connect(endpoints, [self = this->shared_from_this(), done = std::move(done)](
                                        beast::error_code ec, const tcp::endpoint&) mutable {
      if (ec) return done(ec);
      self->after_connect(std::move(done));
    });
  }

  void read(ReadDone done) override {
    buffer_.clear();
    ws_.async_read(buffer_, [self = this->shared_from_this(), done = std::move(done)](
                                beast::error_code ec, std::size_t) { done(ec, self->buffer_); });
  }

  void write(std::shared_ptr<const std::string> bytes, Done done) override {
    auto buffer = net::buffer(*bytes);
    ws_.async_write(buffer, [self = this->shared_from_this(), bytes = std::move(bytes),
                             done = std::move(done)](beast::error_code ec, std::size_t) {
      done(ec);
    });
  }

  void close(Done done) override {
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this(), done = std::move(done)](beast::error_code ec) {
                      self->abort();
                      done(ec);
                    });
  }

  void abort() override {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  std::uint16_t close_code() const override { return ws_.reason().code; }
  std::string close_reason() const override { return std::string(ws_.reason().reason.c_str()); }

 private:
  static websocket::stream<NextLayer> make_stream(net::any_io_executor executor,
                                                  ssl::context* tls) {
    if constexpr (kTls) {
      return websocket::stream<NextLayer>(std::move(executor), *tls);
    } else {
      (void)tls;
      return websocket::stream<NextLayer>(std::move(executor));
    }
  }

  void after_connect(Done done) {
    // Commands are small frames that must leave at once: without this, Nagle's algorithm
    // holds a frame sent while an earlier one (a HeartbeatAck, which gets no answer) waits
    // for the server's delayed ACK.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (kTls) {
      if (!prepare_tls_stream(ws_.next_layer(), url_.host)) {
        return done(net::error::make_error_code(net::error::invalid_argument));
      }
      ws_.next_layer().async_handshake(
          ssl::stream_base::client,
          [self = this->shared_from_this(), done = std::move(done)](beast::error_code ec) mutable {
            if (ec) return done(ec);
            self->upgrade(std::move(done));
          });
    } else {
      upgrade(std::move(done));
    }
  }

  void upgrade(Done done) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = settings_.connect_timeout;
    timeouts.idle_timeout = settings_.idle_timeout;
    timeouts.keep_alive_pings = false;  // the server sends application-level heartbeats
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [agent = settings_.user_agent](websocket::request_type& request) {
          request.set(http::field::sec_websocket_protocol, kSubprotocol);
          request.set(http::field::user_agent, agent);
        }));
    ws_.read_message_max(settings_.max_frame_bytes);
    ws_.binary(true);
    ws_.async_handshake(response_, url_.host_header(), url_.target,
                        [self = this->shared_from_this(), done = std::move(done)](
                            beast::error_code ec) {
                          if (!ec && self->response_[http::field::sec_websocket_protocol] !=
                                         kSubprotocol) {
                            ec = websocket::error::upgrade_declined;
                          }
                          done(ec);
                        });
  }

  websocket::stream<NextLayer> ws_;
  ServerUrl url_;
  TransportSettings settings_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::shared_ptr<Transport> make_transport(net::any_io_executor executor, ssl::context* tls,
                                          ServerUrl url, TransportSettings settings) {
  if (tls != nullptr) {
    return std::make_shared<WebSocketTransport<TlsStream>>(std::move(executor), tls,
                                                           std::move(url), std::move(settings));
  }
  return std::make_shared<WebSocketTransport<PlainStream>>(std::move(executor), nullptr,
                                                           std::move(url), std::move(settings));
}

}  // namespace mend::client::detail
