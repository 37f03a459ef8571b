#pragma once

// Replacing the indicator set while a stream is matched (issue #5: "reload without stopping the
// stream and without losing events").
//
// The running set is immutable (compiler.h). A reload builds the next set on a background
// thread, beside the running one, while the stream goes on matching against the old set; the
// stream's own loop then takes the new set between two blocks (TakeReady) and switches its
// Matcher / ParallelMatcher (ParallelMatcher::SwapSet) and its SightingAggregator (Rebind)
// over. No event is skipped or matched twice: every block is matched whole against exactly
// one set, the old one up to the switch and the new one after it. The old set is freed when
// the last holder lets go, so a reload needs room for two sets for the length of the build.
//
// Requests coalesce: a request while a build runs marks the set stale, and one more build
// starts when that one ends (the files may have changed again during the build).
//
// Thread safety: every method may be called from any thread; none from a signal handler
// (liaison match turns SIGHUP into a flag that its loop passes to Request).

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "match/compiler.h"

namespace liaison::match {

class IndicatorReloader {
 public:
  // Builds a complete, finished set (reads files or a collection, then IndicatorSet::Finish).
  using Build = std::function<Result<std::unique_ptr<IndicatorSet>>()>;

  IndicatorReloader(std::shared_ptr<const IndicatorSet> initial, Build build);
  ~IndicatorReloader();  // waits for a build in progress

  IndicatorReloader(const IndicatorReloader&) = delete;
  IndicatorReloader& operator=(const IndicatorReloader&) = delete;

  // Starts building a new set in the background, or, when a build runs, asks for another after
  // it. Never blocks on the build.
  void Request();

  // The set a finished build produced, once; nullptr when none is waiting. The caller switches
  // to it between blocks; from then on current() returns it. A failed build leaves the running
  // set in place (last_error() says why).
  std::shared_ptr<const IndicatorSet> TakeReady();

  std::shared_ptr<const IndicatorSet> current() const;

  // Blocks until no build runs or is asked for (tests, and the end of a run).
  void WaitIdle();

  uint64_t builds_done() const;    // finished builds, failed ones included
  uint64_t builds_failed() const;  //
  uint64_t swaps() const;          // sets handed out by TakeReady
  Status last_error() const;

 private:
  void BuildLoop();

  Build build_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::shared_ptr<const IndicatorSet> current_;
  std::shared_ptr<const IndicatorSet> ready_;
  bool building_ = false;
  bool again_ = false;
  uint64_t done_ = 0;
  uint64_t failed_ = 0;
  uint64_t swaps_ = 0;
  Status last_error_;
  std::thread thread_;
};

}  // namespace liaison::match
