#include "engine/notify/notification.h"

#include <exception>
#include <string>
#include <utility>

#include "engine/base/text.h"
#include "engine/json/ondemand.h"
#include "engine/notify/text.h"

namespace graphmirror::notify {

namespace {

using json::ForEachField;
using json::ReadString;
using json::Validate;
namespace od = simdjson::ondemand;
using simdjson::error_code;

Status Bad(std::string_view what) {
  return Status::InvalidArgument("notification: " + std::string(what));
}

Status BadJson(std::string_view where, error_code error) {
  return Bad(std::string(where) + ": " + simdjson::error_message(error));
}

std::string Quote(std::string_view text) { return "\"" + OneLine(text) + "\""; }

// Graph writes change types in lower case; Outlook REST v2.0 capitalizes them.
std::string FoldChangeType(std::string text) {
  std::string lower = AsciiLower(text);
  if (lower == "created" || lower == "updated" || lower == "deleted") return lower;
  return text;
}

// Graph's camelCase field name for Graph's or Outlook REST v2.0's spelling ("ChangeType").
std::string_view CamelKey(std::string_view key, std::string& buffer) {
  if (key.empty() || key.front() < 'A' || key.front() > 'Z') return key;
  buffer.assign(key);
  buffer.front() = static_cast<char>(buffer.front() - 'A' + 'a');
  return buffer;
}

class CollectionParser {
 public:
  Result<NotificationCollection> Parse(std::string_view body) {
    NotificationCollection out;
    Status walked = json::WalkCollection(
        body, Bad,
        [&](od::array& array) {
          out.items.clear();
          return ParseItems(array, &out.items);
        },
        [&](std::string_view key, od::value value) -> error_code {
          if (key != "validationTokens") return Validate(value);  // anything Graph adds later
          out.validation_tokens.clear();
          od::json_type type;
          if (auto error = value.type().get(type)) return error;
          if (type == od::json_type::null) return Validate(value);
          od::array tokens;
          if (auto error = value.get_array().get(tokens)) return error;
          for (auto token : tokens) {
            std::string text;
            od::value v;
            if (auto error = token.get(v)) return error;
            if (auto error = ReadString(v, &text)) return error;
            out.validation_tokens.push_back(std::move(text));
          }
          return simdjson::SUCCESS;
        });
    if (!walked.ok()) return walked;
    return out;
  }

 private:
  static Status ParseItems(od::array& array, std::vector<Notification>* items) {
    size_t index = 0;
    for (auto element_result : array) {
      const std::string where = "item " + std::to_string(index);
      od::value element;
      if (auto error = std::move(element_result).get(element)) return BadJson(where, error);
      od::object object;
      if (auto error = element.get_object().get(object)) {
        return BadJson(where + " is not an object", error);
      }
      Notification item;
      std::string key_buffer;
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return BadJson(where, error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return BadJson(where, error);
        if (auto error = ReadField(CamelKey(key, key_buffer), field.value(), &item)) {
          return BadJson(where + " field " + Quote(key), error);
        }
      }
      if (item.subscription_id.empty()) return Bad(where + " has no subscriptionId");
      if (item.change_type.empty() && item.lifecycle_event.empty() && item.site_url.empty()) {
        return Bad(where + " has neither changeType nor lifecycleEvent");
      }
      item.change_type = FoldChangeType(std::move(item.change_type));
      if (item.lifecycle_event.empty() && AsciiLower(item.change_type) == "missed") {
        // v2.0 says it lost notifications as a change type; Graph as a lifecycle event.
        item.change_type.clear();
        item.lifecycle_event = "missed";
      }
      if (item.resource_id.empty()) {
        if (auto id = ResourceItemId(item.resource)) item.resource_id = std::move(*id);
      }
      items->push_back(std::move(item));
      ++index;
    }
    return Status::Ok();
  }

  static error_code ReadField(std::string_view key, od::value value, Notification* item) {
    if (key == "id") return ReadString(value, &item->id);
    if (key == "subscriptionId") return ReadString(value, &item->subscription_id);
    if (key == "clientState") return ReadString(value, &item->client_state);
    if (key == "changeType") return ReadString(value, &item->change_type);
    if (key == "lifecycleEvent") return ReadString(value, &item->lifecycle_event);
    if (key == "resource") return ReadString(value, &item->resource);
    if (key == "tenantId") return ReadTenant(value, item);
    if (key == "organizationId") return ReadTenant(value, item);
    if (key == "sequenceNumber") return ReadSequenceNumber(value, item);
    if (key == "siteUrl") return ReadString(value, &item->site_url);
    if (key == "resourceData") {
      std::string buffer;
      return ForEachField(value, [&](std::string_view raw, od::value v) {
        const std::string_view k = CamelKey(raw, buffer);
        if (k == "id") return ReadString(v, &item->resource_id);
        if (k == "@odata.etag") return ReadString(v, &item->etag);
        return Validate(v);
      });
    }
    if (key == "encryptedContent") {
      bool present = false;
      Notification::Encrypted& e = item->encrypted;
      error_code error = ForEachField(
          value,
          [&e](std::string_view k, od::value v) {
            if (k == "data") return ReadString(v, &e.data);
            if (k == "dataKey") return ReadString(v, &e.data_key);
            if (k == "dataSignature") return ReadString(v, &e.data_signature);
            if (k == "encryptionCertificateId") return ReadString(v, &e.certificate_id);
            if (k == "encryptionCertificateThumbprint") {
              return ReadString(v, &e.certificate_thumbprint);
            }
            return Validate(v);
          },
          &present);
      if (present) item->has_encrypted_content = true;
      return error;
    }
    return Validate(value);
  }

  static error_code ReadSequenceNumber(od::value value, Notification* item) {
    od::json_type type;
    if (auto error = value.type().get(type)) return error;
    if (type == od::json_type::null) return Validate(value);
    int64_t number = 0;
    if (auto error = value.get_int64().get(number)) return error;
    item->sequence_number = number;
    return simdjson::SUCCESS;
  }

  // tenantId and organizationId name the same thing; whichever is non-null wins, so a
  // lifecycle item with "tenantId": null and an organizationId still has a tenant.
  static error_code ReadTenant(od::value value, Notification* item) {
    std::string text;
    if (auto error = ReadString(value, &text)) return error;
    if (!text.empty()) item->tenant_id = std::move(text);
    return simdjson::SUCCESS;
  }
};

// A path segment: its name and, for OData key syntax `name('key')` / `name(key)`, the key.
struct Segment {
  std::string_view name;
  std::optional<std::string> key;
};

bool IsCollectionName(std::string_view name) {
  const std::string lower = AsciiLower(name);
  return lower == "messages" || lower == "events" || lower == "contacts";
}

// Splits `Users('u')/mailFolders('x')/messages('id')` into segments. Keys are
// percent-decoded; quoted keys have OData's '' unescaped. nullopt if malformed.
std::optional<std::vector<Segment>> SplitResource(std::string_view path) {
  std::vector<Segment> segments;
  size_t i = 0;
  while (i < path.size()) {
    Segment segment;
    const size_t begin = i;
    while (i < path.size() && path[i] != '/' && path[i] != '(') ++i;
    segment.name = path.substr(begin, i - begin);
    if (i < path.size() && path[i] == '(') {
      ++i;
      std::string raw;
      if (i < path.size() && path[i] == '\'') {
        ++i;
        bool closed = false;
        while (i < path.size()) {
          if (path[i] == '\'') {
            if (i + 1 < path.size() && path[i + 1] == '\'') {
              raw += '\'';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          raw += path[i++];
        }
        if (!closed) return std::nullopt;
      } else {
        while (i < path.size() && path[i] != ')') raw += path[i++];
      }
      if (i >= path.size() || path[i] != ')') return std::nullopt;
      ++i;
      auto key = PercentDecode(raw, /*plus_is_space=*/false);
      if (!key) return std::nullopt;
      segment.key = std::move(*key);
    }
    if (i < path.size()) {
      if (path[i] != '/') return std::nullopt;  // text after a key: `a('b')c`
      ++i;
    }
    if (segment.name.empty() && !segment.key) return std::nullopt;  // `a//b`
    segments.push_back(std::move(segment));
  }
  return segments;
}

bool IsPlausibleId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/') return false;
  }
  return true;
}

}  // namespace

Result<NotificationCollection> ParseNotificationBody(std::string_view body) {
  // The error-code API does not throw, but allocation and simdjson's development checks
  // can: nothing escapes this room as an exception.
  try {
    return CollectionParser().Parse(body);
  } catch (const std::exception& e) {
    return Bad(std::string("parser failure: ") + e.what());
  }
}

Result<std::vector<Notification>> ParseNotificationCollection(std::string_view body) {
  auto parsed = ParseNotificationBody(body);
  if (!parsed.ok()) return parsed.status();
  return std::move(parsed->items);
}

std::optional<std::string> ResourceItemId(std::string_view resource) {
  // A rich subscription's resource may carry $select: the path ends before the query.
  if (size_t q = resource.find('?'); q != std::string_view::npos) resource = resource.substr(0, q);
  // Outlook REST v2.0 writes an absolute URL: https://outlook.office.com/api/v2.0/Users(...
  for (std::string_view scheme : {"https://", "http://"}) {
    if (resource.size() >= scheme.size() &&
        AsciiLower(resource.substr(0, scheme.size())) == scheme) {
      const size_t path = resource.find('/', scheme.size());
      resource = path == std::string_view::npos ? std::string_view() : resource.substr(path);
    }
  }
  if (!resource.empty() && resource.front() == '/') resource.remove_prefix(1);
  if (resource.empty()) return std::nullopt;
  auto segments = SplitResource(resource);
  if (!segments || segments->empty()) return std::nullopt;
  const Segment& last = segments->back();
  std::optional<std::string> id;
  if (last.key) {
    // messages('{id}')
    if (IsCollectionName(last.name)) id = *last.key;
  } else if (segments->size() >= 2) {
    // messages/{id}
    const Segment& parent = (*segments)[segments->size() - 2];
    if (!parent.key && IsCollectionName(parent.name)) {
      id = PercentDecode(last.name, /*plus_is_space=*/false);
    }
  }
  if (!id || !IsPlausibleId(*id)) return std::nullopt;
  return id;
}

}  // namespace graphmirror::notify
