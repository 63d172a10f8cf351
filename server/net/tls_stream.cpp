#include "server/net/tls_stream.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/err.h>

namespace mend::net {
namespace tls_detail {
namespace {

constexpr std::size_t kReadChunk = 17 * 1024;  // one TLS record with its header and padding

Core* core_of(BIO* bio) { return static_cast<Core*>(BIO_get_data(bio)); }

int bio_read_cb(BIO* bio, char* data, int size) { return core_of(bio)->bio_read(data, size); }

int bio_write_cb(BIO* bio, const char* data, int size) {
  return core_of(bio)->bio_write(data, size);
}

long bio_ctrl_cb(BIO*, int command, long, void*) {
  // OpenSSL flushes after each flight; the stream sends whatever is pending anyway.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create_cb(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy_cb(BIO*) { return 1; }  // the data pointer is the Core, which owns the SSL

// The method table is built once and never changes afterwards.
const BIO_METHOD* bio_method() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mend-tls");
    if (made == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_read(made, bio_read_cb);
    BIO_meth_set_write(made, bio_write_cb);
    BIO_meth_set_ctrl(made, bio_ctrl_cb);
    BIO_meth_set_create(made, bio_create_cb);
    BIO_meth_set_destroy(made, bio_destroy_cb);
    return made;
  }();
  return method;
}

}  // namespace

Core::Core(beast::tcp_stream&& next, asio::ssl::context& context)
    : next_(std::move(next)),
      ssl_(SSL_new(context.native_handle()), &SSL_free),
      flushed_(next_->get_executor()) {
  if (!ssl_) throw boost::system::system_error(asio::error::no_memory, "SSL_new");
  BIO* bio = bio_method() ? BIO_new(bio_method()) : nullptr;
  if (bio == nullptr) throw boost::system::system_error(asio::error::no_memory, "BIO_new");
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // takes our one reference (it counts both uses itself)
  SSL_set_options(ssl_.get(), SSL_OP_NO_RENEGOTIATION);  // a write never needs to read
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_set_accept_state(ssl_.get());
  // take_probe reads what else arrived without blocking.
  error_code ignored;
  next_->socket().non_blocking(true, ignored);
}

Core::~Core() = default;

int Core::bio_read(char* data, int size) {
  BIO* bio = SSL_get_rbio(ssl_.get());
  BIO_clear_retry_flags(bio);
  if (in_pos_ == in_.size()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const std::size_t count = std::min(in_.size() - in_pos_, static_cast<std::size_t>(size));
  std::memcpy(data, in_.data() + in_pos_, count);
  in_pos_ += count;
  if (in_pos_ == in_.size()) {
    release(in_);
    in_pos_ = 0;
  }
  return static_cast<int>(count);
}

int Core::bio_write(const char* data, int size) {
  BIO_clear_retry_flags(SSL_get_wbio(ssl_.get()));
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  out_.insert(out_.end(), bytes, bytes + size);
  return size;
}

void Core::take_initial(asio::const_buffer bytes) {
  const auto* begin = static_cast<const unsigned char*>(bytes.data());
  in_.insert(in_.end(), begin, begin + bytes.size());
}

void Core::take_probe(std::size_t n) {
  if (n < probe_.size()) {  // the socket had no more
    in_.insert(in_.end(), probe_.begin(), probe_.begin() + static_cast<std::ptrdiff_t>(n));
    return;
  }
  const std::size_t held = in_.size();
  in_.resize(held + kReadChunk);
  std::memcpy(in_.data() + held, probe_.data(), n);
  error_code ec;
  const std::size_t more = next_->socket().read_some(
      asio::buffer(in_.data() + held + n, kReadChunk - n), ec);
  in_.resize(held + n + (ec ? 0 : more));  // would_block, or an error the next read reports
}

error_code Core::map_ssl_error(int result) {
  switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SSL: {
      const unsigned long code = ERR_get_error();
      if (code == 0) return asio::ssl::error::unspecified_system_error;
      return {static_cast<int>(code), asio::error::get_ssl_category()};
    }
    case SSL_ERROR_WANT_READ:  // only a write can get here: renegotiation is disabled
      return asio::error::operation_not_supported;
    default:  // SSL_ERROR_SYSCALL: the BIO never fails, so the stream ended unexpectedly
      return asio::ssl::error::stream_truncated;
  }
}

Core::Step Core::ssl_read(asio::mutable_buffer buffer, error_code& ec, std::size_t& n) {
  ERR_clear_error();
  n = 0;
  ec = {};
  const int result = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
  if (result == 1) return Step::kDone;
  if (SSL_get_error(ssl_.get(), result) == SSL_ERROR_WANT_READ) return Step::kWantRead;
  ec = map_ssl_error(result);
  return Step::kDone;
}

Core::Step Core::ssl_handshake(error_code& ec) {
  ERR_clear_error();
  ec = {};
  const int result = SSL_do_handshake(ssl_.get());
  if (result == 1) return Step::kDone;
  if (SSL_get_error(ssl_.get(), result) == SSL_ERROR_WANT_READ) return Step::kWantRead;
  ec = map_ssl_error(result);
  if (ec == asio::error::eof) ec = asio::ssl::error::stream_truncated;
  return Step::kDone;
}

void Core::ssl_shutdown(error_code& ec) {
  ec = {};
  if ((SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) != 0) return;
  if (SSL_is_init_finished(ssl_.get()) == 0) {  // no session to close: the caller just drops TCP
    SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN);
    return;
  }
  ERR_clear_error();
  const int result = SSL_shutdown(ssl_.get());
  if (result < 0) ec = map_ssl_error(result);
}

}  // namespace tls_detail

void teardown(boost::beast::role_type, TlsStream& stream, boost::system::error_code& ec) {
  // Synchronous use is not supported by this non-blocking stream: end TCP without waiting.
  auto& socket = stream.next_layer().socket();
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ec);
}

}  // namespace mend::net
