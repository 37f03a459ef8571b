#include "store/sqlite/release_codes.h"

#include <iterator>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "core/absl_compat.h"
#include "core/status_macros.h"

namespace liaison::store::sqlite_internal {
namespace {

// How many codes of each kind the key can tell apart (store/release_key.h); a name coded at or
// past this limit encodes as the kind's overflow, so it need not be recorded.
int64_t CodeLimit(KeyKind kind) {
  switch (kind) {
    case KeyKind::kType:
      return static_cast<int64_t>(kKeyTypeOverflow);
    case KeyKind::kCreator:
      return static_cast<int64_t>(kKeyCreatorOverflow) - 1;
    case KeyKind::kMarking:
      return kKeyMarkingBits;
    case KeyKind::kLabel:
      return kKeyLabelBits;
  }
  return 0;
}

}  // namespace

Result<std::optional<int64_t>> LookupReleaseCode(Connection& conn, KeyKind kind,
                                                 std::string_view name) {
  LIAISON_ASSIGN_OR_RETURN(
      Statement st, conn.Prepare("SELECT code FROM release_codes WHERE kind = ?1 AND name = ?2"));
  st.Bind(1, static_cast<int64_t>(kind));
  st.Bind(2, name);
  LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(st.Int(0));
}

Result<int64_t> ReleaseCoder::CodeOf(KeyKind kind, std::string_view name) {
  // Heterogeneous lookup: a cached name costs no copy (most names repeat in every object).
  const auto slot = static_cast<size_t>(kind);
  if (slot >= std::size(cache_)) {
    return absl::InternalError("sqlite store: unknown release key kind");
  }
  auto& cache = cache_[slot];
  if (auto it = cache.find(ToAbsl(name)); it != cache.end()) return it->second;
  LIAISON_ASSIGN_OR_RETURN(std::optional<int64_t> found, LookupReleaseCode(conn_, kind, name));
  int64_t code;
  if (found) {
    code = *found;
  } else {
    LIAISON_ASSIGN_OR_RETURN(
        Statement next,
        conn_.Prepare("SELECT coalesce(max(code) + 1, 0) FROM release_codes WHERE kind = ?1"));
    next.Bind(1, static_cast<int64_t>(kind));
    LIAISON_ASSIGN_OR_RETURN(bool row, next.Step());
    if (!row) return absl::InternalError("sqlite store: release_codes max() returned no row");
    code = next.Int(0);
    if (code < CodeLimit(kind)) {
      LIAISON_ASSIGN_OR_RETURN(
          Statement insert,
          conn_.Prepare("INSERT INTO release_codes(kind, name, code) VALUES (?1, ?2, ?3)"));
      insert.Bind(1, static_cast<int64_t>(kind));
      insert.Bind(2, name);
      insert.Bind(3, code);
      LIAISON_RETURN_IF_ERROR(insert.Run());
    }
    // Past the limit nothing is recorded: every such name is the overflow value.
  }
  cache.emplace(std::string(name), code);
  return code;
}

int64_t ReleaseCoder::Code(void* self, KeyKind kind, std::string_view name) {
  auto* coder = static_cast<ReleaseCoder*>(self);
  Result<int64_t> code = coder->CodeOf(kind, name);
  if (!code.ok()) {
    coder->error_ = code.status();
    return -1;
  }
  return *code;
}

void ReleaseFactsBatch::Append(std::string_view json) {
  Entry e;
  if (const std::optional<ReleaseFacts> f = ReadReleaseFacts(json)) {
    e.readable = true;
    e.type = Keep(f->type);
    e.id = Keep(f->id);
    e.created_by_ref = Keep(f->created_by_ref);
    e.first_name = static_cast<uint32_t>(names_.size());
    e.markings = static_cast<uint32_t>(f->markings.size());
    e.labels = static_cast<uint32_t>(f->labels.size());
    for (std::string_view m : f->markings) names_.push_back(Keep(m));
    for (std::string_view l : f->labels) names_.push_back(Keep(l));
    e.confidence = f->confidence;
  }
  entries_.push_back(e);
}

ReleaseFactsBatch::Span ReleaseFactsBatch::Keep(std::string_view text) {
  // An Add's objects are bounded by the request body (and an import's batches), far below 4 GiB.
  Span s{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(text.size())};
  text_.append(text);
  return s;
}

std::optional<ReleaseFacts> ReleaseFactsBatch::Get(size_t i) const {
  const Entry& e = entries_[i];
  if (!e.readable) return std::nullopt;
  ReleaseFacts f;
  f.type = View(e.type);
  f.id = View(e.id);
  f.created_by_ref = View(e.created_by_ref);
  for (uint32_t k = 0; k < e.markings; ++k) f.markings.push_back(View(names_[e.first_name + k]));
  for (uint32_t k = 0; k < e.labels; ++k) {
    f.labels.push_back(View(names_[e.first_name + e.markings + k]));
  }
  f.confidence = e.confidence;
  return f;
}

Result<int64_t> ReleaseCoder::KeyOf(std::string_view json) { return KeyOf(ReadReleaseFacts(json)); }

Result<int64_t> ReleaseCoder::KeyOf(const std::optional<ReleaseFacts>& facts) {
  if (!facts) return int64_t{0};
  error_ = Status();
  const int64_t key = EncodeReleaseKey(*facts, &ReleaseCoder::Code, this);
  LIAISON_RETURN_IF_ERROR(error_);
  return key;
}

Status BackfillReleaseKeys(Connection& conn) {
  ReleaseCoder coder(conn);
  // In date_added batches, so that the update does not run under an open SELECT on the table.
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    std::vector<std::pair<int64_t, int64_t>> keys;  // date_added, key
    size_t rows = 0;
    {
      LIAISON_ASSIGN_OR_RETURN(Statement st,
                               conn.Prepare("SELECT date_added, json FROM objects WHERE "
                                            "date_added > ?1 ORDER BY date_added LIMIT 1000"));
      st.Bind(1, after);
      for (;;) {
        LIAISON_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        ++rows;
        after = st.Int(0);
        LIAISON_ASSIGN_OR_RETURN(int64_t key, coder.KeyOf(st.Text(1)));
        if (key != 0) keys.emplace_back(after, key);
      }
    }
    if (rows == 0) return Status();
    LIAISON_ASSIGN_OR_RETURN(Statement update,
                             conn.Prepare("UPDATE objects SET rkey = ?2 WHERE date_added = ?1"));
    for (const auto& [added, key] : keys) {
      update.Bind(1, added);
      update.Bind(2, key);
      LIAISON_RETURN_IF_ERROR(update.Run());
      update.Reset();
    }
  }
}

}  // namespace liaison::store::sqlite_internal
