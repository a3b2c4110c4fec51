#include "engine/graph/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include <algorithm>
#include <array>
#include <climits>
#include <mutex>

namespace graphmirror::graph {
namespace {

constexpr std::array<std::string_view, 6> kHidden = {"head",     "script",   "style",
                                                     "template", "noscript", "title"};
constexpr std::array<std::string_view, 30> kBlocks = {
    "address", "article", "aside", "blockquote", "center",  "dd",     "details", "dialog",
    "div",     "dl",      "dt",    "fieldset",   "figure",  "footer", "form",    "h1",
    "h2",      "h3",      "h4",    "h5",         "h6",      "header", "hr",      "li",
    "main",    "nav",     "ol",    "p",          "section", "ul"};
// Not block elements in HTML's sense, but each also on lines of its own.
constexpr std::array<std::string_view, 4> kOwnLines = {"table", "tr", "caption", "pre"};

bool In(std::string_view name, const auto& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The text being written, with the separators asked for since the last character: they
// are written only before a character that follows, so none ends up at either end.
class TextWriter {
 public:
  void Text(std::string_view text) {
    if (hidden_ > 0) return;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (pre_ > 0) {
        if (c == '\r') continue;
        if (c == '\n') {
          Flush();
          out_ += '\n';
          continue;
        }
        Put(c);
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        space_ = true;
        continue;
      }
      // U+00A0 (&nbsp;): a space that is kept.
      if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
        ++i;
        Put(' ');
        continue;
      }
      Put(c);
    }
  }

  void Start(std::string_view name) {
    if (In(name, kHidden)) {
      ++hidden_;
      return;
    }
    if (hidden_ > 0) return;
    if (name == "br") {
      breaks_ = std::min(breaks_ + 1, 2);
    } else if (name == "td" || name == "th") {
      if (breaks_ == 0 && !out_.empty() && out_.back() != '\n') tab_ = true;
    } else if (In(name, kBlocks) || In(name, kOwnLines)) {
      LineBreak();
      if (name == "pre") ++pre_;
    }
  }

  void End(std::string_view name) {
    if (In(name, kHidden)) {
      hidden_ = std::max(hidden_ - 1, 0);
      return;
    }
    if (hidden_ > 0) return;
    if (In(name, kBlocks) || In(name, kOwnLines)) {
      LineBreak();
      if (name == "pre") pre_ = std::max(pre_ - 1, 0);
    }
  }

  std::string Take() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) out_.pop_back();
    return std::move(out_);
  }

 private:
  void LineBreak() { breaks_ = std::max(breaks_, 1); }

  // Writes the separators asked for before `c`.
  void Flush() {
    if (breaks_ > 0) {
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    }
    if (out_.empty()) {
      // Nothing written yet: no separator leads the text.
    } else if (breaks_ > 0) {
      int have = 0;  // a `pre` may have ended its last line itself
      for (auto it = out_.rbegin(); it != out_.rend() && *it == '\n' && have < 2; ++it) ++have;
      for (int i = have; i < breaks_; ++i) out_ += '\n';
    } else if (tab_) {
      out_ += '\t';
    } else if (space_ && out_.back() != '\n') {
      out_ += ' ';
    }
    breaks_ = 0;
    tab_ = false;
    space_ = false;
  }

  void Put(char c) {
    if (breaks_ > 0 || tab_ || space_) Flush();
    out_ += c;
  }

  std::string out_;
  int breaks_ = 0;      // line breaks asked for (at most 2: one blank line)
  bool tab_ = false;    // a table cell began
  bool space_ = false;  // white space seen
  int hidden_ = 0;      // inside this many hidden elements
  int pre_ = 0;         // inside this many `pre` elements
};

std::string_view Name(const xmlChar* name) {
  return name == nullptr ? std::string_view() : reinterpret_cast<const char*>(name);
}

void OnStart(void* writer, const xmlChar* name, const xmlChar** /*attributes*/) {
  static_cast<TextWriter*>(writer)->Start(Name(name));
}
void OnEnd(void* writer, const xmlChar* name) { static_cast<TextWriter*>(writer)->End(Name(name)); }
void OnText(void* writer, const xmlChar* text, int length) {
  static_cast<TextWriter*>(writer)->Text(
      std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(length)));
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  if (html.empty()) return "";

  htmlSAXHandler sax{};
  sax.startElement = OnStart;
  sax.endElement = OnEnd;
  sax.characters = OnText;
  sax.ignorableWhitespace = OnText;
  // Script and style contents (cdataBlock) and comments are not text: no handlers.
  // libxml2 takes an int size; Graph's messages are far smaller (150 MB at most).
  if (html.size() > static_cast<size_t>(INT_MAX)) return std::string(html);
  htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(html.data(), static_cast<int>(html.size()));
  if (ctxt == nullptr) return std::string(html);  // out of memory: the body as it came
  TextWriter writer;
  // The context's own handler gives way to ours (it is freed with the context, ours not).
  xmlFree(ctxt->sax);
  ctxt->sax = &sax;
  ctxt->userData = &writer;
  xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
  htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                               HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE);
  htmlParseDocument(ctxt);
  ctxt->sax = nullptr;
  htmlFreeParserCtxt(ctxt);
  return writer.Take();
}

void PutBodiesInForm(std::string_view form, std::vector<MirrorItem>* items) {
  for (MirrorItem& item : *items) {
    if (!item.body) continue;
    if (form == "none") {
      item.body.reset();
    } else if (form == "text" && item.body_type == "html") {
      item.body = HtmlToText(*item.body);
      item.body_type = "text";
    }
  }
}

}  // namespace graphmirror::graph
