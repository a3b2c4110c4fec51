#include "tools/graphsim/webhook_client.h"

#include <httplib.h>

#include <cctype>

namespace graphsim {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  WebhookUrl out;
  out.scheme = Lower(url.substr(0, colon));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  for (unsigned char c : authority) {
    if (std::isspace(c) || c < 0x20 || c >= 0x7f) return std::nullopt;
  }
  // The port, if any, must be numeric (an IPv6 host is bracketed).
  size_t host_end = authority.front() == '[' ? authority.find(']') : 0;
  if (host_end == std::string_view::npos) return std::nullopt;
  size_t port_colon = authority.find(':', host_end);
  if (port_colon != std::string_view::npos) {
    std::string_view port = authority.substr(port_colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
      return std::nullopt;
    }
    if (port_colon == 0) return std::nullopt;
  }
  out.scheme_host_port = out.scheme + "://" + std::string(authority);
  std::string target(end == std::string_view::npos ? "" : rest.substr(end));
  if (target.empty() || target.front() == '?') target = "/" + target;
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;  // must arrive already encoded
  }
  out.has_query = target.find('?') != std::string::npos;
  out.target = std::move(target);
  return out;
}

WebhookResult PostWebhook(const WebhookUrl& url, const std::string& target,
                          const std::string& content_type, const std::string& body,
                          std::chrono::milliseconds timeout, bool verify_certificates) {
  WebhookResult result;
  auto started = std::chrono::steady_clock::now();
  try {
    httplib::Client client(url.scheme_host_port);
    if (!client.is_valid()) {
      result.error = "invalid endpoint " + url.scheme_host_port;
      return result;
    }
    time_t sec = static_cast<time_t>(timeout.count() / 1000);
    time_t usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.set_keep_alive(false);
    client.set_tcp_nodelay(true);  // headers and body are separate writes
    client.set_url_encode(false);  // the target is already encoded; keep its bytes
    client.enable_server_certificate_verification(verify_certificates);
    httplib::Headers headers{{"User-Agent", "graphsim-notifications"}};
    httplib::Result response =
        client.Post(target, headers, body.data(), body.size(), content_type.c_str());
    if (response) {
      result.outcome = WebhookResult::Outcome::kAnswered;
      result.status = response->status;
      result.content_type = response->get_header_value("Content-Type");
      result.body = response->body;
      return result;
    }
    httplib::Error error = response.error();
    result.error = httplib::to_string(error);
    auto elapsed = std::chrono::steady_clock::now() - started;
    if (error == httplib::Error::ConnectionTimeout ||
        elapsed >= timeout - std::chrono::milliseconds(timeout.count() / 10)) {
      result.outcome = WebhookResult::Outcome::kTimeout;
    } else if (error == httplib::Error::Connection) {
      result.outcome = WebhookResult::Outcome::kConnectFailed;
    } else {
      result.outcome = WebhookResult::Outcome::kError;
    }
  } catch (const std::exception& e) {
    result.outcome = WebhookResult::Outcome::kError;
    result.error = e.what();
  }
  return result;
}

std::string FormEncode(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '!' || c == '*' || c == '(' ||
        c == ')') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace graphsim
