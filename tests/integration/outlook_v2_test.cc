// Notifications in the Outlook REST API v2.0 dialect (GRAPH.md section 10) reaching the
// live engine: the endpoint is retired, but a payload in its shape must be understood and
// applied (changes, `Missed`, SequenceNumber gaps), never refused as garbage. graphsim
// makes the changes; the test posts the v2.0 bodies itself, before graphsim delivers its
// own, so that only the v2.0 payload can have brought the change in.

#include <httplib.h>

#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

std::string V2Item(const std::string& subscription, int sequence, const std::string& change_type,
                   const std::string& user, const std::string& id) {
  std::string item =
      R"({"@odata.type":"#Microsoft.OutlookServices.Notification","Id":null,"SubscriptionId":")" +
      subscription + R"(","SubscriptionExpirationDateTime":"2026-03-04T00:00:00.0000000Z",)" +
      R"("SequenceNumber":)" + std::to_string(sequence) + R"(,"ChangeType":")" + change_type +
      R"(","Resource":"https://outlook.office.com/api/v2.0/Users(')" + user + "')/Messages";
  if (id.empty()) return item + R"("})";
  return item + "('" + id + R"js(')","ResourceData":{"@odata.type":)js" +
         R"("#Microsoft.OutlookServices.Message","@odata.id":"https://outlook.office.com/)" +
         "api/v2.0/Users('" + user + "')/Messages('" + id + R"js(')","Id":")js" + id + R"("}})";
}

class V2Sender {
 public:
  V2Sender(LiveFixture& f, const std::string& user)
      : f_(f), user_(user), http_("127.0.0.1", f.port()) {
    for (const auto& s : f.sim().Subscriptions()) {
      if (s.resource.find(user) != std::string::npos &&
          s.resource.find("messages") != std::string::npos) {
        subscription_ = s;
      }
    }
    REQUIRE(!subscription_.id.empty());
  }

  // Posts one v2.0 item as the retired service did (ClientState as a header) and lets
  // the worker apply the log, without graphsim delivering anything.
  void Send(int sequence, const std::string& change_type, const std::string& id) {
    const std::string body =
        "{\"value\":[" + V2Item(subscription_.id, sequence, change_type, user_, id) + "]}";
    auto res = http_.Post("/notify", {{"ClientState", subscription_.client_state}}, body,
                          "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 202);
    REQUIRE(f_.live().worker().RunOnce().ok());
  }

  int64_t Rows(const std::string& where) {
    return f_.QueryInt("SELECT count(*) FROM messages WHERE user_id = '" + user_ + "' AND " +
                       where);
  }

 private:
  LiveFixture& f_;
  const std::string user_;
  httplib::Client http_;
  graphsim::SubscriptionView subscription_;
};

TEST_CASE("Outlook REST v2.0 notifications are understood and applied", "[live]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  V2Sender v2(f, user);
  const int64_t log_before = f.QueryInt("SELECT count(*) FROM notification_log");

  f.clock().Advance(std::chrono::minutes(1));
  const std::string created = f.sim().CreateItem(user, "messages", Subject("v2 created"));
  v2.Send(1, "Created", created);
  CHECK(v2.Rows("id = '" + created + "' AND subject = 'v2 created'") == 1);

  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(f.sim().UpdateItem(user, "messages", created, Subject("v2 updated")));
  v2.Send(2, "Updated", created);
  CHECK(v2.Rows("id = '" + created + "' AND subject = 'v2 updated'") == 1);

  f.clock().Advance(std::chrono::minutes(1));
  REQUIRE(f.sim().DeleteItem(user, "messages", created));
  v2.Send(3, "Deleted", created);
  CHECK(v2.Rows("id = '" + created + "'") == 0);
  CHECK(f.QueryInt("SELECT count(*) FROM notification_log") > log_before);
  CHECK(f.PendingLog() == 0);

  // "Missed": changes nobody notified about are read back by a resync, deletions too
  // (which no created or modified round can see).
  f.clock().Advance(std::chrono::minutes(1));
  const std::string unseen = f.sim().CreateItem(user, "messages", Subject("never notified"));
  const std::string gone = f.sim().ItemIds(user, "messages").front();
  REQUIRE(f.sim().DeleteItem(user, "messages", gone));
  v2.Send(4, "Missed", "");
  CHECK(v2.Rows("id = '" + unseen + "'") == 1);
  CHECK(v2.Rows("id = '" + gone + "'") == 0);

  // A gap in SequenceNumber means the same: 5 and 6 were lost, here with a deletion.
  f.clock().Advance(std::chrono::minutes(1));
  const std::vector<std::string> ids = f.sim().ItemIds(user, "messages");
  const std::string lost = ids[0], next = ids[1];
  REQUIRE(f.sim().DeleteItem(user, "messages", lost));
  REQUIRE(f.sim().UpdateItem(user, "messages", next, Subject("next")));
  v2.Send(7, "Updated", next);
  CHECK(v2.Rows("id = '" + next + "' AND subject = 'next'") == 1);
  CHECK(v2.Rows("id = '" + lost + "'") == 0);
  CHECK(f.live().receiver().stats().sequence_gaps == 1);
  CHECK(f.live().receiver().stats().rejected_bad_client_state == 0);

  // Graph's own deliveries of the same changes change nothing more.
  f.Deliver();
  f.RequireExactMirrorOfAll();
}

}  // namespace
}  // namespace graphmirror::test
