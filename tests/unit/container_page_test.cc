#include "engine/graph/container_page.h"

#include <catch2/catch.hpp>
#include <string>

namespace graphmirror::graph {
namespace {

const ContainerDescription& MailFolders() {
  const ContainerDescription* d = FindContainer("mail_folders");
  REQUIRE(d != nullptr);
  return *d;
}

// The value of column `name` of `row`.
std::optional<std::string> Column(const ContainerRow& row, std::string_view name) {
  const ContainerDescription& d = MailFolders();
  for (size_t i = 0; i < d.columns.size(); ++i) {
    if (d.columns[i].column == name) return row.values[i];
  }
  FAIL("no column " << name);
  return std::nullopt;
}

const char kFolderPage[] =
    R"({"@odata.context":"x","value":[)"
    R"({"id":"AAMkInbox","displayName":"Inbox \"1\"","parentFolderId":"AAMkRoot",)"
    R"("childFolderCount":2,"unreadItemCount":7,"totalItemCount":40,"isHidden":false},)"
    R"({"@odata.type":"#microsoft.graph.mailSearchFolder","id":"AAMkSearch","displayName":"S",)"
    R"j("isHidden":null,"childFolderCount":0,"filterQuery":"contains(subject, 'x')",)j"
    R"("sourceFolderIds":["AAMkInbox"]},)"
    R"({"id":"AAMkGone","@removed":{"reason":"deleted"}})"
    R"(],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/u/mailFolders/delta?$deltatoken=t"})";

TEST_CASE("container page: mail folders become rows of the described columns", "[page]") {
  auto page = ParseContainerPage(MailFolders(), kFolderPage);
  REQUIRE(page.ok());
  CHECK(page->delta_link ==
        "https://graph.microsoft.com/v1.0/users/u/mailFolders/delta?$deltatoken=t");
  CHECK(page->next_link.empty());
  REQUIRE(page->rows.size() == 2);
  REQUIRE(page->removed_ids == std::vector<std::string>{"AAMkGone"});

  const ContainerRow& inbox = page->rows[0];
  CHECK(inbox.id == "AAMkInbox");
  CHECK(Column(inbox, "display_name") == "Inbox \"1\"");
  CHECK(Column(inbox, "parent_id") == "AAMkRoot");
  CHECK(Column(inbox, "child_folder_count") == "2");
  CHECK(Column(inbox, "unread_count") == "7");
  CHECK(Column(inbox, "total_count") == "40");
  CHECK(Column(inbox, "is_hidden") == "0");
  CHECK(Column(inbox, "is_search_folder") == "0");
  CHECK(Column(inbox, "well_known_name") == std::nullopt);  // asked by name, not read
  CHECK(inbox.json.front() == '{');
  CHECK(inbox.json.back() == '}');
  CHECK(inbox.json.find("\"totalItemCount\":40") != std::string::npos);

  const ContainerRow& search = page->rows[1];
  CHECK(search.id == "AAMkSearch");
  CHECK(Column(search, "is_search_folder") == "1");
  CHECK(Column(search, "is_hidden") == std::nullopt);     // null
  CHECK(Column(search, "unread_count") == std::nullopt);  // absent
  CHECK(search.json.find("sourceFolderIds") != std::string::npos);
}

TEST_CASE("container page: malformed pages and wrong types are one-line Corruption", "[page]") {
  const char* bad[] = {
      R"({"value":[{"displayName":"no id"}]})",
      R"({"value":[{"id":"a","childFolderCount":"2"}]})",  // a string for an integer
      R"({"value":[{"id":"a","isHidden":"yes"}]})",        // a string for a boolean
      R"({"value":[{"id":"a","displayName":7}]})",         // a number for text
      R"({"value":[{"id":"a"},{"id":"b",}]})",             // malformed JSON
      R"({"value":[{"id":"a","ignored":[1,2,}]})",         // malformed in a property not read
      R"({"value":[{"id":"a"}]} trailing)",
      R"({"value":{"id":"a"}})",
      R"([])",
  };
  for (const char* body : bad) {
    INFO(body);
    auto page = ParseContainerPage(MailFolders(), body);
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == Status::Code::kCorruption);
    CHECK(page.status().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("container entity: one folder document; select names the read properties", "[page]") {
  auto entity = ParseContainerEntity(MailFolders(), R"({"@odata.context":"c","id":"AAMkInbox"})");
  REQUIRE(entity.ok());
  CHECK(entity->id == "AAMkInbox");
  CHECK_FALSE(ParseContainerEntity(MailFolders(), R"({"id":"a"} {"id":"b"})").ok());
  CHECK_FALSE(ParseContainerEntity(MailFolders(), R"({"id":"a","@removed":{}})").ok());

  CHECK(ContainerSelect(MailFolders()) ==
        "$select=parentFolderId,displayName,isHidden,childFolderCount,unreadItemCount,"
        "totalItemCount");
}

}  // namespace
}  // namespace graphmirror::graph
