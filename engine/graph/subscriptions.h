// Graph's subscription resource (POST/GET/PATCH/DELETE /subscriptions): the
// request bodies and the parsing of the answers. Policy (when to create, renew, adopt)
// lives in engine/sync/keeper.
//
// Thread-safety: SubscriptionApi is as thread-safe as the GraphClient it uses (fully).

#ifndef GRAPHMIRROR_ENGINE_GRAPH_SUBSCRIPTIONS_H_
#define GRAPHMIRROR_ENGINE_GRAPH_SUBSCRIPTIONS_H_

#include <string>
#include <vector>

#include "engine/graph/graph_client.h"

namespace graphmirror::graph {

struct SubscriptionSpec {
  std::string change_type;  // "created,updated,deleted"
  std::string notification_url;
  std::string lifecycle_url;  // Graph sends lifecycle events only if set (at create)
  std::string resource;       // "/users/{id}/messages"
  std::string expiration;     // DateTimeOffset text
  std::string client_state;
  // Rich subscriptions (includeResourceData): the certificate Graph encrypts with. The
  // resource must then carry a $select.
  bool include_resource_data = false;
  std::string encryption_certificate;  // base64 of the certificate's DER
  std::string encryption_certificate_id;
};

// A renewal: the new expiry and, after a key rotation, the new certificate.
struct RenewSpec {
  std::string expiration;
  std::string encryption_certificate;  // empty: keep the one Graph has
  std::string encryption_certificate_id;
};

struct SubscriptionInfo {
  std::string id;
  std::string resource;
  std::string change_type;
  std::string notification_url;
  std::string lifecycle_url;  // "" if the subscription has none (null)
  std::string expiration;     // normalized UTC text
};

// The answer of a subscription call: 2xx with `info`, or a client error with Graph's
// code and message (409 on create, 404 on renew, 400 ExtensionError, ...). Transport
// failures, 401 and 5xx past the retries are the Result's Status instead.
struct SubscriptionOutcome {
  int http_status = 0;
  std::string error_code;
  std::string error_message;
  SubscriptionInfo info;
  bool ok() const { return http_status >= 200 && http_status < 300; }
};

class SubscriptionApi {
 public:
  explicit SubscriptionApi(GraphClient* client) : client_(client) {}

  Result<SubscriptionOutcome> Create(const SubscriptionSpec& spec);
  Result<SubscriptionOutcome> Renew(const std::string& id, const RenewSpec& spec);
  Result<SubscriptionOutcome> Delete(const std::string& id);
  // Every subscription of the application, following @odata.nextLink.
  Result<std::vector<SubscriptionInfo>> List();

 private:
  Result<SubscriptionOutcome> Call(const std::string& method, const std::string& path,
                                   const std::string& body);
  GraphClient* client_;
};

// Parses one subscription object (exposed for tests).
Result<SubscriptionInfo> ParseSubscription(std::string_view json);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_SUBSCRIPTIONS_H_
