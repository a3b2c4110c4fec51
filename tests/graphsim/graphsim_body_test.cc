// Message bodies: HTML by default, text with Prefer: outlook.body-content-type="text" on
// the routes "Get message" and "List messages" document it for (with Preference-Applied),
// not on delta, whose page does not; $select=body.

#include <string>

#include "tests/graphsim/graphsim_test_util.h"

namespace graphsim_test {
namespace {

const httplib::Headers kText{{"Prefer", "outlook.body-content-type=\"text\""}};
const httplib::Headers kHtml{{"Prefer", "outlook.body-content-type=\"html\""}};

TEST_CASE("body: HTML by default, text on request, with Preference-Applied", "[graphsim][body]") {
  SimFixture f;
  const std::string user = f.user(0);
  const std::string base = "/v1.0/users/" + user;
  auto& sim = f.sim();

  // A seeded message: a short HTML body; as text, its text.
  const std::string seeded =
      f.Get(base + "/messages?$top=1").body["value"][0]["id"].get<std::string>();
  Reply html = f.Get(base + "/messages/" + seeded);
  REQUIRE(html.status == 200);
  CHECK(html.Header("Preference-Applied").empty());
  CHECK(html.body["body"]["contentType"] == "html");
  const std::string content = html.body["body"]["content"];
  CHECK(content.rfind("<html><body><p>", 0) == 0);
  CHECK(content.size() > std::string("<html><body><p></p></body></html>").size());
  CHECK(content.substr(content.size() - 18) == "</p></body></html>");
  CHECK(content == sim.MessageBody(user, seeded, false));
  Reply text = f.Get(base + "/messages/" + seeded, kText);
  REQUIRE(text.status == 200);
  CHECK(text.Header("Preference-Applied") == "outlook.body-content-type=\"text\"");
  CHECK(text.body["body"]["contentType"] == "text");
  CHECK(text.body["body"]["content"] == html.body["bodyPreview"]);
  CHECK(text.body["body"]["content"] == sim.MessageBody(user, seeded, true));
  Reply as_html = f.Get(base + "/mailFolders/inbox/messages/" + seeded, kHtml);
  CHECK(as_html.Header("Preference-Applied") == "outlook.body-content-type=\"html\"");
  CHECK(as_html.body["body"] == html.body["body"]);
  // Every seeded message has an HTML body.
  Reply all = f.Get(base + "/messages?$top=1000&$select=body");
  for (const Json& m : all.body["value"]) CHECK(m["body"]["contentType"] == "html");

  // A body created as text is served as HTML, and back as the text it was.
  const std::string plain = sim.CreateItem(
      user, "messages",
      R"({"subject":"plain","body":{"contentType":"text","content":"Fish & chips <today>\nLine \"2\""}})");
  REQUIRE(!plain.empty());
  CHECK(f.Get(base + "/messages/" + plain).body["body"] ==
        Json{{"contentType", "html"},
             {"content",
              "<html><body><p>Fish &amp; chips &lt;today&gt;<br>Line &quot;2&quot;</p></body>"
              "</html>"}});
  CHECK(f.Get(base + "/messages/" + plain, kText).body["body"] ==
        Json{{"contentType", "text"}, {"content", "Fish & chips <today>\nLine \"2\""}});
  CHECK(sim.MessageBody(user, plain, true) == "Fish & chips <today>\nLine \"2\"");

  // A body created (over HTTP) as HTML is kept; as text: tags dropped, entities decoded,
  // paragraphs and <br> as line breaks.
  Reply created =
      f.Post(base + "/messages",
             {{"subject", "rich"},
              {"body",
               {{"contentType", "html"},
                {"content",
                 "<html><head><style>p {margin:0}</style></head><body><p>Hi <b>there</b> &amp; "
                 "you</p>\r\n<p>Bye&nbsp;now<br/>Ann</p></body></html>"}}}});
  REQUIRE(created.status == 201);
  const std::string rich = created.body["id"];
  CHECK(created.body["body"]["contentType"] == "html");
  Reply rich_text = f.Get(base + "/messages/" + rich, kText);
  CHECK(rich_text.body["body"]["content"] == "Hi there & you\r\nBye now\r\nAnn");
  CHECK(sim.MessageBody(user, rich, false) == created.body["body"]["content"]);
  // Updated through the API: the new body is kept.
  REQUIRE(sim.UpdateItem(user, "messages", rich,
                         R"({"body":{"contentType":"html","content":"<p>Changed</p>"}})"));
  CHECK(f.Get(base + "/messages/" + rich).body["body"]["content"] == "<p>Changed</p>");
  CHECK(sim.MessageBody(user, rich, true) == "Changed");
  CHECK(sim.MessageBody(user, "AAMkADnope", true).empty());
}

TEST_CASE("body: lists honour the preference, delta does not; $select=body", "[graphsim][body]") {
  SimFixture f;
  const std::string base = "/v1.0/users/" + f.user(0);

  for (const std::string& path : {base + "/messages", base + "/mailFolders/inbox/messages"}) {
    INFO(path);
    Reply text = f.Get(path + "?$top=5", kText);
    REQUIRE(text.status == 200);
    CHECK(text.Header("Preference-Applied") == "outlook.body-content-type=\"text\"");
    REQUIRE(text.body["value"].size() == 5);
    for (const Json& m : text.body["value"]) {
      CHECK(m["body"]["contentType"] == "text");
      CHECK(m["body"]["content"].get<std::string>().find('<') == std::string::npos);
    }
    Reply plain = f.Get(path + "?$top=5");
    CHECK(plain.Header("Preference-Applied").empty());
    for (const Json& m : plain.body["value"]) CHECK(m["body"]["contentType"] == "html");
    // The preference applies to every page of the list.
    REQUIRE(text.body.contains("@odata.nextLink"));
    Reply next =
        f.Get(text.body["@odata.nextLink"].get<std::string>().substr(f.server().base_url().size()),
              kText);
    for (const Json& m : next.body["value"]) CHECK(m["body"]["contentType"] == "text");
  }

  // $select=body: that property, id and @odata.etag.
  Reply selected = f.Get(base + "/messages?$top=3&$select=body");
  REQUIRE(selected.status == 200);
  for (const Json& m : selected.body["value"]) {
    CHECK(m.size() == 3);
    CHECK(m.contains("@odata.etag"));
    CHECK(m["body"]["contentType"] == "html");
  }
  const std::string id = selected.body["value"][0]["id"];
  Reply one = f.Get(base + "/messages/" + id + "?$select=subject,body", kText);
  CHECK(one.body.size() == 5);  // @odata.context, @odata.etag, id, subject, body
  CHECK(one.body["body"]["contentType"] == "text");
  CheckError(f.Get(base + "/messages?$select=uniqueBody"), 501, "NotImplemented");

  // "message: delta" documents no outlook.body-content-type: the preference is not applied
  // (bodies stay HTML, no Preference-Applied for it).
  Reply delta = f.Get(base + "/mailFolders/inbox/messages/delta?$select=body",
                      {{"Prefer", "outlook.body-content-type=\"text\", odata.maxpagesize=4"}});
  REQUIRE(delta.status == 200);
  CHECK(delta.Header("Preference-Applied") == "odata.maxpagesize=4");
  CHECK(delta.headers.count("Preference-Applied") == 1);
  REQUIRE(delta.body["value"].size() == 4);
  for (const Json& m : delta.body["value"]) CHECK(m["body"]["contentType"] == "html");
  // Events keep their bodies as stored.
  Reply event = f.Get(base + "/events?$top=1&$select=body", kText);
  CHECK(event.Header("Preference-Applied").empty());
  CHECK(event.body["value"][0]["body"]["contentType"] == "html");
}

}  // namespace
}  // namespace graphsim_test
