#include "setup.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "cli_args.h"
#include "proc_stats.h"

namespace mend::load {
namespace {

namespace net = boost::asio;

// The PEM of the leaf certificate `host:port` presents, without verifying it.
std::optional<std::string> fetch_certificate(const HostPort& where, std::string& error) {
  try {
    net::io_context io;
    net::ssl::context context{net::ssl::context::tls_client};
    context.set_verify_mode(net::ssl::verify_none);
    net::ssl::stream<net::ip::tcp::socket> stream(io, context);
    net::ip::tcp::resolver resolver(io);
    net::connect(stream.next_layer(),
                 resolver.resolve(where.host, std::to_string(where.port)));
    stream.handshake(net::ssl::stream_base::client);
    X509* peer = SSL_get1_peer_certificate(stream.native_handle());
    if (peer == nullptr) {
      error = "the server presented no certificate";
      return std::nullopt;
    }
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, peer);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    X509_free(peer);
    boost::system::error_code ignored;
    stream.shutdown(ignored);
    return pem;
  } catch (const std::exception& e) {
    error = std::string("could not fetch the server's certificate: ") + e.what();
    return std::nullopt;
  }
}

std::optional<std::string> write_temp_pem(const std::string& pem) {
  char path[] = "/tmp/mend-load-ca-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return std::nullopt;
  const bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  ::close(fd);
  if (!ok) return std::nullopt;
  return std::string(path);
}

}  // namespace

unsigned long raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<unsigned long>(limit.rlim_cur);
}

std::optional<Setup> prepare(const LoadOptions& options, std::string& error) {
  Setup setup;
  setup.http_base_url = cli::http_base_url(options.server);
  setup.websocket_url = cli::websocket_url(options.server);
  const auto where = server_host_port(options.server);
  if (!where) {
    error = "cannot read the server URL";
    return std::nullopt;
  }
  setup.ca_file = options.ca_file;
  const bool tls = options.server.rfind("wss://", 0) == 0 || options.server.rfind("https://", 0) == 0;
  if (options.insecure && tls) {
    const auto pem = fetch_certificate(*where, error);
    if (!pem) return std::nullopt;
    const auto path = write_temp_pem(*pem);
    if (!path) {
      error = "could not write the fetched certificate to /tmp";
      return std::nullopt;
    }
    setup.ca_file = *path;
  }
  if (!options.api_key_file.empty()) {
    std::ifstream in(options.api_key_file);
    if (!in || !std::getline(in, setup.api_key) || setup.api_key.empty()) {
      error = "cannot read an API key from " + options.api_key_file;
      return std::nullopt;
    }
  }
  if (options.server_pid > 0) {
    setup.server_pid = options.server_pid;
  } else if (is_loopback_host(where->host)) {
    setup.server_pid = find_listening_pid(where->port);
  }
  setup.fd_limit = raise_fd_limit();
  return setup;
}

}  // namespace mend::load
