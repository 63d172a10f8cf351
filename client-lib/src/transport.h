// Internal: one WebSocket connection attempt, over TCP or TLS, with the mend handshake rules
// (subprotocol mend.v1, binary frames, bounded frame size, handshake and idle timeouts).
// All completion handlers run on the executor (strand) the transport was created with.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "mend/url.h"

namespace mend::client::detail {

struct TransportSettings {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{75'000};
  std::size_t max_frame_bytes = 4u << 20;
  std::string user_agent;
};

class Transport {
 public:
  using Done = std::function<void(boost::beast::error_code)>;
  using ReadDone = std::function<void(boost::beast::error_code, const boost::beast::flat_buffer&)>;
  virtual ~Transport() = default;

  // TCP connect to one of `endpoints`, TLS handshake (if TLS), WebSocket upgrade with
  // subprotocol mend.v1. Fails with a protocol error when the server does not select it.
  virtual void open(const boost::asio::ip::tcp::resolver::results_type& endpoints, Done done) = 0;
  // Reads one whole message; the buffer is valid during `done` only.
  virtual void read(ReadDone done) = 0;
  // Writes one binary message. One write at a time.
  virtual void write(std::shared_ptr<const std::string> bytes, Done done) = 0;
  // Closing handshake with code 1000, then the socket closes.
  virtual void close(Done done) = 0;
  // Closes the socket now, without a closing handshake. Pending operations fail.
  virtual void abort() = 0;
  // After a read failed with websocket::error::closed: the server's close code and reason.
  virtual std::uint16_t close_code() const = 0;
  virtual std::string close_reason() const = 0;
};

// `tls` is null for plain ws://.
std::shared_ptr<Transport> make_transport(boost::asio::any_io_executor executor,
                                          boost::asio::ssl::context* tls, ServerUrl url,
                                          TransportSettings settings);

}  // namespace mend::client::detail
