// Routing keys of the partitioned mode: the key of a mailbox, clientStates that carry it,
// partitions, and collections split by key for the router; with the [kafka] settings of
// the mode.

#include "engine/notify/routing.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "engine/config/config.h"
#include "engine/notify/notification.h"
#include "engine/notify/subscription_table.h"
#include "graphmirror/partitioned.h"

namespace graphmirror::notify {
namespace {

TEST_CASE("RoutingKey: 16 hex digits of SHA-256 of the lower-cased mailbox", "[notify][routing]") {
  // printf %s alice@contoso.com | sha256sum: 7c33b2e6eb981348...
  CHECK(RoutingKey("alice@contoso.com") == "7c33b2e6eb981348");
  CHECK(RoutingKey("Alice@Contoso.COM") == "7c33b2e6eb981348");
  CHECK(RoutingKey("0F1E2D3C-AAAA-BBBB-CCCC-000000000001") == "d121aa3b2983c315");
  CHECK(RoutingKey("bob@contoso.com") != RoutingKey("alice@contoso.com"));
  CHECK(graphmirror::MailboxRoutingKey("alice@contoso.com") == "7c33b2e6eb981348");
}

TEST_CASE("PartitionOf: the key's value modulo the partitions, stable", "[notify][routing]") {
  CHECK(PartitionOf("7c33b2e6eb981348", 6) == 2);
  CHECK(PartitionOf("7c33b2e6eb981348", 32) == 8);
  CHECK(PartitionOf("d121aa3b2983c315", 6) == 1);
  CHECK(PartitionOf("7c33b2e6eb981348", 1) == 0);
  CHECK(graphmirror::MailboxPartition("alice@contoso.com", 6) == 2);
  // Spread: 600 mailboxes over 6 partitions, none empty, none with more than twice its share.
  int counts[6] = {};
  for (int i = 0; i < 600; ++i) ++counts[PartitionOf(RoutingKey("user" + std::to_string(i)), 6)];
  for (int c : counts) {
    CHECK(c > 0);
    CHECK(c < 200);
  }
}

TEST_CASE("RoutedClientState carries the key; RoutingKeyOf finds it or nothing",
          "[notify][routing]") {
  const std::string key = RoutingKey("alice@contoso.com");
  const std::string a = RoutedClientState(key);
  const std::string b = RoutedClientState(key);
  CHECK(a != b);  // the rest is random
  CHECK(a.size() == 16 + 1 + 43);
  CHECK(a.size() <= 128);  // Graph's limit
  CHECK(a.rfind(key + ".", 0) == 0);
  CHECK(RoutingKeyOf(a) == key);
  CHECK(RoutingKeyOf("NA").empty());  // Event Hubs' validation message
  CHECK(RoutingKeyOf("").empty());
  CHECK(RoutingKeyOf(NewClientState()).empty());      // an unpartitioned daemon's
  CHECK(RoutingKeyOf("7C33B2E6EB981348.x").empty());  // upper case is not ours
  CHECK(RoutingKeyOf("7c33b2e6eb98134.xx").empty());  // 15 digits
  CHECK(RoutingKeyOf("7c33b2e6eb981348").empty());    // no separator
  CHECK(RoutingKeyOf("7c33b2e6eb981348-abc").empty());
  CHECK(RoutingKeyOf("7c33b2e6eb98134g.abc").empty());
  CHECK(RoutingKeyOf("7c33b2e6eb981348.") == "");  // nothing after it: not a secret
}

TEST_CASE("SplitByRoutingKey: one body per key, items as received, tokens kept",
          "[notify][routing]") {
  const std::string ka = RoutingKey("a@x.com");
  const std::string kb = RoutingKey("b@x.com");
  const std::string item_a1 = R"({"subscriptionId":"s1","clientState":")" + ka +
                              R"(.sec1","changeType":"created","resource":"Users/a/Messages/1",)"
                              R"("resourceData":{"id":"1","@odata.etag":"W/\"1\""}})";
  const std::string item_b = R"({ "subscriptionId" : "s2", "clientState":")" + kb +
                             R"(.sec2", "changeType":"updated", "resource":"Users/b/Messages/2" })";
  const std::string item_a2 = R"({"subscriptionId":"s3","clientState":")" + ka +
                              R"(.sec3","lifecycleEvent":"missed","resource":"subscriptions/s3"})";
  const std::string na =
      R"({"subscriptionId":"NA","clientState":"NA","changeType":"Validation: x",)"
      R"("resource":"NA","resourceData":{"id":"NA"}})";
  const std::string body = "{\"value\":[" + item_a1 + ",\n  " + item_b + " , " + na + "," +
                           item_a2 + "],\"validationTokens\":[\"t1\",\"t2\"]}";
  auto split = SplitByRoutingKey(body);
  REQUIRE(split.ok());
  CHECK(split->items == 4);
  CHECK(split->unrouted == 1);
  REQUIRE(split->bodies.size() == 2);
  CHECK(split->bodies.at(ka) ==
        "{\"value\":[" + item_a1 + "," + item_a2 + "],\"validationTokens\":[\"t1\",\"t2\"]}");
  CHECK(split->bodies.at(kb) ==
        "{\"value\":[" + item_b + "],\"validationTokens\":[\"t1\",\"t2\"]}");
  // Each part is a collection the receiver reads as the items it holds.
  auto parsed = ParseNotificationBody(split->bodies.at(ka));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->items.size() == 2);
  CHECK(parsed->items[0].resource_id == "1");
  CHECK(parsed->items[0].etag == "W/\"1\"");
  CHECK(parsed->items[1].lifecycle_event == "missed");
  CHECK(parsed->validation_tokens == std::vector<std::string>{"t1", "t2"});

  // Without tokens, none are added; Outlook REST v2.0's ClientState is read too.
  auto v2 = SplitByRoutingKey(R"({"value":[{"SubscriptionId":"s","ClientState":")" + ka +
                              R"(.z","ChangeType":"Created"}]})");
  REQUIRE(v2.ok());
  REQUIRE(v2->bodies.count(ka) == 1);
  CHECK(v2->bodies.at(ka).find("validationTokens") == std::string::npos);

  // Only the validation message: nothing to route.
  auto only_na = SplitByRoutingKey("{\"value\":[" + na + "]}");
  REQUIRE(only_na.ok());
  CHECK(only_na->bodies.empty());
  CHECK(only_na->unrouted == 1);
}

TEST_CASE("SplitByRoutingKey refuses what is not a collection", "[notify][routing]") {
  for (const std::string bad :
       {"", "not json", "[]", "{}", R"({"value":{}})", R"({"value":[1]})",
        R"({"value":[{"clientState":5}]})", R"({"value":[]} trailing)", R"({"value":[{"a":]})"}) {
    INFO(bad);
    auto split = SplitByRoutingKey(bad);
    CHECK_FALSE(split.ok());
    if (!split.ok()) CHECK(split.status().code() == Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace graphmirror::notify

namespace graphmirror::config {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

const std::string kBase = R"(
[graph]
base_url = "https://graph.microsoft.com/v1.0/"
token_url = "https://login.microsoftonline.com/T/oauth2/v2.0/token"
client_id = "app"
client_secret = "s3cret"
[[mailbox]]
user = "alice@contoso.com"
[[mailbox]]
user = "bob@contoso.com"
[kafka]
brokers = "127.0.0.1:9092"
topic = "hub"
security = "plaintext"
)";

TEST_CASE("[kafka] mode = partitioned: partitions and shard_directory", "[config][routing]") {
  auto c =
      ParseConfig(kBase + "mode = \"partitioned\"\npartitions = 6\nshard_directory = \"shards\"\n",
                  "g.toml", "/srv/gm", NoEnv);
  REQUIRE(c.ok());
  CHECK(c->kafka->mode == "partitioned");
  CHECK(c->kafka->partitions == 6);
  CHECK(c->kafka->shard_directory == "/srv/gm/shards");
  CHECK(c->kafka->shard == -1);

  // A shard's config: its file, its mailboxes, its partition.
  const Config shard = graphmirror::ShardConfig(*c, 2);
  CHECK(shard.database == "/srv/gm/shards/mirror-p2.db");
  REQUIRE(shard.mailboxes.size() == 1);  // alice's key falls in partition 2 of 6
  CHECK(shard.mailboxes[0].user == "alice@contoso.com");
  CHECK(shard.kafka->shard == 2);
  size_t total = 0;
  for (int n = 0; n < 6; ++n) total += graphmirror::ShardConfig(*c, n).mailboxes.size();
  CHECK(total == 2);

  auto single = ParseConfig(kBase, "g.toml", "", NoEnv);
  REQUIRE(single.ok());
  CHECK(single->kafka->mode == "single");
}

TEST_CASE("[kafka] partitioned mode refuses what it cannot run, in one line", "[config][routing]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mode = \"sharded\"\n", "'kafka.mode' must be \"single\" or \"partitioned\""},
      {"mode = \"partitioned\"\nshard_directory = \"s\"\n", "'kafka.partitions'"},
      {"mode = \"partitioned\"\npartitions = 0\nshard_directory = \"s\"\n", "kafka.partitions"},
      {"mode = \"partitioned\"\npartitions = 2000\nshard_directory = \"s\"\n", "kafka.partitions"},
      {"mode = \"partitioned\"\npartitions = 4\n", "'kafka.shard_directory'"},
      {"partitions = 4\n", "need mode = \"partitioned\""},
      {"shard_directory = \"s\"\n", "need mode = \"partitioned\""},
  };
  for (const auto& [extra, message] : cases) {
    INFO(extra);
    auto c = ParseConfig(kBase + extra, "g.toml", "", NoEnv);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find(message) != std::string::npos);
    CHECK(c.status().message().find('\n') == std::string::npos);
  }
  auto keyed = ParseConfig(std::string(kBase).replace(kBase.find("topic = \"hub\""), 13,
                                                      "topic = \"graphmirror.mailbox-changes\"") +
                               "mode = \"partitioned\"\npartitions = 4\nshard_directory = \"s\"\n",
                           "g.toml", "", NoEnv);
  REQUIRE_FALSE(keyed.ok());
  CHECK(keyed.status().message().find("use another topic") != std::string::npos);
  auto lists = ParseConfig(kBase +
                               "mode = \"partitioned\"\npartitions = 4\nshard_directory = \"s\"\n"
                               "[[sharepoint]]\nsite = \"https://contoso.sharepoint.com/sites/t\"\n"
                               "lists = [\"5c77031a-9621-4dfc-bb5d-57803a94e91d\"]\n",
                           "g.toml", "", NoEnv);
  REQUIRE_FALSE(lists.ok());
  CHECK(lists.status().message().find("[[sharepoint]]") != std::string::npos);
}

TEST_CASE("Routing: only a collection of nothing but its items is merged", "[notify][routing]") {
  using notify::PlainCollectionItems;
  CHECK(PlainCollectionItems(R"({"value":[{"a":1},{"b":[2]}]})") == R"({"a":1},{"b":[2]})");
  CHECK(PlainCollectionItems(R"( { "value" : [ {"a":1} ] } )") == R"({"a":1})");
  CHECK(PlainCollectionItems(R"({"value":[]})") == "");
  CHECK(PlainCollectionItems(R"({"value":[ ]})") == "");
  // Members of its own (validation tokens vouch for its items), or not a collection.
  CHECK_FALSE(PlainCollectionItems(R"({"value":[{"a":1}],"validationTokens":["t"]})"));
  CHECK_FALSE(PlainCollectionItems(R"({"validationTokens":["t"],"value":[{"a":1}]})"));
  CHECK_FALSE(PlainCollectionItems(R"({"value":[{"a":1}],"x":null})"));
  CHECK_FALSE(PlainCollectionItems(R"({"value":{"a":1}})"));
  CHECK_FALSE(PlainCollectionItems(R"({"value":[{"a":1}]} trailing)"));
  CHECK_FALSE(PlainCollectionItems("not json"));
  CHECK_FALSE(PlainCollectionItems(R"({"value":[{"a":1}])"));
}

}  // namespace
}  // namespace graphmirror::config
