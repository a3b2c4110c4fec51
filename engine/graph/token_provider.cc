#include "engine/graph/token_provider.h"

#include <httplib.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <mutex>

#include "engine/base/text.h"
#include "engine/graph/client_assertion.h"
#include "engine/graph/url.h"

namespace graphmirror::graph {

namespace {

namespace od = simdjson::ondemand;

// The fields of a token endpoint answer we use; absent ones stay empty.
struct TokenAnswer {
  std::string access_token;
  std::string token_type;
  int64_t expires_in = -1;
  std::string error;
  std::string error_description;
};

bool ReadOptionalString(od::object& object, std::string_view key, std::string* out) {
  od::value value;
  if (object[key].get(value) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return false;
  out->assign(text);
  return true;
}

// False if the body is not a JSON object. expires_in comes as a number from the v2.0
// endpoint and as a string from v1.0: both are read.
bool ParseTokenAnswer(std::string_view body, TokenAnswer* answer) {
  try {
    od::parser parser;
    const simdjson::padded_string padded(body);
    od::document doc;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
    od::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
    ReadOptionalString(object, "access_token", &answer->access_token);
    ReadOptionalString(object, "token_type", &answer->token_type);
    ReadOptionalString(object, "error", &answer->error);
    ReadOptionalString(object, "error_description", &answer->error_description);
    od::value expires;
    if (object["expires_in"].get(expires) == simdjson::SUCCESS) {
      int64_t seconds = 0;
      std::string_view text;
      if (expires.get_int64().get(seconds) == simdjson::SUCCESS) {
        answer->expires_in = seconds;
      } else if (expires.get_string().get(text) == simdjson::SUCCESS) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (ec == std::errc() && end == text.data() + text.size()) answer->expires_in = seconds;
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

struct TokenProvider::Impl {
  Impl(const ClientOptions& options, Clock* clock, std::atomic<uint64_t>* counter)
      : options(options), clock(clock), request_counter(counter) {
    auto url = ParseUrl(options.token_url);
    if (url.ok()) {
      token_url = std::move(url.value());
    } else {
      config_error = Status::InvalidArgument("token_url: " + url.status().message());
    }
  }

  Result<std::string> Fetch();
  Status AddCredential(httplib::Params* form);
  httplib::Client* HttpClient();

  const ClientOptions options;
  Clock* const clock;
  std::atomic<uint64_t>* const request_counter;
  Url token_url;
  Status config_error;

  // Held across a fetch: concurrent callers wait for the one renewal in progress.
  std::mutex mu;
  std::string token;     // empty: none
  TimePoint renew_at{};  // fetch a new one from this time on
  TimePoint expires_at{};
  std::unique_ptr<httplib::Client> http;  // used under `mu` only
};

httplib::Client* TokenProvider::Impl::HttpClient() {
  if (!http) {
    http = std::make_unique<httplib::Client>(token_url.Origin());
    http->set_connection_timeout(options.connect_timeout);
    http->set_read_timeout(options.read_timeout);
    http->set_write_timeout(options.read_timeout);
    http->set_keep_alive(true);
    http->set_follow_location(false);
    http->enable_server_certificate_verification(true);
  }
  return http.get();
}

// The certificate and key are read again for every token, so that replacing the files
// rotates the credential without a restart.
Status TokenProvider::Impl::AddCredential(httplib::Params* form) {
  if (options.client_certificate.empty()) {
    form->emplace("client_secret", options.client_secret);
    return Status::Ok();
  }
  auto certificate =
      ClientCertificate::Load(options.client_certificate, options.client_private_key);
  if (!certificate.ok()) return certificate.status();
  auto assertion = (*certificate)
                       ->MakeAssertion(options.client_id, options.token_url, clock->Now(),
                                       options.client_assertion_pss ? AssertionSignature::kPs256
                                                                    : AssertionSignature::kRs256);
  if (!assertion.ok()) return assertion.status();
  form->emplace("client_assertion_type", kClientAssertionType);
  form->emplace("client_assertion", std::move(assertion).value());
  return Status::Ok();
}

Result<std::string> TokenProvider::Impl::Fetch() {
  const std::string& url = options.token_url;
  httplib::Params form{{"client_id", options.client_id},
                       {"scope", options.scope},
                       {"grant_type", "client_credentials"}};
  if (Status s = AddCredential(&form); !s.ok()) return s;
  httplib::Headers headers{{"Accept", "application/json"}};
  if (request_counter) request_counter->fetch_add(1, std::memory_order_relaxed);
  std::string exception_text;
  httplib::Result result = [&] {
    try {
      return HttpClient()->Post(token_url.target, headers, form);
    } catch (const std::exception& e) {
      exception_text = FirstLine(e.what());
      return httplib::Result(nullptr, httplib::Error::Unknown);
    }
  }();
  if (!exception_text.empty()) {
    http.reset();
    return Status::Unavailable("token endpoint " + url + " failed: " + exception_text);
  }
  if (!result) {
    // A broken keep-alive connection is not worth keeping.
    http.reset();
    return Status::Unavailable("token endpoint " + url +
                               " unreachable: " + httplib::to_string(result.error()));
  }
  const int status = result->status;
  TokenAnswer answer;
  const bool parsed = ParseTokenAnswer(result->body, &answer);

  if (status == 200) {
    if (!parsed || answer.access_token.empty()) {
      return Status::Unavailable("token endpoint " + url + " answered 200 without an access_token");
    }
    if (!answer.token_type.empty()) {
      std::string type = answer.token_type;
      std::transform(type.begin(), type.end(), type.begin(), ::tolower);
      if (type != "bearer") {
        return Status::Unavailable("token endpoint " + url + " answered token_type \"" +
                                   FirstLine(answer.token_type, 40) + "\", not Bearer");
      }
    }
    // A missing expires_in is taken as AAD's usual hour; a 401 renews it anyway.
    const std::chrono::seconds lifetime{answer.expires_in >= 0 ? answer.expires_in : 3599};
    const auto ahead = std::min<std::chrono::seconds>(options.token_renew_ahead, lifetime / 2);
    token = std::move(answer.access_token);
    const TimePoint now = clock->Now();
    renew_at = now + lifetime - ahead;
    expires_at = now + lifetime;
    spdlog::debug("graph: new access token from {}, expires in {} s", url, lifetime.count());
    return token;
  }

  std::string detail = "HTTP " + std::to_string(status);
  if (!answer.error.empty()) detail += " " + FirstLine(answer.error, 60);
  if (!answer.error_description.empty()) detail += ": " + FirstLine(answer.error_description);
  spdlog::debug("graph: token endpoint {} refused: {}", url, detail);
  // AAD answers a wrong secret, an unknown client or tenant and a bad scope with 400 or
  // 401; those will not get better by retrying. "temporarily_unavailable" will.
  if ((status == 400 || status == 401 || status == 403) &&
      answer.error != "temporarily_unavailable") {
    return Status::Unauthenticated("token request to " + url + " rejected (" + detail + ")");
  }
  return Status::Unavailable("token endpoint " + url + " failed (" + detail + ")");
}

TokenProvider::TokenProvider(const ClientOptions& options, Clock* clock,
                             std::atomic<uint64_t>* request_counter)
    : impl_(std::make_unique<Impl>(options, clock, request_counter)) {}

TokenProvider::~TokenProvider() = default;

Result<std::string> TokenProvider::GetToken() {
  if (!impl_->config_error.ok()) return impl_->config_error;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const TimePoint now = impl_->clock->Now();
  if (!impl_->token.empty() && now < impl_->renew_at) return impl_->token;
  Result<std::string> fresh = impl_->Fetch();
  // Renewing ahead of expiry is what leaves room for this: while the endpoint is down,
  // the old token still works until it really expires.
  if (!fresh.ok() && fresh.status().code() == Status::Code::kUnavailable && !impl_->token.empty() &&
      now < impl_->expires_at) {
    spdlog::warn("graph: token renewal failed, using the current token: {}",
                 fresh.status().message());
    return impl_->token;
  }
  return fresh;
}

void TokenProvider::Invalidate(std::string_view bad_token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->token.empty() && impl_->token == bad_token) impl_->token.clear();
}

}  // namespace graphmirror::graph
