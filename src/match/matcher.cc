#include "match/matcher.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "match/internal/flat_key_set.h"
#include "pattern/observations.h"
#include "pattern/pattern_set.h"

namespace liaison::match {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

namespace {

// Events read ahead of their lookups. Lookups into tables of hundreds of MB miss the cache
// nearly every time; reading a block of events first and prefetching what each will look up
// lets those misses overlap (docs/match.md, "Batched lookups"). The reader's views die with
// the next line, so each event's values are copied here (a few hundred bytes an event), with
// their prepared lookups (parsed, normalised and hashed once, for the prefetch and the lookup).
class EventBatch {
 public:
  static constexpr size_t kEvents = 32;
  static constexpr size_t kBytes = 256 << 10;  // a block of very long lines goes early

  bool full() const { return events_.size() >= kEvents || bytes_.size() >= kBytes; }
  size_t size() const { return events_.size(); }
  uint64_t line(size_t i) const { return events_[i].line; }
  const PreparedLookups& prepared() const { return prepared_; }
  size_t first_prepared(size_t i) const { return events_[i].first_prepared; }

  // Copies `e` and prepares its lookups, appending the lines they read first to `lines`.
  void Add(uint64_t line, const Event& e, const Matcher& matcher, std::vector<const void*>& lines) {
    const size_t first_prepared = matcher.Prepare(e, prepared_, &lines);
    events_.push_back(Stored{line, e.has_time, e.time, e.truncated,
                             static_cast<uint32_t>(fields_.size()), e.count, first_prepared});
    for (size_t i = 0; i < e.count; ++i) {
      const FieldValue& f = e.fields[i];
      fields_.push_back(StoredField{f.field, bytes_.size(), f.value.size()});
      bytes_.append(f.value);
    }
  }

  // Rebuilds event `i` in `out`; its views point into this batch until Clear().
  void Restore(size_t i, Event& out) const {
    const Stored& s = events_[i];
    out.Clear();
    out.has_time = s.has_time;
    out.time = s.time;
    out.truncated = s.truncated;
    for (uint32_t j = 0; j < s.count; ++j) {
      const StoredField& f = fields_[s.first + j];
      out.fields[j] = FieldValue{f.field, std::string_view(bytes_.data() + f.offset, f.size)};
    }
    out.count = s.count;
  }

  void Clear() {
    events_.clear();
    fields_.clear();
    bytes_.clear();
    prepared_.Clear();
  }

 private:
  struct Stored {
    uint64_t line;
    bool has_time;
    Timestamp time;
    bool truncated;
    uint32_t first;  // into fields_
    size_t count;
    size_t first_prepared;  // into prepared_
  };
  struct StoredField {
    Field field;
    size_t offset;  // into bytes_
    size_t size;
  };
  std::vector<Stored> events_;
  std::vector<StoredField> fields_;
  std::string bytes_;
  PreparedLookups prepared_;
};

bool IsDigits(std::string_view s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string ObservedDataJson(const Event& event, std::string_view id, const Timestamp& fallback) {
  const std::string t = (event.has_time ? event.time : fallback).ToString();
  std::string out = StrCat(R"({"type":"observed-data","spec_version":"2.1","id":")", id,
                           R"(","created":")", t, R"(","modified":")", t, R"(","first_observed":")",
                           t, R"(","last_observed":")", t, R"(","number_observed":1,"objects":{)");
  size_t next = 1;
  std::string traffic;  // members of the network-traffic object "0"
  std::string http;     // its http-request-ext
  std::string headers;  // the request headers
  std::string file;     // name and mime_type of one file object
  std::string hashes;   // its hashes
  std::string cert;     // members of one x509-certificate
  std::string protocols;
  auto object = [&](std::string_view type, std::string_view value) {
    const std::string key = std::to_string(next++);
    if (next > 2) out.push_back(',');
    StrAppend(&out, "\"", key, R"(":{"type":")", type, R"(","value":)");
    AppendJsonString(out, value);
    out.push_back('}');
    return key;
  };
  auto member = [](std::string& obj, std::string_view name, std::string_view value, bool number) {
    if (!obj.empty()) obj.push_back(',');
    AppendJsonString(obj, name);
    obj.push_back(':');
    if (number) {
      obj.append(value);
    } else {
      AppendJsonString(obj, value);
    }
  };
  for (size_t i = 0; i < event.count; ++i) {
    const FieldValue& f = event.fields[i];
    const std::string_view addr_type =
        f.value.find(':') == std::string_view::npos ? "ipv4-addr" : "ipv6-addr";
    switch (f.field) {
      case Field::kSrcAddress:
        member(traffic, "src_ref", object(addr_type, f.value), false);
        break;
      case Field::kDstAddress:
        member(traffic, "dst_ref", object(addr_type, f.value), false);
        break;
      case Field::kAddress:
        object(addr_type, f.value);
        break;
      case Field::kSrcPort:
        if (IsDigits(f.value)) member(traffic, "src_port", f.value, true);
        break;
      case Field::kDstPort:
        if (IsDigits(f.value)) member(traffic, "dst_port", f.value, true);
        break;
      case Field::kProtocol:
        if (!protocols.empty()) protocols.push_back(',');
        AppendJsonString(protocols, f.value);
        break;
      case Field::kDomain:
        object("domain-name", f.value);
        break;
      case Field::kUrl:
        object("url", f.value);
        break;
      case Field::kEmail:
        object("email-addr", f.value);
        break;
      case Field::kJa3:
        object("x-ja3", f.value);
        break;
      case Field::kMd5:
      case Field::kSha1:
      case Field::kSha256:
      case Field::kSha512: {
        static constexpr std::string_view kNames[] = {"MD5", "SHA-1", "SHA-256", "SHA-512"};
        const std::string_view name =
            kNames[static_cast<size_t>(f.field) - static_cast<size_t>(Field::kMd5)];
        if (hashes.find(StrCat("\"", name, "\"")) == std::string::npos) {
          member(hashes, name, f.value, false);
        }
        break;
      }
      case Field::kFileName:
        if (file.find("\"name\"") == std::string::npos) member(file, "name", f.value, false);
        break;
      case Field::kMimeType:
        if (file.find("\"mime_type\"") == std::string::npos) {
          member(file, "mime_type", f.value, false);
        }
        break;
      case Field::kUserAgent:
        member(headers, "User-Agent", f.value, false);
        break;
      case Field::kHttpMethod:
        member(http, "request_method", f.value, false);
        break;
      case Field::kX509Subject:
        member(cert, "subject", f.value, false);
        break;
      case Field::kX509Issuer:
        member(cert, "issuer", f.value, false);
        break;
      case Field::kX509Serial:
        member(cert, "serial_number", f.value, false);
        break;
      case Field::kX509Sha1:
      case Field::kX509Sha256:
        break;
    }
  }
  auto add_object = [&](std::string_view type, const std::string& members) {
    if (next++ > 1) out.push_back(',');
    StrAppend(&out, "\"", next - 1, R"(":{"type":")", type, "\"");
    if (!members.empty()) StrAppend(&out, ",", members);
    out.push_back('}');
  };
  if (!file.empty() || !hashes.empty()) {
    std::string members = file;
    if (!hashes.empty()) {
      if (!members.empty()) members.push_back(',');
      StrAppend(&members, R"("hashes":{)", hashes, "}");
    }
    add_object("file", members);
  }
  if (!cert.empty()) add_object("x509-certificate", cert);
  if (!traffic.empty() || !protocols.empty() || !http.empty() || !headers.empty()) {
    std::string members = traffic;
    auto sep = [&] {
      if (!members.empty()) members.push_back(',');
    };
    sep();
    StrAppend(&members, R"("protocols":[)", protocols, "]");
    if (!http.empty() || !headers.empty()) {
      std::string ext = http;
      if (!headers.empty()) {
        if (!ext.empty()) ext.push_back(',');
        StrAppend(&ext, R"("request_header":{)", headers, "}");
      }
      StrAppend(&members, R"(,"extensions":{"http-request-ext":{)", ext, "}}");
    }
    add_object("network-traffic", members);
  }
  out += "}}";
  return out;
}

Matcher::Matcher(const IndicatorSet& set) : set_(set) {}

size_t Matcher::Prepare(const Event& event, PreparedLookups& prepared,
                        std::vector<const void*>* lines) const {
  const IndicatorIndex& index = set_.index();
  const size_t first = prepared.size();
  for (size_t i = 0; i < event.count; ++i) {
    const FieldValue& f = event.fields[i];
    index.Prepare(InfoOf(f.field).kind, f.value, static_cast<uint16_t>(f.field), prepared, lines);
  }
  return first;
}

void Matcher::Match(const Event& event, std::vector<IndexHit>& hits) {
  prepared_.Clear();
  Match(event, prepared_, Prepare(event, prepared_, nullptr), hits);
}

void Matcher::Match(const Event& event, const PreparedLookups& prepared, size_t first,
                    std::vector<IndexHit>& hits) {
  hits.clear();
  ++counters_.events;
  const IndicatorIndex& index = set_.index();
  for (size_t i = 0; i < event.count; ++i) {
    const FieldValue& f = event.fields[i];
    const FieldInfo& info = InfoOf(f.field);
    const size_t before = hits.size();
    index.Lookup(prepared, first + i, hits);
    if (info.kind == ValueKind::kIpv4 && hits.size() > before) {
      // An indicator on network-traffic:src_ref.value fires only on the source address.
      auto keep = [&](const IndexHit& h) {
        const AddressRole role = set_.role(h.indicator);
        return role == AddressRole::kAny ||
               (role == AddressRole::kSrc && f.field == Field::kSrcAddress) ||
               (role == AddressRole::kDst && f.field == Field::kDstAddress);
      };
      hits.erase(std::remove_if(hits.begin() + before, hits.end(),
                                [&](const IndexHit& h) { return !keep(h); }),
                 hits.end());
    }
  }
  // Whether `wants` (EngineWants or StreamWants) names an SCO type the event carries.
  auto carries = [&](auto&& wants) {
    for (size_t i = 0; i < event.count; ++i) {
      const FieldValue& f = event.fields[i];
      if (f.field == Field::kAddress || f.field == Field::kSrcAddress ||
          f.field == Field::kDstAddress) {
        if (wants(f.value.find(':') == std::string_view::npos ? "ipv4-addr" : "ipv6-addr")) {
          return true;
        }
      }
      if (wants(InfoOf(f.field).sco_type)) return true;
    }
    return false;
  };
  if (set_.engine() != nullptr &&
      carries([&](std::string_view t) { return set_.EngineWants(t); })) {
    RunEngine(event, hits);
  }
  if (set_.stream_engine() != nullptr &&
      carries([&](std::string_view t) { return set_.StreamWants(t); })) {
    RunStream(event, hits);
  }
  if (hits.size() > 1) {
    auto key = [](const IndexHit& h) {
      return std::tuple(h.indicator, h.indicator == kListIndicator ? h.kind : ValueKind::kOther,
                        h.indicator == kListIndicator ? h.entry : 0u);
    };
    std::sort(hits.begin(), hits.end(),
              [&](const IndexHit& a, const IndexHit& b) { return key(a) < key(b); });
    hits.erase(std::unique(hits.begin(), hits.end(),
                           [&](const IndexHit& a, const IndexHit& b) { return key(a) == key(b); }),
               hits.end());
  }
  counters_.hits += hits.size();
}

uint64_t MatchBlock(
    std::string_view block, size_t capacity, LogReader& reader, Matcher& matcher,
    uint64_t& line_number,
    absl::FunctionRef<void(uint64_t line, const Event& event, const std::vector<IndexHit>& hits)>
        on_hits) {
  thread_local Event event;
  thread_local std::vector<IndexHit> hits;
  // Three batches in a pipeline: while one fills (the reader's work), the first lines the
  // lookups of the one before will read (hash slots, /24 bits) are on their way, and the
  // second lines of the one before that (IPv4 binary searches in a listed /24, decided from
  // its /24 bits, fetched by then) are too; then that one is matched. The lines of a stage are
  // prefetched in one tight loop: issued one per value between the reader's and the hashing's
  // instructions, a prefetch waiting for its address translation held up retirement, and few
  // were in flight at once (docs/match.md).
  thread_local EventBatch batches[3];
  thread_local std::vector<const void*> lines;
  thread_local std::vector<const void*> second;
  for (EventBatch& b : batches) b.Clear();
  lines.clear();
  int filling = 0;
  // Matches a batch's events in their order, so hits reach `on_hits` as an unbatched loop
  // would give them.
  auto flush = [&](EventBatch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      batch.Restore(i, event);
      matcher.Match(event, batch.prepared(), batch.first_prepared(i), hits);
      if (!hits.empty()) on_hits(batch.line(i), event, hits);
    }
    batch.Clear();
  };
  auto prefetch = [](std::vector<const void*>& v) {
    for (const void* p : v) internal::PrefetchLine(p);
    v.clear();
  };
  auto prefetch_second = [&](const EventBatch& batch) {
    matcher.AddSecondLines(batch.prepared(), second);
    prefetch(second);
  };
  uint64_t events = 0;
  const char* p = block.data();
  const char* const end = p + block.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl == nullptr ? end : nl;
    reader.set_line_number(++line_number);
    const size_t offset = static_cast<size_t>(p - block.data());
    if (reader.Read(std::string_view(p, line_end - p), capacity - offset, event) ==
        LineResult::kEvent) {
      ++events;
      batches[filling].Add(line_number, event, matcher, lines);
      if (batches[filling].full()) {
        const int previous = (filling + 2) % 3;
        const int oldest = (filling + 1) % 3;
        prefetch(lines);
        prefetch_second(batches[previous]);
        flush(batches[oldest]);
        filling = oldest;
      }
    }
    p = nl == nullptr ? end : nl + 1;
  }
  prefetch(lines);
  flush(batches[(filling + 1) % 3]);
  flush(batches[(filling + 2) % 3]);
  flush(batches[filling]);
  return events;
}

void Matcher::RunEngine(const Event& event, std::vector<IndexHit>& hits) {
  ++counters_.engine_evaluations;
  json_ =
      ObservedDataJson(event, "observed-data--00000000-0000-4000-8000-000000000000", set_.now());
  Result<pattern::ObservationSet> observations = pattern::ObservationSet::FromJson(json_);
  if (!observations.ok()) {
    ++counters_.engine_failures;
    return;
  }
  const pattern::SetEvaluation result = set_.engine()->Evaluate(*observations);
  counters_.engine_failures += result.failures.size();
  for (const pattern::PatternMatch& m : result.matches) {
    hits.push_back(IndexHit{set_.engine_indicator(m.pattern), ValueKind::kOther, 0});
  }
}

void Matcher::RunStream(const Event& event, std::vector<IndexHit>& hits) {
  const CompileOptions& options = set_.options();
  const Timestamp t = event.has_time ? event.time : set_.now();
  // Ids only need to be distinct inside the window: the 48-bit sequence of this matcher.
  char id[64];
  std::snprintf(id, sizeof(id), "observed-data--00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(window_sequence_++ & 0xffffffffffffull));
  window_.push_back(WindowEvent{ObservedDataJson(event, id, set_.now()), t.unix_seconds()});
  const size_t max_events = std::max<size_t>(options.stream_window_events, 1);
  while (window_.size() > max_events) window_.pop_front();
  // Events older than the largest WITHIN before this one cannot be in a match with it (logs
  // are nearly in time order; a late event only shortens its own window).
  const double within = set_.stream_within_seconds();
  const double horizon = within > 0 ? within : options.stream_horizon_seconds;
  while (window_.size() > 1 && static_cast<double>(window_.front().unix_seconds) + horizon + 1 <
                                   static_cast<double>(t.unix_seconds())) {
    window_.pop_front();
  }
  ++counters_.stream_evaluations;
  std::vector<std::string_view> documents;
  documents.reserve(window_.size());
  for (const WindowEvent& w : window_) documents.push_back(w.json);
  Result<pattern::ObservationSet> observations = pattern::ObservationSet::FromJson(
      std::span<const std::string_view>(documents.data(), documents.size()));
  if (!observations.ok()) {
    ++counters_.engine_failures;
    window_.pop_back();  // it would fail every later window too
    return;
  }
  const pattern::SetEvaluation result = set_.stream_engine()->Evaluate(*observations);
  counters_.engine_failures += result.failures.size();
  if (result.matches.empty()) return;
  // This event fires the patterns that hold over the window with it and not without it. (The
  // engine reports one binding per pattern, not all of them, so "a binding uses this event"
  // would depend on which one it picked.)
  documents.pop_back();
  absl::flat_hash_set<size_t> held_before;
  if (!documents.empty()) {
    Result<pattern::ObservationSet> before = pattern::ObservationSet::FromJson(
        std::span<const std::string_view>(documents.data(), documents.size()));
    if (before.ok()) {
      for (const pattern::PatternMatch& m : set_.stream_engine()->Evaluate(*before).matches) {
        held_before.insert(m.pattern);
      }
    }
  }
  for (const pattern::PatternMatch& m : result.matches) {
    if (!held_before.contains(m.pattern)) {
      hits.push_back(IndexHit{set_.stream_indicator(m.pattern), ValueKind::kOther, 0});
    }
  }
}

}  // namespace liaison::match
