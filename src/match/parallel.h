#pragma once

// Matching one log on several threads. The caller hands over blocks of whole lines (as
// LineSource::NextBlock gives them); each block is matched by a worker with its own reader and
// Matcher over the shared, immutable IndicatorSet, and the hits come back to the caller's
// thread block by block in input order, so the sightings (and their ids) are those of a
// one-thread run. Nothing on the hot path is shared and written: a worker touches the queue
// once per block (4 MiB by default), never per event.
//
// The caller's thread does as little as it can, since with N workers on N cores any work of a
// third thread is taken from a worker (session 5's profile: copying and counting the blocks
// there was ~18 % of two cores). SubmitView queues a block without copying it; workers count
// the lines of their block themselves, numbering them from 1, and the in-order delivery adds
// the lines of the blocks before it to hit lines and to each reason's first bad line.
//
// Lines must be independent: JSON formats (zeek-json, eve, ndjson). Zeek TSV rows depend on the
// #fields header before them, which a worker given a later block has not seen; those logs go
// through one thread (CanRunInParallel).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "match/compiler.h"
#include "match/matcher.h"
#include "match/reader.h"

namespace liaison::match {

bool CanRunInParallel(LogFormat format);

class ParallelMatcher {
 public:
  // The Event handed to `on_hits` is the event as the worker read it (time and fields): the
  // fields of events with hits are copied out of the worker's buffers, which hits being rare
  // next to events costs little.
  using OnHits =
      absl::FunctionRef<void(uint64_t line, const Event& event, const std::vector<IndexHit>& hits)>;

  // `threads` workers (at least 1) reading `format` (`mapping` for ndjson, kept by pointer).
  ParallelMatcher(const IndicatorSet& set, LogFormat format, const FieldMapping* mapping,
                  int threads);
  ~ParallelMatcher();  // stops and joins the workers (unfinished blocks are dropped)

  // Copies `block` (whole lines) and queues it. Hits of earlier blocks that are finished are
  // delivered to `on_hits` here; waits while 2 blocks per worker are in flight, which bounds
  // memory to about 2 * threads block copies.
  void Submit(std::string_view block, OnHits on_hits);
  // When Submit or SubmitView returns, at most max_in_flight() - 1 blocks are undelivered
  // (LineSource::KeepBlocks(max_in_flight()) keeps them valid for SubmitView).
  size_t max_in_flight() const { return max_in_flight_; }
  // The same without the copy: `capacity` bytes from block.data() (>= block.size() + 64, as
  // simdjson reads past a line) must stay readable and unchanged until the block is delivered,
  // that is until delivered_bytes() has passed it (at the latest when Finish returns). For a
  // log that is in memory or mapped as a whole.
  void SubmitView(std::string_view block, size_t capacity, OnHits on_hits);
  // Waits for every queued block and delivers the rest of the hits.
  void Finish(OnHits on_hits);
  // A reload (reload.h): waits for and delivers the blocks in flight, which were matched
  // against the old set, then has every worker match the next blocks against `set` (which
  // must outlive the matcher or the next SwapSet). Line numbers and counters carry on.
  void SwapSet(const IndicatorSet& set, OnHits on_hits);

  // Of the blocks delivered so far (all of them after Finish or SwapSet): lines, events,
  // bytes, and bad lines (first_bad_line numbered across blocks, as one reader would); and the
  // summed match counters.
  uint64_t lines() const { return lines_; }
  uint64_t events() const { return events_; }
  uint64_t delivered_bytes() const { return delivered_bytes_; }
  const ReaderStats& stats() const { return stats_; }
  MatchCounters counters() const;

 private:
  struct Hit {
    uint64_t line;  // in the block, from 1
    bool has_time;
    Timestamp time;
    uint32_t first;  // into Job::hits
    uint32_t count;
    uint32_t first_field;  // into Job::fields
    uint32_t field_count;
  };
  struct CopiedField {
    Field field;
    uint32_t offset;  // into Job::field_text
    uint32_t size;
  };
  struct Job {
    std::string data;            // a copied block and simdjson's padding (Submit)
    const char* view = nullptr;  // or the caller's block (SubmitView)
    size_t capacity = 0;         // bytes readable from the block's start
    size_t size = 0;
    std::vector<Hit> events_with_hits;
    std::vector<IndexHit> hits;
    std::vector<CopiedField> fields;  // the fields of the events with hits
    std::string field_text;
    uint64_t lines = 0;
    uint64_t events = 0;
    ReaderStats stats;  // the block's bad lines, first_bad_line counted in the block
    bool done = false;
  };
  struct Worker {
    std::unique_ptr<LogReader> reader;
    std::unique_ptr<Matcher> matcher;
    std::thread thread;
  };

  void Run(Worker& worker);
  std::shared_ptr<Job> TakeSpare();
  void Queue(std::shared_ptr<Job> job, OnHits on_hits);
  // Delivers finished jobs at the head of the queue; with `wait`, waits for the head first.
  void Deliver(OnHits on_hits, bool wait);

  std::mutex mu_;
  std::condition_variable work_ready_;  // a job was queued, or stopping
  std::condition_variable job_done_;
  std::deque<std::shared_ptr<Job>> in_order_;  // every job in flight, in input order
  std::deque<std::shared_ptr<Job>> todo_;      // jobs no worker has taken yet
  std::vector<std::shared_ptr<Job>> spare_;    // delivered jobs, their buffers kept for reuse
  bool stopping_ = false;
  std::vector<Worker> workers_;
  size_t max_in_flight_ = 2;
  // Written by the caller's thread only (Deliver).
  uint64_t lines_ = 0;
  uint64_t events_ = 0;
  uint64_t delivered_bytes_ = 0;
  ReaderStats stats_;
  MatchCounters retired_;  // counters of matchers replaced by SwapSet
};

}  // namespace liaison::match
