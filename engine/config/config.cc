#include "engine/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/base/text.h"

namespace graphmirror::config {
namespace {

// The integer settings and their ranges, shared by the TOML reader (which names the line)
// and ValidateConfig (hand-built Configs): one rule, one message.
struct IntegerRule {
  const char* name;
  int64_t min, max;
  int64_t (*get)(const Config&);
};

constexpr IntegerRule kIntegerRules[] = {
    {"sync.page_size", 1, 1000, [](const Config& c) -> int64_t { return c.sync.page_size; }},
    {"sync.parallelism", 1, 64, [](const Config& c) -> int64_t { return c.sync.parallelism; }},
    {"sync.overlap_seconds", 0, 86400,
     [](const Config& c) -> int64_t { return c.sync.overlap.count(); }},
    {"sync.hint_overlap_seconds", 0, 86400,
     [](const Config& c) -> int64_t { return c.sync.hint_overlap.count(); }},
    {"sync.log_retention_days", 0, 3650,
     [](const Config& c) -> int64_t {
       // Whole days only: a part of a day is out of range too.
       const int64_t hours = c.sync.log_retention.count();
       return hours % 24 == 0 ? hours / 24 : -1;
     }},
    {"sync.calendar_past_days", 1, 36500,
     [](const Config& c) -> int64_t { return c.sync.calendar_past_days; }},
    {"sync.calendar_future_days", 1, 36500,
     [](const Config& c) -> int64_t { return c.sync.calendar_future_days; }},
    {"sync.delta_interval_minutes", 0, 525600,
     [](const Config& c) -> int64_t { return c.sync.delta_interval.count(); }},
    {"sync.max_retry_wait_seconds", 0, 86400,
     [](const Config& c) -> int64_t { return c.sync.max_retry_wait.count(); }},
    {"sync.catch_up_recheck_seconds", 0, 86400,
     [](const Config& c) -> int64_t { return c.sync.catch_up_recheck.count(); }},
    {"changes.keep_days", 0, 36500, [](const Config& c) -> int64_t { return c.changes.keep_days; }},
    {"webhook.max_body_bytes", 1024, 64 << 20,
     [](const Config& c) -> int64_t { return static_cast<int64_t>(c.webhook.max_body_bytes); }},
    {"webhook.max_connections", 64, 16384,
     [](const Config& c) -> int64_t { return c.webhook.max_connections; }},
    {"webhook.max_idle_connections", 0, 1000000,
     [](const Config& c) -> int64_t {
       return static_cast<int64_t>(c.webhook.max_idle_connections);
     }},
    {"webhook.request_timeout_seconds", 1, 300,
     [](const Config& c) -> int64_t { return c.webhook.request_timeout.count(); }},
    {"subscriptions.lifetime_minutes", 45, 10080,
     [](const Config& c) -> int64_t { return c.subscriptions.lifetime.count(); }},
    {"subscriptions.renew_margin_minutes", 1, 10080,
     [](const Config& c) -> int64_t { return c.subscriptions.renew_margin.count(); }},
    // Kafka brokers bound it with group.min/max.session.timeout.ms (6 s and 5 min by
    // default; Event Hubs allows 6 s to 5 min too).
    // Event Hubs allows 32 partitions per hub (Standard), 100 (Premium), 1024 (Dedicated).
    {"kafka.partitions", 1, 1024,
     [](const Config& c) -> int64_t {
       return c.kafka && c.kafka->mode == "partitioned" ? c.kafka->partitions : 1;
     }},
    {"kafka.session_timeout_seconds", 6, 300,
     [](const Config& c) -> int64_t {
       return c.kafka ? c.kafka->session_timeout.count() : KafkaSettings().session_timeout.count();
     }},
};

const IntegerRule& RuleOf(std::string_view name) {
  for (const IntegerRule& rule : kIntegerRules) {
    if (name == rule.name) return rule;
  }
  std::abort();  // a setting without a rule is a bug of this file
}

std::string RangeMessage(const IntegerRule& rule) {
  return "'" + std::string(rule.name) + "' must be an integer from " + std::to_string(rule.min) +
         " to " + std::to_string(rule.max);
}

// Collects the first error; every check after it is skipped by the caller's ok() test.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  bool ok() const { return status_.ok(); }
  Status status() const { return status_; }

  void Fail(const toml::node* where, const std::string& what) {
    if (!status_.ok()) return;
    std::string loc = source_;
    if (where != nullptr && where->source().begin) {
      loc += ":" + std::to_string(where->source().begin.line) + ":" +
             std::to_string(where->source().begin.column);
    }
    // `what` may quote the file (a key, a value): one line whatever the file holds.
    status_ = Status::InvalidArgument(loc + ": " + OneLine(what));
  }

  // Rejects keys of `table` not in `known`: a typo must not silently fall back to a default.
  void OnlyKeys(const toml::table& table, const std::string& prefix,
                std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : table) {
      bool found = false;
      for (std::string_view k : known) found = found || k == key.str();
      if (!found) Fail(&node, "unknown key '" + prefix + std::string(key.str()) + "'");
    }
  }

  void String(const toml::table& table, std::string_view key, const std::string& name,
              std::string* out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return;
    if (auto v = node->value<std::string>()) {
      *out = *v;
    } else {
      Fail(node, "'" + name + "' must be a string");
    }
  }

  // `name` has a rule in kIntegerRules, whose range the value must lie in.
  void Integer(const toml::table& table, std::string_view key, const std::string& name,
               int64_t* out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return;
    const IntegerRule& rule = RuleOf(name);
    auto v = node->value_exact<int64_t>();
    if (!v || *v < rule.min || *v > rule.max) {
      Fail(node, RangeMessage(rule));
      return;
    }
    *out = *v;
  }

  const toml::table* Table(const toml::table& root, std::string_view key) {
    const toml::node* node = root.get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      Fail(node, "'" + std::string(key) + "' must be a table ([" + std::string(key) + "])");
      return nullptr;
    }
    return node->as_table();
  }

 private:
  std::string source_;
  Status status_;
};

void ReadGraph(Reader& r, const toml::table& t, GraphSettings* g) {
  r.OnlyKeys(t, "graph.",
             {"base_url", "token_url", "client_id", "client_secret", "certificate", "private_key",
              "assertion_algorithm"});
  r.String(t, "base_url", "graph.base_url", &g->base_url);
  r.String(t, "token_url", "graph.token_url", &g->token_url);
  r.String(t, "client_id", "graph.client_id", &g->client_id);
  r.String(t, "client_secret", "graph.client_secret", &g->client_secret);
  r.String(t, "certificate", "graph.certificate", &g->certificate);
  r.String(t, "private_key", "graph.private_key", &g->private_key);
  r.String(t, "assertion_algorithm", "graph.assertion_algorithm", &g->assertion_algorithm);
  while (!g->base_url.empty() && g->base_url.back() == '/') g->base_url.pop_back();
}

void ReadSync(Reader& r, const toml::table& t, SyncSettings* s) {
  r.OnlyKeys(
      t, "sync.",
      {"page_size", "parallelism", "overlap_seconds", "hint_overlap_seconds", "log_retention_days",
       "calendar_past_days", "calendar_future_days", "delta_interval_minutes",
       "max_retry_wait_seconds", "catch_up_recheck_seconds", "bodies"});
  r.String(t, "bodies", "sync.bodies", &s->bodies);
  int64_t delta_minutes = s->delta_interval.count();
  r.Integer(t, "delta_interval_minutes", "sync.delta_interval_minutes", &delta_minutes);
  s->delta_interval = std::chrono::minutes(delta_minutes);
  int64_t past = s->calendar_past_days, future = s->calendar_future_days;
  r.Integer(t, "calendar_past_days", "sync.calendar_past_days", &past);
  r.Integer(t, "calendar_future_days", "sync.calendar_future_days", &future);
  s->calendar_past_days = static_cast<int>(past);
  s->calendar_future_days = static_cast<int>(future);
  int64_t retention_days = s->log_retention.count() / 24;
  r.Integer(t, "log_retention_days", "sync.log_retention_days", &retention_days);
  s->log_retention = std::chrono::hours(retention_days * 24);
  int64_t page_size = s->page_size, parallelism = s->parallelism, overlap = s->overlap.count();
  r.Integer(t, "page_size", "sync.page_size", &page_size);
  r.Integer(t, "parallelism", "sync.parallelism", &parallelism);
  r.Integer(t, "overlap_seconds", "sync.overlap_seconds", &overlap);
  s->page_size = static_cast<int>(page_size);
  s->parallelism = static_cast<int>(parallelism);
  s->overlap = std::chrono::seconds(overlap);
  int64_t hint_overlap = s->hint_overlap.count();
  r.Integer(t, "hint_overlap_seconds", "sync.hint_overlap_seconds", &hint_overlap);
  s->hint_overlap = std::chrono::seconds(hint_overlap);
  int64_t retry_wait = s->max_retry_wait.count();
  r.Integer(t, "max_retry_wait_seconds", "sync.max_retry_wait_seconds", &retry_wait);
  s->max_retry_wait = std::chrono::seconds(retry_wait);
  int64_t recheck = s->catch_up_recheck.count();
  r.Integer(t, "catch_up_recheck_seconds", "sync.catch_up_recheck_seconds", &recheck);
  s->catch_up_recheck = std::chrono::seconds(recheck);
}

void ReadChangeFeed(Reader& r, const toml::table& t, ChangeSettings* c) {
  r.OnlyKeys(t, "changes.", {"keep_days", "drop_unread"});
  int64_t keep_days = c->keep_days;
  r.Integer(t, "keep_days", "changes.keep_days", &keep_days);
  c->keep_days = static_cast<int>(keep_days);
  if (const toml::node* drop = t.get("drop_unread")) {
    if (auto v = drop->value_exact<bool>()) {
      c->drop_unread = *v;
    } else {
      r.Fail(drop, "'changes.drop_unread' must be true or false");
    }
  }
}

// True for http(s)://localhost, 127.x.x.x and [::1] (a test on this machine).
bool IsLoopbackUrl(std::string_view url) {
  const size_t start = url.find("://");
  if (start == std::string_view::npos) return false;
  std::string_view authority = url.substr(start + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return false;
  std::string host;
  if (!authority.empty() && authority.front() == '[') {
    host = AsciiLower(authority.substr(0, authority.find(']') + 1));
  } else {
    host = AsciiLower(authority.substr(0, authority.find(':')));
  }
  if (host == "localhost" || host == "[::1]") return true;
  return host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos;
}

void ReadWebhook(Reader& r, const toml::table& t, WebhookSettings* w) {
  r.OnlyKeys(
      t, "webhook.",
      {"listen", "notification_url", "lifecycle_url", "max_body_bytes", "max_connections",
       "max_idle_connections", "request_timeout_seconds", "tls_certificate", "tls_private_key"});
  r.String(t, "tls_certificate", "webhook.tls_certificate", &w->tls_certificate);
  r.String(t, "tls_private_key", "webhook.tls_private_key", &w->tls_private_key);
  r.String(t, "listen", "webhook.listen", &w->listen);
  r.String(t, "notification_url", "webhook.notification_url", &w->notification_url);
  r.String(t, "lifecycle_url", "webhook.lifecycle_url", &w->lifecycle_url);
  int64_t max_body = static_cast<int64_t>(w->max_body_bytes);
  r.Integer(t, "max_body_bytes", "webhook.max_body_bytes", &max_body);
  w->max_body_bytes = static_cast<size_t>(max_body);
  int64_t max_connections = w->max_connections;
  r.Integer(t, "max_connections", "webhook.max_connections", &max_connections);
  w->max_connections = static_cast<int>(max_connections);
  int64_t max_idle = static_cast<int64_t>(w->max_idle_connections);
  r.Integer(t, "max_idle_connections", "webhook.max_idle_connections", &max_idle);
  w->max_idle_connections = static_cast<size_t>(max_idle);
  int64_t request_timeout = w->request_timeout.count();
  r.Integer(t, "request_timeout_seconds", "webhook.request_timeout_seconds", &request_timeout);
  w->request_timeout = std::chrono::seconds(request_timeout);
  // Graph sends lifecycle events only to a lifecycleNotificationUrl given at create; the
  // receiver tells them from change notifications by their content.
  if (w->lifecycle_url.empty()) w->lifecycle_url = w->notification_url;
}

void ReadSubscriptions(Reader& r, const toml::table& t, SubscriptionSettings* s) {
  r.OnlyKeys(t, "subscriptions.", {"lifetime_minutes", "renew_margin_minutes"});
  int64_t lifetime = s->lifetime.count(), margin = s->renew_margin.count();
  r.Integer(t, "lifetime_minutes", "subscriptions.lifetime_minutes", &lifetime);
  r.Integer(t, "renew_margin_minutes", "subscriptions.renew_margin_minutes", &margin);
  s->lifetime = std::chrono::minutes(lifetime);
  s->renew_margin = std::chrono::minutes(margin);
}

void ReadRichKey(Reader& r, const toml::table& t, const std::string& prefix, RichKey* key) {
  r.String(t, "certificate_id", prefix + "certificate_id", &key->certificate_id);
  r.String(t, "private_key", prefix + "private_key", &key->private_key);
}

void ReadRich(Reader& r, const toml::table& t, RichSettings* rich) {
  r.OnlyKeys(t, "rich.",
             {"certificate", "certificate_id", "private_key", "previous", "jwks_url", "tenant_id"});
  r.String(t, "certificate", "rich.certificate", &rich->certificate);
  r.String(t, "jwks_url", "rich.jwks_url", &rich->jwks_url);
  r.String(t, "tenant_id", "rich.tenant_id", &rich->tenant_id);
  ReadRichKey(r, t, "rich.", &rich->current);
  const toml::node* previous = t.get("previous");
  if (previous == nullptr) return;
  const toml::array* list = previous->as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    r.Fail(previous, "'rich.previous' must be an array of tables ([[rich.previous]])");
    return;
  }
  for (const toml::node& entry : *list) {
    const toml::table& e = *entry.as_table();
    r.OnlyKeys(e, "rich.previous.", {"certificate_id", "private_key"});
    RichKey key;
    ReadRichKey(r, e, "rich.previous.", &key);
    rich->previous.push_back(std::move(key));
  }
}

void ReadKafka(Reader& r, const toml::table& t, KafkaSettings* k) {
  r.OnlyKeys(t, "kafka.",
             {"brokers", "topic", "group", "security", "sasl_username", "connection_string",
              "connection_string_file", "ca_file", "event_hub_url", "session_timeout_seconds",
              "mode", "partitions", "shard_directory"});
  r.String(t, "brokers", "kafka.brokers", &k->brokers);
  r.String(t, "topic", "kafka.topic", &k->topic);
  r.String(t, "group", "kafka.group", &k->group);
  r.String(t, "security", "kafka.security", &k->security);
  r.String(t, "sasl_username", "kafka.sasl_username", &k->sasl_username);
  r.String(t, "connection_string", "kafka.connection_string", &k->connection_string);
  r.String(t, "connection_string_file", "kafka.connection_string_file", &k->connection_string_file);
  r.String(t, "ca_file", "kafka.ca_file", &k->ca_file);
  r.String(t, "event_hub_url", "kafka.event_hub_url", &k->event_hub_url);
  int64_t session = k->session_timeout.count();
  r.Integer(t, "session_timeout_seconds", "kafka.session_timeout_seconds", &session);
  k->session_timeout = std::chrono::seconds(session);
  r.String(t, "mode", "kafka.mode", &k->mode);
  int64_t partitions = k->partitions;
  r.Integer(t, "partitions", "kafka.partitions", &partitions);
  k->partitions = static_cast<int>(partitions);
  r.String(t, "shard_directory", "kafka.shard_directory", &k->shard_directory);
  if (t.get("brokers") == nullptr) r.Fail(&t, "'kafka.brokers' is required in [kafka]");
  // The topic of an event hub is the hub: named once, in the URL, is enough.
  if (k->topic.empty()) {
    if (auto hub = ParseEventHubUrl(k->event_hub_url); hub && !hub->hub.empty()) {
      k->topic = hub->hub;
    }
  }
}

void ReadSharePoint(Reader& r, const toml::node& node, std::vector<SharePointConfig>* out) {
  const toml::array* sites = node.as_array();
  if (sites == nullptr || !sites->is_array_of_tables()) {
    r.Fail(&node, "'sharepoint' must be an array of tables ([[sharepoint]])");
    return;
  }
  for (const toml::node& entry : *sites) {
    const toml::table& t = *entry.as_table();
    r.OnlyKeys(t, "sharepoint.", {"site", "lists"});
    SharePointConfig sp;
    r.String(t, "site", "sharepoint.site", &sp.site);
    while (!sp.site.empty() && sp.site.back() == '/') sp.site.pop_back();
    const toml::node* lists_node = t.get("lists");
    const toml::array* lists = lists_node ? lists_node->as_array() : nullptr;
    if (lists_node != nullptr && lists == nullptr) {
      r.Fail(lists_node, "'sharepoint.lists' must be a non-empty array of list ids");
    }
    if (lists != nullptr) {
      for (const toml::node& item : *lists) {
        auto id = item.value<std::string>();
        if (!id) {
          r.Fail(&item, "'sharepoint.lists' entries must be list ids (GUIDs)");
          continue;
        }
        sp.lists.push_back(AsciiLower(*id));  // ValidateConfig checks them
      }
    }
    out->push_back(std::move(sp));
  }
}

// True if `text` holds no control character (a filter or folder name goes into URLs and
// one-line messages).
bool Printable(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
}

// `folders` and `filter` of a [[mailbox]]: what Graph can keep scoped (subscription
// resources "/users/{id}/mailFolders/{id}/messages" and "...?$filter=", "Change
// notifications for Outlook resources").
void ReadScope(Reader& r, const toml::table& t, MailboxConfig* m) {
  if (const toml::node* folders = t.get("folders")) {
    const toml::array* arr = folders->as_array();
    if (arr == nullptr) {
      r.Fail(folders, "'mailbox.folders' must be an array of folder ids or well-known names");
      return;
    }
    std::set<std::string> seen;
    for (const toml::node& item : *arr) {
      auto name = item.value<std::string>();
      if (!name) {
        r.Fail(&item, "'mailbox.folders' entries must be folder ids or well-known names");
        return;
      }
      if (seen.insert(AsciiLower(*name)).second) m->folders.push_back(*name);
    }
    // In the struct, no folders means every folder; in the file, an empty list is a mistake.
    if (m->folders.empty()) {
      r.Fail(folders, "'mailbox.folders' is empty (leave it out to mirror every folder)");
    }
  }
  const toml::node* filter = t.get("filter");
  if (filter == nullptr) return;
  const toml::table* table = filter->as_table();
  if (table == nullptr) {
    r.Fail(filter, "'mailbox.filter' must be a table of resource = \"$filter\"");
    return;
  }
  for (const auto& [key, node] : *table) {
    const std::string name(key.str());
    auto collection = ParseCollection(name);
    auto text = node.value<std::string>();
    if (!collection) {
      r.Fail(&node, "unknown key 'mailbox.filter." + name + "' (\"messages\" or \"events\")");
    } else if (!text) {
      r.Fail(&node, "'mailbox.filter." + name + "' must be a non-empty OData $filter");
    } else {
      m->filters[*collection] = *text;  // ValidateConfig checks what Graph can filter
    }
  }
}

void ReadMailboxes(Reader& r, const toml::node& node, std::vector<MailboxConfig>* out) {
  const toml::array* list = node.as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    r.Fail(&node, "'mailbox' must be an array of tables ([[mailbox]])");
    return;
  }
  for (const toml::node& entry : *list) {
    const toml::table& t = *entry.as_table();
    r.OnlyKeys(t, "mailbox.", {"user", "resources", "rich", "folders", "filter"});
    MailboxConfig m;
    r.String(t, "user", "mailbox.user", &m.user);
    if (const toml::node* rich = t.get("rich")) {
      if (auto v = rich->value_exact<bool>()) {
        m.rich = *v;
      } else {
        r.Fail(rich, "'mailbox.rich' must be true or false");
      }
    }
    const toml::node* resources = t.get("resources");
    if (resources == nullptr) {
      m.resources.assign(std::begin(kAllCollections), std::end(kAllCollections));
    } else if (const toml::array* arr = resources->as_array()) {
      for (const toml::node& item : *arr) {
        auto name = item.value<std::string>();
        auto collection = name ? ParseCollection(*name) : std::nullopt;
        if (!collection) {
          r.Fail(&item,
                 "'mailbox.resources' entries must be \"messages\", \"events\" or "
                 "\"contacts\"");
        } else if (std::find(m.resources.begin(), m.resources.end(), *collection) ==
                   m.resources.end()) {
          m.resources.push_back(*collection);
        }
      }
    } else {
      r.Fail(resources, "'mailbox.resources' must be an array of strings");
    }
    ReadScope(r, t, &m);
    out->push_back(std::move(m));
  }
}

// A value a Config must not hold: the key it is at (a TOML path, "mailbox[1].user", so
// that the reader can name the line) and the one-line message.
struct Problem {
  std::string key;
  std::string message;
};

bool IsHttpUrl(const std::string& url) {
  return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
}

bool IsListId(const std::string& id) {
  return id.size() == 36 && std::all_of(id.begin(), id.end(), [](char ch) {
           return std::isxdigit(static_cast<unsigned char>(ch)) || ch == '-';
         });
}

// A Kafka topic name: 1..249 of [a-zA-Z0-9._-] (Kafka's own rule; Event Hubs' hub names
// fit it).
bool IsTopicName(const std::string& name) {
  return !name.empty() && name.size() <= 249 && name != "." && name != ".." &&
         std::all_of(name.begin(), name.end(), [](char ch) {
           return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' ||
                  ch == '-';
         });
}

// "host:port" entries separated by commas (no spaces, a numeric port).
bool IsBrokerList(const std::string& brokers) {
  if (brokers.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t end = std::min(brokers.find(',', start), brokers.size());
    const std::string entry = brokers.substr(start, end - start);
    const size_t colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size() ||
        entry.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
        entry.find_first_of(" \t/@") != std::string::npos || !Printable(entry)) {
      return false;
    }
    if (end == brokers.size()) return true;
    start = end + 1;
  }
}

std::optional<Problem> KafkaProblem(const KafkaSettings& k) {
  if (!IsBrokerList(k.brokers)) {
    return Problem{"kafka.brokers",
                   "'kafka.brokers' must be host:port entries separated by commas, like "
                   "\"mynamespace.servicebus.windows.net:9093\""};
  }
  if (!k.event_hub_url.empty() && !ParseEventHubUrl(k.event_hub_url)) {
    return Problem{"kafka.event_hub_url",
                   "'kafka.event_hub_url' must be \"EventHub:https://<namespace>.servicebus."
                   "windows.net/eventhubname/<hub>?tenantId=<domain>\" (or the Key Vault form "
                   "\"EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<domain>"
                   "\"), not \"" +
                       k.event_hub_url + "\""};
  }
  if (k.topic.empty()) {
    return Problem{"kafka",
                   "'kafka.topic' is required (the event hub's name; or an "
                   "'kafka.event_hub_url' that names the hub)"};
  }
  if (!IsTopicName(k.topic)) {
    return Problem{"kafka.topic",
                   "'kafka.topic' must be 1 to 249 letters, digits, '.', '_' "
                   "or '-', not \"" +
                       k.topic + "\""};
  }
  if (auto hub = ParseEventHubUrl(k.event_hub_url);
      hub && !hub->hub.empty() && hub->hub != k.topic) {
    return Problem{"kafka.topic", "'kafka.topic' is \"" + k.topic +
                                      "\" but 'kafka.event_hub_url' delivers to the hub \"" +
                                      hub->hub + "\""};
  }
  if (k.group.empty() || k.group.size() > 255 || !Printable(k.group)) {
    return Problem{"kafka.group", "'kafka.group' must be a name of 1 to 255 printable characters"};
  }
  if (k.security != "sasl_ssl" && k.security != "plaintext") {
    return Problem{"kafka.security",
                   "'kafka.security' must be \"sasl_ssl\" or \"plaintext\", "
                   "not \"" +
                       k.security + "\""};
  }
  if (!k.connection_string.empty() && !k.connection_string_file.empty()) {
    return Problem{"kafka",
                   "'kafka.connection_string' and 'kafka.connection_string_file' "
                   "exclude each other"};
  }
  if (k.security == "sasl_ssl") {
    if (k.sasl_username.empty()) {
      return Problem{"kafka.sasl_username", "'kafka.sasl_username' is empty"};
    }
    if (k.connection_string.empty() && k.connection_string_file.empty()) {
      return Problem{"kafka",
                     "'kafka.connection_string' (or 'kafka.connection_string_file', or "
                     "GRAPHMIRROR_KAFKA_CONNECTION_STRING) is required with security = "
                     "\"sasl_ssl\""};
    }
  } else if (!k.ca_file.empty()) {
    return Problem{"kafka.ca_file", "'kafka.ca_file' needs security = \"sasl_ssl\""};
  }
  if (k.mode != "single" && k.mode != "partitioned") {
    return Problem{"kafka.mode", "'kafka.mode' must be \"single\" or \"partitioned\", not \"" +
                                     k.mode + "\""};
  }
  if (k.mode == "partitioned") {
    if (k.partitions < 1 || k.partitions > 1024) {
      return Problem{"kafka.partitions",
                     "'kafka.partitions' (1 to 1024, the partitions of the topic "
                     "graphmirror.mailbox-changes) is required with mode = \"partitioned\""};
    }
    if (k.shard_directory.empty()) {
      return Problem{"kafka.shard_directory",
                     "'kafka.shard_directory' (where the shards mirror-p{n}.db are) is required "
                     "with mode = \"partitioned\""};
    }
    if (k.topic == "graphmirror.mailbox-changes") {
      return Problem{"kafka.topic",
                     "'kafka.topic' is where Graph's collections arrive; the partitioned mode "
                     "writes graphmirror.mailbox-changes itself: use another topic"};
    }
    if (k.shard >= k.partitions) {
      return Problem{"kafka", "shard " + std::to_string(k.shard) + " is not one of the " +
                                  std::to_string(k.partitions) + " partitions"};
    }
  } else if (k.partitions != 0 || !k.shard_directory.empty()) {
    return Problem{"kafka.mode", "'kafka.partitions' and 'kafka.shard_directory' need "
                                 "mode = \"partitioned\""};
  }
  return std::nullopt;
}

// Every check of values, in the order of the file's sections; the first problem found.
std::optional<Problem> FirstProblem(const Config& c, bool require_graph = true) {
  auto path = [](const std::string& table, size_t i, const std::string& key) {
    return table + "[" + std::to_string(i) + "]" + (key.empty() ? "" : "." + key);
  };
  if (c.database.empty()) return Problem{"database", "'database' is empty"};
  if (c.database == ":memory:" || c.database.rfind("file:", 0) == 0) {
    // The receiver, the worker and every reader need the same database: a file.
    return Problem{"database", "'database' must be a file path"};
  }

  const GraphSettings& g = c.graph;
  if (g.certificate.empty() != g.private_key.empty()) {
    return Problem{"graph", "'graph.certificate' and 'graph.private_key' go together"};
  }
  if (g.assertion_algorithm != "RS256" && g.assertion_algorithm != "PS256") {
    return Problem{"graph.assertion_algorithm",
                   "'graph.assertion_algorithm' must be \"RS256\" or \"PS256\", not \"" +
                       g.assertion_algorithm + "\""};
  }
  if (!g.base_url.empty() && !IsHttpUrl(g.base_url)) {
    return Problem{"graph.base_url", "'" + g.base_url + "' is not an http(s) URL"};
  }
  if (!g.token_url.empty() && !IsHttpUrl(g.token_url)) {
    return Problem{"graph.token_url", "'" + g.token_url + "' is not an http(s) URL"};
  }
  if (require_graph && g.token_url.empty()) {
    return Problem{"graph", "'graph.token_url' is required"};
  }
  if (require_graph && g.client_id.empty()) {
    return Problem{"graph", "'graph.client_id' is required"};
  }
  if (require_graph && g.client_secret.empty() && g.certificate.empty()) {
    return Problem{"graph",
                   "'graph.certificate' and 'graph.private_key' (or 'graph.client_secret', or "
                   "GRAPHMIRROR_CLIENT_SECRET) are required"};
  }

  const SyncSettings& sync = c.sync;
  if (sync.bodies != "text" && sync.bodies != "html" && sync.bodies != "none") {
    return Problem{"sync.bodies", "'sync.bodies' must be \"text\", \"html\" or \"none\", not \"" +
                                      sync.bodies + "\""};
  }
  for (const IntegerRule& rule : kIntegerRules) {
    const int64_t v = rule.get(c);
    if (v < rule.min || v > rule.max) return Problem{rule.name, RangeMessage(rule)};
  }

  const WebhookSettings& w = c.webhook;
  if (w.tls_certificate.empty() != w.tls_private_key.empty()) {
    return Problem{"webhook",
                   "'webhook.tls_certificate' and 'webhook.tls_private_key' go together"};
  }
  const size_t colon = w.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      w.listen.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      colon + 1 == w.listen.size()) {
    return Problem{"webhook.listen", "'webhook.listen' must be host:port, like \"127.0.0.1:8080\""};
  }
  if (!c.metrics.listen.empty()) {
    const std::string& m = c.metrics.listen;
    const size_t at = m.rfind(':');
    if (at == std::string::npos || at == 0 ||
        m.find_first_not_of("0123456789", at + 1) != std::string::npos || at + 1 == m.size()) {
      return Problem{"metrics.listen",
                     "'metrics.listen' must be host:port, like \"127.0.0.1:9090\""};
    }
    if (m == w.listen) {
      return Problem{"metrics.listen",
                     "'metrics.listen' is the webhook's address (leave it out to serve /metrics "
                     "there)"};
    }
  }
  for (const char* key : {"notification_url", "lifecycle_url"}) {
    const std::string& url = key[0] == 'n' ? w.notification_url : w.lifecycle_url;
    const std::string at = "webhook." + std::string(key);
    if (!url.empty() && !IsHttpUrl(url)) return Problem{at, "'" + url + "' is not an http(s) URL"};
    // Graph posts only to https URLs (subscription resource type: notificationUrl and
    // lifecycleNotificationUrl "must make use of the HTTPS protocol"); plain http is
    // for a simulator on this machine.
    if (url.rfind("http://", 0) == 0 && !IsLoopbackUrl(url)) {
      return Problem{at, "'" + at + "' = '" + url +
                             "': Graph posts only to https URLs (http is accepted only for "
                             "localhost, 127.0.0.1 or [::1])"};
    }
  }
  if (c.subscriptions.renew_margin >= c.subscriptions.lifetime) {
    return Problem{"subscriptions.renew_margin_minutes",
                   "'subscriptions.renew_margin_minutes' must be less than the lifetime"};
  }

  if (c.rich) {
    const RichSettings& rich = *c.rich;
    if (!IsHttpUrl(rich.jwks_url)) {
      return Problem{"rich.jwks_url", "'rich.jwks_url' is not an http(s) URL"};
    }
    if (rich.certificate.empty()) return Problem{"rich", "'rich.certificate' is required"};
    if (rich.current.certificate_id.empty() || rich.current.private_key.empty()) {
      return Problem{"rich", "'rich.certificate_id' and 'rich.private_key' are required"};
    }
    std::set<std::string> ids{rich.current.certificate_id};
    for (size_t i = 0; i < rich.previous.size(); ++i) {
      const RichKey& key = rich.previous[i];
      if (key.certificate_id.empty() || key.private_key.empty()) {
        return Problem{path("rich.previous", i, ""),
                       "'rich.previous.certificate_id' and 'rich.previous.private_key' are "
                       "required"};
      }
      if (!ids.insert(key.certificate_id).second) {
        return Problem{path("rich.previous", i, ""),
                       "certificate id '" + key.certificate_id + "' is configured twice"};
      }
    }
  }

  if (c.kafka) {
    if (auto problem = KafkaProblem(*c.kafka)) return problem;
    if (c.kafka->mode == "partitioned" && !c.sharepoint.empty()) {
      // SharePoint posts to a webhook only; its lists have no routing key to shard by.
      return Problem{"kafka.mode", "[[sharepoint]] lists cannot be mirrored with kafka.mode = "
                                   "\"partitioned\" (mirror them with a daemon of their own)"};
    }
  }

  std::set<std::string> users;
  for (size_t i = 0; i < c.mailboxes.size(); ++i) {
    const MailboxConfig& m = c.mailboxes[i];
    if (m.user.empty()) return Problem{path("mailbox", i, ""), "a [[mailbox]] needs 'user'"};
    if (!users.insert(m.user).second) {
      return Problem{path("mailbox", i, ""), "mailbox '" + m.user + "' is configured twice"};
    }
    auto has = [&](Collection col) {
      return std::find(m.resources.begin(), m.resources.end(), col) != m.resources.end();
    };
    for (const std::string& folder : m.folders) {
      if (folder.empty() || !Printable(folder) || folder.find('/') != std::string::npos) {
        return Problem{path("mailbox", i, "folders"),
                       "'mailbox.folders' entries must be folder ids or well-known names"};
      }
    }
    if (!m.folders.empty() && !has(Collection::kMessages)) {
      return Problem{
          path("mailbox", i, "folders"),
          "'mailbox.folders' scopes messages, which mailbox '" + m.user + "' does not mirror"};
    }
    for (const auto& [collection, text] : m.filters) {
      const std::string name(CollectionName(collection));
      const std::string at = path("mailbox", i, "filter." + name);
      if (collection == Collection::kContacts) {
        // Graph lists contacts folder by folder and keeps their delta per folder, neither
        // filtered: a filtered contacts mirror could not see what left the filter.
        return Problem{at, "'mailbox.filter.contacts' is not supported (messages and events are)"};
      }
      if (!has(collection)) {
        return Problem{
            at, "'mailbox.filter." + name + "': mailbox '" + m.user + "' does not mirror " + name};
      }
      if (text.empty() || !Printable(text)) {
        return Problem{at, "'mailbox.filter." + name + "' must be a non-empty OData $filter"};
      }
      if (collection == Collection::kMessages && !m.folders.empty()) {
        // Folders are kept by message delta rounds, which take no $filter ("message: delta").
        return Problem{at, "'mailbox.filter.messages' cannot be combined with 'mailbox.folders'"};
      }
    }
    if (m.rich && !c.rich) {
      return Problem{path("mailbox", i, "rich"),
                     "mailbox '" + m.user +
                         "' asks for rich notifications but there is no [rich] section "
                         "(certificate and key; `graphmirror keygen` makes them)"};
    }
  }

  std::set<std::string> lists;
  for (size_t i = 0; i < c.sharepoint.size(); ++i) {
    const SharePointConfig& sp = c.sharepoint[i];
    if (!IsHttpUrl(sp.site)) {
      return Problem{path("sharepoint", i, ""),
                     "'sharepoint.site' must be the site's URL, like "
                     "\"https://contoso.sharepoint.com/sites/team\""};
    }
    if (sp.lists.empty()) {
      return Problem{path("sharepoint", i, ""),
                     "'sharepoint.lists' must be a non-empty array of list ids"};
    }
    for (size_t j = 0; j < sp.lists.size(); ++j) {
      const std::string at = path("sharepoint", i, "lists") + "[" + std::to_string(j) + "]";
      if (!IsListId(sp.lists[j])) {
        return Problem{at, "'sharepoint.lists' entries must be list ids (GUIDs)"};
      }
      const std::string lower = AsciiLower(sp.lists[j]);
      if (!lists.insert(sp.site + "|" + lower).second) {
        return Problem{at, "list " + lower + " of " + sp.site + " is configured twice"};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::string MirrorScope::Signature() const {
  std::string out;
  // Folder names as configured: "Inbox" and "inbox" name one folder, but a rename in the
  // file restarting the collection is harmless.
  for (const std::string& f : folders) out += "folder:" + f + "\n";
  if (!filter.empty()) out += "filter:" + filter;
  return out;
}

Scopes::Scopes(const Config& config) {
  for (const MailboxConfig& m : config.mailboxes) {
    for (Collection c : m.resources) {
      MirrorScope scope;
      if (c == Collection::kMessages) scope.folders = m.folders;
      if (auto it = m.filters.find(c); it != m.filters.end()) scope.filter = it->second;
      if (!scope.whole()) scoped_[{m.user, c}] = std::move(scope);
    }
  }
}

const MirrorScope& Scopes::Of(const std::string& user_id, Collection collection) const {
  static const MirrorScope kWhole;
  auto it = scoped_.find({user_id, collection});
  return it == scoped_.end() ? kWhole : it->second;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<Config> ParseConfig(const std::string& text, const std::string& source,
                           const std::string& base_dir, const EnvLookup& env) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(source + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " + OneLine(e.description()));
  }
  Reader r(source);
  Config config;
  r.OnlyKeys(root, "",
             {"database", "graph", "sync", "changes", "webhook", "metrics", "subscriptions", "rich",
              "kafka", "mailbox", "sharepoint"});
  r.String(root, "database", "database", &config.database);
  if (const toml::table* graph = r.Table(root, "graph")) ReadGraph(r, *graph, &config.graph);
  if (const toml::table* sync = r.Table(root, "sync")) ReadSync(r, *sync, &config.sync);
  if (const toml::table* changes = r.Table(root, "changes")) {
    ReadChangeFeed(r, *changes, &config.changes);
  }
  if (const toml::table* webhook = r.Table(root, "webhook")) {
    ReadWebhook(r, *webhook, &config.webhook);
  }
  if (const toml::table* metrics = r.Table(root, "metrics")) {
    r.OnlyKeys(*metrics, "metrics.", {"listen"});
    r.String(*metrics, "listen", "metrics.listen", &config.metrics.listen);
  }
  if (const toml::table* subs = r.Table(root, "subscriptions")) {
    ReadSubscriptions(r, *subs, &config.subscriptions);
  }
  if (const toml::table* rich = r.Table(root, "rich")) {
    config.rich.emplace();
    ReadRich(r, *rich, &*config.rich);
  }
  if (const toml::table* kafka = r.Table(root, "kafka")) {
    config.kafka.emplace();
    ReadKafka(r, *kafka, &*config.kafka);
  }
  if (const toml::node* mailboxes = root.get("mailbox")) {
    ReadMailboxes(r, *mailboxes, &config.mailboxes);
  }
  if (const toml::node* sharepoint = root.get("sharepoint")) {
    ReadSharePoint(r, *sharepoint, &config.sharepoint);
  }
  if (!r.ok()) return r.status();
  if (auto secret = env("GRAPHMIRROR_CLIENT_SECRET"); secret && !secret->empty()) {
    config.graph.client_secret = *secret;
  }
  if (auto secret = env("GRAPHMIRROR_KAFKA_CONNECTION_STRING");
      config.kafka && secret && !secret->empty() && config.kafka->connection_string_file.empty()) {
    config.kafka->connection_string = *secret;
  }
  if (auto problem = FirstProblem(config)) {
    // The line of the key, or of the nearest table around it that the file holds.
    std::string key = problem->key;
    std::string loc = source;
    while (!key.empty()) {
      toml::node_view<toml::node> node = root.at_path(key);
      if (node && node.node()->source().begin) {
        loc += ":" + std::to_string(node.node()->source().begin.line) + ":" +
               std::to_string(node.node()->source().begin.column);
        break;
      }
      const size_t cut = key.find_last_of(".[");
      key.resize(cut == std::string::npos ? 0 : cut);
    }
    return Status::InvalidArgument(loc + ": " + OneLine(problem->message));
  }
  auto resolve = [&](std::string* path) {
    if (!base_dir.empty() && std::filesystem::path(*path).is_relative()) {
      *path = (std::filesystem::path(base_dir) / *path).lexically_normal();
    }
  };
  // Under systemd's StateDirectory= (tools/graphmirror.service), the config lives in a
  // read-only /etc and the state in $STATE_DIRECTORY: a relative database goes there.
  const std::optional<std::string> state_dir = env("STATE_DIRECTORY");
  if (state_dir && !state_dir->empty() && std::filesystem::path(config.database).is_relative()) {
    // systemd lists one directory per StateDirectory= entry, separated by ':'.
    const std::string first = state_dir->substr(0, state_dir->find(':'));
    config.database = (std::filesystem::path(first) / config.database).lexically_normal();
  } else {
    resolve(&config.database);
  }
  if (!config.graph.certificate.empty()) {
    resolve(&config.graph.certificate);
    resolve(&config.graph.private_key);
  }
  if (!config.webhook.tls_certificate.empty()) {
    resolve(&config.webhook.tls_certificate);
    resolve(&config.webhook.tls_private_key);
  }
  if (config.kafka) {
    if (!config.kafka->connection_string_file.empty()) {
      resolve(&config.kafka->connection_string_file);
    }
    if (!config.kafka->ca_file.empty()) resolve(&config.kafka->ca_file);
    // The shards are state, like the database: under STATE_DIRECTORY when relative there.
    if (!config.kafka->shard_directory.empty()) {
      if (state_dir && !state_dir->empty() &&
          std::filesystem::path(config.kafka->shard_directory).is_relative()) {
        const std::string first = state_dir->substr(0, state_dir->find(':'));
        config.kafka->shard_directory =
            (std::filesystem::path(first) / config.kafka->shard_directory).lexically_normal();
      } else {
        resolve(&config.kafka->shard_directory);
      }
    }
  }
  if (config.rich) {
    resolve(&config.rich->certificate);
    resolve(&config.rich->current.private_key);
    for (RichKey& key : config.rich->previous) resolve(&key.private_key);
  }
  return config;
}

Status ValidateConfig(const Config& config, const std::string& source, bool require_graph) {
  if (auto problem = FirstProblem(config, require_graph)) {
    return Status::InvalidArgument(source + ": " + OneLine(problem->message));
  }
  return Status::Ok();
}

Result<Config> LoadConfigFile(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string dir = std::filesystem::absolute(path).parent_path().string();
  return ParseConfig(text.str(), path, dir, env);
}

std::string SharePointCredentialProblem(const Config& config) {
  if (config.sharepoint.empty() || !config.graph.certificate.empty()) return "";
  return "SharePoint lists need a certificate credential: SharePoint Online refuses app-only "
         "tokens obtained with a client secret (\"Unsupported app only token.\"); run "
         "graphmirror keygen --app, upload the certificate to the app registration and set "
         "graph.certificate and graph.private_key";
}

std::optional<EventHubUrl> ParseEventHubUrl(std::string_view url) {
  constexpr std::string_view kPrefix = "EventHub:https://";
  if (url.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (std::any_of(url.begin(), url.end(), [](char ch) {
        return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f || ch == '#';
      })) {
    return std::nullopt;
  }
  std::string_view rest = url.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  const size_t question = rest.find('?');
  if (slash == std::string_view::npos || question == std::string_view::npos || question < slash) {
    return std::nullopt;
  }
  EventHubUrl out;
  out.host = std::string(rest.substr(0, slash));
  if (out.host.empty() || out.host.find('@') != std::string::npos) return std::nullopt;
  const std::string_view path = rest.substr(slash, question - slash);
  auto last_segment = [&](std::string_view prefix) -> std::optional<std::string> {
    if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view name = path.substr(prefix.size());
    if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
    return std::string(name);
  };
  if (auto hub = last_segment("/eventhubname/")) {
    out.hub = *hub;
  } else if (auto secret = last_segment("/secrets/")) {
    out.secret = *secret;
  } else {
    return std::nullopt;
  }
  std::string_view query = rest.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.substr(0, 9) == "tenantId=") out.tenant = std::string(param.substr(9));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  if (out.tenant.empty()) return std::nullopt;
  return out;
}

DeliveryUrls SubscriptionUrls(const Config& config) {
  if (config.kafka && !config.kafka->event_hub_url.empty()) {
    // "The lifecycleNotificationUrl endpoint can be the same as the notificationUrl"
    // (lifecycle notifications): lifecycle events reach the same hub.
    return {config.kafka->event_hub_url, config.kafka->event_hub_url};
  }
  const WebhookSettings& w = config.webhook;
  return {w.notification_url, w.lifecycle_url.empty() ? w.notification_url : w.lifecycle_url};
}

}  // namespace graphmirror::config
