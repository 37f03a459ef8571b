#pragma once

// A throwaway PostgreSQL cluster for a test binary (issue #8): main() calls RunWithPgCluster,
// which starts one with scripts/pg-test-cluster.sh (or uses $LIAISON_PG_DSN when set), runs the
// tests, and stops it. Exit 77 (ctest: skipped) only when PostgreSQL is absent and cannot be
// installed. Needs LIAISON_DEFAULT_SOURCE_DIR (the CMake target defines it).

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace liaison::store::testing {

// The libpq connection string ("host=DIR port=N user=postgres dbname=postgres") of the cluster.
inline std::string& PgDsn() {
  static std::string dsn;
  return dsn;
}

// Runs scripts/pg-test-cluster.sh ARGS; returns its exit code and its output (trailing newlines
// removed).
inline int RunPgClusterScript(const std::string& args, std::string* output) {
  const char* src = std::getenv("LIAISON_SOURCE_DIR");
  const std::string script = absl::StrCat(src != nullptr ? src : LIAISON_DEFAULT_SOURCE_DIR,
                                          "/scripts/pg-test-cluster.sh");
  FILE* p = ::popen(absl::StrCat(script, " ", args).c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::string out;
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline int RunWithPgCluster(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string cluster_dir;
  if (const char* dsn = std::getenv("LIAISON_PG_DSN"); dsn != nullptr && *dsn != '\0') {
    PgDsn() = dsn;
  } else {
    std::string line;
    const int rc = RunPgClusterScript("start", &line);
    if (rc == 77) {
      std::fprintf(stderr, "SKIPPED: PostgreSQL is not installed (scripts/pg-test-cluster.sh)\n");
      return 77;
    }
    const size_t tab = line.find('\t');
    if (rc != 0 || tab == std::string::npos) {
      std::fprintf(stderr, "cannot start a PostgreSQL test cluster (exit %d)\n", rc);
      return 1;
    }
    cluster_dir = line.substr(0, tab);
    PgDsn() = line.substr(tab + 1);
  }
  const int result = RUN_ALL_TESTS();
  if (!cluster_dir.empty()) RunPgClusterScript(absl::StrCat("stop ", cluster_dir), nullptr);
  return result;
}

}  // namespace liaison::store::testing
