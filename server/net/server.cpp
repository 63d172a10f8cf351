#include "server/net/server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "server/net/proxy_protocol.h"
#include "server/net/sessions.h"
#include "server/net/shared_state.h"

namespace mend::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// TLS 1.2 suites: ECDHE key exchange with an AEAD cipher only, the "intermediate" profile of
// common server guidance (no CBC, no RSA key exchange). TLS 1.3's suites are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
}  // namespace

std::variant<std::shared_ptr<asio::ssl::context>, SetupError> make_tls_context(
    const TlsFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       ec);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);  // idle connections keep no TLS buffers
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return SetupError{"TLS", "OpenSSL offers none of the TLS 1.2 AEAD cipher suites"};
  }
  if (!ec) context->use_certificate_chain_file(files.certificate.string(), ec);
  if (ec) {
    return SetupError{"TLS", "cannot load the certificate " + files.certificate.string() + ": " +
                                 ec.message()};
  }
  context->use_private_key_file(files.private_key.string(), asio::ssl::context::pem, ec);
  if (ec) {
    return SetupError{"TLS", "cannot load the private key " + files.private_key.string() + ": " +
                                 ec.message()};
  }
  return context;
}

// Accepts connections onto the next shard in turn (each connection's executor:
// ServerState::connection_executor), within the per-IP limit.
struct Server::Listener : std::enable_shared_from_this<Server::Listener> {
  Listener(std::shared_ptr<ServerState> s)
      : state(std::move(s)), acceptor(asio::make_strand(state->ioc)) {}

  std::optional<SetupError> open(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return SetupError{"LISTEN", "cannot listen on " + to_string(endpoint) + ": " +
                                            ec.message()};
    return std::nullopt;
  }

  static std::string to_string(const tcp::endpoint& endpoint) {
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  // On the acceptor's strand (or before the first accept).
  void accept() {
    asio::io_context& shard = *state->shards[next_shard];
    next_shard = (next_shard + 1) % state->shards.size();
    acceptor.async_accept(state->connection_executor(shard),
                          [self = shared_from_this()](boost::system::error_code ec,
                                                      tcp::socket socket) {
                            self->on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) admit(std::move(socket));
    accept();
  }

  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec || state->draining.load()) return;
    if (!proxy::any_contains(state->config.proxy_protocol_from, peer.address())) {
      return admit_client(state, std::move(socket), peer.address());
    }
    // A listed proxy: the client is the one its PROXY header names.
    proxy::read_proxy_header(
        std::move(socket), state->config.handshake_timeout,
        [state = state](tcp::socket proxied, asio::ip::address client, const char* refused) {
          if (refused) return state->metrics.rejection(refused);  // the socket closes here
          admit_client(state, std::move(proxied), std::move(client));
        });
  }

  // Every per-address rule and log line sees `client`.
  static void admit_client(const std::shared_ptr<ServerState>& state, tcp::socket socket,
                           asio::ip::address client) {
    auto slot = state->ip_limiter->acquire(client);
    if (!slot) {
      state->metrics.rejection("TOO_MANY_CONNECTIONS");
      return;  // the socket closes here
    }
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    start_session(state, std::move(socket), std::move(*slot), std::move(client));
  }

  void stop() {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor.close(ignored);
    });
  }

  std::shared_ptr<ServerState> state;
  tcp::acceptor acceptor;
  std::size_t next_shard = 0;  // the shard of the next accepted connection
};

namespace {

// Closes WebSocket connections in batches until none remain or the deadline passes.
struct Drain : std::enable_shared_from_this<Drain> {
  Drain(std::shared_ptr<ServerState> s, std::function<void(bool)> d)
      : state(std::move(s)),
        done(std::move(d)),
        timer(state->ioc),
        deadline(std::chrono::steady_clock::now() + state->config.drain_timeout) {}

  void step() {
    for (const auto& session : state->websockets.next_batch(state->config.drain_batch)) {
      session->close_for_shutdown();
    }
    if (state->websockets.size() == 0) return done(true);
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("drain: {} connections still open at the deadline",
                   state->websockets.size());
      return done(false);
    }
    timer.expires_after(state->config.drain_batch_interval);
    timer.async_wait([self = shared_from_this()](boost::system::error_code) { self->step(); });
  }

  std::shared_ptr<ServerState> state;
  std::function<void(bool)> done;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
};

}  // namespace

Server::Server(asio::io_context& ioc, NetConfig config, ServerDeps deps)
    : state_(std::make_shared<ServerState>(std::vector<asio::io_context*>{&ioc}, false, config,
                                           std::move(deps))) {}

Server::Server(std::vector<asio::io_context*> shards, NetConfig config, ServerDeps deps)
    : state_(std::make_shared<ServerState>(std::move(shards), true, config, std::move(deps))) {}

Server::~Server() {
  if (listener_) listener_->stop();
}

std::variant<tcp::endpoint, SetupError> Server::listen(const tcp::endpoint& endpoint) {
  auto listener = std::make_shared<Listener>(state_);
  if (auto error = listener->open(endpoint)) return *error;
  boost::system::error_code ec;
  const auto bound = listener->acceptor.local_endpoint(ec);
  if (ec) return SetupError{"LISTEN", ec.message()};
  listener_ = listener;
  listener_->accept();
  return bound;
}

void Server::drain(std::function<void(bool)> done) {
  state_->unready.store(true);
  auto grace = std::make_shared<asio::steady_timer>(state_->ioc, state_->config.drain_grace);
  grace->async_wait([grace, state = state_, listener = listener_,
                     done = std::move(done)](boost::system::error_code) mutable {
    state->draining.store(true);
    if (listener) listener->stop();
    std::make_shared<Drain>(state, std::move(done))->step();
  });
}

bool Server::draining() const { return state_->draining.load(); }

const Metrics& Server::metrics() const { return state_->metrics; }

std::size_t Server::websocket_connections() const { return state_->websockets.size(); }

}  // namespace mend::net
