// Routing keys of the partitioned mode ([kafka] mode = "partitioned", docs/scale-out.md):
// how any router finds the mailbox of a notification without shared state.
//
// Graph's notifications name the user by GUID (or not at all: lifecycle events name a
// subscription), and which daemon made which subscription is known to that daemon only.
// So in partitioned mode the keeper makes every subscription's clientState
// "<key>.<random>", where <key> is RoutingKey(mailbox as configured), and Graph echoes it
// in every item it delivers (changes, lifecycle events, rich notifications). The router
// reads the key (RoutingKeyOf), the shard's receiver still checks the whole clientState.
// The partition of a key is PartitionOf(key, P), the same in every daemon.
//
// Thread-safety: free functions without shared state; safe from any thread.

#ifndef GRAPHMIRROR_ENGINE_NOTIFY_ROUTING_H_
#define GRAPHMIRROR_ENGINE_NOTIFY_ROUTING_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "graphmirror/status.h"

namespace graphmirror::notify {

// The length of a routing key: 16 lowercase hex digits.
inline constexpr size_t kRoutingKeyLength = 16;

// The first 8 bytes of SHA-256 of `mailbox` (ASCII lower-cased, as configured: an object
// id or a user principal name) as 16 lowercase hex digits.
std::string RoutingKey(std::string_view mailbox);

// A fresh clientState carrying `key`: "<key>." followed by NewClientState() (60
// characters; Graph allows 128).
std::string RoutedClientState(std::string_view key);

// The routing key at the start of a clientState ("<16 lowercase hex>.<anything>"), or an
// empty view when it carries none (a subscription of an unpartitioned daemon, Event Hubs'
// validation message with clientState "NA", a forger).
std::string_view RoutingKeyOf(std::string_view client_state);

// The partition of `key` among `partitions` (> 0): its 64-bit value modulo the count.
// Stable across daemons, versions and machines; not librdkafka's partitioner.
int32_t PartitionOf(std::string_view key, int32_t partitions);

// A changeNotificationCollection split by the routing keys of its items' clientStates,
// for the router: one body per key, {"value":[the items, each exactly as received]}, plus
// the collection's "validationTokens" (as received) when it had them (rich notifications:
// the shard checks them). The items without a key are counted and left out.
struct RoutedCollection {
  std::map<std::string, std::string> bodies;  // routing key -> body
  size_t items = 0;
  size_t unrouted = 0;
};
// InvalidArgument (one line) when `body` is not a collection: not JSON, no "value" array,
// an item that is not an object, a clientState that is not a string.
Result<RoutedCollection> SplitByRoutingKey(std::string_view body);

// The items of a collection body that holds nothing but its "value" array (as
// SplitByRoutingKey writes one without validation tokens): the text between the array's
// brackets, each item as received ("" for an empty array). nullopt for any other body
// (validation tokens or other members, not JSON): such a body is not merged with others,
// since its members belong to its own items.
std::optional<std::string> PlainCollectionItems(std::string_view body);

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_ENGINE_NOTIFY_ROUTING_H_
