#include "tools/graphsim/errors.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/graphsim/ids.h"

namespace graphsim {

std::string NewRequestId() {
  // Unique per process; not seeded, since request ids are not data.
  static std::atomic<uint64_t> counter{
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint64_t n = counter.fetch_add(1);
  return FormatGuid(Mix64(n), Mix64(n ^ 0xabcdef1234567ULL));
}

HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message,
                           TimePoint now) {
  std::string request_id = NewRequestId();
  nlohmann::ordered_json body = {{"error",
                                  {{"code", code},
                                   {"message", message},
                                   {"innerError",
                                    {{"date", FormatSecondsLocal(now)},
                                     {"request-id", request_id},
                                     {"client-request-id", request_id}}}}}};
  HttpResponse response = JsonResponse(status, DumpJson(body));
  response.headers.emplace_back("request-id", request_id);
  return response;
}

HttpResponse JsonResponse(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = kJsonContentType;
  response.body = body;
  return response;
}

std::string DumpJson(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string FormatRetryAfter(double seconds) {
  if (seconds < 0) seconds = 0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", seconds);
  std::string text = buf;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace graphsim
