// Plain text of an HTML message body, for sync.bodies = "text".
//
// Graph applies `Prefer: outlook.body-content-type="text"` to lists and GETs of messages
// but not to delta rounds ("message: delta" names only odata.maxpagesize), and a first
// sync is a delta round. So bodies are always read as HTML, Outlook's own form, and
// converted here, once per read, whichever way the message came: every text body in a
// mirror is this function's, and each message is read once.
//
// The conversion (libxml2's HTML parser, which recovers from broken markup and decodes
// every entity): the text of the document in order; nothing of `head`, `script`, `style`,
// `template` or `noscript`; `br` a line break; block elements (`p`, `div`, `li`, `tr`,
// headings, `blockquote`, `pre`, `table`, lists, `hr`, ...) on lines of their own; table
// cells apart by a tab; runs of white space one space, except inside `pre`; no blank line
// at either end or more than one in a row; lines end with "\n". Encoding declarations in
// the HTML are ignored: Graph's JSON strings are UTF-8.
//
// Thread-safety: safe from any thread (libxml2 is initialized once, on first use).

#ifndef GRAPHMIRROR_ENGINE_GRAPH_HTML_TEXT_H_
#define GRAPHMIRROR_ENGINE_GRAPH_HTML_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/item.h"

namespace graphmirror::graph {

std::string HtmlToText(std::string_view html);

// Puts the message bodies of `items`, as read from Graph (HTML), in the form sync.bodies
// names: "text" converts HTML ones with HtmlToText, "html" keeps them, "none" drops them.
void PutBodiesInForm(std::string_view form, std::vector<MirrorItem>* items);

}  // namespace graphmirror::graph

#endif  // GRAPHMIRROR_ENGINE_GRAPH_HTML_TEXT_H_
