// graphsim's Azure Event Hubs delivery ("Receive change notifications through Azure Event
// Hubs"): subscriptions whose notificationUrl or lifecycleNotificationUrl is an `EventHub:`
// URL get a validation message in the hub instead of a handshake, and each notification
// collection as one Kafka record on the hub's topic, read here from librdkafka's mock
// cluster; URLs of the wrong form are refused as Graph refuses them; a record the cluster
// does not take is a failed delivery, retried as a POST is. Last, the graphsim binary with
// --kafka-brokers, over loopback.

#include <openssl/crypto.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/graphsim/graphsim_test_util.h"
#include "tests/graphsim/graphsim_webhook.h"
#include "tests/graphsim/kafka_mock.h"
#include "tests/graphsim/test_certificate.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace graphsim_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using OrderedJson = nlohmann::ordered_json;

constexpr char kValidationPrefix[] =
    "Validation: Testing client application reachability for subscription Request-Id: ";

// The documented role-based access control form.
std::string HubUrl(const std::string& hub, const std::string& ns = "contoso-events") {
  return "EventHub:https://" + ns + ".servicebus.windows.net/eventhubname/" + hub +
         "?tenantId=graphsim.onmicrosoft.com";
}

graphsim::Options HubOptions(const KafkaMock& kafka) {
  graphsim::Options options = SmallOptions();
  options.kafka_brokers = kafka.bootstraps();
  // The first write also connects to the cluster and reads its metadata.
  options.validation_timeout = milliseconds(5000);
  options.delivery_timeout = milliseconds(5000);
  return options;
}

Json SubscriptionBody(SimFixture& f, const std::string& url, const std::string& resource,
                      const std::string& change_type = "created,updated,deleted",
                      Json extra = Json::object()) {
  Json body{{"changeType", change_type},
            {"notificationUrl", url},
            {"resource", resource},
            {"expirationDateTime", IsoTime(f.sim().Now() + hours(72))}};
  body.update(extra);
  return body;
}

std::string Subscribe(SimFixture& f, const Json& body) {
  Reply r = f.Post("/v1.0/subscriptions", body);
  INFO(r.raw);
  REQUIRE(r.status == 201);
  return r.body["id"];
}

std::string Messages(SimFixture& f, int user) { return "/users/" + f.user(user) + "/messages"; }

// The one item of a record's notification collection (REQUIREs exactly one).
Json OnlyItem(const KafkaRecord& record) {
  INFO(record.value);
  Json body = Json::parse(record.value, nullptr, /*allow_exceptions=*/false);
  REQUIRE(body.is_object());
  REQUIRE(body["value"].size() == 1);
  return body["value"][0];
}

// The validation message of "Handling validation notifications", whole.
void CheckValidationMessage(const KafkaRecord& record) {
  INFO(record.value);
  Json body = Json::parse(record.value);
  CHECK(body.size() == 1);  // {"value":[...]} and nothing else
  Json item = OnlyItem(record);
  CHECK(item.size() == 6);
  CHECK(item["subscriptionId"] == "NA");
  CHECK(item["subscriptionExpirationDateTime"] == "NA");
  CHECK(item["clientState"] == "NA");
  CHECK(item["changeType"].get<std::string>().rfind(kValidationPrefix, 0) == 0);
  CHECK(item["resource"] == "NA");
  CHECK(item["resourceData"] == Json{{"@odata.type", "NA"}, {"@odata.id", "NA"}, {"id", "NA"}});
  CHECK_FALSE(record.has_key);
  CHECK(record.headers == 0);
}

// A POST body or record value with each item's notification and subscription ids blanked:
// the rest must match byte for byte, field order included.
std::string WithoutIds(const std::string& raw) {
  OrderedJson body = OrderedJson::parse(raw);
  for (auto& item : body["value"]) {
    item["id"] = "-";
    item["subscriptionId"] = "-";
  }
  return body.dump();
}

TEST_CASE("event hubs: a hub gets a validation message, then each collection as one record",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("graphmirror");
  SimFixture f(HubOptions(kafka));
  TopicReader reader(kafka.bootstraps(), "graphmirror");
  Webhook hook;
  const std::string uid = f.user(0);
  const std::string url = HubUrl("graphmirror");

  // The same messages through a webhook: the body a POST carries, for comparison.
  std::string webhook_sub = Subscribe(
      f,
      SubscriptionBody(f, hook.url(), Messages(f, 0), "created,updated", {{"clientState", "s3"}}));
  REQUIRE(hook.validations().size() == 1);

  Reply created =
      f.Post("/v1.0/subscriptions",
             SubscriptionBody(f, url, Messages(f, 0), "created,updated,deleted",
                              {{"lifecycleNotificationUrl", url}, {"clientState", "s3"}}));
  INFO(created.raw);
  REQUIRE(created.status == 201);
  const std::string sub = created.body["id"];
  CHECK(created.body["notificationUrl"] == url);  // echoed as given
  CHECK(created.body["lifecycleNotificationUrl"] == url);
  CHECK(hook.validations().size() == 1);  // nothing but the hub was asked

  // One validation message per URL, both in the hub; nobody answers them.
  const std::vector<KafkaRecord>& validations = reader.WaitFor(2);
  REQUIRE(validations.size() == 2);
  CheckValidationMessage(validations[0]);
  CheckValidationMessage(validations[1]);
  CHECK(OnlyItem(validations[0])["changeType"] != OnlyItem(validations[1])["changeType"]);

  const std::string id = f.sim().CreateItem(uid, "messages", R"({"subject":"hello"})");
  REQUIRE_FALSE(id.empty());
  CHECK(f.sim().PumpDeliveries() == 2);  // one POST, one record
  const std::vector<KafkaRecord>& records = reader.WaitFor(3);
  REQUIRE(records.size() == 3);
  Json item = OnlyItem(records[2]);
  CHECK(item["subscriptionId"] == sub);
  CHECK(item["changeType"] == "created");
  CHECK(item["clientState"] == "s3");
  CHECK(item["tenantId"] == f.sim().TenantId());
  CHECK(item["resourceData"]["id"] == id);
  CHECK_FALSE(records[2].has_key);
  REQUIRE(hook.notifications().size() == 1);
  CHECK(WithoutIds(records[2].value) == WithoutIds(hook.notifications()[0].body));

  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.attempts == 2);
  CHECK(stats.delivered_items == 2);
  CHECK(stats.failed_attempts == 0);
  CHECK(stats.pending_items == 0);
  CHECK(stats.hub_records == 1);
  bool acked = false;
  for (const graphsim::AckedNotification& a : f.sim().AckedNotifications()) {
    if (a.subscription_id != sub) continue;
    acked = true;
    CHECK(a.url == url);
    CHECK(a.id == item["id"]);
  }
  CHECK(acked);
  Reply deliveries = SimFixture::ToReply(f.client().Get("/_sim/deliveries"));
  CHECK(deliveries.body["hub_records"] == 1);

  // Several changes in one pump: one record holding them all, in order.
  REQUIRE(f.sim().UpdateItem(uid, "messages", id, R"({"subject":"changed"})"));
  REQUIRE(f.sim().DeleteItem(uid, "messages", id));
  CHECK(f.sim().PumpDeliveries() == 2);
  REQUIRE(reader.WaitFor(4).size() == 4);
  Json both = Json::parse(reader.WaitFor(4)[3].value);
  REQUIRE(both["value"].size() == 2);
  CHECK(both["value"][0]["changeType"] == "updated");
  CHECK(both["value"][1]["changeType"] == "deleted");

  // "Duplicate subscriptions aren't allowed": the same changeType and resource conflict
  // whatever the URL, with the documented message.
  CheckError(
      f.Post("/v1.0/subscriptions", SubscriptionBody(f, HubUrl("other-hub"), Messages(f, 0))), 409,
      "ExtensionError", "Subscription Id " + sub + " already exists for the requested combination");
  CheckError(
      f.Post("/v1.0/subscriptions", SubscriptionBody(f, url, Messages(f, 0), "created,updated")),
      409, "ExtensionError",
      "Subscription Id " + webhook_sub + " already exists for the requested combination");

  // Deleted: nothing more reaches the hub.
  REQUIRE(f.Delete("/v1.0/subscriptions/" + sub).status == 204);
  f.sim().CreateItem(uid, "messages", "{}");
  f.sim().PumpDeliveries();
  CHECK(reader.Drain(milliseconds(300)).size() == 4);
}

TEST_CASE("event hubs: lifecycle notifications go to the lifecycleNotificationUrl's hub",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("changes");
  kafka.CreateTopic("lifecycle");
  SimFixture f(HubOptions(kafka));
  TopicReader changes(kafka.bootstraps(), "changes");
  TopicReader lifecycle(kafka.bootstraps(), "lifecycle");
  const std::string sub = Subscribe(
      f,
      SubscriptionBody(f, HubUrl("changes"), Messages(f, 0), "created",
                       {{"lifecycleNotificationUrl", HubUrl("lifecycle")}, {"clientState", "lc"}}));
  REQUIRE(changes.WaitFor(1).size() == 1);  // each hub its validation message
  REQUIRE(lifecycle.WaitFor(1).size() == 1);
  CheckValidationMessage(changes.WaitFor(1)[0]);
  CheckValidationMessage(lifecycle.WaitFor(1)[0]);

  auto check_event = [&](size_t index, const std::string& event) {
    const std::vector<KafkaRecord>& records = lifecycle.WaitFor(index + 1);
    REQUIRE(records.size() == index + 1);
    Json item = OnlyItem(records[index]);
    INFO(item.dump());
    CHECK(item["lifecycleEvent"] == event);
    CHECK(item["subscriptionId"] == sub);
    CHECK(item["clientState"] == "lc");
    CHECK(item["tenantId"] == f.sim().TenantId());
    CHECK_FALSE(item.contains("resourceData"));
  };
  REQUIRE(f.sim().EmitLifecycle(sub, "missed"));
  CHECK(f.sim().PumpDeliveries() == 1);
  check_event(1, "missed");

  // The expiry comes within the reauthorization window: the next pump sends it.
  f.clock().Advance(hours(72) - minutes(50));
  CHECK(f.sim().PumpDeliveries() == 1);
  check_event(2, "reauthorizationRequired");

  REQUIRE(f.sim().RemoveSubscription(sub));
  CHECK(f.sim().PumpDeliveries() == 1);
  check_event(3, "subscriptionRemoved");
  CHECK(changes.Drain(milliseconds(300)).size() == 1);  // none of them on the other hub
  CHECK(f.sim().Deliveries().hub_records == 3);
}

// Base64 (standard alphabet) of a certificate's DER: an encryptionCertificate.
std::string CertificateBase64(const TestCertificate& certificate) {
  unsigned char* der = nullptr;
  int len = i2d_X509(certificate.cert.get(), &der);
  REQUIRE(len > 0);
  std::string out(static_cast<size_t>(4 * ((len + 2) / 3)) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), der, len);
  OPENSSL_free(der);
  out.resize(static_cast<size_t>(written));
  return out;
}

TEST_CASE("event hubs: rich notifications through a hub carry no validationTokens",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("rich");
  SimFixture f(HubOptions(kafka));
  TopicReader reader(kafka.bootstraps(), "rich");
  TestCertificate certificate;
  const std::string sub =
      Subscribe(f, Json{{"changeType", "created"},
                        {"notificationUrl", HubUrl("rich")},
                        {"resource", Messages(f, 0) + "?$select=subject"},
                        {"expirationDateTime", IsoTime(f.sim().Now() + hours(12))},
                        {"clientState", "rich"},
                        {"includeResourceData", true},
                        {"encryptionCertificate", CertificateBase64(certificate)},
                        {"encryptionCertificateId", "cert-1"}});
  REQUIRE(reader.WaitFor(1).size() == 1);
  f.sim().CreateItem(f.user(0), "messages", R"({"subject":"for the hub"})");
  CHECK(f.sim().PumpDeliveries() == 1);
  const std::vector<KafkaRecord>& records = reader.WaitFor(2);
  REQUIRE(records.size() == 2);
  Json body = Json::parse(records[1].value);
  INFO(records[1].value);
  CHECK_FALSE(body.contains("validationTokens"));
  Json item = OnlyItem(records[1]);
  CHECK(item["subscriptionId"] == sub);
  for (const char* field : {"data", "dataSignature", "dataKey", "encryptionCertificateId",
                            "encryptionCertificateThumbprint"}) {
    CHECK(item["encryptedContent"].contains(field));
  }
  CHECK(f.sim().Deliveries().rich_items == 1);
  CHECK(f.sim().JwksRequests() == 0);
}

TEST_CASE("event hubs: URLs of the wrong form are refused as Graph refuses them",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("graphmirror");
  SimFixture f(HubOptions(kafka));
  TopicReader reader(kafka.bootstraps(), "graphmirror");
  const std::string tenant = "?tenantId=graphsim.onmicrosoft.com";
  const std::string ns = "https://contoso-events.servicebus.windows.net";
  const std::vector<std::string> wrong = {
      "EventHub:" + ns + "/graphmirror" + tenant,                        // no eventhubname segment
      "EventHub:" + ns + "/eventhubname/graphmirror",                    // no tenantId
      "EventHub:" + ns + "/eventhubname/graphmirror?tenantId=",          // an empty one
      "EventHub:" + ns + "/eventhubname/graphmirror" + tenant + "&x=1",  // something else too
      "EventHub:" + ns + "/eventhubname/" + tenant,                      // no hub
      "EventHub:" + ns + "/eventhubname/graph/mirror" + tenant,          // not a hub name
      "EventHub:" + ns + "/eventhubname/-graphmirror" + tenant,          // starts with a hyphen
      "EventHub:" + ns + "/eventhubname/" + std::string(51, 'h') + tenant,  // too long
      "EventHub:http://contoso-events.servicebus.windows.net/eventhubname/graphmirror" + tenant,
      "EventHub:contoso-events.servicebus.windows.net/eventhubname/graphmirror" + tenant,
      "EventHub:https://contoso-events.servicebus.windows.net:9093/eventhubname/graphmirror" +
          tenant,
      "EventHub:https://contoso-events.example.com/eventhubname/graphmirror" + tenant,
      "EventHub:https://ns.servicebus.windows.net/eventhubname/graphmirror" + tenant,  // short
      "EventHub:https://1contoso.servicebus.windows.net/eventhubname/graphmirror" + tenant,
      "EventHub:",
  };
  for (const std::string& url : wrong) {
    INFO(url);
    CheckError(f.Post("/v1.0/subscriptions", SubscriptionBody(f, url, Messages(f, 0))), 400,
               "InvalidRequest", "Invalid event hub notification url='" + url + "'.");
    CheckError(f.Post("/v1.0/subscriptions",
                      SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0), "created",
                                       {{"lifecycleNotificationUrl", url}})),
               400, "InvalidRequest", "Invalid event hub notification url='" + url + "'.");
  }
  // The Key Vault form is documented, but names the hub only through a secret graphsim
  // cannot read.
  CheckError(f.Post("/v1.0/subscriptions",
                    SubscriptionBody(f,
                                     "EventHub:https://kv-graphevents.vault.azure.net/secrets/"
                                     "grapheventsconnectionstring" +
                                         tenant,
                                     Messages(f, 0))),
             501, "NotImplemented");
  CheckError(
      f.Post("/v1.0/subscriptions",
             SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0), "created",
                              {{"blobStoreUrl",
                                "https://kv-graphevents.vault.azure.net/secrets/blob" + tenant}})),
      501, "NotImplemented");
  CHECK(f.Get("/v1.0/subscriptions").body["value"].empty());
  CHECK(reader.Drain(milliseconds(300)).empty());  // the form is checked before publishing

  // A PATCH to a wrong one is refused the same way; to a good one, it validates it.
  const std::string sub =
      Subscribe(f, SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0), "created"));
  REQUIRE(reader.WaitFor(1).size() == 1);
  CheckError(f.Patch("/v1.0/subscriptions/" + sub, Json{{"notificationUrl", wrong[0]}}), 400,
             "InvalidRequest", "Invalid event hub notification url='" + wrong[0] + "'.");
  kafka.CreateTopic("graphmirror-2");
  Reply moved = f.Patch("/v1.0/subscriptions/" + sub,
                        Json{{"notificationUrl", HubUrl("graphmirror-2", "contoso-events-2")}});
  INFO(moved.raw);
  CHECK(moved.status == 200);
  TopicReader second(kafka.bootstraps(), "graphmirror-2");
  REQUIRE(second.WaitFor(1).size() == 1);
  CheckValidationMessage(second.WaitFor(1)[0]);
}

TEST_CASE("event hubs: a hub graphsim cannot write to fails the create", "[graphsim][eventhub]") {
  SECTION("no --kafka-brokers") {
    SimFixture f;
    Reply r =
        f.Post("/v1.0/subscriptions", SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0)));
    INFO(r.raw);
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "InvalidRequest");
    CHECK(r.body["error"]["message"].get<std::string>().rfind(
              "Client EventHubs publishing validation failed", 0) == 0);
    CHECK(f.Get("/v1.0/subscriptions").body["value"].empty());
  }
  SECTION("a cluster nobody listens on") {
    graphsim::Options options = SmallOptions();
    options.kafka_brokers = "127.0.0.1:" + std::to_string(graphmirror::test::FreePort());
    options.validation_timeout = milliseconds(500);
    SimFixture f(options);
    Reply r =
        f.Post("/v1.0/subscriptions", SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0)));
    INFO(r.raw);
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "InvalidRequest");
    CHECK(r.body["error"]["message"].get<std::string>().rfind(
              "Client EventHubs publishing validation failed", 0) == 0);
    CHECK(f.Get("/v1.0/subscriptions").body["value"].empty());
  }
}

TEST_CASE("event hubs: a record the cluster refuses is a failed delivery, retried",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("graphmirror");
  graphsim::Options options = HubOptions(kafka);
  SimFixture f(options);
  TopicReader reader(kafka.bootstraps(), "graphmirror");
  Subscribe(f, SubscriptionBody(f, HubUrl("graphmirror"), Messages(f, 0), "created"));
  REQUIRE(reader.WaitFor(1).size() == 1);

  // The next Produce request is refused, as a broker refuses a record over its size limit
  // (ApiKey 0 is Produce).
  rd_kafka_mock_push_request_errors(kafka.cluster(), 0, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  const std::string id = f.sim().CreateItem(f.user(0), "messages", "{}");
  CHECK(f.sim().PumpDeliveries() == 1);
  graphsim::DeliveryStats stats = f.sim().Deliveries();
  CHECK(stats.failed_attempts == 1);
  CHECK(stats.delivered_items == 0);
  CHECK(stats.pending_items == 1);
  CHECK(stats.hub_records == 0);
  CHECK(f.sim().PumpDeliveries() == 0);  // the retry waits for the clock
  CHECK(reader.Drain(milliseconds(300)).size() == 1);

  f.clock().Advance(options.delivery_retry_initial);
  CHECK(f.sim().PumpDeliveries() == 1);
  stats = f.sim().Deliveries();
  CHECK(stats.failed_attempts == 1);
  CHECK(stats.delivered_items == 1);
  CHECK(stats.pending_items == 0);
  CHECK(stats.hub_records == 1);
  REQUIRE(reader.WaitFor(2).size() == 2);
  Json item = OnlyItem(reader.WaitFor(2)[1]);
  CHECK(item["resourceData"]["id"] == id);
  CHECK(f.sim().AckedNotificationIds() == std::vector<std::string>{item["id"]});
}

// --- the graphsim binary -------------------------------------------------------------------

// The first stdout line of graphsim (its base URL), once it is there.
std::string WaitForBaseUrl(const std::string& log) {
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in(log);
    std::string line;
    if (std::getline(in, line) && line.rfind("http://", 0) == 0 && in.good()) return line;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return "";
}

TEST_CASE("event hubs: the graphsim binary writes to the cluster --kafka-brokers names",
          "[graphsim][eventhub]") {
  KafkaMock kafka;
  kafka.CreateTopic("graphmirror");
  graphmirror::test::TempDir dir;
  const std::string log = dir.Path("graphsim.log");
  pid_t pid =
      graphmirror::test::Spawn({GRAPHSIM_BIN_PATH, "--users", "1", "--messages", "2", "--events",
                                "0", "--contacts", "0", "--kafka-brokers", kafka.bootstraps()},
                               log);
  REQUIRE(pid > 0);
  struct Stop {
    pid_t pid;
    ~Stop() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        graphmirror::test::WaitExit(pid);
      }
    }
  } stop{pid};
  const std::string base = WaitForBaseUrl(log);
  REQUIRE_FALSE(base.empty());
  httplib::Client client(base);
  client.set_read_timeout(15, 0);
  auto token_reply = client.Post("/common/oauth2/v2.0/token",
                                 httplib::Params{{"client_id", "graphsim"},
                                                 {"client_secret", "graphsim-secret"},
                                                 {"scope", "https://graph.microsoft.com/.default"},
                                                 {"grant_type", "client_credentials"}});
  REQUIRE(token_reply);
  const httplib::Headers auth{
      {"Authorization",
       "Bearer " + Json::parse(token_reply->body)["access_token"].get<std::string>()}};
  auto users = client.Get("/_sim/users");
  REQUIRE(users);
  const std::string uid = Json::parse(users->body)["users"][0]["id"];
  TopicReader reader(kafka.bootstraps(), "graphmirror");

  const std::string url = HubUrl("graphmirror");
  Json body{{"changeType", "created"},
            {"notificationUrl", url},
            {"lifecycleNotificationUrl", url},
            {"resource", "/users/" + uid + "/messages"},
            {"expirationDateTime", IsoTime(std::chrono::system_clock::now() + hours(72))},
            {"clientState", "binary"}};
  auto created = client.Post("/v1.0/subscriptions", auth, body.dump(), "application/json");
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  const std::string sub = Json::parse(created->body)["id"];
  REQUIRE(reader.WaitFor(2).size() == 2);

  auto message = client.Post("/v1.0/users/" + uid + "/messages", auth,
                             R"({"subject":"through the hub"})", "application/json");
  REQUIRE(message);
  REQUIRE(message->status == 201);
  const std::string id = Json::parse(message->body)["id"];
  // The delivery thread sends it.
  const std::vector<KafkaRecord>& records = reader.WaitFor(3);
  REQUIRE(records.size() == 3);
  Json item = OnlyItem(records[2]);
  CHECK(item["subscriptionId"] == sub);
  CHECK(item["changeType"] == "created");
  CHECK(item["clientState"] == "binary");
  CHECK(item["resourceData"]["id"] == id);

  auto lifecycle = client.Post("/_sim/subscriptions/" + sub + "/lifecycle", R"({"event":"missed"})",
                               "application/json");
  REQUIRE(lifecycle);
  CHECK(lifecycle->status == 204);
  REQUIRE(reader.WaitFor(4).size() == 4);
  CHECK(OnlyItem(reader.WaitFor(4)[3])["lifecycleEvent"] == "missed");

  auto bad = client.Post(
      "/v1.0/subscriptions", auth,
      Json{{"changeType", "created"},
           {"notificationUrl", "EventHub:https://contoso.example.com/x"},
           {"resource", "/users/" + uid + "/events"},
           {"expirationDateTime", IsoTime(std::chrono::system_clock::now() + hours(72))}}
          .dump(),
      "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(Json::parse(bad->body)["error"]["code"] == "InvalidRequest");

  REQUIRE(::kill(pid, SIGTERM) == 0);
  CHECK(graphmirror::test::WaitExit(pid) == 0);
  stop.pid = -1;
}

TEST_CASE("event hubs: a malformed --kafka-brokers is a usage error", "[graphsim][eventhub]") {
  graphmirror::test::TempDir dir;
  const std::string log = dir.Path("graphsim.log");
  for (const char* brokers : {"nonsense", "127.0.0.1:9092,", "127.0.0.1:0", ":9092"}) {
    INFO(brokers);
    pid_t pid = graphmirror::test::Spawn({GRAPHSIM_BIN_PATH, "--kafka-brokers", brokers}, log);
    CHECK(graphmirror::test::WaitExit(pid) == 2);
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("--kafka-brokers must be host:port") != std::string::npos);
}

}  // namespace
}  // namespace graphsim_test
