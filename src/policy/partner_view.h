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

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

  // Decides one stored version (parses it first).
  Result<Decision> Decide(const store::ObjectRecord& record);

  // Whether the latest version of `id` in the collection is released to the partner (ends of
  // relationships and sightings); cached for the life of the view.
  Result<bool> Visible(std::string_view id);

 private:
  Result<bool> AnyReleasedVersion(std::string_view object_id);
  // Decides, in one store query per 1000 ids, the visibility of every relationship or sighting
  // end on a page that is not cached yet, so a page costs O(1) extra queries, not O(ends).
  Status PrefetchEnds(const std::vector<store::ObjectRecord>& records);

  store::Store& store_;
  const std::string collection_;
  const Partner& partner_;
  ReleasePolicy policy_;
  absl::flat_hash_map<std::string, bool> visible_;
};

// "version" of a record as TAXII shows it: modified/created, else its date_added.
std::string VersionText(const store::ObjectRecord& record);

}  // namespace liaison::policy
