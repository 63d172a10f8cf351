// Fuzz target: TlsStream's record handling (server/net/tls_stream.h), the server side of a TLS
// connection fed arbitrary bytes by its peer.
//
// The stream runs as in mendd (async_handshake, then async_read_some until an error) over one
// end of a local socketpair (no network); the fuzzer is the peer at the other end. Input: a
// flags byte, then steps `[op][len-hi][len-lo][len bytes]`:
//   flags bit 0: the peer first completes a real handshake with an in-memory OpenSSL client,
//                so the steps reach the stream's reads of application data
//   op % 4 == 0: the bytes as raw ciphertext (a ClientHello, records, garbage)
//   op % 4 == 1: the bytes as application data, encrypted by the client (after a handshake)
//   op % 4 == 2: the client's close_notify or, with op bit 2, a TLS 1.3 KeyUpdate
//   op % 4 == 3: the bytes as application data, split across socket writes at byte 0 % 7 + 1
// After the last step the peer ends its side (TCP FIN). Properties: nothing crashes; the stream
// finishes (with an error or the peer's close) once the peer's side ended, within a bounded
// number of event-loop turns; it never returns more plaintext than the client encrypted, and
// what it returns is a prefix of it; its buffers stay within two TLS records plus one write.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/net/tls_stream.h"
#include "tests/fuzz/fuzz_target.h"

namespace mend::fuzz {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;

constexpr std::size_t kMaxBuffered = 2 * 17 * 1024 + 64 * 1024;
constexpr int kMaxTurns = 20'000;  // event-loop turns after the peer ended its side

// A self-signed P-256 certificate and key, made once: the server context of every input.
struct ServerIdentity {
  ServerIdentity() {
    key.reset(EVP_EC_gen("P-256"));
    require(key != nullptr, "EC key generation");
    cert.reset(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    require(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "certificate signing");
    // As net::make_tls_context sets it up (server.cpp), without its files.
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    SSL_CTX* native = context.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    require(SSL_CTX_use_certificate(native, cert.get()) == 1, "use certificate");
    require(SSL_CTX_use_PrivateKey(native, key.get()) == 1, "use key");
    client.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(client.get(), SSL_VERIFY_NONE, nullptr);
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, &EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, &X509_free};
  asio::ssl::context context{asio::ssl::context::tls_server};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client{nullptr, &SSL_CTX_free};
};

ServerIdentity& identity() {
  static ServerIdentity made;
  return made;
}

// An OpenSSL client over memory BIOs: what it writes is taken with take_output().
class Client {
 public:
  Client() : ssl_(SSL_new(identity().client.get()), &SSL_free) {
    require(ssl_ != nullptr, "client SSL");
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_.get(), in_, out_);
    SSL_set_connect_state(ssl_.get());
  }
  SSL* ssl() { return ssl_.get(); }
  void give(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
  }
  std::string take_output() {
    std::string bytes;
    std::array<char, 4096> chunk{};
    int n = 0;
    while ((n = BIO_read(out_, chunk.data(), static_cast<int>(chunk.size()))) > 0) {
      bytes.append(chunk.data(), static_cast<std::size_t>(n));
    }
    return bytes;
  }
  // Advances the handshake; true once it is done.
  bool handshake() { return SSL_do_handshake(ssl_.get()) == 1; }
  void drain_reads() {  // the server sends nothing but session tickets and alerts
    std::array<char, 256> sink{};
    std::size_t n = 0;
    while (SSL_read_ex(ssl_.get(), sink.data(), sink.size(), &n) == 1) {
    }
    ERR_clear_error();
  }

 private:
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
};

// One connection: the server's TlsStream on one end of a socketpair, the fuzzer on the other.
class Connection {
 public:
  Connection() {
    int fds[2] = {-1, -1};
    require(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0, "socketpair");
    peer_ = fds[1];
    asio::ip::tcp::socket socket(ioc_);
    error_code ec;
    socket.assign(asio::ip::tcp::v4(), fds[0], ec);
    require(!ec, "assign the server's end");
    stream_.emplace(beast::tcp_stream(std::move(socket)), identity().context);
    stream_->async_handshake(asio::const_buffer(), [this](error_code e, std::size_t) {
      if (e) {
        finished_ = true;
        return;
      }
      read();
    });
  }
  ~Connection() {
    stream_.reset();
    ioc_.poll();
    if (peer_ >= 0) ::close(peer_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes `bytes` as the peer, turning the loop while the socket is full.
  void send(const std::string& bytes) {
    std::size_t sent = 0;
    int stuck = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(peer_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (finished_) return;  // the server stopped reading: the rest goes nowhere
      turn();
      require(++stuck < kMaxTurns, "the stream stopped reading while data was waiting");
    }
    turn();
  }
  // What the server sent (for the client), without waiting.
  std::string received() {
    std::string bytes;
    std::array<char, 4096> chunk{};
    for (;;) {
      const ssize_t n = ::recv(peer_, chunk.data(), chunk.size(), 0);
      if (n <= 0) return bytes;
      bytes.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }
  void turn() {
    ioc_.poll();
    ioc_.restart();
    require(stream_->buffered_capacity() <= kMaxBuffered, "the stream's buffers stay bounded");
  }
  // Ends the peer's side; the stream must finish.
  void end() {
    ::shutdown(peer_, SHUT_WR);
    for (int i = 0; i < kMaxTurns && !finished_; ++i) {
      turn();
      received();  // keeps the server's writes flowing
    }
    require(finished_, "the stream finished after the peer ended its side");
  }
  bool handshaken() const { return handshaken_; }
  const std::string& plaintext() const { return plaintext_; }

 private:
  void read() {
    handshaken_ = true;
    stream_->async_read_some(asio::buffer(buffer_), [this](error_code e, std::size_t n) {
      plaintext_.append(buffer_.data(), n);
      if (e) {
        finished_ = true;
        return;
      }
      read();
    });
  }

  asio::io_context ioc_;
  int peer_ = -1;
  std::optional<net::TlsStream> stream_;
  std::array<char, 1024> buffer_{};
  std::string plaintext_;
  bool handshaken_ = false;
  bool finished_ = false;
};

// Completes a real handshake between `client` and the stream.
bool handshake(Connection& connection, Client& client) {
  for (int i = 0; i < 64; ++i) {
    const bool done = client.handshake();
    connection.send(client.take_output());
    client.give(connection.received());
    if (done && connection.handshaken()) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> seeds() {
  auto step = [](std::uint8_t op, const std::string& bytes) {
    std::string s(1, static_cast<char>(op));
    s += static_cast<char>(bytes.size() >> 8);
    s += static_cast<char>(bytes.size() & 0xff);
    return s + bytes;
  };
  // A real ClientHello, as raw bytes.
  Client client;
  client.handshake();
  const std::string hello = client.take_output();
  return {
      std::string(1, '\0') + step(0, hello),
      std::string(1, '\0') + step(0, hello.substr(0, 5)) + step(0, hello.substr(5)),
      std::string(1, '\0') + step(0, "GET / HTTP/1.1\r\n\r\n"),
      std::string(1, '\1') + step(1, "hello") + step(3, std::string(300, 'x')) + step(2, ""),
      std::string(1, '\1') + step(6, "") + step(1, std::string(5000, 'y')),
      std::string(1, '\1') + step(0, std::string("\x17\x03\x03\x00\x10", 5) + std::string(16, 'z')),
  };
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend::fuzz;  // NOLINT: the target's own helpers
  if (size == 0) return 0;
  ERR_clear_error();
  Connection connection;
  Client client;
  const bool handshaken = (data[0] & 1) != 0 && handshake(connection, client);
  std::string encrypted;  // what the client encrypted, in order
  std::size_t at = 1;
  while (at + 3 <= size) {
    const std::uint8_t op = data[at];
    const std::size_t len = std::min<std::size_t>((std::size_t{data[at + 1]} << 8) | data[at + 2],
                                                  size - at - 3);
    const std::string bytes(reinterpret_cast<const char*>(data + at + 3), len);
    at += 3 + len;
    switch (op % 4) {
      case 0:
        connection.send(bytes);
        break;
      case 1:
      case 3:
        if (!handshaken || bytes.empty()) break;
        if (SSL_write(client.ssl(), bytes.data(), static_cast<int>(bytes.size())) > 0) {
          encrypted += bytes;
        }
        if (op % 4 == 1) {
          connection.send(client.take_output());
        } else {  // split the records across socket writes
          const std::string out = client.take_output();
          const std::size_t piece = std::size_t{static_cast<std::uint8_t>(bytes[0])} % 7 + 1;
          for (std::size_t i = 0; i < out.size(); i += piece) connection.send(out.substr(i, piece));
        }
        break;
      case 2:
        if (!handshaken) break;
        if ((op & 4) != 0 && SSL_version(client.ssl()) == TLS1_3_VERSION) {
          SSL_key_update(client.ssl(), SSL_KEY_UPDATE_REQUESTED);
          SSL_do_handshake(client.ssl());
        } else {
          SSL_shutdown(client.ssl());
        }
        connection.send(client.take_output());
        break;
    }
    client.give(connection.received());
    if (handshaken) client.drain_reads();
  }
  connection.end();
  const std::string& got = connection.plaintext();
  require(got.size() <= encrypted.size(), "no more plaintext than the client encrypted");
  require(encrypted.compare(0, got.size(), got) == 0, "the plaintext is what the client sent");
  ERR_clear_error();
  return 0;
}
