// The partitioned mode end to end ([kafka] mode = "partitioned", docs/scale-out.md): the
// graphsim binary with many mailboxes, librdkafka's mock cluster (3 brokers, in this
// process; the daemons connect to its ports), and real `graphmirror run` processes that
// share the shards directory. Graph's collections reach the source topic as they do in
// Azure: graphsim writes them to the event hub (`EventHub:` notification URLs, its
// --kafka-brokers delivery); the full run also takes the other way, a webhook relay in this
// process that writes each collection graphsim POSTs as one record (202 once the cluster
// acknowledged it), as on a Kafka cluster Graph cannot write to. While a stream of creates, updates
// and deletes runs, one daemon is killed with SIGKILL, another added, and a broker taken
// down and brought back. Afterwards: the union of the shards equals graphsim, each
// mailbox lives in exactly one shard (its own), every notification the hub took is in
// its shard's log and applied, and each mailbox has its subscriptions with routed
// clientStates.
//
// CI size by default; GRAPHMIRROR_KAFKA_FULL=1 runs the full size (more mailboxes, a
// longer stream, more kills). The seed is printed; GRAPHMIRROR_KAFKA_SEED replays one.

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/kafka/kafka_fixture.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kHub = "graph-hub";
constexpr const char* kKeyedTopic = "graphmirror.mailbox-changes";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; ++pos) ++n;
  return n;
}

template <typename F>
bool WaitUntil(F&& done, milliseconds timeout, milliseconds step = milliseconds(100)) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

// An item id as a path segment (graphsim's ids are standard base64: '/', '+', '=').
std::string Escape(const std::string& id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// The routing key and shard of a mailbox, computed here from the documented rule (16 hex
// digits of SHA-256 of the lower-cased mailbox; its value modulo the partitions), not by
// the code under test.
std::string ExpectedKey(std::string mailbox) {
  for (char& c : mailbox) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(mailbox.data(), mailbox.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (int i = 0; i < 8; ++i) {
    key += kHex[digest[i] >> 4];
    key += kHex[digest[i] & 0xF];
  }
  return key;
}
int ExpectedShard(const std::string& mailbox, int partitions) {
  return static_cast<int>(std::stoull(ExpectedKey(mailbox), nullptr, 16) %
                          static_cast<uint64_t>(partitions));
}

// The graphsim binary: its base URL and mailboxes from its first lines.
class Graphsim {
 public:
  // `kafka_brokers`: where graphsim writes what Graph writes to event hubs ("": nowhere).
  Graphsim(const std::string& log, int users, uint64_t seed, const std::string& kafka_brokers) {
    std::vector<std::string> args = {GRAPHMIRROR_GRAPHSIM_PATH,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--users",
                                     std::to_string(users),
                                     "--messages",
                                     "4",
                                     "--events",
                                     "0",
                                     "--contacts",
                                     "2",
                                     "--seed",
                                     std::to_string(seed),
                                     "--delivery-retry-initial-ms",
                                     "50",
                                     "--delivery-timeout-ms",
                                     "3000",
                                     "--delivery-concurrency",
                                     "4"};
    if (!kafka_brokers.empty()) {
      args.push_back("--kafka-brokers");
      args.push_back(kafka_brokers);
    }
    pid_ = Spawn(args, log);
    REQUIRE(WaitUntil([&] { return Count(ReadFile(log), "\nuser ") >= static_cast<size_t>(users); },
                      seconds(30), milliseconds(20)));
    std::istringstream lines(ReadFile(log));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("http://", 0) == 0 && base_url_.empty()) base_url_ = line;
      if (line.rfind("user ", 0) == 0) {
        users_.push_back(line.substr(5, line.find(' ', 5) - 5));
      }
    }
    REQUIRE(!base_url_.empty());
    REQUIRE(users_.size() == static_cast<size_t>(users));
    client_ = std::make_unique<httplib::Client>(base_url_);
    client_->set_read_timeout(10, 0);
    httplib::Params form{{"client_id", "graphsim"},
                         {"client_secret", "graphsim-secret"},
                         {"scope", "https://graph.microsoft.com/.default"},
                         {"grant_type", "client_credentials"}};
    auto token = client_->Post("/common/oauth2/v2.0/token", form);
    REQUIRE(token);
    simdjson::dom::parser parser;
    std::string_view access;
    REQUIRE(parser.parse(token->body)["access_token"].get(access) == simdjson::SUCCESS);
    token_ = std::string(access);
  }
  ~Graphsim() {
    ::kill(pid_, SIGTERM);
    WaitExit(pid_);
  }
  const std::string& base_url() const { return base_url_; }
  const std::vector<std::string>& users() const { return users_; }

  // A Graph request with the app's token; the status (0: no answer).
  int Send(const std::string& method, const std::string& path, const std::string& body = "") {
    std::lock_guard<std::mutex> lock(mu_);
    httplib::Headers headers{{"Authorization", "Bearer " + token_}};
    httplib::Result r = method == "POST" ? client_->Post(path, headers, body, "application/json")
                        : method == "PATCH"
                            ? client_->Patch(path, headers, body, "application/json")
                            : client_->Delete(path, headers);
    return r ? r->status : 0;
  }
  // A /_sim/ document.
  std::string Sim(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = client_->Get(path);
    return r && r->status == 200 ? r->body : "";
  }
  std::vector<std::string> Ids(const std::string& user, const std::string& collection) {
    return StringArray(Sim("/_sim/users/" + user + "/" + collection + "/ids"), "ids");
  }
  // graphsim's items of a mailbox: id -> changeKey (read through Graph's own API).
  std::map<std::string, std::string> Versions(const std::string& user,
                                              const std::string& collection) {
    std::map<std::string, std::string> out;
    std::string path = "/v1.0/users/" + user + "/" + collection + "?$select=id,changeKey&$top=1000";
    while (!path.empty()) {
      std::string body;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto r = client_->Get(path, httplib::Headers{{"Authorization", "Bearer " + token_}});
        if (!r || r->status != 200) return {{"error", "HTTP " + std::to_string(r ? r->status : 0)}};
        body = r->body;
      }
      simdjson::dom::parser parser;
      simdjson::dom::element doc = parser.parse(body);
      for (simdjson::dom::element item : doc["value"].get_array()) {
        out[std::string(std::string_view(item["id"]))] =
            std::string(std::string_view(item["changeKey"]));
      }
      path.clear();
      std::string_view next;
      if (doc["@odata.nextLink"].get(next) == simdjson::SUCCESS) {
        path = std::string(next.substr(next.find("/v1.0/")));
      }
    }
    return out;
  }
  uint64_t Deliveries(const std::string& field) {
    simdjson::dom::parser parser;
    uint64_t n = 0;
    if (parser.parse(Sim("/_sim/deliveries"))[field].get(n) != simdjson::SUCCESS) return ~0ULL;
    return n;
  }

  static std::vector<std::string> StringArray(const std::string& json, const char* field) {
    std::vector<std::string> out;
    if (json.empty()) return out;
    simdjson::dom::parser parser;
    for (simdjson::dom::element e : parser.parse(json)[field].get_array()) {
      out.emplace_back(std::string_view(e));
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  std::string base_url_;
  std::vector<std::string> users_;
  std::unique_ptr<httplib::Client> client_;
  std::string token_;
  std::mutex mu_;
};

struct Sizes {
  int users;
  int partitions;
  seconds stream;
  int kills;  // daemons killed with SIGKILL mid-stream (one more is added back each time)
};

std::vector<std::string> ShardFiles(const std::string& dir, int partitions) {
  std::vector<std::string> out;
  for (int n = 0; n < partitions; ++n) {
    const std::string path = dir + "/mirror-p" + std::to_string(n) + ".db";
    if (std::ifstream(path).good()) out.push_back(path);
  }
  return out;
}

// The union of the shards, per (mailbox, collection): id -> changeKey; and in which shards
// each mailbox has rows or subscriptions.
struct Union {
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> items;
  std::map<std::string, std::set<int>> shards_of;
  bool read = true;
};
Union ReadUnion(const std::string& dir, int partitions) {
  Union out;
  try {
    for (int n = 0; n < partitions; ++n) {
      const std::string path = dir + "/mirror-p" + std::to_string(n) + ".db";
      if (!std::ifstream(path).good()) continue;
      SQLite::Database db(path, SQLite::OPEN_READONLY);
      db.setBusyTimeout(5000);
      for (const std::string collection : {"messages", "contacts"}) {
        SQLite::Statement q(db, "SELECT user_id, id, coalesce(change_key, '') FROM " + collection);
        while (q.executeStep()) {
          const std::string user = q.getColumn(0).getString();
          out.items[{user, collection}][q.getColumn(1).getString()] = q.getColumn(2).getString();
          out.shards_of[user].insert(n);
        }
      }
      SQLite::Statement subs(db, "SELECT user_id FROM subscriptions");
      while (subs.executeStep()) out.shards_of[subs.getColumn(0).getString()].insert(n);
    }
  } catch (const std::exception& e) {
    out.read = false;
  }
  return out;
}

// Mailboxes whose mirrored items differ from graphsim's: the ids graphsim holds, and the
// changeKey of each item Graph's listing shows, by name.
std::vector<std::string> Differences(Graphsim& sim, const Union& shards) {
  std::vector<std::string> out;
  if (!shards.read) return {"the shards could not be read"};
  for (const std::string& user : sim.users()) {
    for (const std::string collection : {"messages", "contacts"}) {
      std::vector<std::string> want = sim.Ids(user, collection);
      std::sort(want.begin(), want.end());
      auto it = shards.items.find({user, collection});
      const std::map<std::string, std::string> have =
          it == shards.items.end() ? std::map<std::string, std::string>() : it->second;
      std::vector<std::string> have_ids;
      for (const auto& [id, change_key] : have) have_ids.push_back(id);
      if (have_ids != want) {
        out.push_back(user + " " + collection + ": graphsim " + std::to_string(want.size()) +
                      " items, shards " + std::to_string(have_ids.size()));
        continue;
      }
      for (const auto& [id, change_key] : sim.Versions(user, collection)) {
        auto row = have.find(id);
        if (row != have.end() && row->second != change_key) {
          out.push_back(user + " " + collection + " " + id + ": changeKey " + row->second +
                        " in the shard, " + change_key + " in graphsim");
        }
      }
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_CASE("Partitioned mirrors: 3 daemons, one killed, one added, a broker down and up",
          "[.][kafka][partitioned]") {
  const bool full = std::getenv("GRAPHMIRROR_KAFKA_FULL") != nullptr;
  // How Graph's collections reach the source topic: Graph (graphsim) writing to the event
  // hub itself, as docs/scale-out.md sets it up; or, in the full run too, a webhook relay
  // that writes them (another Kafka cluster, where nothing but webhooks reaches Graph).
  const bool graph_writes_hub = full ? GENERATE(true, false) : true;
  INFO((graph_writes_hub ? "Graph writes the event hub" : "a relay writes the topic"));
  const Sizes sizes = full ? Sizes{300, 12, seconds(60), 3} : Sizes{24, 6, seconds(12), 1};
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("GRAPHMIRROR_KAFKA_SEED")) seed = std::stoull(s);
  std::printf("partitioned test: seed %llu (GRAPHMIRROR_KAFKA_SEED replays it), %s size\n",
              static_cast<unsigned long long>(seed), full ? "full" : "CI");
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);

  TempDir dir;
  MockKafka cluster(3);
  cluster.CreateTopic(kHub, 4);
  cluster.CreateTopic(kKeyedTopic, sizes.partitions);
  HubBridge relay(cluster.brokers(), kHub);
  Graphsim sim(dir.Path("graphsim.log"), sizes.users, seed % 100000,
               graph_writes_hub ? cluster.brokers() : "");

  const std::string shards_dir = dir.Path("shards");
  const std::string config = dir.Path("graphmirror.toml");
  {
    std::ofstream out(config);
    out << "[graph]\nbase_url = \"" << sim.base_url() << "/v1.0\"\ntoken_url = \"" << sim.base_url()
        << "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\n"
        << "client_secret = \"graphsim-secret\"\n[sync]\npage_size = 100\n"
        << "[webhook]\nlisten = \"127.0.0.1:" << FreePort() << "\"\n";
    if (graph_writes_hub) {
      out << "[kafka]\nevent_hub_url = \"EventHub:https://graphmirror-test.servicebus.windows.net/"
          << "eventhubname/" << kHub << "?tenantId=contoso.com\"\n";
    } else {
      out << "notification_url = \"" << relay.url("/notify") << "\"\n[kafka]\n";
    }
    out << "brokers = \"" << cluster.brokers() << "\"\ntopic = \"" << kHub
        << "\"\ngroup = \"gm\"\nsecurity = \"plaintext\"\nsession_timeout_seconds = 6\n"
        << "mode = \"partitioned\"\npartitions = " << sizes.partitions
        << "\nshard_directory = \"shards\"\n";
    for (const std::string& user : sim.users()) {
      out << "[[mailbox]]\nuser = \"" << user << "\"\nresources = [\"messages\", \"contacts\"]\n";
    }
  }

  struct Daemon {
    pid_t pid;
    std::string log;
    int metrics_port;
  };
  std::vector<Daemon> daemons;
  // Whatever happens, no daemon outlives the test (nor the cluster it talks to).
  struct KillAll {
    std::vector<Daemon>* daemons;
    ~KillAll() {
      for (Daemon& d : *daemons) {
        if (d.pid <= 0) continue;
        ::kill(d.pid, SIGKILL);
        WaitExit(d.pid);
      }
    }
  } kill_all{&daemons};
  // Each daemon: the shared config and a metrics listener of its own.
  auto spawn = [&] {
    const std::string name = "daemon-" + std::to_string(daemons.size());
    const int metrics_port = FreePort();
    const std::string own_config = dir.Path(name + ".toml");
    std::ofstream(own_config) << ReadFile(config)
                              << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port << "\"\n";
    const std::string log = dir.Path(name + ".log");
    daemons.push_back(
        {Spawn({GRAPHMIRROR_CLI_PATH, "--log-level", "info", "run", "--config", own_config}, log),
         log, metrics_port});
  };
  auto all_logs = [&] {
    std::string text;
    for (const Daemon& d : daemons) text += ReadFile(d.log);
    return text;
  };
  for (int i = 0; i < 3; ++i) spawn();

  // Every mailbox subscribed (2 each) and loaded into its shard.
  const size_t subscriptions = 2 * sim.users().size();
  INFO("daemon logs in " << dir.path());
  REQUIRE(WaitUntil(
      [&] { return Count(sim.Sim("/_sim/subscriptions"), "\"clientState\"") >= subscriptions; },
      seconds(60)));
  REQUIRE(
      WaitUntil([&] { return Differences(sim, ReadUnion(shards_dir, sizes.partitions)).empty(); },
                seconds(60), milliseconds(1000)));

  // Event Hubs' validation message (no routing key) and a record that is not a
  // collection: both skipped, neither holds its partition.
  REQUIRE(
      relay.producer().Produce(
          kHub,
          R"({"value":[{"subscriptionId":"NA","subscriptionExpirationDateTime":"NA","clientState":"NA",)"
          R"("changeType":"Validation: Testing client application reachability for subscription )"
          R"(Request-Id: 00000000-0000-0000-0000-000000000000","resource":"NA",)"
          R"("resourceData":{"@odata.type":"NA","@odata.id":"NA","id":"NA"}}]})") ==
      RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(relay.producer().Produce(kHub, "not a collection") == RD_KAFKA_RESP_ERR_NO_ERROR);

  // The stream: creates, updates and deletes on random mailboxes, all the time.
  std::atomic<bool> streaming{true};
  std::atomic<int> changes{0};
  std::thread stream;
  struct JoinStream {  // also when a REQUIRE below ends the test
    std::atomic<bool>* streaming;
    std::thread* stream;
    ~JoinStream() {
      *streaming = false;
      if (stream->joinable()) stream->join();
    }
  } join_stream{&streaming, &stream};
  stream = std::thread([&, stream_seed = rng()] {
    std::mt19937_64 r(stream_seed);
    const auto& users = sim.users();
    while (streaming) {
      const std::string& user = users[r() % users.size()];
      const std::string collection = r() % 3 == 0 ? "contacts" : "messages";
      const std::string base = "/v1.0/users/" + user + "/" + collection;
      const int n = changes++;
      const int what = static_cast<int>(r() % 10);
      if (what < 6) {
        sim.Send("POST", base,
                 collection == "messages" ? R"({"subject":"s)" + std::to_string(n) + R"("})"
                                          : R"({"displayName":"c)" + std::to_string(n) + R"("})");
      } else {
        auto ids = sim.Ids(user, collection);
        if (ids.size() > 2) {
          const std::string& id = ids[r() % ids.size()];
          if (what < 9) {
            sim.Send("PATCH", base + "/" + Escape(id),
                     collection == "messages"
                         ? R"({"subject":"u)" + std::to_string(n) + R"("})"
                         : R"({"displayName":"u)" + std::to_string(n) + R"("})");
          } else {
            sim.Send("DELETE", base + "/" + Escape(id));
          }
        }
      }
      std::this_thread::sleep_for(milliseconds(5 + r() % 10));
    }
  });

  // Mid-stream: daemons killed and added back, a broker down and up.
  const auto slice = sizes.stream / (2 * sizes.kills + 2);
  for (int k = 0; k < sizes.kills; ++k) {
    std::this_thread::sleep_for(slice);
    const size_t victim = daemons.size() - 3 + rng() % 3;  // one of the three live ones
    ::kill(daemons[victim].pid, SIGKILL);
    REQUIRE(WaitExit(daemons[victim].pid) == 128 + SIGKILL);
    daemons[victim].pid = -1;
    const int broker = 1 + static_cast<int>(rng() % 3);
    cluster.SetDown(broker);
    std::this_thread::sleep_for(slice);
    cluster.SetUp(broker);
    spawn();
    // Keep the three live ones at the end of the list.
    Daemon dead = daemons[victim];
    daemons.erase(daemons.begin() + static_cast<std::ptrdiff_t>(victim));
    daemons.insert(daemons.begin(), dead);
  }
  std::this_thread::sleep_for(sizes.stream - slice * (2 * sizes.kills));
  streaming = false;
  stream.join();
  INFO(changes.load() << " changes made");

  // Drained: graphsim has nothing left to deliver, the shards equal graphsim, and every
  // notification the hub kept is in the log of its mailbox's shard and applied.
  struct Logs {
    std::set<std::string> logged, unfinished, subscriptions;
    bool integrity = true;
  };
  auto read_logs = [&] {
    Logs out;
    try {
      for (const std::string& path : ShardFiles(shards_dir, sizes.partitions)) {
        SQLite::Database db(path, SQLite::OPEN_READONLY);
        db.setBusyTimeout(5000);
        SQLite::Statement log(db,
                              "SELECT notification_id, state FROM notification_log "
                              "WHERE notification_id IS NOT NULL");
        while (log.executeStep()) {
          const std::string id = log.getColumn(0).getString();
          const std::string state = log.getColumn(1).getString();
          out.logged.insert(id);
          if (state == "received" || state == "failed") out.unfinished.insert(id);
        }
        SQLite::Statement subs(db, "SELECT id FROM subscriptions");
        while (subs.executeStep()) out.subscriptions.insert(subs.getColumn(0).getString());
      }
    } catch (const std::exception&) {
      out.integrity = false;
    }
    return out;
  };
  std::vector<std::string> differences;
  std::vector<std::string> acked;
  Logs logs_now;
  size_t missing = 0;
  const bool converged = WaitUntil(
      [&] {
        if (sim.Deliveries("pending_items") != 0) return false;
        differences = Differences(sim, ReadUnion(shards_dir, sizes.partitions));
        acked = Graphsim::StringArray(sim.Sim("/_sim/deliveries/acked"), "ids");
        logs_now = read_logs();
        missing = 0;
        for (const std::string& id : acked) missing += logs_now.logged.count(id) ? 0 : 1;
        return differences.empty() && logs_now.integrity && logs_now.unfinished.empty() &&
               missing == 0;
      },
      seconds(full ? 300 : 90), milliseconds(1000));
  INFO(Join(differences));
  CHECK(converged);
  CHECK(differences.empty());
  CHECK(logs_now.unfinished.empty());
  CHECK(acked.size() > 20);
  // Every subscription was made and stored before the stream began: none is unknown, so
  // every notification the hub kept reached its shard's log.
  CHECK(missing == 0);
  CHECK(sim.Deliveries("dropped_items") == 0);
  for (const std::string& path : ShardFiles(shards_dir, sizes.partitions)) {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  }
  const std::set<std::string>& stored_subscriptions = logs_now.subscriptions;

  // Each mailbox lives in exactly one shard: its own.
  const Union shards = ReadUnion(shards_dir, sizes.partitions);
  for (const std::string& user : sim.users()) {
    INFO(user);
    const std::set<int> want{ExpectedShard(user, sizes.partitions)};
    CHECK(shards.shards_of.count(user) == 1);
    if (shards.shards_of.count(user) == 1) CHECK(shards.shards_of.at(user) == want);
  }

  // Graph holds two subscriptions per mailbox, each clientState led by its routing key.
  {
    simdjson::dom::parser parser;
    std::map<std::string, int> per_user;
    for (simdjson::dom::element s :
         parser.parse(sim.Sim("/_sim/subscriptions"))["value"].get_array()) {
      const std::string resource{std::string_view(s["resource"])};
      const std::string client_state{std::string_view(s["clientState"])};
      const std::string user = resource.substr(
          resource.find("users/") + 6,
          resource.find('/', resource.find("users/") + 6) - resource.find("users/") - 6);
      ++per_user[user];
      CHECK(client_state.rfind(ExpectedKey(user) + ".", 0) == 0);
      CHECK(stored_subscriptions.count(std::string(std::string_view(s["id"]))) == 1);
    }
    for (const std::string& user : sim.users()) CHECK(per_user[user] == 2);
  }

  // The routers dropped the validation message and skipped the junk record.
  const std::string logs = all_logs();
  CHECK(Count(logs, "without a routing key dropped") >= 1);
  CHECK(Count(logs, "skipped: notification:") >= 1);

  // `graphmirror search` and `status` read the shards as one.
  {
    const std::string out = dir.Path("status.txt");
    pid_t status = Spawn({GRAPHMIRROR_CLI_PATH, "status", "--config", config}, out);
    CHECK(WaitExit(status) == 0);
    const std::string text = ReadFile(out);
    CHECK(Count(text, "NOT ITS SHARD") == 0);
    CHECK(Count(text, " SHARDS") == 0);
    CHECK(Count(text, "== shard ") >= 1);
    const std::string found = dir.Path("search.txt");
    pid_t search = Spawn({GRAPHMIRROR_CLI_PATH, "search", "--shards", shards_dir, "s1*"}, found);
    CHECK(WaitExit(search) == 0);
    CHECK(Count(ReadFile(found), "[s1") >= 1);  // a match, in brackets
  }

  // Each live daemon is healthy and says what it routed and holds.
  for (const Daemon& d : daemons) {
    if (d.pid < 0) continue;
    httplib::Client admin("127.0.0.1", d.metrics_port);
    // A shard assigned in the last rebalance is ready once its own first pass has ended,
    // which on a loaded machine can come after the mirror already converged.
    int health = 0;
    WaitUntil(
        [&] {
          auto answer = admin.Get("/healthz");
          health = answer ? answer->status : -1;
          return health == 200;
        },
        seconds(60), milliseconds(250));
    CHECK(health == 200);
    auto metrics = admin.Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(Count(metrics->body, "\ngraphmirror_router_records_total ") == 1);
    CHECK(Count(metrics->body, "\ngraphmirror_shard_records_total{outcome=\"accepted\"} ") == 1);
  }

  // The live daemons stop cleanly: they commit and close their shards.
  for (Daemon& d : daemons) {
    if (d.pid < 0) continue;
    ::kill(d.pid, SIGTERM);
    CHECK(WaitExit(d.pid) == 0);
    d.pid = -1;
  }
  std::printf(
      "partitioned test: %d changes, %zu notifications kept by the hub (%llu refused), "
      "%zu missing from the logs\n",
      changes.load(), acked.size(), static_cast<unsigned long long>(relay.refused()), missing);
}

}  // namespace
}  // namespace graphmirror::test
