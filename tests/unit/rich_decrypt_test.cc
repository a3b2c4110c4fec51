// ContentDecryptor against payloads made independently of it: Python's `cryptography`
// package, following GRAPH.md section 5 (tools/testdata/make_rich_vectors.py wrote
// tests/unit/data/rich_vectors.json).

#include <simdjson.h>

#include <catch2/catch.hpp>

#include "engine/rich/decrypt.h"
#include "tests/support/source_file.h"

namespace graphmirror::rich {
namespace {

struct Vectors {
  std::vector<KeyPair> keys;
  struct Case {
    std::string name, expect, plaintext;
    EncryptedContent content;
  };
  std::vector<Case> cases;
};

Vectors Load() {
  const std::string text = test::ReadSourceFile("tests/unit/data/rich_vectors.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(text);
  Vectors v;
  for (simdjson::dom::element k : doc["keys"].get_array()) {
    v.keys.push_back({std::string(k["id"].get_string().value()),
                      std::string(k["private_key_pem"].get_string().value())});
  }
  for (simdjson::dom::element c : doc["cases"].get_array()) {
    Vectors::Case vc;
    vc.name = std::string(c["name"].get_string().value());
    vc.expect = std::string(c["expect"].get_string().value());
    std::string_view plaintext;
    if (c["plaintext"].get(plaintext) == simdjson::SUCCESS) vc.plaintext = std::string(plaintext);
    simdjson::dom::element e = c["encryptedContent"];
    vc.content.data = std::string(e["data"].get_string().value());
    vc.content.data_key = std::string(e["dataKey"].get_string().value());
    vc.content.data_signature = std::string(e["dataSignature"].get_string().value());
    vc.content.certificate_id = std::string(e["encryptionCertificateId"].get_string().value());
    vc.content.certificate_thumbprint =
        std::string(e["encryptionCertificateThumbprint"].get_string().value());
    v.cases.push_back(std::move(vc));
  }
  return v;
}

}  // namespace

TEST_CASE("rich: every vector decrypts or is refused for its reason", "[rich]") {
  Vectors v = Load();
  REQUIRE(v.cases.size() >= 10);
  auto decryptor = ContentDecryptor::Create(v.keys);
  REQUIRE(decryptor.ok());
  for (const auto& c : v.cases) {
    INFO(c.name);
    Decrypted d = (*decryptor)->Decrypt(c.content);
    CHECK(std::string(RefusalName(d.refusal)) == (c.expect == "ok" ? "none" : c.expect));
    if (c.expect == "ok") {
      CHECK(d.plaintext == c.plaintext);
    } else {
      CHECK(d.plaintext.empty());
      CHECK(!d.detail.empty());
      CHECK(d.detail.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("rich: a key of the rotation is needed to read what it encrypted", "[rich]") {
  Vectors v = Load();
  auto only_current = ContentDecryptor::Create({v.keys[0]});
  REQUIRE(only_current.ok());
  for (const auto& c : v.cases) {
    if (c.content.certificate_id != v.keys[1].certificate_id) continue;
    CHECK((*only_current)->Decrypt(c.content).refusal == Refusal::kUnknownCertificate);
  }
}

TEST_CASE("rich: unreadable keys are refused at creation, naming the certificate", "[rich]") {
  auto bad = ContentDecryptor::Create({{"cert-x", "-----BEGIN PRIVATE KEY-----\nnope\n"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("cert-x") != std::string::npos);
  Vectors v = Load();
  auto twice = ContentDecryptor::Create({v.keys[0], v.keys[0]});
  REQUIRE_FALSE(twice.ok());
}

TEST_CASE("rich: base64 is read strictly", "[rich]") {
  Vectors v = Load();
  auto decryptor = ContentDecryptor::Create(v.keys);
  REQUIRE(decryptor.ok());
  EncryptedContent good = v.cases[0].content;
  REQUIRE((*decryptor)->Decrypt(good).ok());
  for (std::string broken : {std::string(""), good.data.substr(1), " " + good.data.substr(1),
                             good.data.substr(0, 8) + "\n" + good.data.substr(9)}) {
    EncryptedContent c = good;
    c.data = broken;
    CHECK((*decryptor)->Decrypt(c).refusal == Refusal::kMalformedBase64);
  }
}

}  // namespace graphmirror::rich
