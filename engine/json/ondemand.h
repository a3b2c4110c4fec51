// Helpers over simdjson's on-demand API for parsers that must accept only valid JSON
// (Graph pages, notification bodies) while reading a few fields in one pass.
//
// On-demand parsing checks only what is read; these helpers walk every value they are
// given, so a body that passes is valid JSON throughout, not merely in the fields read.
// simdjson types appear here, so include this header from .cc files only.
//
// Thread-safety: free functions, no shared state.

#ifndef GRAPHMIRROR_ENGINE_JSON_ONDEMAND_H_
#define GRAPHMIRROR_ENGINE_JSON_ONDEMAND_H_

#include <simdjson.h>

#include <string>
#include <string_view>
#include <utility>

namespace graphmirror::json {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Walks `value` whole, checking it is well-formed.
error_code Validate(od::value value);

// A string, or "" for null. Copies: the parser's strings die at the next iterate().
error_code ReadString(od::value value, std::string* out);

// Calls `on_field(key, value)` for each field of an object value (each value must be
// consumed: read or Validate()d); null counts as an empty object (Graph writes
// "from": null). Sets `*present`, if given, when the value was a real object.
template <typename F>
error_code ForEachField(od::value value, F&& on_field, bool* present = nullptr) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type == od::json_type::null) return Validate(value);
  od::object object;
  if (auto error = value.get_object().get(object)) return error;
  if (present != nullptr) *present = true;
  for (auto field_result : object) {
    od::field field;
    if (auto error = std::move(field_result).get(field)) return error;
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    if (auto error = on_field(key, field.value())) return error;
  }
  return simdjson::SUCCESS;
}

}  // namespace graphmirror::json

#endif  // GRAPHMIRROR_ENGINE_JSON_ONDEMAND_H_
