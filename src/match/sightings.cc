#include "match/sightings.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "core/uuid.h"
#include "match/fields.h"
#include "match/matcher.h"
#include "stix/ids.h"

namespace liaison::match {
namespace {

// Namespace of sighting ids (a fixed v4 UUID chosen for liaison).
constexpr std::string_view kSightingNamespace = "2d6c8a0e-5b7f-4c1d-8e3a-9f4b6d2c1a05";

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The SCO (STIX 2.1 section 6) of a stored value, without its id; empty for kinds that have no
// one-property observable here (ports, protocols and other literals).
std::string ScoJson(ValueKind kind, std::string_view value) {
  std::string type;
  std::string_view hash_name;
  switch (kind) {
    case ValueKind::kIpv4:
      type = "ipv4-addr";
      break;
    case ValueKind::kIpv6:
      type = "ipv6-addr";
      break;
    case ValueKind::kDomain:
      type = "domain-name";
      break;
    case ValueKind::kUrl:
      type = "url";
      break;
    case ValueKind::kEmail:
      type = "email-addr";
      break;
    case ValueKind::kMd5:
      hash_name = "MD5";
      break;
    case ValueKind::kSha1:
      hash_name = "SHA-1";
      break;
    case ValueKind::kSha256:
      hash_name = "SHA-256";
      break;
    case ValueKind::kSha512:
      hash_name = "SHA-512";
      break;
    default:
      return "";
  }
  std::string json;
  if (!hash_name.empty()) {
    json = StrCat(R"({"type":"file","spec_version":"2.1","hashes":{")", hash_name, "\":");
    AppendJsonString(json, value);
    json += "}}";
    return json;
  }
  json = StrCat(R"({"type":")", type, R"(","spec_version":"2.1","value":)");
  AppendJsonString(json, value);
  json.push_back('}');
  return json;
}

}  // namespace

SightingAggregator::SightingAggregator(const IndicatorSet& set, const SightingOptions& options,
                                       std::function<void(std::string_view)> sink)
    : set_(&set), options_(options), sink_(std::move(sink)) {
  if (options_.window_seconds <= 0) options_.window_seconds = 3600;
}

std::string_view ObservedValueOf(const IndicatorSet& set, const Event& event, const IndexHit& hit) {
  if (hit.kind == ValueKind::kOther) return {};
  const auto is_address = [](ValueKind k) {
    return k == ValueKind::kIpv4 || k == ValueKind::kIpv6;
  };
  std::vector<IndexHit> found;
  for (size_t i = 0; i < event.count; ++i) {
    const FieldValue& f = event.fields[i];
    const ValueKind kind = InfoOf(f.field).kind;
    // An address field is looked up as IPv4 or IPv6 by its text, whatever kind it names.
    if (kind != hit.kind && !(is_address(kind) && is_address(hit.kind))) continue;
    found.clear();
    set.index().Lookup(kind, f.value, found, static_cast<uint16_t>(f.field));
    for (const IndexHit& h : found) {
      if (h.indicator == hit.indicator && h.kind == hit.kind && h.entry == hit.entry) {
        return f.value;
      }
    }
  }
  return {};
}

namespace {

// The observed value as the SCO carries it: names and hashes in lower case (DNS names and hex
// digits are case-insensitive, and one spelling gives one deterministic SCO id), a domain
// without the root's trailing dot.
std::string NormalizedObserved(ValueKind kind, std::string_view value) {
  std::string out(value);
  switch (kind) {
    case ValueKind::kDomain:
      if (!out.empty() && out.back() == '.') out.pop_back();
      [[fallthrough]];
    case ValueKind::kMd5:
    case ValueKind::kSha1:
    case ValueKind::kSha256:
    case ValueKind::kSha512:
      for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      break;
    default:
      break;
  }
  return out;
}

void Remember(std::vector<std::string>& observed, std::string value) {
  if (value.empty() || observed.size() >= kMaxObservedValues) return;
  if (std::find(observed.begin(), observed.end(), value) != observed.end()) return;
  observed.push_back(std::move(value));
}

}  // namespace

void SightingAggregator::Add(const IndexHit& hit, const Timestamp& time,
                             std::string_view observed) {
  const bool list = hit.indicator == kListIndicator;
  const Key key{hit.indicator, list ? static_cast<uint8_t>(hit.kind) : uint8_t{0},
                list ? hit.entry : 0u, FloorDiv(time.unix_seconds(), options_.window_seconds)};
  auto [it, inserted] = groups_.try_emplace(key);
  Group& g = it->second;
  if (inserted) {
    g.first = time;
    g.last = time;
    g.value = hit;
  } else {
    g.first = std::min(g.first, time);
    g.last = std::max(g.last, time);
  }
  ++g.count;
  if (options_.observed_data && !observed.empty() && g.observed.size() < kMaxObservedValues) {
    Remember(g.observed, NormalizedObserved(hit.kind, observed));
  }
  if (groups_.size() >= options_.max_groups) Flush();
}

void SightingAggregator::Merge(const SightingAggregator& other) {
  for (const auto& [key, group] : other.groups_) {
    auto [it, inserted] = groups_.try_emplace(key, group);
    if (!inserted) {
      it->second.count += group.count;
      it->second.first = std::min(it->second.first, group.first);
      it->second.last = std::max(it->second.last, group.last);
      for (const std::string& v : group.observed) Remember(it->second.observed, v);
    }
  }
  if (groups_.size() >= options_.max_groups) Flush();
}

void SightingAggregator::Flush() {
  struct Out {
    std::string indicator_id;
    int64_t window;
    const Group* group;
  };
  std::vector<Out> out;
  out.reserve(groups_.size());
  for (const auto& [key, group] : groups_) {
    const IndexHit hit{key.indicator, static_cast<ValueKind>(key.kind), key.entry};
    out.push_back({set_->IdOf(hit), key.window, &group});
  }
  std::sort(out.begin(), out.end(), [](const Out& a, const Out& b) {
    return std::tie(a.indicator_id, a.window) < std::tie(b.indicator_id, b.window);
  });
  static const Uuid ns = *Uuid::Parse(kSightingNamespace);
  const std::string now = options_.now.ToString();
  absl::flat_hash_set<std::string> scos_written;  // one SCO per value and flush
  for (const Out& o : out) {
    const std::string id = Uuid::V5(ns, StrCat(o.indicator_id, "|", o.window, "|",
                                               options_.identity_id, "|", flushes_))
                               .ToString();
    // STIX 2.1 section 5.7: count is an integer in 0..999,999,999.
    const int64_t count = std::min<int64_t>(o.group->count, 999'999'999);
    std::string observed_id;
    if (options_.observed_data && count > 0) {
      // The events' values when the caller gave them, else the value the index holds.
      std::vector<std::string> values = o.group->observed;
      if (values.empty()) values.push_back(set_->index().EntryText(o.group->value));
      std::string refs;
      for (const std::string& value : values) {
        std::string sco = ScoJson(o.group->value.kind, value);
        Result<std::optional<std::string>> sco_id =
            sco.empty() ? Result<std::optional<std::string>>(std::nullopt)
                        : stix::DeterministicScoId(sco);
        if (!sco_id.ok() || !sco_id->has_value()) continue;
        if (scos_written.insert(**sco_id).second) {
          // The id goes right after "type": rebuild the object with it.
          const size_t comma = sco.find(',');
          sink_(StrCat(sco.substr(0, comma), R"(,"id":")", **sco_id, "\"", sco.substr(comma)));
        }
        StrAppend(&refs, refs.empty() ? "\"" : ",\"", **sco_id, "\"");
      }
      if (!refs.empty()) {
        // Deterministic like the sighting's, so a re-run writes the same objects.
        observed_id =
            StrCat("observed-data--", Uuid::V5(ns, StrCat("observed-data|", id)).ToString());
        // Section 4.14: number_observed 1..999,999,999 (the hits, over all values named),
        // object_refs the SCOs observed.
        sink_(StrCat(R"({"type":"observed-data","spec_version":"2.1","id":")", observed_id,
                     R"(","created":")", now, R"(","modified":")", now, R"(","first_observed":")",
                     o.group->first.ToString(), R"(","last_observed":")", o.group->last.ToString(),
                     R"(","number_observed":)", count, R"(,"object_refs":[)", refs, "]}"));
      }
    }
    std::string json =
        StrCat(R"({"type":"sighting","spec_version":"2.1","id":"sighting--)", id,
               R"(","created":")", now, R"(","modified":")", now, R"(","first_seen":")",
               o.group->first.ToString(), R"(","last_seen":")", o.group->last.ToString(),
               R"(","count":)", count, R"(,"sighting_of_ref":")", o.indicator_id, "\"");
    if (!options_.identity_id.empty()) {
      StrAppend(&json, R"(,"where_sighted_refs":[")", options_.identity_id, "\"]");
    }
    if (!observed_id.empty()) StrAppend(&json, R"(,"observed_data_refs":[")", observed_id, "\"]");
    json.push_back('}');
    sink_(json);
    ++written_;
  }
  groups_.clear();
  ++flushes_;
}

void SightingAggregator::Rebind(const IndicatorSet& set) {
  Flush();
  set_ = &set;
}

}  // namespace liaison::match
