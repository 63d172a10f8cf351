// Key material in the data directory (DESIGN.md section 7): the self-signed TLS certificate
// for local use, generated on first start, files mode 0600. (The token secret is TokenSigner's:
// rooms/tokens.h.)
// Thread safety: call at start-up, before serving. Errors are returned as values.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace mend::net {

// A failure with a stable code ("DATA_DIR", "KEYGEN", "IO") and a human message.
struct SetupError {
  std::string code;
  std::string message;
};

struct TlsFiles {
  std::filesystem::path certificate;  // PEM certificate (chain)
  std::filesystem::path private_key;  // PEM private key
};

inline constexpr const char* kSelfSignedCertFile = "tls-cert.pem";
inline constexpr const char* kSelfSignedKeyFile = "tls-key.pem";
inline constexpr int kSelfSignedValidDays = 365;

// Returns data_dir/tls-cert.pem and tls-key.pem, generating them when either is missing:
// EC P-256 key, CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, valid 365 days.
// Creates data_dir (0700) when missing.
std::variant<TlsFiles, SetupError> ensure_self_signed_certificate(
    const std::filesystem::path& data_dir);

// Writes `bytes` to `path` with mode 0600 (created or truncated).
std::optional<SetupError> write_private_file(const std::filesystem::path& path,
                                             const std::string& bytes);

}  // namespace mend::net
