#include "store/faulty_store.h"

#include "absl/strings/str_cat.h"

namespace liaison::store {

Status FaultyStore::Tick(const char* method) {
  const int64_t n = ++calls_;
  const int64_t target = fail_on_call_;
  if (target > 0 && (n == target || (sticky_ && n > target))) {
    ++failures_;
    return Status(code_, absl::StrCat("injected fault in call ", n, " (", method, ")"));
  }
  return absl::OkStatus();
}

// Each method fails before reaching the wrapped store, or forwards to it unchanged.
#define LIAISON_FAULT_POINT(method)  \
  do {                               \
    Status fault_ = Tick(method);    \
    if (!fault_.ok()) return fault_; \
  } while (false)

Status FaultyStore::CreateCollection(const Collection& collection) {
  LIAISON_FAULT_POINT("CreateCollection");
  return inner_.CreateCollection(collection);
}
Status FaultyStore::UpdateCollection(const Collection& collection) {
  LIAISON_FAULT_POINT("UpdateCollection");
  return inner_.UpdateCollection(collection);
}
Result<Collection> FaultyStore::GetCollection(std::string_view id) {
  LIAISON_FAULT_POINT("GetCollection");
  return inner_.GetCollection(id);
}
Result<std::vector<Collection>> FaultyStore::ListCollections() {
  LIAISON_FAULT_POINT("ListCollections");
  return inner_.ListCollections();
}
Status FaultyStore::DeleteCollection(std::string_view id) {
  LIAISON_FAULT_POINT("DeleteCollection");
  return inner_.DeleteCollection(id);
}
Result<AddResult> FaultyStore::Add(std::string_view collection,
                                   std::span<const stix::Object> objects,
                                   const AddOptions& options) {
  LIAISON_FAULT_POINT("Add");
  return inner_.Add(collection, objects, options);
}
Result<Page> FaultyStore::Query(std::string_view collection, const Filter& filter) {
  LIAISON_FAULT_POINT("Query");
  return inner_.Query(collection, filter);
}
Result<Page> FaultyStore::QueryManifest(std::string_view collection, const Filter& filter) {
  LIAISON_FAULT_POINT("QueryManifest");
  return inner_.QueryManifest(collection, filter);
}
Result<size_t> FaultyStore::DeleteObject(std::string_view collection, std::string_view object_id,
                                         const DeleteFilter& filter) {
  LIAISON_FAULT_POINT("DeleteObject");
  return inner_.DeleteObject(collection, object_id, filter);
}
Status FaultyStore::PutStatus(const StatusResource& status) {
  LIAISON_FAULT_POINT("PutStatus");
  return inner_.PutStatus(status);
}
Result<StatusResource> FaultyStore::GetStatus(std::string_view id) {
  LIAISON_FAULT_POINT("GetStatus");
  return inner_.GetStatus(id);
}
Status FaultyStore::CreateUser(const User& user) {
  LIAISON_FAULT_POINT("CreateUser");
  return inner_.CreateUser(user);
}
Status FaultyStore::UpdateUser(const User& user) {
  LIAISON_FAULT_POINT("UpdateUser");
  return inner_.UpdateUser(user);
}
Result<User> FaultyStore::GetUser(std::string_view name) {
  LIAISON_FAULT_POINT("GetUser");
  return inner_.GetUser(name);
}
Result<std::vector<User>> FaultyStore::ListUsers() {
  LIAISON_FAULT_POINT("ListUsers");
  return inner_.ListUsers();
}
Status FaultyStore::DeleteUser(std::string_view name) {
  LIAISON_FAULT_POINT("DeleteUser");
  return inner_.DeleteUser(name);
}
Status FaultyStore::AddToken(const ApiToken& token) {
  LIAISON_FAULT_POINT("AddToken");
  return inner_.AddToken(token);
}
Result<ApiToken> FaultyStore::FindToken(std::string_view token_hash) {
  LIAISON_FAULT_POINT("FindToken");
  return inner_.FindToken(token_hash);
}
Result<std::vector<ApiToken>> FaultyStore::ListTokens(std::string_view user) {
  LIAISON_FAULT_POINT("ListTokens");
  return inner_.ListTokens(user);
}
Status FaultyStore::DeleteToken(std::string_view token_hash) {
  LIAISON_FAULT_POINT("DeleteToken");
  return inner_.DeleteToken(token_hash);
}
Status FaultyStore::SetPermission(std::string_view collection, const Principal& principal,
                                  Permission permission) {
  LIAISON_FAULT_POINT("SetPermission");
  return inner_.SetPermission(collection, principal, permission);
}
Result<std::vector<std::pair<Principal, Permission>>> FaultyStore::ListPermissions(
    std::string_view collection) {
  LIAISON_FAULT_POINT("ListPermissions");
  return inner_.ListPermissions(collection);
}

Result<std::vector<AuditRecord>> FaultyStore::AppendAudit(std::vector<AuditRecord> entries,
                                                          const AuditChainFn& chain) {
  LIAISON_FAULT_POINT("AppendAudit");
  return inner_.AppendAudit(std::move(entries), chain);
}
Result<std::vector<AuditRecord>> FaultyStore::ReadAudit(const AuditQuery& query) {
  LIAISON_FAULT_POINT("ReadAudit");
  return inner_.ReadAudit(query);
}
Result<std::optional<std::string>> FaultyStore::GetSyncState(std::string_view key) {
  LIAISON_FAULT_POINT("GetSyncState");
  return inner_.GetSyncState(key);
}
Status FaultyStore::PutSyncState(std::string_view key, std::string_view value,
                                 const std::optional<ReceivedRange>& range) {
  LIAISON_FAULT_POINT("PutSyncState");
  return inner_.PutSyncState(key, value, range);
}
Result<std::vector<std::pair<std::string, std::string>>> FaultyStore::ListSyncState(
    std::string_view prefix, size_t limit) {
  LIAISON_FAULT_POINT("ListSyncState");
  return inner_.ListSyncState(prefix, limit);
}
Status FaultyStore::AddReceivedRange(std::string_view collection, std::string_view peer,
                                     Timestamp first, Timestamp last) {
  LIAISON_FAULT_POINT("AddReceivedRange");
  return inner_.AddReceivedRange(collection, peer, first, last);
}
Result<std::vector<std::pair<Timestamp, Timestamp>>> FaultyStore::ReceivedRanges(
    std::string_view collection, std::string_view peer, Timestamp from, Timestamp to) {
  LIAISON_FAULT_POINT("ReceivedRanges");
  return inner_.ReceivedRanges(collection, peer, from, to);
}

#undef LIAISON_FAULT_POINT

}  // namespace liaison::store
