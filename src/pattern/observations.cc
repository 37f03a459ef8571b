#include "pattern/observations.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "pattern/internal/observation_data.h"
#include "pattern/internal/schema.h"

namespace liaison::pattern {
namespace internal {

const ObservationData& Data(const ObservationSet& set) { return *set.data_; }

std::optional<simdjson::dom::object> ObservationData::Deref(const ObservedDataRecord& od,
                                                            bool legacy,
                                                            std::string_view ref) const {
  simdjson::dom::object target;
  if (legacy) {
    if (!od.legacy_objects) return std::nullopt;
    if ((*od.legacy_objects)[ref].get(target) != simdjson::SUCCESS) return std::nullopt;
    return target;
  }
  // Section 9.7.4: with object_refs, only the SCOs listed there may be followed.
  const bool listed = od.ref_set ? od.ref_set->contains(ref)
                                 : std::find(od.refs.begin(), od.refs.end(), ref) != od.refs.end();
  if (!listed) return std::nullopt;
  auto it = objects_by_id.find(ref);
  if (it == objects_by_id.end()) return std::nullopt;
  return it->second;
}

}  // namespace internal

namespace {

namespace dom = simdjson::dom;
using internal::ObservationData;
using internal::ObservedDataRecord;

// Past this many object_refs, membership is tested through a hash set.
constexpr size_t kRefSetThreshold = 16;

std::string_view TypeOf(dom::object object) {
  std::string_view type;
  if (object["type"].get(type) != simdjson::SUCCESS) return {};
  return type;
}

Status Invalid(std::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(ToAbsl(where), ": ", what));
}

Result<Timestamp> TimeProperty(dom::object od, std::string_view name) {
  std::string_view text;
  if (od[name].get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(name), " is missing or not a string"));
  }
  auto t = Timestamp::Parse(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(name), ": ", t.status().message()));
  }
  return *t;
}

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options) {}

  Status AddDocument(std::string_view json, size_t index, size_t total) {
    auto doc = std::make_unique<dom::document>();
    if (parser_.allocate(json.size() + 1, options_.max_depth) != simdjson::SUCCESS) {
      return absl::ResourceExhaustedError("cannot allocate memory to parse the input");
    }
    dom::element root;
    if (auto error = parser_.parse_into_document(*doc, json.data(), json.size()).get(root)) {
      return absl::InvalidArgumentError(
          absl::StrCat(total > 1 ? absl::StrCat("document ", index + 1, ": ") : "",
                       "malformed JSON: ", simdjson::error_message(error)));
    }
    const std::string prefix = total > 1 ? absl::StrCat("document ", index + 1) : "";
    const uint32_t document = static_cast<uint32_t>(prefixes_.size());
    dom::object object;
    dom::array array;
    if (root.get(object) == simdjson::SUCCESS) {
      if (TypeOf(object) == "bundle") {
        prefixes_.push_back(absl::StrCat(prefix, "/objects"));
        if (object["objects"].get(array) == simdjson::SUCCESS) AddArray(array, document);
      } else {
        prefixes_.push_back(prefix.empty() ? "/" : prefix);
        Add(object, document, 0, /*array=*/false);
      }
    } else if (root.get(array) == simdjson::SUCCESS) {
      prefixes_.push_back(prefix);
      AddArray(array, document);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix.empty() ? "" : absl::StrCat(prefix, ": "),
                       "expected a bundle, an observed-data object or an array of STIX objects"));
    }
    data_->documents.push_back(std::move(doc));
    return absl::OkStatus();
  }

  Result<std::unique_ptr<ObservationData>> Finish() {
    data_->objects_by_id.reserve(objects_.size());
    for (const Entry& e : objects_) {
      if (!e.id.empty()) data_->objects_by_id.try_emplace(e.id, e.object);
    }
    for (const Entry& e : objects_) {
      if (e.type != "observed-data") continue;
      const dom::object object = e.object;
      ObservedDataRecord od;
      od.id = e.id;
      // A JSON pointer (and the id) for messages, built only when one is needed.
      auto label_of = [&] {
        const std::string where = absl::StrCat(ToAbsl(prefixes_[e.document]), e.array ? "/" : "",
                                               e.array ? absl::StrCat(e.index) : "");
        return od.id.empty() ? where : absl::StrCat(where, " (", ToAbsl(od.id), ")");
      };
      auto first = TimeProperty(object, "first_observed");
      if (!first.ok()) return Invalid(label_of(), first.status().message());
      auto last = TimeProperty(object, "last_observed");
      if (!last.ok()) return Invalid(label_of(), last.status().message());
      od.first_observed = *first;
      od.last_observed = *last;
      if (*last < *first) return Invalid(label_of(), "last_observed is before first_observed");
      od.first = internal::ToNanos(*first);
      od.last = internal::ToNanos(*last);
      int64_t count = 0;
      if (object["number_observed"].get(count) != simdjson::SUCCESS || count < 1) {
        return Invalid(label_of(), "number_observed is missing or not a positive integer");
      }
      od.number_observed = count;
      dom::array refs;
      if (object["object_refs"].get(refs) == simdjson::SUCCESS) {
        for (dom::element e : refs) {
          std::string_view ref;
          if (e.get(ref) != simdjson::SUCCESS) continue;
          od.refs.push_back(ref);
          auto it = data_->objects_by_id.find(ref);
          if (it == data_->objects_by_id.end()) continue;
          const std::string_view type = TypeOf(it->second);
          if (type.empty() || internal::IsNonObservableType(type)) continue;
          od.roots.push_back({it->second, type, /*legacy=*/false});
        }
        if (od.refs.size() > kRefSetThreshold) {
          od.ref_set = std::make_unique<absl::flat_hash_set<std::string_view>>(od.refs.begin(),
                                                                               od.refs.end());
        }
      }
      dom::object embedded;
      if (object["objects"].get(embedded) == simdjson::SUCCESS) {
        od.legacy_objects = embedded;
        for (auto [key, value] : embedded) {
          dom::object sco;
          if (value.get(sco) != simdjson::SUCCESS) continue;
          const std::string_view type = TypeOf(sco);
          if (type.empty() || internal::IsNonObservableType(type)) continue;
          od.roots.push_back({sco, type, /*legacy=*/true});
        }
      }
      data_->observed.push_back(std::move(od));
    }
    return std::move(data_);
  }

 private:
  // One STIX object of the input, with where it was (for messages).
  struct Entry {
    dom::object object;
    std::string_view type;
    std::string_view id;
    uint32_t document;
    uint32_t index;
    bool array;
  };

  void Add(dom::object object, uint32_t document, uint32_t index, bool array) {
    Entry e{object, {}, {}, document, index, array};
    // One pass over the members for the two this needs.
    for (auto [key, value] : object) {
      if (key == "type") {
        if (value.get(e.type)) e.type = {};
      } else if (key == "id") {
        if (value.get(e.id)) e.id = {};
      }
    }
    objects_.push_back(e);
  }

  void AddArray(dom::array array, uint32_t document) {
    uint32_t i = 0;
    for (dom::element e : array) {
      dom::object object;
      if (e.get(object) == simdjson::SUCCESS) Add(object, document, i, /*array=*/true);
      ++i;
    }
  }

  LoadOptions options_;
  dom::parser parser_;
  std::unique_ptr<ObservationData> data_ = std::make_unique<ObservationData>();
  std::vector<Entry> objects_;
  std::vector<std::string> prefixes_;  // JSON pointer prefix of each document's objects
};

}  // namespace

ObservationSet::ObservationSet() = default;
ObservationSet::ObservationSet(ObservationSet&&) noexcept = default;
ObservationSet& ObservationSet::operator=(ObservationSet&&) noexcept = default;
ObservationSet::~ObservationSet() = default;

Result<ObservationSet> ObservationSet::FromJson(std::string_view json, const LoadOptions& options) {
  return FromJson(std::span<const std::string_view>(&json, 1), options);
}

Result<ObservationSet> ObservationSet::FromJson(std::span<const std::string_view> documents,
                                                const LoadOptions& options) {
  Loader loader(options);
  for (size_t i = 0; i < documents.size(); ++i) {
    Status s = loader.AddDocument(documents[i], i, documents.size());
    if (!s.ok()) return s;
  }
  auto data = loader.Finish();
  if (!data.ok()) return data.status();
  ObservationSet set;
  set.data_ = std::move(*data);
  return set;
}

size_t ObservationSet::size() const { return data_->observed.size(); }
std::string_view ObservationSet::id(size_t i) const { return data_->observed[i].id; }
Timestamp ObservationSet::first_observed(size_t i) const {
  return data_->observed[i].first_observed;
}
Timestamp ObservationSet::last_observed(size_t i) const { return data_->observed[i].last_observed; }
int64_t ObservationSet::number_observed(size_t i) const {
  return data_->observed[i].number_observed;
}
size_t ObservationSet::object_count(size_t i) const { return data_->observed[i].roots.size(); }

}  // namespace liaison::pattern
