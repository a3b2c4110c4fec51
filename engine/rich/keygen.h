// A new key pair for rich notifications: a self-signed X.509 certificate (RSA 2048,
// SHA-256) whose public key Graph encrypts with, and its private key, which stays here.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_RICH_KEYGEN_H_
#define GRAPHMIRROR_ENGINE_RICH_KEYGEN_H_

#include <string>

#include "graphmirror/status.h"

namespace graphmirror::rich {

struct GeneratedCertificate {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8, unencrypted
  std::string thumbprint;       // hex SHA-1 of the certificate's DER, as Graph reports it
};

// A fresh RSA 2048 key and a certificate for it, valid from now for `days` days.
Result<GeneratedCertificate> GenerateCertificate(const std::string& common_name, int days);

// A certificate as a rich subscription sends it to Graph.
struct CertificateForGraph {
  std::string der_base64;  // encryptionCertificate: base64 of the DER
  std::string thumbprint;  // hex SHA-1 of the DER
};

// Reads a PEM certificate; InvalidArgument unless it holds an RSA key of 2048 to 4096
// bits (what Graph accepts).
Result<CertificateForGraph> ReadCertificateForGraph(const std::string& certificate_pem);

// Writes both files: the key with mode 0600, created anew (an existing file is refused,
// never overwritten), the certificate with mode 0644.
Status WriteCertificateFiles(const GeneratedCertificate& generated,
                             const std::string& certificate_path, const std::string& key_path);

}  // namespace graphmirror::rich

#endif  // GRAPHMIRROR_ENGINE_RICH_KEYGEN_H_
