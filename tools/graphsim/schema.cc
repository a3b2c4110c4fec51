#include "tools/graphsim/schema.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "tools/graphsim/ids.h"

namespace graphsim {
namespace {

// Where a property's value comes from when an item is rendered.
enum class Source {
  kBookkeeping,  // computed from Item fields (id, timestamps, change key, folder)
  kContent,      // stored in Item::content
};
enum class Shape { kString, kBool, kObject, kArray };

struct PropertySpec {
  const char* name;
  Source source;
  bool writable;
  Shape shape;
};

constexpr Source B = Source::kBookkeeping;
constexpr Source C = Source::kContent;

const std::vector<PropertySpec>& Properties(EntityKind kind) {
  static const std::vector<PropertySpec> kMessage = {
      {"id", B, false, Shape::kString},
      {"createdDateTime", B, false, Shape::kString},
      {"lastModifiedDateTime", B, false, Shape::kString},
      {"changeKey", B, false, Shape::kString},
      {"categories", C, true, Shape::kArray},
      {"receivedDateTime", B, false, Shape::kString},
      {"sentDateTime", B, false, Shape::kString},
      {"hasAttachments", C, false, Shape::kBool},
      {"internetMessageId", C, true, Shape::kString},
      {"subject", C, true, Shape::kString},
      {"bodyPreview", C, false, Shape::kString},
      {"importance", C, true, Shape::kString},
      {"parentFolderId", B, false, Shape::kString},
      {"conversationId", C, false, Shape::kString},
      {"isDeliveryReceiptRequested", C, true, Shape::kBool},
      {"isReadReceiptRequested", C, true, Shape::kBool},
      {"isRead", C, true, Shape::kBool},
      {"isDraft", C, false, Shape::kBool},
      {"inferenceClassification", C, true, Shape::kString},
      {"body", C, true, Shape::kObject},
      {"sender", C, true, Shape::kObject},
      {"from", C, true, Shape::kObject},
      {"toRecipients", C, true, Shape::kArray},
      {"ccRecipients", C, true, Shape::kArray},
      {"bccRecipients", C, true, Shape::kArray},
      {"replyTo", C, true, Shape::kArray},
      {"flag", C, true, Shape::kObject},
  };
  static const std::vector<PropertySpec> kEvent = {
      {"id", B, false, Shape::kString},
      {"createdDateTime", B, false, Shape::kString},
      {"lastModifiedDateTime", B, false, Shape::kString},
      {"changeKey", B, false, Shape::kString},
      {"categories", C, true, Shape::kArray},
      {"originalStartTimeZone", C, false, Shape::kString},
      {"originalEndTimeZone", C, false, Shape::kString},
      {"subject", C, true, Shape::kString},
      {"bodyPreview", C, false, Shape::kString},
      {"importance", C, true, Shape::kString},
      {"isAllDay", C, true, Shape::kBool},
      {"isCancelled", C, false, Shape::kBool},
      {"seriesMasterId", C, false, Shape::kString},
      {"showAs", C, true, Shape::kString},
      {"type", C, false, Shape::kString},
      {"originalStart", C, false, Shape::kString},
      {"body", C, true, Shape::kObject},
      {"start", C, true, Shape::kObject},
      {"end", C, true, Shape::kObject},
      {"location", C, true, Shape::kObject},
      {"recurrence", C, true, Shape::kObject},
      {"attendees", C, true, Shape::kArray},
      {"organizer", C, true, Shape::kObject},
  };
  static const std::vector<PropertySpec> kContact = {
      {"id", B, false, Shape::kString},
      {"createdDateTime", B, false, Shape::kString},
      {"lastModifiedDateTime", B, false, Shape::kString},
      {"changeKey", B, false, Shape::kString},
      {"categories", C, true, Shape::kArray},
      {"parentFolderId", B, false, Shape::kString},
      {"displayName", C, true, Shape::kString},
      {"givenName", C, true, Shape::kString},
      {"surname", C, true, Shape::kString},
      {"jobTitle", C, true, Shape::kString},
      {"companyName", C, true, Shape::kString},
      {"mobilePhone", C, true, Shape::kString},
      {"businessPhones", C, true, Shape::kArray},
      {"homePhones", C, true, Shape::kArray},
      {"emailAddresses", C, true, Shape::kArray},
      {"personalNotes", C, true, Shape::kString},
  };
  switch (kind) {
    case EntityKind::kMessage:
      return kMessage;
    case EntityKind::kEvent:
      return kEvent;
    case EntityKind::kContact:
      break;
  }
  return kContact;
}

const char* ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kString:
      return "Edm.String";
    case Shape::kBool:
      return "Edm.Boolean";
    case Shape::kObject:
      return "a complex value";
    case Shape::kArray:
      return "a collection";
  }
  return "";
}

bool ShapeMatches(Shape shape, const Json& value) {
  switch (shape) {
    case Shape::kString:
      return value.is_string() || value.is_null();
    case Shape::kBool:
      return value.is_boolean();
    case Shape::kObject:
      return value.is_object() || value.is_null();
    case Shape::kArray:
      return value.is_array();
  }
  return false;
}

Json EmailAddress(const std::string& name, const std::string& address) {
  return Json{{"emailAddress", Json{{"name", name}, {"address", address}}}};
}

std::string Mail(const UserRecord& user) { return user.upn; }

const UserRecord& OtherUser(const TenantView& tenant, const UserRecord& owner, uint64_t pick) {
  const auto& users = *tenant.users;
  if (users.size() < 2) return owner;
  size_t i = pick % (users.size() - 1);
  if (i >= static_cast<size_t>(owner.index)) ++i;
  return users[i];
}

template <size_t N>
const char* Pick(const char* const (&words)[N], uint64_t r) {
  return words[r % N];
}

const char* const kSubjects[] = {
    "Quarterly review",    "Project kickoff",   "Budget for next year", "Re: Status update",
    "Lunch on Friday?",    "Contract draft",    "Customer feedback",    "Travel plans",
    "Design review notes", "Release checklist", "Fwd: Invoice",         "Team offsite",
    "Hiring pipeline",     "Security training", "Weekly sync",          "Roadmap questions"};
const char* const kSentences[] = {"Please find the latest numbers below.",
                                  "Can we move the meeting to Thursday afternoon?",
                                  "I have attached the notes from yesterday.",
                                  "Let me know if anything is missing.",
                                  "The team agreed on the new timeline.",
                                  "We still need sign-off from legal.",
                                  "Thanks for the quick turnaround!",
                                  "The customer asked for a follow-up call next week.",
                                  "Our budget request was approved.",
                                  "Here is a summary of the open issues."};
const char* const kGiven[] = {"Adele",   "Alex",  "Diego",     "Grady",  "Isaiah", "Johanna",
                              "Lee",     "Lidia", "Megan",     "Miriam", "Nestor", "Patti",
                              "Pradeep", "Lynne", "Henrietta", "Joni"};
const char* const kSurnames[] = {"Vance", "Wilber",   "Siciliani", "Archie", "Langer", "Lorenz",
                                 "Gu",    "Holloway", "Bowen",     "Graham", "Wilke",  "Fernandez",
                                 "Gupta", "Robbins",  "Mueller",   "Sherman"};
const char* const kCompanies[] = {"Contoso",           "Fabrikam",      "Litware",
                                  "Northwind Traders", "Tailspin Toys", "Wide World Importers",
                                  "Proseware"};
const char* const kLocations[] = {
    "Conference Room 1", "Building 4/1200", "Microsoft Teams", "Cafe", "Board room", ""};
const char* const kExternalDomains[] = {"fabrikam.com", "litware.com", "northwind.example",
                                        "tailspintoys.example"};

// --- OData type annotations of rich notification content -------------------------------

// How a value is annotated in rich content (see RichContent in schema.h).
enum class Annotated {
  kNone,        // strings, booleans, collections of strings: JSON says enough
  kPrimitive,   // `name@odata.type: "#DateTimeOffset"`
  kEnum,        // `name@odata.type: "#microsoft.graph.importance"`
  kComplex,     // `"@odata.type": "#microsoft.graph.recipient"` inside the value
  kCollection,  // `name@odata.type: "#Collection(microsoft.graph.recipient)"`, each element
                // annotated as kComplex
};

struct MemberType {
  const char* owner;  // "message", "event", "contact" or a complex type's name
  const char* member;
  Annotated annotated;
  const char* type;  // without '#' and, for complex types, without "microsoft.graph."
};

// The types of the properties graphsim models, from the resource type pages ("message",
// "event", "contact", and the complex types they hold).
const std::vector<MemberType>& MemberTypes() {
  using A = Annotated;
  static const std::vector<MemberType> kTypes = {
      {"message", "createdDateTime", A::kPrimitive, "DateTimeOffset"},
      {"message", "lastModifiedDateTime", A::kPrimitive, "DateTimeOffset"},
      {"message", "receivedDateTime", A::kPrimitive, "DateTimeOffset"},
      {"message", "sentDateTime", A::kPrimitive, "DateTimeOffset"},
      {"message", "importance", A::kEnum, "importance"},
      {"message", "inferenceClassification", A::kEnum, "inferenceClassificationType"},
      {"message", "body", A::kComplex, "itemBody"},
      {"message", "sender", A::kComplex, "recipient"},
      {"message", "from", A::kComplex, "recipient"},
      {"message", "toRecipients", A::kCollection, "recipient"},
      {"message", "ccRecipients", A::kCollection, "recipient"},
      {"message", "bccRecipients", A::kCollection, "recipient"},
      {"message", "replyTo", A::kCollection, "recipient"},
      {"message", "flag", A::kComplex, "followupFlag"},
      {"event", "createdDateTime", A::kPrimitive, "DateTimeOffset"},
      {"event", "lastModifiedDateTime", A::kPrimitive, "DateTimeOffset"},
      {"event", "importance", A::kEnum, "importance"},
      {"event", "showAs", A::kEnum, "freeBusyStatus"},
      {"event", "type", A::kEnum, "eventType"},
      {"event", "body", A::kComplex, "itemBody"},
      {"event", "start", A::kComplex, "dateTimeTimeZone"},
      {"event", "end", A::kComplex, "dateTimeTimeZone"},
      {"event", "originalStart", A::kPrimitive, "DateTimeOffset"},
      {"event", "location", A::kComplex, "location"},
      {"event", "recurrence", A::kComplex, "patternedRecurrence"},
      {"patternedRecurrence", "pattern", A::kComplex, "recurrencePattern"},
      {"patternedRecurrence", "range", A::kComplex, "recurrenceRange"},
      {"recurrencePattern", "type", A::kEnum, "recurrencePatternType"},
      {"recurrencePattern", "firstDayOfWeek", A::kEnum, "dayOfWeek"},
      {"recurrencePattern", "index", A::kEnum, "weekIndex"},
      {"recurrenceRange", "type", A::kEnum, "recurrenceRangeType"},
      {"recurrenceRange", "startDate", A::kPrimitive, "Date"},
      {"recurrenceRange", "endDate", A::kPrimitive, "Date"},
      {"event", "attendees", A::kCollection, "attendee"},
      {"event", "organizer", A::kComplex, "recipient"},
      {"contact", "createdDateTime", A::kPrimitive, "DateTimeOffset"},
      {"contact", "lastModifiedDateTime", A::kPrimitive, "DateTimeOffset"},
      {"contact", "emailAddresses", A::kCollection, "emailAddress"},
      {"itemBody", "contentType", A::kEnum, "bodyType"},
      {"recipient", "emailAddress", A::kComplex, "emailAddress"},
      {"attendee", "emailAddress", A::kComplex, "emailAddress"},
      {"attendee", "status", A::kComplex, "responseStatus"},
      {"attendee", "type", A::kEnum, "attendeeType"},
      {"responseStatus", "response", A::kEnum, "responseType"},
      {"responseStatus", "time", A::kPrimitive, "DateTimeOffset"},
      {"followupFlag", "flagStatus", A::kEnum, "followupFlagStatus"},
      {"followupFlag", "completedDateTime", A::kComplex, "dateTimeTimeZone"},
      {"followupFlag", "dueDateTime", A::kComplex, "dateTimeTimeZone"},
      {"followupFlag", "startDateTime", A::kComplex, "dateTimeTimeZone"},
      {"location", "address", A::kComplex, "physicalAddress"},
      {"location", "coordinates", A::kComplex, "outlookGeoCoordinates"},
      {"location", "locationType", A::kEnum, "locationType"},
      {"location", "uniqueIdType", A::kEnum, "locationUniqueIdType"},
  };
  return kTypes;
}

const MemberType* FindMemberType(std::string_view owner, std::string_view member) {
  for (const MemberType& t : MemberTypes()) {
    if (owner == t.owner && member == t.member) return &t;
  }
  return nullptr;
}

std::string Lowered(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The members of the enum types graphsim models, in the order the resource type pages
// ("message", "event") list them.
std::vector<std::string> EnumMembers(std::string_view type) {
  if (type == "importance") return {"low", "normal", "high"};
  if (type == "inferenceClassificationType") return {"focused", "other"};
  if (type == "freeBusyStatus") {
    return {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"};
  }
  if (type == "eventType") return {"singleInstance", "occurrence", "exception", "seriesMaster"};
  return {};
}

// What $filter compares: the timestamps, and the Boolean, String and enum properties of the
// item's content (bookkeeping ones like id and parentFolderId are left out: ids compare
// case-sensitively, and graphsim compares strings without case).
EntityInfo MakeEntity(EntityKind kind, const char* type_name) {
  EntityInfo info;
  info.type_name = type_name;
  for (const PropertySpec& p : Properties(kind)) info.properties.push_back(p.name);
  info.has_received = kind == EntityKind::kMessage;
  for (int i = 0; i < kTimeFieldCount; ++i) {
    auto field = static_cast<TimeField>(i);
    if (field == TimeField::kReceived && !info.has_received) continue;
    FilterableProperty f;
    f.name = TimeFieldName(field);
    f.type = PropertyType::kDateTimeOffset;
    f.time = i;
    info.filterable.push_back(std::move(f));
  }
  const std::string owner = info.type_name.substr(std::string("microsoft.graph.").size());
  for (const PropertySpec& p : Properties(kind)) {
    if (p.source != Source::kContent || (p.shape != Shape::kString && p.shape != Shape::kBool)) {
      continue;
    }
    // An id compares case-sensitively and originalStart is a DateTimeOffset: neither is
    // one of the strings graphsim compares.
    if (std::string_view(p.name) == "seriesMasterId" ||
        std::string_view(p.name) == "originalStart") {
      continue;
    }
    FilterableProperty f;
    f.name = p.name;
    f.type = p.shape == Shape::kBool ? PropertyType::kBoolean : PropertyType::kString;
    const MemberType* type = FindMemberType(owner, p.name);
    if (type != nullptr && type->annotated == Annotated::kEnum) {
      f.type = PropertyType::kEnum;
      f.enum_type = std::string("microsoft.graph.") + type->type;
      f.members = EnumMembers(type->type);
    }
    info.filterable.push_back(std::move(f));
  }
  return info;
}

// `value` with the annotations of `type`'s members (and, for a complex value, its own).
Json AnnotateValue(const Json& value, const MemberType* type);

// Sets `key` of `out` to `value`, preceded by its property annotation if its type has one.
void PutAnnotated(Json* out, const std::string& key, const Json& value, const MemberType* type) {
  if (type != nullptr && !value.is_null()) {
    const std::string name = type->annotated == Annotated::kEnum
                                 ? std::string("#microsoft.graph.") + type->type
                                 : std::string("#") + type->type;
    if (type->annotated == Annotated::kPrimitive || type->annotated == Annotated::kEnum) {
      (*out)[key + "@odata.type"] = name;
    } else if (type->annotated == Annotated::kCollection) {
      (*out)[key + "@odata.type"] = std::string("#Collection(microsoft.graph.") + type->type + ")";
    }
  }
  (*out)[key] = AnnotateValue(value, type);
}

Json AnnotateValue(const Json& value, const MemberType* type) {
  if (type == nullptr) return value;
  if (type->annotated == Annotated::kCollection && value.is_array()) {
    const MemberType element{"", "", Annotated::kComplex, type->type};
    Json out = Json::array();
    for (const Json& v : value) out.push_back(AnnotateValue(v, &element));
    return out;
  }
  if (type->annotated != Annotated::kComplex || !value.is_object()) return value;
  Json out{{"@odata.type", std::string("#microsoft.graph.") + type->type}};
  for (auto it = value.begin(); it != value.end(); ++it) {
    PutAnnotated(&out, it.key(), it.value(), FindMemberType(type->type, it.key()));
  }
  return out;
}

}  // namespace

std::string MailFolderId(const UserRecord& owner, int index) {
  if (index >= 0 && static_cast<size_t>(index) < owner.mail_folders.size()) {
    return owner.mail_folders[static_cast<size_t>(index)].id;
  }
  return "AAMkAD" + owner.id_part + "-AAuAAAAAA_MF" + std::to_string(index) + "AAA=";
}

std::string CalendarId(const UserRecord& owner, int index) {
  if (index == 0) return owner.calendar.id;
  return "AAMkAD" + owner.id_part + "-AAuAAAAAA_CA" + std::to_string(index) + "AAA=";
}

std::string RootFolderId(const UserRecord& owner) {
  return "AAMkAD" + owner.id_part + "-AAuAAAAAA_root";
}

std::string ContactFolderId(const UserRecord& owner, int index) {
  if (index == 0) return owner.contacts_folder.id;
  return "AAMkAD" + owner.id_part + "-AAuAAAAAA_CF" + std::to_string(index) + "AAA=";
}

std::optional<EntityKind> KindFromCollection(std::string_view collection) {
  if (collection == "messages") return EntityKind::kMessage;
  if (collection == "events") return EntityKind::kEvent;
  if (collection == "contacts") return EntityKind::kContact;
  return std::nullopt;
}

const char* CollectionName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMessage:
      return "messages";
    case EntityKind::kEvent:
      return "events";
    case EntityKind::kContact:
      break;
  }
  return "contacts";
}

const EntityInfo& Entity(EntityKind kind) {
  static const EntityInfo kInfos[] = {MakeEntity(EntityKind::kMessage, "microsoft.graph.message"),
                                      MakeEntity(EntityKind::kEvent, "microsoft.graph.event"),
                                      MakeEntity(EntityKind::kContact, "microsoft.graph.contact")};
  return kInfos[static_cast<int>(kind)];
}

std::string ChangeKey(uint64_t key, uint32_t version) {
  uint8_t bytes[12];
  uint64_t h = HashCombine(key, version);
  PutUint64(h, bytes);
  uint64_t h2 = Mix64(h ^ 0x5bd1e995ULL);
  bytes[8] = static_cast<uint8_t>(h2);
  bytes[9] = static_cast<uint8_t>(h2 >> 8);
  bytes[10] = static_cast<uint8_t>(h2 >> 16);
  bytes[11] = static_cast<uint8_t>(h2 >> 24);
  return "CQAAABYAAAA" + Base64(bytes, sizeof(bytes));
}

std::string FormatItemTime(EntityKind kind, TimePoint t) {
  return kind == EntityKind::kMessage ? FormatSecondsZ(t) : FormatTicksZ(t);
}

TimePoint ItemPrecision(EntityKind kind, TimePoint t) {
  return kind == EntityKind::kMessage ? TruncateToSeconds(t) : TruncateToTicks(t);
}

std::string BodyPreview(const Json& body) {
  if (!body.is_object()) return "";
  auto content = body.find("content");
  if (content == body.end() || !content->is_string()) return "";
  const std::string& text = content->get_ref<const std::string&>();
  bool html = false;
  auto type = body.find("contentType");
  if (type != body.end() && type->is_string()) {
    std::string t = type->get<std::string>();
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    html = t == "html";
  }
  std::string out;
  bool in_tag = false, pending_space = false;
  for (char c : text) {
    if (html && c == '<') {
      in_tag = true;
      pending_space = true;
      continue;
    }
    if (in_tag) {
      if (c == '>') in_tag = false;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
    if (out.size() >= 255) break;
  }
  if (out.size() > 255) out.resize(255);
  // Never end inside a UTF-8 sequence.
  size_t end = out.size();
  size_t lead = end;
  while (lead > 0 && (static_cast<unsigned char>(out[lead - 1]) & 0xC0) == 0x80) --lead;
  if (lead > 0) {
    unsigned char c = static_cast<unsigned char>(out[lead - 1]);
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (end - (lead - 1) < need) out.resize(lead - 1);
  }
  return out;
}

Json DefaultContent(EntityKind kind, const UserRecord& owner, uint64_t key, bool draft,
                    TimePoint now) {
  switch (kind) {
    case EntityKind::kMessage: {
      char imid[64];
      std::snprintf(imid, sizeof(imid), "<%016llx@graphsim.local>",
                    static_cast<unsigned long long>(Mix64(key)));
      uint8_t conv[12];
      PutUint64(HashCombine(key, 77), conv);
      PutUint64(HashCombine(key, 78), conv + 4);
      return Json{{"categories", Json::array()},
                  {"hasAttachments", false},
                  {"internetMessageId", imid},
                  {"subject", ""},
                  {"bodyPreview", ""},
                  {"importance", "normal"},
                  {"conversationId", "AAQkAD" + owner.id_part + Base64Url(conv, 12) + "="},
                  {"isDeliveryReceiptRequested", false},
                  {"isReadReceiptRequested", false},
                  {"isRead", draft},
                  {"isDraft", draft},
                  {"inferenceClassification", "focused"},
                  {"body", Json{{"contentType", "text"}, {"content", ""}}},
                  {"sender", nullptr},
                  {"from", nullptr},
                  {"toRecipients", Json::array()},
                  {"ccRecipients", Json::array()},
                  {"bccRecipients", Json::array()},
                  {"replyTo", Json::array()},
                  {"flag", Json{{"flagStatus", "notFlagged"}}}};
    }
    case EntityKind::kEvent: {
      // Graph requires start/end on create; graphsim defaults to the next full hour.
      TimePoint start = std::chrono::ceil<std::chrono::hours>(now);
      TimePoint end = start + std::chrono::minutes(30);
      return Json{{"categories", Json::array()},
                  {"originalStartTimeZone", "UTC"},
                  {"originalEndTimeZone", "UTC"},
                  {"subject", ""},
                  {"bodyPreview", ""},
                  {"importance", "normal"},
                  {"isAllDay", false},
                  {"isCancelled", false},
                  {"seriesMasterId", nullptr},
                  {"showAs", "busy"},
                  {"type", "singleInstance"},
                  {"body", Json{{"contentType", "html"}, {"content", ""}}},
                  {"start", Json{{"dateTime", FormatTicksLocal(start)}, {"timeZone", "UTC"}}},
                  {"end", Json{{"dateTime", FormatTicksLocal(end)}, {"timeZone", "UTC"}}},
                  {"location", Json{{"displayName", ""}}},
                  {"recurrence", nullptr},
                  {"attendees", Json::array()},
                  {"organizer", EmailAddress(owner.display_name, Mail(owner))}};
    }
    case EntityKind::kContact:
      break;
  }
  return Json{{"categories", Json::array()}, {"displayName", ""},
              {"givenName", nullptr},        {"surname", nullptr},
              {"jobTitle", nullptr},         {"companyName", nullptr},
              {"mobilePhone", nullptr},      {"businessPhones", Json::array()},
              {"homePhones", Json::array()}, {"emailAddresses", Json::array()},
              {"personalNotes", ""}};
}

std::optional<ApiError> ApplyFields(EntityKind kind, const Json& fields, Json* content) {
  if (!fields.is_object()) {
    return ApiError{400, "BadRequest", "Empty Payload. JSON content expected."};
  }
  const EntityInfo& entity = Entity(kind);
  const std::string owner = entity.type_name.substr(std::string("microsoft.graph.").size());
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string& name = it.key();
    if (name.rfind("@odata.", 0) == 0) continue;  // annotations: @odata.type, @odata.etag
    const PropertySpec* spec = nullptr;
    for (const PropertySpec& p : Properties(kind)) {
      if (name == p.name) spec = &p;
    }
    if (!spec) {
      return ApiError{400, "RequestBodyRead",
                      "The property '" + name + "' does not exist on type '" + entity.type_name +
                          "'. Make sure to only use property names that are defined by the "
                          "type or mark the type as open type."};
    }
    if (!spec->writable) continue;  // Graph ignores read-only properties on write
    if (!ShapeMatches(spec->shape, it.value())) {
      return ApiError{400, "RequestBodyRead",
                      "Cannot convert the literal '" + it.value().dump() +
                          "' to the expected type '" + ShapeName(spec->shape) + "' of property '" +
                          name + "'."};
    }
    (*content)[name] = it.value();
    // Enum members are written in any case ("Update message" spells `Low`, `Normal`,
    // `High`) and served in Graph's.
    const MemberType* type = FindMemberType(owner, name);
    if (type != nullptr && type->annotated == Annotated::kEnum && it.value().is_string()) {
      const std::string lower = Lowered(it.value().get<std::string>());
      for (const std::string& member : EnumMembers(type->type)) {
        if (Lowered(member) == lower) (*content)[name] = member;
      }
    }
  }
  if (kind != EntityKind::kContact) {
    (*content)["bodyPreview"] = BodyPreview(content->value("body", Json()));
  }
  if (kind == EntityKind::kMessage && fields.contains("from") && !fields.contains("sender")) {
    (*content)["sender"] = (*content)["from"];
  }
  if (kind == EntityKind::kContact) {
    auto text = [&](const char* key) {
      auto it = content->find(key);
      return it != content->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (text("displayName").empty()) {
      std::string name = text("givenName");
      std::string surname = text("surname");
      if (!name.empty() && !surname.empty()) name += ' ';
      (*content)["displayName"] = name + surname;
    }
  }
  return std::nullopt;
}

int SeedMessageFolder(uint64_t key) {
  uint64_t r = Mix64(key ^ 0xf01de5ULL) % 100;
  if (r < 70) return kInbox;
  if (r < 80) return kSentItems;
  if (r < 90) return kArchive;
  if (r < 95) return kDrafts;
  return kDeletedItems;
}

bool SeedMessageUnread(uint64_t key) {
  int folder = SeedMessageFolder(key);
  if (folder == kDrafts || folder == kSentItems) return false;
  return Mix64(key ^ 0x0e7eadULL) % 3 == 0;
}

Json SeedContent(EntityKind kind, uint64_t key, const UserRecord& owner, const TenantView& tenant,
                 TimePoint created) {
  Rng rng(HashCombine(key, tenant.seed));
  switch (kind) {
    case EntityKind::kMessage: {
      int folder = SeedMessageFolder(key);
      bool draft = folder == kDrafts;
      bool sent = folder == kSentItems || draft;
      Json content = DefaultContent(kind, owner, key, draft, created);
      content["subject"] =
          std::string(Pick(kSubjects, rng.Next())) + " " + std::to_string(rng.Below(1000));
      std::string text;
      int sentences = 1 + static_cast<int>(rng.Below(4));
      for (int i = 0; i < sentences; ++i) {
        if (i) text += ' ';
        text += Pick(kSentences, rng.Next());
      }
      rng.OneIn(2);  // drawn (it once chose text or HTML) so that later draws keep their values
      Json body{{"contentType", "html"}, {"content", TextToHtml(text)}};
      content["bodyPreview"] = BodyPreview(body);
      content["body"] = body;
      Json owner_address = EmailAddress(owner.display_name, Mail(owner));
      Json other;
      if (rng.OneIn(3)) {
        std::string given = Pick(kGiven, rng.Next());
        std::string surname = Pick(kSurnames, rng.Next());
        std::string address = given + "." + surname + "@" + Pick(kExternalDomains, rng.Next());
        for (char& c : address) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        other = EmailAddress(given + " " + surname, address);
      } else {
        const UserRecord& u = OtherUser(tenant, owner, rng.Next());
        other = EmailAddress(u.display_name, Mail(u));
      }
      if (sent) {
        // Seeded drafts stand for drafts composed in Outlook, which sets From; a draft
        // created through the API without "from" keeps it null (see DefaultContent).
        content["toRecipients"] = Json::array({other});
        content["from"] = owner_address;
        content["sender"] = owner_address;
      } else {
        content["from"] = other;
        content["sender"] = other;
        content["toRecipients"] = Json::array({owner_address});
        if (rng.OneIn(4)) {
          const UserRecord& u = OtherUser(tenant, owner, rng.Next());
          content["ccRecipients"] = Json::array({EmailAddress(u.display_name, Mail(u))});
        }
        content["isRead"] = !SeedMessageUnread(key);
      }
      content["hasAttachments"] = rng.OneIn(10);
      if (rng.OneIn(5)) content["importance"] = rng.OneIn(2) ? "high" : "low";
      if (rng.OneIn(6)) content["categories"] = Json::array({"Blue category"});
      if (rng.OneIn(8)) content["flag"] = Json{{"flagStatus", "flagged"}};
      return content;
    }
    case EntityKind::kEvent: {
      Json content = DefaultContent(kind, owner, key, false, created);
      content["subject"] = std::string(Pick(kSubjects, rng.Next()));
      std::string text = Pick(kSentences, rng.Next());
      Json body{{"contentType", "html"}, {"content", "<html><body>" + text + "</body></html>"}};
      content["bodyPreview"] = BodyPreview(body);
      content["body"] = body;
      auto day = std::chrono::floor<std::chrono::days>(created) +
                 std::chrono::days(1 + static_cast<int>(rng.Below(30)));
      bool all_day = rng.OneIn(10);
      TimePoint start = all_day ? TimePoint(day)
                                : TimePoint(day) + std::chrono::hours(8 + rng.Below(9)) +
                                      std::chrono::minutes(30 * rng.Below(2));
      TimePoint end = all_day ? start + std::chrono::hours(24)
                              : start + std::chrono::minutes(30 * (1 + rng.Below(3)));
      content["isAllDay"] = all_day;
      if (all_day) content["showAs"] = "free";
      content["start"] = Json{{"dateTime", FormatTicksLocal(start)}, {"timeZone", "UTC"}};
      content["end"] = Json{{"dateTime", FormatTicksLocal(end)}, {"timeZone", "UTC"}};
      content["location"] = Json{{"displayName", Pick(kLocations, rng.Next())}};
      Json attendees = Json::array();
      int n = static_cast<int>(rng.Below(4));
      for (int i = 0; i < n; ++i) {
        const UserRecord& u = OtherUser(tenant, owner, rng.Next());
        Json a = EmailAddress(u.display_name, Mail(u));
        a["type"] = rng.OneIn(3) ? "optional" : "required";
        a["status"] = Json{{"response", "none"}, {"time", "0001-01-01T00:00:00Z"}};
        attendees.push_back(a);
      }
      content["attendees"] = attendees;
      return content;
    }
    case EntityKind::kContact:
      break;
  }
  Json content = DefaultContent(kind, owner, key, false, created);
  std::string given = Pick(kGiven, rng.Next());
  std::string surname = Pick(kSurnames, rng.Next());
  std::string company = Pick(kCompanies, rng.Next());
  std::string address = given + "." + surname + "@" + company + ".example";
  for (char& c : address) {
    c = c == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  content["displayName"] = given + " " + surname;
  content["givenName"] = given;
  content["surname"] = surname;
  content["companyName"] = company;
  content["emailAddresses"] =
      Json::array({Json{{"name", given + " " + surname}, {"address", address}}});
  char phone[32];
  std::snprintf(phone, sizeof(phone), "+1 425 555 %04llu",
                static_cast<unsigned long long>(rng.Below(10000)));
  content["businessPhones"] = Json::array({phone});
  if (rng.OneIn(2)) {
    std::snprintf(phone, sizeof(phone), "+1 206 555 %04llu",
                  static_cast<unsigned long long>(rng.Below(10000)));
    content["mobilePhone"] = phone;
  }
  return content;
}

Json ContentOf(EntityKind kind, const Item& item, const UserRecord& owner,
               const TenantView& tenant) {
  if (item.content.empty()) {
    return SeedContent(kind, item.key, owner, tenant, item.time(TimeField::kCreated));
  }
  Json content = Json::parse(item.content, nullptr, /*allow_exceptions=*/false);
  return content.is_object() ? content : Json::object();
}

Json Render(EntityKind kind, const Item& item, const UserRecord& owner, const TenantView& tenant,
            const std::vector<std::string>& select, BodyType body_type) {
  Json content = ContentOf(kind, item, owner, tenant);
  std::string change_key = ChangeKey(item.key, item.version);
  Json out;
  out["@odata.etag"] = "W/\"" + change_key + "\"";
  for (const PropertySpec& p : Properties(kind)) {
    std::string_view name = p.name;
    if (!select.empty() && name != "id") {
      bool wanted = false;
      for (const std::string& s : select) wanted = wanted || s == name;
      if (!wanted) continue;
    }
    if (p.source == Source::kContent) {
      auto it = content.find(p.name);
      // "event resource type": originalStart "is not returned for events that are single
      // instances" (nor, graphsim's reading, for series masters).
      if (name == "originalStart" && (it == content.end() || it->is_null())) continue;
      out[p.name] = it == content.end() ? Json() : *it;
      if (kind == EntityKind::kMessage && name == "body") {
        out[p.name] = ServedBody(out[p.name], body_type);
      }
      continue;
    }
    if (name == "id") {
      out["id"] = item.id;
    } else if (name == "createdDateTime") {
      out[p.name] = FormatItemTime(kind, item.time(TimeField::kCreated));
    } else if (name == "lastModifiedDateTime") {
      out[p.name] = FormatItemTime(kind, item.time(TimeField::kModified));
    } else if (name == "changeKey") {
      out[p.name] = change_key;
    } else if (name == "receivedDateTime" || name == "sentDateTime") {
      out[p.name] = FormatItemTime(kind, item.time(TimeField::kReceived));
    } else if (name == "parentFolderId") {
      out[p.name] = kind == EntityKind::kContact ? ContactFolderId(owner, item.folder)
                                                 : MailFolderId(owner, item.folder);
    }
  }
  return out;
}

FilterValue JsonFilterValue(const Json& object, const std::string& property) {
  auto it = object.find(property);
  if (it == object.end()) return FilterValue{};
  if (it->is_boolean()) return FilterValue{FilterValue::Type::kBool, it->get<bool>(), ""};
  if (it->is_string())
    return FilterValue{FilterValue::Type::kString, false, it->get<std::string>()};
  return FilterValue{};
}

FilterValue ItemFilterSubject::Value(const std::string& property) const {
  if (!content_) content_ = ContentOf(kind_, item_, owner_, tenant_);
  return JsonFilterValue(*content_, property);
}

TimePoint RenderedFilterSubject::Time(TimeField field) const {
  auto it = rendered_.find(TimeFieldName(field));
  if (it == rendered_.end() || !it->is_string()) return TimePoint{};
  return ParseDateTimeOffset(it->get<std::string>()).value_or(TimePoint{});
}

std::string TextToHtml(std::string_view text) {
  if (text.empty()) return "";
  std::string out = "<html><body><p>";
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        out += "<br>";
        break;
      case '\n':
        out += "<br>";
        break;
      default:
        out += c;
    }
  }
  return out + "</p></body></html>";
}

std::string HtmlToText(std::string_view html) {
  static const char* const kBlocks[] = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"};
  static const char* const kHidden[] = {"head", "style", "script", "title"};
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
      {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
  std::string out;
  bool space = false;  // white space seen since the last character written
  std::string hidden;  // inside this element: its text is not shown
  auto line_break = [&] {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (!out.empty()) out += "\r\n";
    space = false;
  };
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      size_t close = html.find('>', i);
      if (close == std::string_view::npos) close = html.size();
      std::string_view tag = html.substr(i + 1, close - i - 1);
      i = close + 1;
      const bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.remove_prefix(1);
      size_t end = 0;
      while (end < tag.size() && std::isalnum(static_cast<unsigned char>(tag[end]))) ++end;
      std::string name(tag.substr(0, end));
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!hidden.empty()) {
        if (closing && name == hidden) hidden.clear();
        continue;
      }
      if (!closing &&
          std::find(std::begin(kHidden), std::end(kHidden), name) != std::end(kHidden) &&
          (tag.empty() || tag.back() != '/')) {
        hidden = name;
        continue;
      }
      if (name == "br") {
        line_break();
      } else if (closing &&
                 std::find(std::begin(kBlocks), std::end(kBlocks), name) != std::end(kBlocks)) {
        // The end of a block: a line break, unless one was just written.
        if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) line_break();
      }
      continue;
    }
    if (!hidden.empty()) {
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      ++i;
      continue;
    }
    std::string piece(1, c);
    size_t used = 1;
    if (c == '&') {
      for (const auto& [entity, text] : kEntities) {
        if (html.substr(i, std::strlen(entity)) == entity) {
          piece = text;
          used = std::strlen(entity);
          break;
        }
      }
    }
    i += used;
    if (piece == " ") {
      space = true;  // &nbsp;: a space, collapsed with its neighbours
      continue;
    }
    if (space && !out.empty() && out.back() != '\n') out += ' ';
    space = false;
    out += piece;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\r' || out.back() == '\n')) {
    out.pop_back();
  }
  return out;
}

Json ServedBody(const Json& body, BodyType type) {
  if (!body.is_object()) return body;
  std::string stored = "text";
  auto content_type = body.find("contentType");
  if (content_type != body.end() && content_type->is_string()) {
    stored = content_type->get<std::string>();
    for (char& c : stored) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const bool want_html = type == BodyType::kHtml;
  if ((stored == "html") == want_html) return body;
  auto content = body.find("content");
  std::string text =
      content != body.end() && content->is_string() ? content->get<std::string>() : std::string();
  return Json{{"contentType", want_html ? "html" : "text"},
              {"content", want_html ? TextToHtml(text) : HtmlToText(text)}};
}

Json RichContent(EntityKind kind, const Json& rendered, const std::vector<std::string>& select) {
  const std::string owner = Entity(kind).type_name.substr(std::string("microsoft.graph.").size());
  Json out = Json::object();
  for (auto it = rendered.begin(); it != rendered.end(); ++it) {
    const std::string& key = it.key();
    if (key == "id" || key.rfind('@', 0) == 0) continue;
    if (!select.empty() && std::find(select.begin(), select.end(), key) == select.end()) continue;
    PutAnnotated(&out, key, it.value(), FindMemberType(owner, key));
  }
  return out;
}

void SetEventSpan(const Json& content, Item* item) {
  auto read = [&](const char* name) {
    auto it = content.find(name);
    if (it == content.end() || !it->is_object()) return TimePoint{};
    auto dt = it->find("dateTime");
    if (dt == it->end() || !dt->is_string()) return TimePoint{};
    std::string text = dt->get<std::string>();
    if (auto t = ParseLocalDateTime(text)) return *t;
    if (auto t = ParseDateTimeOffset(text)) return *t;
    return TimePoint{};
  };
  item->start = read("start");
  item->end = read("end");
}

}  // namespace graphsim
