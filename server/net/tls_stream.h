// A TLS server stream over beast::tcp_stream that holds no buffers while a connection is idle
// (DESIGN.md section 10: at most 16 KB per idle authenticated connection).
//
// asio::ssl::stream keeps, per connection and for its whole life, an OpenSSL BIO pair
// (2 x 17 KB) and two 17 KB buffers in its stream_core. TlsStream instead drives the SSL object
// through a custom BIO whose input and output are this stream's own byte vectors, and releases
// each vector (capacity zero) as soon as it is empty. With SSL_MODE_RELEASE_BUFFERS (set by
// make_tls_context) OpenSSL frees its record buffers as well, so an idle connection keeps only
// the SSL object. An idle read does not hold a receive buffer either: it waits on a few bytes
// of inline storage and allocates only once ciphertext arrives.
//
// Concurrency: like every Asio stream, at most one read (async_read_some or async_handshake)
// and one write (async_write_some or async_shutdown) may be outstanding, all on the stream's
// executor (one thread's io_context or a strand: handlers one at a time). Either side may
// produce ciphertext (SSL_read answers a TLS 1.3 KeyUpdate, sends alerts); there is only
// ever one socket write in flight, and whoever is writing also sends what the other side
// appended meanwhile. A write completes once its ciphertext has reached the socket (back
// pressure). Renegotiation is disabled, so a write never needs to read.
//
// Errors (as asio::ssl::stream maps them, where Beast cares): the peer's close_notify ends a
// read with asio::error::eof; a peer that closes TCP without close_notify gives
// asio::ssl::error::stream_truncated; TLS failures are in asio::error::get_ssl_category();
// socket errors and tcp_stream timeouts (beast::error::timeout) pass through.
//
// Ownership: the SSL object, the buffers and the tcp_stream live in one heap block (the BIO
// points into it), so moving a TlsStream (HttpSession -> websocket::stream) moves a pointer.
// A moved-from TlsStream may only be destroyed or assigned to.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <openssl/ssl.h>

namespace mend::net {

namespace tls_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;

// The state the BIO points to (never moves; see TlsStream).
class Core {
 public:
  Core(beast::tcp_stream&& next, asio::ssl::context& context);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  enum class Step : std::uint8_t { kDone, kWantRead };

  // One SSL call each. kDone sets `ec` (success or the mapped error) and `n`.
  Step ssl_read(asio::mutable_buffer buffer, error_code& ec, std::size_t& n);
  Step ssl_handshake(error_code& ec);
  // Encrypts up to 64 KB of `buffers` into the output (never needs to read).
  template <class ConstBufferSequence>
  void ssl_write(const ConstBufferSequence& buffers, error_code& ec, std::size_t& n);
  // Queues close_notify (once).
  void ssl_shutdown(error_code& ec);

  // Appends ciphertext received before the handshake (async_detect_ssl's buffer).
  void take_initial(asio::const_buffer bytes);
  // Moves `n` probe bytes into the input, then reads what else the socket has without blocking.
  void take_probe(std::size_t n);

  bool output_pending() const { return !out_.empty(); }
  bool writing() const { return writing_; }
  // Puts the TLS state over `next` (see TlsStream::rebind).
  void rebind(beast::tcp_stream&& next) {
    next_.emplace(std::move(next));  // beast::tcp_stream has no move assignment
    flushed_ = asio::steady_timer(next_->get_executor());
  }
  const error_code& write_error() const { return write_error_; }
  std::size_t buffered_capacity() const {
    return in_.capacity() + out_.capacity() + sending_.capacity();
  }

  beast::tcp_stream& next() { return *next_; }
  SSL* ssl() { return ssl_.get(); }
  asio::mutable_buffer probe_buffer() { return asio::buffer(probe_); }

  // Writes all pending output, including what is appended meanwhile (precondition: output
  // pending, no writer). Completes with the socket error, if any (also kept: write_error()).
  template <class Token>
  auto async_flush(Token&& token);
  // Completes once the current writer has finished (precondition: writing()).
  template <class Token>
  auto async_wait_writer(Token&& token) {
    flushed_.expires_at(asio::steady_timer::time_point::max());
    return flushed_.async_wait(std::forward<Token>(token));
  }

  // BIO callbacks.
  int bio_read(char* data, int size);
  int bio_write(const char* data, int size);

 private:
  template <class>
  friend struct FlushOp;

  error_code map_ssl_error(int result);
  static void release(std::vector<unsigned char>& bytes) {
    std::vector<unsigned char>().swap(bytes);  // capacity zero
  }

  std::optional<beast::tcp_stream> next_;  // always engaged (optional only for rebind)
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  std::vector<unsigned char> in_;       // ciphertext received, from in_pos_ on not yet consumed
  std::size_t in_pos_ = 0;
  std::vector<unsigned char> out_;      // ciphertext produced, not yet handed to the socket
  std::vector<unsigned char> sending_;  // ciphertext of the socket write in flight
  std::array<unsigned char, 64> probe_{};  // an idle read waits on this, not on a heap buffer
  asio::steady_timer flushed_;          // cancelled when a writer finishes (wakes waiters)
  error_code write_error_;              // sticky: the first socket write error
  bool writing_ = false;
};

inline constexpr std::size_t kMaxWrite = 64 * 1024;     // plaintext per async_write_some
inline constexpr std::size_t kGatherBytes = 16 * 1024;  // small buffers coalesce into one record

template <class ConstBufferSequence>
void Core::ssl_write(const ConstBufferSequence& buffers, error_code& ec, std::size_t& n) {
  n = 0;
  ec = {};
  // Beast's WebSocket writes a frame header and its payload as two buffers: coalesce small
  // buffers (on the stack) so that they become one TLS record.
  std::array<unsigned char, kGatherBytes> gathered;
  asio::const_buffer chunk;
  auto it = asio::buffer_sequence_begin(buffers);
  const auto end = asio::buffer_sequence_end(buffers);
  for (; it != end && chunk.size() == 0; ++it) chunk = asio::const_buffer(*it);
  if (chunk.size() == 0) return;
  if (chunk.size() < kGatherBytes && it != end) {
    const std::size_t first = asio::buffer_copy(asio::buffer(gathered), chunk);
    std::size_t total = first;
    for (; it != end && total < gathered.size(); ++it) {
      total += asio::buffer_copy(asio::buffer(gathered) + total, asio::const_buffer(*it));
    }
    chunk = asio::buffer(gathered.data(), total);
  }
  if (chunk.size() > kMaxWrite) chunk = asio::const_buffer(chunk.data(), kMaxWrite);
  ERR_clear_error();
  std::size_t written = 0;
  const int result = SSL_write_ex(ssl_.get(), chunk.data(), chunk.size(), &written);
  if (result == 1) {
    n = written;
  } else {
    ec = map_ssl_error(result);
  }
}

// Writer loop: one socket write at a time, until the output is empty or the socket fails.
template <class Unused = void>
struct FlushOp : asio::coroutine {
  Core& core;

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t = 0) {
    BOOST_ASIO_CORO_REENTER(*this) {
      core.writing_ = true;
      while (!core.out_.empty()) {
        core.sending_.swap(core.out_);
        BOOST_ASIO_CORO_YIELD asio::async_write(*core.next_, asio::buffer(core.sending_),
                                                std::move(self));
        Core::release(core.sending_);
        if (ec) {
          if (!core.write_error_) core.write_error_ = ec;
          Core::release(core.out_);
          break;
        }
      }
      core.writing_ = false;
      core.flushed_.cancel();
      self.complete(core.write_error_);
    }
  }
};

template <class Token>
auto Core::async_flush(Token&& token) {
  return asio::async_compose<Token, void(error_code)>(FlushOp<>{{}, *this},
                                                      token, *next_);
}

// Runs an SSL call that may need ciphertext from the peer (SSL_read, SSL_do_handshake) until it
// is done: sends what the call produced unless another operation is writing (that writer sends
// it), waits for ciphertext on the probe, repeats. A failed send fails the operation if the call
// still needed input, or if kFlushErrorFails (the handshake: it is not done until its last
// flight is out); a read that has data returns it (the write side reports the error).
template <class Action, bool kFlushErrorFails>
struct ReadingOp : asio::coroutine {
  Core& core;
  Action action;  // Core::Step(error_code&, std::size_t&): the SSL call
  error_code result{};
  std::size_t transferred = 0;
  bool did_io = false;
  Core::Step step = Core::Step::kDone;

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
    BOOST_ASIO_CORO_REENTER(*this) {
      for (;;) {
        step = action(result, transferred);
        if (core.output_pending() && !core.writing()) {
          did_io = true;
          BOOST_ASIO_CORO_YIELD core.async_flush(std::move(self));
          if (ec && (step == Core::Step::kWantRead || (kFlushErrorFails && !result))) {
            result = ec;
            break;
          }
        }
        if (step == Core::Step::kDone) break;
        did_io = true;
        BOOST_ASIO_CORO_YIELD core.next().async_read_some(core.probe_buffer(), std::move(self));
        if (ec) {
          result = ec == asio::error::eof ? error_code(asio::ssl::error::stream_truncated) : ec;
          break;
        }
        core.take_probe(n);
      }
      if (!did_io) {  // never complete inside the initiating function
        BOOST_ASIO_CORO_YIELD asio::post(std::move(self));
      }
      self.complete(result, result ? 0 : transferred);
    }
  }
};

// Encrypts, then completes once the ciphertext is on the socket.
template <class Action, bool kWithSize>
struct WriteOp : asio::coroutine {
  Core& core;
  Action action;  // void(error_code&, std::size_t&): the SSL call
  error_code result{};
  std::size_t transferred = 0;
  bool did_io = false;

  template <class Self>
  void operator()(Self& self, error_code ec = {}, std::size_t = 0) {
    BOOST_ASIO_CORO_REENTER(*this) {
      if (core.write_error()) {
        result = core.write_error();
      } else {
        action(result, transferred);
      }
      while (!result && (core.writing() || core.output_pending())) {
        did_io = true;
        if (core.writing()) {
          BOOST_ASIO_CORO_YIELD core.async_wait_writer(std::move(self));
        } else {
          BOOST_ASIO_CORO_YIELD core.async_flush(std::move(self));
        }
        if (core.write_error()) result = core.write_error();
      }
      (void)ec;
      if (!did_io) {
        BOOST_ASIO_CORO_YIELD asio::post(std::move(self));
      }
      if constexpr (kWithSize) {
        self.complete(result, result ? 0 : transferred);
      } else {
        self.complete(result);
      }
    }
  }
};

}  // namespace tls_detail

class TlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  // Takes the connected stream; creates the SSL object (server side) from `context`'s
  // SSL_CTX. `context` must outlive nothing: the SSL object holds its own reference.
  TlsStream(next_layer_type&& next, boost::asio::ssl::context& context)
      : core_(std::make_unique<tls_detail::Core>(std::move(next), context)) {}

  TlsStream(TlsStream&&) noexcept = default;
  TlsStream& operator=(TlsStream&&) noexcept = default;

  executor_type get_executor() { return core_->next().get_executor(); }
  next_layer_type& next_layer() { return core_->next(); }
  const next_layer_type& next_layer() const { return core_->next(); }
  SSL* native_handle() { return core_->ssl(); }

  // True when no socket write is in flight and no ciphertext waits to be sent (e.g. TLS 1.3
  // session tickets produced by a read): only then may the stream be rebound.
  bool rebindable() const { return !core_->writing() && !core_->output_pending(); }
  // Continues the TLS connection over `next`: the same connection's socket adopted by another
  // io_context (a shard, see README "--threads"). Preconditions: rebindable(), no operation in
  // flight, and the old socket released (its tcp_stream is dropped here).
  void rebind(next_layer_type&& next) { core_->rebind(std::move(next)); }

  // Bytes of buffer capacity this stream holds outside the SSL object (0 while idle).
  std::size_t buffered_capacity() const { return core_->buffered_capacity(); }

  // Server handshake. `already_read` is ciphertext read before (async_detect_ssl's buffer); it
  // is copied, so the handler's `used` is always its whole size. Handler:
  // void(error_code, std::size_t used).
  template <class ConstBufferSequence, class Token>
  auto async_handshake(const ConstBufferSequence& already_read, Token&& token) {
    std::size_t used = 0;
    for (auto it = boost::asio::buffer_sequence_begin(already_read);
         it != boost::asio::buffer_sequence_end(already_read); ++it) {
      const boost::asio::const_buffer bytes(*it);
      core_->take_initial(bytes);
      used += bytes.size();
    }
    auto* core = core_.get();
    auto action = [core, used](boost::system::error_code& ec, std::size_t& n) {
      n = used;
      return core->ssl_handshake(ec);
    };
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        tls_detail::ReadingOp<decltype(action), true>{{}, *core_, std::move(action)}, token,
        core_->next());
  }

  // Handler: void(error_code, std::size_t).
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    auto* core = core_.get();
    auto action = [core, buffers](boost::system::error_code& ec, std::size_t& n) {
      boost::asio::mutable_buffer target;  // the first non-empty buffer
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers) && target.size() == 0; ++it) {
        target = boost::asio::mutable_buffer(*it);
      }
      if (target.size() == 0) {
        ec = {};
        n = 0;
        return tls_detail::Core::Step::kDone;
      }
      return core->ssl_read(target, ec, n);
    };
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        tls_detail::ReadingOp<decltype(action), false>{{}, *core_, std::move(action)}, token,
        core_->next());
  }

  // Handler: void(error_code, std::size_t); completes after the ciphertext was sent.
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    auto* core = core_.get();
    auto action = [core, buffers](boost::system::error_code& ec, std::size_t& n) {
      core->ssl_write(buffers, ec, n);
    };
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        tls_detail::WriteOp<decltype(action), true>{{}, *core_, std::move(action)},
        token, core_->next());
  }

  // Sends close_notify and completes once it is on the socket; does not wait for the peer's
  // (the caller closes or tears down TCP next). Handler: void(error_code).
  template <class Token>
  auto async_shutdown(Token&& token) {
    auto* core = core_.get();
    auto action = [core](boost::system::error_code& ec, std::size_t&) { core->ssl_shutdown(ec); };
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        tls_detail::WriteOp<decltype(action), false>{{}, *core_, std::move(action)},
        token, core_->next());
  }

 private:
  std::unique_ptr<tls_detail::Core> core_;
};

// WebSocket teardown (found by ADL, as boost/beast/websocket/ssl.hpp does for ssl::stream):
// close_notify, then the TCP teardown of the next layer.
void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);

namespace tls_detail {

struct TeardownOp : asio::coroutine {
  TlsStream& stream;
  beast::role_type role;
  error_code first{};

  template <class Self>
  void operator()(Self& self, error_code ec = {}) {
    BOOST_ASIO_CORO_REENTER(*this) {
      BOOST_ASIO_CORO_YIELD stream.async_shutdown(std::move(self));
      first = ec;
      BOOST_ASIO_CORO_YIELD {
        using beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::move(self));
      }
      self.complete(first ? first : ec);
    }
  }
};

}  // namespace tls_detail

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, TlsStream& stream, TeardownHandler&& handler) {
  boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
      tls_detail::TeardownOp{{}, stream, role}, handler, stream.next_layer());
}

}  // namespace mend::net
