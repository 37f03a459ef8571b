#pragma once

// A collection as one partner sees it: the store's TAXII queries with the release policy applied
// inside the paging loop, so that pages, `more`, `next` and the date_added headers are those of
// a collection that never held the withheld versions (issue #6, "a withheld object looks exactly
// like one that does not exist").
//
// How: the store is queried with the caller's filter; each version is decided; released ones are
// collected until limit + 1 are found (or the store runs out), pulling further store pages as
// needed. With more than `limit`, the page ends at the limit-th released version and `next` is
// that version's position (store cursors are positions, not state, docs/store.md), so the next
// page continues right after it. The object and versions endpoints answer NotFound unless at
// least one version of the object is released to the partner.
//
// Version selection (match[version] first/last, the default spec_version) is the store's, done
// over all stored versions: when the selected version is withheld, the object is absent from
// that query rather than replaced by an older releasable version. docs/policy.md discusses it.
//
// Cost: one decision per version scanned; a partner that may see little of a large collection
// makes the server scan far to fill a page (unbounded by design: stopping early would show up
// as a short page with `more`, revealing withheld data).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/result.h"
#include "policy/partner.h"
#include "policy/release.h"
#include "policy/release_log.h"
#include "store/store.h"

namespace liaison::policy {

enum class Endpoint { kObjects, kObject, kVersions, kManifest };
std::string_view EndpointName(Endpoint endpoint);

struct WithheldVersion {
  std::string id;
  std::string version;
  std::string reason;
};

// Whether the latest version of an object is released to a partner, remembered across requests
// (relationship and sighting ends, rule 6 of docs/policy.md). Deciding an end means reading its
// latest version from the store at a random place in the collection, which after any write
// (each partner GET appends to the release log) is a cold read; caching the answers is what
// keeps a policy with visible ends within the GET overhead budget (issue #6).
//
// Entries are scoped by (collection, partner name, policy version) and tagged with the store's
// ObjectsStamp read before the request's first query: an entry is only returned to a request
// that read the same stamp, so any added or deleted version in the collection drops the
// collection's entries. Thread safe; bounded (a scope that grows past `max_per_scope` entries
// starts over, and at most `max_scopes` scopes are kept).
class VisibilityCache {
 public:
  explicit VisibilityCache(size_t max_per_scope = 200'000, size_t max_scopes = 16)
      : max_per_scope_(max_per_scope), max_scopes_(max_scopes) {}

  std::optional<bool> Get(std::string_view scope, std::string_view stamp, std::string_view id);
  void Put(std::string_view scope, std::string_view stamp,
           const std::vector<std::pair<std::string, bool>>& entries);

 private:
  struct Scope {
    std::string stamp;
    absl::flat_hash_map<std::string, bool> visible;
  };
  const size_t max_per_scope_;
  const size_t max_scopes_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Scope> scopes_ ABSL_GUARDED_BY(mu_);
};

// Not thread safe (it caches end visibility); make one per request. `store` and `partner`
// outlive it.
class PartnerView {
 public:
  PartnerView(store::Store& store, std::string collection, const Partner& partner)
      : store_(store), collection_(std::move(collection)), partner_(partner) {}

  // One page of `endpoint` for the partner. Records of kObjects/kObject carry the text to send
  // (sanitised where needed); kVersions/kManifest records carry no text. When `released` is
  // given, the released versions are appended to it (for the release log); when `withheld` is
  // given, the withheld versions scanned are appended with their reasons (the dry run).
  Result<store::Page> Query(Endpoint endpoint, std::string_view object_id,
                            const store::Filter& filter, ReleaseDetails* released = nullptr,
                            std::vector<WithheldVersion>* withheld = nullptr);

  // Shares end visibility with other requests through `cache` (which outlives the view);
  // `stamp` is store.ObjectsStamp(collection), read before this view's first query.
  void UseCache(VisibilityCache& cache, std::string stamp);

  // Decides one stored version (parses it first).
  Result<Decision> Decide(const store::ObjectRecord& record);

  // What leaves for the partner when `record` is pushed to it (sync): the text to send (as
  // stored, or sanitised), or nullopt when the version is withheld.
  Result<std::optional<std::string>> ReleasedText(const store::ObjectRecord& record);

  // Whether the latest version of `id` in the collection is released to the partner (ends of
  // relationships and sightings); cached for the life of the view.
  Result<bool> Visible(std::string_view id);

 private:
  Result<bool> AnyReleasedVersion(std::string_view object_id);
  // Decides, in one store query per 1000 ids, the visibility of every relationship or sighting
  // end on a page that is not cached yet, so a page costs O(1) extra queries, not O(ends).
  Status PrefetchEnds(const std::vector<store::ObjectRecord>& records,
                      const std::vector<std::optional<stix::Object>>& parsed);
  Result<Decision> Decide(const store::ObjectRecord& record, const stix::Object* parsed);
  std::optional<bool> Cached(std::string_view id);
  // For a query that selects versions relative to others (first/last): decides, for each id
  // with a released version among `records`, which of its versions the query selects among the
  // released ones (into selected_). `filter` is the client's, `scan` what the store is asked.
  Status ResolveSelection(const std::vector<store::ObjectRecord>& records,
                          const std::vector<std::optional<Decision>>& decisions,
                          const store::Filter& filter, const store::Filter& scan);
  void Remember(std::vector<std::pair<std::string, bool>> entries);

  store::Store& store_;
  const std::string collection_;
  const Partner& partner_;
  ReleasePolicy policy_;
  absl::flat_hash_map<std::string, bool> visible_;
  // id -> the date_added (microseconds) of its versions selected among released ones.
  absl::flat_hash_map<std::string, std::vector<int64_t>> selected_;
  VisibilityCache* shared_ = nullptr;
  std::string stamp_;
  std::string scope_;
};

// "version" of a record as TAXII shows it: modified/created, else its date_added.
std::string VersionText(const store::ObjectRecord& record);

}  // namespace liaison::policy
