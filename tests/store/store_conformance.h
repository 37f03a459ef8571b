#pragma once

// The Store conformance suite: the contract of store/store.h as tests. Every backend runs it
// unchanged by instantiating it with a factory, e.g. in tests/store/sqlite_store_test.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreBackend{"sqlite", OpenSqliteForTest}),
//                            StoreBackendName);
//
// The suite controls time: the backend must take date_added from options.clock.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/result.h"
#include "core/timestamp.h"
#include "gtest/gtest.h"
#include "store/store.h"

namespace liaison::store::testing {

// A settable clock shared between a test and the store it opened.
class FakeClock {
 public:
  explicit FakeClock(Timestamp start) : micros_(ToUnixMicros(start)) {}
  Timestamp Now() const { return FromUnixMicros(micros_.load()); }
  void Set(Timestamp t) { micros_ = ToUnixMicros(t); }
  void AdvanceMicros(int64_t micros) { micros_ += micros; }

 private:
  std::atomic<int64_t> micros_;
};

struct StoreTestOptions {
  std::function<Timestamp()> clock;
  size_t max_page_size = 50;
};

struct StoreBackend {
  std::string name;
  // Opens the store kept at `location`, a directory that is fresh for each test; opening the
  // same location again must find the same data (persistence tests). A backend that is not
  // file based derives its database name from the path.
  std::function<Result<std::unique_ptr<Store>>(const std::filesystem::path& location,
                                               const StoreTestOptions& options)>
      open;
};

// Names the backend in gtest output instead of dumping the struct's bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Closes the store and opens it again at the same location.
  void Reopen();
  Store& store() { return *store_; }

  FakeClock clock_{Timestamp::FromUnixNanos(1'700'000'000, 0)};
  std::filesystem::path dir_;
  StoreTestOptions options_;
  std::unique_ptr<Store> store_;
};

}  // namespace liaison::store::testing
