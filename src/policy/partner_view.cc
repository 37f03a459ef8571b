#include "policy/partner_view.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "stix/object.h"
#include "store/filter.h"

namespace liaison::policy {

std::string_view EndpointName(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kObjects:
      return "objects";
    case Endpoint::kObject:
      return "object";
    case Endpoint::kVersions:
      return "versions";
    case Endpoint::kManifest:
      return "manifest";
  }
  return "objects";
}

std::string VersionText(const store::ObjectRecord& record) {
  return record.version ? record.version->ToString() : record.date_added.ToString(6);
}

Result<Decision> PartnerView::Decide(const store::ObjectRecord& record) {
  auto object = stix::ParseObject(record.json);
  if (!object.ok()) {
    // A stored object liaison cannot read is never released.
    Decision d;
    d.reason = StrCat("unreadable stored object: ", object.status().message());
    return d;
  }
  EndsCheck ends = [this](std::string_view id) { return Visible(id); };
  return policy_.Decide(*object, record.json, partner_, &ends);
}

Result<bool> PartnerView::Visible(std::string_view id) {
  if (auto it = visible_.find(ToAbsl(id)); it != visible_.end()) return it->second;
  store::Filter f;
  f.ids = {std::string(id)};
  f.limit = 1;
  auto page = store_.Query(collection_, f);
  bool visible = false;
  if (page.ok() && !page->records.empty()) {
    const store::ObjectRecord& rec = page->records.front();
    auto object = stix::ParseObject(rec.json);
    if (object.ok()) {
      // Not recursive: an end that is itself a relationship or sighting needs its own ends
      // checked, which this (null) check refuses, so SROs pointing at SROs stay withheld.
      LIAISON_ASSIGN_OR_RETURN(Decision d, policy_.Decide(*object, rec.json, partner_, nullptr));
      visible = d.released();
    }
  } else if (!page.ok() && !absl::IsNotFound(page.status())) {
    return page.status();
  }
  if (visible_.size() > 100'000) visible_.clear();  // bounded memory on huge pages
  visible_.emplace(std::string(id), visible);
  return visible;
}

Status PartnerView::PrefetchEnds(const std::vector<store::ObjectRecord>& records) {
  if (!partner_.rules.require_visible_ends) return absl::OkStatus();
  std::vector<std::string> wanted;
  absl::flat_hash_map<std::string, bool> pending;
  for (const store::ObjectRecord& rec : records) {
    if (rec.type != "relationship" && rec.type != "sighting") continue;
    auto object = stix::ParseObject(rec.json);
    if (!object.ok()) continue;
    for (std::string& end : RelationshipEnds(*object, rec.json)) {
      if (visible_.contains(ToAbsl(end)) || pending.contains(ToAbsl(end))) continue;
      pending.emplace(end, false);
      wanted.push_back(std::move(end));
    }
  }
  for (size_t start = 0; start < wanted.size(); start += store::kMaxFilterValues) {
    store::Filter f;
    const size_t end = std::min(wanted.size(), start + store::kMaxFilterValues);
    f.ids.assign(wanted.begin() + static_cast<std::ptrdiff_t>(start),
                 wanted.begin() + static_cast<std::ptrdiff_t>(end));
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.Query(collection_, f));
      for (const store::ObjectRecord& rec : page.records) {
        auto object = stix::ParseObject(rec.json);
        if (!object.ok()) continue;
        LIAISON_ASSIGN_OR_RETURN(Decision d, policy_.Decide(*object, rec.json, partner_, nullptr));
        pending[rec.id] = d.released();
      }
      if (!page.more) break;
      f.next = page.next;
    }
  }
  if (visible_.size() + pending.size() > 100'000) visible_.clear();
  for (auto& [id, visible] : pending) visible_.emplace(id, visible);
  return absl::OkStatus();
}

Result<bool> PartnerView::AnyReleasedVersion(std::string_view object_id) {
  store::Filter f;
  f.ids = {std::string(object_id)};
  f.versions = {store::VersionMatch::All()};
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.Query(collection_, f));
    for (const store::ObjectRecord& rec : page.records) {
      LIAISON_ASSIGN_OR_RETURN(Decision d, Decide(rec));
      if (d.released()) return true;
    }
    if (!page.more) return false;
    f.next = page.next;
  }
}

Result<store::Page> PartnerView::Query(Endpoint endpoint, std::string_view object_id,
                                       const store::Filter& filter, ReleaseDetails* released,
                                       std::vector<WithheldVersion>* withheld) {
  LIAISON_RETURN_IF_ERROR(store::ValidateFilter(filter));
  const size_t max_page = store_.max_page_size();
  const size_t limit = std::min(filter.limit.value_or(max_page), max_page);
  store::Filter f = filter;
  if (endpoint == Endpoint::kObject || endpoint == Endpoint::kVersions) {
    f.ids = {std::string(object_id)};
  }
  if (endpoint == Endpoint::kVersions) f.versions = {store::VersionMatch::All()};
  // One more than the page, so that `more` is known without another round trip.
  f.limit = std::min(limit + 1, max_page);

  const bool with_text = endpoint == Endpoint::kObjects || endpoint == Endpoint::kObject;
  store::Page out;
  std::vector<std::vector<std::string>> removed;
  for (bool done = false; !done;) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.Query(collection_, f));
    LIAISON_RETURN_IF_ERROR(PrefetchEnds(page.records));
    for (store::ObjectRecord& rec : page.records) {
      LIAISON_ASSIGN_OR_RETURN(Decision d, Decide(rec));
      if (!d.released()) {
        if (withheld) withheld->push_back({rec.id, VersionText(rec), std::move(d.reason)});
        continue;
      }
      if (!with_text) {
        rec.json.clear();
      } else if (d.kind == Decision::Kind::kSanitised) {
        rec.json = std::move(d.json);
      }
      out.records.push_back(std::move(rec));
      removed.push_back(std::move(d.removed));
      if (out.records.size() > limit) {
        done = true;
        break;
      }
    }
    if (!page.more) break;
    f.next = page.next;
  }
  if (out.records.size() > limit) {
    out.records.resize(limit);
    removed.resize(limit);
    const store::ObjectRecord& last = out.records.back();
    out.more = true;
    out.next = store::EncodeCursor({last.date_added, last.id, last.version});
  }
  if (out.records.empty() && (endpoint == Endpoint::kObject || endpoint == Endpoint::kVersions)) {
    // 404 for an object none of whose versions the partner may see, exactly as for one that
    // does not exist; an empty page only when released versions exist but the filter excludes
    // them.
    LIAISON_ASSIGN_OR_RETURN(bool any, AnyReleasedVersion(object_id));
    if (!any) {
      return absl::NotFoundError(
          StrCat("object ", object_id, " not found in collection ", collection_));
    }
  }
  if (!out.records.empty()) {
    out.date_added_first = out.records.front().date_added;
    out.date_added_last = out.records.back().date_added;
  }
  if (released != nullptr) {
    released->collection = collection_;
    released->endpoint = std::string(EndpointName(endpoint));
    for (size_t i = 0; i < out.records.size(); ++i) {
      released->versions.push_back(
          {out.records[i].id, VersionText(out.records[i]), std::move(removed[i])});
    }
  }
  return out;
}

}  // namespace liaison::policy
