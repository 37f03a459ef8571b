#include "match/reload.h"

#include <utility>

namespace liaison::match {

IndicatorReloader::IndicatorReloader(std::shared_ptr<const IndicatorSet> initial, Build build)
    : build_(std::move(build)), current_(std::move(initial)) {}

IndicatorReloader::~IndicatorReloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    again_ = false;  // the run is over: no further build
  }
  if (thread_.joinable()) thread_.join();
}

void IndicatorReloader::Request() {
  std::lock_guard<std::mutex> lock(mu_);
  if (building_) {
    again_ = true;
    return;
  }
  building_ = true;
  // The previous build thread has ended (building_ was false) and only needs joining.
  if (thread_.joinable()) thread_.join();
  thread_ = std::thread([this] { BuildLoop(); });
}

void IndicatorReloader::BuildLoop() {
  while (true) {
    // Runs without the lock: the build reads files or the store for seconds while the stream
    // keeps matching against current_.
    Result<std::unique_ptr<IndicatorSet>> built = build_();
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (built.ok()) {
      ready_ = std::shared_ptr<const IndicatorSet>(std::move(*built));
    } else {
      ++failed_;
      last_error_ = built.status();
    }
    if (!again_) {
      building_ = false;
      idle_.notify_all();
      return;
    }
    again_ = false;
  }
}

std::shared_ptr<const IndicatorSet> IndicatorReloader::TakeReady() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ready_ == nullptr) return nullptr;
  current_ = std::move(ready_);
  ready_.reset();
  ++swaps_;
  return current_;
}

std::shared_ptr<const IndicatorSet> IndicatorReloader::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void IndicatorReloader::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return !building_; });
}

uint64_t IndicatorReloader::builds_done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}
uint64_t IndicatorReloader::builds_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}
uint64_t IndicatorReloader::swaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return swaps_;
}
Status IndicatorReloader::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace liaison::match
