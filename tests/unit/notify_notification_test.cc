#include <catch2/catch.hpp>
#include <string>

#include "engine/notify/notification.h"

namespace graphmirror::notify {
namespace {

// As Graph documents and sends it: two subscriptions of one tenant, no changeNotification
// id, PascalCase resource and @odata.type, a 7-digit fraction with an offset.
const char kGraphBody[] =
    R"({"value":[)"
    R"({"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07",)"
    R"("subscriptionExpirationDateTime":"2022-01-02T03:12:18.2257768+05:30",)"
    R"("changeType":"created","resource":"Users/a1b2/Messages/AAMkAD=-_1",)"
    R"("resourceData":{"@odata.type":"#Microsoft.Graph.Message",)"
    R"("@odata.id":"Users/a1b2/Messages/AAMkAD=-_1",)"
    R"("@odata.etag":"W/\"CQAAABYAAAD\"","id":"AAMkAD=-_1"},)"
    R"("clientState":"secretClientValue","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"},)"
    R"({"subscriptionId":"sub-2","subscriptionExpirationDateTime":"2026-01-01T00:00:00Z",)"
    R"("changeType":"updated","resource":"users/u2@84bd8158/messages/Id_2-x=",)"
    R"("resourceData":{"@odata.type":"#microsoft.graph.message","@odata.etag":"W/\"e2\""},)"
    R"("clientState":"cs2","tenantId":"t","unknownField":{"nested":[1,2.5e3,true,null]}})"
    R"(]})";

TEST_CASE("notification: Graph's change notification shapes", "[notify]") {
  auto parsed = ParseNotificationCollection(kGraphBody);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);

  const Notification& a = (*parsed)[0];
  CHECK(a.id.empty());
  CHECK(a.subscription_id == "7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
  CHECK(a.client_state == "secretClientValue");
  CHECK(a.change_type == "created");
  CHECK(a.lifecycle_event.empty());
  CHECK(a.resource == "Users/a1b2/Messages/AAMkAD=-_1");
  CHECK(a.resource_id == "AAMkAD=-_1");
  CHECK(a.etag == "W/\"CQAAABYAAAD\"");
  CHECK(a.tenant_id == "84bd8158-6d4d-4958-8b9f-9d6445542f95");
  CHECK_FALSE(a.has_encrypted_content);

  const Notification& b = (*parsed)[1];
  CHECK(b.subscription_id == "sub-2");
  CHECK(b.change_type == "updated");
  // No resourceData.id: taken from the resource path.
  CHECK(b.resource_id == "Id_2-x=");
  CHECK(b.etag == "W/\"e2\"");
  CHECK(b.client_state == "cs2");
}

// Outlook REST API v2.0 (GRAPH.md section 10): PascalCase, an absolute resource URL, a
// null Id, SequenceNumber; ClientState comes as an HTTP header, not in the body.
const char kOutlookV2Body[] =
    R"js({"value":[{"@odata.type":"#Microsoft.OutlookServices.Notification","Id":null,)js"
    R"js("SubscriptionId":"Mjk3QNERDQQ==","SubscriptionExpirationDateTime":)js"
    R"js("2015-04-23T22:46:13.8805047Z","SequenceNumber":3,"ChangeType":"Created",)js"
    R"js("Resource":"https://outlook.office.com/api/v2.0/Users('ddfcd489-628b@1717622f')/)js"
    R"js(Messages('AAMkADNkNmAA=')","ResourceData":{)js"
    R"js("@odata.type":"#Microsoft.OutlookServices.Message",)js"
    R"js("@odata.id":"https://outlook.office.com/api/v2.0/Users('ddfcd489-628b@1717622f')/)js"
    R"js(Messages('AAMkADNkNmAA=')",)js"
    R"js("@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"","Id":"AAMkADNkNmAA="}},)js"
    R"js({"@odata.type":"#Microsoft.OutlookServices.Notification","Id":null,)js"
    R"js("SubscriptionId":"Mjk3QNERDQQ==","SequenceNumber":4,"ChangeType":"Missed",)js"
    R"js("Resource":"https://outlook.office.com/api/v2.0/Users('ddfcd489-628b@1717622f')/)js"
    R"js(Messages"}]})js";

TEST_CASE("notification: the Outlook REST v2.0 dialect", "[notify]") {
  auto parsed = ParseNotificationCollection(kOutlookV2Body);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  const Notification& created = (*parsed)[0];
  CHECK(created.id.empty());
  CHECK(created.subscription_id == "Mjk3QNERDQQ==");
  CHECK(created.change_type == "created");
  CHECK(created.lifecycle_event.empty());
  CHECK(created.resource_id == "AAMkADNkNmAA=");
  CHECK(created.etag == "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"");
  CHECK(created.sequence_number == 3);
  CHECK(created.client_state.empty());
  // "Missed" is v2.0's lifecycle event, spelled as a change type.
  const Notification& missed = (*parsed)[1];
  CHECK(missed.change_type.empty());
  CHECK(missed.lifecycle_event == "missed");
  CHECK(missed.sequence_number == 4);
  CHECK(missed.resource_id.empty());
  // Graph's dialect has no sequence numbers; a malformed one is refused.
  auto graph = ParseNotificationCollection(kGraphBody);
  REQUIRE(graph.ok());
  CHECK_FALSE((*graph)[0].sequence_number.has_value());
  CHECK_FALSE(
      ParseNotificationCollection(
          R"({"value":[{"SubscriptionId":"s","ChangeType":"Updated","SequenceNumber":"x"}]})")
          .ok());
  auto updated = ParseNotificationCollection(
      R"js({"value":[{"SubscriptionId":"s","ChangeType":"Updated","SequenceNumber":null,)js"
      R"js("ClientState":"in-body","Resource":"Users('u')/Events('e1')"}]})js");
  REQUIRE(updated.ok());
  CHECK((*updated)[0].change_type == "updated");
  CHECK((*updated)[0].client_state == "in-body");
  CHECK((*updated)[0].resource_id == "e1");
  CHECK_FALSE((*updated)[0].sequence_number.has_value());
}

TEST_CASE("notification: lifecycle items, organizationId and nulls", "[notify]") {
  const char body[] =
      R"({"value":[)"
      R"({"subscriptionId":"s1","subscriptionExpirationDateTime":"2026-03-04T05:06:07.1-08:00",)"
      R"("tenantId":null,"organizationId":"org-1","clientState":"cs",)"
      R"("lifecycleEvent":"reauthorizationRequired","resource":"Subscriptions/s1",)"
      R"("resourceData":null,"changeType":null,"id":null,"encryptedContent":null},)"
      R"({"subscriptionId":"s1","lifecycleEvent":"missed","clientState":null,)"
      R"("organizationId":"org-1","tenantId":"tenant-1"},)"
      R"({"subscriptionId":"s1","lifecycleEvent":"someFutureEvent"})"
      R"(],"validationTokens":null})";
  auto parsed = ParseNotificationCollection(body);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  const Notification& a = (*parsed)[0];
  CHECK(a.lifecycle_event == "reauthorizationRequired");
  CHECK(a.change_type.empty());
  CHECK(a.tenant_id == "org-1");
  CHECK(a.resource == "Subscriptions/s1");
  CHECK(a.resource_id.empty());  // a subscription, not an item
  CHECK(a.etag.empty());
  CHECK(a.id.empty());
  CHECK_FALSE(a.has_encrypted_content);
  const Notification& b = (*parsed)[1];
  CHECK(b.lifecycle_event == "missed");
  CHECK(b.client_state.empty());
  CHECK(b.tenant_id == "tenant-1");
  CHECK((*parsed)[2].lifecycle_event == "someFutureEvent");
}

TEST_CASE("notification: rich items carry their encryptedContent and the body its tokens",
          "[notify]") {
  const char body[] =
      R"({"validationTokens":["eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"],"value":[)"
      R"({"id":"lsgTZMr9KwAAA","subscriptionId":"s1","changeType":"Updated",)"
      R"j("resource":"Users('u-1')/messages('AAMk%3D%3D')","clientState":"cs",)j"
      R"("resourceData":{"@odata.type":"#Microsoft.Graph.Message","id":"AAMk=="},)"
      R"("encryptedContent":{"data":"ZGF0YQ==","dataKey":"a2V5","dataSignature":"c2ln",)"
      R"("encryptionCertificateId":"cert-1","encryptionCertificateThumbprint":"AB12"}}]})";
  auto parsed = ParseNotificationCollection(body);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 1);
  const Notification& n = (*parsed)[0];
  CHECK(n.id == "lsgTZMr9KwAAA");
  CHECK(n.change_type == "updated");  // folded
  CHECK(n.resource_id == "AAMk==");
  CHECK(n.has_encrypted_content);
  CHECK(n.encrypted.data == "ZGF0YQ==");
  CHECK(n.encrypted.data_key == "a2V5");
  CHECK(n.encrypted.data_signature == "c2ln");
  CHECK(n.encrypted.certificate_id == "cert-1");
  CHECK(n.encrypted.certificate_thumbprint == "AB12");

  auto whole = ParseNotificationBody(body);
  REQUIRE(whole.ok());
  CHECK(whole->items.size() == 1);
  CHECK(whole->validation_tokens ==
        std::vector<std::string>{"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"});
  auto not_strings = ParseNotificationBody(R"({"value":[],"validationTokens":[1]})");
  CHECK_FALSE(not_strings.ok());
  auto null_tokens = ParseNotificationBody(R"({"value":[],"validationTokens":null})");
  REQUIRE(null_tokens.ok());
  CHECK(null_tokens->validation_tokens.empty());
}

TEST_CASE("notification: empty collections and unknown top-level fields", "[notify]") {
  auto empty = ParseNotificationCollection(R"({"value":[]})");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto spaced =
      ParseNotificationCollection(" \r\n{ \"@odata.context\" : \"x\" , \"value\" : [ ] }\n");
  REQUIRE(spaced.ok());
  CHECK(spaced->empty());
  // Escaped keys are keys all the same.
  auto escaped =
      ParseNotificationCollection(R"({"value":[{"subscr\u0069ptionId":"s","changeType":"deleted",)"
                                  R"j("resource":"/users/u/mailFolders('x')/messages('m1')"}]})j");
  REQUIRE(escaped.ok());
  REQUIRE(escaped->size() == 1);
  CHECK((*escaped)[0].subscription_id == "s");
  CHECK((*escaped)[0].resource_id == "m1");
}

TEST_CASE("notification: malformed bodies are InvalidArgument with one line", "[notify]") {
  const char* bad[] = {
      "",
      "   ",
      "null",
      "[]",
      R"("value")",
      "42",
      "{}",
      R"({"value":null})",
      R"({"value":{}})",
      R"({"value":"[]"})",
      R"({"value":[1]})",
      R"({"value":[null]})",
      R"({"value":[[]]})",
      R"({"value":[{"changeType":"created"}]})",
      R"({"value":[{"subscriptionId":null,"changeType":"created"}]})",
      R"({"value":[{"subscriptionId":"","changeType":"created"}]})",
      R"({"value":[{"subscriptionId":7,"changeType":"created"}]})",
      R"({"value":[{"subscriptionId":"s"}]})",
      R"({"value":[{"subscriptionId":"s","changeType":null,"lifecycleEvent":null}]})",
      R"({"value":[{"subscriptionId":"s","changeType":""}]})",
      R"({"value":[{"subscriptionId":"s","changeType":["created"]}]})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","clientState":5}]})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","resourceData":"x"}]})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","resourceData":{"id":1}}]})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","encryptedContent":7}]})",
      R"({"value":[]}{"value":[]})",
      R"({"value":[]} x)",
      R"({"value":[],"x":tru})",
      R"({"value":[],"x":[1,]})",
      R"({"value":[],"x":"\x"})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","x":01}]})",
      R"({"value":[],"validationTokens":[nul]})",
      "{\"value\":[],\"x\":\"a\nb\"}",  // raw control character in a string
      R"({value:[]})",
  };
  for (const char* body : bad) {
    INFO(body);
    auto parsed = ParseNotificationCollection(body);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Status::Code::kInvalidArgument);
    CHECK(parsed.status().message().find('\n') == std::string::npos);
    CHECK(parsed.status().message().rfind("notification: ", 0) == 0);
  }
}

TEST_CASE("notification: every truncation of a valid body fails", "[notify]") {
  const std::string bodies[] = {
      kGraphBody,
      R"({"value":[]})",
      R"({"value":[{"subscriptionId":"s","lifecycleEvent":"missed","x":12345}]})",
      R"({"value":[{"subscriptionId":"s","changeType":"created","x":-1.5e10,"y":true}]})",
  };
  for (const std::string& body : bodies) {
    REQUIRE(ParseNotificationCollection(body).ok());
    for (size_t n = 0; n < body.size(); ++n) {
      const std::string prefix = body.substr(0, n);
      INFO(prefix);
      CHECK_FALSE(ParseNotificationCollection(prefix).ok());
    }
  }
}

TEST_CASE("notification: bytes that are not UTF-8 are refused", "[notify]") {
  auto parsed = ParseNotificationCollection(
      "{\"value\":[{\"subscriptionId\":\"s\xff\",\"changeType\":\"created\"}]}");
  CHECK_FALSE(parsed.ok());
}

TEST_CASE("notification: ResourceItemId reads every documented spelling", "[notify]") {
  CHECK(ResourceItemId("Users/a1b2/Messages/AAMkAD=-_1") == "AAMkAD=-_1");
  CHECK(ResourceItemId("users/a1b2@84bd8158/messages/AAMkAD=-_1") == "AAMkAD=-_1");
  CHECK(ResourceItemId("Users('a1b2')/messages('AAMkAD=-_1')") == "AAMkAD=-_1");
  CHECK(ResourceItemId("/users/a1b2/mailFolders('x')/messages('AAMkAD=-_1')") == "AAMkAD=-_1");
  CHECK(ResourceItemId("USERS/u/MESSAGES/CaseKept") == "CaseKept");
  CHECK(ResourceItemId("me/messages/m1") == "m1");
  CHECK(ResourceItemId("/users/u/events/e1") == "e1");
  CHECK(ResourceItemId("Users('u')/Events('e1')") == "e1");
  CHECK(ResourceItemId("/users/u/contactFolders('f')/contacts('c1')") == "c1");
  CHECK(ResourceItemId("users/u/mailFolders/inbox/messages/m2") == "m2");
  CHECK(ResourceItemId("Users('u')/messages(m3)") == "m3");
  // Percent-encoded ids are decoded; OData doubles a quote inside a quoted key.
  CHECK(ResourceItemId("Users/u/Messages/AAMk%3D%3D") == "AAMk==");
  CHECK(ResourceItemId("Users('u')/messages('a%2Bb%3D')") == "a+b=");
  CHECK(ResourceItemId("Users('u')/messages('it''s')") == "it's");
  CHECK(ResourceItemId("Users('u')/messages('a/b')") == std::nullopt);  // not an id
  CHECK(ResourceItemId("Users/u/Messages/m1?$select=subject") == "m1");
  CHECK(ResourceItemId("https://outlook.office.com/api/v2.0/Users('u@t')/Messages('AAMk=')") ==
        "AAMk=");
  CHECK(ResourceItemId("HTTPS://outlook.office.com/api/v2.0/Users('u')/Events('e1')") == "e1");
  CHECK(ResourceItemId("https://outlook.office.com") == std::nullopt);
  CHECK(ResourceItemId("https://outlook.office.com/api/v2.0/Users('u')/Messages") == std::nullopt);

  CHECK(ResourceItemId("") == std::nullopt);
  CHECK(ResourceItemId("/") == std::nullopt);
  CHECK(ResourceItemId("Subscriptions/s1") == std::nullopt);
  CHECK(ResourceItemId("Users/u/Messages") == std::nullopt);
  CHECK(ResourceItemId("Users/u/Messages/") == std::nullopt);
  CHECK(ResourceItemId("Users/u/mailFolders/m1") == std::nullopt);
  CHECK(ResourceItemId("Users/u/Messages/m1/attachments/a1") == std::nullopt);
  CHECK(ResourceItemId("Users('u')/messages('m1") == std::nullopt);
  CHECK(ResourceItemId("Users('u')/messages('m1')x") == std::nullopt);
  CHECK(ResourceItemId("Users('u')/messages('')") == std::nullopt);
  CHECK(ResourceItemId("Users/u/Messages/m%2") == std::nullopt);
  CHECK(ResourceItemId("Users/u/Messages/m%0A1") == std::nullopt);
  CHECK(ResourceItemId("Users//Messages/m1") == std::nullopt);
}

}  // namespace
}  // namespace graphmirror::notify
