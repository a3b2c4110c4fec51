// RichContent: a body's validation tokens judged once, rich rows decrypted into mirror
// items (projected as the mailbox's queries are), refusals counted. Payloads and tokens
// come from the independently made vectors in tests/unit/data.

#include "engine/sync/rich_content.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "engine/notify/receiver.h"
#include "tests/support/source_file.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::sync {
namespace {

struct Fixture {
  Fixture() {
    const std::string rich_text = test::ReadSourceFile("tests/unit/data/rich_vectors.json");
    const std::string jwt_text = test::ReadSourceFile("tests/unit/data/jwt_vectors.json");
    simdjson::dom::element rich_doc = rich_parser.parse(rich_text);
    simdjson::dom::element jwt_doc = jwt_parser.parse(jwt_text);
    now = TimePoint(std::chrono::seconds(jwt_doc["now"].get_int64().value()));
    clock.Set(now);
    jwks = simdjson::minify(jwt_doc["jwks"]);
    for (simdjson::dom::element c : jwt_doc["cases"].get_array()) {
      tokens[std::string(c["name"].get_string().value())] =
          std::string(c["token"].get_string().value());
    }
    for (simdjson::dom::element c : rich_doc["cases"].get_array()) {
      simdjson::dom::element e = c["encryptedContent"];
      store::RichContent content{std::string(e["data"].get_string().value()),
                                 std::string(e["dataKey"].get_string().value()),
                                 std::string(e["dataSignature"].get_string().value()),
                                 std::string(e["encryptionCertificateId"].get_string().value())};
      payloads[std::string(c["name"].get_string().value())] = content;
    }

    config.graph.client_id = std::string(jwt_doc["client_id"].get_string().value());
    config.graph.token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
    config.rich.emplace();
    config.rich->tenant_id = std::string(jwt_doc["tenant_id"].get_string().value());
    int n = 0;
    for (simdjson::dom::element k : rich_doc["keys"].get_array()) {
      config::RichKey key{std::string(k["id"].get_string().value()),
                          dir.Path("key" + std::to_string(n++) + ".pem")};
      std::ofstream(key.private_key) << std::string(k["private_key_pem"].get_string().value());
      if (n == 1) {
        config.rich->current = key;
      } else {
        config.rich->previous.push_back(key);
      }
    }
    config.mailboxes.push_back({"u", {Collection::kMessages}, true, {}, {}});
    store = std::move(store::Store::Open(dir.Path("m.db"), &clock)).value();
    auto created = RichContent::Create(config, &clock, store.get(), [this] {
      ++fetches;
      if (!jwks_up) return Result<std::string>(Status::Unavailable("down"));
      return Result<std::string>(jwks);
    });
    REQUIRE(created.ok());
    rich = std::move(created).value();
  }

  // Logs one body and returns its rows as the worker sees them.
  // resourceData.id of every item: Graph's content does not carry it.
  static constexpr const char* kItemId = "AAMkAGUwNjQ4ZjIxAAA=";

  std::vector<store::PendingNotification> Log(const std::vector<store::RichContent>& items,
                                              const std::vector<std::string>& body_tokens,
                                              const std::string& item_id = kItemId) {
    std::vector<store::LogEntry> entries;
    for (const auto& content : items) {
      store::LogEntry e;
      e.dedupe_key = "n:" + std::to_string(next_id++);
      e.subscription_id = "s";
      e.user_id = "u";
      e.change_type = "created";
      e.item_id = item_id;
      e.rich = content;
      entries.push_back(e);
    }
    const TimePoint far = std::chrono::system_clock::now() + std::chrono::seconds(10);
    REQUIRE(store->log().Append(entries, far, body_tokens).ok());
    auto pending = store->log().Pending(clock.Now(), 1000);
    REQUIRE(pending.ok());
    std::vector<store::PendingNotification> out(pending->end() - items.size(), pending->end());
    return out;
  }

  RichContent::Verdict Check(const store::PendingNotification& row) {
    std::string reason;
    return rich->CheckBody(row, &reason);
  }

  simdjson::dom::parser rich_parser, jwt_parser;
  test::TempDir dir;
  ManualClock clock{TimePoint{}};
  TimePoint now;
  std::string jwks;
  bool jwks_up = true;
  int fetches = 0;
  int next_id = 0;
  std::map<std::string, std::string> tokens;
  std::map<std::string, store::RichContent> payloads;
  config::Config config;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<RichContent> rich;
};

}  // namespace

TEST_CASE("rich content: a valid body's items decrypt to projected mirror items", "[rich]") {
  Fixture f;
  auto rows = f.Log(
      {f.payloads["valid"], f.payloads["valid, key from the previous certificate (rotation)"]},
      {f.tokens["valid v1"], f.tokens["valid v2"]});
  REQUIRE(rows.size() == 2);
  for (const auto& row : rows) {
    CHECK(f.Check(row) == RichContent::Verdict::kValid);
    auto item = f.rich->Item(row);
    REQUIRE(item.ok());
    CHECK(item->id == "AAMkAGUwNjQ4ZjIxAAA=");
    CHECK(item->subject == "Quarterly numbers \xc3\xa9t\xc3\xa9 \xe2\x9c\x93");
    CHECK(item->created_at == "2026-03-01T10:00:00.0000000Z");
    CHECK(item->modified_at == "2026-03-01T10:05:00.0000000Z");
    CHECK(item->from_address == "Megan.Brown@microsoft.com");
    // As a query's copy reads: the id first, the rich properties, no annotations at any
    // depth.
    CHECK(item->json ==
          "{\"id\":\"AAMkAGUwNjQ4ZjIxAAA=\",\"createdDateTime\":\"2026-03-01T10:00:00Z\","
          "\"lastModifiedDateTime\":\"2026-03-01T10:05:00Z\",\"subject\":\"Quarterly numbers "
          "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93\",\"importance\":\"normal\",\"from\":{\"emailAddress\":"
          "{\"name\":\"Megan Brown\",\"address\":\"Megan.Brown@microsoft.com\"}}}");
  }
  CHECK(f.fetches == 1);  // one key set for the whole body, judged once
  CHECK(f.rich->stats().decrypted == 2);
}

TEST_CASE("rich content: Microsoft's example content, which has no id and no createdDateTime",
          "[rich]") {
  Fixture f;
  auto rows = f.Log({f.payloads["valid, Microsoft's example content (no createdDateTime)"]},
                    {f.tokens["valid v2"]}, "AAMkAGUwNjQ4ZjIxLTQ3Y2Y8AAA=");
  REQUIRE(rows.size() == 1);
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kValid);
  auto item = f.rich->Item(rows[0]);
  REQUIRE(item.ok());
  CHECK(item->id == "AAMkAGUwNjQ4ZjIxLTQ3Y2Y8AAA=");  // resourceData's
  CHECK(item->created_at.empty());                    // not selected: the worker decides
  CHECK(item->received_at == "2021-12-30T10:53:35.0000000Z");
  CHECK(item->subject == "TEST MESSAGE FOR RICH NOTIFICATIONS");
  CHECK(item->from_name == "Megan Brown");
  CHECK(item->json.rfind("{\"id\":\"AAMkAGUwNjQ4ZjIxLTQ3Y2Y8AAA=\",\"receivedDateTime\":", 0) == 0);
  CHECK(item->json.find("@odata") == std::string::npos);
  CHECK(f.rich->stats().decrypted == 1);
}

TEST_CASE("rich content: a notification naming no item is refused, not guessed", "[rich]") {
  Fixture f;
  auto rows = f.Log({f.payloads["valid"]}, {f.tokens["valid v2"]}, "");
  auto item = f.rich->Item(rows[0]);
  REQUIRE_FALSE(item.ok());
  CHECK(item.status().message().find("content refused") != std::string::npos);
  CHECK(f.rich->stats().refused_content == 1);
}

TEST_CASE("rich content: each refused payload is refused alone, never its body", "[rich]") {
  Fixture f;
  const std::vector<std::string> bad = {
      "flipped ciphertext bit",
      "wrong key (encrypted for a stranger's certificate, our id)",
      "unknown certificate id",
      "truncated dataKey",
      "bad padding (signature valid)",
      "malformed base64 in data",
      "wrong signature"};
  std::vector<store::RichContent> items{f.payloads["valid"]};
  for (const auto& name : bad) items.push_back(f.payloads[name]);
  auto rows = f.Log(items, {f.tokens["valid v2"]});
  REQUIRE(rows.size() == items.size());
  CHECK(f.rich->Item(rows[0]).ok());
  for (size_t i = 1; i < rows.size(); ++i) {
    INFO(bad[i - 1]);
    CHECK(f.Check(rows[i]) == RichContent::Verdict::kValid);
    auto item = f.rich->Item(rows[i]);
    REQUIRE_FALSE(item.ok());
    CHECK(item.status().message().find("content refused") != std::string::npos);
  }
  CHECK(f.rich->stats().refused_content == bad.size());
}

TEST_CASE("rich content: a body with a failing token is suspicious, all of it", "[rich]") {
  Fixture f;
  for (const char* name :
       {"expired", "wrong audience", "wrong azp (v2)", "issuer of another tenant",
        "bad signature (signed by another key under kid k1)", "alg none",
        "HS256 with the public key as the secret"}) {
    INFO(name);
    auto rows =
        f.Log({f.payloads["valid"], f.payloads["valid"]}, {f.tokens["valid v2"], f.tokens[name]});
    std::string reason;
    CHECK(f.rich->CheckBody(rows[0], &reason) == RichContent::Verdict::kSuspicious);
    CHECK(reason.rfind("suspicious: validation token ", 0) == 0);
    CHECK(f.Check(rows[1]) == RichContent::Verdict::kSuspicious);
  }
  // Rich items with no tokens at all.
  auto rows = f.Log({f.payloads["valid"]}, {});
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kSuspicious);
}

TEST_CASE("rich content: a body read from an event hub carries the hub's marker, not tokens",
          "[rich][kafka]") {
  Fixture f;
  auto rows = f.Log({f.payloads["valid"]}, {std::string(notify::kEventHubTokens)});
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kValid);
  // The marker beside a token is not the hub's batch: the token is judged as always.
  rows = f.Log({f.payloads["valid"]}, {std::string(notify::kEventHubTokens), f.tokens["expired"]});
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kSuspicious);
}

TEST_CASE("rich content: tokens are judged as of the body's arrival", "[rich]") {
  Fixture f;
  auto rows = f.Log({f.payloads["valid"]}, {f.tokens["valid v2"]});  // exp: now + 1 h
  f.clock.Advance(std::chrono::hours(48));  // the daemon was down; the log is replayed
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kValid);
}

TEST_CASE("rich content: an unreachable key set leaves the rows for later", "[rich]") {
  Fixture f;
  f.jwks_up = false;
  auto rows = f.Log({f.payloads["valid"]}, {f.tokens["valid v2"]});
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kRetry);
  f.jwks_up = true;
  f.clock.Advance(std::chrono::minutes(2));
  CHECK(f.Check(rows[0]) == RichContent::Verdict::kValid);
}

TEST_CASE("ExpectedTenant: configured, else a tenant id in the token URL, else none", "[rich]") {
  config::Config c;
  c.graph.token_url =
      "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token";
  CHECK(ExpectedTenant(c) == "72f988bf-86f1-41af-91ab-2d7cd011db47");
  c.graph.token_url = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
  CHECK(ExpectedTenant(c).empty());
  c.rich.emplace();
  c.rich->tenant_id = "t-1";
  CHECK(ExpectedTenant(c) == "t-1");
}

}  // namespace graphmirror::sync
