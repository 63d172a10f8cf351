#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include <doctest/doctest.h>

#include "server/store/crypto.h"
#include "store_support.h"

namespace mend::store::crypto {
namespace {

using testing::TempDir;

Key key_of(unsigned char fill) {
  std::array<unsigned char, kKeyBytes> bytes{};
  bytes.fill(fill);
  return Key(bytes);
}

TEST_CASE("a sealed blob opens with the same key and AAD and hides its plaintext") {
  const Key key = key_of(1);
  const std::string text = "I felt alone when you left early";
  auto sealed = seal(key, text, "room-1/seq-3");
  REQUIRE(sealed.has_value());
  CHECK(sealed->size() == text.size() + kSealOverhead);
  CHECK(sealed->find(text) == std::string::npos);
  auto opened = open(key, *sealed, "room-1/seq-3");
  REQUIRE(opened.has_value());
  CHECK(*opened == text);
}

TEST_CASE("sealing twice uses fresh nonces") {
  const Key key = key_of(1);
  CHECK(*seal(key, "same", "aad") != *seal(key, "same", "aad"));
}

// Nonces come from a per-thread block drawn from the CSPRNG: a forked child must not seal with
// the nonces its parent still holds, or the two would encrypt under one key with one nonce.
TEST_CASE("a forked child seals with other nonces than its parent's next ones") {
  const Key key = key_of(4);
  REQUIRE(seal(key, "x", "aad").has_value());  // the parent's block is drawn
  std::array<int, 2> pipe_fds{};
  REQUIRE(::pipe(pipe_fds.data()) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const auto sealed = seal(key, "x", "aad");
    const bool sent = sealed && ::write(pipe_fds[1], sealed->data(), kNonceBytes) ==
                                    static_cast<ssize_t>(kNonceBytes);
    ::_exit(sent ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string child_nonce(kNonceBytes, '\0');
  const ssize_t got = ::read(pipe_fds[0], child_nonce.data(), kNonceBytes);
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(got == static_cast<ssize_t>(kNonceBytes));
  const auto parent = seal(key, "x", "aad");
  REQUIRE(parent.has_value());
  CHECK(parent->substr(0, kNonceBytes) != child_nonce);
}

TEST_CASE("a sealed blob does not open with another AAD, another key, or altered bytes") {
  const Key key = key_of(1);
  const std::string sealed = *seal(key, "private words", "room-1/seq-3");
  CHECK_FALSE(open(key, sealed, "room-1/seq-4"));
  CHECK_FALSE(open(key_of(2), sealed, "room-1/seq-3"));
  for (std::size_t at : {std::size_t{0}, kNonceBytes, sealed.size() - 1}) {
    std::string altered = sealed;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    CHECK_FALSE(open(key, altered, "room-1/seq-3"));
  }
  CHECK_FALSE(open(key, sealed.substr(0, kSealOverhead - 1), "room-1/seq-3"));
  CHECK_FALSE(open(key, sealed.substr(0, sealed.size() - 1), "room-1/seq-3"));
}

TEST_CASE("an empty plaintext seals and opens") {
  const Key key = key_of(3);
  auto opened = open(key, *seal(key, "", "aad"), "aad");
  REQUIRE(opened.has_value());
  CHECK(opened->empty());
}

TEST_CASE("a wrapped room key unwraps only for its room under its master key") {
  const Key master = key_of(7);
  const Key room_key = *random_key();
  const std::string wrapped = *wrap_key(master, room_key, "room-1");
  auto unwrapped = unwrap_key(master, wrapped, "room-1");
  REQUIRE(unwrapped.has_value());
  CHECK(unwrapped->view() == room_key.view());
  CHECK_FALSE(unwrap_key(master, wrapped, "room-2"));
  CHECK_FALSE(unwrap_key(key_of(8), wrapped, "room-1"));
}

TEST_CASE("keyed digests depend on the key and the input") {
  CHECK(keyed_digest(key_of(1), "A/c1").size() == 32);
  CHECK(keyed_digest(key_of(1), "x") == keyed_digest(key_of(1), "x"));
  CHECK(keyed_digest(key_of(1), "x") != keyed_digest(key_of(2), "x"));
  CHECK(keyed_digest(key_of(1), "x") != keyed_digest(key_of(1), "y"));
}

TEST_CASE("a keyed digest is HMAC-SHA256, so lookups stored by earlier versions still match") {
  // RFC 4231 test case 2: key "Jefe" (HMAC zero-pads the key to the block size, so "Jefe"
  // and "Jefe" followed by 28 zero bytes are the same key).
  std::array<unsigned char, kKeyBytes> bytes{};
  std::memcpy(bytes.data(), "Jefe", 4);
  const std::string digest = keyed_digest(Key(bytes), "what do ya want for nothing?");
  std::string hex;
  for (const char c : digest) {
    constexpr const char* kDigits = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(c);
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  CHECK(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("a missing master key file is created with 32 random bytes and mode 0600") {
  TempDir dir;
  const auto path = dir.path() / "master.key";
  auto created = load_or_create_master_key(path, true);
  REQUIRE_MESSAGE(created.key.has_value(), created.error);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  auto again = load_or_create_master_key(path, true);
  REQUIRE(again.key.has_value());
  CHECK(again.key->view() == created.key->view());
}

TEST_CASE("a master key file with the wrong size or permissions is refused, naming the file") {
  TempDir dir;
  const auto path = dir.path() / "master.key";
  CHECK_FALSE(load_or_create_master_key(path, false).key);  // absent, not to be created
  testing::write_file(path, std::string(31, 'k'));
  ::chmod(path.c_str(), 0600);
  auto short_key = load_or_create_master_key(path, true);
  CHECK_FALSE(short_key.key);
  CHECK(short_key.error.find(path.string()) != std::string::npos);
  CHECK(short_key.error.find("32 bytes") != std::string::npos);
  testing::write_file(path, std::string(32, 'k'));
  ::chmod(path.c_str(), 0644);
  auto readable = load_or_create_master_key(path, true);
  CHECK_FALSE(readable.key);
  CHECK(readable.error.find("chmod 600") != std::string::npos);
  ::chmod(path.c_str(), 0600);
  CHECK(load_or_create_master_key(path, true).key.has_value());
}

}  // namespace
}  // namespace mend::store::crypto
