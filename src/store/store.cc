#include "store/store.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"

namespace liaison::store {
namespace {

// Whether any version of `object_id` is stored. The TAXII object endpoints answer 404 for an
// object that does not exist, but 200 with an empty list when filters exclude every version.
Result<bool> ObjectExists(Store& store, std::string_view collection, std::string_view object_id) {
  Filter probe;
  probe.ids = {std::string(object_id)};
  probe.versions = {VersionMatch::All()};
  probe.limit = 1;
  LIAISON_ASSIGN_OR_RETURN(Page page, store.QueryManifest(collection, probe));
  return !page.records.empty();
}

Status ObjectNotFound(std::string_view collection, std::string_view object_id) {
  return absl::NotFoundError(
      absl::StrCat("object ", ToAbsl(object_id), " not found in collection ", ToAbsl(collection)));
}

}  // namespace

Result<Page> Store::GetObject(std::string_view collection, std::string_view object_id,
                              Filter filter) {
  filter.ids = {std::string(object_id)};
  const bool first_page = filter.next.empty();
  LIAISON_ASSIGN_OR_RETURN(Page page, Query(collection, filter));
  if (page.records.empty() && first_page) {
    LIAISON_ASSIGN_OR_RETURN(bool exists, ObjectExists(*this, collection, object_id));
    if (!exists) return ObjectNotFound(collection, object_id);
  }
  return page;
}

Result<Page> Store::QueryEach(std::string_view collection, const Filter& filter,
                              const std::function<void(std::string_view json)>& each) {
  LIAISON_ASSIGN_OR_RETURN(Page page, Query(collection, filter));
  for (const ObjectRecord& record : page.records) each(record.json);
  page.records.clear();
  return page;
}

Result<Page> Store::QueryVersions(std::string_view collection, std::string_view object_id,
                                  Filter filter) {
  filter.ids = {std::string(object_id)};
  filter.versions = {VersionMatch::All()};
  const bool first_page = filter.next.empty();
  LIAISON_ASSIGN_OR_RETURN(Page page, QueryManifest(collection, filter));
  if (page.records.empty() && first_page) {
    LIAISON_ASSIGN_OR_RETURN(bool exists, ObjectExists(*this, collection, object_id));
    if (!exists) return ObjectNotFound(collection, object_id);
  }
  return page;
}

Result<Permission> Store::EffectivePermission(std::string_view collection, std::string_view user) {
  LIAISON_ASSIGN_OR_RETURN(User u, GetUser(user));
  LIAISON_ASSIGN_OR_RETURN(auto grants, ListPermissions(collection));
  Permission effective;
  for (const auto& [principal, permission] : grants) {
    const bool applies =
        principal.kind == Principal::Kind::kUser
            ? principal.name == u.name
            : std::find(u.groups.begin(), u.groups.end(), principal.name) != u.groups.end();
    if (!applies) continue;
    effective.can_read = effective.can_read || permission.can_read;
    effective.can_write = effective.can_write || permission.can_write;
  }
  return effective;
}

// Backends without sync support (see store.h).
Result<std::optional<std::string>> Store::GetSyncState(std::string_view) {
  return absl::UnimplementedError("this store does not keep sync state");
}
Status Store::PutSyncState(std::string_view, std::string_view,
                           const std::optional<ReceivedRange>&) {
  return absl::UnimplementedError("this store does not keep sync state");
}
Result<std::vector<std::pair<std::string, std::string>>> Store::ListSyncState(std::string_view,
                                                                              size_t) {
  return absl::UnimplementedError("this store does not keep sync state");
}
Status Store::AddReceivedRange(std::string_view, std::string_view, Timestamp, Timestamp) {
  return absl::UnimplementedError("this store does not keep sync state");
}
Result<std::vector<std::pair<Timestamp, Timestamp>>> Store::ReceivedRanges(std::string_view,
                                                                           std::string_view,
                                                                           Timestamp, Timestamp) {
  return absl::UnimplementedError("this store does not keep sync state");
}

Result<Store::UseCount> Store::AdmitUse(std::string_view, Timestamp, std::chrono::microseconds,
                                        int64_t, std::chrono::microseconds) {
  return absl::UnimplementedError("this store keeps no shared rate limits");
}

Result<std::string> Store::ObjectsStamp(std::string_view) {
  return absl::UnimplementedError("this store has no change stamp");
}

Result<Page> Store::QueryKept(std::string_view collection, const Filter& filter, const KeepFn& keep,
                              size_t max_scanned) {
  Filter f = filter;
  f.limit = std::min(filter.limit.value_or(max_page_size()), std::max<size_t>(max_scanned, 1));
  LIAISON_ASSIGN_OR_RETURN(Page page, Query(collection, f));
  std::vector<ObjectRecord> kept;
  kept.reserve(page.records.size());
  for (ObjectRecord& rec : page.records) {
    if (keep(RecordView{rec.id, rec.type, rec.json, rec.date_added, rec.is_last})) {
      kept.push_back(std::move(rec));
    }
  }
  page.records = std::move(kept);
  // `next` stays the store's: the position after the last version examined.
  page.date_added_first.reset();
  page.date_added_last.reset();
  if (!page.records.empty()) {
    page.date_added_first = page.records.front().date_added;
    page.date_added_last = page.records.back().date_added;
  }
  return page;
}

}  // namespace liaison::store
