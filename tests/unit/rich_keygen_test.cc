// GenerateCertificate and WriteCertificateFiles: a usable key pair, files with the right
// modes, never an overwritten key; the thumbprint checked by the openssl command.

#include <sys/stat.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/rich/decrypt.h"
#include "engine/rich/keygen.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::rich {

TEST_CASE("keygen: a certificate and key that work, written 0600 and never overwritten", "[rich]") {
  auto generated = GenerateCertificate("graphmirror test", 30);
  REQUIRE(generated.ok());
  CHECK(generated->certificate_pem.find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(generated->thumbprint.size() == 40);
  auto decryptor = ContentDecryptor::Create({{"c1", generated->private_key_pem}});
  CHECK(decryptor.ok());

  test::TempDir dir;
  const std::string cert = dir.Path("cert.pem"), key = dir.Path("key.pem");
  REQUIRE(WriteCertificateFiles(*generated, cert, key).ok());
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(cert.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  // The openssl command reads the certificate and agrees on the SHA-1 thumbprint.
  std::string command = "openssl x509 -noout -fingerprint -sha1 -in " + cert + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 512> buf{};
  std::string out;
  while (std::fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  ::pclose(pipe);
  std::string hex;
  for (char c : out.substr(out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
  }
  CHECK(hex == generated->thumbprint);

  auto again = GenerateCertificate("graphmirror test", 30);
  REQUIRE(again.ok());
  Status refused = WriteCertificateFiles(*again, dir.Path("other.pem"), key);
  CHECK(refused.code() == Status::Code::kIOError);
  std::ifstream kept(key);
  std::string first_line;
  std::getline(kept, first_line);
  CHECK(first_line.find("PRIVATE KEY") != std::string::npos);
  CHECK(GenerateCertificate("x", 0).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("keygen: a certificate is read as Graph wants it, and the openssl command agrees",
          "[rich]") {
  auto generated = GenerateCertificate("graphmirror test", 30);
  REQUIRE(generated.ok());
  auto read = ReadCertificateForGraph(generated->certificate_pem);
  REQUIRE(read.ok());
  CHECK(read->thumbprint == generated->thumbprint);
  // The base64 DER is the PEM's body without its armour and line breaks.
  std::string body;
  std::istringstream lines(generated->certificate_pem);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("-----", 0) != 0) body += line;
  }
  CHECK(read->der_base64 == body);
  CHECK_FALSE(ReadCertificateForGraph("not a certificate").ok());
  CHECK_FALSE(ReadCertificateForGraph(generated->private_key_pem).ok());
}

}  // namespace graphmirror::rich
