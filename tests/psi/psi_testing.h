#pragma once

// Test doubles for the PSI protocol: a transport that calls a Responder directly (recording
// every message), an in-memory run recorder, and random watch-lists with a chosen overlap.

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "psi/psi.h"

namespace liaison::psi::testing {

class MemoryRecorder : public RunRecorder {
 public:
  Status Record(const RunRecord& record) override {
    absl::MutexLock lock(&mu_);
    records_.push_back(record);
    return absl::OkStatus();
  }
  std::vector<RunRecord> records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  absl::Mutex mu_;
  std::vector<RunRecord> records_;
};

// Every message and reply that crossed any DirectTransport sharing this log.
class WireLog {
 public:
  void Add(std::string_view bytes) {
    absl::MutexLock lock(&mu_);
    messages_.emplace_back(bytes);
  }
  std::vector<std::string> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> messages_;
};

class DirectTransport : public Transport {
 public:
  DirectTransport(Responder& responder, Caller caller, WireLog* log)
      : responder_(responder), caller_(std::move(caller)), log_(log) {}
  Result<std::string> Exchange(std::string_view message) override {
    if (log_) log_->Add(message);
    auto reply = responder_.Handle(caller_, message);
    if (reply.ok() && log_) log_->Add(*reply);
    return reply;
  }

 private:
  Responder& responder_;
  Caller caller_;
  WireLog* log_;
};

inline TransportFactory DirectFactory(Responder& responder, Caller caller, WireLog* log = nullptr) {
  return [&responder, caller, log]() -> Result<std::unique_ptr<Transport>> {
    return std::make_unique<DirectTransport>(responder, caller, log);
  };
}

struct ListPair {
  WatchList a, b;
  std::vector<std::string> expected;  // the plain intersection, sorted
};

// Two id lists of sizes na and nb sharing `common` items, in random order.
inline ListPair RandomLists(size_t na, size_t nb, size_t common, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ListPair p;
  p.a.kind = p.b.kind = ItemKind::kId;
  auto item = [&](std::string_view tag) { return std::string(tag) + "-" + std::to_string(rng()); };
  for (size_t i = 0; i < common; ++i) {
    std::string x = item("common");
    p.a.items.push_back(x);
    p.b.items.push_back(x);
    p.expected.push_back(x);
  }
  while (p.a.items.size() < na) p.a.items.push_back(item("a"));
  while (p.b.items.size() < nb) p.b.items.push_back(item("b"));
  std::shuffle(p.a.items.begin(), p.a.items.end(), rng);
  std::shuffle(p.b.items.begin(), p.b.items.end(), rng);
  std::sort(p.expected.begin(), p.expected.end());
  return p;
}

}  // namespace liaison::psi::testing
