// `graphmirror run` reading Graph's notification collections from a Kafka topic
// (librdkafka's mock cluster in this process) against graphsim on the real clock:
// collections produced to the topic are logged and applied to the mirror; a wrong
// clientState, a record that is not JSON and Event Hubs' validation messages are counted
// and skipped, and the group's offsets still reach the end of the topic; a daemon killed
// with SIGKILL while graphsim's notifications stream into the topic (through a bridge
// that acknowledges a delivery only once the brokers hold it, as Graph's delivery to an
// event hub does) loses none of them; a broker going down and up loses nothing either.

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "engine/kafka/kafka_client.h"
#include "tests/integration/cli_run.h"
#include "tests/integration/daemon_process.h"
#include "tests/kafka/kafka_fixture.h"
#include "tests/support/free_port.h"
#include "tests/support/mirror_compare.h"
#include "tests/support/process.h"

namespace graphmirror::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopic = "graph-hub";

// The daemon's config: Graph is `env`; subscriptions name the bridge's URL (graphsim
// delivers there); the daemon reads the topic. Mailboxes are added by the caller.
std::string KafkaDaemonConfig(RealTimeSim& env, int port, const std::string& hook,
                              const std::string& brokers) {
  return "database = \"mirror.db\"\n[graph]\nbase_url = \"" + env.server().base_url() +
         "/v1.0\"\ntoken_url = \"" + env.server().base_url() +
         "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\n"
         "client_secret = \"graphsim-secret\"\n[sync]\npage_size = 100\n"
         "[webhook]\nlisten = \"127.0.0.1:" +
         std::to_string(port) + "\"\nnotification_url = \"" + hook + "\"\n[kafka]\nbrokers = \"" +
         brokers + "\"\ntopic = \"" + kTopic +
         "\"\nsecurity = \"plaintext\"\nsession_timeout_seconds = 6\n";
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

bool WaitForInitialSync(const std::string& log, size_t before) {
  return WaitForLine(log, "initial sync done", before, 60s);
}

// A sample of the daemon's /metrics ("name{labels}" as written), or -1 if absent.
double Metric(int port, const std::string& sample) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  std::istringstream lines(res->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

// True once the group has committed every partition of the topic to its end.
bool CommittedToEnd(const std::string& brokers) {
  KafkaSettings settings;
  settings.brokers = brokers;
  settings.topic = kTopic;
  settings.security = "plaintext";
  auto offsets = kafka::GroupOffsets(settings, 5s);
  if (!offsets.ok() || offsets->empty()) return false;
  for (const auto& p : *offsets) {
    if (p.end < 0 || p.committed != p.end) return false;
  }
  return true;
}

// A changeNotificationCollection as Graph posts it (and writes it to an event hub).
std::string NotificationBody(const std::string& notification_id,
                             const graphsim::SubscriptionView& sub, const std::string& client_state,
                             const std::string& user, const std::string& item) {
  const std::string resource = "Users/" + user + "/Messages/" + item;
  return "{\"value\":[{\"id\":\"" + notification_id + "\",\"subscriptionId\":\"" + sub.id +
         "\",\"subscriptionExpirationDateTime\":\"2030-01-01T00:00:00.0000000Z\","
         "\"clientState\":\"" +
         client_state + "\",\"changeType\":\"created\",\"resource\":\"" + resource +
         "\",\"resourceData\":{\"@odata.type\":\"#Microsoft.Graph.Message\",\"@odata.id\":\"" +
         resource + "\",\"id\":\"" + item + "\"}}]}";
}

bool InMirror(const std::string& db, const std::string& item) {
  return Query(db, "SELECT count(*) FROM messages WHERE id = '" + item + "'") == 1;
}

TEST_CASE("Collections produced to the topic are logged and applied; bad ones are skipped",
          "[kafka][daemon]") {
  graphsim::Options o;
  o.seed = 11;
  o.users = 1;
  o.messages = 5;
  o.events = 0;
  o.contacts = 0;
  RealTimeSim env(o);
  graphsim::Simulator& sim = env.sim();
  MockKafka cluster;
  cluster.CreateTopic(kTopic, 2);
  HubBridge bridge(cluster.brokers(), kTopic);
  // graphsim's own deliveries end at the bridge: only what this test produces reaches the
  // daemon, so an item in the mirror came through the topic.
  bridge.forward(false);
  Producer& producer = bridge.producer();

  TempDir dir;
  const int port = FreePort();
  const std::string config = dir.Path("graphmirror.toml");
  const std::string user = sim.UserIds().at(0);
  {
    std::ofstream out(config);
    out << KafkaDaemonConfig(env, port, bridge.url("/notify"), cluster.brokers())
        << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\"]\n";
  }
  const std::string db = dir.Path("mirror.db");
  const std::string log = dir.Path("daemon.log");
  INFO("daemon log " << log);
  pid_t pid = SpawnDaemon(config, log);
  REQUIRE(WaitForInitialSync(log, 0));
  CHECK(CountInFile(log, "reading notifications from kafka topic graph-hub") == 1);
  const auto subs = sim.Subscriptions();
  REQUIRE(subs.size() == 1);
  const graphsim::SubscriptionView& sub = subs[0];
  // The group gave the daemon the topic's partitions (a first join waits 3 s).
  REQUIRE(WaitForLine(log, "kafka: assigned graph-hub partitions", 0, 30s));
  auto logged = [&](const std::string& id) {
    return Query(db, "SELECT count(*) FROM notification_log WHERE notification_id = '" + id + "'");
  };

  // A new message, told through the topic only. (Notifications are hints: any later round
  // may read it too, but the log row says the record was read and taken.)
  const std::string item = sim.CreateItem(user, "messages", "{\"subject\":\"through the hub\"}");
  REQUIRE(producer.Produce(kTopic, NotificationBody("hub-1", sub, sub.client_state, user, item)) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(WaitFor([&] { return logged("hub-1") == 1; }, 30s));
  REQUIRE(WaitFor([&] { return InMirror(db, item); }, 30s));

  // The same record again (a redelivery after a crash): the log collapses it.
  REQUIRE(producer.Produce(kTopic, NotificationBody("hub-1", sub, sub.client_state, user, item)) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);

  // A forger's collection (wrong clientState), a record that is not JSON at all, and the
  // validation message Graph writes to a hub when it creates a subscription: each is
  // counted and skipped, and none holds the partition back.
  const std::string forged = sim.CreateItem(user, "messages", "{\"subject\":\"forged\"}");
  REQUIRE(producer.Produce(kTopic, NotificationBody("hub-2", sub, "not-the-secret", user,
                                                    forged)) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(producer.Produce(kTopic, "this is not a notification collection") ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(
      producer.Produce(
          kTopic,
          R"({"value":[{"subscriptionId":"NA","subscriptionExpirationDateTime":"NA",)"
          R"("clientState":"NA","changeType":"Validation: Testing client application )"
          R"(reachability for subscription Request-Id: 522a8e7e-096a-494c-aaf1-ac0dcfca45b7",)"
          R"("resource":"NA","resourceData":{"@odata.type":"NA","@odata.id":"NA","id":"NA"}}]})") ==
      RD_KAFKA_RESP_ERR_NO_ERROR);
  // And after them a good one, which must still arrive.
  const std::string later = sim.CreateItem(user, "messages", "{\"subject\":\"after the bad\"}");
  REQUIRE(producer.Produce(kTopic, NotificationBody("hub-3", sub, sub.client_state, user, later)) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(WaitFor([&] { return logged("hub-3") == 1 && InMirror(db, later); }, 30s));
  REQUIRE(WaitFor([&] { return CommittedToEnd(cluster.brokers()); }, 30s));

  CHECK(Metric(port, "graphmirror_notifications_rejected_total{reason=\"bad_client_state\"}") == 1);
  CHECK(Metric(port, "graphmirror_event_hub_validations_total") == 1);
  // Six records: five taken (the forged one and the validation message are taken and
  // refused item by item, as the webhook answers them), one skipped. A record the log could
  // not take in time on a loaded machine is read again: counted as retried.
  const double retried =
      Metric(port, "graphmirror_kafka_records_handled_total{outcome=\"retried\"}");
  CHECK(Metric(port, "graphmirror_kafka_records_total") == 6 + retried);
  CHECK(Metric(port, "graphmirror_kafka_records_handled_total{outcome=\"accepted\"}") == 5);
  CHECK(Metric(port, "graphmirror_kafka_records_handled_total{outcome=\"rejected\"}") == 1);
  CHECK(Metric(port, "graphmirror_kafka_commit_errors_total") == 0);
  CHECK(Metric(port, "graphmirror_kafka_commits_total") >= 1);
  CHECK(logged("hub-1") == 1);
  CHECK(logged("hub-2") == 0);  // the forged item (its message may come in with any round)
  CHECK(logged("hub-3") == 1);
  CHECK(CountInFile(log, "refused (HTTP 400): skipped") == 1);

  // `graphmirror status` asks the brokers how far the group has read.
  const Run status = RunCli("status --config " + config);
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("kafka topic graph-hub on " + cluster.brokers() +
                           ", group graphmirror") != std::string::npos);
  CHECK(status.output.find("brokers not reachable") == std::string::npos);

  // The broker goes down and comes back: the daemon counts the errors, and a collection
  // written once the broker is back is applied.
  cluster.SetDown(1);
  CHECK(WaitFor([&] { return Metric(port, "graphmirror_kafka_errors_total") > 0; }, 30s));
  const std::string during = sim.CreateItem(user, "messages", "{\"subject\":\"broker down\"}");
  std::thread produce([&] {
    Producer slow(cluster.brokers(), 60s);
    CHECK(slow.Produce(kTopic, NotificationBody("hub-4", sub, sub.client_state, user, during)) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
  });
  std::this_thread::sleep_for(2s);
  CHECK(logged("hub-4") == 0);
  cluster.SetUp(1);
  produce.join();
  CHECK(WaitFor([&] { return logged("hub-4") == 1 && InMirror(db, during); }, 60s));
  CHECK(WaitFor([&] { return CommittedToEnd(cluster.brokers()); }, 30s));

  ::kill(pid, SIGTERM);
  CHECK(WaitExit(pid) == 0);
}

TEST_CASE("With only an event hub URL the daemon runs without a webhook", "[kafka][daemon]") {
  graphsim::Options o;
  o.seed = 13;
  o.users = 1;
  o.messages = 3;
  o.events = 0;
  o.contacts = 0;
  RealTimeSim env(o);
  MockKafka cluster;
  cluster.CreateTopic("graph-hub", 1);
  TempDir dir;
  const int port = FreePort();
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << "database = \"mirror.db\"\n[graph]\nbase_url = \"" << env.server().base_url()
        << "/v1.0\"\ntoken_url = \"" << env.server().base_url()
        << "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\n"
        << "client_secret = \"graphsim-secret\"\n[webhook]\nlisten = \"127.0.0.1:" << port
        << "\"\n[kafka]\nbrokers = \"" << cluster.brokers() << "\"\nsecurity = \"plaintext\"\n"
        << "event_hub_url = \"EventHub:https://ns.servicebus.windows.net/eventhubname/"
           "graph-hub?tenantId=contoso.com\"\nsession_timeout_seconds = 6\n"
        << "[[mailbox]]\nuser = \"" << env.sim().UserIds().at(0) << "\"\n"
        << "resources = [\"messages\"]\n";
  }
  const std::string log = dir.Path("daemon.log");
  INFO("daemon log " << log);
  pid_t pid = SpawnDaemon(config, log);
  REQUIRE(WaitForInitialSync(log, 0));
  CHECK(CountInFile(log, "notifications through EventHub:https://ns.servicebus.windows.net/") == 1);
  CHECK(CountInFile(log, "reading notifications from kafka topic graph-hub") == 1);
  // /healthz and /metrics keep the webhook's address; nothing else is served there.
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(Metric(port, "graphmirror_kafka_errors_total") >= 0);
  auto post = client.Post("/notify", "{}", "application/json");
  CHECK((!post || post->status != 202));
  ::kill(pid, SIGTERM);
  CHECK(WaitExit(pid) == 0);
}

TEST_CASE("The daemon killed while notifications stream through the topic loses none",
          "[kafka][daemon][crash]") {
  graphsim::Options o;
  o.seed = 12;
  o.users = 2;
  o.messages = 20;
  o.events = 0;
  o.contacts = 5;
  o.delivery_retry_initial = std::chrono::milliseconds(50);
  o.delivery_retry_cap = std::chrono::milliseconds(500);
  o.delivery_timeout = std::chrono::milliseconds(5000);
  RealTimeSim env(o);
  graphsim::Simulator& sim = env.sim();
  MockKafka cluster;
  cluster.CreateTopic(kTopic, 2);
  HubBridge bridge(cluster.brokers(), kTopic);

  TempDir dir;
  const int port = FreePort();
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << KafkaDaemonConfig(env, port, bridge.url("/notify"), cluster.brokers());
    for (const std::string& user : sim.UserIds()) {
      out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\", \"contacts\"]\n";
    }
  }
  const std::string db = dir.Path("mirror.db");
  const std::string log = dir.Path("daemon.log");
  const uint64_t seed = std::random_device{}();
  INFO("seed " << seed << "; daemon log " << log);
  std::mt19937_64 rng(seed);

  // A first start makes the subscriptions; then it is killed.
  {
    pid_t first = SpawnDaemon(config, log);
    REQUIRE(WaitForInitialSync(log, 0));
    REQUIRE(sim.Subscriptions().size() == 4);
    ::kill(first, SIGKILL);
    REQUIRE(WaitExit(first) == 128 + SIGKILL);
  }

  // Creates, updates and deletes all the time, daemon dead or alive: graphsim delivers
  // them to the bridge, which writes them to the topic.
  std::atomic<bool> streaming{true};
  std::thread stream([&, stream_seed = rng()] {
    std::mt19937_64 r(stream_seed);
    const auto users = sim.UserIds();
    int n = 0;
    while (streaming) {
      const std::string& user = users[r() % users.size()];
      const char* collection = r() % 2 ? "messages" : "contacts";
      auto ids = sim.ItemIds(user, collection);
      switch (r() % 4) {
        case 0:
        case 1:
          sim.CreateItem(user, collection,
                         "{\"subject\":\"s-" + std::to_string(n) + "\",\"displayName\":\"n-" +
                             std::to_string(n) + "\"}");
          break;
        case 2:
          if (!ids.empty())
            sim.UpdateItem(user, collection, ids[r() % ids.size()], "{\"subject\":\"u\"}");
          break;
        case 3:
          if (ids.size() > 5) sim.DeleteItem(user, collection, ids[r() % ids.size()]);
          break;
      }
      ++n;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  // Killed mid-stream: some kills while records are read and logged, some during start-up.
  constexpr int kKills = 3;
  for (int kill = 0; kill < kKills; ++kill) {
    const size_t before = CountInFile(log, "kafka: assigned");
    pid_t pid = SpawnDaemon(config, log);
    if (kill % 2 == 0) {
      // Once it reads the topic (the group gave it partitions), a moment later.
      WaitForLine(log, "kafka: assigned", before, 45s);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    }
    ::kill(pid, SIGKILL);
    REQUIRE(WaitExit(pid) == 128 + SIGKILL);
  }
  streaming = false;
  stream.join();

  // The last run reads what the topic still holds, then stops on SIGTERM.
  const size_t started_before = CountInFile(log, "initial sync done");
  pid_t pid = SpawnDaemon(config, log);
  REQUIRE(WaitForInitialSync(log, started_before));
  REQUIRE(WaitFor([&] { return sim.Deliveries().pending_items == 0; }, 60s));
  REQUIRE(WaitFor([&] { return CommittedToEnd(cluster.brokers()); }, 90s));
  REQUIRE(WaitFor(
      [&] {
        return Query(db,
                     "SELECT count(*) FROM notification_log WHERE state IN ('received', "
                     "'failed')") == 0;
      },
      60s));
  ::kill(pid, SIGTERM);
  REQUIRE(WaitExit(pid) == 0);

  SQLite::Database mirror(db);
  CHECK(mirror.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(mirror.execAndGet("SELECT count(*) FROM subscriptions").getInt64() == 4);
  // Every notification graphsim got a 2xx for (the bridge answers it once the brokers
  // hold the record) is in the log, read from the topic by one run or another.
  const AckedVersusLog acked = CompareAckedWithLog(sim, mirror, /*stored_subscriptions_only=*/true);
  CHECK(acked.acked > 50);
  CHECK(acked.missing == 0);
  CHECK(sim.Deliveries().dropped_items == 0);
  CHECK(bridge.forwarded() > 0);

  SystemClock clock;
  auto store = store::Store::Open(db, &clock);
  REQUIRE(store.ok());
  const std::vector<std::string> users = sim.UserIds();
  const std::vector<convergence::Mismatch> mismatches =
      convergence::CompareMirror(sim, **store, db, users, std::set<std::string>(),
                                 {Collection::kMessages, Collection::kContacts});
  INFO(convergence::Describe(mismatches));
  CHECK(mismatches.empty());
}

}  // namespace
}  // namespace graphmirror::test
