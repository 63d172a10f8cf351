// read_proxy_header (proxy_protocol.h): the PROXY header read from an accepted socket.
#include <array>
#include <memory>
#include <span>
#include <utility>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/net/proxy_protocol.h"

namespace mend::net::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Reads the header a few bytes at a time, exactly as far as parse() asks, within a deadline.
class HeaderReader : public std::enable_shared_from_this<HeaderReader> {
 public:
  HeaderReader(tcp::socket socket, HeaderDone done)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), done_(std::move(done)) {}

  void start(Millis timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      boost::system::error_code ignored;
      if (!ec) self->socket_.cancel(ignored);  // the read completes with an error: kMissing
    });
    read(kFirstRead);
  }

 private:
  void read(std::size_t until) {
    asio::async_read(socket_, asio::buffer(buffer_.data() + have_, until - have_),
                     [self = shared_from_this()](const boost::system::error_code& ec,
                                                 std::size_t bytes) { self->on_read(ec, bytes); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t bytes) {
    have_ += bytes;
    if (ec) return finish({}, kMissing);
    const Parsed parsed = parse(std::span<const unsigned char>(buffer_.data(), have_));
    switch (parsed.verdict) {
      case Parsed::Verdict::kNeedMore:
        if (parsed.need <= have_ || parsed.need > buffer_.size()) return finish({}, kInvalid);
        return read(parsed.need);
      case Parsed::Verdict::kRefused:
        return finish({}, parsed.reason);
      case Parsed::Verdict::kDone:
        break;
    }
    boost::system::error_code peer_ec;
    const auto peer = socket_.remote_endpoint(peer_ec).address();
    if (peer_ec) return finish({}, kMissing);
    finish(parsed.source ? unmapped(*parsed.source) : unmapped(peer), nullptr);
  }

  void finish(asio::ip::address client, const char* refused) {
    timer_.cancel();
    done_(std::move(socket_), std::move(client), refused);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  HeaderDone done_;
  std::array<unsigned char, kMaxHeaderBytes> buffer_{};
  std::size_t have_ = 0;
};

}  // namespace

void read_proxy_header(tcp::socket socket, Millis timeout, HeaderDone done) {
  std::make_shared<HeaderReader>(std::move(socket), std::move(done))->start(timeout);
}

}  // namespace mend::net::proxy
