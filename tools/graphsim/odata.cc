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

// Resolves a property name in $filter (case-insensitively, as Graph does) to one graphsim
// can compare, or explains why it cannot be used.
std::optional<ApiError> ResolveFilterProperty(std::string_view name, const EntityInfo& entity,
                                              const FilterableProperty** property) {
  std::string lower = Lower(name);
  // A property path (`from/emailAddress/address`, [Query]'s example): valid in Graph if it
  // starts at a property of the type, but not compared by graphsim.
  if (size_t slash = lower.find('/'); slash != std::string::npos) {
    std::string head = lower.substr(0, slash);
    bool known = Documented(entity, head);
    for (const std::string& p : entity.properties) known = known || Lower(p) == head;
    if (known) {
      return ApiError{
          501, "NotImplemented",
          "graphsim does not implement $filter on property paths ('" + std::string(name) + "')."};
    }
    return BadRequest("Could not find a property named '" + std::string(name.substr(0, slash)) +
                      "' on type '" + entity.type_name + "'.");
  }
  for (const FilterableProperty& p : entity.filterable) {
    if (Lower(p.name) == lower) {
      *property = &p;
      return std::nullopt;
    }
  }
  bool modelled = false;
  for (const std::string& p : entity.properties) modelled = modelled || Lower(p) == lower;
  if (modelled || Documented(entity, lower)) {
    return ApiError{501, "NotImplemented",
                    "graphsim supports $filter on timestamps and on the Boolean, String and enum "
                    "properties it models; not on '" +
                        std::string(name) + "'."};
  }
  return BadRequest("Could not find a property named '" + std::string(name) + "' on type '" +
                    entity.type_name + "'.");
}

std::string TypeName(const FilterableProperty& property) {
  switch (property.type) {
    case PropertyType::kDateTimeOffset:
      return "Edm.DateTimeOffset";
    case PropertyType::kBoolean:
      return "Edm.Boolean";
    case PropertyType::kString:
      return "Edm.String";
    case PropertyType::kEnum:
      break;
  }
  return property.enum_type;
}

// Graph's answer to comparing a property with a literal of another type ("field": Graph
// says it for a quoted date; the same OData layer says it for every pair).
ApiError IncompatibleTypes(const FilterableProperty& property, const std::string& literal_type,
                           CompareOp op) {
  return BadRequest(
      "A binary operator with incompatible types was detected. Found operand types '" +
      TypeName(property) + "' and '" + literal_type + "' for operator kind '" +
      OperatorKindName(op) + "'.");
}

// The OData type of an unquoted literal that is none of null, true, false or a
// DateTimeOffset, for the incompatible-types answer; "" if it is no literal at all.
std::string NumberType(const std::string& text) {
  size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i >= text.size()) return "";
  bool digits = true, number = true;
  for (size_t j = i; j < text.size(); ++j) {
    char c = text[j];
    if (!std::isdigit(static_cast<unsigned char>(c))) digits = false;
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' &&
        c != '-' && c != '+') {
      number = false;
    }
  }
  if (digits) return text.size() - i <= 9 ? "Edm.Int32" : "Edm.Int64";
  return number && std::isdigit(static_cast<unsigned char>(text[i])) ? "Edm.Double" : "";
}

// The position of an enum member (case-insensitive, as the documented
// `importance eq 'High'` needs); -1 if it is none.
int MemberIndex(const FilterableProperty& property, const std::string& text) {
  std::string lower = Lower(text);
  for (size_t i = 0; i < property.members.size(); ++i) {
    if (Lower(property.members[i]) == lower) return static_cast<int>(i);
  }
  return -1;
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

// Recursive descent over: or := and ('or' and)*; and := unary ('and' unary)*;
// unary := 'not' unary | primary; primary := '(' or ')' | property op literal | a Boolean
// property alone. Keywords, operators and true/false/null in any case (the documented
// examples write `AND` and `NOT`). Graph's OData layer refuses a filter of more than 100
// nodes; parentheses and `not` count here too, which also bounds the recursion.
class FilterParser {
 public:
  FilterParser(const std::vector<Token>& tokens, const EntityInfo& entity,
               std::vector<std::string>* fields)
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

  bool WordAt(size_t pos, const char* word) const {
    return pos < tokens_.size() && tokens_[pos].kind == Token::Kind::kWord &&
           Lower(tokens_[pos].text) == word;
  }
  bool AtWord(const char* word) const { return WordAt(pos_, word); }

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
    if (auto err = ParseUnary(out)) return err;
    while (AtWord("and")) {
      ++pos_;
      std::unique_ptr<FilterExpr> right;
      if (auto err = ParseUnary(&right)) return err;
      *out = FilterExpr::Join(FilterExpr::Kind::kAnd, std::move(*out), std::move(right));
    }
    return std::nullopt;
  }

  std::optional<ApiError> ParseUnary(std::unique_ptr<FilterExpr>* out) {
    if (!AtWord("not")) return ParsePrimary(out);
    ++pos_;
    if (auto err = CountNode()) return err;
    std::unique_ptr<FilterExpr> operand;
    if (auto err = ParseUnary(&operand)) return err;
    *out = FilterExpr::Not(std::move(operand));
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
    if (pos_ < tokens_.size() && tokens_[pos_].kind == Token::Kind::kOpen) {
      // A function or lambda: [Query] documents startswith, endswith, contains and any.
      const std::string lower = Lower(name);
      const size_t slash = lower.rfind('/');
      if (lower == "startswith" || lower == "endswith" || lower == "contains" ||
          (slash != std::string::npos && lower.substr(slash) == "/any")) {
        return ApiError{501, "NotImplemented",
                        "graphsim does not implement '" + name + "' in $filter."};
      }
      return BadRequest("Invalid filter clause: unknown function '" + name + "'.");
    }
    // A Boolean property alone is a predicate (OData's boolean member expression).
    const bool alone = pos_ >= tokens_.size() || tokens_[pos_].kind == Token::Kind::kClose ||
                       AtWord("and") || AtWord("or");
    if (alone) {
      const FilterableProperty* property = nullptr;
      if (auto err = ResolveFilterProperty(name, entity_, &property)) return err;
      if (property->type != PropertyType::kBoolean) {
        return BadRequest("Invalid filter clause: operator expected after '" + name + "'.");
      }
      Note(*property);
      *out = FilterExpr::Compare(property, CompareOp::kEq,
                                 FilterValue{FilterValue::Type::kBool, true, ""}, TimePoint{});
      return std::nullopt;
    }
    if (tokens_[pos_].kind != Token::Kind::kWord) {
      return BadRequest("Invalid filter clause: operator expected after '" + name + "'.");
    }
    static const std::pair<const char*, CompareOp> kOps[] = {
        {"eq", CompareOp::kEq}, {"ne", CompareOp::kNe}, {"gt", CompareOp::kGt},
        {"ge", CompareOp::kGe}, {"lt", CompareOp::kLt}, {"le", CompareOp::kLe}};
    std::optional<CompareOp> op;
    for (const auto& [text, value] : kOps) {
      if (AtWord(text)) op = value;
    }
    if (!op && (AtWord("in") || AtWord("has"))) {
      // Documented by [Query] ("Equality operators"); graphsim compares with eq and ne only.
      const FilterableProperty* property = nullptr;
      if (auto err = ResolveFilterProperty(name, entity_, &property)) return err;
      return ApiError{
          501, "NotImplemented",
          "graphsim does not implement the operator '" + tokens_[pos_].text + "' in $filter."};
    }
    if (!op) {
      return BadRequest("Invalid filter clause: unknown operator '" + tokens_[pos_].text + "'.");
    }
    ++pos_;
    if (pos_ >= tokens_.size()) {
      return BadRequest("Invalid filter clause: a value is expected after the operator.");
    }
    const FilterableProperty* property = nullptr;
    if (auto err = ResolveFilterProperty(name, entity_, &property)) return err;
    const Token& literal = tokens_[pos_++];
    std::optional<FilterValue> value;
    TimePoint time{};
    if (auto err = ParseLiteral(*property, *op, literal, &value, &time)) return err;
    Note(*property);
    *out = FilterExpr::Compare(property, *op, std::move(value), time);
    return std::nullopt;
  }

  // The literal compared with `property`: *value stays nullopt for `null`.
  std::optional<ApiError> ParseLiteral(const FilterableProperty& property, CompareOp op,
                                       const Token& literal, std::optional<FilterValue>* value,
                                       TimePoint* time) {
    if (literal.kind == Token::Kind::kString) {
      switch (property.type) {
        case PropertyType::kString:
          *value = FilterValue{FilterValue::Type::kString, false, literal.text};
          return std::nullopt;
        case PropertyType::kEnum:
          if (MemberIndex(property, literal.text) < 0) {
            return BadRequest("The string '" + literal.text +
                              "' is not a valid enumeration type constant.");
          }
          *value = FilterValue{FilterValue::Type::kString, false, literal.text};
          return std::nullopt;
        case PropertyType::kDateTimeOffset:
        case PropertyType::kBoolean:
          break;
      }
      return IncompatibleTypes(property, "Edm.String", op);
    }
    if (literal.kind != Token::Kind::kWord) {
      return BadRequest("Invalid filter clause: a value is expected after the operator.");
    }
    const std::string lower = Lower(literal.text);
    if (lower == "null") return std::nullopt;  // OData's null: comparable with any type
    if (lower == "true" || lower == "false") {
      if (property.type != PropertyType::kBoolean) {
        return IncompatibleTypes(property, "Edm.Boolean", op);
      }
      *value = FilterValue{FilterValue::Type::kBool, lower == "true", ""};
      return std::nullopt;
    }
    std::optional<TimePoint> t = ParseDateTimeOffset(literal.text);
    if (property.type == PropertyType::kDateTimeOffset) {
      if (!t) {
        return BadRequest("Invalid filter clause: '" + literal.text +
                          "' is not a valid DateTimeOffset literal.");
      }
      *value = FilterValue{};
      *time = *t;
      return std::nullopt;
    }
    if (t) return IncompatibleTypes(property, "Edm.DateTimeOffset", op);
    std::string number = NumberType(literal.text);
    if (!number.empty()) return IncompatibleTypes(property, number, op);
    return BadRequest("Invalid filter clause: '" + literal.text + "' is not a valid literal.");
  }

  void Note(const FilterableProperty& property) {
    if (std::find(fields_->begin(), fields_->end(), property.name) == fields_->end()) {
      fields_->push_back(property.name);
    }
  }

  const std::vector<Token>& tokens_;
  const EntityInfo& entity_;
  std::vector<std::string>* fields_;
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
    TimeField field = TimeField::kCreated;
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

std::unique_ptr<FilterExpr> FilterExpr::Compare(const FilterableProperty* property, CompareOp op,
                                                std::optional<FilterValue> literal,
                                                TimePoint time) {
  auto e = std::make_unique<FilterExpr>();
  e->kind_ = Kind::kCompare;
  e->property_ = property;
  e->op_ = op;
  e->null_literal_ = !literal.has_value();
  if (literal) e->literal_ = std::move(*literal);
  if (e->literal_.type == FilterValue::Type::kString) e->literal_.text = Lower(e->literal_.text);
  e->time_ = time;
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

std::unique_ptr<FilterExpr> FilterExpr::Not(std::unique_ptr<FilterExpr> operand) {
  auto e = std::make_unique<FilterExpr>();
  e->kind_ = Kind::kNot;
  e->left_ = std::move(operand);
  return e;
}

bool FilterExpr::Matches(const FilterSubject& subject) const {
  switch (kind_) {
    case Kind::kAnd:
      return left_->Matches(subject) && right_->Matches(subject);
    case Kind::kOr:
      return left_->Matches(subject) || right_->Matches(subject);
    case Kind::kNot:
      return !left_->Matches(subject);
    case Kind::kCompare:
      break;
  }
  return CompareMatches(subject);
}

bool FilterExpr::TimesOnly() const {
  switch (kind_) {
    case Kind::kAnd:
    case Kind::kOr:
      return left_->TimesOnly() && right_->TimesOnly();
    case Kind::kNot:
      return left_->TimesOnly();
    case Kind::kCompare:
      break;
  }
  return property_->type == PropertyType::kDateTimeOffset;
}

// Null as OData's lifted operators treat it ([MS-ODATA] 2.2.3.6.1.1.5): eq and ne see
// two nulls equal and null unequal to anything else; relational operators are false.
// Strings and enum members compare without regard to ASCII case (Graph's documented
// `importance eq 'High'`), enum members by their order, false before true.
bool FilterExpr::CompareMatches(const FilterSubject& subject) const {
  int order = 0;  // <0, 0, >0 as the item's value sorts before, with, after the literal
  if (property_->type == PropertyType::kDateTimeOffset) {
    if (null_literal_) return op_ == CompareOp::kNe;
    TimePoint t = subject.Time(static_cast<TimeField>(property_->time));
    order = t < time_ ? -1 : t > time_ ? 1 : 0;
  } else {
    FilterValue value = subject.Value(property_->name);
    const bool expected = property_->type == PropertyType::kBoolean
                              ? value.type == FilterValue::Type::kBool
                              : value.type == FilterValue::Type::kString;
    const bool value_null = !expected;  // a value of another JSON type reads as null
    if (value_null || null_literal_) {
      const bool equal = value_null && null_literal_;
      if (op_ == CompareOp::kEq) return equal;
      if (op_ == CompareOp::kNe) return !equal;
      return false;
    }
    switch (property_->type) {
      case PropertyType::kBoolean:
        order = static_cast<int>(value.boolean) - static_cast<int>(literal_.boolean);
        break;
      case PropertyType::kEnum: {
        int a = MemberIndex(*property_, value.text);
        int b = MemberIndex(*property_, literal_.text);
        order = (a >= 0 && b >= 0) ? a - b : Lower(value.text).compare(literal_.text);
        break;
      }
      case PropertyType::kString:
      case PropertyType::kDateTimeOffset:
        order = Lower(value.text).compare(literal_.text);
        break;
    }
  }
  switch (op_) {
    case CompareOp::kEq:
      return order == 0;
    case CompareOp::kNe:
      return order != 0;
    case CompareOp::kGt:
      return order > 0;
    case CompareOp::kGe:
      return order >= 0;
    case CompareOp::kLt:
      return order < 0;
    case CompareOp::kLe:
      return order <= 0;
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
  if (kind_ != Kind::kCompare || property_->type != PropertyType::kDateTimeOffset ||
      property_->time != static_cast<int>(field) || null_literal_) {
    return;
  }
  bool sets_low = op_ == CompareOp::kEq || op_ == CompareOp::kGt || op_ == CompareOp::kGe;
  bool sets_high = op_ == CompareOp::kEq || op_ == CompareOp::kLt || op_ == CompareOp::kLe;
  if (sets_low && (!*low || time_ > **low)) *low = time_;
  if (sets_high && (!*high || time_ < **high)) *high = time_;
}

std::optional<ApiError> ParseFilter(std::string_view text, const EntityInfo& entity,
                                    std::unique_ptr<FilterExpr>* out,
                                    std::vector<std::string>* fields) {
  std::vector<Token> tokens;
  if (auto err = Tokenize(text, &tokens)) return err;
  FilterParser parser(tokens, entity, fields);
  return parser.Parse(out);
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
      std::unique_ptr<FilterExpr> expr;
      if (auto err = ParseFilter(value, entity, &expr, &out->filter_fields)) return err;
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
    if (TimeFieldName(options.orderby[i].field) != options.filter_fields[i]) return true;
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
