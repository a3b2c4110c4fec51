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

#include "engine/base/text.h"
#include "graphmirror/status.h"

namespace graphmirror::json {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Walks `value` whole, checking it is well-formed; DEPTH_ERROR if it nests deeper than
// simdjson::DEFAULT_MAX_DEPTH (the walk recurses).
error_code Validate(od::value value);

// A string, or "" for null. Copies: the parser's strings die at the next iterate().
error_code ReadString(od::value value, std::string* out);

// The exact text of `object` as received (the caller resets the object to read its fields).
// (raw_json() ends at the next token, so the whitespace before ',' or ']' is cut off.)
error_code RawObject(od::object& object, std::string_view* raw);

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

// Walks a collection body, `{"value": [...], ...}`, in one pass: the root must be a
// single JSON object holding a "value" array, with nothing after it. `on_value(array)`
// reads the array and returns a Status (a repeated "value" is read again: the last one
// wins, as in any JSON object). `on_field(key, value)` reads or Validate()s every other
// field and returns an error_code. `bad(description)` turns a one-line description of a
// malformed body into the caller's Status.
template <typename Bad, typename OnValue, typename OnField>
Status WalkCollection(std::string_view body, Bad&& bad, OnValue&& on_value, OnField&& on_field) {
  auto bad_json = [&](const std::string& where, error_code error) {
    return bad(where + ": " + simdjson::error_message(error));
  };
  // One parser per thread and caller: its buffers are reused from body to body.
  thread_local od::parser parser;
  const simdjson::padded_string padded(body);
  od::document doc;
  if (auto error = parser.iterate(padded).get(doc)) return bad_json("not JSON", error);
  od::object root;
  if (auto error = doc.get_object().get(root)) return bad_json("not a JSON object", error);
  bool saw_value = false;
  for (auto field_result : root) {
    od::field field;
    if (auto error = std::move(field_result).get(field)) return bad_json("malformed JSON", error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return bad_json("malformed key", error);
    if (key == "value") {
      od::array array;
      if (auto error = field.value().get_array().get(array)) {
        return bad_json("\"value\" is not an array", error);
      }
      saw_value = true;
      if (Status s = on_value(array); !s.ok()) return s;
    } else if (auto error = on_field(key, field.value())) {
      return bad_json("\"" + OneLine(key, 80) + "\"", error);
    }
  }
  if (!saw_value) return bad("no \"value\" array");
  // Anything after the root object (a second document, junk) means this is not the body
  // the server sent.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return bad("trailing content after the JSON object");
  }
  return Status::Ok();
}

}  // namespace graphmirror::json

#endif  // GRAPHMIRROR_ENGINE_JSON_ONDEMAND_H_
