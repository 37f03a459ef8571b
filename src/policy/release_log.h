#pragma once

// The release log: an append-only, hash-chained record of what left the organisation (issue
// #6). Each entry is (seq, time, kind, partner, policy_version, details JSON) and
//
//   hash(n) = hex(SHA-256(hash(n-1) || "\n" || canonical(entry n)))      hash(0) = ""
//
// where canonical(entry) is the RFC 8785 form of {"seq","time","kind","partner",
// "policy_version","details"} (details parsed, so whitespace does not matter). Changing any
// field of any entry, deleting an entry or reordering entries breaks the chain from that entry
// on, which Verify reports with the first bad seq. Cutting entries off the end leaves a valid
// shorter chain: compare Head() with a value kept elsewhere (a partner's signed receipt, an
// operator's note) to detect that; `liaison audit verify --head` does.
//
// Kinds: "release" (objects given to a partner; details are ReleaseDetails' JSON), and the
// generic Append for "psi" runs and sync "receipt"s, so that every exchange is in one chain.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"
#include "store/store.h"

namespace liaison::policy {

// One object version that went to a partner.
struct ReleasedVersion {
  std::string id;
  std::string version;               // STIX timestamp, or the date_added for unversioned objects
  std::vector<std::string> removed;  // selectors removed by sanitisation (empty: as stored)
};

// What one response released.
struct ReleaseDetails {
  std::string collection;
  std::string endpoint;  // "objects", "object", "versions", "manifest", "push", ...
  std::vector<ReleasedVersion> versions;
};

std::string ReleaseDetailsJson(const ReleaseDetails& details);

struct VerifyResult {
  bool ok = true;
  int64_t entries = 0;    // entries checked
  int64_t first_bad = 0;  // seq of the first entry that does not verify (0 when ok)
  std::string problem;    // what is wrong there
  std::string head;       // hash of the last entry ("" for an empty log)
};

// Thread safe; `store` outlives the log.
class ReleaseLog {
 public:
  explicit ReleaseLog(store::Store& store) : store_(store) {}

  // Appends one entry of any kind. `details_json` must be a JSON value. Durable on return.
  Result<store::AuditRecord> Append(std::string_view kind, std::string_view partner,
                                    std::string_view policy_version, std::string_view details_json,
                                    Timestamp time = Timestamp::Now());
  // The entry Append would append (validated; seq and hashes unset), for a store that appends
  // it later in the chain, e.g. with the objects it concerns (Store::AddWithAudit with
  // ChainHash).
  static Result<store::AuditRecord> Entry(std::string_view kind, std::string_view partner,
                                          std::string_view policy_version,
                                          std::string_view details_json,
                                          Timestamp time = Timestamp::Now());
  // Appends an entry made by Entry.
  Result<store::AuditRecord> Append(store::AuditRecord entry);
  // Has the store chain any entries it holds pending (AddWithAudit's, e.g. left by a crash);
  // Verify and Read do this first.
  Status Flush();
  // Appends one "release" entry.
  Result<store::AuditRecord> AppendRelease(std::string_view partner,
                                           std::string_view policy_version,
                                           const ReleaseDetails& details,
                                           Timestamp time = Timestamp::Now());

  // Walks the whole log in seq order and checks seq continuity and every hash.
  Result<VerifyResult> Verify();

  // Entries for `partner` (all partners when empty) with time >= since, in order.
  Result<std::vector<store::AuditRecord>> Read(std::optional<std::string> partner,
                                               std::optional<Timestamp> since);

  // The chain value of an entry, as Append computes it (exposed for tests and tools).
  static std::string ChainHash(const store::AuditRecord& record);

 private:
  store::Store& store_;
};

}  // namespace liaison::policy
