// TlsStream (server/net/tls_stream.h) against an asio::ssl::stream client on 127.0.0.1.
// Each test runs one io_context on the test thread, bounded by kWait.
#include "server/net/tls_stream.h"

#include <openssl/ssl.h>

#include <string>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <doctest/doctest.h>

#include "server/net/credentials.h"
#include "server/net/server.h"
#include "server/net/sessions.h"
#include "tests/common/temp_dir.h"
#include "tests/net/net_support.h"

namespace mend::net::testing {
namespace {

namespace ssl = asio::ssl;
using ClientStream = ssl::stream<beast::tcp_stream>;

std::string pattern(std::size_t size, char seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(seed + (i * 7) % 251);
  return bytes;
}

// A connected pair: `server` (TlsStream, not yet handshaken) and `client` (asio ssl).
class Pair {
 public:
  Pair() : dir_("tls-stream"), client_context_(ssl::context::tls_client) {
    auto files = ensure_self_signed_certificate(dir_.path());
    REQUIRE(std::holds_alternative<TlsFiles>(files));
    auto context = make_tls_context(std::get<TlsFiles>(files));
    REQUIRE(std::holds_alternative<std::shared_ptr<ssl::context>>(context));
    server_context_ = std::get<std::shared_ptr<ssl::context>>(context);
    client_context_.load_verify_file(std::get<TlsFiles>(files).certificate.string());
    client_context_.set_verify_mode(ssl::verify_peer);

    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.emplace(ioc, client_context_);
    beast::get_lowest_layer(*client).socket().connect(acceptor.local_endpoint());
    server.emplace(beast::tcp_stream(acceptor.accept()), *server_context_);
  }

  // Runs the io_context until `done` holds (or kWait passes); returns `done()`.
  template <class Done>
  bool run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    ioc.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (ioc.run_one_for(50ms) == 0 && ioc.stopped()) ioc.restart();
    }
    return done();
  }

  // Both handshakes; the server first reads `early` bytes itself (as async_detect_ssl does).
  void handshake(std::size_t early = 0) {
    bool server_done = false;
    bool client_done = false;
    beast::error_code server_ec, client_ec;
    std::size_t used = 0;
    client->async_handshake(ssl::stream_base::client, [&](beast::error_code ec) {
      client_ec = ec;
      client_done = true;
    });
    auto start_server = [&] {
      server->async_handshake(asio::buffer(early_bytes_.data(), early_bytes_.size()),
                              [&](beast::error_code ec, std::size_t n) {
                                server_ec = ec;
                                used = n;
                                server_done = true;
                              });
    };
    if (early == 0) {
      start_server();
    } else {
      early_bytes_.resize(early);
      asio::async_read(server->next_layer(), asio::buffer(early_bytes_),
                       [&](beast::error_code ec, std::size_t) {
                         REQUIRE_FALSE(ec);
                         start_server();
                       });
    }
    REQUIRE(run_until([&] { return server_done && client_done; }));
    CHECK_FALSE(server_ec);
    CHECK_FALSE(client_ec);
    CHECK(used == early);
  }

  asio::io_context ioc;
  std::optional<ClientStream> client;
  std::optional<TlsStream> server;

 private:
  ::mend::testing::TempDir dir_;
  std::shared_ptr<ssl::context> server_context_;
  ssl::context client_context_;
  std::string early_bytes_;
};

// Echoes everything the server reads until its read fails; `ended` gets that error.
struct Echo {
  TlsStream& stream;
  std::array<char, 8192> chunk{};
  beast::error_code ended;
  bool done = false;

  void start() {
    stream.async_read_some(asio::buffer(chunk), [this](beast::error_code ec, std::size_t n) {
      if (ec) {
        ended = ec;
        done = true;
        return;
      }
      asio::async_write(stream, asio::buffer(chunk.data(), n),
                        [this](beast::error_code wec, std::size_t) {
                          if (wec) {
                            ended = wec;
                            done = true;
                            return;
                          }
                          start();
                        });
    });
  }
};

// Writes `message` from the client and reads as many bytes back.
std::string client_round_trip(Pair& pair, const std::string& message) {
  std::string back(message.size(), '\0');
  bool wrote = false;
  bool read = false;
  asio::async_write(*pair.client, asio::buffer(message), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    wrote = true;
  });
  asio::async_read(*pair.client, asio::buffer(back), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    read = true;
  });
  REQUIRE(pair.run_until([&] { return wrote && read; }));
  return back;
}

TEST_CASE("a TLS server stream takes the bytes already read and echoes small and large messages") {
  Pair pair;
  pair.handshake(3);
  Echo echo{*pair.server, {}, {}, false};
  echo.start();
  CHECK(client_round_trip(pair, "hello") == "hello");
  const auto large = pattern(200 * 1024, 'a');  // several TLS records in each direction
  CHECK(client_round_trip(pair, large) == large);
  CHECK(client_round_trip(pair, "again") == "again");
}

TEST_CASE("an idle TLS server stream holds no buffers, even with a read outstanding") {
  Pair pair;
  pair.handshake();
  CHECK(pair.server->buffered_capacity() == 0);
  Echo echo{*pair.server, {}, {}, false};
  echo.start();
  const auto large = pattern(100 * 1024, 'k');
  CHECK(client_round_trip(pair, large) == large);
  CHECK(client_round_trip(pair, "small") == "small");
  pair.ioc.restart();
  pair.ioc.poll();  // the echo's next read is outstanding now, waiting for ciphertext
  CHECK_FALSE(echo.done);
  CHECK(pair.server->buffered_capacity() == 0);
}

TEST_CASE("a TLS server stream has a read and a write outstanding together") {
  Pair pair;
  pair.handshake();
  const auto outgoing = pattern(300 * 1024, 's');  // more than the socket buffers take at once
  const auto incoming = pattern(150 * 1024, 'c');
  std::string server_got(incoming.size(), '\0');
  std::string client_got(outgoing.size(), '\0');
  int completed = 0;
  asio::async_read(*pair.server, asio::buffer(server_got), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    ++completed;
  });
  asio::async_write(*pair.server, asio::buffer(outgoing), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    ++completed;
  });
  asio::async_write(*pair.client, asio::buffer(incoming), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    ++completed;
  });
  asio::async_read(*pair.client, asio::buffer(client_got), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    ++completed;
  });
  REQUIRE(pair.run_until([&] { return completed == 4; }));
  CHECK(server_got == incoming);
  CHECK(client_got == outgoing);
  CHECK(pair.server->buffered_capacity() == 0);
}

// Counts the KeyUpdate messages an SSL object sends (its message callback).
void count_key_updates(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                       void* arg) {
  if (write_p == 1 && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_KEY_UPDATE) {
    ++*static_cast<int*>(arg);
  }
}

TEST_CASE("a client key update while the server writes keeps both directions intact") {
  Pair pair;
  pair.handshake();
  REQUIRE(SSL_version(pair.client->native_handle()) == TLS1_3_VERSION);
  int server_key_updates = 0;
  SSL_set_msg_callback(pair.server->native_handle(), count_key_updates);
  SSL_ctrl(pair.server->native_handle(), SSL_CTRL_SET_MSG_CALLBACK_ARG, 0, &server_key_updates);
  // Small socket buffers: the server's write stalls until the client reads.
  beast::get_lowest_layer(*pair.client).socket().set_option(
      asio::socket_base::receive_buffer_size(64 * 1024));
  pair.server->next_layer().socket().set_option(asio::socket_base::send_buffer_size(64 * 1024));
  const auto outgoing = pattern(4 * 1024 * 1024, 'o');
  std::string client_got(outgoing.size(), '\0');
  std::string server_got(5, '\0');
  bool wrote = false, read = false, client_read = false, writing_at_read = false;
  asio::async_write(*pair.server, asio::buffer(outgoing), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    wrote = true;
  });
  asio::async_read(*pair.server, asio::buffer(server_got), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    read = true;
    writing_at_read = !wrote;
    // Only now does the client drain the server's write.
    asio::async_read(*pair.client, asio::buffer(client_got),
                     [&](beast::error_code rec, std::size_t) {
                       CHECK_FALSE(rec);
                       client_read = true;
                     });
  });
  // The client asks the server to update its keys too; the request goes out with "after".
  REQUIRE(SSL_key_update(pair.client->native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1);
  asio::async_write(*pair.client, asio::buffer(std::string_view("after")),
                    [&](beast::error_code ec, std::size_t) { CHECK_FALSE(ec); });
  REQUIRE(pair.run_until([&] { return wrote && read && client_read; }));
  CHECK(writing_at_read);
  CHECK(server_got == "after");
  CHECK(client_got == outgoing);
  // Traffic still flows both ways with the new keys.
  Echo echo{*pair.server, {}, {}, false};
  echo.start();
  CHECK(client_round_trip(pair, "still here") == "still here");
  CHECK(server_key_updates == 1);  // the server answered the request with its own KeyUpdate
  CHECK(pair.server->buffered_capacity() == 0);
}

TEST_CASE("a TLS connection writing ciphertext of its own stays on its accept shard, and moves "
          "to its room's shard once its stream is idle") {
  Pair pair;
  pair.handshake();
  CHECK(pair.server->rebindable());
  CHECK(choose_shard(false, pair.server->rebindable()) == ShardChoice::kRoomShard);
  CHECK(choose_shard(true, true) == ShardChoice::kAcceptShard);  // already there
  // Small socket buffers and a client that does not read yet: the server's write stays in flight.
  beast::get_lowest_layer(*pair.client).socket().set_option(
      asio::socket_base::receive_buffer_size(64 * 1024));
  pair.server->next_layer().socket().set_option(asio::socket_base::send_buffer_size(64 * 1024));
  const auto outgoing = pattern(4 * 1024 * 1024, 'o');
  bool wrote = false;
  asio::async_write(*pair.server, asio::buffer(outgoing), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    wrote = true;
  });
  pair.ioc.restart();
  while (pair.ioc.poll() > 0) {
  }  // every ready handler ran: the 4 MiB cannot fit in the socket buffers
  REQUIRE_FALSE(wrote);
  CHECK_FALSE(pair.server->rebindable());
  CHECK(choose_shard(false, pair.server->rebindable()) == ShardChoice::kAcceptShard);
  // Where it stays, it still works: the client gets every byte, then the stream may move.
  std::string client_got(outgoing.size(), '\0');
  bool client_read = false;
  asio::async_read(*pair.client, asio::buffer(client_got), [&](beast::error_code ec, std::size_t) {
    CHECK_FALSE(ec);
    client_read = true;
  });
  REQUIRE(pair.run_until([&] { return wrote && client_read; }));
  CHECK(client_got == outgoing);
  CHECK(pair.server->rebindable());
  CHECK(choose_shard(false, pair.server->rebindable()) == ShardChoice::kRoomShard);
}

TEST_CASE("a client's close_notify ends the server read with eof, and the server answers it") {
  Pair pair;
  pair.handshake();
  beast::error_code read_ec, client_ec, server_ec;
  bool read_done = false, client_done = false, server_done = false;
  std::array<char, 16> chunk{};
  pair.server->async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t) {
    read_ec = ec;
    read_done = true;
    pair.server->async_shutdown([&](beast::error_code sec) {
      server_ec = sec;
      server_done = true;
    });
  });
  pair.client->async_shutdown([&](beast::error_code ec) {
    client_ec = ec;
    client_done = true;
  });
  REQUIRE(pair.run_until([&] { return read_done && client_done && server_done; }));
  CHECK(read_ec == asio::error::eof);
  CHECK_FALSE(server_ec);
  CHECK_FALSE(client_ec);  // the client got the server's close_notify
}

TEST_CASE("a client that drops TCP without close_notify truncates the stream") {
  Pair pair;
  pair.handshake();
  beast::error_code read_ec;
  bool read_done = false;
  std::array<char, 16> chunk{};
  pair.server->async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t) {
    read_ec = ec;
    read_done = true;
  });
  // A FIN without close_notify (closing with unread tickets would send a reset instead).
  beast::get_lowest_layer(*pair.client).socket().shutdown(tcp::socket::shutdown_send);
  REQUIRE(pair.run_until([&] { return read_done; }));
  CHECK(read_ec == asio::ssl::error::stream_truncated);
  CHECK(pair.server->buffered_capacity() == 0);
}

TEST_CASE("garbage instead of a ClientHello fails the handshake with an SSL error") {
  Pair pair;
  const std::string garbage = "\x16\x03\x01\x00\x20" + std::string(32, 'x');
  asio::write(beast::get_lowest_layer(*pair.client).socket(), asio::buffer(garbage));
  beast::error_code server_ec;
  bool done = false;
  pair.server->async_handshake(asio::const_buffer(), [&](beast::error_code ec, std::size_t) {
    server_ec = ec;
    done = true;
  });
  REQUIRE(pair.run_until([&] { return done; }));
  CHECK(server_ec.category() == asio::error::get_ssl_category());
  // The alert was sent: the client reads it (then the end of the stream once closed).
  std::array<char, 64> alert{};
  std::size_t n = 0;
  bool read = false;
  beast::get_lowest_layer(*pair.client).expires_after(kWait);
  beast::get_lowest_layer(*pair.client)
      .async_read_some(asio::buffer(alert), [&](beast::error_code ec, std::size_t got) {
        CHECK_FALSE(ec);
        n = got;
        read = true;
      });
  REQUIRE(pair.run_until([&] { return read; }));
  CHECK(n >= 7);
  CHECK(alert[0] == 21);  // ContentType alert
}

TEST_CASE("the WebSocket closing handshake works over the TLS server stream, either side first") {
  for (const bool client_first : {true, false}) {
    CAPTURE(client_first);
    Pair pair;
    pair.handshake();
    websocket::stream<TlsStream> server(std::move(*pair.server));
    websocket::stream<ClientStream&> client(*pair.client);
    bool accepted = false, connected = false;
    server.async_accept([&](beast::error_code ec) {
      CHECK_FALSE(ec);
      accepted = true;
    });
    client.async_handshake("localhost", "/", [&](beast::error_code ec) {
      CHECK_FALSE(ec);
      connected = true;
    });
    REQUIRE(pair.run_until([&] { return accepted && connected; }));

    const auto message = pattern(100 * 1024, 'w');
    beast::flat_buffer server_buffer, client_buffer;
    bool echoed = false;
    client.binary(true);
    server.binary(true);
    client.async_write(asio::buffer(message), [](beast::error_code ec, std::size_t) {
      CHECK_FALSE(ec);
    });
    server.async_read(server_buffer, [&](beast::error_code ec, std::size_t) {
      REQUIRE_FALSE(ec);
      server.async_write(server_buffer.data(), [&](beast::error_code wec, std::size_t) {
        CHECK_FALSE(wec);
      });
    });
    client.async_read(client_buffer, [&](beast::error_code ec, std::size_t) {
      CHECK_FALSE(ec);
      echoed = true;
    });
    REQUIRE(pair.run_until([&] { return echoed; }));
    CHECK(beast::buffers_to_string(client_buffer.data()) == message);
    CHECK(server.next_layer().buffered_capacity() == 0);

    beast::error_code server_ec, client_ec;
    bool server_done = false, client_done = false;
    server_buffer.clear();
    client_buffer.clear();
    auto closer_done = [&](beast::error_code& out, bool& flag) {
      return [&out, &flag](beast::error_code ec, std::size_t = 0) {
        out = ec;
        flag = true;
      };
    };
    if (client_first) {
      server.async_read(server_buffer, closer_done(server_ec, server_done));
      client.async_close(websocket::close_code::normal, closer_done(client_ec, client_done));
    } else {
      client.async_read(client_buffer, closer_done(client_ec, client_done));
      server.async_close(websocket::close_code::normal, closer_done(server_ec, server_done));
    }
    REQUIRE(pair.run_until([&] { return server_done && client_done; }));
    if (client_first) {
      CHECK(server_ec == websocket::error::closed);
      CHECK_FALSE(client_ec);
    } else {
      CHECK_FALSE(server_ec);
      CHECK(client_ec == websocket::error::closed);
    }
  }
}

}  // namespace
}  // namespace mend::net::testing
