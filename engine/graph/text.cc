#include "engine/graph/text.h"

#include <cctype>

namespace graphmirror::graph {

std::string OneLine(std::string_view text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  }
  if (text.size() > max) out += "...";
  return out;
}

std::string FirstLine(std::string_view text, size_t max) {
  return OneLine(text.substr(0, text.find_first_of("\r\n")), max);
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace graphmirror::graph
