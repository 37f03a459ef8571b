#pragma once

// The matcher: one event's fields against an IndicatorSet. Exact indicators are looked up in
// the indexes (a few hash probes per field); indicators of the pattern engine are evaluated
// only on events that carry an SCO type one of their patterns names, over an observed-data
// built from the event (STIX 2.1 section 4.14, with the `objects` dictionary of section 9's
// examples).
//
// A Matcher holds per-thread scratch space; use one per thread over a shared IndicatorSet.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "match/compiler.h"
#include "match/reader.h"

namespace liaison::match {

struct MatchCounters {
  uint64_t events = 0;
  uint64_t hits = 0;                // (event, indicator) pairs
  uint64_t engine_evaluations = 0;  // events handed to the pattern engine
  uint64_t engine_failures = 0;     // pattern evaluations that failed (budgets, bad data)
  uint64_t stream_evaluations = 0;  // windows evaluated for patterns over several events
};

class Matcher {
 public:
  // `set` must be finished and outlive the matcher.
  explicit Matcher(const IndicatorSet& set);

  // Replaces `hits` with the indicators `event` fires, each once.
  void Match(const Event& event, std::vector<IndexHit>& hits);

  // The same in two steps (IndicatorIndex::Prepare): Prepare appends the event's values to
  // `prepared` (and the cache lines their lookups read first to `lines`) and returns the number
  // of its first value there; Match(event, prepared, first, hits) then matches it.
  size_t Prepare(const Event& event, PreparedLookups& prepared,
                 std::vector<const void*>* lines) const;
  void Match(const Event& event, const PreparedLookups& prepared, size_t first,
             std::vector<IndexHit>& hits);
  // See IndicatorIndex::AddSecondLines.
  void AddSecondLines(const PreparedLookups& prepared, std::vector<const void*>& lines) const {
    set_.index().AddSecondLines(prepared, lines);
  }

  const MatchCounters& counters() const { return counters_; }

 private:
  void RunEngine(const Event& event, std::vector<IndexHit>& hits);
  // Patterns over several events: the event joins the window (CompileOptions::
  // stream_window_events, the WITHIN horizon), and fires the patterns that hold over the window
  // with it and did not without it.
  void RunStream(const Event& event, std::vector<IndexHit>& hits);

  const IndicatorSet& set_;
  MatchCounters counters_;
  PreparedLookups prepared_;  // Match(event, hits)'s
  std::string json_;          // the observed-data handed to the engine
  struct WindowEvent {
    std::string json;  // its observed-data, with an id unique in this matcher
    int64_t unix_seconds;
  };
  std::deque<WindowEvent> window_;  // the recent events stream patterns want, oldest first
  uint64_t window_sequence_ = 0;
};

// Reads each line of `block` (whole lines; `capacity` bytes readable from block.data(), as
// LineSource::NextBlock gives them) with `reader`, matches each event, and calls `on_hits` for
// events with hits. `line_number` counts lines across blocks. Returns the events read.
// Events are read ahead in small batches, their index memory is prefetched a batch before they
// are matched, and they are matched in their order; the Event `on_hits` sees is a copy whose
// views stay valid during the call.
uint64_t MatchBlock(
    std::string_view block, size_t capacity, LogReader& reader, Matcher& matcher,
    uint64_t& line_number,
    absl::FunctionRef<void(uint64_t line, const Event& event, const std::vector<IndexHit>& hits)>
        on_hits);

// Appends `s` as a JSON string literal (quotes, backslashes and control bytes escaped).
void AppendJsonString(std::string& out, std::string_view s);

// The observed-data JSON for one event (exposed for tests and `--emit-observed-data`).
std::string ObservedDataJson(const Event& event, std::string_view id, const Timestamp& fallback);

}  // namespace liaison::match
