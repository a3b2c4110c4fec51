#include "engine/graph/url.h"

#include <cctype>

#include "engine/base/text.h"

namespace graphmirror::graph {

namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && AsciiLower(s.substr(0, prefix.size())) == prefix;
}

Status Invalid(std::string_view text, std::string_view why) {
  constexpr size_t kMax = 200;
  std::string shown(text.substr(0, kMax));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > kMax) shown += "...";
  return Status::InvalidArgument("URL \"" + shown + "\": " + std::string(why));
}

}  // namespace

std::string Url::Origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

std::string Url::ResourceOrigin() const {
  const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return scheme + "://" + host + (default_port ? "" : ":" + std::to_string(port));
}

std::string_view Url::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

bool IsAbsoluteUrl(std::string_view text) {
  return StartsWithNoCase(text, "http://") || StartsWithNoCase(text, "https://");
}

bool IsSafeTarget(std::string_view target) {
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  const size_t colon = text.find("://");
  if (colon == std::string_view::npos) return Invalid(text, "no scheme");
  url.scheme = AsciiLower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") return Invalid(text, "not http or https");
  std::string_view rest = text.substr(colon + 3);
  if (!IsSafeTarget(rest)) return Invalid(text, "whitespace or control characters");

  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view after =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return Invalid(text, "user info");

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid(text, "bad IPv6 host");
    host = authority.substr(0, close + 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') return Invalid(text, "bad host");
      port = tail.substr(1);
    }
  } else if (const size_t p = authority.rfind(':'); p != std::string_view::npos) {
    host = authority.substr(0, p);
    port = authority.substr(p + 1);
  }
  if (host.empty()) return Invalid(text, "no host");
  url.host = AsciiLower(host);
  if (port.empty()) {
    if (authority.find(':') != std::string_view::npos && authority.front() != '[') {
      return Invalid(text, "empty port");
    }
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5) return Invalid(text, "bad port");
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return Invalid(text, "bad port");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return Invalid(text, "bad port");
    url.port = value;
  }

  after = after.substr(0, after.find('#'));  // never sent to the server
  if (after.empty() || after.front() == '?') {
    url.target = "/" + std::string(after);
  } else {
    url.target = std::string(after);
  }
  return url;
}

}  // namespace graphmirror::graph
