// Internal: TLS setup shared by Client and HttpClient (certificate and host name verification).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>

#include "mend/client_error.h"

namespace mend::client::detail {

// The system trust store: its hashed certificate directory (SSL_CERT_DIR or OpenSSL's default),
// looked up lazily, certificate by certificate, during verification. Parsing the whole bundle
// file instead (set_default_verify_paths) costs tens of milliseconds per context, which made
// every new connection slow (mend-load: 300 wss connections took 11.8 s instead of 0.4 s).
// Falls back to the default paths when there is no such directory.
inline void use_system_trust_store(boost::asio::ssl::context& context) {
  const char* from_env = std::getenv(X509_get_default_cert_dir_env());
  const char* dir = from_env != nullptr ? from_env : X509_get_default_cert_dir();
  std::error_code fs_error;
  if (std::filesystem::is_directory(dir, fs_error) &&
      SSL_CTX_load_verify_dir(context.native_handle(), dir) == 1) {
    return;
  }
  boost::system::error_code ignored;  // a machine without a trust store still may use ca_file
  context.set_default_verify_paths(ignored);
}

// A TLS 1.2+ client context that verifies peers against the system trust store plus
// `ca_file` (PEM) when not empty. Sets `error` (kInvalidArgument) when ca_file is unreadable.
inline std::optional<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                                 ClientError& error) {
  namespace ssl = boost::asio::ssl;
  ssl::context context{ssl::context::tls_client};
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  use_system_trust_store(context);
  boost::system::error_code ec;
  if (!ca_file.empty()) {
    context.load_verify_file(ca_file, ec);
    if (ec) {
      error = {ErrorCode::kInvalidArgument, 0, 0, {}, "cannot read the CA file: " + ec.message()};
      return std::nullopt;
    }
  }
  context.set_verify_mode(ssl::verify_peer);
  return context;
}

// Prepares one TLS stream for `host`: SNI (for names, not IP literals) and verification of the
// certificate's name or IP address against `host`. Returns false when SNI cannot be set.
template <class TlsStream>
bool prepare_tls_stream(TlsStream& stream, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // SSL_set_tlsext_host_name is a macro with a C cast; this is its function form.
  if (!is_ip && SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                         TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str())) != 1) {
    return false;
  }
  stream.set_verify_mode(boost::asio::ssl::verify_peer);
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(host));
  return true;
}

}  // namespace mend::client::detail
