// OData system query options as Graph's Outlook endpoints accept them: $filter (comparisons
// of the DateTimeOffset, Boolean, String and enum properties graphsim models, joined by
// and/or/not), $orderby, $top, $skip, $skiptoken, $select and $count; with Graph's error
// codes for everything else.
//
// Thread-safety: parsed values are immutable; free functions have no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_ODATA_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_ODATA_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/graphsim/time_format.h"

namespace graphsim {

// The properties graphsim can sort on (and seek by): the ones a sync engine needs.
enum class TimeField { kCreated = 0, kModified = 1, kReceived = 2 };
constexpr int kTimeFieldCount = 3;
const char* TimeFieldName(TimeField field);  // "createdDateTime", ...

enum class CompareOp { kEq, kNe, kGt, kGe, kLt, kLe };

// A Graph error to answer with: status, error.code, error.message.
struct ApiError {
  int status = 400;
  std::string code;
  std::string message;
};

// The type of a property $filter can compare.
enum class PropertyType { kDateTimeOffset, kBoolean, kString, kEnum };

struct FilterableProperty {
  std::string name;  // Graph's spelling
  PropertyType type = PropertyType::kString;
  int time = -1;                     // kDateTimeOffset: its TimeField
  std::string enum_type;             // kEnum: "microsoft.graph.importance"
  std::vector<std::string> members;  // kEnum: the members in value order, Graph's spelling
};

// The entity a query runs against, for name resolution and error texts.
struct EntityInfo {
  std::string type_name;                       // "microsoft.graph.message"
  std::vector<std::string> properties;         // every property name, Graph's spelling
  bool has_received = false;                   // receivedDateTime exists (messages only)
  std::vector<FilterableProperty> filterable;  // what $filter compares
};

// A value a filter reads from an item: null, a boolean or a string (enums are strings).
struct FilterValue {
  enum class Type { kNull, kBool, kString };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;
};

// What a filter reads of an item.
class FilterSubject {
 public:
  virtual ~FilterSubject() = default;
  virtual TimePoint Time(TimeField field) const = 0;
  // A property that is not a timestamp, by its FilterableProperty::name.
  virtual FilterValue Value(const std::string& property) const = 0;
};

class FilterExpr {
 public:
  enum class Kind { kCompare, kAnd, kOr, kNot };

  // `property` must outlive the expression (EntityInfo's are static). A null `literal`
  // (no value) compares as OData's null; `time` is the literal of a DateTimeOffset.
  static std::unique_ptr<FilterExpr> Compare(const FilterableProperty* property, CompareOp op,
                                             std::optional<FilterValue> literal, TimePoint time);
  static std::unique_ptr<FilterExpr> Join(Kind kind, std::unique_ptr<FilterExpr> left,
                                          std::unique_ptr<FilterExpr> right);
  static std::unique_ptr<FilterExpr> Not(std::unique_ptr<FilterExpr> operand);

  bool Matches(const FilterSubject& subject) const;
  // True if the expression reads no property but timestamps.
  bool TimesOnly() const;

  // Bounds on `field` implied by the top-level conjunction (a row outside them cannot
  // match), so a query can seek an index instead of scanning it. Inclusive.
  void Bounds(TimeField field, std::optional<TimePoint>* low, std::optional<TimePoint>* high) const;

 private:
  bool CompareMatches(const FilterSubject& subject) const;

  Kind kind_ = Kind::kCompare;
  const FilterableProperty* property_ = nullptr;
  CompareOp op_ = CompareOp::kEq;
  bool null_literal_ = true;
  FilterValue literal_;
  TimePoint time_{};
  std::unique_ptr<FilterExpr> left_, right_;  // kNot: left_ only
};

// Parses a $filter expression for `entity`; `fields` gets the properties it names, Graph's
// spelling, by first appearance (for the InefficientFilter rule).
std::optional<ApiError> ParseFilter(std::string_view text, const EntityInfo& entity,
                                    std::unique_ptr<FilterExpr>* out,
                                    std::vector<std::string>* fields);

struct OrderKey {
  TimeField field;
  bool descending;
};

struct QueryOptions {
  std::shared_ptr<const FilterExpr> filter;
  std::vector<std::string> filter_fields;  // properties in $filter, by first appearance
  std::vector<OrderKey> orderby;
  std::optional<int> top;
  std::optional<size_t> skip;
  std::optional<std::string> skiptoken;
  std::vector<std::string> select;  // Graph's spelling, request order, deduplicated
  bool count = false;
  // The options as received (decoded), minus $skip/$skiptoken, to rebuild a nextLink.
  std::vector<std::pair<std::string, std::string>> carried;
};

enum class QueryKind {
  kCollection,  // list: all options
  kSingle,      // one entity: $select only
};

// Parses the request's query parameters. Parameters that do not start with '$' are
// ignored, as Graph does.
std::optional<ApiError> ParseQueryOptions(
    const std::vector<std::pair<std::string, std::string>>& params, const EntityInfo& entity,
    QueryKind kind, QueryOptions* out);

// Messages: "properties in $orderby must also be in $filter, in the same order, first".
bool IsInefficientFilter(const QueryOptions& options);

// Paging position: the sort-key values and the id of the last item a page returned.
struct Cursor {
  std::vector<int64_t> keys;  // ticks, one per sort key
  std::string id;
};
std::string EncodeSkipToken(const Cursor& cursor);
// nullopt if the token is not ours or does not fit `key_count` sort keys.
std::optional<Cursor> DecodeSkipToken(const std::string& token, size_t key_count);

// Percent-encoding for building URLs (RFC 3986 unreserved characters stay).
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_ODATA_H_
