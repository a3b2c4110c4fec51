// Shared setup for graphsim's tests: a Simulator on a ManualClock, served on a loopback
// port, and an httplib client that talks real HTTP to it.

#ifndef GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_TEST_UTIL_H_
#define GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_TEST_UTIL_H_

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "graphmirror/clock.h"
#include "tools/graphsim/graphsim.h"

namespace graphsim_test {

using Json = nlohmann::json;

// 2026-01-01T12:00:00Z: after all seeded data, like a real "now".
inline graphmirror::TimePoint TestStart() {
  return graphmirror::TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}} +
         std::chrono::hours(12);
}

inline graphsim::Options SmallOptions() {
  graphsim::Options options;
  options.users = 2;
  options.messages = 30;
  options.events = 10;
  options.contacts = 10;
  return options;
}

struct Reply {
  int status = 0;  // 0: no response (connection error)
  Json body;
  httplib::Headers headers;
  std::string raw;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A Graph error answer: the status, error.code and (if given) error.message.
inline void CheckError(const Reply& r, int status, const std::string& code,
                       const std::string& message = "") {
  INFO(r.raw);
  CHECK(r.status == status);
  CHECK(r.body["error"]["code"] == code);
  if (!message.empty()) CHECK(r.body["error"]["message"] == message);
}

class SimFixture {
 public:
  explicit SimFixture(graphsim::Options options = SmallOptions())
      : clock_(TestStart()), sim_(options, &clock_), server_(&sim_) {
    graphmirror::Status status = server_.Start();
    if (!status.ok()) throw std::runtime_error(status.ToString());
    client_ = NewClient();
  }

  graphmirror::ManualClock& clock() { return clock_; }
  graphsim::Simulator& sim() { return sim_; }
  graphsim::Server& server() { return server_; }
  std::string user(int i) const { return sim_.UserIds().at(static_cast<size_t>(i)); }

  std::unique_ptr<httplib::Client> NewClient() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
    client->set_connection_timeout(5, 0);
    client->set_read_timeout(10, 0);
    return client;
  }

  // Form POST to the token endpoint.
  Reply RequestToken(const std::string& secret, const std::string& client_id = "graphsim",
                     const std::string& tenant = "common",
                     const std::string& scope = "https://graph.microsoft.com/.default") {
    httplib::Params form{{"client_id", client_id},
                         {"client_secret", secret},
                         {"scope", scope},
                         {"grant_type", "client_credentials"}};
    return ToReply(client_->Post(("/" + tenant + "/oauth2/v2.0/token").c_str(), form));
  }

  // A valid bearer token, fetched once (and again after Refresh()).
  const std::string& Token() {
    if (token_.empty()) {
      Reply r = RequestToken("graphsim-secret");
      token_ = r.body.value("access_token", "");
    }
    return token_;
  }
  void Refresh() { token_.clear(); }
  // Sends `token` from now on (until Refresh()), e.g. one for a SharePoint site.
  void UseToken(std::string token) { token_ = std::move(token); }

  httplib::Headers Auth(httplib::Headers extra = {}) {
    extra.emplace("Authorization", "Bearer " + Token());
    return extra;
  }

  Reply Get(const std::string& path, httplib::Headers extra = {}) {
    return ToReply(client_->Get(path.c_str(), Auth(std::move(extra))));
  }
  Reply Post(const std::string& path, const Json& body, httplib::Headers extra = {}) {
    return ToReply(
        client_->Post(path.c_str(), Auth(std::move(extra)), body.dump(), "application/json"));
  }
  Reply Patch(const std::string& path, const Json& body, httplib::Headers extra = {}) {
    return ToReply(
        client_->Patch(path.c_str(), Auth(std::move(extra)), body.dump(), "application/json"));
  }
  Reply Delete(const std::string& path, httplib::Headers extra = {}) {
    return ToReply(client_->Delete(path.c_str(), Auth(std::move(extra))));
  }
  // Follows an absolute nextLink (it must point back at this server).
  Reply GetLink(const std::string& link) {
    std::string base = server_.base_url();
    if (link.rfind(base, 0) != 0) throw std::runtime_error("foreign nextLink: " + link);
    return Get(link.substr(base.size()));
  }
  httplib::Client& client() { return *client_; }

  static Reply ToReply(const httplib::Result& result) {
    Reply reply;
    if (!result) return reply;
    reply.status = result->status;
    reply.headers = result->headers;
    reply.raw = result->body;
    reply.body = Json::parse(result->body, nullptr, /*allow_exceptions=*/false);
    return reply;
  }

 private:
  graphmirror::ManualClock clock_;
  graphsim::Simulator sim_;
  graphsim::Server server_;
  std::unique_ptr<httplib::Client> client_;  // destroyed before the server stops
  std::string token_;
};

// The id of the user's default Contacts folder: a contact's parentFolderId (GET
// /contactFolders lists the folders under it, not the folder itself).
inline std::string DefaultContactFolder(SimFixture& f, const std::string& user) {
  Reply r = f.Get("/v1.0/users/" + user + "/contacts?$top=1&$select=parentFolderId");
  if (r.status != 200 || r.body["value"].empty()) throw std::runtime_error("no contact: " + r.raw);
  return r.body["value"][0]["parentFolderId"].get<std::string>();
}

}  // namespace graphsim_test

#endif  // GRAPHMIRROR_TESTS_GRAPHSIM_GRAPHSIM_TEST_UTIL_H_
