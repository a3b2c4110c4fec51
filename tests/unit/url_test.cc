// graph::Url: the origin a client connects to, and the resource name a token scope takes.

#include "engine/graph/url.h"

#include <catch2/catch.hpp>

namespace graphmirror::graph {
namespace {

TEST_CASE("A token scope names the resource without the scheme's default port", "[url]") {
  auto site = ParseUrl("https://contoso.sharepoint.com/sites/team");
  REQUIRE(site.ok());
  // Connections always name the port; an OAuth resource never names the default one
  // ("https://contoso.sharepoint.com:443/.default" is another resource).
  CHECK(site->Origin() == "https://contoso.sharepoint.com:443");
  CHECK(site->ResourceOrigin() == "https://contoso.sharepoint.com");
  auto explicit_default = ParseUrl("https://contoso.sharepoint.com:443/sites/team");
  REQUIRE(explicit_default.ok());
  CHECK(explicit_default->ResourceOrigin() == "https://contoso.sharepoint.com");
  auto plain = ParseUrl("http://127.0.0.1:80/x");
  REQUIRE(plain.ok());
  CHECK(plain->ResourceOrigin() == "http://127.0.0.1");
  auto other_port = ParseUrl("http://127.0.0.1:8080/sites/team");
  REQUIRE(other_port.ok());
  CHECK(other_port->ResourceOrigin() == "http://127.0.0.1:8080");
}

}  // namespace
}  // namespace graphmirror::graph
