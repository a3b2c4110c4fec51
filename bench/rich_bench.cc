// Row 8: decrypting rich notification content, on one thread.
//
// A key pair and certificate from the engine's keygen (what `graphmirror` makes for a rich
// subscription); message content as graphsim puts it into a rich notification (its seeded
// mailbox, the rich $select, annotated as Outlook annotates it, no id) encrypted by
// graphsim's own EncryptContent, as Graph encrypts encryptedContent (a fresh AES key per
// item, HMAC-SHA256, the key wrapped with RSA-OAEP). The clock then runs over
// rich::ContentDecryptor::Decrypt alone, pass after pass over the items (full: at least
// 3 s), each result checked against its original: a decrypt that fails or differs stops
// the benchmark. A second pass times the worker's full path (decrypt +
// graph::ParseRichContent, which takes the notification's id and drops the annotations).
//
// The RSA private-key operation dominates, so the baseline is what this machine's OpenSSL
// does of them on one core: `openssl speed rsa2048`, its sign/s column.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/graph/page.h"
#include "engine/graph/select.h"
#include "engine/rich/decrypt.h"
#include "engine/rich/keygen.h"
#include "tools/graphsim/errors.h"
#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/rich.h"
#include "tools/graphsim/schema.h"

namespace graphmirror::bench {
namespace {

constexpr char kCertificateId[] = "graphmirror-bench-rich";

struct Sample {
  std::string id;  // resourceData.id: the content has none
  std::string plaintext;
  rich::EncryptedContent encrypted;
};

// Message JSON from a seeded graphsim mailbox, encrypted for `certificate_pem`.
std::optional<std::vector<Sample>> MakeSamples(const Options& options, int count,
                                               const std::string& certificate_pem) {
  auto for_graph = rich::ReadCertificateForGraph(certificate_pem);
  if (!for_graph.ok()) {
    std::cerr << "rich: " << for_graph.status().ToString() << "\n";
    return std::nullopt;
  }
  graphsim::EncryptionCertificate certificate;
  if (auto refused = graphsim::ParseEncryptionCertificate(for_graph->der_base64, &certificate)) {
    std::cerr << "rich: graphsim refuses the certificate: " << *refused << "\n";
    return std::nullopt;
  }
  graphsim::Options sim_options;
  sim_options.seed = options.seed;
  sim_options.users = 1;
  sim_options.messages = count;
  sim_options.events = 0;
  sim_options.contacts = 0;
  graphsim::Simulator sim(sim_options, nullptr);
  const std::string user = sim.UserIds().at(0);
  std::vector<Sample> samples;
  for (const std::string& id : sim.ItemIds(user, "messages")) {
    Sample s;
    s.id = id;
    const std::string full = sim.ItemJson(user, "messages", id);
    if (!full.empty()) {
      s.plaintext = graphsim::DumpJson(
          graphsim::RichContent(graphsim::EntityKind::kMessage, graphsim::Json::parse(full),
                                graph::RichProperties(Collection::kMessages)));
    }
    graphsim::Json content;
    if (s.plaintext.empty() ||
        !graphsim::EncryptContent(s.plaintext, certificate, kCertificateId, 0, &content)) {
      std::cerr << "rich: could not encrypt message " << id << "\n";
      return std::nullopt;
    }
    s.encrypted.data = content.at("data").get<std::string>();
    s.encrypted.data_key = content.at("dataKey").get<std::string>();
    s.encrypted.data_signature = content.at("dataSignature").get<std::string>();
    s.encrypted.certificate_id = content.at("encryptionCertificateId").get<std::string>();
    s.encrypted.certificate_thumbprint =
        content.at("encryptionCertificateThumbprint").get<std::string>();
    samples.push_back(std::move(s));
  }
  if (samples.size() != static_cast<size_t>(count)) {
    std::cerr << "rich: graphsim seeded " << samples.size() << " messages, not " << count << "\n";
    return std::nullopt;
  }
  return samples;
}

// Private-key RSA 2048 operations per second of `openssl speed` on one core; nullopt
// (with a message) if openssl is not there or prints something else.
std::optional<double> OpensslSignRate(int seconds) {
  auto out = Capture({"openssl", "speed", "-seconds", std::to_string(seconds), "rsa2048"});
  if (!out) {
    std::cerr << "rich: `openssl speed` did not run (is openssl installed?); no baseline\n";
    return std::nullopt;
  }
  // "rsa 2048 bits 0.000300s 0.000018s   3333.7  54836.4": sign, verify, sign/s, verify/s.
  std::smatch m;
  if (!std::regex_search(*out, m,
                         std::regex(R"(rsa\s+2048\s+bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+)"))) {
    std::cerr << "rich: no `rsa 2048 bits` line in the output of openssl speed; no baseline\n";
    return std::nullopt;
  }
  return std::stod(m[1]);
}

int RichRow(const Options& options) {
  const int count = options.smoke ? 50 : 5000;
  const double min_seconds = options.smoke ? 0 : 3;

  auto generated = rich::GenerateCertificate("graphmirror bench", 30);
  if (!generated.ok()) {
    std::cerr << "rich: " << generated.status().ToString() << "\n";
    return 1;
  }
  auto decryptor = rich::ContentDecryptor::Create({{kCertificateId, generated->private_key_pem}});
  if (!decryptor.ok()) {
    std::cerr << "rich: " << decryptor.status().ToString() << "\n";
    return 1;
  }
  std::cerr << "rich: encrypting " << count << " messages\n";
  auto samples = MakeSamples(options, count, generated->certificate_pem);
  if (!samples) return 1;
  size_t plaintext_bytes = 0;
  for (const Sample& s : *samples) plaintext_bytes += s.plaintext.size();

  // Decrypt alone, checked item by item (a memcmp next to an RSA operation costs nothing).
  std::cerr << "rich: decrypting\n";
  int64_t decrypted = 0;
  Stopwatch clock;
  do {
    for (const Sample& s : *samples) {
      rich::Decrypted d = (*decryptor)->Decrypt(s.encrypted);
      if (!d.ok() || d.plaintext != s.plaintext) {
        std::cerr << "rich: item " << decrypted % count << " did not decrypt to its original ("
                  << rich::RefusalName(d.refusal) << ": " << d.detail << ")\n";
        return 1;
      }
      ++decrypted;
    }
  } while (clock.Seconds() < min_seconds);
  const double seconds = clock.Seconds();
  const double rate = static_cast<double>(decrypted) / seconds;

  // The worker's path for one item: decrypt, then parse it as the mirror row it becomes.
  clock.Reset();
  for (const Sample& s : *samples) {
    rich::Decrypted d = (*decryptor)->Decrypt(s.encrypted);
    auto item = d.ok() ? graph::ParseRichContent(Collection::kMessages, d.plaintext, s.id,
                                                 &graph::RichProperties(Collection::kMessages))
                       : Result<MirrorItem>(Status::Corruption(d.detail));
    if (!item.ok() || item->id != s.id || item->created_at.empty()) {
      std::cerr << "rich: decrypted item does not parse: " << item.status().ToString() << "\n";
      return 1;
    }
  }
  const double full_rate = count / clock.Seconds();

  std::cerr << "rich: openssl speed rsa2048\n";
  std::optional<double> baseline = OpensslSignRate(options.smoke ? 1 : 3);

  Row r;
  r.number = 8;
  r.what = "rich decrypt";
  r.value = rate;
  r.unit = "items/s";
  r.baseline = baseline;
  r.baseline_what = "openssl speed rsa2048, private-key ops (sign/s), one core";
  r.target = ">= 0.8 of baseline per core";
  r.met = !options.smoke && baseline && rate >= 0.8 * *baseline;
  char ratio[64] = "no baseline (openssl missing)";
  if (baseline) std::snprintf(ratio, sizeof ratio, "ratio %.2f", rate / *baseline);
  r.detail = Format(
      "%s; 1 thread; %s decrypts of %s items (avg %.0f B of JSON) in %.2f s, each "
      "checked against its original; decrypt + ParseRichContent %s items/s",
      ratio, Thousands(static_cast<double>(decrypted)).c_str(), Thousands(count).c_str(),
      static_cast<double>(plaintext_bytes) / count, seconds, Thousands(full_rate).c_str());
  r.reproduce = "bench/run --only 8";
  PrintRow(r);
  return 0;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(
      argc, argv, "rich", "Rich notification content decryption (row 8)",
      [](const Options& options) { return Wanted(options, 8) ? RichRow(options) : 0; });
}
