// Rich notifications end to end: LiveSync with `rich = true` mailboxes against graphsim,
// which encrypts each change with the subscription's certificate and signs the bodies'
// validation tokens with its own published keys.

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "engine/graph/select.h"
#include "engine/rich/keygen.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

// Writes a fresh key pair for rich notifications and names it in the config.
config::RichKey WriteKeyPair(TempDir& dir, const std::string& id, std::string* certificate_path) {
  auto generated = rich::GenerateCertificate("graphmirror " + id, 30);
  REQUIRE(generated.ok());
  *certificate_path = dir.Path(id + "-cert.pem");
  const std::string key_path = dir.Path(id + "-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*generated, *certificate_path, key_path).ok());
  return {id, key_path};
}

class RichFixture : public LiveFixture {
 public:
  explicit RichFixture(graphsim::Options options = Small())
      : LiveFixture(options, nullptr, [this](config::Config& c) { MakeRich(c); }) {}

  void MakeRich(config::Config& c) {
    c.rich.emplace();
    // The base's directory: members of this class do not exist yet while the base starts.
    c.rich->current = WriteKeyPair(dir(), "cert-a", &c.rich->certificate);
    c.rich->jwks_url = server().base_url() + "/common/discovery/v2.0/keys";
    for (auto& mailbox : c.mailboxes) mailbox.rich = true;
  }

  // The mirror's json of every row of a collection, parsed, by id.
  std::map<std::string, nlohmann::json> Rows(const std::string& db_path, const std::string& user,
                                             Collection c) {
    SQLite::Database db(db_path);
    SQLite::Statement q(
        db, "SELECT id, json FROM " + std::string(CollectionName(c)) + " WHERE user_id = ?");
    q.bind(1, user);
    std::map<std::string, nlohmann::json> out;
    while (q.executeStep()) {
      out[q.getColumn(0).getString()] = nlohmann::json::parse(q.getColumn(1).getString());
    }
    return out;
  }
};

// An item's JSON without its top-level annotations (@odata.etag, ...): a query's copy
// carries them, rich content has none; the properties are what must agree.
nlohmann::json WithoutAnnotations(nlohmann::json j) {
  for (auto it = j.begin(); it != j.end();) {
    it = it.key().find('@') != std::string::npos ? j.erase(it) : std::next(it);
  }
  return j;
}

// What graphsim holds of an item, as a rich mailbox keeps it: the id and the rich
// properties.
nlohmann::json RichView(const std::string& graph_json, Collection c) {
  nlohmann::json j = nlohmann::json::parse(graph_json);
  const auto& keep = graph::RichProperties(c);
  for (auto it = j.begin(); it != j.end();) {
    const bool kept =
        it.key() == "id" || std::find(keep.begin(), keep.end(), it.key()) != keep.end();
    it = kept ? std::next(it) : j.erase(it);
  }
  return j;
}

// What a fresh `sync --once` of the same mailboxes stores: the query path's version of
// every item, to hold the notification path's rows against.
std::map<std::string, nlohmann::json> QueryPathRows(RichFixture& f, const std::string& user,
                                                    Collection c) {
  const std::string path = f.dir().Path("fresh.db");
  std::remove(path.c_str());
  auto fresh = store::Store::Open(path, &f.clock());
  REQUIRE(fresh.ok());
  config::Config config = f.config();
  config.database = path;
  graph::GraphClient client(f.ClientOptions(), &f.clock());
  for (const auto& report : sync::SyncAllOnce(config, &client, fresh->get(), nullptr, &f.clock())) {
    REQUIRE(report.status.ok());
  }
  return f.Rows(path, user, c);
}

TEST_CASE("Rich mailboxes follow changes from notifications alone, with no Graph request",
          "[live][rich]") {
  RichFixture f;
  // Rich subscriptions: resource data, our certificate, a $select, at most a day.
  auto subs = f.sim().Subscriptions();
  REQUIRE(subs.size() == 6);
  for (const auto& s : subs) {
    CHECK(s.include_resource_data);
    CHECK(s.encryption_certificate_id == "cert-a");
    CHECK(s.resource.find("?$select=createdDateTime,lastModifiedDateTime") != std::string::npos);
    CHECK(s.expires <= f.clock().Now() + std::chrono::minutes(1440));
  }
  f.Deliver();
  f.RequireExactMirrorOfAll();
  f.clock().Advance(std::chrono::minutes(6));
  f.Deliver();  // the initial sync's recheck (sync.catch_up_recheck) reads Graph; then quiet

  const auto users = f.sim().UserIds();
  const uint64_t requests_before = f.sim().RequestCount();
  const uint64_t client_requests_before = f.client().stats().requests;
  f.clock().Advance(std::chrono::minutes(5));
  int changes = 0;
  std::string created, changed, contact, event;
  for (const std::string& user : users) {
    created = f.sim().CreateItem(user, "messages", Subject("rich hello"));
    contact = f.sim().CreateItem(user, "contacts", R"({"displayName":"Zoe Rich"})");
    event = f.sim().CreateItem(user, "events", R"({"subject":"Standup"})");
    const auto ids = f.sim().ItemIds(user, "messages");
    changed = ids[3] == created ? ids[4] : ids[3];  // a seeded one
    f.clock().Advance(std::chrono::minutes(1));
    REQUIRE(f.sim().UpdateItem(user, "messages", changed, Subject("rich changed")));
    REQUIRE(f.sim().UpdateItem(user, "events", event, R"({"subject":"Standup moved"})"));
    REQUIRE(f.sim().DeleteItem(user, "contacts", f.sim().ItemIds(user, "contacts")[0]));
    changes += 5;  // created or updated, each with its content
  }
  f.Deliver();

  f.RequireExactMirrorOfAll();
  CHECK(f.PendingLog() == 0);
  CHECK(f.sim().Deliveries().rich_items >= static_cast<uint64_t>(changes));
  // Items upserted from their content: an event created and updated before the worker
  // ran counts once (its newer version).
  CHECK(f.live().worker().stats().rich_items == static_cast<uint64_t>(changes) - users.size());
  CHECK(f.live().worker().stats().suspicious_rows == 0);
  // Not one request to Graph: no item GETs, no queries.
  CHECK(f.sim().ItemGets() == 0);
  CHECK(f.sim().RequestCount() == requests_before);
  CHECK(f.client().stats().requests == client_requests_before);
  CHECK(f.sim().JwksRequests() == 1);  // the key set, fetched once
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + changed +
                   "' AND subject = 'rich changed'") == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + event +
                   "' AND subject = 'Standup moved'") == 1);

  // An item reads the same whichever way it came: the notification path's rows equal a
  // fresh query-path sync of the same mailbox, property by property.
  for (Collection c : kAllCollections) {
    const std::string& user = users.back();
    auto live_rows = f.Rows(f.config().database, user, c);
    auto query_rows = QueryPathRows(f, user, c);
    REQUIRE(live_rows.size() == query_rows.size());
    for (auto& [id, json] : live_rows) {
      INFO(CollectionName(c) << " " << id);
      CHECK(WithoutAnnotations(json) == WithoutAnnotations(query_rows[id]));
      CHECK(json["id"] == id);
      CHECK_FALSE(json.contains("body"));  // the rich properties only
    }
  }
}

TEST_CASE("Refused rich content falls back to a query; forged tokens are not applied",
          "[live][rich]") {
  RichFixture f;
  f.Deliver();
  f.clock().Advance(std::chrono::minutes(6));
  f.Deliver();  // past the initial sync's recheck, which would read the forged items
  const std::string user = f.sim().UserIds()[0];

  // A corrupted item is refused alone and read from Graph instead.
  f.sim().InjectRichFault(graphsim::RichFault::kFlipDataBit, 1);
  const std::string a = f.sim().CreateItem(user, "messages", Subject("flipped"));
  const std::string b = f.sim().CreateItem(user, "messages", Subject("fine"));
  f.Deliver();
  f.RequireExactMirror(user, Collection::kMessages);
  CHECK(f.live().rich()->stats().refused_content == 1);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + a +
                   "' AND subject = 'flipped'") == 1);

  // A body whose token names the wrong audience is suspicious: nothing of it is applied.
  for (auto [fault, reason] :
       {std::pair{graphsim::RichFault::kTokenWrongAudience, "audience"},
        std::pair{graphsim::RichFault::kTokenWrongApp, "caller"},
        std::pair{graphsim::RichFault::kTokenExpired, "expired"},
        std::pair{graphsim::RichFault::kTokenBadSignature, "signature"},
        std::pair{graphsim::RichFault::kTokenAlgNone, "algorithm"},
        std::pair{graphsim::RichFault::kTokenUnknownKid, "unknown_key"},
        std::pair{graphsim::RichFault::kTokenMissing, "without validation tokens"}}) {
    INFO(reason);
    f.clock().Advance(std::chrono::minutes(2));  // past the key refetch interval
    f.sim().InjectRichFault(fault, 1);
    const std::string forged = f.sim().CreateItem(user, "messages", Subject("forged"));
    f.Deliver();
    CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id = '" + forged + "'") == 0);
    CHECK(f.QueryInt("SELECT count(*) FROM notification_log WHERE item_id = '" + forged +
                     "' AND state = 'ignored' AND reason LIKE 'suspicious:%" + reason + "%'") == 1);
  }
  CHECK(f.live().worker().stats().suspicious_rows == 7);
  // A `missed` (or the safety-net delta pass) reads Graph and brings in what was refused.
  for (const auto& sub : f.sim().Subscriptions()) {
    if (sub.resource.find(user + "/messages") != std::string::npos) {
      REQUIRE(f.sim().EmitLifecycle(sub.id, "missed"));
    }
  }
  f.Deliver();
  f.RequireExactMirror(user, Collection::kMessages);
}

TEST_CASE("A rotated signing key is fetched when a token names it", "[live][rich]") {
  RichFixture f;
  f.Deliver();
  const std::string user = f.sim().UserIds()[1];
  f.sim().CreateItem(user, "contacts", R"({"displayName":"Before"})");
  f.Deliver();
  CHECK(f.sim().JwksRequests() == 1);
  f.sim().RotateSigningKey();
  f.clock().Advance(std::chrono::minutes(5));
  const std::string after = f.sim().CreateItem(user, "contacts", R"({"displayName":"After"})");
  f.Deliver();
  CHECK(f.sim().JwksRequests() == 2);
  CHECK(f.live().worker().stats().suspicious_rows == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM contacts WHERE id = '" + after + "'") == 1);
  CHECK(f.sim().ItemGets() == 0);
}

// The identity platform rolls its signing key (a validation token names a kid the cached
// key set lacks) while the mailbox answers every read 429: the key set is fetched again
// within seconds and the encrypted content alone brings the mirror up to date.
TEST_CASE("After a signing key rollover, rich content alone converges a throttled mailbox",
          "[live][rich]") {
  RichFixture f;
  f.Deliver();
  const auto users = f.sim().UserIds();
  const std::string user = users[0];
  f.clock().Advance(std::chrono::minutes(1));
  f.sim().CreateItem(user, "contacts", R"({"displayName":"Before"})");
  f.Deliver();
  REQUIRE(f.sim().JwksRequests() == 1);  // the key set, cached

  f.sim().RotateSigningKey();
  for (const std::string& u : users) f.sim().ForceThrottle(u, 1'000'000);
  const uint64_t requests_before = f.sim().Stats(user).requests;
  f.clock().Advance(std::chrono::seconds(2));
  const std::string created = f.sim().CreateItem(user, "messages", Subject("after the roll"));
  const std::string changed = f.sim().ItemIds(user, "messages")[5];
  REQUIRE(changed != created);
  REQUIRE(f.sim().UpdateItem(user, "messages", changed, Subject("changed after the roll")));
  const std::string event = f.sim().CreateItem(user, "events", R"({"subject":"Planning"})");
  REQUIRE(f.sim().PumpDeliveries() >= 1);

  // The worker runs every second of the clock, as the daemon's does when polled.
  const TimePoint start = f.clock().Now();
  std::optional<std::chrono::seconds> converged;
  while (f.clock().Now() - start <= std::chrono::seconds(30)) {
    REQUIRE(f.live().worker().RunOnce().ok());
    if (f.PendingLog() == 0) {
      converged = std::chrono::duration_cast<std::chrono::seconds>(f.clock().Now() - start);
      break;
    }
    f.clock().Advance(std::chrono::seconds(1));
  }
  INFO("pending log rows: " << f.PendingLog() << ", jwks fetches: " << f.sim().JwksRequests());
  REQUIRE(converged.has_value());
  CHECK(*converged <= std::chrono::seconds(30));
  CHECK(f.sim().JwksRequests() == 2);  // one refetch for the new kid
  CHECK(f.live().worker().stats().suspicious_rows == 0);
  // Not one mailbox read: every item came from its content.
  CHECK(f.sim().Stats(user).requests == requests_before);
  f.RequireExactMirror(user, Collection::kMessages);
  f.RequireExactMirror(user, Collection::kEvents);
  for (const auto& [c, id] :
       {std::pair{Collection::kMessages, created}, std::pair{Collection::kMessages, changed},
        std::pair{Collection::kEvents, event}}) {
    INFO(CollectionName(c) << " " << id);
    auto rows = f.Rows(f.config().database, user, c);
    REQUIRE(rows.count(id) == 1);
    CHECK(rows[id] == RichView(f.sim().ItemJson(user, std::string(CollectionName(c)), id), c));
  }
}

TEST_CASE("A new certificate reaches Graph at the next start; the old key still reads",
          "[live][rich]") {
  RichFixture f;
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  // Encrypted with the old certificate, not yet delivered when the keys change.
  const std::string in_flight = f.sim().CreateItem(user, "messages", Subject("old key"));
  f.RestartWith([&](config::Config& c) {
    c.rich->previous.push_back(c.rich->current);
    c.rich->current = WriteKeyPair(f.dir(), "cert-b", &c.rich->certificate);
  });
  for (const auto& s : f.sim().Subscriptions()) CHECK(s.encryption_certificate_id == "cert-b");
  const std::string after = f.sim().CreateItem(user, "messages", Subject("new key"));
  f.Deliver();
  f.RequireExactMirrorOfAll();
  CHECK(f.live().rich()->stats().refused_content == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE id IN ('" + in_flight + "', '" + after +
                   "')") == 2);
}

TEST_CASE("A mailbox switched to rich gets a rich subscription in place of its plain one",
          "[live][rich]") {
  LiveFixture f(Small());
  f.Deliver();
  auto plain = f.sim().Subscriptions();
  REQUIRE(plain.size() == 6);
  for (const auto& s : plain) CHECK_FALSE(s.include_resource_data);
  TempDir keys;
  f.RestartWith([&](config::Config& c) {
    c.rich.emplace();
    c.rich->current = WriteKeyPair(keys, "cert-a", &c.rich->certificate);
    c.rich->jwks_url = f.server().base_url() + "/common/discovery/v2.0/keys";
    c.mailboxes[0].rich = true;
  });
  auto now = f.sim().Subscriptions();
  REQUIRE(now.size() == 6);
  int rich = 0;
  for (const auto& s : now) {
    const bool of_rich_mailbox = s.resource.find(f.sim().UserIds()[0]) != std::string::npos;
    CHECK(s.include_resource_data == of_rich_mailbox);
    rich += s.include_resource_data;
  }
  CHECK(rich == 3);
  const std::string item = f.sim().CreateItem(f.sim().UserIds()[0], "messages", Subject("x"));
  f.Deliver();
  f.RequireExactMirrorOfAll();
  CHECK(f.live().worker().stats().rich_items >= 1);
}

TEST_CASE("A rich config whose files cannot be read fails the start, naming the file",
          "[live][rich]") {
  SimFixture f(Small());
  config::Config config = f.Config(500);
  config.webhook.listen = "127.0.0.1:" + std::to_string(FreePort());
  config.webhook.notification_url = "http://" + config.webhook.listen + "/notify";
  config.rich.emplace();
  config.rich->current = WriteKeyPair(f.dir(), "cert-a", &config.rich->certificate);
  config.mailboxes[0].rich = true;
  for (std::string* broken : {&config.rich->certificate, &config.rich->current.private_key}) {
    const std::string kept = *broken;
    *broken = f.dir().Path("missing.pem");
    sync::LiveSync live(config, &f.client(), &f.store(), &f.clock());
    sync::LiveSyncOptions options;
    options.background = false;
    Status started = live.Start(options);
    CHECK_FALSE(started.ok());
    CHECK(started.message().find("missing.pem") != std::string::npos);
    CHECK(f.sim().Subscriptions().empty());  // nothing was subscribed
    *broken = kept;
  }
}

// Every log line of a run at the most verbose level, checked for the secrets it handled.
TEST_CASE("Secrets never reach the log: client secret, tokens, clientState, content",
          "[live][rich]") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = spdlog::default_logger();
  const auto level = logger->level();
  logger->sinks().push_back(sink);
  logger->set_level(spdlog::level::trace);
  std::string access_token;
  std::vector<std::string> client_states;
  const std::string subject = "Quarterly numbers 7f3a9c";  // decrypted content, never logged
  const std::string preview = "the figures are 81b2e4";
  {
    RichFixture f;
    f.Deliver();
    const std::string user = f.sim().UserIds()[0];
    f.clock().Advance(std::chrono::minutes(1));
    const std::string id = f.sim().CreateItem(
        user, "messages", "{\"subject\":\"" + subject + "\",\"bodyPreview\":\"" + preview + "\"}");
    REQUIRE(!id.empty());
    f.Deliver();
    REQUIRE(f.sim().UpdateItem(user, "messages", id, "{\"subject\":\"" + subject + " v2\"}"));
    f.Deliver();
    CHECK(f.QueryInt("SELECT count(*) FROM messages WHERE subject = '" + subject + " v2'") == 1);
    auto token = f.client().AccessToken();
    REQUIRE(token.ok());
    access_token = *token;
    SQLite::Database db(f.dir().Path("mirror.db"));
    SQLite::Statement q(db, "SELECT client_state FROM subscriptions");
    while (q.executeStep()) client_states.push_back(q.getColumn(0).getString());
  }
  logger->sinks().pop_back();
  logger->set_level(level);
  const std::string log = captured.str();
  REQUIRE(log.size() > 1000);  // the run did log, verbosely
  REQUIRE(!client_states.empty());
  CHECK(log.find("graphsim-secret") == std::string::npos);
  REQUIRE(access_token.size() > 20);
  CHECK(log.find(access_token) == std::string::npos);
  // A token's signature part alone would do as much harm as the whole token.
  CHECK(log.find(access_token.substr(access_token.rfind('.') + 1)) == std::string::npos);
  for (const std::string& state : client_states) {
    REQUIRE(state.size() >= 16);
    CHECK(log.find(state) == std::string::npos);
  }
  CHECK(log.find(subject) == std::string::npos);
  CHECK(log.find(preview) == std::string::npos);
}

}  // namespace
}  // namespace graphmirror::test
