#include "engine/graph/folders.h"

#include "engine/base/text.h"
#include "engine/json/ondemand.h"

namespace graphmirror::graph {

Result<FolderPage> ParseFolderPage(std::string_view body) {
  using json::error_code;
  using json::od::value;
  FolderPage page;
  auto bad = [](const std::string& what) { return Status::Corruption("folder list: " + what); };
  Status walked = json::WalkCollection(
      body, bad,
      [&](json::od::array array) -> Status {
        page.folders.clear();
        for (auto element : array) {
          value v;
          if (auto error = element.get(v)) return bad(simdjson::error_message(error));
          MailFolder folder;
          auto read = [&](std::string_view key, value field) -> error_code {
            if (key == "id") return json::ReadString(field, &folder.id);
            if (key == "displayName") return json::ReadString(field, &folder.display_name);
            if (key == "parentFolderId") return json::ReadString(field, &folder.parent_folder_id);
            if (key == "@odata.type") {
              std::string type;
              if (auto error = json::ReadString(field, &type)) return error;
              folder.search_folder = AsciiLower(type) == "#microsoft.graph.mailsearchfolder";
              return error_code{};
            }
            if (key == "childFolderCount") {
              json::od::json_type type;
              if (auto error = field.type().get(type)) return error;
              if (type == json::od::json_type::number)
                return field.get_int64().get(folder.child_folder_count);
              return json::Validate(field);
            }
            return json::Validate(field);
          };
          if (auto error = json::ForEachField(v, read)) return bad(simdjson::error_message(error));
          if (folder.id.empty()) return bad("a folder without an id");
          page.folders.push_back(std::move(folder));
        }
        return Status::Ok();
      },
      [&](std::string_view key, value field) -> error_code {
        if (key == "@odata.nextLink") return json::ReadString(field, &page.next_link);
        return json::Validate(field);
      });
  if (!walked.ok()) return walked;
  return page;
}

}  // namespace graphmirror::graph
