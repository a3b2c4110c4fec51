#include "engine/graph/public_fetch.h"

#include <httplib.h>

#include <exception>

#include "engine/graph/url.h"

namespace graphmirror::graph {

Result<std::string> FetchPublicDocument(const std::string& url, std::chrono::milliseconds timeout,
                                        size_t max_bytes) {
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
    std::string body;
    bool too_large = false;
    auto response = client.Get(parsed->target, [&](const char* data, size_t length) {
      if (length > max_bytes - body.size()) {
        too_large = true;
        return false;
      }
      body.append(data, length);
      return true;
    });
    if (too_large) return Status::Unavailable("GET " + url + ": the answer is too large");
    if (!response) {
      return Status::Unavailable("GET " + url + ": " + httplib::to_string(response.error()));
    }
    if (response->status != 200) {
      return Status::Unavailable("GET " + url + ": HTTP " + std::to_string(response->status));
    }
    return body;
  } catch (const std::exception& e) {
    return Status::Unavailable("GET " + url + ": " + e.what());
  }
}

}  // namespace graphmirror::graph
