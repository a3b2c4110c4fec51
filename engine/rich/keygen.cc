#include "engine/rich/keygen.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "engine/rich/openssl_ptr.h"

namespace graphmirror::rich {
namespace {

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Creates `path` with `mode` (failing if it exists) and writes `text`.
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status::IOError(
        "cannot create " + path + ": " + std::strerror(errno) +
        (errno == EEXIST ? " (refusing to overwrite a key or certificate)" : ""));
  }
  ::fchmod(fd, mode);  // whatever the umask
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      ::close(fd);
      return Status::IOError("writing " + path + ": " + std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::IOError("writing " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

std::string Thumbprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (X509_digest(cert, EVP_sha1(), digest, &digest_len) != 1) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < digest_len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace

Result<CertificateForGraph> ReadCertificateForGraph(const std::string& certificate_pem) {
  OpenSslPtr<BIO, BIO_free> bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  OpenSslPtr<X509, X509_free> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                                       : nullptr);
  if (!cert) return Status::InvalidArgument("not a PEM certificate");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  const int bits = key != nullptr ? EVP_PKEY_get_bits(key) : 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || bits < 2048 || bits > 4096) {
    return Status::InvalidArgument("the certificate's key must be RSA of 2048 to 4096 bits");
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) return Status::Internal("encoding the certificate failed");
  std::string base64(4 * ((static_cast<size_t>(der_len) + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()), der, der_len);
  OPENSSL_free(der);
  base64.resize(static_cast<size_t>(written));
  CertificateForGraph out;
  out.der_base64 = std::move(base64);
  out.thumbprint = Thumbprint(cert.get());
  if (out.thumbprint.empty()) return Status::Internal("computing the thumbprint failed");
  return out;
}

Result<GeneratedCertificate> GenerateCertificate(const std::string& common_name, int days) {
  if (days < 1 || days > 3650) return Status::InvalidArgument("days must be 1..3650");
  OpenSslPtr<EVP_PKEY, EVP_PKEY_free> key(EVP_RSA_gen(2048));
  if (!key) return Status::Internal("generating an RSA 2048 key failed");

  OpenSslPtr<X509, X509_free> cert(X509_new());
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1) {
    return Status::Internal("creating the certificate failed");
  }
  serial[0] &= 0x7F;  // a positive serial number
  OpenSslPtr<BIGNUM, BN_free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_set_version(cert.get(), 2);
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return Status::Internal("setting the certificate serial failed");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_set_pubkey(cert.get(), key.get()) != 1 ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return Status::Internal("signing the certificate failed");
  }

  GeneratedCertificate out;
  OpenSslPtr<BIO, BIO_free> cert_bio(BIO_new(BIO_s_mem()));
  OpenSslPtr<BIO, BIO_free> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return Status::Internal("writing the PEM text failed");
  }
  out.certificate_pem = BioText(cert_bio.get());
  out.private_key_pem = BioText(key_bio.get());

  out.thumbprint = Thumbprint(cert.get());
  if (out.thumbprint.empty()) return Status::Internal("computing the thumbprint failed");
  return out;
}

Status WriteCertificateFiles(const GeneratedCertificate& generated,
                             const std::string& certificate_path, const std::string& key_path) {
  // The key first: a certificate without its key would be useless.
  if (Status s = WriteNewFile(key_path, generated.private_key_pem, 0600); !s.ok()) return s;
  Status s = WriteNewFile(certificate_path, generated.certificate_pem, 0644);
  if (!s.ok()) ::unlink(key_path.c_str());
  return s;
}

}  // namespace graphmirror::rich
