#pragma once

// Where tests find their inputs: ../shared (conformance vectors, real data) through
// LIAISON_SHARED_DIR, and the repository's testdata/ through LIAISON_SOURCE_DIR. Both are set by
// ctest (cmake/LiaisonHelpers.cmake).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace liaison::testing {

// The shared data folder, or nullopt when it is absent (a user's clone): tests then
// GTEST_SKIP() with a message. Under CI (LIAISON_REQUIRE_SHARED=1) absence is a failure.
std::optional<std::filesystem::path> SharedDir();

// The repository root.
std::filesystem::path SourceDir();

// Reads a whole file; fails the current test (and returns "") on error.
std::string ReadFileOrDie(const std::filesystem::path& path);

// Files under `dir` (recursively) whose names end with one of `suffixes`, sorted.
std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir,
                                              const std::vector<std::string>& suffixes);

}  // namespace liaison::testing

// Skips the test when ../shared is absent (and fails it under CI).
#define LIAISON_REQUIRE_SHARED_DIR(var)                                           \
  auto var##_opt = ::liaison::testing::SharedDir();                               \
  if (!var##_opt) {                                                               \
    if (std::getenv("LIAISON_REQUIRE_SHARED")) FAIL() << "../shared is required"; \
    GTEST_SKIP() << "../shared is absent: skipping a test that reads real data";  \
  }                                                                               \
  const std::filesystem::path var = *var##_opt
