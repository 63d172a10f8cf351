#include "server/rooms/tokens.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace mend::rooms {

namespace {

constexpr unsigned char kTokenVersion = 1;
constexpr std::size_t kMacBytes = 32;          // SHA-256
constexpr std::size_t kRoomIdRandomBytes = 16;  // 128 bits
constexpr std::size_t kMaxFieldBytes = 255;     // one length byte

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

namespace fs = std::filesystem;

SecretFileError secret_error(std::string code, const fs::path& path, const std::string& what) {
  return SecretFileError{std::move(code), "token secret file " + path.string() + ": " + what};
}

std::variant<std::string, SecretFileError> read_secret(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return secret_error("IO", path, "cannot read");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return secret_error("IO", path, "cannot read");
  if (bytes.size() < kMinSecretBytes) {
    return secret_error("IO", path, "shorter than " + std::to_string(kMinSecretBytes) + " bytes");
  }
  return bytes;
}

// Writes `secret` to a new file at `path` (O_EXCL: never over another's). nullopt when done;
// EEXIST when another process created it first.
std::optional<int> create_secret_file(const fs::path& path, const std::string& secret) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  errno = 0;
  std::size_t written = 0;
  while (written < secret.size()) {
    const ssize_t n = ::write(fd, secret.data() + written, secret.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  int failed = 0;
  if (written < secret.size() || ::fsync(fd) != 0) failed = errno != 0 ? errno : EIO;
  ::close(fd);
  if (failed != 0) {
    ::unlink(path.c_str());  // no short secret left behind for the next start to refuse
    return failed;
  }
  return std::nullopt;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes_of(data), data.size(),
           mac.data(), &len) == nullptr ||
      len != kMacBytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), len);
}

std::string encode_payload(const TokenClaims& claims) {
  const std::string& observer = claims.participant.observer();
  if (claims.room_id.size() > kMaxFieldBytes || observer.size() > kMaxFieldBytes) {
    throw std::invalid_argument("token field too long");
  }
  std::string payload;
  payload.reserve(12 + claims.room_id.size() + observer.size());
  payload.push_back(static_cast<char>(kTokenVersion));
  payload.push_back(static_cast<char>(claims.participant.role()));
  const auto expires = static_cast<std::uint64_t>(claims.expires_at_ms);
  for (int shift = 56; shift >= 0; shift -= 8) {
    payload.push_back(static_cast<char>((expires >> shift) & 0xff));
  }
  payload.push_back(static_cast<char>(claims.room_id.size()));
  payload += claims.room_id;
  payload.push_back(static_cast<char>(observer.size()));
  payload += observer;
  return payload;
}

// Reads length-prefixed fields; nullopt when the payload is not exactly one well-formed claim.
std::optional<TokenClaims> decode_payload(std::string_view p) {
  std::size_t pos = 0;
  auto byte = [&]() -> std::optional<unsigned char> {
    if (pos >= p.size()) return std::nullopt;
    return static_cast<unsigned char>(p[pos++]);
  };
  auto field = [&]() -> std::optional<std::string> {
    auto len = byte();
    if (!len || p.size() - pos < *len) return std::nullopt;
    std::string out(p.substr(pos, *len));
    pos += *len;
    return out;
  };
  auto version = byte();
  auto role = byte();
  if (!version || *version != kTokenVersion || !role) return std::nullopt;
  if (*role != v1::PARTNER_A && *role != v1::PARTNER_B && *role != v1::OBSERVER) {
    return std::nullopt;
  }
  std::uint64_t expires = 0;
  for (int i = 0; i < 8; ++i) {
    auto b = byte();
    if (!b) return std::nullopt;
    expires = (expires << 8) | *b;
  }
  auto room_id = field();
  auto observer = field();
  if (!room_id || !observer || pos != p.size()) return std::nullopt;
  if ((*role == v1::OBSERVER) == observer->empty()) return std::nullopt;
  TokenClaims claims;
  claims.room_id = std::move(*room_id);
  claims.participant.set_role(static_cast<v1::Role>(*role));
  claims.participant.set_observer(std::move(*observer));
  claims.expires_at_ms = static_cast<std::int64_t>(expires);
  return claims;
}

}  // namespace

const char* to_string(TokenError error) {
  switch (error) {
    case TokenError::kMalformed: return "MALFORMED";
    case TokenError::kBadSignature: return "BAD_SIGNATURE";
    case TokenError::kExpired: return "EXPIRED";
  }
  return "UNKNOWN";
}

std::string base64url_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(bytes),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      standard.push_back(c);
    } else if (c == '-') {
      standard.push_back('+');
    } else if (c == '_') {
      standard.push_back('/');
    } else {
      return std::nullopt;
    }
  }
  const std::size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::string out(standard.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                bytes_of(standard), static_cast<int>(standard.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  if (base64url_encode(out) != text) return std::nullopt;  // non-canonical trailing bits
  return out;
}

TokenSigner::TokenSigner(std::string secret) : secret_(std::move(secret)) {
  if (secret_.size() < kMinSecretBytes) {
    throw std::invalid_argument("token secret must hold at least 32 bytes");
  }
}

std::variant<TokenSigner, SecretFileError> TokenSigner::from_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
      fs::create_directories(path.parent_path(), ec);
      if (ec) return secret_error("DATA_DIR", path, "cannot create its directory: " + ec.message());
      fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
    }
    std::string secret;
    try {
      secret = random_bytes(kMinSecretBytes);
    } catch (const std::runtime_error&) {
      return secret_error("KEYGEN", path, "no randomness for a new secret");
    }
    const std::optional<int> failed = create_secret_file(path, secret);
    if (!failed) return TokenSigner(std::move(secret));
    if (*failed != EEXIST) return secret_error("IO", path, std::strerror(*failed));
  }
  auto read = read_secret(path);
  if (auto* error = std::get_if<SecretFileError>(&read)) return std::move(*error);
  return TokenSigner(std::move(std::get<std::string>(read)));
}

std::string TokenSigner::sign(const TokenClaims& claims) const {
  const std::string payload = encode_payload(claims);
  return base64url_encode(payload) + '.' + base64url_encode(hmac_sha256(secret_, payload));
}

std::string TokenSigner::keyed_digest(std::string_view value) const {
  // A token payload starts with its version byte, never with this text.
  return hmac_sha256(secret_, "mend/keyed-digest/v1\n" + std::string(value));
}

std::variant<TokenClaims, TokenError> TokenSigner::verify(std::string_view token,
                                                          std::int64_t now_ms) const {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return TokenError::kMalformed;
  auto payload = base64url_decode(token.substr(0, dot));
  auto mac = base64url_decode(token.substr(dot + 1));
  if (!payload || !mac || mac->size() != kMacBytes) return TokenError::kMalformed;
  const std::string expected = hmac_sha256(secret_, *payload);
  if (CRYPTO_memcmp(expected.data(), mac->data(), kMacBytes) != 0) {
    return TokenError::kBadSignature;
  }
  auto claims = decode_payload(*payload);
  if (!claims) return TokenError::kMalformed;
  if (now_ms >= claims->expires_at_ms) return TokenError::kExpired;
  return std::move(*claims);
}

std::string new_room_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string raw = random_bytes(kRoomIdRandomBytes);
  std::string id;
  id.reserve(2 * raw.size());
  for (unsigned char b : raw) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

bool is_valid_room_id(std::string_view id) {
  if (id.size() != 2 * kRoomIdRandomBytes) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace mend::rooms
