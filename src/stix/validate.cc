// The STIX 2.1 validator: an interpreter of the tables in internal/spec*.cc over simdjson's DOM.
//
// Fast path: one simdjson DOM parse of the whole input, one walk over it, no allocation per
// property unless something is reported. Findings carry a JSON pointer built from a stack of
// path segments only when a finding is made; source positions (line, column) are computed
// afterwards by one extra scan of the text (internal/locate.h), only if there are findings.

#include "stix/validate.h"

#include <algorithm>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "simdjson.h"
#include "stix/ids.h"
#include "stix/internal/extract.h"
#include "stix/internal/locate.h"
#include "stix/internal/name_table.h"
#include "stix/internal/spec.h"

namespace liaison::stix {
namespace {

using internal::Category;
using internal::Kind;
using internal::PropertySpec;
using internal::TypeSpec;
namespace rule = internal::rule;
using simdjson::dom::element;
using simdjson::dom::element_type;

// ---------------------------------------------------------------------------------------------
// The registry: each TypeSpec compiled once into a property map (common + type-specific).

struct PropertyEntry {
  const PropertySpec* spec = nullptr;
  int required_index = -1;  // bit in the "seen required" mask, or -1 when optional
  int bit = -1;             // bit in the "seen" mask (duplicate detection), -1 past 64
};

struct CompiledType {
  const TypeSpec* spec = nullptr;
  Category category = Category::kSdo;
  internal::NameTable<PropertyEntry> properties;
  std::vector<const PropertySpec*> required;
};

class Registry {
 public:
  static const Registry& Get() {
    static const Registry* registry = new Registry();
    return *registry;
  }

  const CompiledType* Find(std::string_view type) const {
    const CompiledType* const* c = by_name_.Find(type);
    return c == nullptr ? nullptr : *c;
  }
  // `type` lies in a simdjson document (see NameTable::FindInDocument).
  const CompiledType* FindInDocument(std::string_view type) const {
    const CompiledType* const* c = by_name_.FindInDocument(type);
    return c == nullptr ? nullptr : *c;
  }
  // Custom objects get the common properties of their category only.
  const CompiledType& Custom(Category category) const {
    return *custom_[static_cast<int>(category)];
  }
  // Nested sub-types (external-reference, hashes-bearing extension types, ...).
  const CompiledType& Nested(const TypeSpec* spec) const {
    auto it = nested_.find(spec);
    return it != nested_.end() ? *it->second : *empty_;
  }

 private:
  Registry() {
    for (auto table : {internal::SdoSroMetaTypes(), internal::ScoTypes()}) {
      for (const TypeSpec& spec : table) {
        CompiledType* c = Compile(&spec, spec.category, spec.has_common_properties);
        by_name_.InsertOrAssign(spec.type, c);
      }
    }
    static const TypeSpec kCustomSpecs[] = {
        {.type = "custom SDO", .category = Category::kSdo},
        {.type = "custom SRO", .category = Category::kSro},
        {.type = "custom SCO", .category = Category::kSco},
        {.type = "custom meta", .category = Category::kMeta},
        {.type = "bundle", .category = Category::kBundle},
    };
    for (const TypeSpec& spec : kCustomSpecs) {
      custom_[static_cast<int>(spec.category)] = Compile(&spec, spec.category, true);
    }
    // Predefined SCO extensions are reached through `extensions`, not through a kObject
    // property, so compile them explicitly.
    for (std::string_view name :
         {"archive-ext", "ntfs-ext", "pdf-ext", "raster-image-ext", "windows-pebinary-ext",
          "http-request-ext", "icmp-ext", "socket-ext", "tcp-ext", "windows-process-ext",
          "windows-service-ext", "unix-account-ext"}) {
      if (const TypeSpec* spec = internal::FindPredefinedExtension(name)) CompileNested(spec);
    }
    static const TypeSpec kEmpty = {.type = "empty", .has_common_properties = false};
    empty_ = Compile(&kEmpty, Category::kSdo, false);
  }

  CompiledType* Compile(const TypeSpec* spec, Category category, bool with_common) {
    auto owned = std::make_unique<CompiledType>();
    CompiledType* c = owned.get();
    storage_.push_back(std::move(owned));
    c->spec = spec;
    c->category = category;
    auto add = [&](const PropertySpec& p) {
      c->properties.InsertOrAssign(p.name, PropertyEntry{&p, -1});
      if (p.kind == Kind::kObject && p.nested != nullptr) CompileNested(p.nested);
    };
    if (with_common) {
      for (const PropertySpec& p : internal::CommonProperties(category)) add(p);
    }
    for (const PropertySpec& p : spec->properties) add(p);  // type-specific wins
    for (const auto& [name, entry] : c->properties.entries()) {
      if (entry.spec->required) c->required.push_back(entry.spec);
    }
    std::sort(c->required.begin(), c->required.end(),
              [](const PropertySpec* a, const PropertySpec* b) { return a->name < b->name; });
    LIAISON_CHECK(c->required.size() <= 64);
    for (size_t i = 0; i < c->required.size(); ++i) {
      c->properties.FindMutable(c->required[i]->name)->required_index = static_cast<int>(i);
    }
    int bit = 0;
    for (auto& [name, entry] : c->properties.entries()) {
      if (bit < 64) entry.bit = bit++;
    }
    return c;
  }

  void CompileNested(const TypeSpec* spec) {
    if (nested_.contains(spec)) return;
    nested_.emplace(spec, nullptr);  // guards recursion
    nested_[spec] = Compile(spec, spec->category, spec->has_common_properties);
  }

  std::vector<std::unique_ptr<CompiledType>> storage_;
  internal::NameTable<const CompiledType*> by_name_;
  absl::flat_hash_map<const TypeSpec*, const CompiledType*> nested_;
  const CompiledType* custom_[5] = {};
  const CompiledType* empty_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Lexical checks.

// Character classes as bit sets, so the name checks below cost one load per byte.
constexpr uint8_t kTypeChar = 1, kPropertyChar = 2, kDictionaryChar = 4;
constexpr std::array<uint8_t, 256> kCharClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kTypeChar | kPropertyChar | kDictionaryChar;
  for (int c = '0'; c <= '9'; ++c) t[c] = kTypeChar | kPropertyChar | kDictionaryChar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kDictionaryChar;
  t['-'] = kTypeChar | kDictionaryChar;
  t['_'] = kPropertyChar | kDictionaryChar;
  return t;
}();

bool AllOfClass(std::string_view s, uint8_t cls) {
  uint8_t acc = cls;
  for (char c : s) acc &= kCharClass[static_cast<unsigned char>(c)];
  return acc == cls;
}

// Section 3.1: object type names: a-z, 0-9 and hyphen, starting with a letter, 3-250 characters.
bool IsValidTypeName(std::string_view t) {
  if (t.size() < 3 || t.size() > 250) return false;
  if (!(t[0] >= 'a' && t[0] <= 'z') || t.back() == '-') return false;
  // One pass: the character class and "--" (two hyphens in a row) together.
  uint8_t acc = kTypeChar;
  bool previous_hyphen = false, double_hyphen = false;
  for (char c : t) {
    acc &= kCharClass[static_cast<unsigned char>(c)];
    const bool hyphen = c == '-';
    double_hyphen |= previous_hyphen & hyphen;
    previous_hyphen = hyphen;
  }
  return acc == kTypeChar && !double_hyphen;
}

#if defined(__SSE2__)
// Lanes of `v` holding a-z, 0-9 or '_' (each range test is one signed compare after a shift
// that moves the range to the bottom of the signed byte range).
inline unsigned PropertyCharLanes(__m128i v) {
  auto in_range = [v](char lo, int count) {
    const __m128i shifted = _mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8(lo)), _mm_set1_epi8(-128));
    return _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(count - 128)));
  };
  const __m128i ok = _mm_or_si128(_mm_or_si128(in_range('a', 26), in_range('0', 10)),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
  return static_cast<unsigned>(_mm_movemask_epi8(ok));
}
#endif

// Section 3.1: property names: a-z, 0-9 and underscore, 3-250 characters. Every custom property
// of every object is checked, so 16 bytes at a time (fixed-size loads that overlap rather than
// read past the name).
bool IsValidPropertyName(std::string_view n) {
  if (n.size() < 3 || n.size() > 250) return false;
#if defined(__SSE2__)
  const char* p = n.data();
  const size_t size = n.size();
  if (size >= 16) {
    for (size_t i = 0; i < size; i += 16) {
      const size_t at = std::min(i, size - 16);
      if (PropertyCharLanes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at))) != 0xffff) {
        return false;
      }
    }
    return true;
  }
  if (size >= 8) {
    const __m128i v =
        _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                           _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + size - 8)));
    return PropertyCharLanes(v) == 0xffff;
  }
#endif
  return AllOfClass(n, kPropertyChar);
}

bool IsDictionaryKey(std::string_view k) {
  return !k.empty() && k.size() <= 250 && AllOfClass(k, kDictionaryChar);
}

bool IsHexString(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isxdigit(static_cast<unsigned char>(c)); });
}

bool IsBase64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '=') {
      ++pad;
      if (i < s.size() - 2) return false;
      continue;
    }
    if (pad > 0) return false;
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  }
  return pad <= 2;
}

// RFC 3986 section 3.1: scheme ":" ...
bool IsUrl(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  if (!isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = s[i];
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) return false;
  }
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == ' ' || static_cast<unsigned char>(c) < 0x20; });
}

// RFC 5646 in its common shapes: a 2-3 letter (or 4-8) primary subtag, then 1-8 alphanumeric
// subtags, or a private-use "x-..." / grandfathered "i-..." tag.
bool IsLanguageTag(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  size_t start = 0;
  bool first = true;
  while (start <= s.size()) {
    size_t dash = s.find('-', start);
    std::string_view sub = s.substr(start, dash == std::string_view::npos ? s.npos : dash - start);
    if (sub.empty() || sub.size() > 8) return false;
    for (char c : sub) {
      if (!isalnum(static_cast<unsigned char>(c))) return false;
      if (first && !isalpha(static_cast<unsigned char>(c))) return false;
    }
    first = false;
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  return true;
}

struct HashFormat {
  std::string_view name;
  size_t min_length, max_length;
  bool hex;
};
constexpr HashFormat kHashFormats[] = {
    {"MD5", 32, 32, true},       {"SHA-1", 40, 40, true},    {"SHA-256", 64, 64, true},
    {"SHA-512", 128, 128, true}, {"SHA3-256", 64, 64, true}, {"SHA3-512", 128, 128, true},
    {"SSDEEP", 1, 148, false},   {"TLSH", 70, 72, false},
};

std::string_view ElementTypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kBoolean:
      return "a boolean";
    case Kind::kInteger:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kObject:
    case Kind::kDictionary:
    case Kind::kHashes:
    case Kind::kExtensions:
      return "an object";
    case Kind::kAny:
      return "a value";
    default:
      return "a string";
  }
}

void AppendEscapedToken(std::string& out, std::string_view token) {
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Validator::Impl final : internal::CheckContext {
  struct Segment {
    std::string_view key;
    size_t index = 0;
    bool is_index = false;
  };

  explicit Impl(ValidateOptions o) : options(o) {}

  ValidateOptions options;
  simdjson::dom::parser parser;
  std::string_view parsed_text;  // what `parser` last parsed successfully
  stix::Report* report = nullptr;
  std::string_view base;  // pointer prefix of the current object ("/objects/3")
  // The pointer of the value being checked, relative to `base`. A grow-only stack: pushing and
  // popping happen for every property, so they must stay a store and an increment.
  struct PathStack {
    std::vector<Segment> items;
    size_t size = 0;
    void Push(const Segment& s) {
      if (size == items.size()) [[unlikely]]
        Grow();
      items[size++] = s;
    }
    [[gnu::noinline]] void Grow() { items.resize(items.size() * 2 + 16); }
    const Segment* begin() const { return items.data(); }
    const Segment* end() const { return items.data() + size; }
  } path;
  const simdjson::dom::object* current = nullptr;
  // Index of the first STIX 2.0 finding of this input, to add the count at the end.
  size_t stix20_finding = SIZE_MAX;
  size_t stix20_objects = 0;
  // Set while checking what a naming convention implies rather than what the spec requires.
  bool demote_errors = false;
  // Whether reserved property names are errors for the current object (not on SCOs).
  bool check_reserved = false;
  // Timestamps the walk parsed in the object being checked, for co-constraint checks.
  struct TimeCache {
    static constexpr size_t kCapacity = 12;
    struct Entry {
      std::string_view name;
      Timestamp value;
    };
    // Raw storage: constructing 12 entries per object walked showed up in profiles; only the
    // first `size` are ever read, each after it is assigned.
    union {
      Entry entries[kCapacity];
    };
    size_t size = 0;
    TimeCache() {}
  };
  const TimeCache* current_times = nullptr;
  std::optional<Timestamp> parsed_timestamp;  // set by CheckScalar for a valid timestamp

  std::optional<Timestamp> Time(std::string_view property) const override {
    if (current_times == nullptr) return CheckContext::Time(property);
    for (size_t i = 0; i < current_times->size; ++i) {
      if (internal::NamesEqual(current_times->entries[i].name, property)) {
        return current_times->entries[i].value;
      }
    }
    // Not a table timestamp of this object (or invalid, already reported): look it up.
    return current_times->size == TimeCache::kCapacity ? CheckContext::Time(property)
                                                       : std::nullopt;
  }

  // The UUID version of the current object's id, recorded when the id is checked (0: none).
  int id_uuid_version = 0;
  // Whether the current top-level object has granular_markings (saves looking it up).
  bool saw_granular_markings = false;

  // --- CheckContext -----------------------------------------------------------------------
  const simdjson::dom::object& object() const override { return *current; }
  void Error(std::string_view property, std::string_view r, std::string message) override {
    Add(Severity::kError, property, r, std::move(message));
  }
  void Warning(std::string_view property, std::string_view r, std::string message) override {
    Add(Severity::kWarning, property, r, std::move(message));
  }

  // --- findings ---------------------------------------------------------------------------
  std::string Pointer(std::string_view relative = {}) const {
    std::string p(base);
    for (const Segment& s : path) {
      p += '/';
      if (s.is_index) {
        StrAppend(&p, s.index);
      } else {
        AppendEscapedToken(p, s.key);
      }
    }
    if (!relative.empty()) {
      p += '/';
      p += relative;  // already a relative pointer ("hashes/MD5")
    }
    return p;
  }

  void Add(Severity severity, std::string_view relative, std::string_view r, std::string message) {
    if (demote_errors) severity = Severity::kWarning;
    if (severity == Severity::kWarning) {
      if (!options.warnings) return;
      ++report->warnings;
    } else {
      ++report->errors;
    }
    if (report->findings.size() >= options.max_findings) return;
    report->findings.push_back(
        Finding{severity, Pointer(relative), std::move(message), std::string(r)});
  }

  struct PathGuard {
    [[gnu::always_inline]] PathGuard(Impl& impl, std::string_view key) : impl(impl) {
      impl.path.Push({key, 0, false});
    }
    [[gnu::always_inline]] PathGuard(Impl& impl, size_t index) : impl(impl) {
      impl.path.Push({{}, index, true});
    }
    ~PathGuard() { --impl.path.size; }
    Impl& impl;
  };

  // --- generic JSON checks ----------------------------------------------------------------

  // RFC 8259 says member names SHOULD be unique; STIX content with duplicates is ambiguous (which
  // one did the producer mean?), so it is an error. Small objects: compare pairwise.
  void CheckDuplicateKeys(simdjson::dom::object obj) {
    const size_t n = obj.size();
    if (n < 2) return;
    if (n <= 24) {
      // Compare cheap fingerprints (length, first and last byte) before any bytes.
      std::string_view keys[24];
      uint32_t prints[24];
      size_t i = 0;
      for (auto field : obj) {
        const std::string_view k = field.key;
        const uint32_t print =
            static_cast<uint32_t>(k.size()) << 16 |
            (k.empty() ? 0 : static_cast<uint8_t>(k.front()) << 8 | static_cast<uint8_t>(k.back()));
        for (size_t j = 0; j < i; ++j) {
          if (prints[j] == print && keys[j] == k) {
            Error(EscapeToken(k), rule::kJson, StrCat("duplicate member name \"", k, "\""));
            break;
          }
        }
        keys[i] = k;
        prints[i++] = print;
      }
      return;
    }
    absl::flat_hash_set<std::string_view> seen;
    seen.reserve(n);
    for (auto field : obj) {
      if (!seen.insert(field.key).second) {
        Error(EscapeToken(field.key), rule::kJson,
              StrCat("duplicate member name \"", field.key, "\""));
      }
    }
  }

  static std::string EscapeToken(std::string_view key) {
    std::string s;
    AppendEscapedToken(s, key);
    return s;
  }

  bool CheckStringLength(std::string_view s) {
    if (s.size() <= options.max_string_bytes) return true;
    Error("", rule::kType,
          StrCat("string of ", s.size(), " bytes exceeds the limit of ", options.max_string_bytes));
    return false;
  }

  // Any JSON value with no schema: duplicate names and string limits, recursively.
  void CheckGeneric(element e) {
    switch (e.type()) {
      case element_type::STRING:
        CheckStringLength(e.get_string().value_unsafe());
        break;
      case element_type::ARRAY: {
        size_t i = 0;
        simdjson::dom::array array = e.get_array().value_unsafe();
        for (element item : array) {
          PathGuard g(*this, i++);
          CheckGeneric(item);
        }
        break;
      }
      case element_type::OBJECT: {
        simdjson::dom::object obj = e.get_object().value_unsafe();
        CheckDuplicateKeys(obj);
        for (auto field : obj) {
          PathGuard g(*this, field.key);
          CheckGeneric(field.value);
        }
        break;
      }
      default:
        break;
    }
  }

  // --- property values --------------------------------------------------------------------

  void TypeError(const PropertySpec& p, element e) {
    Error("", rule::kType,
          StrCat(p.name.empty() ? "value" : p.name, " must be ", KindName(p.kind), ", not ",
                 ElementTypeName(e.type())));
  }

  // Valid custom type names seen in references, the last eight: references repeat a few types
  // (x-mitre-tactic, the ends of relationships), so each is checked once per run.
  struct KnownRefTypes {
    static constexpr size_t kEntries = 8, kMaxLength = 48;
    char names[kEntries][kMaxLength];
    size_t sizes[kEntries] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX,
                              SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    size_t next = 0;

    bool Contains(std::string_view type) const {
      for (size_t i = 0; i < kEntries; ++i) {
        if (sizes[i] == type.size() && internal::NamesEqual({names[i], sizes[i]}, type)) {
          return true;
        }
      }
      return false;
    }
    void Insert(std::string_view type) {
      if (type.size() > kMaxLength) return;
      std::memcpy(names[next], type.data(), type.size());
      sizes[next] = type.size();
      next = (next + 1) % kEntries;
    }
  };
  KnownRefTypes known_ref_types;

  // `ref` is a string of the document being validated (its type part is looked up in place).
  void CheckRefString(std::string_view ref, std::span<const std::string_view> allowed,
                      std::string_view self_type) {
    // A UUID is 36 characters, so in a well-formed identifier "--" sits 38 from the end; only
    // other strings need the search (which then finds the first "--", as the error names).
    constexpr size_t kUuidText = 36;
    size_t sep = ref.size() >= kUuidText + 5 && ref[ref.size() - kUuidText - 2] == '-' &&
                         ref[ref.size() - kUuidText - 1] == '-'
                     ? ref.size() - kUuidText - 2
                     : ref.find("--");
    if (sep == std::string_view::npos) {
      Error("", rule::kIdentifier, StrCat("\"", ref, "\" is not an identifier (type--UUID)"));
      return;
    }
    std::string_view type = ref.substr(0, sep);
    int version = 0;
    bool rfc4122 = false;
    // The types a property allows are types of the specification, so valid names; other types
    // of the specification likewise; custom ones are checked once and remembered.
    const bool in_allowed = std::any_of(allowed.begin(), allowed.end(), [type](std::string_view a) {
      return internal::NamesEqual(a, type);
    });
    const CompiledType* known_type = in_allowed ? nullptr : Registry::Get().FindInDocument(type);
    bool type_ok = in_allowed || known_type != nullptr || known_ref_types.Contains(type);
    if (!type_ok) {
      type_ok = IsValidTypeName(type);
      if (type_ok) known_ref_types.Insert(type);
    }
    if (!type_ok || !Uuid::Scan(ref.substr(sep + 2), version, rfc4122)) {
      auto uuid = Uuid::Parse(ref.substr(sep + 2));
      Error("", rule::kIdentifier,
            StrCat("\"", ref, "\" is not an identifier (type--UUID): ",
                   uuid.ok() ? "invalid type name" : uuid.status().message()));
      return;
    }
    if (!rfc4122 || version < 1 || version > 5) {
      Error("", rule::kIdentifier,
            StrCat("\"", ref, "\" does not hold an RFC 4122 UUID (version 1-5, variant 10)"));
      return;
    }
    if (!self_type.empty()) id_uuid_version = version;
    if (!self_type.empty() && !internal::NamesEqual(type, self_type)) {
      Error("", rule::kIdentifier,
            StrCat("id prefix \"", type, "\" does not match the object type \"", self_type, "\""));
      return;
    }
    if (!allowed.empty() && !in_allowed && known_type != nullptr) {
      std::string names;
      for (std::string_view a : allowed) StrAppend(&names, names.empty() ? "" : ", ", a);
      Error("", rule::kRefType, StrCat("reference to a ", type, " where ", names, " is expected"));
    }
  }

  void CheckScalar(const PropertySpec& p, element e, std::string_view self_type) {
    const element_type t = e.type();
    switch (p.kind) {
      case Kind::kAny:
        CheckGeneric(e);
        return;
      case Kind::kBoolean:
        if (t != element_type::BOOL) TypeError(p, e);
        return;
      case Kind::kInteger:
      case Kind::kFloat: {
        double v;
        if (t == element_type::INT64) {
          v = static_cast<double>(e.get_int64().value_unsafe());
        } else if (t == element_type::UINT64) {
          v = static_cast<double>(e.get_uint64().value_unsafe());
        } else if (t == element_type::DOUBLE) {
          v = e.get_double().value_unsafe();
          if (p.kind == Kind::kInteger && v != static_cast<double>(static_cast<int64_t>(v))) {
            TypeError(p, e);
            return;
          }
        } else {
          TypeError(p, e);
          return;
        }
        if ((p.min != INT64_MIN && v < static_cast<double>(p.min)) ||
            (p.max != INT64_MAX && v > static_cast<double>(p.max))) {
          Error("", rule::kRange,
                StrCat(p.name, " must be in [", p.min == INT64_MIN ? "-inf" : StrCat(p.min), ", ",
                       p.max == INT64_MAX ? "inf" : StrCat(p.max), "]"));
        }
        return;
      }
      case Kind::kObject:
        if (t != element_type::OBJECT) {
          TypeError(p, e);
          return;
        }
        if (p.nested == nullptr) {
          CheckGeneric(e);
        } else {
          CheckObject(e.get_object().value_unsafe(), Registry::Get().Nested(p.nested), {});
        }
        return;
      case Kind::kDictionary: {
        if (t != element_type::OBJECT) {
          TypeError(p, e);
          return;
        }
        simdjson::dom::object obj = e.get_object().value_unsafe();
        CheckDuplicateKeys(obj);
        for (auto field : obj) {
          PathGuard g(*this, field.key);
          if (!IsDictionaryKey(field.key)) {
            Error("", rule::kType,
                  StrCat("dictionary key \"", field.key,
                         "\" must be 1-250 ASCII letters, digits, '_' or '-'"));
          }
          CheckGeneric(field.value);
        }
        return;
      }
      case Kind::kHashes:
        CheckHashes(p, e);
        return;
      case Kind::kExtensions:
        CheckExtensions(p, e);
        return;
      default:
        break;
    }
    // Every remaining kind is a string.
    if (t != element_type::STRING) {
      TypeError(p, e);
      return;
    }
    std::string_view s = e.get_string().value_unsafe();
    if (!CheckStringLength(s)) return;
    switch (p.kind) {
      case Kind::kTimestamp: {
        auto ts = Timestamp::Parse(s);
        if (ts.ok()) parsed_timestamp = *ts;
        if (!ts.ok()) {
          Error("", rule::kTimestamp, std::string(ts.status().message()));
        } else if (ts->precision() < 3 && (p.name == "created" || p.name == "modified")) {
          // Section 3.2: created and modified MUST be precise to the nearest millisecond.
          Error("", rule::kTimestamp,
                StrCat(p.name, " must be precise to the millisecond (\"", s, "\")"));
        }
        return;
      }
      case Kind::kIdentifier:
        CheckRefString(s, {}, self_type);
        return;
      case Kind::kRef:
        CheckRefString(s, p.ref_types, {});
        return;
      case Kind::kOpenVocab:
        if (p.vocab != nullptr && !p.vocab->Contains(s)) {
          Warning("", rule::kVocab,
                  StrCat("\"", s, "\" is not in the ", p.vocab->name, " vocabulary"));
        }
        return;
      case Kind::kEnum:
        if (p.vocab != nullptr && !p.vocab->Contains(s)) {
          std::string names;
          for (std::string_view v : p.vocab->values) {
            StrAppend(&names, names.empty() ? "" : ", ", v);
          }
          Error("", rule::kEnum, StrCat("\"", s, "\" is not one of ", p.vocab->name, ": ", names));
        }
        return;
      case Kind::kBinary:
        if (!IsBase64(s)) Error("", rule::kType, StrCat(p.name, " must be base64 (RFC 4648)"));
        return;
      case Kind::kHex:
        if (s.size() % 2 != 0 || !IsHexString(s)) {
          Error("", rule::kType, StrCat(p.name, " must be an even number of hex digits"));
        }
        return;
      case Kind::kUrl:
        if (!IsUrl(s)) Error("", rule::kType, StrCat("\"", s, "\" is not a URL (RFC 3986)"));
        return;
      case Kind::kLanguageTag:
        if (!IsLanguageTag(s)) {
          Error("", rule::kLanguage, StrCat("\"", s, "\" is not an RFC 5646 language tag"));
        }
        return;
      default:
        return;
    }
  }

  void CheckValue(const PropertySpec& p, element e, std::string_view self_type) {
    if (e.type() == element_type::NULL_VALUE) {
      Error("", rule::kType, StrCat(p.name, " must not be null (omit the property instead)"));
      return;
    }
    if (!p.list) {
      CheckScalar(p, e, self_type);
      return;
    }
    if (e.type() != element_type::ARRAY) {
      Error("", rule::kType, StrCat(p.name, " must be a list, not ", ElementTypeName(e.type())));
      return;
    }
    simdjson::dom::array a = e.get_array().value_unsafe();
    if (a.size() == 0) {
      Error("", rule::kEmptyList, StrCat(p.name, " must not be an empty list"));
      return;
    }
    size_t i = 0;
    for (element item : a) {
      PathGuard g(*this, i++);
      if (item.type() == element_type::NULL_VALUE) {
        Error("", rule::kType, "list items must not be null");
        continue;
      }
      CheckScalar(p, item, {});
    }
  }

  void CheckHashes(const PropertySpec& p, element e) {
    if (e.type() != element_type::OBJECT) {
      TypeError(p, e);
      return;
    }
    simdjson::dom::object obj = e.get_object().value_unsafe();
    if (obj.size() == 0) Error("", rule::kHashAlgorithm, "hashes must not be empty");
    CheckDuplicateKeys(obj);
    for (auto field : obj) {
      PathGuard g(*this, field.key);
      std::string_view value;
      if (field.value.get_string().get(value) != simdjson::SUCCESS) {
        Error("", rule::kType, "a hash value must be a string");
        continue;
      }
      const HashFormat* format = nullptr;
      for (const HashFormat& f : kHashFormats) {
        if (f.name == field.key) format = &f;
      }
      if (format == nullptr) {
        if (field.key.size() < 3 || !IsDictionaryKey(field.key)) {
          Error("", rule::kHashAlgorithm,
                StrCat("hash algorithm name \"", field.key,
                       "\" must be 3-250 ASCII letters, digits, '_' or '-'"));
        } else {
          Warning("", rule::kHashAlgorithm,
                  StrCat("\"", field.key, "\" is not in the hash-algorithm-ov vocabulary"));
        }
        continue;
      }
      bool ok = value.size() >= format->min_length && value.size() <= format->max_length;
      if (ok && format->hex) ok = IsHexString(value);
      if (!ok) {
        Error("", rule::kHashAlgorithm,
              StrCat("\"", value.substr(0, 140), "\" is not a valid ", field.key, " value"));
      }
    }
  }

  // Section 7.3 (Extensions): extension-definition references or predefined SCO extensions.
  void CheckExtensions(const PropertySpec& p, element e) {
    if (e.type() != element_type::OBJECT) {
      TypeError(p, e);
      return;
    }
    simdjson::dom::object obj = e.get_object().value_unsafe();
    if (obj.size() == 0) Error("", rule::kExtension, "extensions must not be empty");
    CheckDuplicateKeys(obj);
    for (auto field : obj) {
      PathGuard g(*this, field.key);
      if (field.value.type() != element_type::OBJECT) {
        Error("", rule::kExtension, "an extension must be an object");
        continue;
      }
      simdjson::dom::object ext = field.value.get_object().value_unsafe();
      if (field.key.starts_with("extension-definition--")) {
        CheckRefString(field.key, {}, "extension-definition");
        std::string_view extension_type;
        if (ext["extension_type"].get_string().get(extension_type) == simdjson::SUCCESS) {
          static constexpr std::string_view kTypes[] = {
              "new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"};
          if (std::find(std::begin(kTypes), std::end(kTypes), extension_type) == std::end(kTypes)) {
            Error("extension_type", rule::kEnum,
                  StrCat("\"", extension_type, "\" is not an extension type"));
          }
        }
        CheckGeneric(field.value);
        continue;
      }
      if (const TypeSpec* predefined = internal::FindPredefinedExtension(field.key)) {
        if (ext.size() == 0) Error("", rule::kExtension, "an extension must not be empty");
        CheckObject(ext, Registry::Get().Nested(predefined), {});
        continue;
      }
      if (!IsValidTypeName(field.key)) {
        Error("", rule::kExtension,
              StrCat("extension name \"", field.key,
                     "\" must be an extension-definition id or a lower-case hyphenated name"));
      } else {
        Warning("", rule::kExtension,
                StrCat("\"", field.key,
                       "\" is neither predefined nor an extension-definition reference"));
      }
      CheckGeneric(field.value);
    }
  }

  // Properties not in the tables: custom properties (section 11.1).
  void CheckCustomProperty(std::string_view name, element e, bool nested) {
    if (nested) {
      CheckGeneric(e);
      return;
    }
    // Section 3.1: names reserved for future use on SDOs and SROs.
    if (check_reserved &&
        (name == "severity" || name == "action" || name == "username" || name == "phone_numbers")) {
      Error("", rule::kReserved, StrCat(name, " is reserved for future use"));
    }
    if (!IsValidPropertyName(name)) {
      Error("", rule::kCustomProperty,
            StrCat("property name \"", name.substr(0, 64),
                   "\" must be 3-250 characters of a-z, 0-9 and '_'"));
    }
    if (e.type() == element_type::NULL_VALUE) {
      Error("", rule::kType, StrCat(name.substr(0, 64), " must not be null"));
      return;
    }
    // Naming conventions carry types (section 3.1): *_ref, *_refs, *_bin, *_hex.
    static constexpr PropertySpec kRef = {.kind = Kind::kRef};
    static constexpr PropertySpec kRefs = {.kind = Kind::kRef, .list = true};
    static constexpr PropertySpec kBin = {.kind = Kind::kBinary};
    static constexpr PropertySpec kHexProp = {.kind = Kind::kHex};
    const PropertySpec* implied = nullptr;
    if (name.ends_with("_ref")) {
      implied = &kRef;
    } else if (name.ends_with("_refs")) {
      implied = &kRefs;
    } else if (name.ends_with("_bin")) {
      implied = &kBin;
    } else if (name.ends_with("_hex")) {
      implied = &kHexProp;
    }
    if (implied != nullptr) {
      // The suffixes are the spec's naming convention for the standard properties; a custom
      // property that breaks it is suspicious, not invalid (ATT&CK itself ships an empty
      // x_mitre_data_source_ref), so findings here are warnings.
      PropertySpec named = *implied;
      named.name = name;
      demote_errors = true;
      CheckValue(named, e, {});
      demote_errors = false;
      return;
    }
    if (e.type() == element_type::ARRAY && e.get_array().value_unsafe().size() == 0) {
      Error("", rule::kEmptyList, StrCat(name.substr(0, 64), " must not be an empty list"));
      return;
    }
    CheckGeneric(e);
  }

  // Walks one JSON object against a compiled type. `self_type` is the STIX type for top-level
  // objects (checked against the id prefix) and empty for nested sub-objects.
  void CheckObject(simdjson::dom::object obj, const CompiledType& type,
                   std::string_view self_type) {
    const bool nested = self_type.empty();
    uint64_t seen_required = 0;
    // Duplicate member names (see CheckDuplicateKeys): known properties by a bit each, the
    // rest (custom properties, rare) pairwise.
    uint64_t seen = 0;
    absl::InlinedVector<std::string_view, 16> others;
    absl::flat_hash_set<std::string_view> many_others;  // past 32: hostile input stays linear
    TimeCache times;
    for (auto field : obj) {
      PathGuard g(*this, field.key);
      const PropertyEntry* entry = type.properties.FindInDocument(field.key);
      bool duplicate = false;
      if (entry != nullptr && entry->bit >= 0) {
        const uint64_t mask = uint64_t{1} << entry->bit;
        duplicate = (seen & mask) != 0;
        seen |= mask;
      } else {
        if (others.size() < 32) {
          for (std::string_view o : others) duplicate = duplicate || o == field.key;
          others.push_back(field.key);
        } else {
          if (many_others.empty()) many_others.insert(others.begin(), others.end());
          duplicate = !many_others.insert(field.key).second;
        }
      }
      if (duplicate) {
        Error("", rule::kJson, StrCat("duplicate member name \"", field.key, "\""));
        continue;
      }
      if (!nested && internal::NamesEqual(field.key, "granular_markings")) {
        saw_granular_markings = true;
      }
      if (entry == nullptr) {
        CheckCustomProperty(field.key, field.value, nested);
        continue;
      }
      const PropertySpec& p = *entry->spec;
      if (entry->required_index >= 0) seen_required |= uint64_t{1} << entry->required_index;

      parsed_timestamp.reset();
      CheckValue(p, field.value, p.kind == Kind::kIdentifier ? self_type : std::string_view{});
      if (p.kind == Kind::kTimestamp && !p.list && parsed_timestamp &&
          times.size < TimeCache::kCapacity) {
        times.entries[times.size++] = {p.name, *parsed_timestamp};
      }
    }
    for (size_t i = 0; i < type.required.size(); ++i) {
      if (!(seen_required & (uint64_t{1} << i))) {
        Error(type.required[i]->name, rule::kRequired,
              StrCat("required property ", type.required[i]->name, " is missing",
                     nested ? StrCat(" in ", type.spec->type) : ""));
      }
    }
    const simdjson::dom::object* saved = current;
    const TimeCache* saved_times = current_times;
    current = &obj;
    current_times = &times;
    if (type.spec->check != nullptr) type.spec->check(*this);
    if (!nested && options.check_pattern && type.spec->type == "indicator") CheckPattern(obj);
    if (!nested) {
      // Section 3.2: modified MUST be later than or equal to created.
      auto created = Time("created"), modified = Time("modified");
      if (created && modified && *modified < *created) {
        Error("modified", rule::kModified, "modified must be later than or equal to created");
      }
    }
    current = saved;
    current_times = saved_times;
  }

  // --- top-level objects ------------------------------------------------------------------

  // Section 7.3: a custom object declares its category through an extension-definition.
  static std::optional<Category> CategoryFromExtensions(simdjson::dom::object obj) {
    simdjson::dom::object extensions;
    if (obj["extensions"].get_object().get(extensions) != simdjson::SUCCESS) return std::nullopt;
    for (auto field : extensions) {
      std::string_view t;
      if (!field.key.starts_with("extension-definition--")) continue;
      if (field.value["extension_type"].get_string().get(t) != simdjson::SUCCESS) continue;
      if (t == "new-sdo") return Category::kSdo;
      if (t == "new-sco") return Category::kSco;
      if (t == "new-sro") return Category::kSro;
    }
    return std::nullopt;
  }

  void ReportStix20(std::string_view why) {
    ++stix20_objects;
    report->stix20 = true;
    if (stix20_finding != SIZE_MAX) {
      ++report->errors;
      return;
    }
    stix20_finding = report->findings.size();
    Error("", rule::kSpecVersion,
          StrCat("STIX 2.0 content (", why,
                 "): convert it to 2.1 with `liaison upgrade` before loading it"));
  }

  void ValidateStixObject(element e) {
    ++report->objects;
    if (e.type() != element_type::OBJECT) {
      Error("", rule::kType,
            StrCat("a STIX object must be a JSON object, not ", ElementTypeName(e.type())));
      return;
    }
    simdjson::dom::object obj = e.get_object().value_unsafe();
    // One pass for the two members that decide how the rest is read (the first of each, as
    // simdjson's lookup would give); "type" and "spec_version" usually come first.
    std::optional<element> type_member, spec_version_member;
    for (auto field : obj) {
      if (!type_member && internal::NamesEqual(field.key, "type")) {
        type_member = field.value;
      } else if (!spec_version_member && internal::NamesEqual(field.key, "spec_version")) {
        spec_version_member = field.value;
      }
      if (type_member && spec_version_member) break;
    }
    std::string_view type;
    if (!type_member || type_member->get_string().get(type) != simdjson::SUCCESS) {
      Error("type", !type_member ? rule::kRequired : rule::kType,
            "a STIX object needs a string property type");
      CheckGeneric(e);
      return;
    }
    const CompiledType* compiled = Registry::Get().FindInDocument(type);
    Category category;
    if (compiled != nullptr) {
      category = compiled->category;
    } else {
      if (type == "bundle") {
        Error("type", rule::kType, "a bundle cannot be nested inside another bundle");
        return;
      }
      auto declared = CategoryFromExtensions(obj);
      category = declared.value_or(Category::kSdo);
      compiled = &Registry::Get().Custom(category);
      if (!IsValidTypeName(type)) {
        Error("type", rule::kCustomObject,
              StrCat("type \"", type.substr(0, 64),
                     "\" must be 3-250 characters of a-z, 0-9 and '-', starting with a "
                     "letter"));
      } else if (!declared && !type.starts_with("x-")) {
        Warning("type", rule::kCustomPrefix,
                StrCat("custom type \"", type,
                       "\" has no extension-definition and does not start with x-"));
      }
    }

    // Section 3.1 spec_version: "2.1"; a missing one on an SDO/SRO/meta object means 2.0.
    std::string_view spec_version;
    const bool has_spec_version = spec_version_member && spec_version_member->get_string().get(
                                                             spec_version) == simdjson::SUCCESS;
    if (has_spec_version && spec_version == "2.0") {
      ReportStix20("spec_version \"2.0\"");
      return;
    }
    if (!has_spec_version && category != Category::kSco && !spec_version_member) {
      ReportStix20(StrCat("a ", type, " without spec_version"));
      return;
    }
    if (has_spec_version && spec_version != "2.1") {
      Error("spec_version", rule::kSpecVersion,
            StrCat("spec_version must be \"2.1\", not \"", spec_version.substr(0, 32), "\""));
    }

    id_uuid_version = 0;
    saw_granular_markings = false;
    check_reserved = category != Category::kSco;
    CheckObject(obj, *compiled, type);
    check_reserved = false;

    current = &obj;
    CheckUuidVersion(obj, category, *compiled);
    if (saw_granular_markings) CheckGranularSelectors(obj);
    current = nullptr;
  }

  // Section 2.9: SDO/SRO/meta ids SHOULD be UUIDv4, SCO ids SHOULD be UUIDv5 (when the type has
  // ID-contributing properties); SCO ids MUST NOT use the SCO namespace otherwise.
  void CheckUuidVersion(simdjson::dom::object obj, Category category, const CompiledType& type) {
    const int version = id_uuid_version;
    if (version == 0) return;  // no valid id: already reported
    if (category == Category::kSco) {
      if (!type.spec->id_contributing.empty() && version != 5) {
        Warning("id", rule::kUuidVersion, StrCat("an SCO id should be a UUIDv5, not v", version));
      }
      std::string_view id;
      if (options.check_sco_ids && version == 5 &&
          obj["id"].get_string().get(id) == simdjson::SUCCESS) {
        CheckScoId(obj, id);
      }
      return;
    }
    if (version != 4) {
      Warning("id", rule::kUuidVersion, StrCat("the id should be a UUIDv4, not v", version));
    }
  }

  // Section 4.7: pattern is "the detection pattern for this Indicator", in the language named
  // by pattern_type; a "stix" pattern must follow section 9. Other languages are not checked.
  void CheckPattern(simdjson::dom::object obj) {
    std::string_view pattern_type, pattern;
    if (obj["pattern_type"].get_string().get(pattern_type) != simdjson::SUCCESS ||
        pattern_type != "stix" || obj["pattern"].get_string().get(pattern) != simdjson::SUCCESS) {
      return;  // absent or of the wrong type: reported by the property checks
    }
    std::string why = options.check_pattern(pattern);
    if (!why.empty()) Error("pattern", rule::kPattern, StrCat("invalid STIX pattern: ", why));
  }

  void CheckScoId(simdjson::dom::object obj, std::string_view id) {
    std::string text = simdjson::minify(obj);
    auto expected = DeterministicScoId(text);
    if (!expected.ok() || !expected->has_value()) return;
    if (**expected != id) {
      Warning("id", rule::kScoId,
              StrCat("id differs from the deterministic id ", **expected,
                     " of its ID-contributing properties"));
    }
  }

  // Section 7.2.3.1: every selector MUST resolve to a property or list item of this object.
  void CheckGranularSelectors(simdjson::dom::object obj) {
    simdjson::dom::array markings;
    if (obj["granular_markings"].get_array().get(markings) != simdjson::SUCCESS) return;
    size_t i = 0;
    for (element marking : markings) {
      PathGuard g1(*this, "granular_markings");
      PathGuard g2(*this, i++);
      simdjson::dom::array selectors;
      if (marking["selectors"].get_array().get(selectors) != simdjson::SUCCESS) continue;
      size_t j = 0;
      for (element sel : selectors) {
        PathGuard g3(*this, "selectors");
        PathGuard g4(*this, j++);
        std::string_view selector;
        if (sel.get_string().get(selector) != simdjson::SUCCESS) continue;
        if (!ResolveSelector(obj, selector)) {
          Error("", rule::kGranularMarking,
                StrCat("selector \"", selector.substr(0, 128),
                       "\" does not resolve to a property of this object"));
        }
      }
    }
  }

  static bool ResolveSelector(simdjson::dom::object obj, std::string_view selector) {
    element cur;
    bool at_root = true;
    size_t start = 0;
    while (start <= selector.size()) {
      size_t dot = selector.find('.', start);
      std::string_view step =
          selector.substr(start, dot == selector.npos ? selector.npos : dot - start);
      if (step.empty()) return false;
      if (step.front() == '[' && step.back() == ']') {
        simdjson::dom::array a;
        if (at_root || cur.get_array().get(a) != simdjson::SUCCESS) return false;
        std::string_view digits = step.substr(1, step.size() - 2);
        if (digits.empty() || digits.size() > 9 ||
            !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
          return false;
        }
        size_t index = std::stoul(std::string(digits));
        if (a.at(index).get(cur) != simdjson::SUCCESS) return false;
      } else {
        simdjson::dom::object o = obj;
        if (!at_root && cur.get_object().get(o) != simdjson::SUCCESS) return false;
        if (o.at_key(step).get(cur) != simdjson::SUCCESS) return false;
      }
      at_root = false;
      if (dot == selector.npos) break;
      start = dot + 1;
    }
    return true;
  }

  // --- containers -------------------------------------------------------------------------

  void ValidateObjectsArray(simdjson::dom::object container) {
    element objects;
    if (container["objects"].get(objects) != simdjson::SUCCESS) return;
    PathGuard g(*this, "objects");
    simdjson::dom::array a;
    if (objects.get_array().get(a) != simdjson::SUCCESS) {
      Error("", rule::kType, "objects must be a list");
      return;
    }
    size_t i = 0;
    for (element o : a) {
      PathGuard gi(*this, i++);
      ValidateStixObject(o);
    }
  }

  // Section 8: bundle. 2.1 bundles have no spec_version; a "2.0" one marks 2.0 content.
  void ValidateBundle(simdjson::dom::object bundle) {
    CheckDuplicateKeys(bundle);
    std::string_view spec_version;
    if (bundle["spec_version"].get_string().get(spec_version) == simdjson::SUCCESS) {
      if (spec_version == "2.0") {
        ReportStix20("bundle spec_version \"2.0\"");
        return;
      }
      Warning("spec_version", rule::kSpecVersion, "a STIX 2.1 bundle has no spec_version");
    }
    std::string_view id;
    if (bundle["id"].get_string().get(id) != simdjson::SUCCESS) {
      Error("id", rule::kRequired, "a bundle needs an id");
    } else {
      PathGuard g(*this, "id");
      CheckRefString(id, {}, "bundle");
    }
    for (auto field : bundle) {
      if (field.key != "type" && field.key != "id" && field.key != "objects" &&
          field.key != "spec_version") {
        PathGuard g(*this, field.key);
        CheckCustomProperty(field.key, field.value, false);
      }
    }
    ValidateObjectsArray(bundle);
  }

  void ValidateRoot(element root) {
    if (root.type() != element_type::OBJECT) {
      Error(
          "", rule::kType,
          StrCat("expected a STIX object, bundle or envelope, not ", ElementTypeName(root.type())));
      return;
    }
    simdjson::dom::object obj = root.get_object().value_unsafe();
    std::string_view type;
    const bool has_type = obj["type"].get_string().get(type) == simdjson::SUCCESS;
    if (has_type && type == "bundle") {
      report->form = InputForm::kBundle;
      ValidateBundle(obj);
    } else if (!has_type && obj["objects"].error() == simdjson::SUCCESS) {
      // TAXII 2.1 envelope (section 3.7 of TAXII): more, next, objects.
      report->form = InputForm::kEnvelope;
      CheckDuplicateKeys(obj);
      ValidateObjectsArray(obj);
    } else {
      report->form = InputForm::kObject;
      ValidateStixObject(root);
    }
  }

  void FinishStix20() {
    if (stix20_finding < report->findings.size() && stix20_objects > 1) {
      StrAppend(&report->findings[stix20_finding].message, " (", stix20_objects,
                " objects are 2.0)");
    }
  }

  void BeginInput(stix::Report& r) {
    report = &r;
    path.size = 0;
    stix20_finding = SIZE_MAX;
    stix20_objects = 0;
  }

  // Parses `text` (with padding when `padded`); on failure reports the syntax error's position.
  bool ParseDocument(std::string_view text, bool padded, element& root, size_t findings_before,
                     size_t line_offset) {
    auto result = parser.parse(text.data(), text.size(), !padded);
    if (result.get(root) == simdjson::SUCCESS) {
      parsed_text = text;
      return true;
    }
    parsed_text = {};
    const simdjson::error_code code = result.error();
    if (code == simdjson::CAPACITY || code == simdjson::MEMALLOC) {
      Error(
          "", rule::kJson,
          StrCat("input of ", text.size(), " bytes is too large: ", simdjson::error_message(code)));
      return false;
    }
    auto syntax = internal::FindSyntaxError(text, options.max_depth);
    Error("", rule::kJson,
          syntax ? StrCat("malformed JSON: ", syntax->message)
                 : StrCat("malformed JSON: ", simdjson::error_message(code)));
    if (syntax && report->findings.size() > findings_before) {
      Finding& f = report->findings.back();
      internal::LineColumn(text, syntax->offset, f.line, f.column);
      f.line += line_offset;
    }
    return false;
  }

  // Fills line and column of findings [first, end) from their pointers into `text`.
  void Locate(std::string_view text, size_t first, size_t line_offset) {
    std::vector<std::string> pointers;
    std::vector<size_t> which;
    for (size_t i = first; i < report->findings.size(); ++i) {
      if (report->findings[i].line != 0) continue;
      pointers.push_back(report->findings[i].pointer);
      which.push_back(i);
    }
    if (pointers.empty()) return;
    // The structural index of the last parse, when it was a parse of exactly this text.
    std::span<const uint32_t> structurals;
    if (parsed_text.data() == text.data() && parsed_text.size() == text.size() &&
        parser.implementation != nullptr) {
      structurals = {parser.implementation->structural_indexes.get(),
                     parser.implementation->n_structural_indexes};
    }
    std::vector<size_t> offsets = internal::LocatePointers(text, pointers, structurals);
    // Count lines once, in offset order, instead of from the start for every finding.
    std::vector<size_t> order(which.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
    size_t line = 1, line_start = 0, counted_to = 0;
    for (size_t k : order) {
      const size_t offset = offsets[k];
      if (offset == std::string_view::npos) continue;
      const std::string_view between = text.substr(counted_to, offset - counted_to);
      if (const size_t last = between.rfind('\n'); last != std::string_view::npos) {
        line += internal::CountNewlines(between);
        line_start = counted_to + last + 1;
      }
      counted_to = offset;
      Finding& f = report->findings[which[k]];
      f.line = line + line_offset;
      f.column = offset - line_start + 1;
    }
  }

  // NDJSON through simdjson's parse_many: one stage 1 pass over big batches instead of a parse
  // call (and a copy into a padded buffer) per line. Returns false, with the report as it was,
  // when the stream is not exactly one well-formed object per line; the caller then validates
  // line by line, which reports each bad line precisely.
  bool ValidateNdjsonStream(std::string_view text) {
    const Report saved = *report;
    const size_t saved_stix20_finding = stix20_finding, saved_stix20_objects = stix20_objects;
    parsed_text = {};
    auto rollback = [&] {
      *report = saved;
      stix20_finding = saved_stix20_finding;
      stix20_objects = saved_stix20_objects;
      return false;
    };
    simdjson::dom::document_stream docs;
    if (parser
            .parse_many(reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                        simdjson::dom::DEFAULT_BATCH_SIZE)
            .get(docs) != simdjson::SUCCESS) {
      return rollback();
    }
    // Line numbers come from the newlines between objects; an object spread over several lines
    // (newlines inside it) shows up at the end as newlines that no gap accounts for.
    size_t counted_to = 0, line_number = 1, gap_newlines = 0;
    bool first = true;
    for (auto it = docs.begin(); it != docs.end(); ++it) {
      element root;
      if ((*it).get(root) != simdjson::SUCCESS || root.type() != element_type::OBJECT) {
        return rollback();
      }
      const size_t start = it.current_index();
      if (start < counted_to) return rollback();
      const size_t newlines = internal::CountNewlines(text.substr(counted_to, start - counted_to));
      if (!first && newlines == 0) return rollback();  // two objects on one line
      first = false;
      line_number += newlines;
      gap_newlines += newlines;
      counted_to = start + it.source().size();
      const size_t before = report->findings.size();
      ValidateStixObject(root);
      if (report->findings.size() > before) {
        const size_t line_begin = text.rfind('\n', start == 0 ? 0 : start - 1);
        const size_t from = line_begin == std::string_view::npos || start == 0 ? 0 : line_begin + 1;
        size_t to = text.find('\n', start);
        if (to == std::string_view::npos) to = text.size();
        Locate(text.substr(from, to - from), before, line_number - 1);
      }
    }
    if (docs.truncated_bytes() != 0) return rollback();
    gap_newlines += internal::CountNewlines(text.substr(std::min(counted_to, text.size())));
    if (gap_newlines != internal::CountNewlines(text)) return rollback();
    return true;
  }

  void ValidateNdjson(std::string_view text, bool padded) {
    report->form = InputForm::kNdjson;
    if (padded && ValidateNdjsonStream(text)) return;
    size_t line_start = 0, line_number = 0;
    std::string scratch;
    while (line_start < text.size()) {
      size_t end = text.find('\n', line_start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(line_start, end - line_start);
      ++line_number;
      line_start = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const size_t before = report->findings.size();
      element root;
      if (ParseDocument(line, false, root, before, line_number - 1)) {
        ValidateStixObject(root);
      }
      Locate(line, before, line_number - 1);
    }
  }
};

Validator::Validator(ValidateOptions options) : impl_(std::make_unique<Impl>(options)) {
  // Preallocating sets the nesting limit; the capacity grows with the input.
  const simdjson::error_code err = impl_->parser.allocate(1 << 16, options.max_depth);
  LIAISON_CHECK(err == simdjson::SUCCESS);
}

Validator::~Validator() = default;

Report Validator::Validate(std::string_view text, bool padded) {
  Report report;
  impl_->BeginInput(report);
  impl_->base = {};
  if (internal::LooksLikeNdjson(text)) {
    impl_->ValidateNdjson(text, padded);
  } else {
    element root;
    if (impl_->ParseDocument(text, padded, root, 0, 0)) impl_->ValidateRoot(root);
    impl_->Locate(text, 0, 0);
  }
  impl_->FinishStix20();
  return report;
}

void Validator::ValidateObject(std::string_view json, std::string_view pointer, Report& report) {
  ValidateObject(json, pointer, report, nullptr);
}

void Validator::ValidateObject(std::string_view json, std::string_view pointer, Report& report,
                               std::optional<Result<Object>>* object) {
  impl_->BeginInput(report);
  std::string base(pointer);
  impl_->base = base;
  const size_t before = report.findings.size();
  element root;
  if (impl_->ParseDocument(json, false, root, before, 0)) {
    if (object != nullptr) object->emplace(internal::ExtractObject(root, json));
    impl_->ValidateStixObject(root);
  }
  // Pointers carry `pointer` as prefix; strip it to locate within `json`.
  std::vector<std::string> saved;
  for (size_t i = before; i < report.findings.size(); ++i) {
    saved.push_back(report.findings[i].pointer);
    report.findings[i].pointer = report.findings[i].pointer.substr(base.size());
  }
  impl_->Locate(json, before, 0);
  for (size_t i = before; i < report.findings.size(); ++i) {
    report.findings[i].pointer = std::move(saved[i - before]);
  }
  impl_->FinishStix20();
  impl_->base = {};
}

Report ValidateObjectText(std::string_view json) {
  Validator v;
  Report r;
  v.ValidateObject(json, "", r);
  return r;
}

namespace internal {

const TypeSpec* FindType(std::string_view type) {
  const CompiledType* c = Registry::Get().Find(type);
  return c == nullptr ? nullptr : c->spec;
}

const TypeSpec* FindTypeInDocument(std::string_view type) {
  const CompiledType* c = Registry::Get().FindInDocument(type);
  return c == nullptr ? nullptr : c->spec;
}

}  // namespace internal
}  // namespace liaison::stix
