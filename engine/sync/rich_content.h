// RichContent: what the sync worker needs to apply rich notifications (GRAPH.md section
// 5): the validation tokens of each body checked once, and each item's encryptedContent
// decrypted and parsed into the mirror's item, projected like the mailbox's queries.
//
// A body whose tokens fail (or that carries encrypted items without tokens) is
// suspicious: none of its rows is applied. A token that cannot be judged now (the key set
// cannot be fetched) leaves its rows for a later try. An item whose content is refused
// (base64, certificate, key, signature, padding, not an item) is counted and logged
// without secrets, and the worker treats it as a plain notification (a hint: the query
// that follows reads Graph, not the payload). Nothing here moves a watermark.
//
// Thread-safety: not thread-safe; the sync worker's thread only.

#ifndef GRAPHMIRROR_ENGINE_SYNC_RICH_CONTENT_H_
#define GRAPHMIRROR_ENGINE_SYNC_RICH_CONTENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/config/config.h"
#include "engine/graph/select.h"
#include "engine/rich/decrypt.h"
#include "engine/rich/jwt.h"
#include "engine/store/store.h"

namespace graphmirror::sync {

struct RichStats {
  std::atomic<uint64_t> decrypted{0};           // items decrypted and parsed
  std::atomic<uint64_t> refused_content{0};     // items whose content was refused (any reason)
  std::atomic<uint64_t> suspicious_batches{0};  // bodies whose tokens failed
  std::atomic<uint64_t> token_retries{0};       // rows left for later: keys unavailable
};

class RichContent {
 public:
  enum class Verdict { kValid, kSuspicious, kRetry };

  // Reads the configured keys and expects tokens for graph.client_id. `fetch_jwks`
  // returns the key set document (tests pass their own; the daemon fetches
  // rich.jwks_url). InvalidArgument naming the file if a key cannot be read.
  static Result<std::unique_ptr<RichContent>> Create(
      const config::Config& config, Clock* clock, store::Store* store,
      std::function<Result<std::string>()> fetch_jwks);

  // Forgets the verdicts of earlier passes: the worker calls it before each pass over the
  // log, so that the cache holds the bodies of one pass, not every body ever received.
  void BeginPass() { verdicts_.clear(); }

  // The verdict on the body a row came in (row.token_batch; 0: a body without tokens,
  // valid unless the row itself is rich). Cached per body until BeginPass. `reason` names
  // the failure.
  Verdict CheckBody(const store::PendingNotification& row, std::string* reason);

  // The item a rich row carries: its id is the notification's (resourceData.id, else the
  // resource path's), its properties the decrypted content's without OData annotations;
  // created_at is empty if the content has no createdDateTime. The refusal's reason
  // otherwise.
  Result<MirrorItem> Item(const store::PendingNotification& row);

  const RichStats& stats() const { return stats_; }

 private:
  struct BodyVerdict {
    Verdict verdict;
    std::string reason;
  };
  RichContent() = default;

  Clock* clock_ = nullptr;
  store::Store* store_ = nullptr;
  std::shared_ptr<const rich::ContentDecryptor> decryptor_;
  std::unique_ptr<rich::TokenValidator> validator_;
  graph::Projection projection_;
  std::map<int64_t, BodyVerdict> verdicts_;  // this pass's, by token_batch; never kRetry
  RichStats stats_;
};

// The whole of a [rich] file (a key or a certificate); InvalidArgument naming `what` and
// the path if it cannot be read.
Result<std::string> ReadRichFile(const std::string& path, const std::string& what);

// The tenant validation tokens must be issued by: rich.tenant_id, else the tenant segment
// of graph.token_url if it is a tenant id (a GUID), else "" (the token's own tenant).
std::string ExpectedTenant(const config::Config& config);

}  // namespace graphmirror::sync

#endif  // GRAPHMIRROR_ENGINE_SYNC_RICH_CONTENT_H_
