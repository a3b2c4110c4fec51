// The rich-notification decoder (rich::ContentDecryptor::Decrypt). Two kinds of input,
// chosen by the first byte: (even) the three base64 fields verbatim, separated by
// newlines; (odd) the rest of the input as an item's plaintext, encrypted for the key as
// Graph would (graphsim::EncryptContent), then one byte of one field changed where the
// input says, so the HMAC, padding and key checks are reached, not only base64.
// A decryption that succeeds must give back exactly what was encrypted, untouched; what
// it gives is then read as rich content (graph::ParseRichContent), which, if it accepts
// it, must accept its own output again and give the same item.

#include <memory>
#include <string>

#include "engine/graph/page.h"
#include "engine/rich/decrypt.h"
#include "engine/rich/keygen.h"
#include "tests/fuzz/fuzz_target.h"
#include "tools/graphsim/rich.h"

namespace {

struct Keys {
  std::shared_ptr<const graphmirror::rich::ContentDecryptor> decryptor;
  graphsim::EncryptionCertificate certificate;
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    auto generated = graphmirror::rich::GenerateCertificate("graphmirror fuzz", 30);
    graphmirror::fuzz::Require(generated.ok(), "a key pair is generated");
    auto for_graph = graphmirror::rich::ReadCertificateForGraph(generated->certificate_pem);
    graphmirror::fuzz::Require(for_graph.ok(), "the certificate reads back");
    auto* k = new Keys;
    graphmirror::fuzz::Require(
        !graphsim::ParseEncryptionCertificate(for_graph->der_base64, &k->certificate),
        "graphsim accepts the certificate");
    auto decryptor =
        graphmirror::rich::ContentDecryptor::Create({{"fuzz-cert", generated->private_key_pem}});
    graphmirror::fuzz::Require(decryptor.ok(), "the decryptor takes the key");
    k->decryptor = *decryptor;
    return k;
  }();
  return *keys;
}

std::string Field(const graphsim::Json& json, const char* name) {
  auto it = json.find(name);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using graphmirror::fuzz::Require;
  if (size == 0) return 0;
  const Keys& keys = TheKeys();
  graphmirror::rich::EncryptedContent content;
  content.certificate_id = "fuzz-cert";
  const std::string_view rest = graphmirror::fuzz::AsText(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    std::string* fields[] = {&content.data, &content.data_key, &content.data_signature};
    size_t start = 0;
    for (std::string* field : fields) {
      if (start > rest.size()) break;
      size_t end = rest.find('\n', start);
      if (end == std::string_view::npos) end = rest.size();
      *field = std::string(rest.substr(start, end - start));
      start = end + 1;
    }
    keys.decryptor->Decrypt(content);
    return 0;
  }
  // Structured: a real encryption of the input, then (maybe) one byte changed.
  const size_t control = rest.empty() ? 0 : static_cast<uint8_t>(rest[0]);
  const std::string plaintext(rest.empty() ? rest : rest.substr(1));
  graphsim::Json encrypted;
  Require(graphsim::EncryptContent(plaintext, keys.certificate, "fuzz-cert", 0, &encrypted),
          "graphsim encrypts");
  content.data = Field(encrypted, "data");
  content.data_key = Field(encrypted, "dataKey");
  content.data_signature = Field(encrypted, "dataSignature");
  std::string* fields[] = {&content.data, &content.data_key, &content.data_signature};
  std::string& target = *fields[(data[0] / 2) % 3];
  const bool spoil = (data[0] / 6) % 2 == 1 && !target.empty();
  if (spoil) {
    char& c = target[control % target.size()];
    c = c == 'A' ? 'B' : 'A';
  }
  auto decrypted = keys.decryptor->Decrypt(content);
  if (!spoil) {
    Require(decrypted.ok(), "an untouched encryption decrypts");
    Require(decrypted.plaintext == plaintext, "and gives back the plaintext");
    using graphmirror::Collection;
    auto item = graphmirror::graph::ParseRichContent(Collection::kMessages, plaintext, "i\"d");
    if (item.ok()) {
      auto again = graphmirror::graph::ParseRichContent(Collection::kMessages, item->json, "i\"d");
      Require(again.ok(), "rich content's stored JSON is rich content again");
      Require(again->json == item->json && again->subject == item->subject &&
                  again->created_at == item->created_at && again->modified_at == item->modified_at,
              "and reads the same");
    }
  } else if (decrypted.ok()) {
    // A changed base64 character can leave the bytes equal only where it is padding.
    Require(decrypted.plaintext == plaintext, "a spoiled content never decrypts to other data");
  }
  return 0;
}
