// TokenValidator against tokens made independently of it, by Python's `jwt` package
// (tools/testdata/make_jwt_vectors.py wrote tests/unit/data/jwt_vectors.json).

#include <simdjson.h>

#include <catch2/catch.hpp>

#include "engine/rich/jwt.h"
#include "tests/support/source_file.h"

namespace graphmirror::rich {
namespace {

struct Vectors {
  int64_t now = 0;
  std::string client_id, tenant_id, jwks, jwks_refreshed;
  struct Case {
    std::string name, token, expect;
  };
  std::vector<Case> cases;
};

Vectors Load() {
  const std::string text = test::ReadSourceFile("tests/unit/data/jwt_vectors.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(text);
  Vectors v;
  v.now = doc["now"].get_int64();
  v.client_id = std::string(doc["client_id"].get_string().value());
  v.tenant_id = std::string(doc["tenant_id"].get_string().value());
  v.jwks = simdjson::minify(doc["jwks"]);
  v.jwks_refreshed = simdjson::minify(doc["jwks_refreshed"]);
  for (simdjson::dom::element c : doc["cases"].get_array()) {
    v.cases.push_back({std::string(c["name"].get_string().value()),
                       std::string(c["token"].get_string().value()),
                       std::string(c["expect"].get_string().value())});
  }
  return v;
}

TimePoint At(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

}  // namespace

TEST_CASE("jwt: every vector is accepted or refused for its reason", "[rich]") {
  Vectors v = Load();
  REQUIRE(v.cases.size() >= 14);
  for (const auto& c : v.cases) {
    INFO(c.name);
    // A fresh validator per token: the first fetch gives the old key set, a refetch the new.
    int fetches = 0;
    TokenValidator validator({v.client_id, v.tenant_id, std::chrono::seconds(300)}, [&] {
      return Result<std::string>(fetches++ == 0 ? v.jwks : v.jwks_refreshed);
    });
    // Warm the cache with the old set, as a running daemon would have it.
    validator.Validate(v.cases[0].token, At(v.now - 3600));
    REQUIRE(validator.jwks_fetches() == 1);
    TokenProblem problem = validator.Validate(c.token, At(v.now));
    if (c.expect == "ok_after_refetch") {
      CHECK(problem == TokenProblem::kNone);
      CHECK(validator.jwks_fetches() == 2);
    } else {
      CHECK(std::string(TokenProblemName(problem)) == (c.expect == "ok" ? "none" : c.expect));
    }
  }
}

TEST_CASE("jwt: unknown kids refetch the keys at most once every 10 seconds", "[rich]") {
  Vectors v = Load();
  int fetches = 0;
  TokenValidator validator({v.client_id, "", std::chrono::seconds(300)}, [&] {
    ++fetches;
    return Result<std::string>(v.jwks);
  });
  std::string unknown;
  for (const auto& c : v.cases) {
    if (c.expect == "unknown_key") unknown = c.token;
  }
  REQUIRE(!unknown.empty());
  CHECK(validator.Validate(unknown, At(v.now)) == TokenProblem::kUnknownKey);
  CHECK(fetches == 1);
  for (int i = 1; i < 10; ++i) {
    // Arrived before the fetch, which did not have its key: unknown for good.
    CHECK(validator.Validate(unknown, At(v.now), At(v.now + i)) == TokenProblem::kUnknownKey);
    // Arrived after it: the keys may have rotated since, but a refetch must wait.
    CHECK(validator.Validate(unknown, At(v.now + i)) == TokenProblem::kKeysUnavailable);
  }
  CHECK(fetches == 1);
  // 10 seconds on, a token naming a new key is judged with a fresh set: a rotation costs
  // a rich notification seconds, not a minute.
  CHECK(validator.Validate(unknown, At(v.now + 10)) == TokenProblem::kUnknownKey);
  CHECK(fetches == 2);
  CHECK(validator.Validate(unknown, At(v.now + 15)) == TokenProblem::kKeysUnavailable);
  CHECK(fetches == 2);
  // The tenant comes from the token's tid when none is configured: a v1 token is fine.
  CHECK(validator.Validate(v.cases[0].token, At(v.now)) == TokenProblem::kNone);
}

TEST_CASE("jwt: an unreachable key set leaves tokens unjudged, not refused", "[rich]") {
  Vectors v = Load();
  bool reachable = false;
  TokenValidator validator({v.client_id, v.tenant_id, std::chrono::seconds(300)}, [&] {
    if (!reachable) return Result<std::string>(Status::Unavailable("keys endpoint down"));
    return Result<std::string>(v.jwks);
  });
  const std::string& valid = v.cases[0].token;
  CHECK(validator.Validate(valid, At(v.now)) == TokenProblem::kKeysUnavailable);
  reachable = true;
  CHECK(validator.Validate(valid, At(v.now), At(v.now + 5)) == TokenProblem::kKeysUnavailable);
  CHECK(validator.Validate(valid, At(v.now), At(v.now + 10)) == TokenProblem::kNone);
}

TEST_CASE("jwt: a token is judged as of its arrival, not of its late check", "[rich]") {
  Vectors v = Load();
  TokenValidator validator({v.client_id, v.tenant_id, std::chrono::seconds(300)},
                           [&] { return Result<std::string>(v.jwks); });
  const std::string& valid = v.cases[0].token;  // exp = now + 3600
  // Logged at `now`, checked two days later (after an outage): still valid.
  CHECK(validator.Validate(valid, At(v.now), At(v.now + 2 * 86400)) == TokenProblem::kNone);
  CHECK(validator.Validate(valid, At(v.now + 2 * 86400)) == TokenProblem::kExpired);
}

TEST_CASE("jwt: leeway lets small clock skew pass", "[rich]") {
  Vectors v = Load();
  TokenValidator validator({v.client_id, v.tenant_id, std::chrono::seconds(300)},
                           [&] { return Result<std::string>(v.jwks); });
  const std::string& valid = v.cases[0].token;  // nbf = now - 60, exp = now + 3600
  CHECK(validator.Validate(valid, At(v.now - 300)) == TokenProblem::kNone);
  CHECK(validator.Validate(valid, At(v.now - 400)) == TokenProblem::kNotYetValid);
  CHECK(validator.Validate(valid, At(v.now + 3600 + 299)) == TokenProblem::kNone);
  CHECK(validator.Validate(valid, At(v.now + 3600 + 300)) == TokenProblem::kExpired);
}

}  // namespace graphmirror::rich
