#include "engine/graph/public_fetch.h"

#include <httplib.h>

#include <exception>

#include "engine/graph/url.h"

namespace graphmirror::graph {

Result<PublicAnswer> PublicRequest(const std::string& method, const std::string& url,
                                   const std::string& body, const std::string& content_type,
                                   std::chrono::milliseconds timeout, size_t max_bytes) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  try {
    httplib::Client client(parsed->Origin());
    client.enable_server_certificate_verification(true);
    const auto seconds = static_cast<time_t>(timeout.count() / 1000);
    const auto micros = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client.set_connection_timeout(seconds, micros);
    client.set_read_timeout(seconds, micros);
    client.set_follow_location(false);
    if (method == "POST") {
      httplib::Result response = client.Post(parsed->target, body, content_type.c_str());
      if (!response) {
        return Status::Unavailable("POST " + url + ": " + httplib::to_string(response.error()));
      }
      PublicAnswer answer{response->status, std::move(response->body)};
      if (answer.body.size() > max_bytes) answer.body.resize(max_bytes);
      return answer;
    }
    // A GET body is read through a receiver that stops at the limit, never whole.
    std::string received;
    bool too_large = false;
    httplib::Result response = client.Get(parsed->target, [&](const char* data, size_t length) {
      if (length > max_bytes - received.size()) {
        too_large = true;
        return false;
      }
      received.append(data, length);
      return true;
    });
    if (too_large) return Status::Unavailable("GET " + url + ": the answer is too large");
    if (!response) {
      return Status::Unavailable("GET " + url + ": " + httplib::to_string(response.error()));
    }
    return PublicAnswer{response->status, std::move(received)};
  } catch (const std::exception& e) {
    return Status::Unavailable(method + " " + url + ": " + e.what());
  }
}

Result<std::string> FetchPublicDocument(const std::string& url, std::chrono::milliseconds timeout,
                                        size_t max_bytes) {
  auto answer = PublicRequest("GET", url, "", "", timeout, max_bytes);
  if (!answer.ok()) return answer.status();
  if (answer->status != 200) {
    return Status::Unavailable("GET " + url + ": HTTP " + std::to_string(answer->status));
  }
  return std::move(answer->body);
}

}  // namespace graphmirror::graph
