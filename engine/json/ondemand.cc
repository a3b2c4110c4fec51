#include "engine/json/ondemand.h"

namespace graphmirror::json {
namespace {

// Deeper than any Graph payload by far, and as deep as simdjson's own parsers go: the
// recursion below must stop long before a thread's stack does, whatever a body nests.
constexpr int kMaxDepth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);

error_code ValidateAt(od::value value, int depth) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        if (auto error = ValidateAt(field.value(), depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element_result : array) {
        od::value element;
        if (auto error = std::move(element_result).get(element)) return error;
        if (auto error = ValidateAt(element, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string:
      return value.get_string().error();
    case od::json_type::number:
      return value.get_double().error();
    case od::json_type::boolean:
      return value.get_bool().error();
    case od::json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

error_code Validate(od::value value) { return ValidateAt(value, 1); }

error_code RawObject(od::object& object, std::string_view* raw) {
  if (auto error = object.raw_json().get(*raw)) return error;
  while (!raw->empty() && (raw->back() == ' ' || raw->back() == '\n' || raw->back() == '\r' ||
                           raw->back() == '\t')) {
    raw->remove_suffix(1);
  }
  return simdjson::SUCCESS;
}

error_code ReadString(od::value value, std::string* out) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type == od::json_type::null) {
    out->clear();
    return Validate(value);
  }
  std::string_view text;
  if (auto error = value.get_string().get(text)) return error;
  out->assign(text);
  return simdjson::SUCCESS;
}

}  // namespace graphmirror::json
