#include "match/sightings.h"

#include <algorithm>
#include <vector>

#include "core/strings.h"
#include "core/uuid.h"

namespace liaison::match {
namespace {

// Namespace of sighting ids (a fixed v4 UUID chosen for liaison).
constexpr std::string_view kSightingNamespace = "2d6c8a0e-5b7f-4c1d-8e3a-9f4b6d2c1a05";

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

SightingAggregator::SightingAggregator(const IndicatorSet& set, const SightingOptions& options,
                                       std::function<void(std::string_view)> sink)
    : set_(&set), options_(options), sink_(std::move(sink)) {
  if (options_.window_seconds <= 0) options_.window_seconds = 3600;
}

void SightingAggregator::Add(const IndexHit& hit, const Timestamp& time) {
  const bool list = hit.indicator == kListIndicator;
  const Key key{hit.indicator, list ? static_cast<uint8_t>(hit.kind) : uint8_t{0},
                list ? hit.entry : 0u, FloorDiv(time.unix_seconds(), options_.window_seconds)};
  auto [it, inserted] = groups_.try_emplace(key);
  Group& g = it->second;
  if (inserted) {
    g.first = time;
    g.last = time;
  } else {
    g.first = std::min(g.first, time);
    g.last = std::max(g.last, time);
  }
  ++g.count;
  if (groups_.size() >= options_.max_groups) Flush();
}

void SightingAggregator::Merge(const SightingAggregator& other) {
  for (const auto& [key, group] : other.groups_) {
    auto [it, inserted] = groups_.try_emplace(key, group);
    if (!inserted) {
      it->second.count += group.count;
      it->second.first = std::min(it->second.first, group.first);
      it->second.last = std::max(it->second.last, group.last);
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
  for (const Out& o : out) {
    const std::string id = Uuid::V5(ns, StrCat(o.indicator_id, "|", o.window, "|",
                                               options_.identity_id, "|", flushes_))
                               .ToString();
    // STIX 2.1 section 5.7: count is an integer in 0..999,999,999.
    const int64_t count = std::min<int64_t>(o.group->count, 999'999'999);
    std::string json =
        StrCat(R"({"type":"sighting","spec_version":"2.1","id":"sighting--)", id,
               R"(","created":")", now, R"(","modified":")", now, R"(","first_seen":")",
               o.group->first.ToString(), R"(","last_seen":")", o.group->last.ToString(),
               R"(","count":)", count, R"(,"sighting_of_ref":")", o.indicator_id, "\"");
    if (!options_.identity_id.empty()) {
      StrAppend(&json, R"(,"where_sighted_refs":[")", options_.identity_id, "\"]");
    }
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
