// Fuzz target: invite token parsing and verification (DESIGN.md 3, 7; server/rooms/tokens.h).
//
// Input: a mode byte, then bytes. Mode even: the bytes are a token as presented (Hello.token,
// Authorization: Bearer). Mode odd: the bytes are a token payload, signed here as the format
// documents, so that fuzzing reaches the payload decoder behind the signature check.
// Properties: verify never crashes; claims it returns re-sign to the very token presented
// (one encoding per claim) and are expired exactly when now >= expires_at_ms; a token with
// one byte changed never verifies; base64url round-trips any bytes.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <variant>

#include "server/rooms/tokens.h"
#include "tests/fuzz/fuzz_target.h"

namespace mend::fuzz {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

const std::string& secret() {
  static const std::string value(rooms::kMinSecretBytes, 's');
  return value;
}

// HMAC-SHA256(secret, payload), the token format of tokens.h.
std::string mac_of(std::string_view payload) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret().data(), static_cast<int>(secret().size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac.data(), &len);
  return std::string(reinterpret_cast<const char*>(mac.data()), len);
}

std::string signed_payload(std::string_view payload) {
  return rooms::base64url_encode(payload) + "." + rooms::base64url_encode(mac_of(payload));
}

void check_token(const rooms::TokenSigner& signer, const std::string& token) {
  const auto result = signer.verify(token, kNow);
  const auto* claims = std::get_if<rooms::TokenClaims>(&result);
  if (claims == nullptr) {
    (void)rooms::to_string(std::get<rooms::TokenError>(result));
    return;
  }
  require(kNow < claims->expires_at_ms, "verified claims are not expired");
  require(signer.sign(*claims) == token, "verified claims re-sign to the token presented");
  require(std::holds_alternative<rooms::TokenError>(signer.verify(token, claims->expires_at_ms)),
          "a token is expired at its expiry");
  std::string tampered = token;
  tampered[tampered.size() / 2] ^= 1;
  require(!std::holds_alternative<rooms::TokenClaims>(signer.verify(tampered, kNow)),
          "a token with a byte changed does not verify");
}

}  // namespace

std::vector<std::string> seeds() {
  const rooms::TokenSigner signer(secret());
  std::vector<std::string> out;
  auto claims_of = [](v1::Role role, std::string observer, std::int64_t expires) {
    rooms::TokenClaims claims;
    claims.room_id = "0123456789abcdef0123456789abcdef";
    claims.participant.set_role(role);
    claims.participant.set_observer(std::move(observer));
    claims.expires_at_ms = expires;
    return claims;
  };
  out.push_back('\0' + signer.sign(claims_of(v1::PARTNER_A, "", kNow + 3'600'000)));
  out.push_back('\0' + signer.sign(claims_of(v1::PARTNER_B, "", kNow - 1)));
  out.push_back('\0' + signer.sign(claims_of(v1::OBSERVER, "dr-lee", kNow + 1)));
  out.push_back(std::string("\0not.a-token", 12));
  out.push_back(std::string("\0..", 3));
  // Odd mode: raw payloads (version 1, role, expiry, room id, observer).
  std::string payload = "\x01\x01";
  payload += std::string("\x00\x00\x01\xa3\x00\x00\x00\x00", 8);
  payload += "\x02id";
  payload += std::string(1, '\0');
  out.push_back('\x01' + payload);
  out.push_back("\x01\x01\x03");
  return out;
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  if (size == 0) return 0;
  static const rooms::TokenSigner signer(fuzz::secret());
  const std::string bytes(fuzz::as_text(data + 1, size - 1));
  const auto decoded = rooms::base64url_decode(rooms::base64url_encode(bytes));
  fuzz::require(decoded && *decoded == bytes, "base64url round-trips any bytes");
  fuzz::check_token(signer, (data[0] & 1) != 0 ? fuzz::signed_payload(bytes) : bytes);
  return 0;
}
