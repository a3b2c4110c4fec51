// The resource-path parser (notify::ResourceItemId) and the percent-decoding under it.

#include "engine/notify/notification.h"
#include "engine/notify/text.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using graphmirror::fuzz::Require;
  const std::string_view text = graphmirror::fuzz::AsText(data, size);
  if (auto id = graphmirror::notify::ResourceItemId(text)) {
    Require(!id->empty(), "an item id is never empty");
    Require(id->size() <= text.size(), "an id is no longer than the path it came from");
  }
  graphmirror::notify::PercentDecode(text, false);
  graphmirror::notify::PercentDecode(text, true);
  return 0;
}
