#include "engine/graph/query.h"

namespace graphmirror::graph {

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string EscapeQueryValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '&':
        out += "%26";
        break;
      case '#':
        out += "%23";
        break;
      case '+':
        out += "%2B";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string SincePath(const std::string& user_id, Collection collection,
                      const std::string& property, const std::string& since, int page_size,
                      const std::string& extra, const std::string& scope_filter) {
  std::string filter = property + " ge " + since;
  if (!scope_filter.empty()) filter += " and (" + scope_filter + ")";
  return "/users/" + PercentEncode(user_id) + "/" + std::string(CollectionName(collection)) +
         "?$filter=" + PercentEncode(filter) + "&$orderby=" + property +
         "&$top=" + std::to_string(page_size) + (extra.empty() ? "" : "&" + extra);
}

}  // namespace

std::string CreatedSincePath(const std::string& user_id, Collection collection,
                             const std::string& since, int page_size, const std::string& extra,
                             const std::string& scope_filter) {
  return SincePath(user_id, collection, "createdDateTime", since, page_size, extra, scope_filter);
}

std::string ModifiedSincePath(const std::string& user_id, Collection collection,
                              const std::string& since, int page_size, const std::string& extra,
                              const std::string& scope_filter) {
  return SincePath(user_id, collection, "lastModifiedDateTime", since, page_size, extra,
                   scope_filter);
}

}  // namespace graphmirror::graph
