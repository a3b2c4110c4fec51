// graph::HtmlToText: the text kept of HTML message bodies with sync.bodies = "text".

#include "engine/graph/html_text.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace graphmirror::graph {
namespace {

TEST_CASE("HtmlToText: paragraphs and breaks are lines, white space one space", "[html_text]") {
  CHECK(HtmlToText("") == "");
  CHECK(HtmlToText("plain words") == "plain words");
  CHECK(HtmlToText("<html><body><p>The   zephyr\n report</p></body></html>") ==
        "The zephyr report");
  CHECK(HtmlToText("<p>one</p><p>two</p>") == "one\ntwo");
  CHECK(HtmlToText("a<br>b<br><br>c") == "a\nb\n\nc");
  CHECK(HtmlToText("<div>a<br></div>b") == "a\nb");
  CHECK(HtmlToText("<p>a</p><br><p>b</p>") == "a\n\nb");
  CHECK(HtmlToText("<p>a</p><br><br><br><br><p>b</p>") == "a\n\nb");  // one blank line at most
  CHECK(HtmlToText("<ul><li>first</li><li>second</li></ul>after") == "first\nsecond\nafter");
  CHECK(HtmlToText("<h1>Title</h1>text <b>bold</b> <i>it</i>alic") == "Title\ntext bold italic");
  CHECK(HtmlToText("<p>  lead and trail  </p>  ") == "lead and trail");
}

TEST_CASE("HtmlToText: what is not shown is left out", "[html_text]") {
  CHECK(HtmlToText("<html><head><title>T</title><style>p {color: red}</style>"
                   "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">"
                   "</head><body><script>var x = 1;</script><p>shown</p><!-- hidden --></body>"
                   "</html>") == "shown");
  CHECK(HtmlToText("<template><p>no</p></template>yes") == "yes");
}

TEST_CASE("HtmlToText: entities are decoded, UTF-8 kept whatever the HTML declares",
          "[html_text]") {
  CHECK(HtmlToText("a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &eacute; &#x263A;") ==
        "a & b <c> \"d\" 'e' \xC3\xA9 \xE2\x98\xBA");
  // &nbsp; is a space that is kept (Outlook writes empty lines as <p>&nbsp;</p>).
  CHECK(HtmlToText("x&nbsp;&nbsp;y") == "x  y");
  CHECK(HtmlToText("<meta charset=\"iso-8859-1\"><p>Gr\xC3\xBC\xC3\x9F"
                   "e \xE6\x97\xA5\xE6\x9C\xAC</p>") ==
        "Gr\xC3\xBC\xC3\x9F"
        "e \xE6\x97\xA5\xE6\x9C\xAC");
}

TEST_CASE("HtmlToText: tables are lines of cells, pre keeps its lines", "[html_text]") {
  CHECK(HtmlToText("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>") ==
        "a\tb\nc\td");
  CHECK(HtmlToText("before<pre>  x = 1;\n  y = 2;\n</pre>after") ==
        "before\n  x = 1;\n  y = 2;\nafter");
}

TEST_CASE("HtmlToText: broken markup still gives its text", "[html_text]") {
  CHECK(HtmlToText("<p>unclosed <b>bold <i>both") == "unclosed bold both");
  CHECK(HtmlToText("</div></p>stray closers") == "stray closers");
  CHECK(HtmlToText("a < b and c > d") == "a < b and c > d");
  CHECK(HtmlToText("<p") == "");
}

TEST_CASE("HtmlToText: random bytes never crash and give valid output", "[html_text]") {
  const uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const std::string alphabet = "<>/&;#x abcdefghijklmnopqrstuvwxyz=\"'!-\n\t\xC3\xA9";
  for (int round = 0; round < 2000; ++round) {
    std::string html;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) html += alphabet[rng() % alphabet.size()];
    const std::string text = HtmlToText(html);
    INFO(html);
    CHECK(text.size() <= html.size() * 4 + 8);
    if (!text.empty()) {
      CHECK(text.front() != '\n');
      CHECK(text.back() != '\n');
      CHECK(text.back() != ' ');
    }
  }
}

}  // namespace
}  // namespace graphmirror::graph
