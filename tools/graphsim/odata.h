// OData system query options as Graph's Outlook endpoints accept them: $filter (comparisons
// of DateTimeOffset properties joined by and/or), $orderby, $top, $skip, $skiptoken,
// $select and $count; with Graph's error codes for everything else.
//
// Thread-safety: parsed values are immutable; free functions have no shared state.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_ODATA_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_ODATA_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/graphsim/time_format.h"

namespace graphsim {

// The properties graphsim can filter and sort on: the ones a sync engine needs.
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

// The entity a query runs against, for name resolution and error texts.
struct EntityInfo {
  std::string type_name;                // "microsoft.graph.message"
  std::vector<std::string> properties;  // every property name, Graph's spelling
  bool has_received = false;            // receivedDateTime exists (messages only)
};

class FilterExpr {
 public:
  enum class Kind { kCompare, kAnd, kOr };

  static std::unique_ptr<FilterExpr> Compare(TimeField field, CompareOp op, TimePoint value);
  static std::unique_ptr<FilterExpr> Join(Kind kind, std::unique_ptr<FilterExpr> left,
                                          std::unique_ptr<FilterExpr> right);

  // `times` is indexed by TimeField.
  bool Matches(const TimePoint* times) const;

  // Bounds on `field` implied by the top-level conjunction (a row outside them cannot
  // match), so a query can seek an index instead of scanning it. Inclusive.
  void Bounds(TimeField field, std::optional<TimePoint>* low, std::optional<TimePoint>* high) const;

 private:
  Kind kind_ = Kind::kCompare;
  TimeField field_ = TimeField::kCreated;
  CompareOp op_ = CompareOp::kEq;
  TimePoint value_{};
  std::unique_ptr<FilterExpr> left_, right_;
};

struct OrderKey {
  TimeField field;
  bool descending;
};

struct QueryOptions {
  std::shared_ptr<const FilterExpr> filter;
  std::vector<TimeField> filter_fields;  // properties in $filter, by first appearance
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
