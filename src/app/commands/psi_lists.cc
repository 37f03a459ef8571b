#include "app/commands/psi_lists.h"

#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "pattern/ast.h"
#include "pattern/parse.h"

namespace liaison::app {
namespace {

// "<object-type>:<key>[.<key>...]"; keys may be quoted ('SHA-256').
struct PropertyPath {
  std::string object_type;
  std::vector<std::string> keys;
  bool any_last_key = false;  // file:hashes.* — any hash algorithm
};

Result<PropertyPath> ParseProperty(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return absl::InvalidArgumentError(StrCat("property \"", text,
                                             "\": expected <object-type>:<property>, e.g. "
                                             "user-account:user_id"));
  }
  PropertyPath p;
  p.object_type = std::string(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    std::string key;
    if (rest.front() == '\'') {
      const size_t close = rest.find('\'', 1);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(StrCat("property \"", text, "\": unclosed quote"));
      }
      key = std::string(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
    } else {
      const size_t dot = rest.find('.');
      key = std::string(rest.substr(0, dot));
      rest.remove_prefix(dot == std::string_view::npos ? rest.size() : dot);
    }
    if (key.empty())
      return absl::InvalidArgumentError(StrCat("property \"", text, "\": empty key"));
    p.keys.push_back(std::move(key));
    if (!rest.empty()) {
      if (rest.front() != '.') {
        return absl::InvalidArgumentError(StrCat("property \"", text, "\": expected '.'"));
      }
      rest.remove_prefix(1);
    }
  }
  return p;
}

Result<std::vector<PropertyPath>> PathsFor(psi::ItemKind kind, const std::string& property) {
  if (!property.empty()) {
    LIAISON_ASSIGN_OR_RETURN(PropertyPath p, ParseProperty(property));
    return std::vector<PropertyPath>{std::move(p)};
  }
  switch (kind) {
    case psi::ItemKind::kEmail:
      return std::vector<PropertyPath>{{"email-addr", {"value"}, false}};
    case psi::ItemKind::kDomain:
      return std::vector<PropertyPath>{{"domain-name", {"value"}, false}};
    case psi::ItemKind::kIp:
      return std::vector<PropertyPath>{{"ipv4-addr", {"value"}, false},
                                       {"ipv6-addr", {"value"}, false}};
    case psi::ItemKind::kHash:
      return std::vector<PropertyPath>{{"file", {"hashes"}, true},
                                       {"artifact", {"hashes"}, true},
                                       {"x509-certificate", {"hashes"}, true}};
    default:
      return absl::InvalidArgumentError(
          StrCat("STIX has no standard property for kind ", psi::ItemKindName(kind),
                 ": name one with property = \"<object-type>:<property>\""));
  }
}

bool PathMatches(const pattern::ObjectPath& path, const PropertyPath& want) {
  if (path.object_type != want.object_type) return false;
  const size_t n = want.keys.size() + (want.any_last_key ? 1 : 0);
  if (path.steps.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (path.steps[i].kind != pattern::PathStep::Kind::kKey) return false;
    if (i < want.keys.size() && path.steps[i].key != want.keys[i]) return false;
  }
  return true;
}

// An address comparison may carry a prefix; only a single-host prefix names one item.
std::string_view SingleHost(std::string_view value) {
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) return value;
  const std::string_view prefix = value.substr(slash + 1);
  const bool v6 = value.find(':') != std::string_view::npos;
  if (prefix == (v6 ? "128" : "32")) return value.substr(0, slash);
  return {};
}

bool Active(const json::Value& indicator, const Timestamp& now) {
  const json::Value* revoked = indicator.Find("revoked");
  if (revoked != nullptr && revoked->is_bool() && revoked->as_bool()) return false;
  const json::Value* type = indicator.Find("pattern_type");
  if (type == nullptr || !type->is_string() || type->as_string() != "stix") return false;
  if (const json::Value* from = indicator.Find("valid_from");
      from != nullptr && from->is_string()) {
    auto t = Timestamp::Parse(from->as_string());
    if (!t.ok() || now < *t) return false;
  }
  if (const json::Value* until = indicator.Find("valid_until");
      until != nullptr && until->is_string()) {
    auto t = Timestamp::Parse(until->as_string());
    if (!t.ok() || !(now < *t)) return false;
  }
  return true;
}

}  // namespace

Result<psi::WatchList> WatchListFromIndicators(store::Store& store, std::string_view collection,
                                               psi::ItemKind kind,
                                               const IndicatorListOptions& options,
                                               IndicatorListStats* stats) {
  LIAISON_ASSIGN_OR_RETURN(std::vector<PropertyPath> paths, PathsFor(kind, options.property));
  IndicatorListStats local;
  IndicatorListStats& s = stats != nullptr ? *stats : local;
  psi::WatchList list;
  list.kind = kind;
  std::unordered_set<std::string> seen;
  Status overflow;
  auto take = [&](std::string_view value) {
    ++s.values;
    if (kind == psi::ItemKind::kIp) value = SingleHost(value);
    auto item = psi::Normalize(kind, value, options.normalize);
    if (!item.ok()) {
      ++s.invalid;
      return;
    }
    if (!seen.insert(*item).second) return;
    if (list.items.size() >= options.max_items) {
      overflow = absl::ResourceExhaustedError(
          StrCat("collection ", collection, " names more than ", options.max_items, " items"));
      return;
    }
    list.items.push_back(std::move(*item));
  };

  store::Filter filter;  // the latest version of each indicator (match[version]=last)
  filter.types = {"indicator"};
  do {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store.Query(collection, filter));
    for (const store::ObjectRecord& record : page.records) {
      ++s.indicators;
      auto object = json::Parse(record.json);
      if (!object.ok() || !object->is_object() || !Active(*object, options.now)) {
        ++s.inactive;
        continue;
      }
      const json::Value* text = object->Find("pattern");
      auto parsed = text != nullptr && text->is_string()
                        ? pattern::Parse(text->as_string())
                        : Result<pattern::Pattern>(absl::InvalidArgumentError("no pattern"));
      if (!parsed.ok()) {
        ++s.unusable;
        continue;
      }
      for (const pattern::ObservationExpression* observation : pattern::Observations(*parsed)) {
        pattern::ForEachComparison(observation->comparison, [&](const pattern::Comparison& c) {
          if (c.negated) return;
          if (c.op != pattern::ComparisonOperator::kEqual &&
              c.op != pattern::ComparisonOperator::kIn) {
            return;
          }
          bool wanted = false;
          for (const PropertyPath& p : paths) wanted = wanted || PathMatches(c.path, p);
          if (!wanted) return;
          for (const pattern::Constant& constant : c.constants) {
            if (constant.kind == pattern::Constant::Kind::kString) take(constant.text);
            if (constant.kind == pattern::Constant::Kind::kHex) take(constant.text);
          }
        });
      }
      if (!overflow.ok()) return overflow;
    }
    if (!page.more) break;
    filter.next = page.next;
  } while (true);
  return list;
}

}  // namespace liaison::app
