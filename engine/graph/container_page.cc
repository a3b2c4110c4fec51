#include "engine/graph/container_page.h"

#include <exception>
#include <string>
#include <utility>

#include "engine/json/ondemand.h"

namespace graphmirror::graph {

namespace {

using json::ForEachField;
using json::ReadString;
using json::Validate;
namespace od = simdjson::ondemand;
using simdjson::error_code;

Status Bad(std::string_view what) {
  return Status::Corruption("container page: " + std::string(what));
}

// The property's first segment ("owner" of "owner/address") and the rest ("" if none).
std::pair<std::string_view, std::string_view> Split(std::string_view property) {
  const size_t slash = property.find('/');
  if (slash == std::string_view::npos) return {property, {}};
  return {property.substr(0, slash), property.substr(slash + 1)};
}

error_code ReadColumn(const ColumnDescription& column, od::value value,
                      std::optional<std::string>* out) {
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  if (type == od::json_type::null) {
    if (column.equals.empty()) out->reset();  // a flag stays 0
    return Validate(value);
  }
  if (!column.equals.empty()) {
    std::string text;
    if (auto error = ReadString(value, &text)) return error;
    *out = text == column.equals ? "1" : "0";
    return simdjson::SUCCESS;
  }
  switch (column.type) {
    case ColumnType::kText: {
      std::string text;
      if (auto error = ReadString(value, &text)) return error;
      *out = std::move(text);
      return simdjson::SUCCESS;
    }
    case ColumnType::kInteger: {
      int64_t number = 0;
      if (auto error = value.get_int64().get(number)) return error;
      *out = std::to_string(number);
      return simdjson::SUCCESS;
    }
    case ColumnType::kBool: {
      bool flag = false;
      if (auto error = value.get_bool().get(flag)) return error;
      *out = flag ? "1" : "0";
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

class ContainerParser {
 public:
  explicit ContainerParser(const ContainerDescription& d) : d_(d) {}

  Result<ContainerPage> Parse(std::string_view body) {
    ContainerPage page;
    Status walked = json::WalkCollection(
        body, Bad,
        [&](od::array& array) {
          page.rows.clear();
          page.removed_ids.clear();
          size_t index = 0;
          for (auto element_result : array) {
            od::value element;
            if (auto error = std::move(element_result).get(element)) {
              return BadJson("entry " + std::to_string(index), error);
            }
            if (Status s = ParseEntry(element, index, &page); !s.ok()) return s;
            ++index;
          }
          return Status::Ok();
        },
        [&](std::string_view key, od::value value) {
          if (key == "@odata.nextLink") return ReadString(value, &page.next_link);
          if (key == "@odata.deltaLink") return ReadString(value, &page.delta_link);
          return Validate(value);
        });
    if (!walked.ok()) return walked;
    return page;
  }

  // One entity document: exactly one object, nothing after it.
  Result<ContainerRow> ParseOne(std::string_view body) {
    thread_local od::parser parser;
    const simdjson::padded_string padded(body);
    od::document doc;
    if (auto error = parser.iterate(padded).get(doc)) return BadJson("entity: not JSON", error);
    od::value value;
    if (auto error = doc.get_value().get(value)) return BadJson("entity: not JSON", error);
    ContainerPage page;
    if (Status s = ParseEntry(value, 0, &page); !s.ok()) return s;
    if (page.rows.size() != 1) return Bad("entity: a removed entry, not an entity");
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return Bad("entity: trailing content after the JSON object");
    }
    return std::move(page.rows[0]);
  }

 private:
  static Status BadJson(const std::string& where, error_code error) {
    return Bad(where + ": " + simdjson::error_message(error));
  }

  Status ParseEntry(od::value& element, size_t index, ContainerPage* page) {
    const std::string where = "entry " + std::to_string(index);
    od::object object;
    if (auto error = element.get_object().get(object)) {
      return BadJson(where + " is not an object", error);
    }
    std::string_view raw;
    if (auto error = json::RawObject(object, &raw)) return BadJson(where, error);
    ContainerRow row;
    row.json.assign(raw);
    row.values.resize(d_.columns.size());
    for (size_t i = 0; i < d_.columns.size(); ++i) {
      if (!d_.columns[i].equals.empty()) row.values[i] = "0";
    }
    bool has_fields = false;
    if (auto error = object.reset().get(has_fields)) return BadJson(where, error);
    bool removed = false;
    if (has_fields) {
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return BadJson(where, error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return BadJson(where, error);
        error_code error = ReadField(key, field.value(), &row, &removed);
        if (error) return BadJson(where + " field \"" + std::string(key) + "\"", error);
      }
    }
    if (row.id.empty()) return Bad(where + " has no id");
    if (removed) {
      page->removed_ids.push_back(std::move(row.id));
    } else {
      page->rows.push_back(std::move(row));
    }
    return Status::Ok();
  }

  error_code ReadField(std::string_view key, od::value value, ContainerRow* row, bool* removed) {
    if (key == "id") return ReadString(value, &row->id);
    if (key == "@removed") {
      *removed = true;
      return Validate(value);
    }
    bool nested = false;
    for (size_t i = 0; i < d_.columns.size(); ++i) {
      auto [head, rest] = Split(d_.columns[i].property);
      if (head != key) continue;
      if (rest.empty()) return ReadColumn(d_.columns[i], value, &row->values[i]);
      nested = true;
    }
    if (!nested) return Validate(value);
    // One object down: every column under this property reads from the same walk.
    return ForEachField(value, [&](std::string_view sub, od::value v) {
      for (size_t i = 0; i < d_.columns.size(); ++i) {
        auto [head, rest] = Split(d_.columns[i].property);
        if (head == key && rest == sub) return ReadColumn(d_.columns[i], v, &row->values[i]);
      }
      return Validate(v);
    });
  }

  const ContainerDescription& d_;
};

}  // namespace

Result<ContainerPage> ParseContainerPage(const ContainerDescription& description,
                                         std::string_view body) {
  try {
    return ContainerParser(description).Parse(body);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("container page: ") + e.what());
  }
}

Result<ContainerRow> ParseContainerEntity(const ContainerDescription& description,
                                          std::string_view body) {
  try {
    return ContainerParser(description).ParseOne(body);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("container entity: ") + e.what());
  }
}

std::string ContainerSelect(const ContainerDescription& description) {
  if (!description.select) return "";
  std::string out;
  for (const ColumnDescription& column : description.columns) {
    const std::string_view head = Split(column.property).first;
    if (head.empty() || head.front() == '@') continue;
    const std::string name(head);
    if (("," + out + ",").find("," + name + ",") != std::string::npos) continue;
    out += out.empty() ? name : "," + name;
  }
  return out.empty() ? "" : "$select=" + out;
}

}  // namespace graphmirror::graph
