// Parsing of folder lists (GET /users/{id}/mailFolders, /contactFolders, their
// .../childFolders): the folders whose messages or contacts delta rounds follow one by one.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_GRAPH_FOLDERS_H_
#define GRAPHMIRROR_ENGINE_GRAPH_FOLDERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graphmirror/status.h"

namespace graphmirror::graph {

struct MailFolder {
  std::string id;
  std::string display_name;
  std::string parent_folder_id;
  int64_t child_folder_count = 0;  // mail folders only (contact folders do not say)
  // A mailSearchFolder (@odata.type "#microsoft.graph.mailSearchFolder"): a saved query
  // over other folders, not a place messages are in.
  bool search_folder = false;
};

struct FolderPage {
  std::vector<MailFolder> folders;
  std::string next_link;  // empty on the last page
};

// Corruption on a body that is not a folder list or a folder without an id.
Result<FolderPage> ParseFolderPage(std::string_view body);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_FOLDERS_H_
