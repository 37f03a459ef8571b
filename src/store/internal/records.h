#pragma once

// What the SQLite and PostgreSQL backends share about stored records: media types, the
// effective spec_version, the checks every Add applies, the text forms of timestamps and status
// resources, the row shape of the objects table, the version flags (first, last, latest spec)
// and how a version filter is planned. One definition, so that both backends
// store and read exactly the same forms (the store conformance suite runs against both).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/absl_compat.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "stix/object.h"
#include "store/filter.h"
#include "store/store.h"

namespace liaison::store::internal {

constexpr size_t kMaxIdChars = 512;  // the cursor refuses longer ids

inline std::string MediaTypeFor(std::string_view spec_version) {
  // Runs for every record of every page: the usual value is copied rather than formatted.
  static const std::string k21 = "application/stix+json;version=2.1";
  if (spec_version == "2.1") return k21;
  return absl::StrCat("application/stix+json;version=", ToAbsl(spec_version));
}

// STIX 2.1 SCOs may omit spec_version and are 2.1 (2.0 had no top-level SCOs); SDOs and SROs
// without it are STIX 2.0 content, which had no spec_version property on objects.
inline std::string EffectiveSpecVersion(const stix::Object& object) {
  if (!object.spec_version.empty()) return object.spec_version;
  return stix::CategoryOfType(object.type) == stix::ObjectCategory::kSco ? "2.1" : "2.0";
}

inline Status CheckObject(const stix::Object& object, size_t index) {
  auto bad = [index](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("objects/", index, ": ", ToAbsl(why)));
  };
  if (object.type.empty()) return bad("missing type");
  if (object.id.empty()) return bad("missing id");
  if (object.id.size() > kMaxIdChars) return bad("id longer than 512 characters");
  if (object.id.size() <= object.type.size() + 2 ||
      object.id.compare(0, object.type.size(), object.type) != 0 ||
      object.id.compare(object.type.size(), 2, "--") != 0) {
    return bad("id does not start with the object's type followed by \"--\"");
  }
  if (object.json.empty()) return bad("missing JSON text");
  return absl::OkStatus();
}

// The version a status resource reports: the object's own text precision, or date_added for
// objects without modified/created.
inline std::string StatusVersion(const stix::Object& object, Timestamp date_added) {
  if (auto v = object.version()) return v->ToString(v->precision());
  return date_added.ToString(6);
}

// The counts and state of a status resource, from its lists.
inline void FinishStatus(StatusResource& s) {
  s.success_count = static_cast<int64_t>(s.successes.size());
  s.failure_count = static_cast<int64_t>(s.failures.size());
  s.pending_count = static_cast<int64_t>(s.pendings.size());
  s.total_count = s.success_count + s.failure_count + s.pending_count;
  s.status = s.pending_count > 0 ? "pending" : "complete";
}

// The status resource an Add stores: the caller's (AddOptions::status) with one success per
// object, in order, "added" or "duplicate".
inline StatusResource AddStatus(const StatusResource& base, std::span<const stix::Object> objects,
                                const std::vector<AddOutcome>& outcomes) {
  StatusResource status = base;
  for (size_t i = 0; i < objects.size(); ++i) {
    const AddOutcome& o = outcomes[i];
    status.successes.push_back({objects[i].id, StatusVersion(objects[i], o.date_added),
                                o.kind == AddOutcome::Kind::kAdded ? "added" : "duplicate"});
  }
  FinishStatus(status);
  return status;
}

inline std::string TimestampText(Timestamp t) { return t.ToString(9); }

inline Result<Timestamp> ParseStoredTimestamp(std::string_view text) {
  auto t = Timestamp::Parse(text);
  if (!t.ok()) {
    return absl::DataLossError(absl::StrCat("store: bad stored timestamp \"", ToAbsl(text), "\""));
  }
  return *t;
}

inline std::string JoinLines(const std::vector<std::string>& items) {
  return absl::StrJoin(items, "\n");
}

inline std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(ToAbsl(text), '\n')) out.emplace_back(part);
  return out;
}

// --- Status resources as JSON text ------------------------------------------------------------

inline json::Value DetailsToJson(const std::vector<StatusDetail>& details) {
  json::Array array;
  array.reserve(details.size());
  for (const StatusDetail& d : details) {
    json::Object o;
    o.emplace_back("id", d.id);
    o.emplace_back("version", d.version);
    o.emplace_back("message", d.message);
    array.emplace_back(std::move(o));
  }
  return json::Value(std::move(array));
}

inline void AppendDetailsJson(const std::vector<StatusDetail>& details, std::string& out) {
  out += '[';
  for (size_t i = 0; i < details.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"id":)";
    json::AppendQuoted(details[i].id, out);
    out += R"(,"version":)";
    json::AppendQuoted(details[i].version, out);
    out += R"(,"message":)";
    json::AppendQuoted(details[i].message, out);
    out += '}';
  }
  out += ']';
}

// The same bytes as json::Serialize of {status, counts, successes, failures, pendings} with
// DetailsToJson lists, written directly: a POST of 100 objects stores one of these, and
// building the tree first cost ~3 % of the POST.
inline std::string StatusBody(const StatusResource& s) {
  std::string out;
  out.reserve(160 + 128 * (s.successes.size() + s.failures.size() + s.pendings.size()));
  out += R"({"status":)";
  json::AppendQuoted(s.status, out);
  absl::StrAppend(&out, R"(,"total_count":)", s.total_count, R"(,"success_count":)",
                  s.success_count, R"(,"failure_count":)", s.failure_count, R"(,"pending_count":)",
                  s.pending_count, R"(,"successes":)");
  AppendDetailsJson(s.successes, out);
  out += R"(,"failures":)";
  AppendDetailsJson(s.failures, out);
  out += R"(,"pendings":)";
  AppendDetailsJson(s.pendings, out);
  out += '}';
  return out;
}

inline Status BadStatusBody(std::string_view id) {
  return absl::DataLossError(
      absl::StrCat("store: status ", ToAbsl(id), " is stored in an unknown form"));
}

inline Status ParseStatusBody(std::string_view body, StatusResource& s) {
  auto parsed = json::Parse(body);
  if (!parsed.ok() || !parsed->is_object()) return BadStatusBody(s.id);
  const json::Value& v = *parsed;
  auto get_string = [&](std::string_view key, std::string& out) {
    const json::Value* f = v.Find(key);
    if (f == nullptr || !f->is_string()) return false;
    out = f->as_string();
    return true;
  };
  auto get_int = [&](std::string_view key, int64_t& out) {
    const json::Value* f = v.Find(key);
    if (f == nullptr || !f->is_int()) return false;
    out = f->as_int();
    return true;
  };
  auto get_details = [&](std::string_view key, std::vector<StatusDetail>& out) {
    const json::Value* f = v.Find(key);
    if (f == nullptr || !f->is_array()) return false;
    for (const json::Value& item : f->as_array()) {
      const json::Value* id = item.Find("id");
      const json::Value* version = item.Find("version");
      const json::Value* message = item.Find("message");
      if (id == nullptr || version == nullptr || message == nullptr || !id->is_string() ||
          !version->is_string() || !message->is_string()) {
        return false;
      }
      out.push_back({id->as_string(), version->as_string(), message->as_string()});
    }
    return true;
  };
  const bool ok =
      get_string("status", s.status) && get_int("total_count", s.total_count) &&
      get_int("success_count", s.success_count) && get_int("failure_count", s.failure_count) &&
      get_int("pending_count", s.pending_count) && get_details("successes", s.successes) &&
      get_details("failures", s.failures) && get_details("pendings", s.pendings);
  return ok ? absl::OkStatus() : BadStatusBody(s.id);
}

// --- Rows and version flags -------------------------------------------------------------------

// One stored version, without its JSON.
struct Row {
  int64_t date_added = 0;
  std::string id;
  std::string version;  // VersionKey
  std::string spec_version;
  std::string type;
  bool is_first = false;
  bool is_last = false;
  bool spec_latest = false;
};

constexpr const char* kRowColumns =
    "date_added, id, version, spec_version, type, is_first, is_last, spec_latest";
constexpr int kJsonColumn = 8;

// The flags of every version of one id, from scratch.
struct Flags {
  bool is_first = false;
  bool is_last = false;
  bool spec_latest = false;
  friend bool operator==(const Flags&, const Flags&) = default;
};

inline std::vector<Flags> ComputeFlags(const std::vector<Row>& versions) {
  std::vector<Flags> flags(versions.size());
  if (versions.empty()) return flags;
  std::string_view min_v = versions[0].version, max_v = versions[0].version;
  std::string_view max_spec = versions[0].spec_version;
  for (const Row& r : versions) {
    min_v = std::min(min_v, std::string_view(r.version));
    max_v = std::max(max_v, std::string_view(r.version));
    if (CompareSpecVersions(r.spec_version, max_spec) > 0) max_spec = r.spec_version;
  }
  for (size_t i = 0; i < versions.size(); ++i) {
    flags[i].is_first = versions[i].version == min_v;
    flags[i].is_last = versions[i].version == max_v;
    flags[i].spec_latest = CompareSpecVersions(versions[i].spec_version, max_spec) == 0;
  }
  return flags;
}

inline Result<std::vector<VersionRecord>> ToVersionRecords(const std::vector<Row>& rows) {
  std::vector<VersionRecord> records;
  records.reserve(rows.size());
  for (const Row& r : rows) {
    auto version = ParseVersionKey(r.version);
    if (!version.ok()) {
      return absl::DataLossError(absl::StrCat("store: bad stored version of ", r.id));
    }
    records.push_back({*version, FromUnixMicros(r.date_added), r.spec_version});
  }
  return records;
}

enum class FlagFilter { kNone, kLast, kFirst, kFirstOrLast };

// What a query's match[version]/match[spec_version]/added_after need, worked out once.
struct VersionPlan {
  bool all = false;
  bool first = false;
  bool last = false;
  std::vector<std::string> at_keys;  // VersionKey of each timestamp
  std::vector<int64_t> at_micros;    // the same timestamps, for versionless rows
  std::vector<Timestamp> at;
  bool base_varies = false;  // a step-1 filter can differ between versions of an id
  bool explicit_spec = false;
  FlagFilter sql_flag = FlagFilter::kNone;
};

inline VersionPlan PlanVersions(const Filter& filter) {
  VersionPlan p;
  if (filter.versions.empty()) p.last = true;
  for (const VersionMatch& m : filter.versions) {
    switch (m.kind) {
      case VersionMatch::Kind::kAll:
        p.all = true;
        break;
      case VersionMatch::Kind::kFirst:
        p.first = true;
        break;
      case VersionMatch::Kind::kLast:
        p.last = true;
        break;
      case VersionMatch::Kind::kAt:
        p.at.push_back(m.at);
        p.at_keys.push_back(VersionKey(m.at));
        break;
    }
  }
  p.explicit_spec = !filter.spec_versions.empty();
  p.base_varies = filter.added_after.has_value() || p.explicit_spec;
  if (!p.all && p.at.empty() && !p.base_varies) {
    if (p.first && p.last) {
      p.sql_flag = FlagFilter::kFirstOrLast;
    } else if (p.last) {
      p.sql_flag = FlagFilter::kLast;
    } else if (p.first) {
      p.sql_flag = FlagFilter::kFirst;
    }
  }
  return p;
}

inline std::vector<std::string> Deduplicated(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& v : values) {
    if (seen.insert(v).second) out.push_back(v);
  }
  return out;
}

// Store::AdmitUse (shared rate limits): the arguments every backend refuses, and the decision on
// the uses found within the window, under the backend's lock.
inline Status CheckUseArguments(std::string_view key, std::chrono::microseconds window,
                                int64_t max_uses, std::chrono::microseconds min_gap) {
  if (key.empty()) return absl::InvalidArgumentError("rate limit: empty key");
  if (window.count() <= 0) return absl::InvalidArgumentError("rate limit: window must be positive");
  if (max_uses < 1) return absl::InvalidArgumentError("rate limit: max_uses must be at least 1");
  if (min_gap.count() < 0) return absl::InvalidArgumentError("rate limit: negative gap");
  return absl::OkStatus();
}
inline bool UseAdmitted(const Store::UseCount& found, int64_t now_micros, int64_t max_uses,
                        std::chrono::microseconds min_gap) {
  if (found.uses >= max_uses) return false;
  return !found.latest || now_micros - ToUnixMicros(*found.latest) >= min_gap.count();
}

}  // namespace liaison::store::internal
