#include "tools/graphsim/odata.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

#include "tools/graphsim/ids.h"

namespace graphsim {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

ApiError BadRequest(std::string message) { return ApiError{400, "BadRequest", std::move(message)}; }

const char* OperatorKindName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "Equal";
    case CompareOp::kNe:
      return "NotEqual";
    case CompareOp::kGt:
      return "GreaterThan";
    case CompareOp::kGe:
      return "GreaterThanOrEqual";
    case CompareOp::kLt:
      return "LessThan";
    case CompareOp::kLe:
      return "LessThanOrEqual";
  }
  return "";
}

// Properties of the v1.0 resource types ("message resource type", "event resource type",
// "contact resource type", section Properties), lower-case. graphsim models a subset; a
// request naming one it does not model is valid in Graph, so it is answered 501, not 400.
bool Documented(const EntityInfo& entity, const std::string& lower) {
  // Space-separated, with a space at both ends.
  static const std::map<std::string, std::string> kDocumented = {
      {"microsoft.graph.message",
       " bccrecipients body bodypreview categories ccrecipients changekey "
       "conversationid conversationindex createddatetime flag from hasattachments id "
       "importance inferenceclassification internetmessageheaders internetmessageid "
       "isdeliveryreceiptrequested isdraft isread isreadreceiptrequested "
       "lastmodifieddatetime parentfolderid receiveddatetime replyto sender "
       "sentdatetime subject torecipients uniquebody weblink "},
      {"microsoft.graph.event",
       " allownewtimeproposals attendees body bodypreview categories changekey "
       "createddatetime end hasattachments hideattendees icaluid id importance "
       "isallday iscancelled isdraft isonlinemeeting isorganizer isreminderon "
       "lastmodifieddatetime location locations onlinemeeting onlinemeetingprovider "
       "onlinemeetingurl organizer originalendtimezone originalstart "
       "originalstarttimezone recurrence reminderminutesbeforestart responserequested "
       "responsestatus sensitivity seriesmasterid showas start subject transactionid "
       "type weblink "},
      {"microsoft.graph.contact",
       " assistantname birthday businessaddress businesshomepage businessphones "
       "categories changekey children companyname createddatetime department "
       "displayname emailaddresses fileas generation givenname homeaddress homephones "
       "id imaddresses initials jobtitle lastmodifieddatetime manager middlename "
       "mobilephone nickname officelocation otheraddress parentfolderid personalnotes "
       "profession spousename surname title yomicompanyname yomigivenname yomisurname "}};
  if (lower.empty() || lower.find(' ') != std::string::npos) return false;
  auto it = kDocumented.find(entity.type_name);
  return it != kDocumented.end() && it->second.find(" " + lower + " ") != std::string::npos;
}

// Resolves a property name (case-insensitively, as Graph does) to a TimeField, or
// explains why it cannot be used in $filter/$orderby.
std::optional<ApiError> ResolveTimeField(std::string_view name, const EntityInfo& entity,
                                         const char* option, TimeField* field) {
  std::string lower = Lower(name);
  for (int i = 0; i < kTimeFieldCount; ++i) {
    auto f = static_cast<TimeField>(i);
    if (f == TimeField::kReceived && !entity.has_received) continue;
    if (lower == Lower(TimeFieldName(f))) {
      *field = f;
      return std::nullopt;
    }
  }
  bool modelled = false;
  for (const std::string& p : entity.properties) modelled = modelled || Lower(p) == lower;
  if (modelled || Documented(entity, lower)) {
    return ApiError{501, "NotImplemented",
                    "graphsim supports " + std::string(option) +
                        " only on createdDateTime, lastModifiedDateTime" +
                        (entity.has_received ? ", receivedDateTime" : "") + "; not on '" +
                        std::string(name) + "'."};
  }
  return BadRequest("Could not find a property named '" + std::string(name) + "' on type '" +
                    entity.type_name + "'.");
}

// Tokens of a $filter expression: words, quoted strings and parentheses.
struct Token {
  enum class Kind { kWord, kString, kOpen, kClose } kind;
  std::string text;
};

std::optional<ApiError> Tokenize(std::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')') {
      out->push_back({c == '(' ? Token::Kind::kOpen : Token::Kind::kClose, std::string(1, c)});
      ++i;
    } else if (c == '\'') {
      std::string text;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            text += '\'';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        text += s[i++];
      }
      if (!closed) return BadRequest("Invalid filter clause: unterminated string literal.");
      out->push_back({Token::Kind::kString, std::move(text)});
    } else {
      size_t start = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' &&
             s[i] != ')' && s[i] != '\'') {
        ++i;
      }
      out->push_back({Token::Kind::kWord, std::string(s.substr(start, i - start))});
    }
  }
  return std::nullopt;
}

// Recursive descent over: expr := and ('or' and)*; and := primary ('and' primary)*;
// primary := '(' expr ')' | property op literal. Graph's OData layer refuses a filter of
// more than 100 nodes; parentheses count here too, which also bounds the recursion.
class FilterParser {
 public:
  FilterParser(const std::vector<Token>& tokens, const EntityInfo& entity,
               std::vector<TimeField>* fields)
      : tokens_(tokens), entity_(entity), fields_(fields) {}

  std::optional<ApiError> Parse(std::unique_ptr<FilterExpr>* out) {
    if (tokens_.empty()) return BadRequest("Invalid filter clause: the expression is empty.");
    if (auto err = ParseOr(out)) return err;
    if (pos_ != tokens_.size()) {
      return BadRequest("Invalid filter clause: syntax error at '" + tokens_[pos_].text + "'.");
    }
    return std::nullopt;
  }

 private:
  static constexpr int kMaxNodes = 100;

  std::optional<ApiError> CountNode() {
    if (++nodes_ <= kMaxNodes) return std::nullopt;
    return BadRequest("The query specified in the URI is not valid. The node count limit of '" +
                      std::to_string(kMaxNodes) + "' has been exceeded.");
  }

  bool AtWord(const char* word) const {
    return pos_ < tokens_.size() && tokens_[pos_].kind == Token::Kind::kWord &&
           tokens_[pos_].text == word;
  }

  std::optional<ApiError> ParseOr(std::unique_ptr<FilterExpr>* out) {
    if (auto err = ParseAnd(out)) return err;
    while (AtWord("or")) {
      ++pos_;
      std::unique_ptr<FilterExpr> right;
      if (auto err = ParseAnd(&right)) return err;
      *out = FilterExpr::Join(FilterExpr::Kind::kOr, std::move(*out), std::move(right));
    }
    return std::nullopt;
  }

  std::optional<ApiError> ParseAnd(std::unique_ptr<FilterExpr>* out) {
    if (auto err = ParsePrimary(out)) return err;
    while (AtWord("and")) {
      ++pos_;
      std::unique_ptr<FilterExpr> right;
      if (auto err = ParsePrimary(&right)) return err;
      *out = FilterExpr::Join(FilterExpr::Kind::kAnd, std::move(*out), std::move(right));
    }
    return std::nullopt;
  }

  std::optional<ApiError> ParsePrimary(std::unique_ptr<FilterExpr>* out) {
    if (pos_ >= tokens_.size()) {
      return BadRequest("Invalid filter clause: the expression ends unexpectedly.");
    }
    if (auto err = CountNode()) return err;
    if (tokens_[pos_].kind == Token::Kind::kOpen) {
      ++pos_;
      if (auto err = ParseOr(out)) return err;
      if (pos_ >= tokens_.size() || tokens_[pos_].kind != Token::Kind::kClose) {
        return BadRequest("Invalid filter clause: ')' or operator expected.");
      }
      ++pos_;
      return std::nullopt;
    }
    if (tokens_[pos_].kind != Token::Kind::kWord) {
      return BadRequest("Invalid filter clause: syntax error at '" + tokens_[pos_].text + "'.");
    }
    const std::string& name = tokens_[pos_++].text;
    if (pos_ >= tokens_.size() || tokens_[pos_].kind != Token::Kind::kWord) {
      return BadRequest("Invalid filter clause: operator expected after '" + name + "'.");
    }
    static const std::pair<const char*, CompareOp> kOps[] = {
        {"eq", CompareOp::kEq}, {"ne", CompareOp::kNe}, {"gt", CompareOp::kGt},
        {"ge", CompareOp::kGe}, {"lt", CompareOp::kLt}, {"le", CompareOp::kLe}};
    std::optional<CompareOp> op;
    for (const auto& [text, value] : kOps) {
      if (tokens_[pos_].text == text) op = value;
    }
    if (!op) {
      return BadRequest("Invalid filter clause: unknown operator '" + tokens_[pos_].text + "'.");
    }
    ++pos_;
    if (pos_ >= tokens_.size()) {
      return BadRequest("Invalid filter clause: a value is expected after the operator.");
    }
    TimeField field;
    if (auto err = ResolveTimeField(name, entity_, "$filter", &field)) return err;
    const Token& literal = tokens_[pos_++];
    if (literal.kind == Token::Kind::kString) {
      return BadRequest(
          "A binary operator with incompatible types was detected. Found operand types "
          "'Edm.DateTimeOffset' and 'Edm.String' for operator kind '" +
          std::string(OperatorKindName(*op)) + "'.");
    }
    if (literal.kind != Token::Kind::kWord) {
      return BadRequest("Invalid filter clause: a value is expected after the operator.");
    }
    auto value = ParseDateTimeOffset(literal.text);
    if (!value) {
      return BadRequest("Invalid filter clause: '" + literal.text +
                        "' is not a valid DateTimeOffset literal.");
    }
    if (std::find(fields_->begin(), fields_->end(), field) == fields_->end()) {
      fields_->push_back(field);
    }
    *out = FilterExpr::Compare(field, *op, *value);
    return std::nullopt;
  }

  const std::vector<Token>& tokens_;
  const EntityInfo& entity_;
  std::vector<TimeField>* fields_;
  size_t pos_ = 0;
  int nodes_ = 0;
};

std::optional<ApiError> ParseOrderBy(std::string_view text, const EntityInfo& entity,
                                     std::vector<OrderKey>* out) {
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = Trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (part.empty()) return BadRequest("Invalid $orderby: an empty sort expression.");
    size_t space = part.find_first_of(" \t");
    std::string_view name = part.substr(0, space);
    bool descending = false;
    if (space != std::string_view::npos) {
      std::string_view direction = Trim(part.substr(space));
      if (direction == "desc") {
        descending = true;
      } else if (direction != "asc") {
        return BadRequest("Invalid $orderby: expected 'asc' or 'desc' after '" + std::string(name) +
                          "', found '" + std::string(direction) + "'.");
      }
    }
    TimeField field;
    if (auto err = ResolveTimeField(name, entity, "$orderby", &field)) return err;
    for (const OrderKey& key : *out) {
      if (key.field == field) {
        return BadRequest("Duplicate property named '" + std::string(TimeFieldName(field)) +
                          "' is not supported in '$orderby'.");
      }
    }
    out->push_back({field, descending});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

bool ParseInt(std::string_view text, int64_t* value) {
  text = Trim(text);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

const char* TimeFieldName(TimeField field) {
  switch (field) {
    case TimeField::kCreated:
      return "createdDateTime";
    case TimeField::kModified:
      return "lastModifiedDateTime";
    case TimeField::kReceived:
      return "receivedDateTime";
  }
  return "";
}

std::unique_ptr<FilterExpr> FilterExpr::Compare(TimeField field, CompareOp op, TimePoint value) {
  auto e = std::make_unique<FilterExpr>();
  e->kind_ = Kind::kCompare;
  e->field_ = field;
  e->op_ = op;
  e->value_ = value;
  return e;
}

std::unique_ptr<FilterExpr> FilterExpr::Join(Kind kind, std::unique_ptr<FilterExpr> left,
                                             std::unique_ptr<FilterExpr> right) {
  auto e = std::make_unique<FilterExpr>();
  e->kind_ = kind;
  e->left_ = std::move(left);
  e->right_ = std::move(right);
  return e;
}

bool FilterExpr::Matches(const TimePoint* times) const {
  switch (kind_) {
    case Kind::kAnd:
      return left_->Matches(times) && right_->Matches(times);
    case Kind::kOr:
      return left_->Matches(times) || right_->Matches(times);
    case Kind::kCompare:
      break;
  }
  TimePoint t = times[static_cast<int>(field_)];
  switch (op_) {
    case CompareOp::kEq:
      return t == value_;
    case CompareOp::kNe:
      return t != value_;
    case CompareOp::kGt:
      return t > value_;
    case CompareOp::kGe:
      return t >= value_;
    case CompareOp::kLt:
      return t < value_;
    case CompareOp::kLe:
      return t <= value_;
  }
  return false;
}

void FilterExpr::Bounds(TimeField field, std::optional<TimePoint>* low,
                        std::optional<TimePoint>* high) const {
  if (kind_ == Kind::kAnd) {
    left_->Bounds(field, low, high);
    right_->Bounds(field, low, high);
    return;
  }
  if (kind_ != Kind::kCompare || field_ != field) return;
  bool sets_low = op_ == CompareOp::kEq || op_ == CompareOp::kGt || op_ == CompareOp::kGe;
  bool sets_high = op_ == CompareOp::kEq || op_ == CompareOp::kLt || op_ == CompareOp::kLe;
  if (sets_low && (!*low || value_ > **low)) *low = value_;
  if (sets_high && (!*high || value_ < **high)) *high = value_;
}

std::optional<ApiError> ParseQueryOptions(
    const std::vector<std::pair<std::string, std::string>>& params, const EntityInfo& entity,
    QueryKind kind, QueryOptions* out) {
  std::set<std::string> seen;
  for (const auto& [raw_name, value] : params) {
    if (raw_name.empty() || raw_name[0] != '$') continue;
    std::string name = Lower(raw_name);
    if (!seen.insert(name).second) {
      return BadRequest("Query option '" + raw_name +
                        "' was specified more than once, but it must be specified at most once.");
    }
    static const std::set<std::string> kKnown = {"$filter",    "$orderby", "$top",  "$skip",
                                                 "$skiptoken", "$select",  "$count"};
    // Options Graph serves on Outlook items that graphsim does not: 501, so that a client
    // cannot take a simulator gap for a malformed request of its own.
    static const std::set<std::string> kNotImplemented = {"$search", "$expand"};
    static const std::set<std::string> kUnsupported = {"$format", "$levels", "$compute", "$apply",
                                                       "$deltatoken"};
    if (kNotImplemented.count(name)) {
      return ApiError{501, "NotImplemented",
                      "graphsim does not implement the query option '" + raw_name + "'."};
    }
    if (kUnsupported.count(name)) {
      return BadRequest("graphsim does not implement the query option '" + raw_name + "'.");
    }
    if (!kKnown.count(name)) {
      return BadRequest("The query parameter '" + raw_name + "' is not supported.");
    }
    if (kind == QueryKind::kSingle && name != "$select") {
      return BadRequest("The query option '" + raw_name + "' is not allowed on a single entity.");
    }
    if (name != "$skip" && name != "$skiptoken") out->carried.emplace_back(raw_name, value);

    if (name == "$filter") {
      std::vector<Token> tokens;
      if (auto err = Tokenize(value, &tokens)) return err;
      std::unique_ptr<FilterExpr> expr;
      FilterParser parser(tokens, entity, &out->filter_fields);
      if (auto err = parser.Parse(&expr)) return err;
      out->filter = std::move(expr);
    } else if (name == "$orderby") {
      if (auto err = ParseOrderBy(value, entity, &out->orderby)) return err;
    } else if (name == "$top") {
      int64_t top;
      if (!ParseInt(value, &top)) {
        return BadRequest("Invalid value '" + value + "' for query option '$top'.");
      }
      if (top < 1 || top > 1000) {
        return BadRequest("Invalid value '" + value +
                          "' for query option '$top': it must be between 1 and 1000.");
      }
      out->top = static_cast<int>(top);
    } else if (name == "$skip") {
      int64_t skip;
      if (!ParseInt(value, &skip) || skip < 0) {
        return BadRequest("Invalid value '" + value + "' for query option '$skip'.");
      }
      out->skip = static_cast<size_t>(skip);
    } else if (name == "$skiptoken") {
      out->skiptoken = value;
    } else if (name == "$select") {
      size_t start = 0;
      std::string_view text = value;
      while (true) {
        size_t comma = text.find(',', start);
        std::string_view part = Trim(text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (part.empty()) return BadRequest("Invalid $select: an empty property name.");
        std::string lower = Lower(part);
        const std::string* found = nullptr;
        for (const std::string& p : entity.properties) {
          if (Lower(p) == lower) found = &p;
        }
        if (!found && Documented(entity, lower)) {
          return ApiError{501, "NotImplemented",
                          "graphsim does not model the property '" + std::string(part) + "' of " +
                              entity.type_name + "."};
        }
        if (!found) {
          return BadRequest("Could not find a property named '" + std::string(part) +
                            "' on type '" + entity.type_name + "'.");
        }
        if (std::find(out->select.begin(), out->select.end(), *found) == out->select.end()) {
          out->select.push_back(*found);
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else if (name == "$count") {
      if (value == "true") {
        out->count = true;
      } else if (value != "false") {
        return BadRequest("Invalid value '" + value + "' for query option '$count'.");
      }
    }
  }
  if (out->skip && out->skiptoken) {
    return BadRequest("The query options '$skip' and '$skiptoken' cannot be used together.");
  }
  return std::nullopt;
}

bool IsInefficientFilter(const QueryOptions& options) {
  if (!options.filter || options.orderby.empty()) return false;
  if (options.orderby.size() > options.filter_fields.size()) return true;
  for (size_t i = 0; i < options.orderby.size(); ++i) {
    if (options.orderby[i].field != options.filter_fields[i]) return true;
  }
  return false;
}

// Token text: base64url of "gs1|k1|...|kn|id". Ids never contain '|'.
std::string EncodeSkipToken(const Cursor& cursor) {
  std::string plain = "gs1";
  for (int64_t k : cursor.keys) plain += "|" + std::to_string(k);
  plain += "|" + cursor.id;
  return Base64Url(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
}

std::optional<Cursor> DecodeSkipToken(const std::string& token, size_t key_count) {
  std::string plain;
  if (!Base64UrlDecode(token, &plain)) return std::nullopt;
  std::vector<std::string> parts = SplitTokenFields(plain);
  if (parts.size() != key_count + 2 || parts[0] != "gs1" || parts.back().empty()) {
    return std::nullopt;
  }
  Cursor cursor;
  for (size_t i = 1; i <= key_count; ++i) {
    int64_t k;
    if (!ParseInt(parts[i], &k)) return std::nullopt;
    cursor.keys.push_back(k);
  }
  cursor.id = parts.back();
  return cursor;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/') || c == '$') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace graphsim
