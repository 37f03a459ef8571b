#include "policy/release_log.h"

#include <utility>

#include "absl/status/status.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "policy/internal/sha256.h"

namespace liaison::policy {

std::string ReleaseDetailsJson(const ReleaseDetails& details) {
  json::Array versions;
  versions.reserve(details.versions.size());
  for (const ReleasedVersion& v : details.versions) {
    json::Object o{{"id", v.id}, {"version", v.version}};
    if (!v.removed.empty()) {
      json::Array removed;
      for (const std::string& s : v.removed) removed.emplace_back(s);
      o.emplace_back("removed", std::move(removed));
    }
    versions.emplace_back(std::move(o));
  }
  return json::Serialize(json::Object{{"collection", details.collection},
                                      {"endpoint", details.endpoint},
                                      {"versions", std::move(versions)}});
}

std::string ReleaseLog::ChainHash(const store::AuditRecord& r) {
  json::Value details;
  if (auto parsed = json::Parse(r.details); parsed.ok()) {
    details = std::move(*parsed);
  } else {
    details = r.details;  // not JSON (tampered): hash the text, the chain still catches it
  }
  const std::string canonical = json::Canonicalize(json::Object{
      {"seq", r.seq},
      {"time", r.time.ToString(9)},
      {"kind", r.kind},
      {"partner", r.partner},
      {"policy_version", r.policy_version},
      {"details", std::move(details)},
  });
  return internal::Sha256Hex(StrCat(r.prev_hash, "\n", canonical));
}

Result<store::AuditRecord> ReleaseLog::Entry(std::string_view kind, std::string_view partner,
                                             std::string_view policy_version,
                                             std::string_view details_json, Timestamp time) {
  if (kind.empty()) return absl::InvalidArgumentError("audit entry: empty kind");
  if (!json::Parse(details_json).ok()) {
    return absl::InvalidArgumentError("audit entry: details are not JSON");
  }
  store::AuditRecord r;
  r.time = time;
  r.kind = std::string(kind);
  r.partner = std::string(partner);
  r.policy_version = std::string(policy_version);
  r.details = std::string(details_json);
  return r;
}

Result<store::AuditRecord> ReleaseLog::Append(std::string_view kind, std::string_view partner,
                                              std::string_view policy_version,
                                              std::string_view details_json, Timestamp time) {
  LIAISON_ASSIGN_OR_RETURN(store::AuditRecord r,
                           Entry(kind, partner, policy_version, details_json, time));
  return Append(std::move(r));
}

Result<store::AuditRecord> ReleaseLog::Append(store::AuditRecord r) {
  std::vector<store::AuditRecord> batch;
  batch.push_back(std::move(r));
  LIAISON_ASSIGN_OR_RETURN(std::vector<store::AuditRecord> written,
                           store_.AppendAudit(std::move(batch), &ReleaseLog::ChainHash));
  if (written.size() != 1) return absl::InternalError("audit append returned no entry");
  return std::move(written.front());
}

Status ReleaseLog::Flush() {
  Status s = store_.AppendAudit({}, &ReleaseLog::ChainHash).status();
  return absl::IsUnimplemented(s) ? absl::OkStatus() : s;
}

Result<store::AuditRecord> ReleaseLog::AppendRelease(std::string_view partner,
                                                     std::string_view policy_version,
                                                     const ReleaseDetails& details,
                                                     Timestamp time) {
  return Append("release", partner, policy_version, ReleaseDetailsJson(details), time);
}

Result<VerifyResult> ReleaseLog::Verify() {
  LIAISON_RETURN_IF_ERROR(Flush());
  VerifyResult out;
  store::AuditQuery q;
  q.limit = 10'000;
  std::string prev;
  int64_t expected_seq = 1;
  for (;;) {
    auto page = store_.ReadAudit(q);
    if (!page.ok()) {
      if (absl::IsDataLoss(page.status())) {
        // A row the store cannot even read back (e.g. a timestamp edited into garbage).
        out.ok = false;
        out.first_bad = expected_seq;
        out.problem = std::string(page.status().message());
        return out;
      }
      return page.status();
    }
    if (page->empty()) break;
    for (const store::AuditRecord& r : *page) {
      ++out.entries;
      auto fail = [&](std::string problem) {
        out.ok = false;
        out.first_bad = r.seq;
        out.problem = std::move(problem);
      };
      if (r.seq != expected_seq) {
        fail(StrCat("expected entry ", expected_seq, ", found ", r.seq,
                    " (entries deleted or reordered)"));
        return out;
      }
      if (r.prev_hash != prev) {
        fail("prev_hash does not match the previous entry's hash");
        return out;
      }
      if (ChainHash(r) != r.hash) {
        fail("hash does not match the entry's contents (entry changed)");
        return out;
      }
      prev = r.hash;
      ++expected_seq;
    }
    q.after_seq = page->back().seq;
  }
  out.head = prev;
  return out;
}

Result<std::vector<store::AuditRecord>> ReleaseLog::Read(std::optional<std::string> partner,
                                                         std::optional<Timestamp> since) {
  LIAISON_RETURN_IF_ERROR(Flush());
  std::vector<store::AuditRecord> out;
  store::AuditQuery q;
  q.partner = std::move(partner);
  q.since = since;
  q.limit = 10'000;
  for (;;) {
    LIAISON_ASSIGN_OR_RETURN(std::vector<store::AuditRecord> page, store_.ReadAudit(q));
    if (page.empty()) break;
    // `since` filters inside the store, so the last seq read may be past the last returned.
    q.after_seq = page.back().seq;
    for (store::AuditRecord& r : page) out.push_back(std::move(r));
    if (out.size() > 1'000'000) break;  // bounded memory for a command-line listing
  }
  return out;
}

}  // namespace liaison::policy
