#include "server/net/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mend::net {
namespace {

namespace fs = std::filesystem;

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct ExtFree { void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;

SetupError keygen_error(const std::string& what) {
  return SetupError{"KEYGEN", "could not generate the self-signed certificate: " + what};
}

std::optional<SetupError> ensure_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return std::nullopt;
  fs::create_directories(dir, ec);
  if (ec) return SetupError{"DATA_DIR", "cannot create " + dir.string() + ": " + ec.message()};
  fs::permissions(dir, fs::perms::owner_all, ec);
  return std::nullopt;
}

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

std::optional<std::string> to_pem(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return std::nullopt;
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

X509Ptr make_certificate(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return nullptr;
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  ASN1_INTEGER* asn1_serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (asn1_serial == nullptr) return nullptr;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * kSelfSignedValidDays);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mend local"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (!add_extension(cert.get(), NID_subject_alt_name,
                     "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1") ||
      !add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_extension(cert.get(), NID_key_usage,
                     "critical,digitalSignature,keyCertSign") ||
      !add_extension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), NID_subject_key_identifier, "hash")) {
    return nullptr;
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

}  // namespace

std::optional<SetupError> write_private_file(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SetupError{"IO", "cannot write " + path.string()};
  ::fchmod(fd, 0600);  // an existing file keeps its mode otherwise
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      ::close(fd);
      return SetupError{"IO", "cannot write " + path.string()};
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return SetupError{"IO", "cannot sync " + path.string()};
  return std::nullopt;
}

std::variant<TlsFiles, SetupError> ensure_self_signed_certificate(const fs::path& data_dir) {
  if (auto error = ensure_directory(data_dir)) return *error;
  TlsFiles files{data_dir / kSelfSignedCertFile, data_dir / kSelfSignedKeyFile};
  std::error_code ec;
  if (fs::exists(files.certificate, ec) && fs::exists(files.private_key, ec)) return files;

  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return keygen_error("EC P-256 key");
  X509Ptr cert = make_certificate(key.get());
  if (!cert) return keygen_error("X.509 certificate");
  auto key_pem = to_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  auto cert_pem = to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  if (!key_pem || !cert_pem) return keygen_error("PEM encoding");
  if (auto error = write_private_file(files.private_key, *key_pem)) return *error;
  if (auto error = write_private_file(files.certificate, *cert_pem)) return *error;
  return files;
}

}  // namespace mend::net
