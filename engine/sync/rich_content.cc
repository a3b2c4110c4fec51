#include "engine/sync/rich_content.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "engine/base/text.h"
#include "engine/graph/page.h"
#include "engine/graph/timestamp.h"
#include "engine/graph/url.h"
#include "engine/notify/receiver.h"
#include "engine/sync/collection_sync.h"

namespace graphmirror::sync {
namespace {

bool IsGuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Result<std::string> ReadRichFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read the rich notification " + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ExpectedTenant(const config::Config& config) {
  if (config.rich && !config.rich->tenant_id.empty()) return config.rich->tenant_id;
  // https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
  auto url = graph::ParseUrl(config.graph.token_url);
  if (!url.ok()) return "";
  std::string_view path = url->Path();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string_view tenant = path.substr(0, path.find('/'));
  return IsGuid(tenant) ? std::string(tenant) : "";
}

Result<std::unique_ptr<RichContent>> RichContent::Create(
    const config::Config& config, Clock* clock, store::Store* store,
    std::function<Result<std::string>()> fetch_jwks) {
  if (!config.rich) return Status::InvalidArgument("no [rich] section in the config");
  std::vector<rich::KeyPair> keys;
  std::vector<const config::RichKey*> configured{&config.rich->current};
  for (const config::RichKey& key : config.rich->previous) configured.push_back(&key);
  for (const config::RichKey* key : configured) {
    auto pem = ReadRichFile(key->private_key, "key");
    if (!pem.ok()) return pem.status();
    keys.push_back({key->certificate_id, std::move(pem).value()});
  }
  auto decryptor = rich::ContentDecryptor::Create(keys);
  if (!decryptor.ok()) return decryptor.status();

  std::unique_ptr<RichContent> content(new RichContent());
  content->clock_ = clock;
  content->store_ = store;
  content->decryptor_ = std::move(decryptor).value();
  rich::TokenExpectations expect;
  expect.client_id = config.graph.client_id;
  expect.tenant_id = ExpectedTenant(config);
  content->validator_ = std::make_unique<rich::TokenValidator>(expect, std::move(fetch_jwks));
  content->projection_ = RichProjection(config);
  return content;
}

RichContent::Verdict RichContent::CheckBody(const store::PendingNotification& row,
                                            std::string* reason) {
  if (row.token_batch == 0) {
    if (row.rich.empty()) return Verdict::kValid;
    // Graph sends tokens with every body that carries resource data: without them
    // anyone who learnt a clientState could write into the mirror.
    *reason = "suspicious: rich notification without validation tokens";
    ++stats_.suspicious_batches;
    return Verdict::kSuspicious;
  }
  if (auto it = verdicts_.find(row.token_batch); it != verdicts_.end()) {
    *reason = it->second.reason;
    return it->second.verdict;
  }
  auto tokens = store_->log().Tokens(row.token_batch);
  if (!tokens.ok()) {
    *reason = tokens.status().message();
    return Verdict::kRetry;
  }
  const auto arrived = graph::ParseTimestamp(row.received_at);
  const TimePoint arrived_at =
      arrived ? std::chrono::time_point_cast<TimePoint::duration>(*arrived) : clock_->Now();
  BodyVerdict verdict{Verdict::kValid, ""};
  if (tokens->empty()) verdict = {Verdict::kSuspicious, "suspicious: no validation token"};
  if (tokens->size() == 1 && tokens->front() == notify::kEventHubTokens) {
    // Read from the event hub, where Graph sends no tokens (the receiver refuses this value
    // from the webhook): the hub's access control vouches for the sender.
    verdicts_[row.token_batch] = verdict;
    return verdict.verdict;
  }
  for (const std::string& token : *tokens) {
    const rich::TokenProblem problem = validator_->Validate(token, arrived_at, clock_->Now());
    if (problem == rich::TokenProblem::kNone) continue;
    if (problem == rich::TokenProblem::kKeysUnavailable) {
      ++stats_.token_retries;
      *reason = "validation token keys unavailable";
      return Verdict::kRetry;  // not cached: judged again later
    }
    verdict = {Verdict::kSuspicious,
               std::string("suspicious: validation token ") + rich::TokenProblemName(problem)};
    break;
  }
  if (verdict.verdict == Verdict::kSuspicious) {
    ++stats_.suspicious_batches;
    // The subscription id only: never tokens or clientState.
    spdlog::warn("rich: a notification body for subscription \"{}\" is not applied ({})",
                 OneLine(row.subscription_id), verdict.reason);
  }
  *reason = verdict.reason;
  verdicts_[row.token_batch] = verdict;
  return verdict.verdict;
}

Result<MirrorItem> RichContent::Item(const store::PendingNotification& row) {
  rich::EncryptedContent encrypted;
  encrypted.data = row.rich.data;
  encrypted.data_key = row.rich.data_key;
  encrypted.data_signature = row.rich.signature;
  encrypted.certificate_id = row.rich.certificate_id;
  rich::Decrypted decrypted = decryptor_->Decrypt(encrypted);
  Status refused;
  if (!decrypted.ok()) {
    refused = Status::Corruption(std::string("content refused (") +
                                 rich::RefusalName(decrypted.refusal) + "): " + decrypted.detail);
  } else if (row.item_id.empty()) {
    // Graph encrypts the selected properties only: the id must come from resourceData.
    refused = Status::Corruption("content refused (the notification names no item)");
  } else {
    auto item = graph::ParseRichContent(row.collection, decrypted.plaintext, row.item_id,
                                        projection_.Keep(row.user_id, row.collection));
    if (item.ok()) {
      ++stats_.decrypted;
      return item;
    }
    // The parser's message may quote the payload: say only that it is not an item.
    refused = Status::Corruption("content refused (not an item)");
  }
  ++stats_.refused_content;
  spdlog::warn("rich: notification {} of subscription \"{}\": {}", row.seq,
               OneLine(row.subscription_id), refused.message());
  return refused;
}

}  // namespace graphmirror::sync
