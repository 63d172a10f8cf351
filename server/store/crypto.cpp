#include "server/store/crypto.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace mend::store::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
int length(std::string_view s) { return static_cast<int>(s.size()); }

struct CipherFree {
  void operator()(EVP_CIPHER* cipher) const { EVP_CIPHER_free(cipher); }
};

// AES-256-GCM, fetched once (immutable afterwards; thread-safe static init): EVP_aes_256_gcm()
// makes every EVP_*Init_ex fetch the algorithm again, which cost about as much as sealing an
// event. Falls back to the implicit fetch if the explicit one fails.
const EVP_CIPHER* aes_256_gcm() {
  static const std::unique_ptr<EVP_CIPHER, CipherFree> cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher ? cipher.get() : EVP_aes_256_gcm();
}

// Inputs above this are refused (EVP takes int lengths); far above any event.
constexpr std::size_t kMaxBlobBytes = 1u << 30;

// One cipher context per thread, initialized again (key and nonce) by every seal and open: a
// new context per call cost an allocation of the context and of its provider state, and the
// fetch of the provider's GCM implementation. Init replaces all state the last use left
// (also after a failure); the key schedule stays in the context until the next use.
EVP_CIPHER_CTX* thread_cipher_ctx() {
  thread_local const CipherCtx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

// Nonces drawn from the CSPRNG a block at a time: one RAND_bytes call per kNoncesPerDraw
// seals instead of one per seal (the DRBG's fixed cost per call, with its fork check, was
// about three quarters of sealing an event). The block holds only nonces, which are public
// (stored beside their ciphertext); each is handed out once. A forked child discards its
// copy of the block, or parent and child would seal with the same nonces.
class NoncePool {
 public:
  bool next(unsigned char* nonce) {
    if (used_ == block_.size()) {
      if (RAND_bytes(block_.data(), static_cast<int>(block_.size())) != 1) return false;
      used_ = 0;
    }
    std::memcpy(nonce, block_.data() + used_, kNonceBytes);
    used_ += kNonceBytes;
    return true;
  }
  void discard() { used_ = block_.size(); }

 private:
  static constexpr std::size_t kNoncesPerDraw = 256;
  std::array<unsigned char, kNonceBytes * kNoncesPerDraw> block_{};
  std::size_t used_ = block_.size();
};

NoncePool& thread_nonce_pool() {
  thread_local NoncePool pool;
  return pool;
}

// The child of fork() runs only the forking thread: its pool is the one to discard.
void discard_nonces_in_child() { thread_nonce_pool().discard(); }

bool next_nonce(unsigned char* nonce) {
  static std::once_flag at_fork;
  std::call_once(at_fork, [] { pthread_atfork(nullptr, nullptr, discard_nonces_in_child); });
  return thread_nonce_pool().next(nonce);
}

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text() { return std::strerror(errno); }

MasterKeyResult key_error(const std::filesystem::path& path, const std::string& what) {
  return MasterKeyResult{std::nullopt, "master key file " + path.string() + ": " + what};
}

MasterKeyResult create_master_key(const std::filesystem::path& path) {
  auto key = random_key();
  if (!key) return key_error(path, "could not generate random bytes");
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR));
  if (fd.get() < 0) return key_error(path, "cannot create: " + errno_text());
  if (::write(fd.get(), key->data(), kKeyBytes) != static_cast<ssize_t>(kKeyBytes) ||
      ::fsync(fd.get()) != 0) {
    return key_error(path, "cannot write: " + errno_text());
  }
  // Make the new directory entry durable too.
  Fd dir(::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return MasterKeyResult{std::move(key), {}};
}

MasterKeyResult read_master_key(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return key_error(path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return key_error(path, "cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) return key_error(path, "is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return key_error(path, "must be accessible only by its owner (chmod 600)");
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    return key_error(path, "must hold exactly 32 bytes, holds " + std::to_string(st.st_size));
  }
  Key key;
  if (::read(fd.get(), key.data(), kKeyBytes) != static_cast<ssize_t>(kKeyBytes)) {
    return key_error(path, "cannot read: " + errno_text());
  }
  return MasterKeyResult{key, {}};
}

}  // namespace

Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::optional<Key> random_key() {
  Key key;
  if (RAND_bytes(key.data(), static_cast<int>(kKeyBytes)) != 1) return std::nullopt;
  return key;
}

std::optional<std::string> seal(const Key& key, std::string_view plaintext, std::string_view aad) {
  if (plaintext.size() > kMaxBlobBytes || aad.size() > kMaxBlobBytes) return std::nullopt;
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* nonce = bytes(out);
  unsigned char* cipher = nonce + kNonceBytes;
  if (!next_nonce(nonce)) return std::nullopt;
  EVP_CIPHER_CTX* ctx = thread_cipher_ctx();
  int len = 0;
  int final_len = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx, aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &len, bytes(aad), length(aad)) != 1 ||
      EVP_EncryptUpdate(ctx, cipher, &len, bytes(plaintext), length(plaintext)) != 1 ||
      EVP_EncryptFinal_ex(ctx, cipher + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          cipher + plaintext.size()) != 1) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> open(const Key& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kSealOverhead || sealed.size() > kMaxBlobBytes ||
      aad.size() > kMaxBlobBytes) {
    return std::nullopt;
  }
  const unsigned char* nonce = bytes(sealed);
  const unsigned char* cipher = nonce + kNonceBytes;
  const std::size_t cipher_len = sealed.size() - kSealOverhead;
  // The tag must be writable for EVP_CIPHER_CTX_ctrl.
  std::array<unsigned char, kTagBytes> tag{};
  std::memcpy(tag.data(), cipher + cipher_len, kTagBytes);
  std::string out(cipher_len, '\0');
  EVP_CIPHER_CTX* ctx = thread_cipher_ctx();
  int len = 0;
  int final_len = 0;
  if (ctx == nullptr || EVP_DecryptInit_ex(ctx, aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx, nullptr, &len, bytes(aad), length(aad)) != 1 ||
      EVP_DecryptUpdate(ctx, bytes(out), &len, cipher, static_cast<int>(cipher_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx, bytes(out) + len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

namespace {
std::string key_wrap_aad(std::string_view room_id) {
  std::string aad = "mend/room-key/v1";
  aad.push_back('\0');
  aad.append(room_id);
  return aad;
}
}  // namespace

std::optional<std::string> wrap_key(const Key& master, const Key& room_key,
                                    std::string_view room_id) {
  return seal(master, room_key.view(), key_wrap_aad(room_id));
}

std::optional<Key> unwrap_key(const Key& master, std::string_view wrapped,
                              std::string_view room_id) {
  auto plain = open(master, wrapped, key_wrap_aad(room_id));
  if (!plain || plain->size() != kKeyBytes) return std::nullopt;
  Key key;
  std::memcpy(key.data(), plain->data(), kKeyBytes);
  OPENSSL_cleanse(plain->data(), plain->size());
  return key;
}

namespace {

struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// SHA-256, fetched once (immutable afterwards; thread-safe static init). HMAC() with
// EVP_sha256() fetches the MAC and the digest on every call, which cost more than the digest.
const EVP_MD* sha256() {
  static const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

// HMAC-SHA256 (RFC 2104) over the prefetched digest; false when OpenSSL fails.
bool hmac_sha256(const Key& key, std::string_view input, std::string& out) {
  constexpr std::size_t kBlockBytes = 64;  // SHA-256 block; keys up to it are zero-padded
  static_assert(kKeyBytes <= kBlockBytes);
  const EVP_MD* md = sha256();
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (md == nullptr || !ctx) return false;
  std::array<unsigned char, kBlockBytes> pad{};
  std::memcpy(pad.data(), key.data(), kKeyBytes);
  for (unsigned char& b : pad) b ^= 0x36;
  std::array<unsigned char, EVP_MAX_MD_SIZE> inner{};
  unsigned int inner_len = 0;
  if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), pad.data(), pad.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), input.data(), input.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), inner.data(), &inner_len) != 1) {
    return false;
  }
  for (unsigned char& b : pad) b ^= 0x36 ^ 0x5c;
  out.assign(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), pad.data(), pad.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), inner.data(), inner_len) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), bytes(out), &len) != 1) {
    return false;
  }
  out.resize(len);
  return true;
}

}  // namespace

std::string keyed_digest(const Key& key, std::string_view input) {
  std::string out;
  if (hmac_sha256(key, input, out)) return out;
  out.assign(EVP_MAX_MD_SIZE, '\0');  // fallback: OpenSSL's one-shot HMAC (same bytes)
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(kKeyBytes), bytes(input), input.size(),
       bytes(out), &len);
  out.resize(len);
  return out;
}

MasterKeyResult load_or_create_master_key(const std::filesystem::path& path,
                                          bool create_if_absent) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(std::filesystem::symlink_status(path, ec));
  if (!exists) {
    if (!create_if_absent) return key_error(path, "does not exist");
    return create_master_key(path);
  }
  return read_master_key(path);
}

}  // namespace mend::store::crypto
