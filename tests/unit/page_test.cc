#include "engine/graph/page.h"

#include <catch2/catch.hpp>
#include <string>

namespace graphmirror::graph {
namespace {

const char kMessagePage[] =
    R"({"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('u')/messages",)"
    R"("value":[)"
    R"({"@odata.etag":"W/\"CQAAABYAAAA\"","id":"AAMkAD=-_1","createdDateTime":"2026-01-02T03:04:05Z",)"
    R"("lastModifiedDateTime":"2026-01-02T08:34:05.1234567+05:30","changeKey":"CQAAABYAAAA",)"
    R"("receivedDateTime":"2026-01-02T03:04:04.5Z","subject":"Hello \"you\"\nthere",)"
    R"("bodyPreview":"Hi \u00e9t\u00e9","isRead":true,"parentFolderId":"AQMkInbox",)"
    R"("from":{"emailAddress":{"name":"Ann Smith","address":"ann@example.com"}},)"
    R"("toRecipients":[{"emailAddress":{"name":"B","address":"b@example.com"}}],)"
    R"("flag":{"flagStatus":"notFlagged"},"importance":"normal","size":1234.5e1},)"
    R"({"id":"AAMkAD2","createdDateTime":"2026-01-03T00:00:00.1Z","subject":null,"from":null,)"
    R"("isRead":null,"bodyPreview":null,"lastModifiedDateTime":null})"
    R"(],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/u/messages?$skip=10"})";

TEST_CASE("page: messages are extracted with their exact JSON", "[page]") {
  auto page = ParsePage(Collection::kMessages, kMessagePage);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 2);
  CHECK(page->next_link == "https://graph.microsoft.com/v1.0/users/u/messages?$skip=10");
  CHECK(page->delta_link.empty());
  CHECK(page->removed_ids.empty());

  const MirrorItem& m = page->items[0];
  CHECK(m.id == "AAMkAD=-_1");
  CHECK(m.created_at == "2026-01-02T03:04:05.0000000Z");
  CHECK(m.modified_at == "2026-01-02T03:04:05.1234567Z");
  CHECK(m.received_at == "2026-01-02T03:04:04.5000000Z");
  CHECK(m.change_key == "CQAAABYAAAA");
  CHECK(m.subject == "Hello \"you\"\nthere");
  CHECK(m.body_preview == "Hi \xc3\xa9t\xc3\xa9");
  CHECK(m.is_read);
  CHECK(m.folder_id == "AQMkInbox");
  CHECK(m.from_address == "ann@example.com");
  CHECK(m.from_name == "Ann Smith");
  // The exact text, escapes and all.
  const std::string body = kMessagePage;
  const size_t begin = body.find("{\"@odata.etag\"");
  const size_t end = body.find(",{\"id\":\"AAMkAD2\"");
  CHECK(m.json == body.substr(begin, end - begin));

  const MirrorItem& n = page->items[1];
  CHECK(n.id == "AAMkAD2");
  CHECK(n.created_at == "2026-01-03T00:00:00.1000000Z");
  CHECK(n.subject.empty());
  CHECK(n.from_address.empty());
  CHECK(n.from_name.empty());
  CHECK(n.body_preview.empty());
  CHECK(n.modified_at.empty());
  CHECK_FALSE(n.is_read);
  CHECK(n.json.front() == '{');
  CHECK(n.json.back() == '}');
}

TEST_CASE("page: raw JSON excludes whitespace around items", "[page]") {
  const char body[] =
      "{ \"value\" : [\n  {\"id\":\"a\", \"createdDateTime\":\"2026-01-01T00:00:00Z\"}  ,\n"
      "  {\"id\":\"b\",\"createdDateTime\":\"2026-01-01T00:00:00Z\"}\n ]\n}\n";
  auto page = ParsePage(Collection::kContacts, body);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 2);
  CHECK(page->items[0].json == "{\"id\":\"a\", \"createdDateTime\":\"2026-01-01T00:00:00Z\"}");
  CHECK(page->items[1].json == "{\"id\":\"b\",\"createdDateTime\":\"2026-01-01T00:00:00Z\"}");
}

TEST_CASE("page: events normalize UTC start/end and keep other zones as given", "[page]") {
  const char body[] = R"({"value":[
    {"id":"e1","createdDateTime":"2026-01-01T00:00:00Z","subject":"Standup",
     "start":{"dateTime":"2026-02-01T10:00:00.0000000","timeZone":"UTC"},
     "end":{"timeZone":"UTC","dateTime":"2026-02-01T10:30:00.0000000"}},
    {"id":"e2","createdDateTime":"2026-01-01T00:00:00Z",
     "start":{"dateTime":"2026-02-01T10:00:00.0000000","timeZone":"Pacific Standard Time"},
     "end":{"dateTime":"2026-02-01T11:00:00"}},
    {"id":"e3","createdDateTime":"2026-01-01T00:00:00Z","start":null}
  ],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/u/calendarView/delta?$deltatoken=x"})";
  auto page = ParsePage(Collection::kEvents, body);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 3);
  CHECK(page->items[0].subject == "Standup");
  CHECK(page->items[0].start_at == "2026-02-01T10:00:00.0000000Z");
  CHECK(page->items[0].end_at == "2026-02-01T10:30:00.0000000Z");
  CHECK(page->items[1].start_at == "2026-02-01T10:00:00.0000000");
  CHECK(page->items[1].end_at == "2026-02-01T11:00:00.0000000Z");  // no zone: UTC
  CHECK(page->items[2].start_at.empty());
  CHECK(page->items[2].end_at.empty());
  CHECK(page->next_link.empty());
  CHECK(page->delta_link ==
        "https://graph.microsoft.com/v1.0/users/u/calendarView/delta?$deltatoken=x");
}

TEST_CASE("page: events say their type, series and scheduled start", "[page][recurrence]") {
  // The shapes of "event resource type" (v1.0): originalStart is an Edm.DateTimeOffset.
  const std::string body =
      R"({"value":[)"
      R"({"id":"m","createdDateTime":"2026-01-02T03:04:05Z","type":"seriesMaster",)"
      R"("seriesMasterId":null,"originalStart":null,"recurrence":{"pattern":{"type":"daily",)"
      R"("interval":1},"range":{"type":"noEnd","startDate":"2026-01-05"}}},)"
      R"({"id":"o","createdDateTime":"2026-01-02T03:04:05Z","type":"occurrence",)"
      R"("seriesMasterId":"m","originalStart":"2026-01-05T09:00:00Z","recurrence":null,)"
      R"("start":{"dateTime":"2026-01-05T09:00:00.0000000","timeZone":"UTC"}}]})";
  auto page = ParsePage(Collection::kEvents, body);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 2);
  CHECK(page->items[0].event_type == "seriesMaster");
  CHECK_FALSE(page->items[0].IsOccurrence());
  CHECK(page->items[0].series_master_id.empty());
  CHECK(page->items[1].IsOccurrence());
  CHECK(page->items[1].series_master_id == "m");
  CHECK(page->items[1].original_start == "2026-01-05T09:00:00.0000000Z");

  // Without `type` (a $select that left it out), seriesMasterId says enough.
  auto untyped = ParsePage(Collection::kEvents,
                           R"({"value":[{"id":"o","createdDateTime":"2026-01-02T03:04:05Z",)"
                           R"("seriesMasterId":"m"}]})");
  REQUIRE(untyped.ok());
  CHECK(untyped->items[0].IsOccurrence());

  // An occurrence that does not name its series cannot be kept with it.
  auto orphan = ParsePage(Collection::kEvents,
                          R"({"value":[{"id":"o","createdDateTime":"2026-01-02T03:04:05Z",)"
                          R"("type":"exception"}]})");
  REQUIRE_FALSE(orphan.ok());
  CHECK(orphan.status().message().find("seriesMasterId") != std::string::npos);
  auto bad = ParsePage(Collection::kEvents,
                       R"({"value":[{"id":"o","createdDateTime":"2026-01-02T03:04:05Z",)"
                       R"("type":"occurrence","seriesMasterId":"m","originalStart":"soon"}]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("originalStart") != std::string::npos);
}

TEST_CASE("page: contacts", "[page]") {
  const char body[] = R"({"value":[{"createdDateTime":"2026-01-01T00:00:00Z","id":"c1",
    "displayName":"Bob","emailAddresses":[{"name":"Bob","address":"bob@a.com"},
    {"address":"bob@b.com"},{"address":null},null],"changeKey":"k"},
    {"id":"c2","createdDateTime":"2026-01-01T00:00:00Z","emailAddresses":null}]})";
  auto page = ParsePage(Collection::kContacts, body);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 2);
  CHECK(page->items[0].display_name == "Bob");
  CHECK(page->items[0].emails == std::vector<std::string>{"bob@a.com", "bob@b.com"});
  CHECK(page->items[0].change_key == "k");
  CHECK(page->items[1].emails.empty());
  CHECK(page->items[1].display_name.empty());
}

TEST_CASE("page: empty page and delta removals", "[page]") {
  auto empty = ParsePage(Collection::kMessages, R"({"value":[]})");
  REQUIRE(empty.ok());
  CHECK(empty->items.empty());

  auto delta = ParsePage(Collection::kMessages,
                         R"({"value":[{"@odata.type":"#microsoft.graph.message","id":"gone",)"
                         R"("@removed":{"reason":"deleted"}},)"
                         R"({"id":"kept","createdDateTime":"2026-01-01T00:00:00Z"}],)"
                         R"("@odata.deltaLink":"https://g/v1.0/x?$deltatoken=1"})");
  REQUIRE(delta.ok());
  CHECK(delta->removed_ids == std::vector<std::string>{"gone"});
  REQUIRE(delta->items.size() == 1);
  CHECK(delta->items[0].id == "kept");
  CHECK(delta->delta_link == "https://g/v1.0/x?$deltatoken=1");
}

TEST_CASE("page: bad bodies are Corruption with a one-line message", "[page]") {
  const char* bad[] = {
      "",
      "not json",
      "<html>502 Bad Gateway</html>",
      "[1,2]",
      "{}",
      R"({"value":{}})",
      R"({"value":[1]})",
      R"({"value":[{"createdDateTime":"2026-01-01T00:00:00Z"}]})",           // no id
      R"({"value":[{"id":"","createdDateTime":"2026-01-01T00:00:00Z"}]})",   // empty id
      R"({"value":[{"id":7,"createdDateTime":"2026-01-01T00:00:00Z"}]})",    // id not a string
      R"({"value":[{"id":"a"}]})",                                           // no created
      R"({"value":[{"id":"a","createdDateTime":"2026-13-01T00:00:00Z"}]})",  // month 13
      R"({"value":[{"id":"a","createdDateTime":null}]})",
      R"({"value":[{"id":"a","createdDateTime":"2026-01-01T00:00:00Z",)"
      R"("lastModifiedDateTime":"yesterday"}]})",
      R"({"value":[{"id":"a","createdDateTime":"2026-01-01T00:00:00Z","x":nonsense}]})",
      R"({"value":[{"id":"a","createdDateTime":"2026-01-01T00:00:00Z","x":[1,]}]})",
      R"({"value":[],"@odata.context":tru})",
      R"({"value":[]} {"value":[]})",
      R"({"value":[]}])",
      R"({"value":[{"id":"a","createdDateTime":"2026-01-01T00:00:00Z","isRead":"yes"}]})",
  };
  for (const char* body : bad) {
    INFO(body);
    auto page = ParsePage(Collection::kMessages, body);
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == Status::Code::kCorruption);
    CHECK(page.status().message().find('\n') == std::string::npos);
    CHECK_FALSE(page.status().message().empty());
  }
}

TEST_CASE("page: error messages name the item", "[page]") {
  auto page = ParsePage(Collection::kMessages,
                        R"({"value":[{"id":"a","createdDateTime":"2026-01-01T00:00:00Z"},)"
                        R"({"id":"b\nc","createdDateTime":"garbage"}]})");
  REQUIRE_FALSE(page.ok());
  const std::string& msg = page.status().message();
  CHECK(msg.find("item 1") != std::string::npos);
  CHECK(msg.find("createdDateTime") != std::string::npos);
  CHECK(msg.find("garbage") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

TEST_CASE("page: every truncation of a valid body fails", "[page]") {
  const std::string body = kMessagePage;
  REQUIRE(ParsePage(Collection::kMessages, body).ok());
  for (size_t n = 0; n < body.size(); ++n) {
    auto page = ParsePage(Collection::kMessages, std::string_view(body).substr(0, n));
    INFO("prefix of " << n << " bytes");
    CHECK_FALSE(page.ok());
  }
}

}  // namespace
TEST_CASE("page: a projection keeps only the named properties, id and etag", "[page]") {
  const std::vector<std::string> keep = {"subject", "from", "createdDateTime"};
  const char body[] =
      "{\"value\":[ {\"@odata.etag\" : \"W/\\\"e1\\\"\" ,\n \"id\":\"m1\", "
      "\"body\":{\"content\":\"big\"},"
      "\"subj\\u0065ct\":\"a, \\\"b\\\"\",\"from\":{\"emailAddress\":{\"address\":\"x@y\"}} ,"
      "\"createdDateTime\":\"2026-01-01T00:00:00Z\",\"isRead\":true\t} ,"
      "{\"id\":\"m2\",\"createdDateTime\":\"2026-01-01T00:00:00Z\"}]}";
  auto page = ParsePage(Collection::kMessages, body, &keep);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 2);
  const MirrorItem& m = page->items[0];
  // Members as the body wrote them (escapes kept), the others gone, valid JSON.
  CHECK(m.json ==
        "{\"@odata.etag\" : \"W/\\\"e1\\\"\",\"id\":\"m1\",\"subj\\u0065ct\":\"a, \\\"b\\\"\","
        "\"from\":{\"emailAddress\":{\"address\":\"x@y\"}},\"createdDateTime\":\"2026-01-01T00:00:"
        "00Z\"}");
  // Columns are read from every property, kept or not.
  CHECK(m.is_read);
  CHECK(m.subject == "a, \"b\"");
  CHECK(m.from_address == "x@y");
  CHECK(page->items[1].json == "{\"id\":\"m2\",\"createdDateTime\":\"2026-01-01T00:00:00Z\"}");
  auto again = ParseItem(Collection::kMessages, m.json, &keep);
  REQUIRE(again.ok());
  CHECK(again->json == m.json);  // projecting twice changes nothing
}

TEST_CASE("page: ParseItem reads one item document and nothing else", "[page]") {
  auto item = ParseItem(Collection::kEvents,
                        R"( {"id":"e1","createdDateTime":"2026-01-01T00:00:00Z",)"
                        R"("start":{"dateTime":"2026-02-01T10:00:00.0000000","timeZone":"UTC"}} )");
  REQUIRE(item.ok());
  CHECK(item->id == "e1");
  CHECK(item->start_at == "2026-02-01T10:00:00.0000000Z");
  for (const char* bad : {"", "[]", R"({"id":"e1"})", R"({"id":"e1","createdDateTime":"x"})",
                          R"({"id":"e1","createdDateTime":"2026-01-01T00:00:00Z"} {})",
                          R"({"id":"e1","createdDateTime":"2026-01-01T00:00:00Z")",
                          R"({"id":"e1","@removed":{"reason":"deleted"}})", "null"}) {
    INFO(bad);
    auto refused = ParseItem(Collection::kEvents, bad);
    CHECK_FALSE(refused.ok());
    CHECK(refused.status().code() == Status::Code::kCorruption);
  }
}

TEST_CASE("page: an item read by id is stored as the same item read from a page", "[page]") {
  // A GET by id answers with the request's @odata.context; a page's items have none.
  const std::string listed =
      R"({"@odata.etag":"W/\"1\"","id":"c1","createdDateTime":"2026-01-01T00:00:00Z"})";
  auto page = ParsePage(Collection::kContacts, R"({"value":[)" + listed + "]}");
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].json == listed);
  for (Collection collection : {Collection::kContacts, Collection::kMessages}) {
    INFO(CollectionName(collection));
    auto got =
        ParseItem(collection,
                  R"({"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#x",)"
                  R"("@odata.etag":"W/\"1\"","id":"c1","createdDateTime":"2026-01-01T00:00:00Z"})");
    REQUIRE(got.ok());
    CHECK(got->json == listed);
  }
}

TEST_CASE("page: rich content takes the notification's id and sheds annotations at any depth",
          "[page]") {
  // The shape Graph encrypts: no id, annotated values, escapes and '@' inside values.
  const std::string content =
      " {\"receivedDateTime@odata.type\":\"#DateTimeOffset\",\"receivedDateTime\":\"2021-12-30T"
      "10:53:35Z\", \"subject\" : \"a@b \\\"@odata.type\\\"\",\"body\":{\"content\":\"big\"},"
      "\"importance@odata.type\":\"#microsoft.graph.importance\",\"importance\":\"normal\","
      "\"toRecipients@odata.type\":\"#Collection(microsoft.graph.recipient)\",\"toRecipients\":["
      "{\"@odata.type\":\"#microsoft.graph.recipient\",\"emailAddress\":{\"@odata.type\":"
      "\"#microsoft.graph.emailAddress\",\"address\":\"x@y\"}}, [1, {\"@odata.type\":\"t\"}], "
      "null],\"from\":{\"@odata.type\":\"#microsoft.graph.recipient\",\"emailAddress\":{"
      "\"@odata.type\":\"#microsoft.graph.emailAddress\",\"name\":\"M\",\"address\":\"m@x\"}},"
      "\"flag\":{},\"categories\":[],\"isRead\":false} ";
  const std::vector<std::string> keep = {"receivedDateTime", "subject", "importance",
                                         "toRecipients",     "from",    "flag",
                                         "categories",       "isRead"};
  for (const std::vector<std::string>* projection :
       {&keep, static_cast<decltype(&keep)>(nullptr)}) {
    auto item = ParseRichContent(Collection::kMessages, content, "AAMk\"1", projection);
    REQUIRE(item.ok());
    CHECK(item->id == "AAMk\"1");
    CHECK(item->created_at.empty());
    CHECK(item->received_at == "2021-12-30T10:53:35.0000000Z");
    CHECK(item->subject == "a@b \"@odata.type\"");
    CHECK(item->from_address == "m@x");
    const std::string body = projection != nullptr ? "" : "\"body\":{\"content\":\"big\"},";
    CHECK(item->json ==
          "{\"id\":\"AAMk\\\"1\",\"receivedDateTime\":\"2021-12-30T10:53:35Z\",\"subject\":"
          "\"a@b \\\"@odata.type\\\"\"," +
              body +
              "\"importance\":\"normal\",\"toRecipients\":[{\"emailAddress\":{\"address\":"
              "\"x@y\"}},[1,{}],null],\"from\":{\"emailAddress\":{\"name\":\"M\",\"address\":"
              "\"m@x\"}},\"flag\":{},\"categories\":[],\"isRead\":false}");
  }
  // createdDateTime, when there, is read and checked as on every path.
  auto created = ParseRichContent(Collection::kContacts,
                                  R"({"createdDateTime":"2026-01-01T00:00:00Z","id":"c1"})", "c1");
  REQUIRE(created.ok());
  CHECK(created->created_at == "2026-01-01T00:00:00.0000000Z");
  CHECK(created->json == R"({"id":"c1","createdDateTime":"2026-01-01T00:00:00Z"})");
  for (const char* bad :
       {R"({"id":"other"})", R"({"createdDateTime":"yesterday"})",
        R"({"lastModifiedDateTime":"soon"})", R"({"id":"c1"} {})", "[]", "", R"({"subject":"x")"}) {
    INFO(bad);
    auto refused = ParseRichContent(Collection::kContacts, bad, "c1");
    CHECK_FALSE(refused.ok());
    CHECK(refused.status().code() == Status::Code::kCorruption);
  }
  CHECK_FALSE(ParseRichContent(Collection::kContacts, "{}", "").ok());
  CHECK(ParseRichContent(Collection::kContacts, "{}", "c1")->json == R"({"id":"c1"})");
}

}  // namespace graphmirror::graph

namespace graphmirror::graph {
namespace {

TEST_CASE("page: a message's body is read apart, and left out of its json", "[page]") {
  const char* body =
      R"({"value":[{"id":"m1","createdDateTime":"2026-01-02T03:04:05Z","subject":"s",)"
      R"("body":{"contentType":"text","content":"Hello\nthere"},"isRead":false},)"
      R"({"id":"m2","createdDateTime":"2026-01-02T03:04:05Z","body":null,"subject":"t"},)"
      R"({"id":"m3","createdDateTime":"2026-01-02T03:04:05Z","subject":"u"}]})";
  auto page = ParsePage(Collection::kMessages, body);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 3);
  CHECK(page->items[0].body == "Hello\nthere");
  CHECK(page->items[0].body_type == "text");
  CHECK(page->items[0].json ==
        R"({"id":"m1","createdDateTime":"2026-01-02T03:04:05Z","subject":"s","isRead":false})");
  CHECK_FALSE(page->items[1].body.has_value());  // null: no body to keep
  CHECK_FALSE(page->items[2].body.has_value());
  CHECK(page->items[2].json ==
        R"({"id":"m3","createdDateTime":"2026-01-02T03:04:05Z","subject":"u"})");

  // Events keep their body in their json.
  auto events = ParsePage(
      Collection::kEvents,
      R"({"value":[{"id":"e","createdDateTime":"2026-01-02T03:04:05Z","body":{"content":"x"}}]})");
  REQUIRE(events.ok());
  CHECK(events->items[0].json.find("\"body\"") != std::string::npos);
  CHECK_FALSE(events->items[0].body.has_value());

  // A body of the wrong shape fails the page.
  CHECK_FALSE(ParsePage(Collection::kMessages,
                        R"({"value":[{"id":"m","createdDateTime":"2026-01-02T03:04:05Z",)"
                        R"("body":{"content":7}}]})")
                  .ok());
}

}  // namespace
}  // namespace graphmirror::graph
