// The webhook's body parser (notify::ParseNotificationBody and ParseNotificationCollection):
// whatever arrives, an answer and no crash; when it parses, the promises of its header hold.

#include "engine/notify/notification.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using graphmirror::fuzz::Require;
  const std::string_view body = graphmirror::fuzz::AsText(data, size);
  auto parsed = graphmirror::notify::ParseNotificationBody(body);
  auto items = graphmirror::notify::ParseNotificationCollection(body);
  Require(parsed.ok() == items.ok(), "both parsers agree on whether a body is valid");
  if (!parsed.ok()) {
    Require(!parsed.status().message().empty(), "a refusal has a reason");
    return 0;
  }
  Require(parsed->items.size() == items->size(), "both parsers see the same items");
  for (const auto& n : parsed->items) {
    Require(!n.subscription_id.empty(), "every item names its subscription");
    Require(!n.change_type.empty() || !n.lifecycle_event.empty(),
            "every item is a change or a lifecycle event");
  }
  return 0;
}
