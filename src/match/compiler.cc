#include "match/compiler.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "core/uuid.h"
#include "pattern/check.h"
#include "pattern/parse.h"
#include "pattern/pattern_set.h"
#include "simdjson.h"
#include "stix/parse.h"

namespace liaison::match {
namespace {

struct Leaf {
  Field field;
  std::string value;
};

std::string PathText(const pattern::ObjectPath& path) {
  std::string s = path.object_type;
  s.push_back(':');
  bool first = true;
  for (const pattern::PathStep& step : path.steps) {
    switch (step.kind) {
      case pattern::PathStep::Kind::kKey:
        if (!first) s.push_back('.');
        s += step.key;
        break;
      case pattern::PathStep::Kind::kIndex:
        StrAppend(&s, "[", step.index, "]");
        break;
      case pattern::PathStep::Kind::kAnyIndex:
        s += "[*]";
        break;
    }
    first = false;
  }
  return s;
}

bool CollectComparisons(const pattern::ComparisonExpression& e, std::vector<Leaf>& out) {
  using K = pattern::ComparisonExpression::Kind;
  switch (e.kind) {
    case K::kComparison: {
      const pattern::Comparison& c = e.comparison;
      if (c.negated) return false;
      if (c.op != pattern::ComparisonOperator::kEqual && c.op != pattern::ComparisonOperator::kIn) {
        return false;
      }
      const std::optional<Field> field = FieldForPath(PathText(c.path));
      if (!field) return false;
      for (const pattern::Constant& k : c.constants) {
        if (k.kind == pattern::Constant::Kind::kString) {
          out.push_back({*field, k.text});
        } else if (k.kind == pattern::Constant::Kind::kInteger &&
                   InfoOf(*field).kind == ValueKind::kOther) {
          out.push_back({*field, std::to_string(k.integer)});
        } else {
          return false;
        }
      }
      return true;
    }
    case K::kOr:
    case K::kGroup:
      for (const auto& operand : e.operands) {
        if (!CollectComparisons(operand, out)) return false;
      }
      return true;
    case K::kAnd:
      return false;
  }
  return false;
}

bool CollectExact(const pattern::ObservationExpression& e, std::vector<Leaf>& out) {
  using K = pattern::ObservationExpression::Kind;
  if (!e.qualifiers.empty()) return false;
  switch (e.kind) {
    case K::kObservation:
      return CollectComparisons(e.comparison, out);
    case K::kOr:
    case K::kGroup:
      for (const auto& operand : e.operands) {
        if (!CollectExact(operand, out)) return false;
      }
      return true;
    default:
      return false;
  }
}

// The SCO types some reader produces (fields.h).
bool ReaderProduces(std::string_view sco_type) {
  if (sco_type == "ipv6-addr") return true;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (InfoOf(static_cast<Field>(i)).sco_type == sco_type) return true;
  }
  return false;
}

struct ListType {
  std::string_view name;
  ValueKind kind;
};
constexpr ListType kListTypes[] = {
    {"ipv4-addr", ValueKind::kIpv4},
    {"ipv6-addr", ValueKind::kIpv6},
    {"ip", ValueKind::kIpv4},
    {"cidr", ValueKind::kIpv4},
    {"domain-name", ValueKind::kDomain},
    {"domain", ValueKind::kDomain},
    {"hostname", ValueKind::kDomain},
    {"url", ValueKind::kUrl},
    {"md5", ValueKind::kMd5},
    {"sha1", ValueKind::kSha1},
    {"sha-1", ValueKind::kSha1},
    {"sha256", ValueKind::kSha256},
    {"sha-256", ValueKind::kSha256},
    {"sha512", ValueKind::kSha512},
    {"sha-512", ValueKind::kSha512},
    {"email-addr", ValueKind::kEmail},
    {"email", ValueKind::kEmail},
};

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// The kind of a bare list value: addresses and CIDRs, hashes by length, URLs by a slash,
// e-mail by an @, else a domain.
ValueKind InferKind(std::string_view v) {
  if (IsHex(v)) {
    switch (v.size()) {
      case 32:
        return ValueKind::kMd5;
      case 40:
        return ValueKind::kSha1;
      case 64:
        return ValueKind::kSha256;
      case 128:
        return ValueKind::kSha512;
      default:
        break;
    }
  }
  const bool digits_dots_slash = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '/';
  });
  if (digits_dots_slash && v.find('.') != std::string_view::npos) return ValueKind::kIpv4;
  if (v.find("::") != std::string_view::npos || std::count(v.begin(), v.end(), ':') >= 2) {
    return ValueKind::kIpv6;
  }
  if (v.find('@') != std::string_view::npos && v.find('/') == std::string_view::npos) {
    return ValueKind::kEmail;
  }
  if (v.find('/') != std::string_view::npos) return ValueKind::kUrl;
  return ValueKind::kDomain;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

struct IndicatorSet::Impl {
  CompileOptions options;
  CompileStats stats;
  IndicatorIndex index;
  std::vector<char> ids;         // STIX ids back to back
  std::vector<uint32_t> id_end;  // end offset of each id in `ids`
  std::vector<AddressRole> roles;
  std::unique_ptr<pattern::PatternSet> engine;
  std::vector<uint32_t> engine_indicators;
  absl::flat_hash_set<std::string> engine_types;
  // Patterns that need several observations (stream.h): their own set, run over a window.
  std::unique_ptr<pattern::PatternSet> stream;
  std::vector<uint32_t> stream_indicators;
  absl::flat_hash_set<std::string> stream_types;
  double stream_within = 0;  // the largest WITHIN of a stream pattern, 0 when none has one
  Uuid list_namespace;
  simdjson::dom::parser parser;

  void Error(std::string_view source, size_t line, std::string_view message) {
    ++stats.invalid;
    if (stats.errors.size() < options.max_errors_kept) {
      stats.errors.push_back(StrCat(source, ":", line, ": ", message));
    }
  }

  uint32_t NewIndicator(std::string_view id, AddressRole role) {
    ids.insert(ids.end(), id.begin(), id.end());
    id_end.push_back(static_cast<uint32_t>(ids.size()));
    roles.push_back(role);
    return static_cast<uint32_t>(id_end.size() - 1);
  }

  // AND and FOLLOWEDBY between observation expressions, and REPEATS more than once, bind
  // distinct observations (STIX 2.1 section 9.5): over a log, distinct events.
  static bool NeedsSeveralObservations(const pattern::ObservationExpression& e) {
    using K = pattern::ObservationExpression::Kind;
    if (e.kind == K::kAnd || e.kind == K::kFollowedBy) return true;
    for (const pattern::Qualifier& q : e.qualifiers) {
      if (q.kind == pattern::Qualifier::Kind::kRepeats && q.times > 1) return true;
    }
    for (const pattern::ObservationExpression& o : e.operands) {
      if (NeedsSeveralObservations(o)) return true;
    }
    return false;
  }
  static double LargestWithin(const pattern::ObservationExpression& e) {
    double w = 0;
    for (const pattern::Qualifier& q : e.qualifiers) {
      if (q.kind == pattern::Qualifier::Kind::kWithin) w = std::max(w, q.seconds);
    }
    for (const pattern::ObservationExpression& o : e.operands) w = std::max(w, LargestWithin(o));
    return w;
  }

  void AddStreamPattern(const pattern::Pattern& parsed, std::string_view id,
                        std::string_view source, size_t line) {
    if (!stream) stream = std::make_unique<pattern::PatternSet>();
    Result<size_t> number = stream->Add(parsed);
    if (!number.ok()) {
      Error(source, line, StrCat(id, ": pattern ", ToStd(number.status().message())));
      return;
    }
    const uint32_t ind = NewIndicator(id, AddressRole::kAny);
    stream_indicators.push_back(ind);
    ++stats.engine;
    ++stats.stream;
    stream_within = std::max(stream_within, LargestWithin(parsed.root));
    bool reachable = false;
    for (const pattern::ObservationExpression* o : pattern::Observations(parsed)) {
      pattern::ForEachComparison(o->comparison, [&](const pattern::Comparison& c) {
        stream_types.insert(c.path.object_type);
        if (ReaderProduces(c.path.object_type)) reachable = true;
      });
    }
    if (!reachable) ++stats.unreachable;
  }

  void AddPattern(std::string_view id, std::string_view text, std::string_view source,
                  size_t line) {
    Result<pattern::Pattern> parsed = pattern::Parse(text);
    if (!parsed.ok()) {
      Error(source, line, StrCat(id, ": pattern ", ToStd(parsed.status().message())));
      return;
    }
    const std::vector<pattern::Finding> findings =
        pattern::Check(*parsed, pattern::CheckOptions{.warnings = false});
    if (pattern::HasErrors(findings)) {
      Error(source, line,
            StrCat(id, ": pattern offset ", findings[0].offset, ": ", findings[0].message));
      return;
    }
    std::vector<Leaf> leaves;
    bool exact = CollectExact(parsed->root, leaves);
    AddressRole role = AddressRole::kAny;
    bool has_address = false;
    for (const Leaf& leaf : leaves) {
      AddressRole r;
      if (leaf.field == Field::kSrcAddress) {
        r = AddressRole::kSrc;
      } else if (leaf.field == Field::kDstAddress) {
        r = AddressRole::kDst;
      } else if (leaf.field == Field::kAddress) {
        r = AddressRole::kAny;
      } else {
        continue;
      }
      if (has_address && r != role) exact = false;  // mixed roles: the engine sorts them out
      role = r;
      has_address = true;
    }
    if (exact) {
      const uint32_t ind = NewIndicator(id, role);
      ++stats.exact;
      for (const Leaf& leaf : leaves) {
        Status s =
            index.Add(InfoOf(leaf.field).kind, leaf.value, ind, static_cast<uint16_t>(leaf.field));
        if (!s.ok()) {
          // The other values of the OR still stand; this one can never match.
          if (stats.errors.size() < options.max_errors_kept) {
            stats.errors.push_back(StrCat(source, ":", line, ": ", id, ": ", ToStd(s.message())));
          }
        }
      }
      return;
    }
    if (NeedsSeveralObservations(parsed->root)) {
      AddStreamPattern(*parsed, id, source, line);
      return;
    }
    if (!engine) engine = std::make_unique<pattern::PatternSet>();
    Result<size_t> number = engine->Add(*parsed);
    if (!number.ok()) {
      Error(source, line, StrCat(id, ": pattern ", ToStd(number.status().message())));
      return;
    }
    const uint32_t ind = NewIndicator(id, AddressRole::kAny);
    engine_indicators.push_back(ind);
    ++stats.engine;
    bool reachable = false;
    for (const pattern::ObservationExpression* o : pattern::Observations(*parsed)) {
      pattern::ForEachComparison(o->comparison, [&](const pattern::Comparison& c) {
        engine_types.insert(c.path.object_type);
        if (ReaderProduces(c.path.object_type)) reachable = true;
      });
    }
    if (!reachable) ++stats.unreachable;
  }
};

IndicatorSet::IndicatorSet(const CompileOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->index = IndicatorIndex(options.index);
  impl_->list_namespace = *Uuid::Parse(kListNamespace);
}
IndicatorSet::IndicatorSet(IndicatorSet&&) noexcept = default;
IndicatorSet& IndicatorSet::operator=(IndicatorSet&&) noexcept = default;
IndicatorSet::~IndicatorSet() = default;

Status IndicatorSet::AddStix(std::string_view text, std::string_view source) {
  Result<stix::SplitResult> split = stix::SplitObjects(text);
  if (!split.ok()) {
    return absl::InvalidArgumentError(StrCat(source, ": ", ToStd(split.status().message())));
  }
  for (const stix::ObjectText& o : split->objects) AddStixObject(o.json, source, o.line);
  return absl::OkStatus();
}

void IndicatorSet::AddStixObject(std::string_view json, std::string_view source, size_t line) {
  Impl& m = *impl_;
  ++m.stats.objects;
  simdjson::dom::element doc;
  if (m.parser.parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS) {
    m.Error(source, line, "malformed JSON object");
    return;
  }
  std::string_view type;
  if (doc["type"].get_string().get(type) != simdjson::SUCCESS || type != "indicator") return;
  ++m.stats.indicators;
  std::string_view id;
  std::string_view text;
  if (doc["id"].get_string().get(id) != simdjson::SUCCESS ||
      doc["pattern"].get_string().get(text) != simdjson::SUCCESS) {
    m.Error(source, line, "indicator without a string id and pattern");
    return;
  }
  bool revoked = false;
  if (doc["revoked"].get_bool().get(revoked) == simdjson::SUCCESS && revoked) {
    ++m.stats.revoked;
    return;
  }
  // STIX 2.0 indicators have no pattern_type: their patterns are STIX patterns.
  std::string_view pattern_type = "stix";
  if (doc["pattern_type"].get_string().get(pattern_type) != simdjson::SUCCESS) {
    pattern_type = "stix";
  }
  if (pattern_type != "stix") {
    ++m.stats.not_stix;
    return;
  }
  std::string_view valid_from;
  if (doc["valid_from"].get_string().get(valid_from) == simdjson::SUCCESS) {
    Result<Timestamp> t = Timestamp::Parse(valid_from);
    if (!t.ok()) {
      m.Error(source, line, StrCat(id, ": valid_from: ", ToStd(t.status().message())));
      return;
    }
    if (m.options.now < *t) {
      ++m.stats.inactive;
      return;
    }
  }
  std::string_view valid_until;
  if (doc["valid_until"].get_string().get(valid_until) == simdjson::SUCCESS) {
    Result<Timestamp> t = Timestamp::Parse(valid_until);
    if (!t.ok()) {
      m.Error(source, line, StrCat(id, ": valid_until: ", ToStd(t.status().message())));
      return;
    }
    if (!(m.options.now < *t)) {
      ++m.stats.inactive;
      return;
    }
  }
  const std::string id_copy(id);
  const std::string text_copy(text);  // `doc` views die with the next parse
  m.AddPattern(id_copy, text_copy, source, line);
}

namespace {

// One parsed line of a plain list.
struct ListEntry {
  ValueKind kind = ValueKind::kOther;
  uint16_t field = 0;
  std::string_view value;
  size_t line_number = 0;
};

// Parses `line` into `entry`; false for blank lines, comments and unknown types (those with
// `error` set).
bool ParseListLine(std::string_view line, size_t line_number, ListEntry& entry,
                   std::string& error) {
  line = Trim(line);
  if (line.empty() || line.front() == '#') return false;
  std::string_view type;
  std::string_view value = line;
  const size_t space = line.find_first_of(" \t");
  if (space != std::string_view::npos) {
    type = line.substr(0, space);
    value = Trim(line.substr(space + 1));
  }
  entry.value = value;
  entry.field = 0;
  entry.line_number = line_number;
  if (type.empty()) {
    entry.kind = InferKind(value);
    return true;
  }
  for (const ListType& t : kListTypes) {
    if (t.name == type) {
      entry.kind = t.kind;
      return true;
    }
  }
  const std::optional<Field> f = FieldForPath(type);
  if (!f) {
    error = StrCat("unknown indicator type '", type.substr(0, 64), "'");
    return false;
  }
  entry.kind = InfoOf(*f).kind;
  entry.field = static_cast<uint16_t>(*f);
  return true;
}

}  // namespace

void IndicatorSet::AddListLine(std::string_view line, std::string_view source, size_t line_number) {
  Impl& m = *impl_;
  ListEntry e;
  std::string error;
  if (!ParseListLine(line, line_number, e, error)) {
    if (!error.empty()) m.Error(source, line_number, error);
    return;
  }
  ++m.stats.list_values;
  Status s = m.index.Add(e.kind, e.value, kListIndicator, e.field);
  if (!s.ok()) m.Error(source, line_number, ToStd(s.message()));
}

void IndicatorSet::AddList(std::string_view text, std::string_view source) {
  Impl& m = *impl_;
  // The index appends each value to its table's arena and places them all in Finish()
  // (IndicatorIndex::Finish): no per-line hash-table miss.
  ListEntry e;
  std::string error;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    ++line_number;
    if (ParseListLine(text.substr(0, nl), line_number, e, error)) {
      ++m.stats.list_values;
      Status s = m.index.Add(e.kind, e.value, kListIndicator, e.field);
      if (!s.ok()) m.Error(source, line_number, ToStd(s.message()));
    } else if (!error.empty()) {
      m.Error(source, line_number, error);
      error.clear();
    }
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
}

void IndicatorSet::Finish() { impl_->index.Finish(); }

const IndicatorIndex& IndicatorSet::index() const { return impl_->index; }
IndicatorIndex& IndicatorSet::mutable_index() { return impl_->index; }
const CompileStats& IndicatorSet::stats() const { return impl_->stats; }
const Timestamp& IndicatorSet::now() const { return impl_->options.now; }
const CompileOptions& IndicatorSet::options() const { return impl_->options; }
size_t IndicatorSet::indicator_count() const { return impl_->id_end.size(); }

std::string_view IndicatorSet::indicator_id(uint32_t indicator) const {
  const uint32_t begin = indicator == 0 ? 0 : impl_->id_end[indicator - 1];
  return {impl_->ids.data() + begin, impl_->id_end[indicator] - begin};
}

AddressRole IndicatorSet::role(uint32_t indicator) const {
  return indicator == kListIndicator ? AddressRole::kAny : impl_->roles[indicator];
}

std::string IndicatorSet::IdOf(const IndexHit& hit) const {
  if (hit.indicator != kListIndicator) return std::string(indicator_id(hit.indicator));
  ValueKind kind = hit.kind == ValueKind::kIpv6 ? ValueKind::kIpv4 : hit.kind;
  const std::string name = StrCat(ValueKindName(kind), ":", impl_->index.EntryText(hit));
  return StrCat("indicator--", Uuid::V5(impl_->list_namespace, name).ToString());
}

const pattern::PatternSet* IndicatorSet::engine() const { return impl_->engine.get(); }
uint32_t IndicatorSet::engine_indicator(size_t pattern_number) const {
  return impl_->engine_indicators[pattern_number];
}
const pattern::PatternSet* IndicatorSet::stream_engine() const { return impl_->stream.get(); }
uint32_t IndicatorSet::stream_indicator(size_t pattern_number) const {
  return impl_->stream_indicators[pattern_number];
}
bool IndicatorSet::StreamWants(std::string_view sco_type) const {
  return impl_->stream_types.contains(ToAbsl(sco_type));
}
double IndicatorSet::stream_within_seconds() const { return impl_->stream_within; }

bool IndicatorSet::EngineWants(std::string_view sco_type) const {
  return impl_->engine_types.contains(ToAbsl(sco_type));
}

}  // namespace liaison::match
