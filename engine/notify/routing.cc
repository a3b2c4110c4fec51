#include "engine/notify/routing.h"

#include <openssl/evp.h>

#include <utility>
#include <vector>

#include "engine/base/text.h"
#include "engine/json/ondemand.h"
#include "engine/notify/subscription_table.h"

namespace graphmirror::notify {
namespace {

namespace od = simdjson::ondemand;
using json::ReadString;
using json::Validate;
using simdjson::error_code;

Status Bad(std::string_view what) {
  return Status::InvalidArgument("notification: " + std::string(what));
}

Status BadJson(std::string_view where, error_code error) {
  return Bad(std::string(where) + ": " + simdjson::error_message(error));
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string_view TrimEnd(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string RoutingKey(std::string_view mailbox) {
  const std::string lower = AsciiLower(mailbox);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(lower.data(), lower.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  key.reserve(kRoutingKeyLength);
  for (size_t i = 0; i < kRoutingKeyLength / 2; ++i) {
    key += kHex[digest[i] >> 4];
    key += kHex[digest[i] & 0xF];
  }
  return key;
}

std::string RoutedClientState(std::string_view key) {
  return std::string(key) + "." + NewClientState();
}

std::string_view RoutingKeyOf(std::string_view client_state) {
  if (client_state.size() <= kRoutingKeyLength + 1 || client_state[kRoutingKeyLength] != '.') {
    return {};
  }
  for (size_t i = 0; i < kRoutingKeyLength; ++i) {
    if (!IsLowerHex(client_state[i])) return {};
  }
  return client_state.substr(0, kRoutingKeyLength);
}

int32_t PartitionOf(std::string_view key, int32_t partitions) {
  if (partitions <= 0) return 0;
  uint64_t value = 0;
  for (char c : key) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0);
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return static_cast<int32_t>(value % static_cast<uint64_t>(partitions));
}

Result<RoutedCollection> SplitByRoutingKey(std::string_view body) {
  RoutedCollection out;
  std::map<std::string, std::vector<std::string>> items;  // key -> raw items
  std::string tokens;                                     // raw "validationTokens" array
  Status walked = json::WalkCollection(
      body, Bad,
      [&](od::array& array) -> Status {
        items.clear();
        out.items = 0;
        out.unrouted = 0;
        size_t index = 0;
        for (auto element_result : array) {
          const std::string where = "item " + std::to_string(index++);
          od::value element;
          if (auto error = std::move(element_result).get(element)) return BadJson(where, error);
          od::object object;
          if (auto error = element.get_object().get(object)) {
            return BadJson(where + " is not an object", error);
          }
          std::string_view raw;
          if (auto error = json::RawObject(object, &raw)) return BadJson(where, error);
          bool has_fields = false;
          if (auto error = object.reset().get(has_fields)) return BadJson(where, error);
          std::string client_state;
          if (has_fields) {
            for (auto field_result : object) {
              od::field field;
              if (auto error = std::move(field_result).get(field)) return BadJson(where, error);
              std::string_view key;
              if (auto error = field.unescaped_key().get(key)) return BadJson(where, error);
              // Graph's camelCase, or Outlook REST v2.0's PascalCase.
              if (key == "clientState" || key == "ClientState") {
                if (auto error = ReadString(field.value(), &client_state)) {
                  return BadJson(where + " field \"clientState\"", error);
                }
              } else if (auto error = Validate(field.value())) {
                return BadJson(where, error);
              }
            }
          }
          ++out.items;
          const std::string_view key = RoutingKeyOf(client_state);
          if (key.empty()) {
            ++out.unrouted;
            continue;
          }
          items[std::string(key)].emplace_back(raw);
        }
        return Status::Ok();
      },
      [&](std::string_view key, od::value value) -> error_code {
        if (key != "validationTokens") return Validate(value);
        tokens.clear();
        od::json_type type;
        if (auto error = value.type().get(type)) return error;
        if (type == od::json_type::null) return Validate(value);
        od::array array;
        if (auto error = value.get_array().get(array)) return error;
        std::string_view raw;
        if (auto error = array.raw_json().get(raw)) return error;
        tokens.assign(TrimEnd(raw));
        return simdjson::SUCCESS;
      });
  if (!walked.ok()) return walked;
  for (auto& [key, raws] : items) {
    std::string body_out = "{\"value\":[";
    for (size_t i = 0; i < raws.size(); ++i) {
      if (i > 0) body_out += ',';
      body_out += raws[i];
    }
    body_out += ']';
    if (!tokens.empty()) body_out += ",\"validationTokens\":" + tokens;
    body_out += '}';
    out.bodies.emplace(key, std::move(body_out));
  }
  return out;
}

std::optional<std::string> PlainCollectionItems(std::string_view body) {
  std::string items;
  Status walked = json::WalkCollection(
      body, Bad,
      [&](od::array& array) -> Status {
        std::string_view raw;
        if (array.raw_json().get(raw) != simdjson::SUCCESS) return Bad("unreadable value");
        raw = TrimEnd(raw);  // "[...]"
        std::string_view inside = TrimEnd(raw.substr(1, raw.size() - 2));
        while (!inside.empty() && (inside.front() == ' ' || inside.front() == '\n' ||
                                   inside.front() == '\r' || inside.front() == '\t')) {
          inside.remove_prefix(1);
        }
        items.assign(inside);
        return Status::Ok();
      },
      [](std::string_view, od::value) -> error_code { return simdjson::INCORRECT_TYPE; });
  if (!walked.ok()) return std::nullopt;
  return items;
}

}  // namespace graphmirror::notify
