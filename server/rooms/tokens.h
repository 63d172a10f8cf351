// Invite tokens and room ids (DESIGN.md sections 3 and 7). TokenSigner is the one owner of the
// server's token secret: it reads (or creates) the secret file, signs, verifies and digests;
// nothing else holds the secret's bytes.
//
// An invite token is a bearer credential bound to (room id, participant (role, observer
// name), expiry), signed with HMAC-SHA256 under a server secret. Format (URL-safe, no
// padding, ~110 characters for a partner):
//   base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
//   payload = version(1 byte = 1) | role(1 byte) | expires_at_ms(8 bytes big-endian)
//             | room id length(1) | room id | observer name length(1) | observer name
// Tokens are credentials: never log them, never put them in URLs' query strings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "mend/v1/roles.pb.h"

namespace mend::rooms {

struct TokenClaims {
  std::string room_id;
  v1::Actor participant;          // PARTNER_A, PARTNER_B, or OBSERVER with its name
  std::int64_t expires_at_ms = 0;  // ms since the Unix epoch; the token is valid before it
};

enum class TokenError {
  kMalformed,     // not a token of this format (also: room id or observer name too long)
  kBadSignature,  // forged, tampered with, or signed under another secret
  kExpired,       // now >= expires_at_ms
};

// Stable name, e.g. "MALFORMED", for logs and metrics (never the token itself).
const char* to_string(TokenError error);

// Minimum secret length accepted by TokenSigner (bytes); a new secret file holds this many.
inline constexpr std::size_t kMinSecretBytes = 32;
// The secret file's name in the data directory (--token-secret-file overrides the path).
inline constexpr const char* kTokenSecretFile = "token-secret.bin";

// Why the secret file could not be used: a stable code ("DATA_DIR", "KEYGEN", "IO") and a
// human message naming the path (never the secret).
struct SecretFileError {
  std::string code;
  std::string message;
};

// Signs and verifies invite tokens with one server secret.
// Thread safety: immutable after construction; sign/verify may run concurrently.
class TokenSigner {
 public:
  // `secret` must hold at least kMinSecretBytes bytes (throws std::invalid_argument otherwise;
  // a configuration error at startup). Keep the secret stable across restarts, or every
  // issued invite becomes invalid.
  explicit TokenSigner(std::string secret);

  // The signer for the secret in `path`. A missing file is created with kMinSecretBytes fresh
  // random bytes (RAND_bytes), mode 0600, synced, its directory created 0700 when missing;
  // when another process creates it first, that one's secret is read. A file shorter than
  // kMinSecretBytes is an error. Call at start-up, before serving.
  static std::variant<TokenSigner, SecretFileError> from_file(const std::filesystem::path& path);

  // Signs `claims`. Precondition: room_id and observer name are at most 255 bytes.
  std::string sign(const TokenClaims& claims) const;

  // The claims of a token signed by this secret and not expired at `now_ms`, or why not.
  // Constant-time signature comparison (CRYPTO_memcmp).
  std::variant<TokenClaims, TokenError> verify(std::string_view token,
                                               std::int64_t now_ms) const;

  // A keyed digest of `value` (HMAC-SHA256 under the secret, apart from any token's MAC):
  // a content-free key for something that must not be stored as is, such as a room's
  // creator (an API key or an address). 32 raw bytes.
  std::string keyed_digest(std::string_view value) const;

 private:
  std::string secret_;
};

// A new room id: 128 random bits (RAND_bytes) as 32 lowercase hex characters.
std::string new_room_id();

// Whether `id` has the form new_room_id produces (32 lowercase hex characters).
bool is_valid_room_id(std::string_view id);

// URL-safe base64 without padding (RFC 4648 section 5), and its strict inverse (nullopt for
// characters outside the alphabet, padding, or a non-canonical encoding).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace mend::rooms
