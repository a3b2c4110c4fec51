// Config: everything graphmirror is told, as a plain struct. A program that embeds the
// engine fills one in (or loads the TOML file with graphmirror::LoadConfig, engine.h);
// `graphmirror` reads it from the file documented in the README.
//
// Thread-safety: values.

#ifndef GRAPHMIRROR_CONFIG_H_
#define GRAPHMIRROR_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "graphmirror/collection.h"

namespace graphmirror {

struct GraphSettings {
  std::string base_url = "https://graph.microsoft.com/v1.0";
  std::string token_url;
  std::string client_id;
  std::string client_secret;
  // Certificate credentials (PEM files; the key readable by its owner only), used instead
  // of client_secret when set. `graphmirror keygen --app` makes a pair.
  std::string certificate;
  std::string private_key;
  // How the certificate signs its client assertion: "RS256" (RSASSA-PKCS1-v1_5 with the
  // SHA-1 thumbprint `x5t`) or "PS256" (RSASSA-PSS, which the certificate-credentials page
  // now recommends). The identity platform accepts both; both thumbprints are always sent.
  std::string assertion_algorithm = "RS256";
};

struct SyncSettings {
  int page_size = 500;  // $top of resync queries (1..1000)
  int parallelism = 4;  // collections synced at once, across all mailboxes
  // How far behind the watermark a resync starts again. Graph stamps createdDateTime when
  // an item is created but may list it a little later; re-reading a short overlap (the
  // upserts are idempotent) catches such late arrivals.
  std::chrono::seconds overlap{60};
  // The overlap of a round that notifications asked for. Their items were committed
  // before Graph sent them, so only timestamps equal to the watermark need reading again;
  // a round per burst re-reading a whole `overlap` would read every recent item again
  // each time. A created item such a round still misses is fetched by id.
  std::chrono::seconds hint_overlap{2};
  // Ended notification log rows are deleted after this long (0: kept forever).
  std::chrono::hours log_retention{24 * 7};
  // The window of calendarView delta rounds (how deleted events are seen), in days before
  // and after now. Graph has no event delta without a window.
  int calendar_past_days = 365;
  int calendar_future_days = 730;
  // The daemon runs a delta pass over every collection this often even without a reason
  // (0: never): a safety net under notifications Graph lost without saying so.
  std::chrono::minutes delta_interval{360};
  // How long a Graph request keeps waiting out 429 (Retry-After), 503, 504 and broken
  // connections, counted from its first failure, before its collection fails: the longest
  // a mailbox may make no progress. 0: fail at the first such answer.
  std::chrono::seconds max_retry_wait{600};
  // A catch-up pass (at start, after a subscription was made again, after `missed`) runs
  // once more this long after it succeeded: Graph's lists and delta rounds may show a
  // change some time after it happened, and a change made just before the catch-up has
  // no notification to bring it later. 0: no second pass.
  std::chrono::seconds catch_up_recheck{300};
  // Message bodies, kept in their own table (message_bodies, searchable): "text" (read as
  // HTML, the only form Graph's delta rounds serve, and made text by graphmirror), "html"
  // as Outlook holds them, or "none".
  std::string bodies = "text";
};

// Where the daemon listens for Graph's notifications, and the public URLs Graph posts
// to (a reverse proxy or tunnel maps them to `listen`). The receiver serves the paths
// of the two URLs.
struct WebhookSettings {
  std::string listen = "127.0.0.1:8080";  // host:port
  std::string notification_url;
  // Where Graph sends lifecycle events (reauthorizationRequired, subscriptionRemoved,
  // missed); empty: the notification URL. Always sent: Graph sends none to a subscription
  // created without it.
  std::string lifecycle_url;
  size_t max_body_bytes = 1 << 20;
  // Requests served at once (a thread each); beyond, a request stalled for over a second
  // makes room, else the new one gets 503 (Graph retries) at once.
  int max_connections = 512;
  // Connections waiting for a request, held without a thread; beyond, the longest
  // waiting is closed. Also bounded by the process's file-descriptor limit.
  size_t max_idle_connections = 20000;
  // A request (and its answer) slower than this is cut off: a slowloris cannot hold the
  // receiver's workers.
  std::chrono::seconds request_timeout{10};
  // Both set: the receiver speaks HTTPS itself (TLS 1.2 at least) with this certificate
  // and key (PEM files), for setups without a TLS-terminating proxy.
  std::string tls_certificate;
  std::string tls_private_key;
};

struct SubscriptionSettings {
  // Asked for at create and renewal; Graph's limit for Outlook resources is 10,080 minutes
  // (some tenants: a little less), and a too-long request is clamped and retried.
  std::chrono::minutes lifetime{4230};
  // Renew when less than this is left.
  std::chrono::minutes renew_margin{1440};
};

// A private key that decrypts rich notifications, and the encryptionCertificateId Graph
// names it by.
struct RichKey {
  std::string certificate_id;
  std::string private_key;  // PEM file path, resolved against the config file's directory
};

// Rich notifications (`includeResourceData`): the certificate Graph encrypts with, its key,
// and earlier keys still accepted while Graph may use them (rotation). Absent: no mailbox
// may ask for rich subscriptions.
struct RichSettings {
  std::string certificate;  // PEM file path of the current certificate
  RichKey current;
  std::vector<RichKey> previous;
  // Where the identity platform publishes the keys that sign validation tokens (JWKS).
  std::string jwks_url = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
  // The tenant whose issuer validation tokens must name; empty: the tenant in
  // graph.token_url if it is a tenant id, else the tenant the token itself names.
  std::string tenant_id;
};

struct MailboxConfig {
  std::string user;  // object id (preferred) or user principal name
  std::vector<Collection> resources;
  bool rich = false;  // ask for rich subscriptions (needs [rich])
  // A scoped mirror (README "Scoped mirrors"). `folders`: only the messages of these mail
  // folders (ids, or well-known names such as "inbox" and "archive"; not their child
  // folders); empty: every folder. `filters`: per resource, an OData $filter the mirrored
  // items match ("isRead eq false"), evaluated by Graph in the subscription and every
  // query. An item that leaves the scope leaves the mirror.
  std::vector<std::string> folders;
  std::map<Collection, std::string> filters;
};

// A SharePoint site and the lists of it to mirror (GRAPH.md section 9): each list gets a
// list subscription, and its items land in the list_items table.
struct SharePointConfig {
  std::string site;                // "https://contoso.sharepoint.com/sites/team"
  std::vector<std::string> lists;  // list ids (GUIDs), lower-cased
};

// The change feed (the `changes` table; Engine::ReadChanges). Pruned by the daemon.
struct ChangeSettings {
  // Changes older than this are deleted (0: kept forever).
  int keep_days = 0;
  // true: old changes go even if a registered consumer has not read them yet (it then
  // sees a jump in seq); false: they wait for every consumer.
  bool drop_unread = false;
};

// Where the daemon serves GET /metrics (and /healthz) for Prometheus; empty: on the
// webhook's listener, as before. Set, /metrics leaves the webhook's port (which may face
// the internet) for this one, which should be private.
struct MetricsSettings {
  std::string listen;  // host:port, like "127.0.0.1:9090"; empty: the webhook's listener
};

// Notifications read from a Kafka topic ([kafka]): Azure Event Hubs' Kafka endpoint, where
// Graph delivers the notification collections of subscriptions whose notificationUrl names
// an event hub ("Receive change notifications through Azure Event Hubs"), or any Kafka
// cluster something else writes Graph's collections to. Each record's value is one
// collection, exactly as Graph would POST it to a webhook; the daemon logs it durably and
// only then commits the record's offset. Absent: no Kafka.
struct KafkaSettings {
  // "host:port,host:port". Event Hubs: "<namespace>.servicebus.windows.net:9093".
  std::string brokers;
  // The topic the collections are read from: with Event Hubs, the event hub's name. Empty
  // in the file: the hub `event_hub_url` names (its RBAC form).
  std::string topic;
  std::string group = "graphmirror";  // the consumer group (Event Hubs: a consumer group)
  // "sasl_ssl" (SASL PLAIN over TLS, what Event Hubs' Kafka endpoint requires) or
  // "plaintext" (a Kafka cluster on a private network, a test).
  std::string security = "sasl_ssl";
  std::string sasl_username = "$ConnectionString";  // Event Hubs' fixed user name
  // The SASL password: with Event Hubs, a connection string with Listen rights. Or a file
  // holding it (`connection_string_file`, read at start; resolved against the config's
  // directory), or the environment variable GRAPHMIRROR_KAFKA_CONNECTION_STRING.
  std::string connection_string;
  std::string connection_string_file;
  std::string ca_file;  // PEM bundle to verify the brokers with; empty: the system's
  // The notificationUrl (and lifecycleNotificationUrl) subscriptions are created with:
  // "EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<domain>"
  // (role-based access) or "EventHub:https://<vault>.vault.azure.net/secrets/<secret>?
  // tenantId=<domain>" (the hub's connection string in Key Vault). Set, Graph delivers to
  // the hub and the webhook is needed only for SharePoint lists. Empty: subscriptions use
  // [webhook] as before, and this source reads whatever reaches the topic.
  std::string event_hub_url;
  // How long the group waits for a silent consumer before giving its partitions to
  // another (Kafka's session.timeout.ms). Event Hubs recommends at least 30 s.
  std::chrono::seconds session_timeout{30};

  // Partitioned mirrors (docs/scale-out.md): "single" (the default) mirrors every
  // configured mailbox into `database`, reading the topic as above; "partitioned" spreads
  // the mailboxes over `partitions` shards that any number of daemons share: each daemon
  // routes the topic's collections by mailbox to the topic graphmirror.mailbox-changes
  // (consumer group "<group>-router") and mirrors the partitions of it the group
  // "<group>-shards" assigns it, partition n into `shard_directory`/mirror-p{n}.db.
  std::string mode = "single";
  // The partitions of graphmirror.mailbox-changes, the same in every daemon (1..1024); a
  // mailbox lives in the shard PartitionOf(RoutingKey(user), partitions). Required when
  // partitioned; changing it moves mailboxes between shards.
  int partitions = 0;
  // Where the shard files mirror-p{n}.db are (relative: as `database`). Required when
  // partitioned.
  std::string shard_directory;
  // Not read from the file: the partitioned daemon sets it on the config of each shard's
  // engine (the partition it mirrors); -1 otherwise.
  int shard = -1;
};

struct Config {
  std::string database = "graphmirror.db";
  GraphSettings graph;
  SyncSettings sync;
  ChangeSettings changes;
  WebhookSettings webhook;
  MetricsSettings metrics;
  SubscriptionSettings subscriptions;
  std::optional<RichSettings> rich;
  std::optional<KafkaSettings> kafka;
  std::vector<MailboxConfig> mailboxes;
  std::vector<SharePointConfig> sharepoint;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_CONFIG_H_
