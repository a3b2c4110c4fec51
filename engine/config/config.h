// The engine's configuration: the TOML file users write, as a plain struct.
//
// Thread-safety: values; ParseConfig/LoadConfigFile have no shared state.

#ifndef GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_
#define GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/item.h"
#include "graphmirror/config.h"
#include "graphmirror/status.h"

namespace graphmirror::config {

// The structs are public (graphmirror/config.h); the engine names them here too.
using graphmirror::ChangeSettings;
using graphmirror::Config;
using graphmirror::GraphSettings;
using graphmirror::KafkaSettings;
using graphmirror::MailboxConfig;
using graphmirror::MetricsSettings;
using graphmirror::RichKey;
using graphmirror::RichSettings;
using graphmirror::SubscriptionSettings;
using graphmirror::SyncSettings;
using graphmirror::WebhookSettings;

// What of one (mailbox, collection) the mirror holds: everything, the messages of some
// mail folders, or the items a $filter matches (MailboxConfig.folders and .filters).
struct MirrorScope {
  std::vector<std::string> folders;  // ids or well-known names; empty: every folder
  std::string filter;                // OData $filter; empty: every item

  bool whole() const { return folders.empty() && filter.empty(); }
  // Kept folder by folder (delta rounds per folder) rather than by list queries.
  bool by_folder() const { return !folders.empty(); }
  // One line that changes whenever the scope does ("" for the whole collection): stored
  // with the mirror, so that a changed scope starts the collection again.
  std::string Signature() const;
};

// The scopes a config gives its (mailbox, collection) pairs.
class Scopes {
 public:
  Scopes() = default;
  explicit Scopes(const Config& config);
  // The scope of `user_id`'s `collection` (whole if nothing scopes it).
  const MirrorScope& Of(const std::string& user_id, Collection collection) const;

 private:
  std::map<std::pair<std::string, Collection>, MirrorScope> scoped_;  // the non-whole ones
};

// Reads an environment variable; empty optional when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> ProcessEnv(const std::string& name);

// Parses TOML text. `source` names it in errors ("graphmirror.toml:12:3: ..."). Relative
// paths (`database`, graph.certificate and graph.private_key, the [rich] files) are
// resolved against `base_dir` when it is non-empty, except a relative `database` when the
// environment variable STATE_DIRECTORY is set (systemd's StateDirectory=): then against
// it. The environment variable GRAPHMIRROR_CLIENT_SECRET, when set, supplies
// graph.client_secret, and GRAPHMIRROR_KAFKA_CONNECTION_STRING kafka.connection_string
// (unless kafka.connection_string_file names a file); an empty kafka.topic is the hub
// kafka.event_hub_url names. Unknown keys,
// wrong types, missing required keys and bad values are errors naming the key.
Result<Config> ParseConfig(const std::string& text, const std::string& source,
                           const std::string& base_dir, const EnvLookup& env = ProcessEnv);

// The checks of every value a Config holds, the same ParseConfig applies after reading the
// TOML (ranges, choices, URLs, pairs that go together, mailbox scopes, list ids, ...):
// InvalidArgument "<source>: <the message the file would get>", in one line, or Ok.
// Engine::Open applies it to a Config built by hand. `require_graph` false: the Graph
// identity (graph.token_url, client_id, a credential) may be missing, as in a program that
// only reads the mirror; values that are set are checked all the same.
Status ValidateConfig(const Config& config, const std::string& source = "config",
                      bool require_graph = true);

// Reads and parses a file; relative paths inside resolve against the file's directory.
Result<Config> LoadConfigFile(const std::string& path, const EnvLookup& env = ProcessEnv);

// "" unless SharePoint lists are configured with only a client secret, which SharePoint
// Online refuses for its REST API ("Unsupported app only token."): then the one line that
// says so and what to do. A warning, not an error: the rest of the mirror works.
std::string SharePointCredentialProblem(const Config& config);

// An Event Hubs notificationUrl ("Receive change notifications through Azure Event Hubs"):
// "EventHub:https://<namespace host>/eventhubname/<hub>?tenantId=<domain>" (role-based
// access: `hub` set) or "EventHub:https://<vault host>/secrets/<secret>?tenantId=<domain>"
// (the hub's connection string in Key Vault: `secret` set). nullopt for anything else.
struct EventHubUrl {
  std::string host;
  std::string hub;
  std::string secret;
  std::string tenant;
};
std::optional<EventHubUrl> ParseEventHubUrl(std::string_view url);

// The notificationUrl and lifecycleNotificationUrl subscriptions are created with, and by
// which the keeper knows its own at Graph: kafka.event_hub_url for both when set (Graph
// delivers lifecycle events to the hub too), else webhook.notification_url and
// webhook.lifecycle_url (itself when empty).
struct DeliveryUrls {
  std::string notification;
  std::string lifecycle;
};
DeliveryUrls SubscriptionUrls(const Config& config);

}  // namespace graphmirror::config

#endif  // GRAPHMIRROR_ENGINE_CONFIG_CONFIG_H_
