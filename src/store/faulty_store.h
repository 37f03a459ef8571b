#pragma once

// FaultyStore: wraps any Store and fails a chosen call, so that tests can drive every error path
// of the code above the store (STYLE.md section 9; leveldb's fault_injection_test.cc, SQLite's
// anomaly tests). A failed call does not reach the wrapped store, so it changes nothing.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "store/store.h"

namespace liaison::store {

class FaultyStore final : public Store {
 public:
  // Calls are numbered from 1 across all methods (max_page_size excluded). The call numbered
  // `fail_on_call` fails with `code`; with `sticky`, every later call fails too. 0 never fails.
  // `inner` must outlive this wrapper.
  explicit FaultyStore(Store& inner, int64_t fail_on_call = 0,
                       absl::StatusCode code = absl::StatusCode::kUnavailable, bool sticky = false)
      : inner_(inner), fail_on_call_(fail_on_call), code_(code), sticky_(sticky) {}

  // Re-arms the wrapper: restarts the count and fails call number `n` (0: never).
  void FailOnCall(int64_t n, bool sticky = false) {
    calls_ = 0;
    fail_on_call_ = n;
    sticky_ = sticky;
  }
  // How many calls were made since construction or the last FailOnCall.
  int64_t calls() const { return calls_; }
  // How many calls were failed.
  int64_t failures() const { return failures_; }

  using Store::Add;

  size_t max_page_size() const override { return inner_.max_page_size(); }
  Status CreateCollection(const Collection& collection) override;
  Status UpdateCollection(const Collection& collection) override;
  Result<Collection> GetCollection(std::string_view id) override;
  Result<std::vector<Collection>> ListCollections() override;
  Status DeleteCollection(std::string_view id) override;
  Result<AddResult> Add(std::string_view collection, std::span<const stix::Object> objects,
                        const AddOptions& options) override;
  Result<Page> Query(std::string_view collection, const Filter& filter) override;
  Result<Page> QueryManifest(std::string_view collection, const Filter& filter) override;
  Result<size_t> DeleteObject(std::string_view collection, std::string_view object_id,
                              const DeleteFilter& filter) override;
  Status PutStatus(const StatusResource& status) override;
  Result<StatusResource> GetStatus(std::string_view id) override;
  Status CreateUser(const User& user) override;
  Status UpdateUser(const User& user) override;
  Result<User> GetUser(std::string_view name) override;
  Result<std::vector<User>> ListUsers() override;
  Status DeleteUser(std::string_view name) override;
  Status AddToken(const ApiToken& token) override;
  Result<ApiToken> FindToken(std::string_view token_hash) override;
  Result<std::vector<ApiToken>> ListTokens(std::string_view user) override;
  Status DeleteToken(std::string_view token_hash) override;
  Status SetPermission(std::string_view collection, const Principal& principal,
                       Permission permission) override;
  Result<std::vector<std::pair<Principal, Permission>>> ListPermissions(
      std::string_view collection) override;
  Result<std::vector<AuditRecord>> AppendAudit(std::vector<AuditRecord> entries,
                                               const AuditChainFn& chain) override;
  Result<std::vector<AuditRecord>> ReadAudit(const AuditQuery& query) override;
  Result<std::optional<std::string>> GetSyncState(std::string_view key) override;
  using Store::PutSyncState;
  Status PutSyncState(std::string_view key, std::string_view value,
                      const std::optional<ReceivedRange>& range) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListSyncState(std::string_view prefix,
                                                                         size_t limit) override;
  Status AddReceivedRange(std::string_view collection, std::string_view peer, Timestamp first,
                          Timestamp last) override;
  Result<std::vector<std::pair<Timestamp, Timestamp>>> ReceivedRanges(std::string_view collection,
                                                                      std::string_view peer,
                                                                      Timestamp from,
                                                                      Timestamp to) override;

 private:
  // Counts one call; returns the injected error when this call must fail, else OK.
  Status Tick(const char* method);

  Store& inner_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> fail_on_call_;
  const absl::StatusCode code_;
  std::atomic<bool> sticky_;
};

}  // namespace liaison::store
