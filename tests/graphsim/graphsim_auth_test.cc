// graphsim's token endpoint and bearer checks, over HTTP.

#include <catch2/catch.hpp>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

TEST_CASE("token endpoint issues bearer tokens for the right secret", "[graphsim][auth]") {
  SimFixture f;
  Reply r = f.RequestToken("graphsim-secret");
  REQUIRE(r.status == 200);
  CHECK(r.body["token_type"] == "Bearer");
  CHECK(r.body["expires_in"] == 3599);
  CHECK(r.body["ext_expires_in"] == 3599);
  std::string token = r.body["access_token"];
  CHECK(std::count(token.begin(), token.end(), '.') == 2);  // JWT-shaped

  // Any tenant segment works, as with a tenant id or domain.
  CHECK(f.RequestToken("graphsim-secret", "graphsim", f.sim().TenantId()).status == 200);
  CHECK(f.RequestToken("graphsim-secret", "graphsim", "contoso.onmicrosoft.com").status == 200);
}

TEST_CASE("token endpoint errors look like the identity platform's", "[graphsim][auth]") {
  SimFixture f;
  Reply wrong_secret = f.RequestToken("nope");
  CHECK(wrong_secret.status == 401);
  CHECK(wrong_secret.body["error"] == "invalid_client");
  CHECK(wrong_secret.body["error_description"].get<std::string>().rfind("AADSTS7000215:", 0) == 0);
  CHECK(wrong_secret.body["error_codes"][0] == 7000215);

  Reply unknown_client = f.RequestToken("graphsim-secret", "someone-else");
  CHECK(unknown_client.status == 400);
  CHECK(unknown_client.body["error"] == "unauthorized_client");
  CHECK(unknown_client.body["error_description"].get<std::string>().rfind("AADSTS700016:", 0) == 0);

  Reply bad_scope = f.RequestToken("graphsim-secret", "graphsim", "common", "Mail.Read");
  CHECK(bad_scope.status == 400);
  CHECK(bad_scope.body["error"] == "invalid_scope");

  httplib::Params no_grant{{"client_id", "graphsim"}, {"client_secret", "graphsim-secret"}};
  Reply missing = SimFixture::ToReply(f.client().Post("/common/oauth2/v2.0/token", no_grant));
  CHECK(missing.status == 400);
  CHECK(missing.body["error"] == "invalid_request");
}

TEST_CASE("Graph calls need a valid, unexpired bearer token", "[graphsim][auth]") {
  SimFixture f;
  std::string path = "/v1.0/users/" + f.user(0) + "/messages";
  const std::string kChallengeStart =
      "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/"
      "authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"";

  SECTION("no token") {
    Reply r = SimFixture::ToReply(f.client().Get(path.c_str()));
    CHECK(r.status == 401);
    CHECK(r.body["error"]["code"] == "InvalidAuthenticationToken");
    CHECK(r.Header("WWW-Authenticate") == kChallengeStart);
    CHECK(r.body["error"]["innerError"].contains("request-id"));
    CHECK(r.body["error"]["innerError"]["date"] == "2026-01-01T12:00:00");
  }
  SECTION("a token graphsim never issued") {
    Reply r = SimFixture::ToReply(
        f.client().Get(path.c_str(), {{"Authorization", "Bearer aaa.bbb.ccc"}}));
    CHECK(r.status == 401);
    CHECK(r.body["error"]["code"] == "InvalidAuthenticationToken");
    CHECK(r.Header("WWW-Authenticate").rfind(kChallengeStart + ", error=\"invalid_token\"", 0) ==
          0);
  }
  SECTION("expiry by the simulator clock") {
    REQUIRE(f.Get(path).status == 200);
    f.clock().Advance(std::chrono::seconds(3598));
    CHECK(f.Get(path).status == 200);
    f.clock().Advance(std::chrono::seconds(1));
    Reply r = f.Get(path);
    CHECK(r.status == 401);
    CHECK(r.body["error"]["code"] == "InvalidAuthenticationToken");
    CHECK(r.Header("WWW-Authenticate").find("error=\"invalid_token\", error_description=\"") !=
          std::string::npos);
    f.Refresh();
    CHECK(f.Get(path).status == 200);
  }
  SECTION("ExpireAllTokens, and over HTTP") {
    REQUIRE(f.Get(path).status == 200);
    f.sim().ExpireAllTokens();
    CHECK(f.Get(path).status == 401);
    f.Refresh();
    CHECK(f.Get(path).status == 200);
    Reply expire =
        SimFixture::ToReply(f.client().Post("/_sim/tokens/expire", "", "application/json"));
    CHECK(expire.status == 204);
    CHECK(f.Get(path).status == 401);
  }
}

TEST_CASE("token lifetime follows Options", "[graphsim][auth]") {
  graphsim::Options options = SmallOptions();
  options.token_lifetime = std::chrono::seconds(60);
  SimFixture f(options);
  Reply r = f.RequestToken("graphsim-secret");
  CHECK(r.body["expires_in"] == 60);
  std::string path = "/v1.0/users/" + f.user(1) + "/events";
  CHECK(f.Get(path).status == 200);
  f.clock().Advance(std::chrono::seconds(61));
  CHECK(f.Get(path).status == 401);
}

}  // namespace
}  // namespace graphsim_test
