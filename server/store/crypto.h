// Encryption at rest for the store (DESIGN.md section 7): AES-256-GCM through OpenSSL EVP.
//
// - seal/open: authenticated encryption of one blob with associated data (AAD). The AAD is
//   not stored; open succeeds only with the same key AND the same AAD, so binding a blob to
//   where it lives (room id, seq) makes a blob moved elsewhere fail to open.
// - wrap_key/unwrap_key: a room's data key sealed under the master key, AAD = the room id.
// - load_or_create_master_key: the master key file (32 raw bytes, mode 0600).
//
// Sealed format: 12-byte random nonce || ciphertext || 16-byte tag. A fresh nonce per seal;
// with 96-bit random nonces a key may seal about 2^32 blobs before the collision risk
// matters, far above a room's events.
//
// Thread safety: every function is safe to call concurrently: seal and open keep a cipher
// context and a block of CSPRNG nonces per thread, nothing else is shared. Errors are values;
// no exception leaves.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mend::store::crypto {

inline constexpr std::size_t kKeyBytes = 32;    // AES-256
inline constexpr std::size_t kNonceBytes = 12;  // 96-bit GCM nonce
inline constexpr std::size_t kTagBytes = 16;    // 128-bit GCM tag
inline constexpr std::size_t kSealOverhead = kNonceBytes + kTagBytes;

// A 256-bit key. Wiped (OPENSSL_cleanse) when destroyed.
class Key {
 public:
  Key() = default;
  explicit Key(const std::array<unsigned char, kKeyBytes>& bytes) : bytes_(bytes) {}
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  ~Key();

  const unsigned char* data() const { return bytes_.data(); }
  unsigned char* data() { return bytes_.data(); }
  static constexpr std::size_t size() { return kKeyBytes; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

 private:
  std::array<unsigned char, kKeyBytes> bytes_{};
};

// A key from the OS-seeded CSPRNG; nullopt if the RNG failed.
std::optional<Key> random_key();

// Encrypts `plaintext` under `key`, authenticating `aad` too. nullopt only if OpenSSL failed
// (RNG or cipher error), never for valid input.
std::optional<std::string> seal(const Key& key, std::string_view plaintext, std::string_view aad);

// Decrypts a sealed blob. nullopt when the blob is malformed, was altered, or `key` or `aad`
// differ from those it was sealed with (they are indistinguishable by design).
std::optional<std::string> open(const Key& key, std::string_view sealed, std::string_view aad);

// A room's data key sealed under the master key with AAD bound to the room id.
std::optional<std::string> wrap_key(const Key& master, const Key& room_key,
                                    std::string_view room_id);
// The room key, or nullopt when the wrapped key was altered, belongs to another room, or the
// master key is not the one it was wrapped with.
std::optional<Key> unwrap_key(const Key& master, std::string_view wrapped,
                              std::string_view room_id);

// A keyed hash (HMAC-SHA-256) for lookups that must not reveal their input: with the key
// destroyed, the digest cannot be linked to its input any more.
std::string keyed_digest(const Key& key, std::string_view input);

struct MasterKeyResult {
  std::optional<Key> key;
  std::string error;  // set when key is nullopt: what is wrong, naming the file
};

// Reads the master key from `path`. When the file does not exist and `create_if_absent`:
// creates it with 32 random bytes, mode 0600 (exclusively; fsynced). Fails (error) when the
// file is not a regular file, is readable by group or others, or is not exactly 32 bytes.
MasterKeyResult load_or_create_master_key(const std::filesystem::path& path, bool create_if_absent);

}  // namespace mend::store::crypto
