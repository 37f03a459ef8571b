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

namespace {
bool ReleasableSpec(std::string_view spec_version) {
  return spec_version == "2.0" || spec_version == "2.1";
}
}  // namespace

std::string VersionText(const store::ObjectRecord& record) {
  return record.version ? record.version->ToString() : record.date_added.ToString(6);
}

std::optional<bool> VisibilityCache::Get(std::string_view scope, std::string_view stamp,
                                         std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = scopes_.find(ToAbsl(scope));
  if (it == scopes_.end() || it->second.stamp != stamp) return std::nullopt;
  auto hit = it->second.visible.find(ToAbsl(id));
  if (hit == it->second.visible.end()) return std::nullopt;
  return hit->second;
}

void VisibilityCache::Put(std::string_view scope, std::string_view stamp,
                          const std::vector<std::pair<std::string, bool>>& entries) {
  if (entries.empty()) return;
  absl::MutexLock lock(&mu_);
  auto it = scopes_.find(ToAbsl(scope));
  if (it == scopes_.end()) {
    if (scopes_.size() >= max_scopes_) scopes_.clear();
    it = scopes_.emplace(std::string(scope), Scope{}).first;
  }
  Scope& s = it->second;
  // A request that read an older stamp may finish after one that read a newer one; its entries
  // then replace the newer ones, which only costs the newer requests a miss.
  if (s.stamp != stamp) {
    s.stamp = std::string(stamp);
    s.visible.clear();
  }
  if (s.visible.size() + entries.size() > max_per_scope_) s.visible.clear();
  for (const auto& [id, visible] : entries) s.visible.insert_or_assign(id, visible);
}

void PartnerView::UseCache(VisibilityCache& cache, std::string stamp) {
  shared_ = &cache;
  stamp_ = std::move(stamp);
  // Names and policy versions contain no newline.
  scope_ = StrCat(collection_, "\n", partner_.name, "\n", partner_.policy_version);
}

std::optional<bool> PartnerView::Cached(std::string_view id) {
  if (auto it = visible_.find(ToAbsl(id)); it != visible_.end()) return it->second;
  if (shared_ == nullptr) return std::nullopt;
  std::optional<bool> v = shared_->Get(scope_, stamp_, id);
  if (v) {
    if (visible_.size() > 100'000) visible_.clear();  // bounded memory on huge pages
    visible_.emplace(std::string(id), *v);
  }
  return v;
}

void PartnerView::Remember(std::vector<std::pair<std::string, bool>> entries) {
  if (visible_.size() + entries.size() > 100'000) visible_.clear();
  for (const auto& [id, visible] : entries) visible_.insert_or_assign(id, visible);
  if (shared_ != nullptr) shared_->Put(scope_, stamp_, entries);
}

Result<Decision> PartnerView::Decide(const store::ObjectRecord& record) {
  return Decide(record, nullptr);
}

Result<Decision> PartnerView::Decide(const store::ObjectRecord& record,
                                     const stix::Object* parsed) {
  // Only STIX 2.0 and 2.1 content is released. Relative queries (match[version] first/last, the
  // default) scan the store with match[spec_version]=2.0,2.1 so that the store's latest-spec
  // rule runs after the policy; withholding any other spec version on every path keeps those
  // queries, `all`, the versions endpoint, exports and sync push in agreement. (Validation at
  // ingest admits 2.1 and, as STIX 2.0, 2.0 only, so this only guards writers that skip it.)
  if (!ReleasableSpec(record.spec_version)) {
    Decision d;
    d.reason = StrCat("spec_version ", record.spec_version.substr(0, 32),
                      " is not released (STIX 2.0 and 2.1 only)");
    return d;
  }
  std::optional<stix::Object> own;
  if (parsed == nullptr) {
    auto object = stix::ParseObject(record.json);
    if (!object.ok()) {
      // A stored object liaison cannot read is never released.
      Decision d;
      d.reason = StrCat("unreadable stored object: ", object.status().message());
      return d;
    }
    own = std::move(*object);
    parsed = &*own;
  }
  EndsCheck ends = [this](std::string_view id) { return Visible(id); };
  return policy_.Decide(*parsed, record.json, partner_, &ends);
}

Result<bool> PartnerView::Visible(std::string_view id) {
  if (std::optional<bool> v = Cached(id)) return *v;
  store::Filter f;
  f.ids = {std::string(id)};
  f.limit = 1;
  auto page = store_.Query(collection_, f);
  bool visible = false;
  if (page.ok() && !page->records.empty()) {
    const store::ObjectRecord& rec = page->records.front();
    auto object = stix::ParseObject(rec.json);
    if (object.ok() && ReleasableSpec(rec.spec_version)) {
      // Not recursive: an end that is itself a relationship or sighting needs its own ends
      // checked, which this (null) check refuses, so SROs pointing at SROs stay withheld.
      LIAISON_ASSIGN_OR_RETURN(Decision d, policy_.Decide(*object, rec.json, partner_, nullptr));
      visible = d.released();
    }
  } else if (!page.ok() && !absl::IsNotFound(page.status())) {
    return page.status();
  }
  Remember({{std::string(id), visible}});
  return visible;
}

Status PartnerView::PrefetchEnds(const std::vector<store::ObjectRecord>& records,
                                 const std::vector<std::optional<stix::Object>>& parsed) {
  if (!partner_.rules.require_visible_ends) return absl::OkStatus();
  std::vector<std::string> wanted;
  absl::flat_hash_map<std::string, bool> pending;
  for (size_t i = 0; i < records.size(); ++i) {
    const store::ObjectRecord& rec = records[i];
    if (!HasReferencedEnds(rec.type)) continue;
    if (!parsed[i]) continue;
    for (std::string& end : RelationshipEnds(*parsed[i], rec.json)) {
      if (pending.contains(ToAbsl(end)) || Cached(end)) continue;
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
        // The first look, as in the scan: what rules 1-5 withhold needs no full parse.
        if (!policy_.MayRelease(rec.json, partner_)) continue;
        auto object = stix::ParseObject(rec.json);
        if (!object.ok()) continue;
        LIAISON_ASSIGN_OR_RETURN(Decision d, policy_.Decide(*object, rec.json, partner_, nullptr));
        pending[rec.id] = d.released() && ReleasableSpec(rec.spec_version);
      }
      if (!page.more) break;
      f.next = page.next;
    }
  }
  std::vector<std::pair<std::string, bool>> found(pending.begin(), pending.end());
  Remember(std::move(found));
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

namespace {

// How many stored versions one store read examines at most when the policy drops versions in
// the scan: bounds the read transaction while a page is filled from a mostly withheld range.
constexpr size_t kMaxScannedPerRead = 5000;

// Whether `versions` (empty: last) selects versions relative to the others (first, last); then
// the selection must be made among the versions released to the partner, not by the store.
bool SelectsRelatively(const std::vector<store::VersionMatch>& versions) {
  if (versions.empty()) return true;
  bool relative = false;
  for (const store::VersionMatch& v : versions) {
    if (v.kind == store::VersionMatch::Kind::kAll) return false;
    relative = relative || v.kind == store::VersionMatch::Kind::kFirst ||
               v.kind == store::VersionMatch::Kind::kLast;
  }
  return relative;
}

}  // namespace

Status PartnerView::ResolveSelection(const std::vector<store::ObjectRecord>& records,
                                     const std::vector<std::optional<Decision>>& decisions,
                                     const store::Filter& filter, const store::Filter& scan) {
  // The ids of this page whose selection is not known yet. Only released versions can be
  // selected, so ids with nothing released on this page need no work here.
  if (selected_.size() > 100'000) selected_.clear();  // bounded memory on huge scans
  std::vector<std::string> ids;
  absl::flat_hash_map<int64_t, bool> known;  // date_added -> released, for this page
  // With only `last` (or only `first`) asked, a released version that the store flags as the
  // latest (earliest) of all is the selection among released ones without looking further.
  bool only_last = true, only_first = true;
  for (const store::VersionMatch& v : filter.versions) {
    only_last = only_last && v.kind == store::VersionMatch::Kind::kLast;
    only_first = only_first && v.kind == store::VersionMatch::Kind::kFirst;
  }
  only_first = only_first && !filter.versions.empty();
  for (size_t i = 0; i < records.size(); ++i) {
    const store::ObjectRecord& rec = records[i];
    known.emplace(store::ToUnixMicros(rec.date_added), decisions[i]->released());
    if (!decisions[i]->released() || selected_.contains(ToAbsl(rec.id))) continue;
    if ((only_last && rec.is_last.value_or(false)) ||
        (only_first && rec.is_first.value_or(false))) {
      selected_[rec.id] = {store::ToUnixMicros(rec.date_added)};
      continue;
    }
    if (std::find(ids.begin(), ids.end(), records[i].id) == ids.end()) {
      ids.push_back(records[i].id);
    }
  }
  if (ids.empty()) return absl::OkStatus();
  // Every version of those ids that passes the base filters (without JSON), then the JSON of
  // those not on this page, to decide them.
  store::Filter m;
  m.ids = ids;
  m.versions = {store::VersionMatch::All()};
  m.spec_versions = scan.spec_versions;
  m.added_after = scan.added_after;
  absl::flat_hash_map<std::string, std::vector<store::ObjectRecord>> versions;
  std::vector<std::string> unknown_ids;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.QueryManifest(collection_, m));
    for (store::ObjectRecord& rec : page.records) {
      if (!known.contains(store::ToUnixMicros(rec.date_added)) &&
          (unknown_ids.empty() || unknown_ids.back() != rec.id)) {
        unknown_ids.push_back(rec.id);
      }
      versions[rec.id].push_back(std::move(rec));
    }
    if (!page.more) break;
    m.next = page.next;
  }
  if (!unknown_ids.empty()) {
    std::sort(unknown_ids.begin(), unknown_ids.end());
    unknown_ids.erase(std::unique(unknown_ids.begin(), unknown_ids.end()), unknown_ids.end());
    store::Filter q = m;
    q.ids = unknown_ids;
    q.next.clear();
    for (;;) {
      LIAISON_ASSIGN_OR_RETURN(store::Page page, store_.Query(collection_, q));
      for (const store::ObjectRecord& rec : page.records) {
        LIAISON_ASSIGN_OR_RETURN(Decision d, Decide(rec));
        known.emplace(store::ToUnixMicros(rec.date_added), d.released());
      }
      if (!page.more) break;
      q.next = page.next;
    }
  }
  for (auto& [id, all] : versions) {
    // The store's selection rules (store/filter.h), applied to the released versions only: as
    // if the collection held nothing else.
    std::vector<store::VersionRecord> released;
    std::vector<int64_t> added;
    for (const store::ObjectRecord& rec : all) {
      auto it = known.find(store::ToUnixMicros(rec.date_added));
      if (it == known.end() || !it->second) continue;
      released.push_back({rec.version, rec.date_added, rec.spec_version});
      added.push_back(store::ToUnixMicros(rec.date_added));
    }
    const std::vector<bool> chosen = store::SelectVersions(released, filter);
    std::vector<int64_t>& out = selected_[id];
    for (size_t i = 0; i < chosen.size(); ++i) {
      if (chosen[i]) out.push_back(added[i]);
    }
  }
  // Ids the manifest did not list (deleted since the page was read) select nothing.
  for (const std::string& id : ids) selected_.try_emplace(id);
  return absl::OkStatus();
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

  // match[version] first/last (and the default, last) select among the versions the partner may
  // see: the latest *released* version, never nothing because a newer version is withheld, and
  // without revealing that one exists. The store is then scanned over every version that passes
  // the base filters, and ResolveSelection applies the selection to the released ones. Without
  // match[spec_version] the scan asks for both spec versions, so that the store's own "latest
  // spec version" rule does not run before the policy (it runs in ResolveSelection).
  const bool reselect = endpoint != Endpoint::kVersions && SelectsRelatively(f.versions);
  store::Filter scan = f;
  if (reselect) {
    scan.versions = {store::VersionMatch::All()};
    if (scan.spec_versions.empty()) scan.spec_versions = {"2.0", "2.1"};
  }
  // Versions the store flags as the latest (or a scan that only returns latest versions) are
  // what Visible() decides, so non-relationship decisions made here answer later ends checks
  // for free.
  const bool scan_is_latest =
      !reselect && !f.added_after && f.spec_versions.empty() &&
      (f.versions.empty() ||
       (f.versions.size() == 1 && f.versions[0].kind == store::VersionMatch::Kind::kLast));

  const bool with_text = endpoint == Endpoint::kObjects || endpoint == Endpoint::kObject;
  store::Page out;
  std::vector<std::vector<std::string>> removed;
  size_t scanned = 0;
  // The store drops, before copying them, the versions that rules 1-5 withhold on a first look
  // at their text (ReleasePolicy::MayRelease): most of what a restrictive policy withholds then
  // costs a few hundred nanoseconds instead of a copy and a full parse. Those that are the latest
  // of their id are remembered as invisible ends. The dry run sees every version (it reports
  // each withheld one with its reason).
  std::vector<std::pair<std::string, bool>> dropped_latest;
  // The key rules compiled for the current store read (by the factory below, in the read's
  // snapshot): where the key is exact, the first look needs no text at all.
  std::optional<ReleaseKeyRules> key_rules;
  const store::Store::KeyFilterFactory key_filter =
      [&](const store::Store::KeyCodeFn& code) -> Result<store::Store::KeyFilterFn> {
    LIAISON_ASSIGN_OR_RETURN(key_rules, ReleaseKeyRules::Compile(partner_, code));
    return store::Store::KeyFilterFn(
        [rules = &*key_rules](int64_t key) { return rules->MayRelease(key); });
  };
  const store::Store::KeepFn keep = [&](const store::Store::RecordView& v) {
    bool may = key_rules && v.release_key != 0 && key_rules->Exact(v.release_key)
                   ? key_rules->MayRelease(v.release_key)
                   : policy_.MayRelease(v.json, partner_);
    // Rule 6 from the cache: a relationship (or report, ...) naming an object already known to
    // be invisible is withheld whatever else it is, so it needs no copy, parse or decision. Ends
    // not known yet are left to Decide.
    if (may && partner_.rules.require_visible_ends && HasReferencedEnds(v.type)) {
      for (const std::string& end : RelationshipEnds(v.type, v.json)) {
        if (std::optional<bool> visible = Cached(end); visible && !*visible) {
          may = false;
          break;
        }
      }
    }
    if (may) return true;
    if (partner_.rules.require_visible_ends && (scan_is_latest || v.is_last.value_or(false))) {
      dropped_latest.emplace_back(std::string(v.id), false);
    }
    return false;
  };
  // Before that first look, a store that keeps release keys in its scan index drops what the
  // key alone shows rules 1-5 withhold, without reading the row (ReleaseKeyRules; such versions
  // are not remembered as invisible ends: an end lookup decides them if a relationship asks).
  for (bool done = false; !done;) {
    LIAISON_ASSIGN_OR_RETURN(store::Page page,
                             withheld != nullptr ? store_.Query(collection_, scan)
                                                 : store_.QueryKeyed(collection_, scan, key_filter,
                                                                     keep, kMaxScannedPerRead));
    if (!dropped_latest.empty()) Remember(std::move(dropped_latest));
    dropped_latest.clear();
    const size_t n = page.records.size();
    // Each stored version is parsed once, for the ends and for the decision. Objects that are
    // not relationships or sightings are decided first: as ends of the relationships on the same
    // page they need no store lookup then.
    std::vector<std::optional<stix::Object>> parsed(n);
    std::vector<std::optional<Decision>> decisions(n);
    std::vector<std::pair<std::string, bool>> latest;
    for (size_t i = 0; i < n; ++i) {
      const store::ObjectRecord& rec = page.records[i];
      if (auto o = stix::ParseObject(rec.json); o.ok()) parsed[i] = std::move(*o);
      if (parsed[i] && HasReferencedEnds(parsed[i]->type)) continue;
      // (Unparsed: Decide parses again, to withhold it with the parser's reason.)
      LIAISON_ASSIGN_OR_RETURN(decisions[i], Decide(rec, parsed[i] ? &*parsed[i] : nullptr));
      if (parsed[i] && (scan_is_latest || rec.is_last.value_or(false))) {
        latest.emplace_back(rec.id, decisions[i]->released());
      }
    }
    if (!latest.empty()) Remember(std::move(latest));
    LIAISON_RETURN_IF_ERROR(PrefetchEnds(page.records, parsed));
    for (size_t i = 0; i < n; ++i) {
      if (decisions[i]) continue;
      LIAISON_ASSIGN_OR_RETURN(decisions[i], Decide(page.records[i], &*parsed[i]));
    }
    if (reselect) LIAISON_RETURN_IF_ERROR(ResolveSelection(page.records, decisions, f, scan));
    for (size_t i = 0; i < n; ++i) {
      store::ObjectRecord& rec = page.records[i];
      Decision& d = *decisions[i];
      if (!d.released()) {
        if (withheld) withheld->push_back({rec.id, VersionText(rec), std::move(d.reason)});
        continue;
      }
      if (reselect) {
        const std::vector<int64_t>& chosen = selected_[rec.id];
        if (std::find(chosen.begin(), chosen.end(), store::ToUnixMicros(rec.date_added)) ==
            chosen.end()) {
          continue;  // released, but not the version the query selects among released ones
        }
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
    scan.next = page.next;
    // Ask the store for about as many versions as the rest of the page needs at the share
    // released so far (plus a quarter), so that a policy that withholds much costs a few large
    // store reads rather than many small ones (each read transaction after a write starts with
    // a cold page cache).
    scanned += n;
    const size_t wanted = limit + 1 - out.records.size();
    const size_t share = std::max<size_t>(out.records.size(), 1);
    scan.limit = std::min(max_page, std::max(wanted, wanted * scanned * 5 / (share * 4)) + 1);
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

Result<std::optional<std::string>> PartnerView::ReleasedText(const store::ObjectRecord& record) {
  LIAISON_ASSIGN_OR_RETURN(Decision d, Decide(record));
  switch (d.kind) {
    case Decision::Kind::kRelease:
      return std::optional<std::string>(record.json);
    case Decision::Kind::kSanitised:
      return std::optional<std::string>(std::move(d.json));
    case Decision::Kind::kWithhold:
      break;
  }
  return std::optional<std::string>();
}

}  // namespace liaison::policy
