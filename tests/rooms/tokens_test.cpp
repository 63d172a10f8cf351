#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "server/rooms/tokens.h"
#include "tests/common/temp_dir.h"

namespace mend::rooms {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

TokenClaims claims_for(v1::Role role, std::string observer = {}) {
  TokenClaims claims;
  claims.room_id = new_room_id();
  claims.participant.set_role(role);
  claims.participant.set_observer(std::move(observer));
  claims.expires_at_ms = kNow + 60'000;
  return claims;
}

TokenError error_of(const std::variant<TokenClaims, TokenError>& v) {
  REQUIRE(std::holds_alternative<TokenError>(v));
  return std::get<TokenError>(v);
}

TEST_CASE("a signed token verifies to its claims before it expires") {
  const TokenSigner signer(std::string(32, 's'));
  for (const TokenClaims& claims :
       {claims_for(v1::PARTNER_A), claims_for(v1::PARTNER_B), claims_for(v1::OBSERVER, "Dr. Kim")}) {
    const std::string token = signer.sign(claims);
    CHECK(token.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
          std::string::npos);
    auto verified = signer.verify(token, kNow);
    REQUIRE(std::holds_alternative<TokenClaims>(verified));
    const TokenClaims& got = std::get<TokenClaims>(verified);
    CHECK(got.room_id == claims.room_id);
    CHECK(got.participant.role() == claims.participant.role());
    CHECK(got.participant.observer() == claims.participant.observer());
    CHECK(got.expires_at_ms == claims.expires_at_ms);
  }
}

TEST_CASE("a token signed under another secret is a bad signature") {
  const TokenSigner signer(std::string(32, 's'));
  const TokenSigner forger(std::string(32, 'f'));
  CHECK(error_of(signer.verify(forger.sign(claims_for(v1::PARTNER_A)), kNow)) ==
        TokenError::kBadSignature);
}

TEST_CASE("a token whose payload was changed is a bad signature") {
  const TokenSigner signer(std::string(32, 's'));
  const TokenClaims original = claims_for(v1::PARTNER_B);
  const std::string token = signer.sign(original);
  // Re-encode the payload with another role, keeping the signature.
  TokenClaims promoted = original;
  promoted.participant.set_role(v1::PARTNER_A);
  const std::string forged_payload = signer.sign(promoted).substr(0, token.find('.'));
  const std::string tampered = forged_payload + token.substr(token.find('.'));
  CHECK(error_of(signer.verify(tampered, kNow)) == TokenError::kBadSignature);
  // Flip one character of the signature.
  std::string bad_mac = token;
  bad_mac.back() = bad_mac.back() == 'A' ? 'Q' : 'A';
  const auto verdict = error_of(signer.verify(bad_mac, kNow));
  CHECK((verdict == TokenError::kBadSignature || verdict == TokenError::kMalformed));
}

TEST_CASE("a token is expired from its expiry time on") {
  const TokenSigner signer(std::string(32, 's'));
  const TokenClaims claims = claims_for(v1::PARTNER_A);
  const std::string token = signer.sign(claims);
  CHECK(std::holds_alternative<TokenClaims>(signer.verify(token, claims.expires_at_ms - 1)));
  CHECK(error_of(signer.verify(token, claims.expires_at_ms)) == TokenError::kExpired);
}

TEST_CASE("text that is not a token is malformed") {
  const TokenSigner signer(std::string(32, 's'));
  for (const char* text : {"", ".", "abc", "abc.def", "a+b.c/d", "YWJj.YWJj=", "😀.x"}) {
    CHECK(error_of(signer.verify(text, kNow)) == TokenError::kMalformed);
  }
}

TEST_CASE("a short secret is refused") {
  CHECK_THROWS_AS(TokenSigner(std::string(31, 's')), std::invalid_argument);
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

TEST_CASE("the token secret is 32 random bytes in a 0600 file, stable across starts") {
  mend::testing::TempDir dir("tokens");
  const auto path = dir.path() / "keys" / kTokenSecretFile;  // its directory is created too
  auto first = TokenSigner::from_file(path);
  REQUIRE(std::holds_alternative<TokenSigner>(first));
  CHECK(std::filesystem::file_size(path) == kMinSecretBytes);
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(path.parent_path()) == 0700);
  auto second = TokenSigner::from_file(path);
  REQUIRE(std::holds_alternative<TokenSigner>(second));
  const TokenClaims claims = claims_for(v1::PARTNER_A);
  const std::string token = std::get<TokenSigner>(first).sign(claims);
  CHECK(std::holds_alternative<TokenClaims>(std::get<TokenSigner>(second).verify(token, kNow)));
  CHECK(std::filesystem::file_size(path) == kMinSecretBytes);
}

TEST_CASE("a token secret file shorter than 32 bytes is refused, naming the file, not the bytes") {
  mend::testing::TempDir dir("tokens");
  const auto path = dir.path() / kTokenSecretFile;
  std::ofstream(path, std::ios::binary) << std::string(31, 'z');
  auto loaded = TokenSigner::from_file(path);
  REQUIRE(std::holds_alternative<SecretFileError>(loaded));
  const SecretFileError& error = std::get<SecretFileError>(loaded);
  CHECK(error.code == "IO");
  CHECK(error.message.find(path.string()) != std::string::npos);
  CHECK(error.message.find("zzz") == std::string::npos);
  CHECK(std::filesystem::file_size(path) == 31);  // left as it was
}

TEST_CASE("room ids are 128 random bits in hex") {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_room_id();
    CHECK(id.size() == 32);
    CHECK(is_valid_room_id(id));
    ids.insert(id);
  }
  CHECK(ids.size() == 100);
  CHECK_FALSE(is_valid_room_id("ABCDEF0123456789abcdef0123456789"));
  CHECK_FALSE(is_valid_room_id("abc"));
}

TEST_CASE("base64url round-trips every length and rejects non-canonical text") {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    const std::string encoded = base64url_encode(bytes);
    CHECK(encoded.find('=') == std::string::npos);
    const auto decoded = base64url_decode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
    bytes.push_back(static_cast<char>(n * 37 + 200));
  }
  CHECK_FALSE(base64url_decode("QR").has_value());  // trailing bits set: non-canonical
  CHECK(base64url_decode("QQ") == std::optional<std::string>("A"));
}

}  // namespace
}  // namespace mend::rooms
